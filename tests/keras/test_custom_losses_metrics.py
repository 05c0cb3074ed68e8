"""Issue #78: custom losses and metrics as Keras users write them, and the everyday API that
was missing (``fit(validation_batch_size, validation_freq)``, ``keras.random``,
``Dropout(seed=)``, ``model.losses``, ``run_eagerly``, ``steps_per_execution=1``,
``get_registered_name``, an InputLayer's ``output``) or is refused in Keras's words.

A loss written in ``keras.ops`` trains by the tape's gradient: checked against the door's
own built-in loss (the same function, its hand-written gradient) step for step, and with Keras
where it is installed."""

import ast
from pathlib import Path

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers, ops
from minidl_keras.missing import KerasFeatureMissing

from tests.keras.keras_oracle import real_keras

DOOR = Path(keras.__file__).parent


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")).astype("float32")
    return x, y


def _trained(loss, metrics=None, lib=keras, epochs=3):
    x, y = _data()
    model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer=lib.optimizers.SGD(0.05), loss=loss, metrics=metrics or [])
    history = model.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0)
    return model, history.history


def my_mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


class MyHuber(keras.losses.Loss):
    def __init__(self, delta=1.0, name="my_huber", **kwargs):
        super().__init__(name=name, **kwargs)
        self.delta = delta

    def call(self, y_true, y_pred):
        error = ops.abs(y_true - y_pred)
        quadratic = 0.5 * ops.square(error)
        linear = self.delta * error - 0.5 * self.delta**2
        return ops.mean(ops.where(error <= self.delta, quadratic, linear), axis=-1)


def test_a_loss_function_trains_as_the_built_in_loss_does():
    ours, history = _trained(my_mse)
    builtin, expected = _trained("mse")
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)
    np.testing.assert_allclose(ours.get_weights()[0], builtin.get_weights()[0], rtol=1e-5)


def test_a_loss_subclass_trains_as_the_built_in_huber_and_is_called_as_keras():
    ours, history = _trained(MyHuber())
    builtin, expected = _trained(keras.losses.Huber())
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)
    np.testing.assert_allclose(ours.get_weights()[0], builtin.get_weights()[0], rtol=1e-5)
    y_true, y_pred = np.zeros((2, 1), "float32"), np.array([[0.5], [3.0]], "float32")
    assert MyHuber()(y_true, y_pred) == pytest.approx((0.125 + 2.5) / 2)
    assert MyHuber().get_config()["name"] == "my_huber"


def test_custom_losses_train_as_in_keras():
    real = real_keras()

    def their_mse(y_true, y_pred):
        return real.ops.mean(real.ops.square(y_true - y_pred), axis=-1)

    _, ours = _trained(my_mse)
    _, theirs = _trained(their_mse, lib=real)
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-4)


