"""Chapter 16, going deep: a residual block with a projection shortcut (backward), the
variance-preserving scale for a leaky ReLU, cutout augmentation; questions on the variance
of a residual stack and on which augmentations keep a digit's label."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "16_going_deep"


# ---------------------------------------------------------------- projection block backward
def _projection_forward(x, W1, W2, Ws):
    a = x @ W1
    h = np.maximum(a, 0.0)
    z = h @ W2 + x @ Ws
    return a, h, z


def projection_residual_backward(dy, x, W1, W2, Ws):
    """y = relu(relu(x W1) W2 + x Ws); x (N, D), W1 (D, H), W2 (H, E), Ws (D, E), dy (N, E)
    -> dx (N, D), dW1 (D, H), dW2 (H, E), dWs (D, E)."""
    a, h, z = _projection_forward(x, W1, W2, Ws)
    dz = dy * (z > 0)
    da = (dz @ W2.T) * (a > 0)
    return da @ W1.T + dz @ Ws.T, x.T @ da, h.T @ dz, x.T @ dz


def _projection_identity_skip(dy, x, W1, W2, Ws):
    """The identity skip's gradient (dz) added instead of the projection's (dz Ws^T)."""
    a, h, z = _projection_forward(x, W1, W2, Ws)
    dz = dy * (z > 0)
    da = (dz @ W2.T) * (a > 0)
    dx = da @ W1.T
    dx = dx + (dz @ Ws.T if dz.shape[1] != dx.shape[1] else dz)
    return dx, x.T @ da, h.T @ dz, x.T @ dz


def _projection_no_skip_in_dx(dy, x, W1, W2, Ws):
    a, h, z = _projection_forward(x, W1, W2, Ws)
    dz = dy * (z > 0)
    da = (dz @ W2.T) * (a > 0)
    return da @ W1.T, x.T @ da, h.T @ dz, x.T @ dz


def _projection_relu_ignored(dy, x, W1, W2, Ws):
    a, h, _ = _projection_forward(x, W1, W2, Ws)
    da = (dy @ W2.T) * (a > 0)
    return da @ W1.T + dy @ Ws.T, x.T @ da, h.T @ dy, x.T @ dy


def _projection_cases(rng):
    cases = []
    for n, d, hidden, e in ((4, 3, 5, 6), (6, 5, 4, 5), (3, 7, 6, 2)):
        x = rng.standard_normal((n, d))
        cases.append(
            Case(
                (
                    rng.standard_normal((n, e)),
                    x,
                    rng.standard_normal((d, hidden)) * 0.7,
                    rng.standard_normal((hidden, e)) * 0.7,
                    rng.standard_normal((d, e)) * 0.7,
                ),
                label=f"x {(n, d)}, hidden {hidden}, output {e}",
            )
        )
    return cases


function_exercise(
    "projection_residual_backward",
    CHAPTER,
    3,
    "projection_residual_backward",
    "A residual block with a projection shortcut, backward",
    _projection_cases,
    projection_residual_backward,
    ("dx", "dW1", "dW2", "dWs"),
    mistakes=(
        (
            "the skip's gradient is dz only for the identity; through the projection x Ws it is dz @ Ws.T",
            _projection_identity_skip,
        ),
        (
            "dx has two paths: through the block (da @ W1.T) and through the shortcut (dz @ Ws.T); add both",
            _projection_no_skip_in_dx,
        ),
        (
            "the ReLU after the sum: dz = dy * (z > 0), with z = relu(x W1) W2 + x Ws",
            _projection_relu_ignored,
        ),
    ),
    forbids=(
        "minidl.nn.layers.Residual",
        "minidl.nn.layers.residual",
        "minidl.nn.layers.Dense",
        "minidl.kernels",
        "minidl.nn.gradcheck",
    ),
)


# ---------------------------------------------------------------- leaky ReLU initialization
def leaky_relu_init_std(fan_in, alpha):
    """The weight std that keeps Var(y) from layer to layer through a leaky ReLU of slope alpha."""
    return np.sqrt(2.0 / ((1.0 + alpha**2) * fan_in))


def _init_cases(rng):
    """Five layers drawn by the seed: the plain ReLU (alpha 0), the identity (alpha 1) and
    three slopes between, each with its own fan-in (a table of answers cannot pass)."""
    alphas: tuple[float, ...]
    alphas = (0.0, round(float(rng.uniform(0.1, 0.3)), 3), round(float(rng.uniform(0.005, 0.05)), 4))
    alphas += (1.0, round(float(rng.uniform(0.4, 0.8)), 3))
    fan_ins = (int(n) for n in rng.integers(9, 1025, size=len(alphas)))
    return [
        Case((fan_in, alpha), label=f"fan_in={fan_in}, alpha={alpha}")
        for fan_in, alpha in zip(fan_ins, alphas)
    ]


function_exercise(
    "leaky_relu_init_std",
    CHAPTER,
    2,
    "leaky_relu_init_std",
    "The initialization scale for a leaky ReLU",
    _init_cases,
    leaky_relu_init_std,
    ("std",),
    mistakes=(
        (
            "that is the variance; the function returns the standard deviation (its square root)",
            lambda n, a: 2.0 / ((1.0 + a**2) * n),
        ),
        (
            "the slope alpha scales the negative half, so the second moment gets alpha squared: "
            "(1 + alpha^2) / 2",
            lambda n, a: np.sqrt(2.0 / ((1.0 + a) * n)),
        ),
        (
            "this is He's rule for the plain ReLU; a leaky ReLU keeps part of the negative half",
            lambda n, a: np.sqrt(2.0 / n),
        ),
        (
            "the fan-in is in the denominator: Var(y) = fan_in Var(w) E[x^2]",
            lambda n, a: np.sqrt(2.0 * n / (1.0 + a**2)),
        ),
    ),
    forbids=("minidl.nn.initializers",),
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
