"""Keras's spelling of the door layers' arguments and config keys (``minidl_keras.layer_options``,
issue #78), without Keras: renamed keys both ways, options kept at Keras's default and refused
otherwise, ``dtype``, hidden keys and Keras's required arguments. ``test_keras_walk.py``
compares all of it with Keras itself."""

import numpy as np
import pytest
from minidl_keras import layer_options as options
from minidl_keras import layers
from minidl_keras.missing import KerasFeatureMissing


def test_every_option_refused_names_itself_and_the_closest_way():
    """Without Keras too: each option the door takes at Keras's default only is refused at
    another value with KerasFeatureMissing (a NotImplementedError) naming the option."""
    layer = layers.BatchNormalization(renorm=False, synchronized=False, beta_initializer="zeros")
    layer(np.zeros((2, 3), np.float32))
    assert layer.get_config()["epsilon"] == 0.001 and layer.get_config()["renorm"] is False
    with pytest.raises(
        KerasFeatureMissing, match=r"keras.layers.BatchNormalization\(renorm=True\) is not in minidl_keras"
    ):
        layers.BatchNormalization(renorm=True)
    with pytest.raises(
        KerasFeatureMissing, match=r"keras.layers.ReLU\(max_value=6\.0\) is not in minidl_keras.*Lambda"
    ):
        layers.ReLU(max_value=6.0)
    with pytest.raises(KerasFeatureMissing, match=r"keras.layers.Dense\(dtype='float64'\)"):
        layers.Dense(2, dtype="float64")
    assert all(advice for table in options.OPTIONS.values() for _, advice in table.get("fixed", {}).values())


def test_keras_names_in_the_config_and_either_name_in_the_constructor():
    norm = layers.LayerNormalization(epsilon=1e-5)
    assert norm.get_config()["epsilon"] == 1e-5 and "eps" not in norm.get_config()
    assert type(norm).from_config(norm.get_config()).eps == 1e-5  # minidl's attribute
    conv = layers.Conv2D(2, 3, strides=2)
    assert conv.get_config()["strides"] == (2, 2) and "stride" not in conv.get_config()
    assert layers.Conv2D(2, 3, stride=2).stride == (2, 2)  # minidl's name still taken
    with pytest.raises(ValueError, match="give strides"):
        layers.Conv2D(2, 3, stride=2, strides=3)
    leaky = layers.LeakyReLU(negative_slope=0.1)
    assert leaky.get_config()["negative_slope"] == 0.1 and leaky.alpha == 0.1


def test_name_trainable_and_dtype_in_every_config():
    dense = layers.Dense(2, trainable=False, name="d")
    config = dense.get_config()
    assert (config["name"], config["trainable"]) == ("d", False)
    assert config["dtype"] == options.FLOAT32_POLICY
    again = type(dense).from_config(config)
    assert again.trainable is False and again.get_config() == config
    for dtype in (None, "float32", np.float32, options.FLOAT32_POLICY):
        layers.Dense(2, dtype=dtype)
    with pytest.raises(KerasFeatureMissing, match=r"mixed_float16.*is not in minidl_keras"):
        layers.Conv2D(2, 3, dtype="mixed_float16")


def test_hidden_keys_and_speed_hints():
    assert "activity_regularizer" not in layers.Dense(2).get_config()  # Keras hides it at None
    assert "activity_regularizer" in layers.Dense(2, activity_regularizer="l2").get_config()
    lstm = layers.LSTM(3, use_cudnn=False)  # a hint about speed alone: taken, not kept
    assert "use_cudnn" not in lstm.get_config() and "time_major" not in lstm.get_config()


def test_keras_signatures_and_required_arguments():
    import inspect

    assert inspect.signature(layers.MaxPooling2D).parameters["pool_size"].default == (2, 2)
    assert inspect.signature(layers.Conv2D).parameters["padding"].default == "valid"
    assert "strides" in inspect.signature(layers.Conv2D).parameters
    required = inspect.signature(layers.AveragePooling2D).parameters["pool_size"].default
    assert required is inspect.Parameter.empty
    with pytest.raises(
        TypeError, match="AveragePooling2D.*missing 1 required positional argument: 'pool_size'"
    ):
        layers.AveragePooling2D()
    assert layers.AveragePooling2D(3).pool_size == (3, 3)
    assert layers.Conv2DTranspose(2, 3, output_padding=None).output_padding == (0, 0)
