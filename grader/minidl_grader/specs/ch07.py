"""Chapter 7, convolutional networks: the filters' gradient, max-pool backward, im2col."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "07_convolutional_networks"


def _pad(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


# ---------------------------------------------------------------- convolution, dW
def conv2d_forward(x, W, b, stride, pad):
    """Cross-correlation (as in PyTorch). x (N, C, H, Wd), W (F, C, KH, KW), b (F,)
    -> y (N, F, OH, OW) with OH = (H + 2 pad - KH) // stride + 1. (Used by the mistakes.)"""
    n, _, h, wd = x.shape
    f, _, kh, kw = W.shape
    xp = _pad(x, pad)
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.empty((n, f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            y[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return y


def conv2d_weight_gradient(dy, x, kh, kw, stride, pad):
    """dL/dW (F, C, KH, KW) and dL/db (F,) of the convolution, given dy (N, F, OH, OW)."""
    xp = _pad(x, pad)
    dW = np.zeros((dy.shape[1], x.shape[1], kh, kw))
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            dW += np.tensordot(dy[:, :, i, j], patch, axes=([0], [0]))
    return dW, dy.sum(axis=(0, 2, 3))


def _dw_cases(rng):
    cases = []
    for (n, c, h, w), (f, kh, kw), stride, pad in (
        ((2, 3, 5, 5), (4, 3, 3), 1, 0),
        ((1, 2, 6, 7), (3, 3, 2), 2, 1),
        ((2, 1, 5, 5), (2, 3, 3), 2, 1),
    ):
        oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
        cases.append(
            Case(
                (rng.standard_normal((n, f, oh, ow)), rng.standard_normal((n, c, h, w)), kh, kw, stride, pad),
                label=f"x {(n, c, h, w)}, {f} filters of {(kh, kw)}, stride={stride}, pad={pad}",
            )
        )
    return cases


function_exercise(
    "conv2d_weight_gradient",
    CHAPTER,
    3,
    "conv2d_weight_gradient",
    "The gradient of a convolution with respect to its filters",
    _dw_cases,
    conv2d_weight_gradient,
    ("dW", "db"),
    mistakes=(
        (
            "the filter gradient is flipped (a true convolution of x with dy); the layer is "
            "a cross-correlation, so dW[f, c, a, b] pairs dy[n, f, i, j] with "
            "x[n, c, i*stride + a, j*stride + b]",
            lambda dy, x, kh, kw, s, p: (
                conv2d_weight_gradient(dy, x, kh, kw, s, p)[0][:, :, ::-1, ::-1],
                dy.sum(axis=(0, 2, 3)),
            ),
        ),
        (
            "the stride is ignored when the patches are taken: output (i, j) saw the window "
            "starting at (i*stride, j*stride)",
            lambda dy, x, kh, kw, s, p: (
                conv2d_weight_gradient(dy, x, kh, kw, 1, p)[0] if s == 1 else _unstrided(dy, x, kh, kw, p),
                dy.sum(axis=(0, 2, 3)),
            ),
        ),
    ),
    forbids=(
        "minidl.nn.layers.Conv2D",
        "minidl.nn.layers.conv",
        "minidl.nn.layers.conv1d",
        "minidl.nn.layers.upsampling",
        "minidl.kernels",
        "minidl.nn.gradcheck",
    ),
)


def _unstrided(dy, x, kh, kw, pad):
    xp = _pad(x, pad)
    dW = np.zeros((dy.shape[1], x.shape[1], kh, kw))
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            dW += np.tensordot(dy[:, :, i, j], xp[:, :, i : i + kh, j : j + kw], axes=([0], [0]))
    return dW


# ---------------------------------------------------------------- max-pool backward
def maxpool_backward(dy, x, pool, stride):
    """dL/dx of max pooling: each window's gradient goes to its (first) maximum."""
    n, c, h, w = x.shape
    oh, ow = (h - pool) // stride + 1, (w - pool) // stride + 1
    dx = np.zeros_like(x)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool]
            flat = window.reshape(n, c, -1).argmax(axis=2)
            a, b = np.unravel_index(flat, (pool, pool))
            for ni in range(n):
                for ci in range(c):
                    dx[ni, ci, i * stride + a[ni, ci], j * stride + b[ni, ci]] += dy[ni, ci, i, j]
    return dx


def _avgpool_backward(dy, x, pool, stride):
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            dx[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool] += (
                dy[:, :, i : i + 1, j : j + 1] / pool**2
            )
    return dx


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


def _maxpool_every_tie(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            window = x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool] += (
                mask * dy[:, :, i : i + 1, j : j + 1]
            )
    return dx


def _maxpool_last_tie(dy, x, pool, stride):
    n, c, _, _ = x.shape
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            window = x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool]
            last = pool * pool - 1 - window.reshape(n, c, -1)[..., ::-1].argmax(axis=2)
            a, b = np.unravel_index(last, (pool, pool))
            for ni in range(n):
                for ci in range(c):
                    dx[ni, ci, i * stride + a[ni, ci], j * stride + b[ni, ci]] += dy[ni, ci, i, j]
    return dx


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
            _avgpool_backward,
        ),
        (
            "with overlapping windows (stride < pool) a position can be the maximum of several "
            "windows: add the gradients (+=), do not overwrite them",
            lambda dy, x, pool, stride: _maxpool_overwrite(dy, x, pool, stride),
        ),
        (
            "the gradient goes to every tied maximum of a window: it belongs to one position, "
            "the first maximum in row-major order (what argmax returns)",
            _maxpool_every_tie,
        ),
        (
            "the gradient goes to the last tied maximum; the task asks for the first in "
            "row-major order (argmax's choice)",
            _maxpool_last_tie,
        ),
    ),
    forbids=(
        "minidl.nn.layers.MaxPool2D",
        "minidl.nn.layers.conv",
        "minidl.nn.layers.conv1d",
        "minidl.kernels",
        "minidl.nn.gradcheck",
    ),
)


