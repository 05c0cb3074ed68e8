"""Saving functional and subclassed ``keras.Model``s: ``model.save`` then
``keras.models.load_model(path, custom_objects=...)`` gives the same weights bit for bit and the
same predictions, with shared layers, several inputs and outputs and custom layers."""

import numpy as np
import pytest

import minidl as mdl
import minidl.keras as keras
from minidl.keras import layers, ops


class Scale(layers.Layer):
    """A custom layer with a weight, a held layer and a config argument."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = layers.Dense(units)

    def build(self, input_shape):
        self.gain = self.add_weight(shape=(self.units,), initializer="ones")

    def call(self, x):
        return self.inner(x) * self.gain

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(wa, wb))


def test_a_functional_model_saves_and_loads_bit_for_bit(tmp_path):
    mdl.seed(0)
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    shared = layers.Dense(5, activation="tanh")
    h = layers.Concatenate()([shared(layers.Dense(5)(a)), shared(layers.Dense(5)(b)), b])
    h = layers.BatchNormalization()(Scale(6)(h))
    model = keras.Model({"a": a, "b": b}, {"score": layers.Dense(1, name="score")(h),
                                           "label": layers.Dense(2, name="label")(layers.Add()([h, h]))})  # fmt: skip
    rng = np.random.default_rng(0)
    x = {"a": rng.normal(size=(32, 4)).astype("float32"), "b": rng.normal(size=(32, 3)).astype("float32")}
    y = {"score": rng.normal(size=(32, 1)).astype("float32"), "label": rng.integers(0, 2, 32)}
    model.compile(
        optimizer="adam",
        loss={"score": "mse", "label": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
    )
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    state = mdl.backend.rng().bit_generator.state
    loaded = keras.models.load_model(tmp_path / "model.keras", custom_objects={"Scale": Scale})
    assert mdl.backend.rng().bit_generator.state == state  # loading leaves the seeded stream alone
    assert same_weights(model, loaded)
    for mine, theirs in zip(model.predict(x), loaded.predict(x)):
        np.testing.assert_array_equal(mine, theirs)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert loaded.count_params() == model.count_params()


class TwoLayer(keras.Model):
    def __init__(self, hidden=8, classes=3):
        super().__init__()
        self.hidden, self.classes = hidden, classes
        self.body = layers.Dense(hidden, activation="relu")
        self.scale = Scale(classes)

    def call(self, x):
        return self.scale(self.body(x))


def test_a_subclassed_model_saves_and_loads_with_custom_objects(tmp_path):
    mdl.seed(0)
    model = TwoLayer(hidden=6, classes=2)
    x = np.random.default_rng(0).normal(size=(16, 5)).astype("float32")
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip
    model.fit(x, (x[:, 0] > 0).astype(int), batch_size=8, epochs=2, verbose=0)
    model.save(tmp_path / "sub.keras")
    with pytest.raises(ValueError, match="custom_objects"):
        keras.models.load_model(tmp_path / "sub.keras")
    loaded = keras.models.load_model(
        tmp_path / "sub.keras", custom_objects={"TwoLayer": TwoLayer, "Scale": Scale}
    )
    assert isinstance(loaded, TwoLayer) and loaded.hidden == 6
    assert same_weights(model, loaded)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.metrics_names == ["loss", "accuracy"]
    loaded.fit(x, (x[:, 0] > 0).astype(int), batch_size=8, epochs=1, verbose=0)  # compiled again


def test_what_cannot_be_saved_says_so(tmp_path):
    x = keras.Input((3,))
    model = keras.Model(x, ops.exp(layers.Dense(2)(x)))
    with pytest.raises(NotImplementedError, match="keras.layers.Layer subclass with get_config"):
        model.save(tmp_path / "never-written.keras")
    assert not (tmp_path / "never-written.keras").exists()
