"""Chapter 10, fast CPU kernels: Numba kernels for a depthwise convolution, the ReLU backward
(in parallel) and the backward of average pooling over a padded input."""

import numpy as np

from ..judge.registry import Case, declare_edges
from ._kernels import numba_exercise

CHAPTER = "10_fast_cpu_kernels"


# The "numba" probe (is it compiled? then call it) is in probes.py; the judge in _kernels.py.


# ---------------------------------------------------------------- depthwise convolution
def depthwise_conv2d_numba(x, W, stride, pad, flip=False, mix_channels=False, shift=0):
    """Reference (NumPy): y[n, c, i, j] = sum_{a, b} W[c, a, b] x[n, c, i s + a - p, j s + b - p],
    zero outside x. x (N, C, H, Wd), W (C, KH, KW) -> y (N, C, OH, OW) with
    OH = (H + 2 p - KH) // s + 1. The keywords apply a mistake: the kernel flipped, every
    channel's filter applied to the sum of the channels, the window moved ``shift`` further."""
    n, c, h, w = x.shape
    _, kh, kw = W.shape
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    kernel = W[:, ::-1, ::-1] if flip else W
    source = np.repeat(x.sum(axis=1, keepdims=True), c, axis=1) if mix_channels else x
    padded = np.pad(source, ((0, 0), (0, 0), (pad, pad + shift), (pad, pad + shift)))
    y = np.zeros((n, c, oh, ow))
    for a in range(kh):
        for b in range(kw):
            top, left = a + shift, b + shift
            seen = padded[
                :, :, top : top + stride * (oh - 1) + 1 : stride, left : left + stride * (ow - 1) + 1 : stride
            ]
            y += kernel[None, :, a, b, None, None] * seen
    return y.astype(x.dtype, copy=False)  # summed in float64, returned in x's dtype (the task)


def _depthwise_cases(rng):
    cases = []
    for (n, c, h, w), (kh, kw), stride, pad in (
        ((2, 3, 6, 6), (3, 3), 1, 1),
        ((1, 4, 7, 6), (3, 2), 2, 1),
        ((2, 2, 5, 5), (5, 5), 1, 2),  # the window as large as the image: most taps fall on the padding
        ((1, 3, 8, 8), (2, 2), 3, 0),
        # a tall image, a wide kernel: OH = 10, OW = 5; (H, KW) would give 8 rows, (W, KH) 7
        # columns, so an answer that takes the image or the kernel as square fails on the shape
        ((2, 2, 9, 6), (2, 4), 1, 1),
    ):
        cases.append(
            Case(
                (rng.standard_normal((n, c, h, w)), rng.standard_normal((c, kh, kw)), stride, pad),
                label=f"x {(n, c, h, w)}, W {(c, kh, kw)}, stride={stride}, pad={pad}",
            )
        )
    x, W = (
        rng.standard_normal((2, 3, 7, 7)).astype(np.float32),
        rng.standard_normal((3, 3, 3)).astype(np.float32),
    )
    cases.append(Case((x, W, 2, 1), label="float32 x (2, 3, 7, 7), W (3, 3, 3), stride=2, pad=1"))
    return cases


numba_exercise(
    "depthwise_conv2d_numba",
    CHAPTER,
    3,
    "A depthwise convolution as a Numba kernel",
    _depthwise_cases,
    depthwise_conv2d_numba,
    ("y",),
    mistakes=(
        (
            "the channels are mixed: a depthwise filter W[c] reads channel c of x only (no sum over channels)",
            lambda x, W, s, p: depthwise_conv2d_numba(x, W, s, p, mix_channels=True),
        ),
        (
            "the kernel is flipped (a true convolution); the layer is a cross-correlation: "
            "W[c, a, b] multiplies x[n, c, i*stride + a - pad, j*stride + b - pad]",
            lambda x, W, s, p: depthwise_conv2d_numba(x, W, s, p, flip=True),
        ),
        (
            "the window of output (i, j) starts at (i*stride - pad, j*stride - pad) in x: the padding "
            "moves it up and left, and the taps that fall outside x count as zeros",
            lambda x, W, s, p: depthwise_conv2d_numba(x, W, s, p, shift=p),
        ),
    ),
    forbids=(
        "minidl.nn.layers.Conv2D",
        "minidl.nn.layers.conv",
        "minidl_keras",  # its Conv1D and depthwise convolution (minidl_keras.separable)
        "minidl.kernels",
    ),
    dtype_of=0,
    catches=(
        "the channels mixed (every filter applied to the sum of the channels)",
        "the kernel flipped",
        "the window not moved up and left by the padding",
        "the stride ignored in the input index",
        "the image or the kernel taken as square (OW computed from H or KH; a case has OH = 10, OW = 5)",
        "y returned in float64 for a float32 x (the task asks for x's dtype)",
    ),
)


