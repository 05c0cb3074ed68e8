"""The Numba dropout: the reference's mask from the same uniforms, views and dtypes."""

import numpy as np
import pytest

from minidl.kernels import reference
from minidl.kernels.cpu import dropout as K


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rate", [0.0, 0.3, 0.9])
def test_the_mask_and_output_are_the_references(dtype, rate):
    rng = np.random.default_rng(0)
    x, uniform = rng.standard_normal((5, 7)).astype(dtype), rng.random((5, 7))
    y, mask = K.dropout_forward(x, uniform, rate)
    ry, rmask = reference.dropout_forward(x, uniform, rate)
    np.testing.assert_array_equal(mask, rmask)
    np.testing.assert_array_equal(y, ry)
    assert y.dtype == mask.dtype == dtype
    dy = rng.standard_normal(x.shape).astype(dtype)
    np.testing.assert_array_equal(K.dropout_backward(dy, mask), reference.dropout_backward(dy, rmask))


def test_views_are_read_as_their_values():
    rng = np.random.default_rng(1)
    x, uniform = rng.standard_normal((6, 4)).T, rng.random((6, 4)).T
    y, mask = K.dropout_forward(x, uniform, 0.5)
    assert y.shape == (4, 6)
    np.testing.assert_array_equal(y, reference.dropout_forward(x, uniform, 0.5)[0])
    np.testing.assert_array_equal(K.dropout_backward(x, mask), x * mask)
