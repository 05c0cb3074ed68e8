"""The CUDA ReLU launchers, run by the emulator on NumPy arrays: the reference's values, and a
y of another shape refused by name."""

import numpy as np
import pytest

from minidl.kernels import emulate, reference
from minidl.kernels.gpu import activation as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_backward_equal_the_reference(dtype):
    x = np.array([[-1.5, 0.0, 2.0], [np.nan, np.inf, -np.inf]], dtype)
    y = K.relu_forward(x)
    np.testing.assert_array_equal(y, reference.relu_forward(x))
    assert y.dtype == dtype
    dy = np.arange(6, dtype=dtype).reshape(2, 3) - 2
    np.testing.assert_array_equal(K.relu_backward(dy, y), reference.relu_backward(dy, y))


def test_a_y_of_another_shape_is_refused():
    with pytest.raises(ValueError, match=r"y must have dy's shape \(2, 3\), got \(3, 2\)"):
        K.relu_backward(np.ones((2, 3)), np.ones((3, 2)))
