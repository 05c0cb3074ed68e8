"""Keras's structure of ``get_config()`` and ``to_json()`` (``minidl_keras/keras_config.py``),
read back by ``model_from_json``; compared with Keras's keys where installed."""

import json

import minidl_keras as keras
import numpy as np

from tests.keras.keras_oracle import HAVE_KERAS, real_keras


def tiny(k):
    return k.Sequential(
        [
            k.Input((4,)),
            k.layers.Dense(5, name="a"),
            k.layers.BatchNormalization(name="bn"),
            k.layers.Dense(1, name="b"),
        ],
        name="tiny",
    )


def test_sequential_config_and_json_have_keras_structure():
    model = tiny(keras)
    config = model.get_config()
    assert [entry["class_name"] for entry in config["layers"]] == [
        "InputLayer",
        "Dense",
        "BatchNormalization",
        "Dense",
    ]
    assert config["name"] == "tiny" and config["build_input_shape"] == [None, 4]
    described = json.loads(model.to_json())
    assert (described["module"], described["class_name"]) == ("keras", "Sequential")
    assert described["config"]["layers"][1]["config"]["units"] == 5
    if HAVE_KERAS:
        theirs = json.loads(tiny(real_keras()).to_json())
        assert set(described) - {"minidl_keras"} <= set(theirs)
        assert [e["class_name"] for e in described["config"]["layers"]] == [
            e["class_name"] for e in theirs["config"]["layers"]
        ]


def test_model_from_json_reads_it_back():
    model = tiny(keras)
    clone = keras.models.model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    assert clone.name == "tiny" and clone.input_shape == (None, 4)


def test_functional_config_names_its_inputs_and_outputs():
    inputs = keras.Input((3,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(keras.layers.Dense(4, name="h")(inputs)))
    config = model.get_config()
    assert [entry["name"] for entry in config["layers"]] == ["x", "h", "out"]
    assert config["input_layers"] == [["x", 0, 0]] and config["output_layers"] == [["out", 0, 0]]
    assert json.loads(model.to_json())["class_name"] == "Functional"
    assert keras.models.model_from_json(model.to_json()).count_params() == model.count_params()
