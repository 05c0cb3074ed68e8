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