# ---------------------------------------------------------------- ReLU backward, parallel
def relu_backward_numba(dy, x):
    """Reference (NumPy): dx = dy where x > 0, else exactly 0, whatever dy holds there (an
    infinite dy at a dead unit gives 0, as PyTorch's does; dy * (x > 0) would make it NaN)."""
    return np.where(x > 0, dy, np.zeros_like(dy))


def _times_step(dy, x):
    """The mistake dy * (x > 0): NaN where dy is infinite and x <= 0."""
    with np.errstate(invalid="ignore"):
        return dy * (x > 0)


def _with_infinities(rng, dy, x):
    """dy with inf and -inf where x > 0 and where x <= 0 (an overflowed upstream gradient)."""
    dy = dy.copy()
    flat_dy, flat_x = dy.reshape(-1), x.reshape(-1)
    for alive in (True, False):
        where = np.flatnonzero((flat_x > 0) == alive)
        picked = rng.choice(where, size=2, replace=False)
        flat_dy[picked] = (np.inf, -np.inf)
    return dy


def _relu_cases(rng):
    cases = []
    for shape in ((4, 7), (2, 3, 5)):
        x = rng.standard_normal(shape)
        cases.append(Case((rng.standard_normal(shape), x), label=f"arrays of shape {shape}"))
    x = rng.integers(-1, 2, (3, 8)).astype(np.float32)  # exact zeros: relu'(0) = 0 here
    cases.append(
        Case(
            (rng.standard_normal((3, 8)).astype(np.float32), x),
            label="float32 arrays (3, 8) where a third of x is exactly 0",
        )
    )
    x = rng.integers(-1, 2, (5, 6)).astype(np.float64)
    x[0, :2] = (1.0, 0.0)  # a live and a dead unit, whatever was drawn
    cases.append(
        Case(
            (_with_infinities(rng, rng.standard_normal((5, 6)), x), x),
            label="arrays (5, 6) where dy holds inf and -inf, at units with x > 0 and at units with x <= 0",
        )
    )
    return cases


numba_exercise(
    "relu_backward_numba",
    CHAPTER,
    1,
    "The ReLU backward as a parallel Numba kernel",
    _relu_cases,
    relu_backward_numba,
    ("dx",),
    mistakes=(
        (
            "this is relu(dy); the gradient passes where the INPUT x is positive",
            lambda dy, x: np.maximum(dy, 0),
        ),
        (
            "the gradient passes where x == 0 too: ReLU's derivative at 0 is taken as 0 "
            "(pass dy only where x > 0)",
            lambda dy, x: np.where(x >= 0, dy, np.zeros_like(dy)),
        ),
        (
            "an infinite dy at a unit with x <= 0 became NaN: dy * 0 is NaN when dy is inf; "
            "write 0 there instead of multiplying (dx is exactly 0 wherever x <= 0)",
            lambda dy, x: _times_step(dy, x),
        ),
    ),
    forbids=("minidl.nn.layers.ReLU", "minidl.nn.layers.activations", "minidl.kernels"),
    catches=(
        "relu(dy) instead of dy where x > 0",
        "the gradient passed where x == 0 (float32 cases with exact zeros)",
        "dy * (x > 0): an infinite dy at a dead unit becomes NaN instead of 0",
    ),
    parallel=True,
)


