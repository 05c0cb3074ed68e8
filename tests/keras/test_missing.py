"""A Keras feature minidl_keras lacks: a NotImplementedError that is also an AttributeError."""

import minidl_keras as keras
import pytest
from minidl_keras.missing import KerasFeatureMissing, feature_missing


def test_the_error_names_the_feature_and_the_closest_minidl_way():
    err = feature_missing("keras.layers.Attention", "use keras.layers.MultiHeadAttention")
    assert isinstance(err, NotImplementedError) and isinstance(err, AttributeError)
    assert str(err) == "keras.layers.Attention is not in minidl_keras: use keras.layers.MultiHeadAttention"


def test_hasattr_is_false_and_getattr_takes_a_default():
    assert not hasattr(keras.activations, "hard_silu_of_the_future")
    assert getattr(keras.activations, "hard_silu_of_the_future", None) is None
    with pytest.raises(
        KerasFeatureMissing, match="keras.activations.nope is not in minidl_keras; it has relu"
    ):
        keras.activations.nope  # noqa: B018
