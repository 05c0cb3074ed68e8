"""Chapter 16, going deep: the backward of a pre-activation residual block (batch norm inside,
identity skip), a data-dependent initialization (one scale per layer, LSUV), cutout
augmentation; questions on a residual stack that explodes at initialization and on which
augmentations keep a digit's label."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "16_going_deep"


# ---------------------------------------------------------------- pre-activation block backward
def _batch_normalise(x, eps, ddof=0):
    """(x - mean) / sqrt(var + eps) over the batch axis, and the 1 / sqrt(var + eps) it used."""
    inv_std = 1.0 / np.sqrt(x.var(axis=0, ddof=ddof) + eps)
    return (x - x.mean(axis=0)) * inv_std, inv_std


def _preact_backward(dy, x, W1, W2, eps, skip=True, batch_terms=2, ddof=0):
    u, inv_std = _batch_normalise(x, eps, ddof)
    a = u @ W1
    h = np.maximum(a, 0.0)
    da = (dy @ W2.T) * (a > 0)
    du = da @ W1.T
    dx = du * inv_std  # batch_terms = 0: the statistics taken as constants
    if batch_terms >= 1:
        dx = dx - du.mean(axis=0) * inv_std
    if batch_terms >= 2:
        dx = dx - u * (du * u).mean(axis=0) * inv_std
    return (dx + dy if skip else dx), u.T @ da, h.T @ dy


def preact_residual_backward(dy, x, W1, W2, eps):
    """y = x + relu(bn(x) W1) W2, bn over the batch without gamma and beta (training mode);
    x (N, D), W1 (D, H), W2 (H, D), dy (N, D) -> dx (N, D), dW1 (D, H), dW2 (H, D)."""
    return _preact_backward(dy, x, W1, W2, eps)


def _preact_cases(rng):
    cases = []
    for n, d, hidden, eps in ((5, 3, 4, 1e-5), (8, 4, 6, 0.5), (6, 6, 3, 1e-3)):
        x = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.uniform(-2, 2, size=d)
        weights = (rng.standard_normal((d, hidden)), rng.standard_normal((hidden, d)))
        cases.append(
            Case(
                (rng.standard_normal((n, d)), x) + weights + (eps,),
                label=f"x {(n, d)}, hidden {hidden}, eps={eps}",
            )
        )
    return cases


function_exercise(
    "preact_residual_backward",
    CHAPTER,
    3,
    "preact_residual_backward",
    "A pre-activation residual block, backward",
    _preact_cases,
    preact_residual_backward,
    ("dx", "dW1", "dW2"),
    mistakes=(
        (
            "dx has lost the skip: y = x + ..., so dy itself is added to what comes back through the block",
            lambda dy, x, W1, W2, eps: _preact_backward(dy, x, W1, W2, eps, skip=False),
        ),
        (
            "the batch mean and variance depend on x too: the backward of the normalisation subtracts "
            "the batch mean of du and u times the batch mean of du * u before dividing by the std",
            lambda dy, x, W1, W2, eps: _preact_backward(dy, x, W1, W2, eps, batch_terms=0),
        ),
        (
            "the variance depends on x too: after subtracting the mean of du, subtract u times the "
            "batch mean of du * u",
            lambda dy, x, W1, W2, eps: _preact_backward(dy, x, W1, W2, eps, batch_terms=1),
        ),
        (
            "batch normalization divides by the biased variance (over N, not N - 1)",
            lambda dy, x, W1, W2, eps: _preact_backward(dy, x, W1, W2, eps, ddof=1),
        ),
    ),
    forbids=(
        "minidl.nn.layers.Residual",
        "minidl.nn.layers.residual",
        "minidl.nn.layers.BatchNorm",
        "minidl.nn.layers.normalization",
        "minidl.nn.layers.Dense",
        "minidl.kernels",
        "minidl.nn.gradcheck",
    ),
    catches=("eps ignored or fixed at 1e-5: one case uses eps = 0.5",),
)


# ---------------------------------------------------------------- data-dependent initialization
def _lsuv(x, weights, sequential=True, after_relu=False, power=1.0, ddof=0):
    scales, h, h_unscaled = [], x, x
    for W in weights:
        a = h @ W
        seen = np.maximum(a, 0.0) if after_relu else a
        if sequential:
            scale = 1.0 / seen.std(ddof=ddof) ** power
        else:
            a_unscaled = h_unscaled @ W
            scale = 1.0 / a_unscaled.std(ddof=ddof) ** power
            h_unscaled = np.maximum(a_unscaled, 0.0)
        scales.append(scale)
        h = np.maximum(a * scale, 0.0)
    return np.array(scales)


def lsuv_scales(x, weights):
    """The factor s_l for each weight matrix of a ReLU network (x (N, D0) and weights a list of
    (D_l-1, D_l) arrays) that gives the pre-activations a_l = h_l-1 (s_l W_l) of the batch a
    standard deviation of 1, layer after layer, the earlier layers already rescaled."""
    return _lsuv(x, weights)


def _lsuv_cases(rng):
    cases = []
    for widths, spread in (((6, 5), (0.1, 3.0)), ((8, 7, 6, 5), (0.05, 2.0)), ((5, 9, 4), (0.3, 0.3))):
        n = 12
        x = rng.random((n, widths[0])) * 2.0  # pixels: positive, with a mean
        weights = [
            rng.standard_normal((fan_in, fan_out)) * rng.uniform(*spread)
            for fan_in, fan_out in zip(widths[:-1], widths[1:])
        ]
        cases.append(Case((x, weights), label=f"x {(n, widths[0])}, widths {widths}"))
    x = rng.random((10, 4)) * 2.0
    cases.append(Case((x, [rng.standard_normal((4, 3)) * 5.0]), label="x (10, 4), one layer"))
    return cases


function_exercise(
    "lsuv_scales",
    CHAPTER,
    2,
    "lsuv_scales",
    "Initialization by the data: one scale per layer",
    _lsuv_cases,
    lsuv_scales,
    ("scales",),
    mistakes=(
        (
            "each layer is measured on the output of the *rescaled* layers below it: rescale layer l "
            "before you compute the input of layer l + 1",
            lambda x, weights: _lsuv(x, weights, sequential=False),
        ),
        (
            "the standard deviation asked for is the pre-activations' a_l, before the ReLU",
            lambda x, weights: _lsuv(x, weights, after_relu=True),
        ),
        (
            "dividing by the variance gives a variance of 1 / Var(a); a factor s scales the standard "
            "deviation by s, so s = 1 / std(a)",
            lambda x, weights: _lsuv(x, weights, power=2.0),
        ),
        (
            "the standard deviation of the batch, over all N * D_l numbers, divides by N * D_l (ddof 0)",
            lambda x, weights: _lsuv(x, weights, ddof=1),
        ),
    ),
    forbids=("minidl.nn.initializers",),
    catches=("the weights rescaled in place (W *= s): the caller's weights must not change",),
)


# ---------------------------------------------------------------- cutout
def cutout(x, top, left, size):
    """Zero a size x size square of every channel of each image, corner (top[n], left[n]),
    clipped at the image's edges; x (N, C, H, W) -> a new array, x unchanged."""
    out = np.array(x, copy=True)
    _, _, h, w = x.shape
    for n in range(len(x)):
        r0, c0 = max(int(top[n]), 0), max(int(left[n]), 0)
        r1, c1 = min(int(top[n]) + size, h), min(int(left[n]) + size, w)
        if r0 < r1 and c0 < c1:
            out[n, :, r0:r1, c0:c1] = 0.0
    return out


