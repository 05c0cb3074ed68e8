"""What the kernel tiers and the layers above them share, written once.

* ``get_array_module(x)`` -- ``numpy`` or ``cupy`` for an array, without importing CuPy
  (``minidl.backend`` re-exports it; the GPU launchers use it to tell the emulator's NumPy
  arrays from device arrays);
* ``conv_output_length`` / ``pool_output_length`` -- how many windows fit along one axis;
* ``C_REAL_TYPES`` -- the C type a CUDA kernel's ``real_t`` becomes for each float dtype;
* ``sigmoid`` -- the logistic function for NumPy or CuPy arrays (layers and losses).

This module imports nothing from minidl, so any module of the package may use it.
"""
from __future__ import annotations

import sys

import numpy as np

__all__ = ["get_array_module", "conv_output_length", "pool_output_length", "C_REAL_TYPES", "sigmoid"]

#: NumPy dtype -> the C type the CUDA sources are compiled with (``-DREAL_T=...``)
C_REAL_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def get_array_module(x):
    """``numpy`` for a NumPy array (or anything else), ``cupy`` for a CuPy array.

    CuPy is looked up, never imported: if it was not imported, ``x`` cannot be a CuPy array.
    """
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(x, cp.ndarray):
        return cp
    return np


def conv_output_length(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    """Window positions along one axis: ``floor((size + 2 pad - kernel) / stride) + 1``."""
    return (size + 2 * pad - kernel) // stride + 1


def pool_output_length(size: int, kernel: int, stride: int) -> int:
    """Pooling windows along one axis, those that do not fit dropped: ``(size - kernel) // stride + 1``."""
    return conv_output_length(size, kernel, stride, 0)


def sigmoid(x):
    """``1 / (1 + e^-x)`` written as ``(1 + tanh(x/2)) / 2``: same value, never overflows."""
    xp = get_array_module(x)
    return 0.5 * (1.0 + xp.tanh(0.5 * x))
