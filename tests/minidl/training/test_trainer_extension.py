"""The Trainer's public extension API (docs/ARCHITECTURE.md, "Extending minidl"), used the way a
library built on minidl uses it -- without the Keras door: the per-batch and per-epoch steps,
the checks and sample weights it reuses, and the model-building hooks."""

import numpy as np
import pytest

import minidl
from minidl.nn import layers as L
from minidl.nn import losses
from minidl.training import Sequential
from minidl.training import trainer as T
from minidl.training.callbacks import Callback


def data(n=12, d=3, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, classes, n)


def model(**compile_args):
    minidl.seed(0)
    net = Sequential([L.Dense(2)], input_shape=(3,))
    net.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True), **compile_args)
    return net


# ------------------------------------------------------------------ the steps a subclass overrides
class CountingSteps(Sequential):
    """Counts the per-batch steps and records the sample weights each one received."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps, self.weights = 0, []

    def train_batch(self, x, y, sample_weight=None):
        self.steps += 1
        self.weights.append(None if sample_weight is None else np.asarray(sample_weight))
        return super().train_batch(x, y, sample_weight)


def test_fit_and_train_on_batch_run_the_public_per_batch_step():
    net = CountingSteps([L.Dense(2)], input_shape=(3,))
    net.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data(n=10)
    net.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False, class_weight={0: 1.0, 1: 3.0})
    assert net.steps == 2 * 3  # ceil(10 / 4) batches per epoch
    assert np.allclose(net.weights[0], np.where(y[:4] == 1, 3.0, 1.0))
    loss = net.train_on_batch(x, y, sample_weight=np.full(len(x), 2.0))
    assert net.steps == 7 and np.isfinite(loss) and np.allclose(net.weights[-1], 2.0)


def test_train_batch_returns_the_loss_and_the_prediction_and_takes_a_step():
    net = model()
    x, y = data()
    before = net.layers[0].params["W"].copy()
    loss, y_pred = net.train_batch(net.on_device(net.as_input(x)), y)
    assert y_pred.shape == (len(x), 2)
    assert loss == pytest.approx(losses.SparseCategoricalCrossentropy(from_logits=True)(y_pred, y), rel=1e-6)
    assert not np.allclose(before, net.layers[0].params["W"])


class EpochOfMyOwn(Sequential):
    """An epoch loop of its own: one step on the whole epoch's batches, logs of its own."""

    def train_epoch(self, loader, epoch, callbacks, class_weight=None):
        seen = 0
        for batch, (xb, yb, *_weights) in enumerate(loader):
            for cb in callbacks:
                cb.on_train_batch_begin(batch, {})
            loss, _ = self.train_batch(self.as_input(xb), yb)
            seen += len(xb)
            for cb in callbacks:
                cb.on_train_batch_end(batch, {"loss": loss, "seen": seen})
        return {"loss": loss, "seen": seen}

    def evaluate_batches(self, data, batch_size, callbacks=()):
        return {"loss": -1.0, "batch_size": batch_size}


def test_fit_uses_an_overridden_epoch_and_evaluation():
    net = EpochOfMyOwn([L.Dense(2)], input_shape=(3,))
    net.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data(n=10)
    history = net.fit(x, y, epochs=2, batch_size=4, verbose=0, validation_data=(x, y))
    assert history.history["seen"] == [10, 10]
    assert history.history["val_loss"] == [-1.0, -1.0] and history.history["val_batch_size"] == [4, 4]
    assert net.evaluate(x, y, batch_size=5, return_dict=True) == {"loss": -1.0, "batch_size": 5}


class FirstBatches:
    """A source of batches as a library wraps a generator: each ``iter()`` one epoch of its
    first ``steps`` batches (with weights), its ``len()`` those steps."""

    def __init__(self, x, y, steps, size=4):
        self.x, self.y, self.steps, self.size, self.epochs = x, y, steps, size, 0

    def __len__(self):
        return self.steps

    def __iter__(self):
        self.epochs += 1
        for i in range(self.steps):
            part = slice(i * self.size, (i + 1) * self.size)
            yield self.x[part], self.y[part], np.full(len(self.x[part]), 2.0)


def test_fit_and_evaluate_read_a_source_of_batches_once_per_epoch():
    net = CountingSteps([L.Dense(2)], input_shape=(3,))
    net.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data(n=12)
    source = FirstBatches(x, y, steps=2)
    history = net.fit(source, epochs=3, verbose=0, validation_data=FirstBatches(x, y, steps=3))
    assert source.epochs == 3 and net.steps == 3 * 2 and np.allclose(net.weights[0], 2.0)
    assert len(history.history["val_loss"]) == 3
    both = net.evaluate(x, y, sample_weight=np.full(len(x), 2.0))  # the source weighs each sample 2
    assert net.evaluate(FirstBatches(x, y, steps=3)) == pytest.approx(both)
    with pytest.raises(ValueError, match="give no y"):
        net.fit(source, y, verbose=0)
    once = (batch for batch in FirstBatches(x, y, steps=2))  # a generator: read once
    with pytest.raises(ValueError, match="no batches in epoch 2"):
        net.fit(once, epochs=2, verbose=0)

    class ByIndex:  # batches by index only: iter() would read past the end, so it is refused
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return x[4 * i : 4 * i + 4], y[4 * i : 4 * i + 4]

    for run in (lambda: net.fit(ByIndex(), verbose=0), lambda: net.evaluate(ByIndex())):
        with pytest.raises(TypeError, match="an __iter__ over one epoch, got a ByIndex"):
            run()
    with pytest.raises(TypeError, match="validation_data: expected a source of batches"):
        net.fit(x, y, verbose=0, validation_data=ByIndex())