def _cutout_wraps(x, top, left, size):
    out = np.array(x, copy=True)
    _, _, h, w = x.shape
    for n in range(len(x)):
        rows = [(int(top[n]) + i) % h for i in range(size)]
        cols = [(int(left[n]) + j) % w for j in range(size)]
        out[n][np.ix_(range(x.shape[1]), rows, cols)] = 0.0
    return out


def _cutout_first_channel(x, top, left, size):
    out = np.array(x, copy=True)
    _, _, h, w = x.shape
    for n in range(len(x)):
        r0, c0 = max(int(top[n]), 0), max(int(left[n]), 0)
        out[n, 0, r0 : min(int(top[n]) + size, h), c0 : min(int(left[n]) + size, w)] = 0.0
    return out


def _cutout_cases(rng):
    cases = []
    for (n, c, h, w), size in (((3, 1, 6, 6), 3), ((4, 2, 5, 7), 2), ((3, 3, 4, 4), 3)):
        top = np.array([-1, h - 2, 1] + [0] * (n - 3))[:n]  # off the top, off the bottom, inside
        left = np.array([2, w - 1, -2] + [w - 2] * (n - 3))[:n]
        cases.append(
            Case(
                (rng.standard_normal((n, c, h, w)) + 3.0, top, left, size),
                label=f"x {(n, c, h, w)}, size={size}, top={top.tolist()}, left={left.tolist()}",
            )
        )
    # float32 images, and a square that misses its image entirely (it starts past the edge)
    x = (rng.standard_normal((2, 3, 5, 5)) + 3.0).astype(np.float32)
    top, left = np.array([5, -4]), np.array([1, 0])
    cases.append(
        Case(
            (x, top, left, 3),
            label="float32 x (2, 3, 5, 5), size=3, top=[5, -4], left=[1, 0] (both squares outside)",
        )
    )
    return cases


function_exercise(
    "cutout",
    CHAPTER,
    2,
    "cutout",
    "Cutout: erase a square",
    _cutout_cases,
    cutout,
    ("out",),
    mistakes=(
        (
            "a square that crosses an edge is clipped there, not wrapped around to the other side",
            _cutout_wraps,
        ),
        ("every channel of the square is erased, not only the first", _cutout_first_channel),
        (
            "the input must stay unchanged (work on a copy) -- and the square must be erased in the "
            "copy you return",
            lambda x, t, l, s: np.array(x, copy=True),
        ),
    ),
    forbids=("minidl.training.augment",),
    catches=("a square not clipped at the edges: a negative start wraps around",),
    fresh_outputs=True,
)


# ---------------------------------------------------------------- questions
