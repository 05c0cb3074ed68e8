"""CUDA launcher of ``reference/dropout.py``: inverted dropout (``cuda/dropout.cu``), elementwise."""

from __future__ import annotations

import numpy as np

from .launch import contiguous, launch, real_array


def dropout_forward(x, uniform, rate):
    """Inverted dropout: x, uniform (same shape), rate -> y, mask (see ``reference.dropout_forward``)."""
    xp, x = contiguous(x)
    uniform = real_array(xp, uniform, x.dtype)
    if uniform.shape != x.shape:
        raise ValueError(f"dropout_forward: uniform must have x's shape {x.shape}, got {uniform.shape}")
    y, mask = xp.empty_like(x), xp.empty_like(x)
    real = x.dtype.type
    keep_scale = real(1.0) / real(1.0 - rate)  # the reference's float arithmetic, exactly
    args = (x, uniform, y, mask, real(rate), real(keep_scale), np.int64(x.size))
    launch("dropout.cu", "dropout_forward", x.size, args)
    return y, mask


def dropout_backward(dy, mask):
    """dx = dy * mask, for dy and mask of the same shape."""
    xp, dy = contiguous(dy)
    mask = real_array(xp, mask, dy.dtype)
    dx = xp.empty_like(dy)
    launch("dropout.cu", "dropout_backward", dy.size, (dy, mask, dx, np.int64(dy.size)))
    return dx
