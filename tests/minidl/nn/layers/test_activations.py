"""The activation layers: each function by its formula, each gradient checked, and ``get``."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.nn.gradcheck import check_layer
from minidl.nn.layers import activations as A

X = np.array([[-3.0, -0.5, 0.0, 0.5, 3.0, 7.0]])


@pytest.mark.parametrize(
    "layer, expected",
    [
        (A.ReLU(), np.maximum(X, 0)),
        (A.LeakyReLU(0.1), np.where(X > 0, X, 0.1 * X)),
        (A.Sigmoid(), 1 / (1 + np.exp(-X))),
        (A.Tanh(), np.tanh(X)),
        (A.ELU(1.5), np.where(X > 0, X, 1.5 * (np.exp(X) - 1))),
        (A.Swish(), X / (1 + np.exp(-X))),
        (A.Softplus(), np.log1p(np.exp(X))),
        (A.ReLU6(), np.clip(X, 0, 6)),
        (A.Softmax(), np.exp(X) / np.exp(X).sum(axis=-1, keepdims=True)),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, A.Layer) else "",
)
def test_each_activation_computes_its_formula(layer, expected):
    np.testing.assert_allclose(layer.forward(X), expected, rtol=1e-12, atol=1e-15)


def test_selu_uses_its_fixed_constants_and_gelu_is_close_to_x_phi_x():
    selu = A.SELU().forward(X)
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    np.testing.assert_allclose(selu, scale * np.where(X > 0, X, alpha * (np.exp(X) - 1)), rtol=1e-6)
    from math import erf, sqrt

    exact = np.array([[x * 0.5 * (1 + erf(x / sqrt(2))) for x in X[0]]])
    np.testing.assert_allclose(A.GELU().forward(X), exact, atol=1e-3)


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
def test_every_activations_gradient_passes_the_check(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5)) * 2
    x[np.abs(x) < 0.05] = 0.3  # away from the kinks at 0
    x[np.abs(x - 6) < 0.05] = 5.0  # and at ReLU6's 6
    report = check_layer(A.get(name), x)
    assert report.passed, report


def test_relu6_passes_no_gradient_at_or_beyond_its_ends():
    layer = A.ReLU6()
    layer.forward(np.array([[-1.0, 0.0, 3.0, 6.0, 9.0]]))
    assert layer.backward(np.ones((1, 5))).tolist() == [[0.0, 0.0, 1.0, 0.0, 0.0]]


def test_softmax_is_stable_for_huge_inputs():
    y = A.Softmax().forward(np.array([[1000.0, 1000.0, -1000.0]]))
    np.testing.assert_allclose(y, [[0.5, 0.5, 0.0]])


def test_get_takes_a_name_a_function_linear_or_none_and_names_the_known_ones():
    assert isinstance(A.get("silu"), A.Swish) and isinstance(A.get("relu"), A.ReLU)
    assert A.get("relu") is not A.get("relu")  # a new layer each time

    def relu(x):
        return x

    assert isinstance(A.get(relu), A.ReLU)
    assert A.get(None) is None and A.get("linear") is None
    with pytest.raises(ValueError, match=r"unknown activation 'swishy'; expected one of \['elu', 'gelu'"):
        A.get("swishy")
    assert L.ReLU is A.ReLU
