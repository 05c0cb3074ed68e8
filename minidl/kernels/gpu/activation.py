"""CUDA launcher of ``reference/activation.py``: ReLU (``cuda/activation.cu``), elementwise."""

from __future__ import annotations

import numpy as np

from .launch import contiguous, launch, real_array


def relu_forward(x):
    """y = max(x, 0) (see ``reference.relu_forward``)."""
    xp, x = contiguous(x)
    y = xp.empty_like(x)
    launch("activation.cu", "relu_forward", x.size, (x, y, np.int64(x.size)))
    return y


def relu_backward(dy, y):
    """dx = dy where y > 0, else 0, for dy and y of the same shape."""
    xp, dy = contiguous(dy)
    y = real_array(xp, y, dy.dtype)
    if y.shape != dy.shape:
        raise ValueError(f"relu_backward: y must have dy's shape {dy.shape}, got {y.shape}")
    dx = xp.empty_like(dy)
    launch("activation.cu", "relu_backward", dy.size, (dy, y, dx, np.int64(dy.size)))
    return dx
