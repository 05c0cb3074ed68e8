"""Keras 3's augmentation layers through the door: RandomFlip, RandomTranslation,
RandomRotation, RandomZoom, RandomContrast.

Random draws cannot match Keras's (another generator), so the tests compare what can: the
transformation at a fixed draw (a factor whose range is one point, ``(0.1, 0.1)``) equals
Keras's (PyTorch backend) for every interpolation and fill mode; the inference behaviour
(identity) is Keras's; the draws cover the documented ranges; ``minidl.seed`` repeats them;
and the backward (the adjoint of the resampling) passes the float64 finite-difference check.
"""

import os

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers

import minidl as mdl
from minidl.nn.gradcheck import numerical_gradient, rel_error
from tests.keras.keras_oracle import HAVE_KERAS

FIXED = [
    ("RandomTranslation", {"height_factor": (0.25, 0.25), "width_factor": (-0.1, -0.1)}),
    ("RandomTranslation", {"height_factor": (-0.3, -0.3), "width_factor": (0.2, 0.2), "fill_mode": "constant", "fill_value": 7.0}),
    ("RandomTranslation", {"height_factor": (-0.3, -0.3), "width_factor": (0.2, 0.2), "fill_mode": "nearest", "interpolation": "nearest"}),
    ("RandomRotation", {"factor": (0.1, 0.1)}),
    ("RandomRotation", {"factor": (-0.3, -0.3), "fill_mode": "constant"}),
    ("RandomRotation", {"factor": (0.2, 0.2), "interpolation": "nearest"}),
    ("RandomZoom", {"height_factor": (0.3, 0.3)}),
    ("RandomZoom", {"height_factor": (-0.3, -0.3), "width_factor": (0.2, 0.2), "fill_mode": "constant"}),
]  # fmt: skip


def _images(seed=0, shape=(2, 7, 6, 3), dtype=np.float32):
    return (np.random.default_rng(seed).random(shape) * 255).astype(dtype)


@pytest.mark.parametrize("name, kwargs", FIXED)
def test_a_fixed_draw_transforms_as_keras(name, kwargs):
    if not HAVE_KERAS:
        pytest.skip("Keras 3 with the PyTorch backend is not installed")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as real

    x = _images()
    theirs = np.asarray(getattr(real.layers, name)(**kwargs)(x, training=True))
    np.testing.assert_allclose(getattr(layers, name)(**kwargs)(x), theirs, atol=3e-4)  # of 255
    np.testing.assert_array_equal(getattr(layers, name)(**kwargs)(x, training=False), x)


GRADIENT_CASES = [
    ("RandomFlip", {"mode": "horizontal_and_vertical"}),
    ("RandomFlip", {"mode": "vertical"}),
    ("RandomTranslation", {"height_factor": 0.3, "width_factor": 0.3}),
    ("RandomTranslation", {"height_factor": 0.3, "width_factor": 0.3, "fill_mode": "constant", "fill_value": 2.0}),
    ("RandomTranslation", {"height_factor": 0.3, "width_factor": 0.3, "fill_mode": "wrap"}),
    ("RandomRotation", {"factor": 0.2}),
    ("RandomRotation", {"factor": 0.2, "fill_mode": "nearest", "interpolation": "nearest"}),
    ("RandomZoom", {"height_factor": 0.4}),
    ("RandomZoom", {"height_factor": 0.4, "width_factor": (-0.3, 0.1), "fill_mode": "constant"}),
    ("RandomContrast", {"factor": 0.5, "value_range": (-100, 100)}),
    ("RandomContrast", {"factor": 0.9, "value_range": (-1, 1)}),  # clipped entries pass no gradient
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs", GRADIENT_CASES)
def test_backward_is_the_adjoint(name, kwargs):
    layer = getattr(layers, name)(seed=3, **kwargs)
    x = np.random.default_rng(1).standard_normal((3, 5, 4, 2))
    dy = np.random.default_rng(2).standard_normal((3, 5, 4, 2))

    def f():
        layer._own_rng = np.random.default_rng(3)  # the same draw on every call
        return layer.forward(x, training=True)

    f()
    assert rel_error(layer.backward(dy), numerical_gradient(f, x, dy)) < 1e-7


def test_channels_first_and_single_images():
    x = _images(1, (2, 3, 5, 5))
    turned = layers.RandomRotation((0.25, 0.25), data_format="channels_first")(x)  # a quarter turn
    np.testing.assert_allclose(turned, np.rot90(x, k=1, axes=(2, 3)), atol=1e-3)
    one = _images(2, (5, 5, 3))
    np.testing.assert_allclose(layers.RandomRotation((0.5, 0.5))(one), one[::-1, ::-1], atol=1e-3)
    with pytest.raises(ValueError, match=r"expected images \(N, H, W, C\)"):
        layers.RandomFlip()(np.zeros((2, 3)))


def test_draws_cover_keras_ranges_and_follow_minidl_seed():
    x = _images(3, (400, 4, 4, 1))
    mdl.seed(0)
    flipped = layers.RandomFlip("horizontal")(x)
    changed = np.any(flipped != x, axis=(1, 2, 3))
    assert 0.4 < changed.mean() < 0.6  # probability 1/2
    np.testing.assert_array_equal(flipped[changed], x[changed][:, :, ::-1])
    mdl.seed(0)
    np.testing.assert_array_equal(layers.RandomFlip("horizontal")(x), flipped)
    contrast = layers.RandomContrast((0.2, 0.5), value_range=(-1e9, 1e9))
    x = x.astype(np.float64)
    y = contrast(x)
    mean = x.mean(axis=(1, 2), keepdims=True)
    f = ((y - mean) / (x - mean)).reshape(400, -1)
    np.testing.assert_allclose(f, f[:, :1] * np.ones_like(f), rtol=1e-9)  # one factor per image
    assert 0.8 <= f.min() and f.max() <= 1.5 and f.max() - f.min() > 0.5


def test_training_only_inside_a_model():
    mdl.seed(0)
    inputs = keras.Input((6, 6, 1))
    x = layers.RandomRotation(0.1)(layers.RandomFlip("horizontal")(inputs))
    x = layers.RandomTranslation(0.1, 0.1)(layers.RandomZoom(0.1)(x))
    model = keras.Model(inputs, layers.Dense(1)(layers.Flatten()(x)))
    model.compile(optimizer="sgd", loss="mse")
    images = _images(4, (16, 6, 6, 1)) / 255
    head = keras.Model(inputs, layers.Flatten()(inputs))  # no augmentation: the reference
    np.testing.assert_allclose(
        model.predict(images, verbose=0), head.predict(images, verbose=0) @ model.layers[-1].params["W"]
        + model.layers[-1].params["b"], rtol=1e-5, atol=1e-6,
    )  # fmt: skip
    history = model.fit(images, np.ones((16, 1), np.float32), epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.count_params() == 36 + 1
