"""The reference ReLU: max(x, 0) elementwise, and a backward that reads only the output."""

import numpy as np

from minidl.kernels.reference import activation as K


def test_negatives_become_zero_positives_and_nan_pass():
    x = np.array([-2.0, -0.0, 0.0, 0.5, np.inf, -np.inf, np.nan], np.float32)
    y = K.relu_forward(x)
    np.testing.assert_array_equal(y, [0, 0, 0, 0.5, np.inf, 0, np.nan])
    assert y.dtype == np.float32


def test_the_gradient_passes_where_the_output_is_positive():
    y = K.relu_forward(np.array([-1.0, 0.0, 2.0, 3.0]))
    dx = K.relu_backward(np.array([5.0, 6.0, 7.0, -8.0]), y)
    assert dx.tolist() == [0.0, 0.0, 7.0, -8.0]
