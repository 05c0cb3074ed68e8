"""Chapter 8, going deep: the backward of a pre-activation residual block (batch norm inside,
identity skip), a data-dependent initialization (one scale per layer, LSUV), the loss and
gradient of mixup's soft targets; questions on a residual stack that explodes at initialization and on which
augmentations keep a digit's label."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "08_going_deep"


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
    for n, d, hidden, eps in (
        (5, 3, 4, 1e-5),
        (8, 4, 6, 0.5),
        (6, 6, 3, 1e-3),
        (4, 3, 1, 1e-5),
    ):  # last: one hidden unit
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
    dtypes="float64",
    equivalent_mutants={
        "preact_residual_backward > _preact_backward: augassign: dx = dx - *": "dx is the function's "
        "own array (du * inv_std): -= and = - give the same numbers",
        "preact_residual_backward > _preact_backward: compare: a > 0 -> a >= 0": "relu'(0): a "
        "pre-activation (a sum of products of random floats) is never exactly 0 here",
    },
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
    dtypes="float64",
)


# ---------------------------------------------------------------- mixup
def _mixup(logits, labels, perm, lam, partner=None, own=None, per_batch=True):
    """The loss and dlogits of mixup's cross-entropy; the keywords apply the usual mistakes."""
    n, k = logits.shape
    partner = labels[perm] if partner is None else partner
    own = lam if own is None else own
    target = np.zeros((n, k))
    np.add.at(target, (np.arange(n), labels), own)
    np.add.at(target, (np.arange(n), partner), 1.0 - own)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    grad = np.exp(log_p) - target
    return float(-(target * log_p).sum() / n), grad / n if per_batch else grad


def mixup_cross_entropy(logits, labels, perm, lam):
    """Cross-entropy of softmax(logits) (N, K) against mixup's soft targets
    lam * onehot(labels[n]) + (1 - lam) * onehot(labels[perm[n]]), the mean over the batch,
    and its gradient with respect to the logits. Returns (loss, dlogits)."""
    return _mixup(logits, labels, perm, lam)


def _mixup_cases(rng):
    cases = []
    for n, k, lam in (
        (6, 4, 0.7),
        (8, 10, 0.25),
        (5, 3, 1.0),
        (1, 4, 0.6),
    ):  # last: one image, its own partner
        perm = rng.permutation(n)
        labels = rng.integers(0, k, size=n)
        cases.append(
            Case(
                (rng.standard_normal((n, k)) * 2, labels, perm, lam),
                label=f"logits {(n, k)}, lam={lam}, perm={perm.tolist()}",
            )
        )
    # a confident network: logits near 1000, where exp overflows unless each row's maximum goes
    # first; a partner with the same label as its image (the two weights add up on one class)
    n, k = 4, 5
    labels, perm = np.array([1, 1, 3, 0]), np.array([1, 0, 3, 2])
    logits = rng.standard_normal((n, k)) * 300 + 800
    logits[2, 0] = logits[2, 1:].max() - 900.0  # image 2's partner's class: its softmax underflows to 0
    cases.append(
        Case(
            (logits, labels, perm, 0.6),
            label="logits near 1000, lam=0.6, images 0 and 1 of one class, a target 900 below its row's max",
        )
    )
    # rows 1600 apart: the shift must be each row's maximum, not the batch's
    logits = rng.standard_normal((3, 4)) + np.array([[800.0], [-800.0], [0.0]])
    cases.append(
        Case(
            (logits, rng.integers(0, 4, 3), np.array([2, 0, 1]), 0.3),
            label="rows near 800, -800 and 0, lam=0.3 (shift each row by its own maximum)",
        )
    )
    return cases


function_exercise(
    "mixup_cross_entropy",
    CHAPTER,
    2,
    "mixup_cross_entropy",
    "Mixup: the loss of a mixed batch and its gradient",
    _mixup_cases,
    mixup_cross_entropy,
    ("loss", "dlogits"),
    mistakes=tuple(
        (hint, lambda z, y, perm, lam, change=change: _mixup(z, y, perm, lam, **change(y, perm, lam)))
        for hint, change in (
            (
                "the labels are mixed too: image n is lam of itself and 1 - lam of image perm[n], so "
                "its target is lam on its own class and 1 - lam on its partner's",
                lambda y, perm, lam: {"own": 1.0},
            ),
            (
                "image n's partner is image perm[n], so its label is labels[perm[n]] (not the image "
                "whose partner is n)",
                lambda y, perm, lam: {"partner": y[np.argsort(perm)]},
            ),
            (
                "the weights are swapped: lam belongs to the image's own label, 1 - lam to its partner's",
                lambda y, perm, lam: {"own": 1.0 - lam},
            ),
            (
                "the loss is the mean over the batch, so its gradient is divided by N too",
                lambda y, perm, lam: {"per_batch": False},
            ),
        )
    ),
    factors=lambda z, y, perm, lam: {"N": float(len(y))},
    forbids=(
        "minidl.nn.losses",
        "minidl.kernels",
        "minidl.training.augment",
        "minidl.nn.layers.activations",
    ),
    catches=(
        "exp of the logits without the row maximum: NaN for logits near 1000",
        "lam = 1 (no mixing) and a partner of the same class: the two weights add up on one class",
    ),
    dtypes=("number", "float64"),
)


# ---------------------------------------------------------------- questions


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "preact_residual_backward",
    ("size_one", "non_square", "varied_settings"),
    {
        "empty": "batch normalisation needs a batch: its mean over no sample has no value",
        "ties": "ReLU compares each value with 0 alone, never two values",
    },
)
declare_edges(
    "lsuv_scales",
    ("size_one", "non_square"),
    {
        "empty": "the task takes a batch and at least one layer of at least one unit",
        "ties": "ReLU compares each value with 0 alone, never two values",
        "long_sequence": "its loop runs over the network's layers, a few",
    },
)
declare_edges(
    "mixup_cross_entropy",
    ("size_one", "non_square", "extreme_magnitude", "repeated_indices", "varied_settings"),
    {
        "empty": "the loss is a mean over the images: with none it has no value",
        "ties": "the row's maximum only shifts the logits before exp: equal maxima shift by the same value",
    },
)