def _maxpool_overwrite(dy, x, pool, stride):
    n, c, _, _ = x.shape
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            window = x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool]
            a, b = np.unravel_index(window.reshape(n, c, -1).argmax(axis=2), (pool, pool))
            for ni in range(n):
                for ci in range(c):
                    dx[ni, ci, i * stride + a[ni, ci], j * stride + b[ni, ci]] = dy[ni, ci, i, j]
    return dx


# ---------------------------------------------------------------- im2col
def im2col(x, kh, kw, stride, pad):
    """Patches as rows: x (N, C, H, W) -> cols (N * OH * OW, C * KH * KW).

    Rows are ordered (n, oh, ow), columns (c, kh, kw), so that
    ``cols @ W.reshape(F, -1).T`` is the convolution, reshaped to (N, OH, OW, F).
    """
    n, c, h, w = x.shape
    xp = _pad(x, pad)
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    cols = np.empty((n, oh, ow, c, kh, kw))
    for i in range(oh):
        for j in range(ow):
            cols[:, i, j] = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
    return cols.reshape(n * oh * ow, c * kh * kw)


def _im2col_channels_last(x, kh, kw, stride, pad):
    n, c, h, w = x.shape
    cols = im2col(x, kh, kw, stride, pad).reshape(-1, c, kh, kw)
    return cols.transpose(0, 2, 3, 1).reshape(-1, c * kh * kw)


def _im2col_cases(rng):
    cases = []
    for (n, c, h, w), (kh, kw), stride, pad in (((2, 3, 4, 4), (3, 3), 1, 0), ((1, 2, 5, 6), (2, 3), 2, 1)):
        cases.append(
            Case(
                (rng.standard_normal((n, c, h, w)), kh, kw, stride, pad),
                label=f"x {(n, c, h, w)}, kernel {(kh, kw)}, stride={stride}, pad={pad}",
            )
        )
    return cases


function_exercise(
    "im2col",
    CHAPTER,
    2,
    "im2col",
    "im2col: convolution as one matrix product",
    _im2col_cases,
    im2col,
    ("cols",),
    mistakes=(
        (
            "the columns are ordered (kh, kw, c); this layout orders them (c, kh, kw), "
            "matching W.reshape(F, -1)",
            _im2col_channels_last,
        ),
    ),
    forbids=("minidl.nn.layers.Conv2D", "minidl.nn.layers.conv", "minidl.kernels"),
)
