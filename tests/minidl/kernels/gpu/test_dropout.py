"""The CUDA dropout launchers, run by the emulator on NumPy arrays: the reference's mask, and
a uniform of another shape refused by name."""

import numpy as np
import pytest

from minidl.kernels import emulate, reference
from minidl.kernels.gpu import dropout as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_backward_equal_the_reference(dtype):
    rng = np.random.default_rng(0)
    x, uniform = rng.standard_normal((3, 5)).astype(dtype), rng.random((3, 5))
    y, mask = K.dropout_forward(x, uniform, 0.3)
    ry, rmask = reference.dropout_forward(x, uniform, 0.3)
    np.testing.assert_array_equal(mask, rmask)
    np.testing.assert_array_equal(y, ry)
    assert y.dtype == dtype
    np.testing.assert_array_equal(K.dropout_backward(y, mask), reference.dropout_backward(y, rmask))


def test_a_uniform_of_another_shape_is_refused():
    with pytest.raises(ValueError, match=r"uniform must have x's shape \(2, 3\), got \(3, 2\)"):
        K.dropout_forward(np.ones((2, 3)), np.ones((3, 2)), 0.5)
