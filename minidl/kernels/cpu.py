"""Numba versions of ``reference.py``: same names, same signatures, same results.

Each kernel says in one line why it is shaped as it is. ``NUMBA_DISABLE_JIT=1`` turns
every kernel back into plain Python for debugging.
"""
import numpy as np
from numba import njit, prange

from . import reference


# ============================================================ softmax cross-entropy


# ============================================================ dropout


# ============================================================ optimizer updates


# ============================================================ convolution (im2col / col2im)


# ============================================================ pooling


# ============================================================ batch normalization


# ============================================================ recurrent cells
