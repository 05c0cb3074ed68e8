"""What typing the Keras door (issue 39: mypy over all of minidl/) changed in its behaviour:
the layer names that are made by a function, the named metrics, the trainer's keyword-only
arguments and the errors that replaced an ``AttributeError`` on ``None``."""

import inspect

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import conv1d, layers, ops

import minidl as mdl
from minidl.nn import layers as L


@pytest.mark.parametrize(
    ("name", "minidl_class"),
    [
        ("Conv2D", L.Conv2D),
        ("MaxPooling2D", L.MaxPool2D),
        ("Conv1D", conv1d.Conv1D),
        ("Embedding", L.Embedding),
    ],
)
def test_a_keras_layer_name_makes_its_layer_class(name, minidl_class):
    make = getattr(layers, name)
    assert make.layer_class is minidl_class
    assert make.__name__ == name
    args = (10, 4) if name == "Embedding" else (4, 3) if "Conv" in name else (2,)
    layer = make(*args)
    assert isinstance(layer, minidl_class) and type(layer).__name__ == name  # Keras's class name
    if name != "Embedding":
        assert layer.data_format == "channels_last"  # this namespace's default
    assert "data_format" in inspect.signature(make).parameters or name == "Embedding"


def test_embedding_mask_zero_makes_a_mask():
    embedding = layers.Embedding(10, 4, mask_zero=True)
    assert embedding.mask_zero and embedding.get_config()["mask_zero"] is True
    np.testing.assert_array_equal(embedding.compute_mask(np.array([[3, 0]])), [[True, False]])


def test_a_keras_metric_object_is_called_in_kerass_order_and_logged_under_its_name():
    metric = keras.metrics.SparseCategoricalAccuracy()
    y_pred = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    y_true = np.array([0, 1, 1])
    assert metric(y_true, y_pred) == pytest.approx(2 / 3)  # Keras's call: update, then the result
    assert metric(np.array([0]), y_pred[:1]) == pytest.approx(3 / 4)  # accumulated
    metric.reset_state()
    assert metric.name == "sparse_categorical_accuracy"
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=[metric])
    assert model.metrics_names == ["loss", "compile_metrics"]
    assert model.metrics[0][1] is metric  # fed by fit as it is, not wrapped as a user's function


def test_evaluate_and_predict_take_their_trailing_arguments_by_name():
    mdl.seed(0)
    model = mdl.training.model.Sequential([L.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    assert set(model.evaluate(x, y, 2, 0, None, return_dict=True)) == {"loss"}
    with pytest.raises(TypeError):  # minidl's has no steps (the door's evaluate, Keras's order, has)
        model.evaluate(x, y, 2, 0, None, True)
    with pytest.raises(TypeError):
        model.predict(x, 2, 0, [])
    assert model.predict(x, 2, 0, callbacks=[]).shape == (4, 2)


def test_a_subclassed_model_given_a_dict_says_it_has_no_named_inputs():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    with pytest.raises(ValueError, match=r"no named inputs.*\['a'\]"):
        Tiny().predict({"a": np.ones((2, 3), np.float32)})


def test_an_op_backward_before_forward_is_a_clear_error():
    op = ops.Operation("exp", np.exp, lambda dy, y, x: [dy * y])
    with pytest.raises(RuntimeError, match="ops.exp: backward called before forward"):
        op.backward(np.ones((1, 3)))
    op.forward([np.zeros((1, 3))])
    assert np.allclose(op.backward(np.ones((1, 3)))[0], 1.0)