class MeanAbsoluteSum(keras.metrics.Metric):
    """keras.io's pattern: variables in __init__, update_state, result, reset_state."""

    def __init__(self, name="mean_abs", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(ops.sum(ops.abs(y_true - y_pred)))
        self.count.assign(self.count + float(len(y_true)))

    def result(self):
        return ops.divide(self.total, self.count)


class Counting(keras.metrics.Metric):
    def __init__(self, name="seen", **kwargs):
        super().__init__(name=name, **kwargs)
        self.seen = self.add_variable(shape=(), initializer="zeros", name="seen")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.seen.assign_add(float(len(y_true)))

    def result(self):
        return self.seen

    def reset_state(self):
        self.seen.assign(0.0)


def test_a_metric_subclass_accumulates_over_the_epoch_and_resets():
    metric = MeanAbsoluteSum()
    metric.update_state(np.zeros((2, 1)), np.ones((2, 1)))
    metric.update_state(np.zeros((2, 1)), 3 * np.ones((2, 1)))
    assert metric.result() == pytest.approx(2.0)
    assert [v.name for v in metric.variables] == ["total", "count"]
    metric.reset_state()
    assert float(metric.total) == 0.0 and float(metric.count) == 0.0
    _, history = _trained("mae", metrics=[MeanAbsoluteSum(), Counting()])
    np.testing.assert_allclose(history["mean_abs"], history["loss"], rtol=1e-4)  # the same mean
    assert history["seen"] == [64.0, 64.0, 64.0]  # reset at each epoch


def test_a_metric_subclass_logs_as_in_keras():
    real = real_keras()

    class TheirMeanAbs(real.metrics.Metric):
        def __init__(self, name="mean_abs", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")
            self.count = self.add_variable(shape=(), initializer="zeros", name="count")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total.assign_add(real.ops.sum(real.ops.abs(y_true - y_pred)))
            self.count.assign_add(real.ops.cast(real.ops.shape(y_true)[0], "float32"))

        def result(self):
            return self.total / self.count

    model, ours = _trained("mse", metrics=[MeanAbsoluteSum()])
    theirs_model, theirs = _trained("mse", metrics=[TheirMeanAbs()], lib=real)
    np.testing.assert_allclose(ours["mean_abs"], theirs["mean_abs"], rtol=1e-4)
    assert model.metrics_names == theirs_model.metrics_names == ["loss", "compile_metrics"]


def test_validation_freq_and_batch_size():
    x, y = _data()
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(
        x,
        y,
        epochs=4,
        batch_size=16,
        validation_data=(x, y),
        validation_freq=2,
        validation_batch_size=8,
        verbose=0,
    )
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    with pytest.raises(ValueError, match="validation_freq"):
        model.fit(x, y, validation_freq=0, verbose=0)
    with pytest.raises(TypeError, match="Keras's fit takes") as err:
        model.fit(x, y, epoch=2, verbose=0)
    assert "Trainer" not in str(err.value)


def test_keras_random_and_seeded_dropout():
    a = keras.random.normal((3,), seed=7)
    assert a.dtype == np.float32 and np.array_equal(a, keras.random.normal((3,), seed=7))
    generator = keras.random.SeedGenerator(1)
    u, v = keras.random.uniform((3,), seed=generator), keras.random.uniform((3,), seed=generator)
    assert not np.array_equal(u, v) and ((0 <= u) & (u < 1)).all()
    x = np.ones((4, 10), dtype="float32")
    first = layers.Dropout(0.5, seed=3)(x, training=True)
    again = layers.Dropout(0.5, seed=3)(x, training=True)
    assert np.array_equal(first, again) and set(np.unique(first)) <= {0.0, 2.0}
    assert layers.Dropout(0.5, seed=3).get_config()["seed"] == 3


def test_model_losses_run_eagerly_steps_per_execution_and_names():
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(2, kernel_regularizer=keras.regularizers.L2(0.1))]
    )
    model.compile("adam", "mse", steps_per_execution=1)
    assert len(model.losses) == 1 and model.losses[0] > 0
    assert keras.Sequential([keras.Input((4,)), layers.Dense(2)]).losses == []
    assert model.run_eagerly is True
    with pytest.raises(KerasFeatureMissing, match="steps_per_execution"):
        model.compile("adam", "mse", steps_per_execution=4)

    @keras.saving.register_keras_serializable(package="MyPackage")
    class Scaled(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    assert keras.saving.get_registered_name(Scaled) == "MyPackage>Scaled"
    assert keras.saving.get_registered_name(my_mse) == "my_mse"
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(1)(inputs))
    assert model.layers[0].output is inputs


def test_refusals_speak_keras():
    with pytest.raises(
        KerasFeatureMissing, match=r"UpSampling2D\(interpolation='bicubic'\) is not in minidl_keras"
    ):
        layers.UpSampling2D(interpolation="bicubic")
    assert type(layers.UpSampling2D(interpolation="nearest")).__name__ == "UpSampling2D"
    with pytest.raises(ValueError, match="Could not interpret loss identifier") as err:
        keras.Sequential([keras.Input((4,)), layers.Dense(1)]).compile("sgd", loss="no_such_loss")
    assert "minidl" not in str(err.value)


def _door_strings() -> list[str]:
    strings = []
    for path in sorted(DOOR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.append(node.value)
    return strings


def test_no_door_message_names_a_minidl_internal():
    """The door's strings (its messages among them) never send a Keras user to minidl's
    training loop or loss base by their internal names."""
    leaks = [
        s
        for s in _door_strings()
        if "Trainer.fit" in s or "Trainer.compile" in s or "minidl.nn.losses.Loss" in s
    ]
    assert leaks == []
