"""Chapter 7, convolutional networks: a dilated convolution as one matrix product (a repair),
its filter gradient, the gradient with respect to the input (a transposed convolution),
max-pool backward."""

from functools import partial

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "07_convolutional_networks"
# what computes a convolution's gradients for the student (the layers, the kernels, gradcheck;
# the Keras door, whose Conv1D and pools are built on them)
_CONV_FORBIDS = (
    "minidl.nn.layers.Conv2D",
    "minidl.nn.layers.conv",
    "minidl_keras",
    "minidl.nn.layers.upsampling",
    "minidl.kernels",
    "minidl.nn.gradcheck",
)


def _pad(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def _taps(padded, a, b, stride, dilation, oh, ow):
    """What tap (a, b) of the filter sees at every output position: (N, C, OH, OW)."""
    top, left = a * dilation, b * dilation
    return padded[
        :, :, top : top + stride * (oh - 1) + 1 : stride, left : left + stride * (ow - 1) + 1 : stride
    ]


# ---------------------------------------------------------------- dilated convolution as a matmul (a repair)
def _dilated_output(size, k, stride, pad, dilation):
    """Window positions along an axis: the dilated kernel spans dilation * (k - 1) + 1 pixels."""
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def dilated_conv2d_matmul(x, W, b, stride, pad, dilation):
    """y (N, F, OH, OW) of the dilated cross-correlation
    y[n, f, i, j] = b[f] + sum_{c, a, b} W[f, c, a, b] xp[n, c, i s + a d, j s + b d]:
    one tap of the filter at a time (the grader's own form, not the student's matrix)."""
    n, _, h, w = x.shape
    f, _, kh, kw = W.shape
    oh, ow = _dilated_output(h, kh, stride, pad, dilation), _dilated_output(w, kw, stride, pad, dilation)
    padded = _pad(x, pad)
    y = np.zeros((n, f, oh, ow))
    for a in range(kh):
        for b_ in range(kw):
            y += np.einsum("fc,ncij->nfij", W[:, :, a, b_], _taps(padded, a, b_, stride, dilation, oh, ow))
    return y + b[None, :, None, None]


def _matmul_cases(rng):
    cases = []
    for (n, c, h, w), (f, kh, kw), stride, pad, dilation in (
        ((2, 3, 9, 8), (4, 3, 2), 2, 1, 2),  # stride 2 on spans 7 and 8: the floor matters on one axis
        ((2, 2, 7, 7), (3, 2, 3), 1, 2, 3),
        ((1, 3, 6, 9), (2, 3, 3), 3, 0, 1),  # no dilation: the chapter's convolution
        ((3, 2, 8, 8), (2, 2, 2), 2, 1, 3),
        ((1, 1, 5, 5), (1, 3, 3), 1, 1, 2),  # one image, one channel, one filter
    ):
        cases.append(
            Case(
                (
                    rng.standard_normal((n, c, h, w)),
                    rng.standard_normal((f, c, kh, kw)),
                    rng.standard_normal(f),
                    stride,
                    pad,
                    dilation,
                ),
                label=f"x {(n, c, h, w)}, {f} filters of {(kh, kw)}, stride={stride}, pad={pad}, "
                f"dilation={dilation}",
            )
        )
    return cases


def _taps_undilated(x, W, b, stride, pad, dilation):
    """The taps read one pixel apart (the output size still the dilated one's)."""
    n, _, h, w = x.shape
    f, _, kh, kw = W.shape
    oh, ow = _dilated_output(h, kh, stride, pad, dilation), _dilated_output(w, kw, stride, pad, dilation)
    padded = _pad(x, pad)
    y = np.zeros((n, f, oh, ow))
    for a in range(kh):
        for b_ in range(kw):
            y += np.einsum("fc,ncij->nfij", W[:, :, a, b_], _taps(padded, a, b_, stride, 1, oh, ow))
    return y + b[None, :, None, None]


function_exercise(
    "dilated_conv2d_matmul",
    CHAPTER,
    2,
    "dilated_conv2d_matmul",
    "A dilated convolution as one matrix product, repaired",
    _matmul_cases,
    dilated_conv2d_matmul,
    ("y",),
    mistakes=(
        (
            "the taps are read one pixel apart: tap (a, b) of window (i, j) reads "
            "x[i*stride + a*dilation, j*stride + b*dilation], so the offsets within a window "
            "are multiplied by the dilation",
            _taps_undilated,
        ),
        (
            "the patch matrix's columns run over (a, b, c), channel last, while W.reshape(F, -1) "
            "runs over (c, a, b): each weight meets another tap's pixel; order the patches' axes "
            "as W's",
            lambda x, W, b, s, p, d: dilated_conv2d_matmul(
                x, W.reshape(W.shape[0], W.shape[2], W.shape[3], W.shape[1]).transpose(0, 3, 1, 2), b, s, p, d
            ),
        ),
        (
            "the product's rows are (n, i, j) and its columns the filters: reshaping it straight to "
            "(N, F, OH, OW) scrambles positions and filters; reshape to (N, OH, OW, F), then move F",
            lambda x, W, b, s, p, d: (lambda y: y.transpose(0, 2, 3, 1).reshape(y.shape))(
                dilated_conv2d_matmul(x, W, b, s, p, d)
            ),
        ),
    ),
    forbids=_CONV_FORBIDS,
    catches=(
        "the output size as span // stride (one window short whenever the stride does not divide "
        "the span): (H + 2 pad - dilation (KH - 1) - 1) // stride + 1 windows fit",
        "the dilated kernel's span taken as dilation * KH (it is dilation * (KH - 1) + 1)",
        "the padding added on one side only",
    ),
    dtypes="float64",
    equivalent_mutants={
        "dilated_conv2d_matmul: augassign: y += *": "y is the function's own array: += and = + add "
        "the same tap",
    },
)


# ---------------------------------------------------------------- dilated convolution, dW
def dilated_conv2d_weight_gradient(dy, x, kh, kw, stride, pad, dilation):
    """dL/dW (F, C, KH, KW) and dL/db (F,) of the dilated convolution
    y[n, f, i, j] = b[f] + sum_{c, a, b} W[f, c, a, b] xp[n, c, i s + a d, j s + b d],
    given dy (N, F, OH, OW); xp is x padded with ``pad`` zeros."""
    _, f, oh, ow = dy.shape
    padded = _pad(x, pad)
    dW = np.zeros((f, x.shape[1], kh, kw))
    for a in range(kh):
        for b in range(kw):
            dW[:, :, a, b] = np.einsum("nfij,ncij->fc", dy, _taps(padded, a, b, stride, dilation, oh, ow))
    return dW, dy.sum(axis=(0, 2, 3))


def _dw_cases(rng):
    cases = []
    for (n, c, h, w), (f, kh, kw), stride, pad, dilation in (
        ((2, 3, 7, 7), (4, 3, 3), 1, 0, 2),
        ((1, 2, 9, 8), (3, 3, 2), 2, 1, 2),
        ((2, 2, 9, 9), (2, 2, 3), 1, 2, 3),
        ((2, 1, 6, 6), (2, 3, 3), 2, 1, 1),
    ):
        oh = (h + 2 * pad - dilation * (kh - 1) - 1) // stride + 1
        ow = (w + 2 * pad - dilation * (kw - 1) - 1) // stride + 1
        cases.append(
            Case(
                (
                    rng.standard_normal((n, f, oh, ow)),
                    rng.standard_normal((n, c, h, w)),
                    kh,
                    kw,
                    stride,
                    pad,
                    dilation,
                ),
                label=f"x {(n, c, h, w)}, {f} filters of {(kh, kw)}, stride={stride}, pad={pad}, "
                f"dilation={dilation}",
            )
        )
    return cases


function_exercise(
    "dilated_conv2d_weight_gradient",
    CHAPTER,
    3,
    "dilated_conv2d_weight_gradient",
    "The filter gradient of a dilated convolution",
    _dw_cases,
    dilated_conv2d_weight_gradient,
    ("dW", "db"),
    mistakes=(
        (
            "the dilation is ignored when the taps are read: tap (a, b) of the filter sees "
            "x[i*stride + a*dilation, j*stride + b*dilation], not x[i*stride + a, ...]",
            lambda dy, x, kh, kw, s, p, d: dilated_conv2d_weight_gradient(dy, x, kh, kw, s, p, 1),
        ),
        (
            "the filter gradient is flipped (a true convolution of x with dy); the layer is "
            "a cross-correlation, so dW[f, c, a, b] pairs dy[n, f, i, j] with the input its tap (a, b) saw",
            lambda dy, x, kh, kw, s, p, d: (
                dilated_conv2d_weight_gradient(dy, x, kh, kw, s, p, d)[0][:, :, ::-1, ::-1],
                dy.sum(axis=(0, 2, 3)),
            ),
        ),
        (
            "the stride is ignored: output (i, j) saw the window starting at (i*stride, j*stride)",
            lambda dy, x, kh, kw, s, p, d: dilated_conv2d_weight_gradient(dy, x, kh, kw, 1, p, d),
        ),
        (
            "the dilation multiplies the stride too: the window of output (i, j) starts at "
            "(i*stride, j*stride), only the taps inside it are dilation apart",
            lambda dy, x, kh, kw, s, p, d: dilated_conv2d_weight_gradient(
                dy,
                np.pad(x, ((0, 0), (0, 0), (0, s * d * dy.shape[2]), (0, s * d * dy.shape[3]))),
                kh,
                kw,
                s * d,
                p,
                d,
            ),
        ),
    ),
    forbids=_CONV_FORBIDS,
    catches=("the padding ignored (taps read from the unpadded x)",),
    dtypes="float64",
)


# ---------------------------------------------------------------- convolution, dx
def conv2d_input_gradient(dy, W, height, width, stride, pad):
    """dL/dx (N, C, height, width) of y = conv(x, W) (cross-correlation, stride, zero padding),
    given dy (N, F, OH, OW) and W (F, C, KH, KW): every output's dy sent back through the
    window it read, weighted by W; overlapping windows add up, the padding's share is dropped."""
    return _dx(dy, W, height, width, stride, pad)


def _dx(dy, W, height, width, stride, pad, flip=False, assign=False, crop_top_left=False):
    """conv2d_input_gradient, or with one mistake: the filters flipped (a true convolution),
    overlapping windows overwritten (=) instead of added, or the crop taken from the top left."""
    n, _, oh, ow = dy.shape
    _, c, kh, kw = W.shape
    kernel = W[:, :, ::-1, ::-1] if flip else W
    dx = np.zeros((n, c, height + 2 * pad, width + 2 * pad))
    for i in range(oh):
        for j in range(ow):
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            share = np.tensordot(dy[:, :, i, j], kernel, axes=([1], [0]))
            dx[:, :, rows, cols] = share if assign else dx[:, :, rows, cols] + share
    top = 0 if crop_top_left else pad  # the padding's share is dropped
    return dx[:, :, top : top + height, top : top + width].copy()


def _dx_cases(rng):
    cases = []
    for (n, c, h, w), (f, kh, kw), stride, pad in (
        ((2, 3, 5, 5), (4, 3, 3), 1, 1),
        ((1, 2, 7, 6), (3, 3, 2), 2, 1),
        ((2, 2, 8, 7), (2, 2, 2), 3, 0),  # stride > kernel: some inputs are never read
        ((2, 1, 6, 6), (2, 3, 3), 2, 0),  # the last row and column fall off the floor
    ):
        oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
        cases.append(
            Case(
                (rng.standard_normal((n, f, oh, ow)), rng.standard_normal((f, c, kh, kw)), h, w, stride, pad),
                label=f"x {(n, c, h, w)}, {f} filters of {(kh, kw)}, stride={stride}, pad={pad}",
            )
        )
    return cases


function_exercise(
    "conv2d_input_gradient",
    CHAPTER,
    2,
    "conv2d_input_gradient",
    "The gradient of a convolution with respect to its input",
    _dx_cases,
    conv2d_input_gradient,
    ("dx",),
    mistakes=(
        (
            "where windows overlap (stride < kernel) an input gets the sum of what every window "
            "that read it sends back: add (+=), do not overwrite",
            partial(_dx, assign=True),
        ),
        (
            "the filters are flipped: output (i, j) read x[i*stride + a, j*stride + b] with weight "
            "W[f, c, a, b], so that is where W[f, c, a, b] * dy goes back to",
            partial(_dx, flip=True),
        ),
        (
            "the padded gradient is cut at the wrong place: the input starts `pad` rows and "
            "columns into the padded array, so keep [pad : pad + height, pad : pad + width]",
            partial(_dx, crop_top_left=True),
        ),
    ),
    forbids=_CONV_FORBIDS,
    catches=("the stride ignored (every window placed one step apart)",),
    dtypes="float64",
    equivalent_mutants={
        "conv2d_input_gradient > _dx: copy: kernel = W -> kernel = W.copy()": "the kernel is only read",
        "conv2d_input_gradient > _dx: copy: dx[*].copy() -> *": "the view is of the function's own "
        "padded array, not of an input: its values are the same",
        "conv2d_input_gradient > _dx: augassign: dx[:, :, rows, cols] = *": "a slice of the function's "
        "own array: += and = + add the same share",
        "conv2d_input_gradient > _dx: const: 2 -> 3*": "a canvas padded more at the bottom and right: "
        "the crop from (pad, pad) takes the same rows and columns",
    },
)


# ---------------------------------------------------------------- max-pool backward
def _windows(dy, pool, stride):
    """(i, j, the slices of window (i, j) in x) for every output position."""
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            yield (
                i,
                j,
                (
                    slice(None),
                    slice(None),
                    slice(i * stride, i * stride + pool),
                    slice(j * stride, j * stride + pool),
                ),
            )


def _route(dy, x, pool, stride, pick, accumulate=True):
    """dx with each window's dy sent to one position: ``pick(window (N, C, pool*pool)) -> (N, C)``
    flat indices within the window; added (or, ``accumulate=False``, assigned)."""
    n, c = x.shape[:2]
    dx = np.zeros_like(x)
    planes = np.ix_(range(n), range(c))
    for i, j, window in _windows(dy, pool, stride):
        a, b = np.divmod(pick(x[window].reshape(n, c, -1)), pool)
        target = (*planes, i * stride + a, j * stride + b)
        dx[target] = dx[target] + dy[:, :, i, j] if accumulate else dy[:, :, i, j]
    return dx


def _spread(dy, x, pool, stride, weights):
    """dx with each window's dy spread over it in the proportions ``weights(window)``."""
    dx = np.zeros_like(x)
    for i, j, window in _windows(dy, pool, stride):
        dx[window] += weights(x[window]) * dy[:, :, i : i + 1, j : j + 1]
    return dx


def maxpool_backward(dy, x, pool, stride):
    """dL/dx of max pooling: each window's gradient goes to its (first) maximum."""
    return _route(dy, x, pool, stride, lambda flat: flat.argmax(axis=2))


def _pool_cases(rng):
    cases = []
    for (n, c, h, w), pool, stride in (((2, 3, 4, 4), 2, 2), ((1, 2, 5, 5), 3, 1), ((2, 1, 5, 7), 2, 2)):
        oh, ow = (h - pool) // stride + 1, (w - pool) // stride + 1
        cases.append(
            Case(
                (rng.standard_normal((n, c, oh, ow)), rng.standard_normal((n, c, h, w)), pool, stride),
                label=f"x {(n, c, h, w)}, pool={pool}, stride={stride}",
            )
        )
    # ties: x takes three values only (as after a ReLU, or on images of few grey levels);
    # the task says the gradient goes to the first maximum in row-major order
    x = rng.integers(0, 3, (2, 2, 6, 6)).astype(np.float64)
    cases.append(
        Case(
            (rng.standard_normal((2, 2, 3, 3)), x, 2, 2),
            label="x (2, 2, 6, 6) of values 0, 1, 2 (tied maxima), pool=2, stride=2",
        )
    )
    return cases


function_exercise(
    "maxpool_backward",
    CHAPTER,
    2,
    "maxpool_backward",
    "Max pooling, backward",
    _pool_cases,
    maxpool_backward,
    ("dx",),
    mistakes=(
        (
            "the gradient is spread over the whole window (that is average pooling); max "
            "pooling sends it only to the position of the maximum",
            lambda dy, x, pool, stride: _spread(dy, x, pool, stride, lambda w: np.full_like(w, 1 / pool**2)),
        ),
        (
            "with overlapping windows (stride < pool) a position can be the maximum of several "
            "windows: add the gradients (+=), do not overwrite them",
            lambda dy, x, pool, stride: _route(
                dy, x, pool, stride, lambda f: f.argmax(axis=2), accumulate=False
            ),
        ),
        (
            "the gradient goes to every tied maximum of a window: it belongs to one position, "
            "the first maximum in row-major order (what argmax returns)",
            lambda dy, x, pool, stride: _spread(
                dy, x, pool, stride, lambda w: w == w.max(axis=(2, 3), keepdims=True)
            ),
        ),
        (
            "the gradient goes to the last tied maximum; the task asks for the first in "
            "row-major order (argmax's choice)",
            lambda dy, x, pool, stride: _route(
                dy, x, pool, stride, lambda f: f.shape[2] - 1 - f[..., ::-1].argmax(axis=2)
            ),
        ),
    ),
    forbids=(
        "minidl.nn.layers.MaxPool2D",
        "minidl.nn.layers.conv",
        "minidl_keras",
        "minidl.kernels",
        "minidl.nn.gradcheck",
    ),
    dtypes="float64",
    equivalent_mutants={
        "maxpool_backward > _route: augassign: dx[target] = *": "one position per (n, c) in each "
        "window: no index repeats within an assignment, so += and = + add the same",
        "maxpool_backward > _route: const: -1 -> -2": "NumPy reads any negative size in a reshape as "
        "the one it works out",
    },
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_NOT_EMPTY = "the task takes at least one image, channel, filter and output position"
_OFFSETS = "its loops run over the kernel's offsets or the output's positions, a few each"
declare_edges(
    "dilated_conv2d_matmul",
    ("size_one", "non_square", "varied_settings"),
    {"empty": _NOT_EMPTY, "ties": "it compares no values: products and sums only", "long_sequence": _OFFSETS},
)
declare_edges(
    "dilated_conv2d_weight_gradient",
    ("size_one", "non_square", "varied_settings"),
    {"empty": _NOT_EMPTY, "ties": "it compares no values: products and sums only", "long_sequence": _OFFSETS},
)
declare_edges(
    "conv2d_input_gradient",
    ("size_one", "non_square", "varied_settings"),
    {"empty": _NOT_EMPTY, "ties": "it compares no values: products and sums only", "long_sequence": _OFFSETS},
)
declare_edges(
    "maxpool_backward",
    ("size_one", "non_square", "ties", "varied_settings"),
    {"empty": _NOT_EMPTY, "long_sequence": _OFFSETS},
)
