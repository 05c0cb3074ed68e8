"""Numba twin of ``reference/dropout.py``: inverted dropout, forward and backward.

Elementwise passes over flat arrays: the mask and the output in one loop, the backward one
multiplication; threads only for large arrays (``loops.py``).
"""

import numpy as np
from numba import prange

from .loops import pick, threaded


# ============================================================ dropout
@threaded()
def _dropout_forward(x, uniform, rate, keep_scale, y, mask):
    # flat parallel loop: mask and output written in the same pass over memory
    for i in prange(x.size):
        m = keep_scale if uniform[i] >= rate else keep_scale * 0
        mask[i] = m
        y[i] = x[i] * m


def dropout_forward(x, uniform, rate):
    """Numba twin of ``reference.dropout_forward`` (mask = 0 or 1/(1-rate), y = x * mask)."""
    x = np.ascontiguousarray(x)
    keep_scale = x.dtype.type(1.0) / x.dtype.type(1.0 - rate)
    y, mask = np.empty_like(x), np.empty_like(x)
    uniform = np.ascontiguousarray(uniform)
    pick(_dropout_forward, _dropout_forward.serial, x.size)(
        x.reshape(-1), uniform.reshape(-1), rate, keep_scale, y.reshape(-1), mask.reshape(-1)
    )
    return y, mask


@threaded()
def _multiply(a, b, out):
    for i in prange(a.size):
        out[i] = a[i] * b[i]


def dropout_backward(dy, mask):
    """Numba twin of ``reference.dropout_backward`` (dx = dy * mask)."""
    dy, mask = np.ascontiguousarray(dy), np.ascontiguousarray(mask)
    dx = np.empty_like(dy)
    pick(_multiply, _multiply.serial, dy.size)(dy.reshape(-1), mask.reshape(-1), dx.reshape(-1))
    return dx