# ---------------------------------------------------------------- average pooling with padding, backward
def avgpool2d_padded_backward_numba(dy, height, width, pool, stride, pad, count_padding=False, shift=0):
    """Reference (NumPy) of average pooling's backward over an input padded with ``pad`` on
    every side, the padding left out of each average (PyTorch's ``count_include_pad=False``):
    window (i, j) covers rows i s - p .. i s - p + pool - 1 (likewise columns), cut to the
    image, and y[i, j] is the mean of what is left, so each of those inputs gets
    dy[i, j] / (the number left). dy (N, C, OH, OW) -> dx (N, C, height, width).
    The keywords apply a mistake: divide by pool * pool, or move the windows ``shift``."""
    n, c, oh, ow = dy.shape
    dx = np.zeros((n, c, height, width))
    for i in range(oh):
        for j in range(ow):
            top, left = i * stride - pad + shift, j * stride - pad + shift
            rows = slice(max(top, 0), min(top + pool, height))
            cols = slice(max(left, 0), min(left + pool, width))
            covered = max(rows.stop - rows.start, 0) * max(cols.stop - cols.start, 0)
            area = pool * pool if count_padding else covered
            if covered > 0:
                dx[:, :, rows, cols] += (dy[:, :, i, j] / area)[:, :, None, None]
    return dx


def _avg_cases(rng):
    cases = []
    for (n, c, h, w), pool, stride, pad in (
        ((2, 3, 6, 6), 2, 2, 1),
        ((1, 2, 7, 5), 3, 2, 1),
        ((2, 1, 5, 5), 3, 1, 1),  # overlapping windows
        ((1, 2, 4, 6), 2, 2, 0),  # no padding: every window is full
    ):
        oh, ow = (h + 2 * pad - pool) // stride + 1, (w + 2 * pad - pool) // stride + 1
        cases.append(
            Case(
                (rng.standard_normal((n, c, oh, ow)), h, w, pool, stride, pad),
                label=f"x {(n, c, h, w)}, pool={pool}, stride={stride}, pad={pad}",
            )
        )
    return cases


numba_exercise(
    "avgpool2d_padded_backward_numba",
    CHAPTER,
    2,
    "Average pooling over a padded input, backward, as a Numba kernel",
    _avg_cases,
    avgpool2d_padded_backward_numba,
    ("dx",),
    mistakes=(
        (
            "each window's dy is divided by pool * pool; the padding is left out of the average, "
            "so a window cut by the edge divides by the number of inputs it really covers",
            lambda dy, h, w, pool, stride, pad: avgpool2d_padded_backward_numba(
                dy, h, w, pool, stride, pad, count_padding=True
            ),
        ),
        (
            "the windows are not moved by the padding: window (i, j) starts at row i*stride - pad "
            "of x (column j*stride - pad)",
            lambda dy, h, w, pool, stride, pad: avgpool2d_padded_backward_numba(
                dy, h, w, pool, stride, pad, shift=pad
            ),
        ),
    ),
    forbids=("minidl.nn.layers.AvgPool2D", "minidl.nn.layers.conv", "minidl.kernels"),
    catches=(
        "the padding counted in the average (divided by pool * pool)",
        "the windows not moved up and left by the padding",
        "overlapping windows overwrite each other's share instead of adding",
    ),
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_OFFSETS = "its loops run over the kernel's offsets or the output's positions, a few each"
declare_edges(
    "depthwise_conv2d_numba",
    ("size_one", "non_square", "float32", "varied_settings"),
    {
        "empty": "the task takes at least one image, channel and output position",
        "ties": "it compares no values: products and sums only",
        "long_sequence": _OFFSETS,
    },
)
declare_edges(
    "relu_backward_numba",
    ("non_square", "float32", "inf_or_nan_input"),
    {
        "empty": "the kernel is elementwise: no length of an axis is special",
        "size_one": "the kernel is elementwise: no length of an axis is special",
    },
)
declare_edges(
    "avgpool2d_padded_backward_numba",
    ("size_one", "non_square", "varied_settings"),
    {
        "empty": "the task takes at least one image, channel and output position",
        "ties": "average pooling compares no values",
        "long_sequence": _OFFSETS,
    },
)
