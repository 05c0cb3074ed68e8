"""Max and average pooling, forward and backward, written with NumPy's sliding windows.

The max pooling's argmax (the first maximum of each window) is returned for the backward,
which sends each gradient to that one input.
"""

import numpy as np

from ..common import pool_output_length


def max_pool_forward(x, kh, kw, sh, sw):
    """Max pooling over (kh, kw) windows with strides (sh, sw); windows that do not fit are dropped.

    Parameters: x (N, C, H, W). With OH = (H - kh) // sh + 1, OW = (W - kw) // sw + 1:
    Returns y (N, C, OH, OW), the window maxima, and argmax (N, C, OH, OW) int64, the
    position i * kw + j inside its window of the FIRST maximum in row-major order (as
    PyTorch), which is where backward sends the gradient.
    """
    N, C, H, W = x.shape
    OH, OW = pool_output_length(H, kh, sh), pool_output_length(W, kw, sw)
    y = x[:, :, 0 : sh * OH : sh, 0 : sw * OW : sw].copy()
    argmax = np.zeros((N, C, OH, OW), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            candidate = x[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw]
            better = candidate > y  # strictly greater: a tie keeps the earlier maximum
            y = np.where(better, candidate, y)
            argmax = np.where(better, i * kw + j, argmax)
    return y, argmax


def max_pool_backward(dy, argmax, x_shape, kh, kw, sh, sw):
    """Send each window's gradient to the position of its (first) maximum.

    Parameters: dy (N, C, OH, OW), argmax (N, C, OH, OW) from the forward, x_shape (N, C, H, W).
    Returns dx (N, C, H, W); a pixel that is the maximum of several overlapping windows
    receives the sum of their gradients, added in window-offset order (i, j) ascending.
    """
    OH, OW = dy.shape[2:]
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw] += np.where(argmax == i * kw + j, dy, 0)
    return dx


def avg_pool_forward(x, kh, kw, sh, sw):
    """Average pooling over (kh, kw) windows with strides (sh, sw); windows that do not fit are dropped.

    Parameters: x (N, C, H, W). Returns y (N, C, OH, OW) with OH, OW as in ``max_pool_forward``:
    the window sums, added in row-major order, divided by kh * kw.
    """
    N, C, H, W = x.shape
    OH, OW = pool_output_length(H, kh, sh), pool_output_length(W, kw, sw)
    total = x[:, :, 0 : sh * OH : sh, 0 : sw * OW : sw].copy()
    for i in range(kh):
        for j in range(kw):
            if i or j:
                total += x[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw]
    return total / x.dtype.type(kh * kw)


def avg_pool_backward(dy, x_shape, kh, kw, sh, sw):
    """Each pixel of a window receives dy / (kh * kw) of that window's gradient.

    Parameters: dy (N, C, OH, OW), x_shape (N, C, H, W). Returns dx (N, C, H, W)
    (sums over overlapping windows, added in window-offset order (i, j) ascending).
    """
    OH, OW = dy.shape[2:]
    share = dy / dy.dtype.type(kh * kw)
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw] += share
    return dx
