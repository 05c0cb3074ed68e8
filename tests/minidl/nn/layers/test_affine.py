"""What the affine layers share: options, the kernel and bias they build, the signature."""

import inspect

import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl.nn import regularizers
from minidl.nn.layers.activations import ReLU
from minidl.nn.layers.affine import AffineLayer


def test_the_options_are_kept_and_an_unknown_name_is_refused_at_once():
    layer = L.Dense(3, activation="relu", use_bias=False, kernel_regularizer="l2")
    assert isinstance(layer.activation_layer, ReLU)
    assert isinstance(layer.kernel_regularizer, regularizers.L2)
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        L.Dense(3, activation="relux")
    with pytest.raises(ValueError, match="unknown regularizer 'l3'"):
        L.Conv2D(2, 3, kernel_regularizer="l3")


def test_the_kernel_is_drawn_by_the_initializer_with_the_fans_and_the_bias_is_zeros():
    mdl.seed(0)
    dense = L.Dense(400, kernel_initializer="he_normal")
    dense.build((100,))
    W, b = dense.params["W"], dense.params["b"]
    assert W.shape == (100, 400) and b.shape == (400,) and not b.any()
    assert W.std() == pytest.approx(np.sqrt(2 / 100), rel=0.03)  # fan_in = 100
    conv = L.Conv2D(4, 3, use_bias=False)
    conv.build((2, 8, 8))
    assert set(conv.params) == {"W"}
    limit = np.sqrt(6 / (2 * 9 + 4 * 9))  # glorot_uniform with the convolution's fans
    assert np.abs(conv.params["W"]).max() <= limit


def test_the_penalty_is_part_of_the_loss_not_of_the_forward():
    layer = L.Dense(2, kernel_regularizer=regularizers.L2(0.5))
    x = np.ones((1, 3), np.float32)
    y = layer.forward(x)
    W = layer.params["W"]
    np.testing.assert_allclose(y, x @ W + layer.params["b"], rtol=1e-6)
    assert layer.regularization_loss() == pytest.approx(
        0.5 * float((W.astype(np.float64) ** 2).sum()), rel=1e-5
    )


def test_the_signature_shows_the_options_after_the_layers_own_arguments():
    params = list(inspect.signature(L.Dense.__init__).parameters)
    assert params[:2] == ["self", "units"]
    for option in ("activation", "use_bias", "kernel_initializer", "kernel_regularizer"):
        assert option in params
    assert issubclass(L.Dense, AffineLayer) and issubclass(L.Conv2D, AffineLayer)
