"""CUDA launchers of ``reference/pool.py``: max and average pooling (``cuda/pooling.cu``).

One thread per output forward, one per input pixel backward (a gather: no atomics).
"""

from __future__ import annotations

import numpy as np

from ..common import pool_output_length
from .launch import contiguous, int32s, launch


def _pooled_shape(x_shape, kh, kw, sh, sw):
    """(N, C, OH, OW) for pooling windows that must fit (floor)."""
    n, c, height, width = x_shape
    return n, c, pool_output_length(height, kh, sh), pool_output_length(width, kw, sw)


def _pool_launch(name, arrays, items, x_shape, kh, kw, sh, sw):
    """Launch ``pooling.cu``'s kernel ``name`` on ``arrays``, one thread per element of its
    output, ``items`` of them; the geometry (planes = N*C, H, W, window, OH, OW) follows as ints."""
    n, c, out_h, out_w = _pooled_shape(x_shape, kh, kw, sh, sw)
    height, width = x_shape[2], x_shape[3]
    launch("pooling.cu", name, items, (*arrays, *int32s(n * c, height, width, kh, kw, sh, sw, out_h, out_w)))


def max_pool_forward(x, kh, kw, sh, sw):
    """x (N, C, H, W) -> y (N, C, OH, OW), argmax (N, C, OH, OW) int64; see ``reference.max_pool_forward``."""
    xp, x = contiguous(x)
    y = xp.empty(_pooled_shape(x.shape, kh, kw, sh, sw), dtype=x.dtype)
    argmax = xp.empty(y.shape, dtype=np.int64)
    _pool_launch("max_pool_forward", (x, y, argmax), y.size, x.shape, kh, kw, sh, sw)
    return y, argmax


def max_pool_backward(dy, argmax, x_shape, kh, kw, sh, sw):
    """dy, argmax (N, C, OH, OW) -> dx of shape x_shape: each window's gradient to its first maximum."""
    xp, dy = contiguous(dy)
    argmax = xp.ascontiguousarray(argmax, dtype=np.int64)
    dx = xp.empty(tuple(x_shape), dtype=dy.dtype)
    _pool_launch("max_pool_backward", (dy, argmax, dx), dx.size, x_shape, kh, kw, sh, sw)
    return dx


def avg_pool_forward(x, kh, kw, sh, sw):
    """x (N, C, H, W) -> y (N, C, OH, OW), the window means; see ``reference.avg_pool_forward``."""
    xp, x = contiguous(x)
    y = xp.empty(_pooled_shape(x.shape, kh, kw, sh, sw), dtype=x.dtype)
    _pool_launch("avg_pool_forward", (x, y), y.size, x.shape, kh, kw, sh, sw)
    return y


def avg_pool_backward(dy, x_shape, kh, kw, sh, sw):
    """dy (N, C, OH, OW) -> dx of shape x_shape: each pixel gets dy / (kh*kw) from every window holding it."""
    xp, dy = contiguous(dy)
    dx = xp.empty(tuple(x_shape), dtype=dy.dtype)
    _pool_launch("avg_pool_backward", (dy, dx), dx.size, x_shape, kh, kw, sh, sw)
    return dx
