"""keras.activations: each function computes minidl's activation, with Keras's arguments."""

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import activations

X = np.array([[-2.0, -0.5, 0.0, 1.5]])


@pytest.mark.parametrize(
    "fn, expected",
    [
        (activations.relu, np.maximum(X, 0)),
        (activations.sigmoid, 1 / (1 + np.exp(-X))),
        (activations.tanh, np.tanh(X)),
        (activations.softplus, np.log1p(np.exp(X))),
        (activations.linear, X),
        (lambda x: activations.elu(x, alpha=2.0), np.where(X > 0, X, 2.0 * (np.exp(X) - 1))),
        (lambda x: activations.leaky_relu(x), np.where(X > 0, X, 0.2 * X)),
        (lambda x: activations.softmax(x), np.exp(X) / np.exp(X).sum()),
    ],
)
def test_each_function_computes_on_arrays(fn, expected):
    np.testing.assert_allclose(fn(X), expected, rtol=1e-6, atol=1e-12)


def test_the_functions_carry_kerass_names_and_get_finds_them():
    assert activations.silu.__name__ == "silu" and activations.relu.__name__ == "relu"
    assert activations.get("relu") is activations.relu and activations.get(None) is activations.linear
    assert activations.get(np.tanh) is np.tanh
    with pytest.raises(ValueError, match="unknown activation 'rellu'; keras.activations has relu, sigmoid"):
        activations.get("rellu")


def test_a_dense_layer_takes_the_function_as_its_activation():
    layer = keras.layers.Dense(2, activation=activations.relu)
    y = layer(np.array([[1.0, -1.0]], np.float32))
    assert np.all(np.asarray(y) >= 0)


# The activation layers only the door offers (no chapter uses them): each by its formula, each
# gradient checked, and each found by name by minidl's ``activation=`` (the door adds them).
XS = np.array([[-3.0, -0.5, 0.0, 0.5, 3.0, 7.0]])


@pytest.mark.parametrize(
    "layer, expected",
    [
        (activations.Swish(), XS / (1 + np.exp(-XS))),
        (activations.Softplus(), np.log1p(np.exp(XS))),
        (activations.ReLU6(), np.clip(XS, 0, 6)),
        (
            activations.SELU(),
            1.0507009873554805 * np.where(XS > 0, XS, 1.6732632423543772 * (np.exp(XS) - 1)),
        ),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, np.ndarray) else "",
)
def test_the_doors_activation_layers_compute_their_formulas(layer, expected):
    np.testing.assert_allclose(layer.forward(XS), expected, rtol=1e-6, atol=1e-15)


@pytest.mark.parametrize("name", ["selu", "swish", "silu", "softplus", "relu6"])
def test_the_doors_activation_layers_pass_the_gradient_check_and_minidl_finds_them(name):
    from minidl.nn.gradcheck import check_layer
    from minidl.nn.layers import activations as minidl_activations

    layer = minidl_activations.get(name)
    assert type(layer).__module__ == "minidl_keras.activations"
    x = np.random.default_rng(0).standard_normal((3, 7)) * 3
    x[np.abs(x) < 0.05] = 0.3  # away from the kinks at 0
    x[np.abs(x - 6) < 0.05] = 5.0  # and at ReLU6's 6
    report = check_layer(layer, x)
    assert report.passed, report


def test_relu6_passes_no_gradient_at_or_beyond_its_ends():
    layer = activations.ReLU6()
    layer.forward(np.array([[-1.0, 0.0, 3.0, 6.0, 9.0]]))
    assert layer.backward(np.ones((1, 5))).tolist() == [[0.0, 0.0, 1.0, 0.0, 0.0]]
