"""keras.losses: Keras's argument order over minidl's losses, per-sample functions, the options
the door keeps fixed, get/compiled, and the serialized form."""

import numpy as np
import pytest
from minidl_keras import losses as K
from minidl_keras.missing import KerasFeatureMissing

from minidl.nn import losses as core

Y_TRUE = np.array([[1.0, 0.0], [0.0, 2.0]], np.float32)
Y_PRED = np.array([[0.5, 0.5], [1.0, 1.0]], np.float32)


def test_a_loss_object_takes_y_true_first_and_gives_minidls_gradient():
    loss = K.MeanSquaredError()
    value = loss(Y_TRUE, Y_PRED)
    assert value == pytest.approx(np.mean((Y_TRUE - Y_PRED) ** 2))
    np.testing.assert_allclose(loss.backward(), 2 * (Y_PRED - Y_TRUE) / Y_TRUE.size, rtol=1e-6)
    weighted = loss(Y_TRUE, Y_PRED, sample_weight=np.array([1.0, 0.0]))
    assert weighted == pytest.approx(
        np.mean((Y_TRUE[0] - Y_PRED[0]) ** 2) / 2
    )  # divided by N, not by the weights
    assert repr(loss) == "<MeanSquaredError name=mean_squared_error>"


def test_the_functions_give_one_loss_per_sample():
    np.testing.assert_allclose(K.mse(Y_TRUE, Y_PRED), np.mean((Y_TRUE - Y_PRED) ** 2, axis=-1), rtol=1e-6)
    np.testing.assert_allclose(K.mae(Y_TRUE, Y_PRED), np.mean(np.abs(Y_TRUE - Y_PRED), axis=-1), rtol=1e-6)
    logits = np.array([[2.0, 0.0, -1.0]], np.float32)
    p = np.exp(logits) / np.exp(logits).sum()
    got = K.sparse_categorical_crossentropy(np.array([0]), logits, from_logits=True)
    np.testing.assert_allclose(got, [-np.log(p[0, 0])], rtol=1e-5)
    assert K.mean_squared_error.__name__ == "mean_squared_error" and K.get("mse") is K.mean_squared_error


def test_options_the_door_keeps_fixed_are_refused_by_name():
    with pytest.raises(KerasFeatureMissing, match=r"reduction='sum'\) is not in minidl_keras"):
        K.MeanSquaredError(reduction="sum")
    with pytest.raises(
        KerasFeatureMissing, match=r"axis=0\) is not in minidl_keras: the classes are on the last axis"
    ):
        K.SparseCategoricalCrossentropy(axis=0)
    with pytest.raises(KerasFeatureMissing, match=r"ignore_class=0\) is not in minidl_keras"):
        K.SparseCategoricalCrossentropy(ignore_class=0)


def test_get_and_compiled_find_the_minidl_loss_behind_each_spelling():
    assert isinstance(K.get("Huber"), K.Huber)
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'hinge'"):
        K.get("hinge")
    bce = K.BinaryCrossentropy(from_logits=True)
    assert K.compiled(bce) is bce.library_loss and bce.library_loss.from_logits
    assert isinstance(K.compiled(K.Huber), core.Huber)
    assert isinstance(K.compiled(K.categorical_crossentropy), core.CategoricalCrossentropy)
    assert isinstance(K.compiled("mse"), core.MeanSquaredError)


def test_serialized_as_keras_and_made_again():
    loss = K.SparseCategoricalCrossentropy(from_logits=True, name="xent")
    spec = K.serialize(loss)
    assert spec["class_name"] == "SparseCategoricalCrossentropy" and spec["config"]["from_logits"] is True
    assert spec["config"]["name"] == "xent" and spec["config"]["ignore_class"] is None
    again = K.deserialize(spec)
    assert type(again) is K.SparseCategoricalCrossentropy and again.get_config() == loss.get_config()
    with pytest.raises(
        ValueError, match=r"unknown loss class 'Hinge'; minidl_keras has \['BinaryCrossentropy'"
    ):
        K.deserialize({"class_name": "Hinge"})
