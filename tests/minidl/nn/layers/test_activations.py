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
        (A.Softmax(), np.exp(X) / np.exp(X).sum(axis=-1, keepdims=True)),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, A.Layer) else "",
)
def test_each_activation_computes_its_formula(layer, expected):
    np.testing.assert_allclose(layer.forward(X), expected, rtol=1e-12, atol=1e-15)


def test_gelu_is_close_to_x_phi_x():
    from math import erf, sqrt

    exact = np.array([[x * 0.5 * (1 + erf(x / sqrt(2))) for x in X[0]]])
    np.testing.assert_allclose(A.GELU().forward(X), exact, atol=1e-3)


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
def test_every_activations_gradient_passes_the_check(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5)) * 2
    x[np.abs(x) < 0.05] = 0.3  # away from the kinks at 0
    report = check_layer(A.get(name), x)
    assert report.passed, report


def test_relu_is_its_tiers_kernel_and_its_gradient_checks(tier):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 4)) * 2
    x[np.abs(x) < 0.05] = 0.3  # away from the kink at 0
    np.testing.assert_array_equal(A.ReLU().forward(x), np.maximum(x, 0))
    report = check_layer(A.ReLU(), x)
    assert report.passed, report


def test_softmax_is_stable_for_huge_inputs():
    y = A.Softmax().forward(np.array([[1000.0, 1000.0, -1000.0]]))
    np.testing.assert_allclose(y, [[0.5, 0.5, 0.0]])


def test_get_takes_a_name_a_function_linear_or_none_and_names_the_known_ones():
    assert isinstance(A.get("elu"), A.ELU) and isinstance(A.get("relu"), A.ReLU)
    assert A.get("relu") is not A.get("relu")  # a new layer each time

    def relu(x):
        return x

    assert isinstance(A.get(relu), A.ReLU)
    assert A.get(None) is None and A.get("linear") is None
    with pytest.raises(ValueError, match=r"unknown activation 'swishy'; expected one of \['elu', 'gelu'"):
        A.get("swishy")
    assert L.ReLU is A.ReLU


def test_a_library_adds_an_activation_by_name(monkeypatch):
    """``ACTIVATIONS`` is where ``activation="..."`` looks: a library built on minidl (the Keras
    door) adds its own activation layers there (docs/ARCHITECTURE.md, "Extending minidl")."""

    class Cube(A.Layer):
        def forward(self, x, training=False):
            self.cache = x
            return x**3

        def backward(self, dy):
            return dy * 3 * self.require_cache() ** 2

    monkeypatch.setitem(A.ACTIVATIONS, "cube", Cube)
    dense = L.Dense(2, activation="cube")
    assert isinstance(dense.activation_layer, Cube) and isinstance(A.get("cube"), Cube)
    x = np.array([[1.0, -2.0]])
    dense.build((2,))
    expected = (x @ dense.params["W"] + dense.params["b"]) ** 3
    np.testing.assert_allclose(dense.forward(x), expected, rtol=1e-6)
