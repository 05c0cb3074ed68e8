"""Numba twin of ``reference/activation.py``: ReLU in one pass over memory each way.

NumPy's ``x * (x > 0)`` makes two passes and a boolean temporary cast to float in the second;
here each direction is one flat loop, threaded only for large arrays (``loops.py``).
"""

import numpy as np
from numba import prange

from .loops import pick, threaded


# ============================================================ relu
@threaded()
def _relu_forward(x, y):
    for i in prange(x.size):
        y[i] = 0 if x[i] <= 0 else x[i]  # a NaN fails <= and passes, as in max(x, 0)


@threaded()
def _relu_backward(dy, y, dx):
    for i in prange(dy.size):
        dx[i] = dy[i] * (y[i] > 0)


def relu_forward(x):
    """Numba twin of ``reference.relu_forward`` (y = max(x, 0))."""
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    pick(_relu_forward, _relu_forward.serial, x.size)(x.reshape(-1), y.reshape(-1))
    return y


def relu_backward(dy, y):
    """Numba twin of ``reference.relu_backward`` (dx = dy where y > 0, else 0)."""
    dy, y = np.ascontiguousarray(dy), np.ascontiguousarray(y)
    dx = np.empty_like(dy)
    pick(_relu_backward, _relu_backward.serial, dy.size)(dy.reshape(-1), y.reshape(-1), dx.reshape(-1))
    return dx
