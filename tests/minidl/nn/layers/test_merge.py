"""Concatenate: forward, backward and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import layers as L
from minidl.nn.gradcheck import numerical_gradient, rel_error


# =========================================================================== layers
def test_concatenate_forward_backward_and_errors():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 5, 4, 4))
    cat = L.Concatenate(axis=1)
    y = cat.forward([a, b])
    np.testing.assert_array_equal(y, np.concatenate([a, b], axis=1))
    dy = rng.standard_normal(y.shape)
    da, db = cat.backward(dy)
    weights = rng.standard_normal(y.shape)
    for x, dx, i in ((a, da, 0), (b, db, 1)):

        def scalar(i=i):
            return float(np.sum(cat.forward([a, b]) * dy))

        assert rel_error(dx, numerical_gradient(scalar, x)) < 1e-7
    assert weights.shape == y.shape
    np.testing.assert_array_equal(L.Concatenate(axis=-1).forward([a, a]), np.concatenate([a, a], -1))
    with pytest.raises(ValueError, match="equal except on axis 1"):
        cat.forward([a, rng.standard_normal((2, 3, 5, 4))])
    with pytest.raises(ValueError, match="at least 2 arrays"):
        L.Concatenate().forward([a])
    with pytest.raises(ValueError, match="not a non-batch axis"):
        L.Concatenate(axis=0).forward([a, a])
