"""CUDA launchers of ``reference/batchnorm.py``: batch normalization (``cuda/batchnorm.cu``).

A block per chunk of ``BATCHNORM_CHUNK`` values of a channel reduces in shared memory; a second
kernel combines the chunks' sums. ``BATCHNORM_CHUNK`` is the tunable (set it here).
"""

from __future__ import annotations

import numpy as np

from ..common import get_array_module as _array_module
from .launch import contiguous, get_kernel, int32s, real_array

BATCHNORM_THREADS = 256  # must equal BLOCK in batchnorm.cu
BATCHNORM_CHUNK = 4096  # values of a channel per block: (256, 32, 14, 14) -> 32 x 13 blocks


def _batchnorm_grid(n, c, length):
    """Grid (channels, chunks per channel) and the chunk size, for ``batchnorm.cu``."""
    chunk = max(1, int(BATCHNORM_CHUNK))
    return (c, max(1, -(-(n * length) // chunk))), np.int32(chunk)


def _batchnorm_partials(x):
    """Two arrays of one value per block of x's grid: the first pass's partial sums per chunk."""
    grid, _ = _batchnorm_grid(*x.shape)
    xp = _array_module(x)
    return xp.empty(grid, dtype=x.dtype), xp.empty(grid, dtype=x.dtype)


def _batchnorm_launch(name, x, arrays, *scalars):
    """``batchnorm.cu``'s kernel ``name``, a block per (channel, chunk) of x (N, C, L), on
    ``arrays``, then N, C, L, the chunk size and ``scalars``."""
    grid, chunk = _batchnorm_grid(*x.shape)
    get_kernel("batchnorm.cu", name, x)(
        grid, (BATCHNORM_THREADS,), (*arrays, *int32s(*x.shape), chunk, *scalars)
    )


def batchnorm_forward(x, gamma, beta, eps):
    """x (N, C, L), gamma, beta (C,) -> y (N, C, L), mean (C,), var (C,); see ``reference.batchnorm_forward``."""
    xp, x = contiguous(x)
    gamma, beta = real_array(xp, gamma, x.dtype), real_array(xp, beta, x.dtype)
    y = xp.empty_like(x)
    mean, var = xp.empty(x.shape[1], dtype=x.dtype), xp.empty(x.shape[1], dtype=x.dtype)
    if x.shape[1]:  # channels
        part_mean, part_m2 = _batchnorm_partials(x)
        _batchnorm_launch("batchnorm_partial_stats", x, (x, part_mean, part_m2))
        stats = (part_mean, part_m2, y, mean, var)
        _batchnorm_launch("batchnorm_normalize", x, (x, gamma, beta, *stats), x.dtype.type(eps))
    return y, mean, var


def batchnorm_backward(dy, x, gamma, mean, var, eps):
    """dy, x (N, C, L); gamma, mean, var (C,) -> dx (N, C, L), dgamma (C,), dbeta (C,)."""
    xp, x = contiguous(x)
    dy = real_array(xp, dy, x.dtype)
    gamma, mean, var = (real_array(xp, a, x.dtype) for a in (gamma, mean, var))
    dx = xp.empty_like(x)
    dgamma, dbeta = xp.empty(x.shape[1], dtype=x.dtype), xp.empty(x.shape[1], dtype=x.dtype)
    if x.shape[1]:
        eps = x.dtype.type(eps)
        part_dbeta, part_dgamma = _batchnorm_partials(x)
        _batchnorm_launch("batchnorm_partial_grads", x, (dy, x, mean, var, part_dbeta, part_dgamma), eps)
        sums = (part_dbeta, part_dgamma, dx, dgamma, dbeta)
        _batchnorm_launch("batchnorm_backward_dx", x, (dy, x, gamma, mean, var, *sums), eps)
    return dx, dgamma, dbeta
