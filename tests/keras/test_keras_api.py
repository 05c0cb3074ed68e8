"""Every public name of Keras 3's ``Model``, ``Sequential``, ``Layer``, ``Callback`` and
``Optimizer`` (and every ``keras.ops`` function) either exists in the door or raises a clear
``NotImplementedError`` naming the closest minidl way (``minidl_keras.keras_api``), and the
table of ``docs/keras.md`` is generated from the same list."""

import pathlib

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import keras_api, layers
from minidl_keras.missing import KerasFeatureMissing

from tests.keras.keras_oracle import real_keras

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "keras.md"


class Passthrough(keras.layers.Layer):
    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.scale


def door_objects() -> dict:
    """A built, compiled door object of each kind, its layers called on keras.Input."""
    inputs = keras.Input((4,))
    custom = Passthrough()
    functional = keras.Model(inputs, layers.Dense(2)(custom(inputs)))
    functional.compile(optimizer="sgd", loss="mse")
    sequential = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    sequential.compile(optimizer="adam", loss="mse")
    callback = keras.callbacks.Callback()
    callback.set_model(sequential)
    return {
        "Model": functional,
        "Sequential": sequential,
        "Layer": custom,
        "Callback": callback,
        "Optimizer": keras.optimizers.SGD(0.1, momentum=0.9),
    }


def outcome(obj, name) -> str:
    """ "present", "missing" (a KerasFeatureMissing naming the minidl way) or what went wrong."""
    try:
        getattr(obj, name)
    except KerasFeatureMissing as err:
        text = str(err)
        return "missing" if "not in minidl_keras" in text and text.split(": ", 1)[1] else f"unclear: {text}"
    except AttributeError as err:
        return f"bare AttributeError: {err}"
    return "present"


@pytest.mark.parametrize("kind", sorted(keras_api.KERAS_NAMES))
def test_each_keras_name_exists_or_names_the_minidl_way(kind):
    obj = door_objects()[kind]
    results = {name: outcome(obj, name) for name in keras_api.KERAS_NAMES[kind]}
    wrong = {name: r for name, r in results.items() if r not in ("present", "missing")}
    assert not wrong
    assert sorted(n for n, r in results.items() if r == "missing") == sorted(keras_api.ABSENT[kind])


@pytest.mark.parametrize("kind", sorted(keras_api.KERAS_NAMES))
def test_the_stored_names_are_kerass(kind):
    real = real_keras()
    import torch

    cls = {
        "Model": real.Model,
        "Sequential": real.Sequential,
        "Layer": real.layers.Layer,
        "Callback": real.callbacks.Callback,
        "Optimizer": real.optimizers.Optimizer,
    }[kind]
    backend = set(dir(torch.nn.Module))
    names = sorted(n for n in dir(cls) if not n.startswith("_") and n not in backend)
    assert names == sorted(keras_api.KERAS_NAMES[kind])  # regenerate the list for a new Keras


def test_every_door_layer_has_kerass_layer_api():
    inputs = keras.Input((6, 4))
    made = {
        "Dense": layers.Dense(3),
        "Dropout": layers.Dropout(0.5),
        "LSTM": layers.LSTM(2, return_sequences=True),
        "Conv1D": layers.Conv1D(2, 3, padding="same"),
        "BatchNormalization": layers.BatchNormalization(),
        "LayerNormalization": layers.LayerNormalization(),
        "GaussianNoise": layers.GaussianNoise(0.1),
        "MultiHeadAttention": layers.MultiHeadAttention(2, 2),
        "Flatten": layers.Flatten(),
    }
    x = inputs
    for name, layer in made.items():
        x = layer(x, x) if name == "MultiHeadAttention" else layer(x)
    keras.Model(inputs, x)
    for name, layer in made.items():
        for attr in keras_api.KERAS_NAMES["Layer"]:
            result = outcome(layer, attr)
            assert result in ("present", "missing"), (name, attr, result)


def test_every_keras_op_exists_or_names_the_minidl_way():
    real = real_keras()
    for name in (n for n in dir(real.ops) if not n.startswith("_")):
        assert outcome(keras.ops, name) in ("present", "missing"), name


def test_the_docs_table_is_generated_from_the_list():
    text = DOCS.read_text()
    assert keras_api.markdown_table() in text, "regenerate it: python -m minidl_keras.keras_api"


def test_the_variables_are_the_weights():
    model = door_objects()["Sequential"]
    assert [w.shape for w in model.variables] == [w.shape for w in model.weights] == [(4, 2), (2,)]
    assert len(model.trainable_variables) == 2 and model.non_trainable_variables == []
    np.testing.assert_array_equal(model.variables[0].numpy(), model.get_weights()[0])
