"""Small data sets that any working model learns, shared by the training tests."""

import numpy as np


def blobs(n=240, seed=0):
    """``n`` points of three well-separated Gaussian blobs in 4-D: x (n, 4) float32, y (n,) int64."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 1], [-2, 1, 0, -1], [0, -2, 2, 0]], dtype=np.float32)
    x = centres[y] + 0.7 * rng.standard_normal((n, 4)).astype(np.float32)
    return x.astype(np.float32), y.astype(np.int64)
