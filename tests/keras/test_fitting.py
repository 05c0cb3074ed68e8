"""``train_step`` / ``test_step`` / ``predict_step`` overrides are honoured by ``fit``,
``evaluate`` and ``predict`` (keras.io's "customizing what happens in fit()"), with
``super()`` working; a step written with another framework's autograd is refused with an
error that names it, never run to train silently wrong."""

import warnings

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers

import minidl as mdl
from tests.keras.keras_oracle import real_keras


def data(n=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
    return x, y


def counting_model(lib, calls):
    """A subclassed model whose three steps count their calls and defer to ``super()``."""

    class Counting(lib.Model):
        def __init__(self):
            super().__init__()
            self.hidden = lib.layers.Dense(5, activation="tanh")
            self.out = lib.layers.Dense(1, activation="sigmoid")

        def call(self, x):
            return self.out(self.hidden(x))

        def train_step(self, data):
            calls.append("train")
            return super().train_step(data)

        def test_step(self, data):
            calls.append("test")
            return super().test_step(data)

        def predict_step(self, data):
            calls.append("predict")
            return super().predict_step(data)

    return Counting()


def run_counting(lib, weights=None):
    calls: list = []
    model = counting_model(lib, calls)
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    x, y = data()
    model.predict(x[:2], verbose=0)  # builds the model
    calls.clear()
    if weights is not None:
        model.set_weights(weights)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, validation_split=0.25)
    score = model.evaluate(x, y, batch_size=16, verbose=0)
    prediction = model.predict(x, batch_size=16, verbose=0)
    return model, calls, history.history, score, prediction


def test_fit_evaluate_and_predict_call_the_overridden_steps_once_per_batch():
    _, calls, history, score, prediction = run_counting(keras)
    # fit: 36 training samples = 3 batches a epoch, 12 validation samples = 1 batch; then
    # evaluate over 48 = 3 batches, predict 48 = 3 batches
    assert calls == ["train"] * 3 + ["test"] + ["train"] * 3 + ["test"] + ["test"] * 3 + ["predict"] * 3
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert prediction.shape == (48, 1)
    assert len(score) == 2


