"""Depthwise and separable convolutions: the per-channel sums by loops, shapes, gradients, errors."""

import numpy as np
import pytest
from minidl_keras import separable as S

from minidl.nn.gradcheck import check_layer


def depthwise_by_loops(x, W, b):
    """y[n, c*M + m, i, j] = b[c*M + m] + sum_{p, q} W[c, m, p, q] x[n, c, i + p, j + q] (valid, stride 1)."""
    n, c, h, w = x.shape
    _, mult, kh, kw = W.shape
    y = np.zeros((n, c * mult, h - kh + 1, w - kw + 1))
    for ch in range(c):
        for m in range(mult):
            for i in range(y.shape[2]):
                for j in range(y.shape[3]):
                    y[:, ch * mult + m, i, j] = (x[:, ch, i : i + kh, j : j + kw] * W[ch, m]).sum(axis=(1, 2))
            y[:, ch * mult + m] += b[ch * mult + m]
    return y


def test_each_channel_is_convolved_on_its_own():
    rng = np.random.default_rng(0)
    layer = S.DepthwiseConv2D(3, depth_multiplier=2)
    x = rng.standard_normal((2, 3, 6, 5))
    y = layer.forward(x)
    layer.params["b"][...] = rng.standard_normal(6)
    y = layer.forward(x)
    assert y.shape == (2, 6, 4, 3)
    np.testing.assert_allclose(
        y, depthwise_by_loops(x, layer.params["W"], layer.params["b"]), rtol=1e-5, atol=1e-6
    )


def test_same_padding_keeps_the_size_over_the_stride():
    y = S.DepthwiseConv2D(3, stride=2, padding="same").forward(np.zeros((1, 2, 7, 6), np.float32))
    assert y.shape == (1, 2, 4, 3)
    y = S.SeparableConv2D(5, 3, padding="same").forward(np.zeros((1, 2, 7, 6), np.float32))
    assert y.shape == (1, 5, 7, 6)


@pytest.mark.parametrize(
    "layer",
    [
        S.DepthwiseConv2D(2, depth_multiplier=2),
        S.DepthwiseConv2D(3, stride=2, padding="same"),
        S.SeparableConv2D(3, 2),
    ],
    ids=["depthwise", "depthwise same stride 2", "separable"],
)
def test_every_parameter_passes_the_gradient_check(layer):
    assert check_layer(layer, np.random.default_rng(1).standard_normal((2, 2, 5, 5))).passed


def test_a_dilation_or_an_unknown_padding_is_refused_by_name():
    with pytest.raises(NotImplementedError, match="dilation"):
        S.DepthwiseConv2D(3, dilation_rate=2)
    with pytest.raises(ValueError, match="padding"):
        S.SeparableConv2D(2, 3, padding="full")


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: S.DepthwiseConv2D(3, stride=2, padding="same", depth_multiplier=2), (2, 2, 5, 6)),
        (lambda: S.SeparableConv2D(3, 3, depth_multiplier=2, activation="tanh"), (2, 2, 5, 5)),
    ],
)
def test_strided_and_activated_layers_pass_the_float64_gradient_check(make, shape):
    """The cases minidl's table of layers held (tests/minidl/nn/test_gradcheck.py) before the
    layers moved to the door."""
    assert check_layer(make(), np.random.default_rng(40).standard_normal(shape)).passed
