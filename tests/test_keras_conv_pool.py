"""Keras layers of issue 43's last round: ``SeparableConv2D``/``DepthwiseConv2D``, pooling with
``padding="same"``, ``layer.kernel``/``layer.bias`` in Keras's layout, and the 1-D layers
built by a channels-last batch. Each backward is checked against finite differences in
float64, and forwards against Keras 3 where it is installed (``KERAS_BACKEND=torch``)."""

import importlib.util
import os

import numpy as np
import pytest

import minidl.keras as keras

HAVE_KERAS = importlib.util.find_spec("keras") is not None and importlib.util.find_spec("torch") is not None


def real_keras():
    if not HAVE_KERAS:
        pytest.skip("Keras 3 with the PyTorch backend is not installed")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as real

    return real


@pytest.mark.parametrize("name", ["Conv1D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D"])
def test_an_unbuilt_channels_last_1d_layer_builds_from_a_batch_with_its_channels(name):
    layer = getattr(keras.layers, name)(*((4, 3) if name == "Conv1D" else ()))
    x = np.random.default_rng(0).normal(size=(2, 10, 3)).astype(np.float32)
    y = layer(x)
    assert layer.input_shape == (3, 10)  # (C, L) as the layer's code sees it
    assert y.shape[1:] == layer.output_shape == layer.output_shape_for((10, 3))
    if name == "Conv1D":
        assert layer.params["W"].shape == (4, 3, 3)
        assert y.shape == (2, 8, 4)
        with pytest.raises(ValueError, match=r"built for inputs \(N, 10, 3\), got shape \(2, 10, 5\)"):
            layer(np.zeros((2, 10, 5), np.float32))
