"""Keras's noise layers (``SpatialDropout1D``/``2D``, ``GaussianNoise``, ``GaussianDropout``,
``Identity``): the identity at inference, as Keras; in training the noise has the distribution
Keras's has, whole channels drop together, and backward multiplies by what forward did."""

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers

import minidl as mdl
from tests.keras.keras_oracle import HAVE_KERAS, real_keras

LAYERS = [
    ("SpatialDropout1D", (0.3,), {}, (4, 5, 6)),
    ("SpatialDropout2D", (0.3,), {}, (4, 3, 5, 6)),
    ("SpatialDropout2D", (0.3,), {"data_format": "channels_first"}, (4, 6, 3, 5)),
    ("GaussianNoise", (0.5,), {}, (4, 7)),
    ("GaussianDropout", (0.2,), {}, (4, 7)),
    ("Identity", (), {}, (4, 7)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", LAYERS, ids=lambda v: str(v))
def test_inference_is_the_identity_as_in_keras(name, args, kwargs, shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    layer = getattr(layers, name)(*args, **kwargs)
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    if HAVE_KERAS:
        real = real_keras()
        theirs = getattr(real.layers, name)(*args, **kwargs)(x, training=False)
        np.testing.assert_array_equal(real.ops.convert_to_numpy(theirs), x)


@pytest.mark.parametrize(
    "name, kwargs, channel_axis",
    [
        ("SpatialDropout1D", {}, 2),
        ("SpatialDropout2D", {}, 3),
        ("SpatialDropout2D", {"data_format": "channels_first"}, 1),
    ],
)
def test_spatial_dropout_drops_whole_channels_and_backward_uses_the_same_mask(name, kwargs, channel_axis):
    mdl.seed(0)
    shape = (200, 3, 4, 8)[: 3 if name.endswith("1D") else 4]
    x = np.random.default_rng(1).uniform(1.0, 2.0, size=shape)  # no zeros of its own
    layer = getattr(layers, name)(0.25, **kwargs)
    y = layer.forward(x, training=True)
    scale = y / x  # 0 or 1 / (1 - rate) everywhere
    assert set(np.round(np.unique(scale), 12)) <= {0.0, round(1 / 0.75, 12)}
    other_axes = tuple(a for a in range(1, len(shape)) if a != channel_axis)
    per_channel = np.isclose(scale.max(axis=other_axes), scale.min(axis=other_axes), rtol=1e-12, atol=0)
    assert per_channel.all()  # one draw per (sample, channel)
    dropped = (scale.max(axis=other_axes) == 0).mean()
    assert abs(dropped - 0.25) < 0.05, dropped  # 1600 draws: 4 standard deviations is 0.043
    dy = np.random.default_rng(2).normal(size=shape)
    np.testing.assert_allclose(layer.backward(dy), dy * scale)


def test_gaussian_noise_and_dropout_have_keras_distributions():
    mdl.seed(0)
    x = np.full((400, 250), 2.0)
    noisy = layers.GaussianNoise(0.5).forward(x, training=True) - x
    assert abs(noisy.mean()) < 0.01 and abs(noisy.std() - 0.5) < 0.01
    dropout = layers.GaussianDropout(0.2)
    factor = dropout.forward(x, training=True) / x
    assert abs(factor.mean() - 1.0) < 0.01 and abs(factor.var() - 0.2 / 0.8) < 0.01
    dy = np.ones_like(x)
    np.testing.assert_allclose(dropout.backward(dy), factor)
    noise = layers.GaussianNoise(0.5)
    noise.forward(x, training=True)
    np.testing.assert_array_equal(noise.backward(dy), dy)


def test_the_noise_follows_minidl_seed_or_the_layers_own():
    x = np.ones((3, 5, 4))
    draws = []
    for _ in range(2):
        mdl.seed(7)
        draws.append(layers.SpatialDropout1D(0.5).forward(x, training=True))
    np.testing.assert_array_equal(*draws)
    own = [layers.GaussianNoise(1.0, seed=3) for _ in range(2)]
    mdl.seed(1)
    first = own[0].forward(x, training=True)
    mdl.seed(2)
    np.testing.assert_array_equal(own[1].forward(x, training=True), first)  # minidl.seed does not matter


def test_bad_rates_and_deviations_are_named():
    with pytest.raises(ValueError, match=r"SpatialDropout1D rate must be in \[0, 1\), got 1.0"):
        layers.SpatialDropout1D(1.0)
    with pytest.raises(ValueError, match="GaussianNoise stddev must be a number >= 0, got -1"):
        layers.GaussianNoise(-1)


def test_a_text_model_with_noise_layers_trains_and_counts_as_keras():
    def build(k):
        return k.Sequential(
            [
                k.Input((12,), dtype="int32"),
                k.layers.Embedding(30, 8),
                k.layers.SpatialDropout1D(0.2),
                k.layers.GaussianNoise(0.1),
                k.layers.Conv1D(6, 3, activation="relu"),
                k.layers.GlobalMaxPooling1D(),
                k.layers.GaussianDropout(0.1),
                k.layers.Identity(),
                k.layers.Dense(1, activation="sigmoid"),
            ]
        )

    mdl.seed(0)
    rng = np.random.default_rng(3)
    ids = rng.integers(2, 30, size=(128, 12))
    labels = (np.arange(128) % 2).astype(np.float32)
    ids[labels == 1, rng.integers(0, 12, size=64)] = 1  # class 1: the word 1 somewhere
    model = build(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    losses = model.fit(ids, labels, batch_size=32, epochs=8, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    if HAVE_KERAS:
        theirs = build(real_keras())
        assert model.count_params() == theirs.count_params()
        assert [type(layer).__name__ for layer in model.layers][1:4] == [
            "SpatialDropout1D",
            "GaussianNoise",
            "Conv1D",
        ]