def test_the_per_batch_callbacks_get_each_batch_and_the_running_logs():
    class Recorder(Callback):
        def __init__(self):
            self.calls = []

        def on_train_batch_begin(self, batch, logs=None):
            self.calls.append(("begin", batch))

        def on_train_batch_end(self, batch, logs=None):
            self.calls.append(("end", batch, sorted(logs)))

        def on_test_batch_end(self, batch, logs=None):
            self.calls.append(("test", batch))

    net = model(metrics=["accuracy"])
    x, y = data(n=10)
    recorder = Recorder()
    net.fit(x, y, epochs=1, batch_size=4, verbose=0, callbacks=[recorder], validation_data=(x[:4], y[:4]))
    assert recorder.calls == [
        ("begin", 0),
        ("end", 0, ["accuracy", "loss"]),
        ("begin", 1),
        ("end", 1, ["accuracy", "loss"]),
        ("begin", 2),
        ("end", 2, ["accuracy", "loss"]),
        ("test", 0),
    ]


def test_a_model_whose_step_needs_no_loss_overrides_require_compiled():
    class OwnLoss(Sequential):
        def require_compiled(self, what):
            if self.optimizer is None:
                raise RuntimeError(f"{what} needs an optimizer")

        def train_batch(self, x, y, sample_weight=None):
            y_pred = self.forward(x, training=True)
            self.backward(2 * (y_pred - y) / y_pred.size)
            self.optimizer.step(self)
            return float(((y_pred - y) ** 2).mean()), y_pred

    minidl.seed(0)
    net = OwnLoss([L.Dense(1)], input_shape=(3,))
    net.optimizer = minidl.nn.optim.get("sgd")
    x = data()[0]
    y = x.sum(axis=1, keepdims=True)
    assert net.train_on_batch(x, y) > net.train_on_batch(x, y) > 0
    with pytest.raises(RuntimeError, match="call model.compile"):
        Sequential([L.Dense(1)], input_shape=(3,)).train_on_batch(x, y)


def test_sample_shape_is_what_inputs_are_checked_against():
    class BatchAxisShape(Sequential):
        """A model whose ``input_shape`` counts the batch axis (as some libraries write it)."""

        def sample_shape(self):
            return None if self.input_shape is None else self.input_shape[1:]

    net = BatchAxisShape([L.Dense(2)])
    net.input_shape = (None, 3)
    with pytest.raises(ValueError, match=r"predict expected a batch \(N, 3\), got shape \(3,\)"):
        net.predict(np.ones(3, np.float32))


# ------------------------------------------------------------------ the checks a library reuses
def test_per_sample_weights_multiplies_sample_and_class_weights():
    y = np.array([0, 1, 1, 0])
    assert T.per_sample_weights(y, None, None, "fit") is None
    w = T.per_sample_weights(y, [1.0, 2.0, 3.0, 4.0], {0: 10.0, 1: 1.0}, "fit")
    assert w.tolist() == [10.0, 2.0, 3.0, 40.0]
    one_hot = np.eye(2)[y]
    assert T.per_sample_weights(one_hot, None, {0: 0.5, 1: 2.0}, "fit").tolist() == [0.5, 2.0, 2.0, 0.5]
    with pytest.raises(
        ValueError, match=r"mine: sample_weight must hold one weight per sample, shape \(4,\)"
    ):
        T.per_sample_weights(y, [1.0, 2.0], None, "mine")
    with pytest.raises(ValueError, match=r"mine: class_weight has no weight for class\(es\) \[1\]"):
        T.per_sample_weights(y, None, {0: 1.0}, "mine")


def test_as_batch_and_check_xy_name_the_caller_and_the_shapes():
    assert T.as_batch([[1.0, 2.0]], "mine").shape == (1, 2)
    with pytest.raises(ValueError, match="mine expected a batch of samples"):
        T.as_batch(3.0, "mine")
    with pytest.raises(ValueError, match=r"mine expected a batch \(N, 2\), got shape \(2,\)"):
        T.as_batch(np.ones(2), "mine", (2,))
    with pytest.raises(ValueError, match="mine got an empty dataset"):
        T.as_batch(np.ones((0, 2)), "mine")
    x, y = T.check_xy(np.ones((3, 2)), [0, 1, 0], "mine")
    assert isinstance(y, np.ndarray) and len(x) == len(y) == 3
    with pytest.raises(ValueError, match="mine: x and y must have the same number of samples, got 3 and 2"):
        T.check_xy(np.ones((3, 2)), [0, 1], "mine")
    with pytest.raises(ValueError, match=r"mine needs targets y"):
        T.check_xy(np.ones((3, 2)), None, "mine")


def test_with_model_tells_each_callback_its_model_and_refuses_anything_else():
    net, cb = model(), Callback()
    assert T.with_model(None, net) == [] and T.with_model([cb], net) == [cb] and cb.model is net
    with pytest.raises(TypeError, match="Callback objects, got function"):
        T.with_model([print.__call__ and (lambda: None)], net)


def test_as_input_casts_to_the_models_dtype_and_on_device_keeps_cpu_arrays():
    net = Sequential([L.Dense(2)], input_shape=(3,), dtype="float64")
    x = net.as_input([[1, 2, 3]])
    assert x.dtype == np.float64 and x.shape == (1, 3)
    assert net.on_device(x) is x and not net.device_chosen
    assert net.to("cpu").device_chosen


def test_declare_input_shape_and_the_output_shape_per_sample():
    net = Sequential([L.Dense(4), L.Dense(2)])
    net.declare_input_shape((3,), "a test")
    assert net.input_shape == (3,) and net.output_shape_per_sample() == (2,)
    with pytest.raises(ValueError, match=r"a test disagrees with the model's input shape \(3,\)"):
        net.declare_input_shape((5,), "a test")
