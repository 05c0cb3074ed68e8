"""Activation and Rescaling: forward, backward, a gradient check, and their errors."""

import numpy as np
import pytest
from minidl_keras.elementwise import Activation, Rescaling

from minidl.nn.gradcheck import check_layer


def test_activation_as_a_layer_and_linear_as_the_identity():
    x = np.array([[-1.0, 2.0]])
    np.testing.assert_array_equal(Activation("relu").forward(x), [[0.0, 2.0]])
    ident = Activation("linear")
    np.testing.assert_array_equal(ident.forward(x), x)
    np.testing.assert_array_equal(ident.backward(x), x)
    assert check_layer(Activation("tanh"), np.random.default_rng(0).standard_normal((2, 3))).passed
    with pytest.raises(ValueError, match="unknown activation 'rellu'"):
        Activation("rellu")


def test_rescaling_scales_shifts_and_passes_dy_times_the_scale():
    layer = Rescaling(1 / 255, offset=-0.5)
    y = layer.forward(np.array([[0, 255]], np.uint8))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [[-0.5, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(layer.backward(np.ones((1, 2), np.float32)), [[1 / 255] * 2], rtol=1e-6)
    assert check_layer(Rescaling(2.0, 1.0), np.random.default_rng(1).standard_normal((2, 3))).passed
    for bad in ("2", True, None):
        with pytest.raises(TypeError, match="Rescaling scale must be a number"):
            Rescaling(bad)