def test_a_super_step_trains_exactly_as_no_override():
    mdl.seed(0)
    model, _, history, score, prediction = run_counting(keras)
    plain = keras.Sequential(
        [keras.Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(1, activation="sigmoid")]
    )
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    mdl.seed(0)
    again = counting_model(keras, [])
    again.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    x, y = data()
    again.predict(x[:2], verbose=0)
    start = again.get_weights()
    plain.set_weights(start)
    _, _, history, score, prediction = run_counting(keras, start)
    expected = plain.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, validation_split=0.25)
    for key, values in expected.history.items():
        np.testing.assert_allclose(history[key], values, rtol=1e-6)
    np.testing.assert_allclose(score, plain.evaluate(x, y, batch_size=16, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(prediction, plain.predict(x, verbose=0), rtol=1e-6)


def test_overridden_steps_match_keras():
    real = real_keras()
    ours = run_counting(keras)
    theirs = run_counting(real, weights=None)
    assert ours[1] == theirs[1]  # the same steps, called as often
    # with the same starting weights, the same history
    start = theirs[0].get_weights()
    _, _, history, score, prediction = run_counting(keras, start)
    _, _, expected, expected_score, expected_prediction = run_counting(real, start)
    assert set(history) == set(expected)
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(score, expected_score, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(prediction, np.asarray(expected_prediction), rtol=1e-4, atol=1e-6)


class OwnStep(keras.Sequential):
    """A step written with minidl's own operations (the layers' backward)."""

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compute_loss(x, y, y_pred)
        assert isinstance(loss, float)
        self.backward(self.loss.backward())
        self.optimizer.step(self)
        self.seen = getattr(self, "seen", 0) + 1
        return self.compute_metrics(x, y, y_pred)


def test_a_step_written_with_minidls_backward_trains_as_fit_does():
    x, y = data()
    models = []
    for cls in (OwnStep, keras.Sequential):
        mdl.seed(3)
        model = cls(
            [keras.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(1, activation="sigmoid")]
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        )
        models.append((model, model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False)))
    (own, own_history), (plain, plain_history) = models
    assert own.seen == 18
    for key in plain_history.history:
        np.testing.assert_allclose(own_history.history[key], plain_history.history[key], rtol=1e-6)
    for a, b in zip(own.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_train_on_batch_calls_the_override_with_its_metrics_reset():
    x, y = data()
    model = OwnStep([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    loss = model.train_on_batch(x, y)
    assert model.seen == 1 and isinstance(loss, float)
    logs = model.train_on_batch(x[:8], y[:8], return_dict=True)
    assert model.seen == 2 and set(logs) == {"loss"}


class TorchStep(keras.Model):
    """keras.io's PyTorch recipe: torch's autograd through loss.backward() and .grad."""

    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1)

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        import torch

        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in self.trainable_weights], self.trainable_weights)
        return {"loss": loss}


class TensorTapeStep(TorchStep):
    """The TensorFlow recipe's shape, without the import: a tensor's backward."""

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        return {"loss": loss}


def test_a_step_with_another_frameworks_autograd_is_refused_naming_the_override():
    x, y = data()
    model = TorchStep()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match=r"TorchStep\.train_step .*torch"):
        model.fit(x, y, verbose=0)
    model = TensorTapeStep()
    model.compile(optimizer="sgd", loss="mse")
    model.predict(x[:1], verbose=0)
    before = model.get_weights()
    with pytest.raises(AttributeError, match=r"inside TensorTapeStep\.train_step.*minidl's own"):
        model.fit(x, y, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing trained


def test_a_step_that_changes_no_weight_is_not_silent():
    class Idle(keras.Sequential):
        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            self.compute_loss(x, y, y_pred)
            return self.compute_metrics(x, y, y_pred)

    x, y = data()
    model = Idle([keras.Input((4,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="without an optimizer step"):
        model.fit(x, y, verbose=0)


def test_a_predict_step_override_shapes_predict():
    class Doubling(keras.Sequential):
        def predict_step(self, data):
            return {"twice": 2 * super().predict_step(data)}

    x, _ = data()
    model = Doubling([keras.Input((4,)), layers.Dense(2)])
    out = model.predict(x, batch_size=10, verbose=0)
    np.testing.assert_allclose(out["twice"], 2 * model(x), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.predict(x[:3], verbose=0)["twice"].shape == (3, 2)


class Batches(keras.utils.PyDataset):
    """Three batches of 4 samples, counting the reads; a read past the end is an error."""

    def __init__(self, x, with_targets=True):
        super().__init__()
        self.x, self.with_targets, self.reads = x, with_targets, 0

    def __len__(self):
        return 3

    def __getitem__(self, i):
        if not 0 <= i < 3:
            raise IndexError(f"batch {i} of 3")
        self.reads += 1
        xb = self.x[4 * i : 4 * i + 4]
        return (xb, np.zeros((len(xb), 1), "float32")) if self.with_targets else xb


@pytest.mark.parametrize("with_targets", [True, False])
def test_predict_reads_a_pydataset_batch_by_batch(with_targets):
    x, _ = data(12)
    for model in (
        keras.Sequential([keras.Input((4,)), layers.Dense(2)]),
        keras.Model(*(lambda i: (i, layers.Dense(2)(i)))(keras.Input((4,)))),
    ):
        source = Batches(x, with_targets)
        out = model.predict(source, verbose=0)
        assert source.reads == 3
        np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-6)
        source = Batches(x, with_targets)
        assert model.predict(source, steps=2, verbose=0).shape == (8, 2) and source.reads == 2


def test_predict_on_a_generator_reads_only_the_steps_asked():
    x, _ = data(12)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])

    def forever():
        while True:
            yield x[:4]

    assert model.predict(forever(), steps=3, verbose=0).shape == (12, 2)


class TwoParts(keras.Model):
    """keras.io's GAN shape: compile() without a loss, an optimizer per part, a step of its own
    written with minidl's backward (here two regressors trained in turn)."""

    def __init__(self):
        super().__init__()
        self.first = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
        self.second = keras.Sequential([keras.Input((4,)), layers.Dense(1)])

    def call(self, x):
        return self.first(x) + self.second(x)

    def compile(self, first_optimizer, second_optimizer, loss_fn):
        super().compile()
        self.first_optimizer, self.second_optimizer, self.loss_fn = first_optimizer, second_optimizer, loss_fn

    def train_step(self, data):
        x, y = data
        logs = {}
        for name, part, opt in (
            ("first", self.first, self.first_optimizer),
            ("second", self.second, self.second_optimizer),
        ):
            y_pred = part(x, training=True)
            logs[f"{name}_loss"] = self.loss_fn(y, y_pred)  # Keras's order
            part.backward(self.loss_fn.backward())
            opt.step(part)
        return logs


def test_a_model_compiled_without_a_loss_trains_through_its_own_step():
    x, y = data(64)
    model = TwoParts()
    model.compile(keras.optimizers.SGD(0.1), keras.optimizers.Adam(0.01), keras.losses.MeanSquaredError())
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert set(history.history) == {"first_loss", "second_loss"}
    assert history.history["first_loss"][-1] < history.history["first_loss"][0]
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.first_optimizer.iterations == model.second_optimizer.iterations == 12
    plain = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
    plain.compile(optimizer="sgd")
    with pytest.raises(RuntimeError, match="needs a loss"):
        plain.fit(x, y, verbose=0)


def fit_without_targets(lib):
    """keras.io's GAN calls fit(images): the step receives the batch of x alone."""
    received = []

    class Unsupervised(lib.Model):
        def __init__(self):
            super().__init__()
            self.dense = lib.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            received.append(tuple(data.shape))
            return {"batch": float(data.shape[0])}

    model = Unsupervised()
    model.compile()
    history = model.fit(np.zeros((10, 3), "float32"), batch_size=4, epochs=2, verbose=0)
    return received, {k: [float(v) for v in vs] for k, vs in history.history.items()}


def test_fit_without_targets_hands_the_step_x_alone():
    assert fit_without_targets(keras) == ([(4, 3), (4, 3), (2, 3)] * 2, {"batch": [2.0, 2.0]})


def test_fit_without_targets_matches_keras():
    real_keras()
    assert fit_without_targets(keras) == fit_without_targets(real_keras())


def test_steps_per_epoch_caps_arrays_and_validation_steps_a_generator():
    """Arrays with ``steps_per_epoch``: minidl's shuffled batches, that many an epoch, after the
    validation split; a validation generator read ``validation_steps`` batches an epoch; an
    evaluation of a generator ``steps`` batches (the door's ``BatchStream`` over minidl's seam)."""
    x, y = data(48)
    read = []

    def forever():
        while True:
            read.append(1)
            yield x[:8], y[:8]

    mdl.seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    history = model.fit(x, y, batch_size=4, epochs=3, steps_per_epoch=2, verbose=0,
                        validation_split=0.25, class_weight={0: 1.0, 1: 2.0})  # fmt: skip
    assert model.optimizer.iterations == 3 * 2 and len(history.history["val_loss"]) == 3
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=forever(), validation_steps=3)
    assert len(read) == 2 * 3
    model.evaluate(forever(), steps=2, verbose=0)
    assert len(read) == 2 * 3 + 2
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer, got 0"):
        model.fit(x, y, steps_per_epoch=0, verbose=0)
    with pytest.raises(ValueError, match="the data ran out after 1 of steps_per_epoch=3"):
        model.fit(iter([(x, y)]), steps_per_epoch=3, verbose=0)
