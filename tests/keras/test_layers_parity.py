"""minidl_keras's layers against Keras 3 itself (an optional oracle, skipped without it).

The same weights in both (Keras stores a convolution's kernel (KH, KW, C, F), minidl
(F, C, KH, KW)), the same channels-last input: the outputs must agree to float32
rounding. These are the places where a Keras default or a padding rule could silently
differ: ``"same"`` with a stride or an even kernel, transposed convolutions, Conv1D's
``"causal"``, the LSTM's gate order, BatchNormalization's defaults.
"""

import numpy as np
import pytest
from minidl_keras import layers

from tests.keras.keras_oracle import real_keras

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras on NumPy 2


@pytest.fixture(autouse=True)
def keras():
    """Keras 3 on PyTorch, imported by the first test that runs (not when the file is collected:
    the import takes seconds); every test here skips without it."""
    return real_keras()


def _numpy(y):
    return np.asarray(real_keras().ops.convert_to_numpy(y))


def assert_same_as_keras(name, x, *args, **kwargs):
    """Keras's layer ``name`` and ours, built with the same arguments on the channels-last batch
    ``x`` and given the same weights, give the same output. minidl keeps a kernel with Keras's
    last two axes first, in reverse: Conv2D's (KH, KW, C, F) as (F, C, KH, KW), Conv1D's
    (K, C, F) as (F, C, K)."""
    theirs = getattr(real_keras().layers, name)(*args, **kwargs)
    theirs.build(x.shape)
    W, b = (np.asarray(w) for w in theirs.get_weights())
    ours = getattr(layers, name)(*args, **kwargs)
    ours.build(x.shape[1:])
    ours.params["W"][...], ours.params["b"][...] = np.moveaxis(W, (-1, -2), (0, 1)), b + 0.1
    theirs.set_weights([W, b + 0.1])
    np.testing.assert_allclose(ours.forward(x), _numpy(theirs(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel, strides", [(3, 2), (2, 1), (4, 3), (3, 1), (1, 2)])
def test_conv2d_same_equals_keras(kernel, strides, rng):
    x = rng.standard_normal((2, 7, 8, 3)).astype(np.float32)
    assert_same_as_keras("Conv2D", x, 4, kernel, strides=strides, padding="same")


@pytest.mark.parametrize(
    "kernel, strides, padding",
    [
        (3, 2, "same"),
        (4, 2, "same"),
        (3, 1, "same"),
        (5, 3, "same"),
        (1, 2, "same"),
        (3, 2, "valid"),
        (1, 2, "valid"),
    ],
)
def test_conv2d_transpose_equals_keras(kernel, strides, padding, rng):
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    assert_same_as_keras("Conv2DTranspose", x, 4, kernel, strides=strides, padding=padding)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3),
        dict(kernel_size=4, strides=2, padding="same"),
        dict(kernel_size=3, padding="causal"),
    ],
)
def test_conv1d_and_pooling_equal_keras(kwargs, rng, keras):
    x = rng.standard_normal((2, 9, 3)).astype(np.float32)
    assert_same_as_keras("Conv1D", x, 4, **kwargs)
    for ours, theirs in (
        (layers.MaxPooling1D(2), keras.layers.MaxPooling1D(2)),
        (layers.AveragePooling1D(3, strides=2), keras.layers.AveragePooling1D(3, strides=2)),
        (layers.GlobalAveragePooling1D(), keras.layers.GlobalAveragePooling1D()),
    ):
        np.testing.assert_allclose(ours.forward(x), _numpy(theirs(x)), rtol=1e-6, atol=1e-6)


def test_lstm_gates_and_layout_equal_keras(rng, keras):
    """Keras's kernel, recurrent_kernel and bias are minidl's Wx, Wh, b: the same [i f c o] blocks."""
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    theirs = keras.layers.LSTM(5, return_sequences=True)
    theirs.build(x.shape)
    ours = layers.LSTM(5, return_sequences=True)
    ours.build((6, 4))
    for key, w in zip(("Wx", "Wh", "b"), theirs.get_weights()):
        ours.params[key][...] = np.asarray(w)
    np.testing.assert_allclose(ours.forward(x), _numpy(theirs(x)), rtol=1e-5, atol=1e-5)


def test_batch_normalization_defaults_equal_keras(rng, keras):
    x = (3 + 2 * rng.standard_normal((8, 4, 4, 3))).astype(np.float32)
    theirs, ours = keras.layers.BatchNormalization(), layers.BatchNormalization()
    np.testing.assert_allclose(
        ours.forward(x, training=True), _numpy(theirs(x, training=True)), rtol=1e-4, atol=1e-4
    )
    running_mean, running_var = (np.asarray(w) for w in theirs.get_weights()[2:])
    np.testing.assert_allclose(ours.buffers["running_mean"], running_mean, rtol=1e-5)
    # the moving variance follows the biased batch variance in both (minidl.nn's BatchNorm: unbiased)
    np.testing.assert_allclose(ours.buffers["running_var"], running_var, rtol=1e-5)
