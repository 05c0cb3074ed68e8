"""No silent difference between ``minidl_keras`` and Keras 3: the optimizers' update rules
(epsilon where Keras puts it), a schedule's reported learning rate, BatchNormalization's
moving variance. Each is checked against Keras's rule written out here in NumPy, and against
Keras itself where it is installed (PyTorch backend); ``minidl.nn`` keeps PyTorch's rules.
"""

import minidl_keras
import minidl_keras as keras
import numpy as np
import pytest

import minidl as mdl
from minidl.nn import optim
from tests.keras.keras_oracle import real_keras


class Weight(mdl.layers.Layer):
    """One parameter and a gradient we set: what an optimizer sees of a layer."""

    def __init__(self, value):
        super().__init__()
        self.add_param("W", np.array(value, dtype=np.float64))


def keras_rule(name, p, grads, lr=0.01, **kw):
    """Keras 3's update rules (keras/src/optimizers/*.py), written out in NumPy."""
    p = p.copy()
    a, b = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if name == "rmsprop":
            rho, eps, mom = kw.get("rho", 0.9), kw.get("epsilon", 1e-7), kw.get("momentum", 0.0)
            a = rho * a + (1 - rho) * g * g
            inc = lr * g / np.sqrt(a + eps)
            if mom:
                b = mom * b + inc
                p -= b
            else:
                p -= inc
        elif name == "adam":
            b1, b2, eps = 0.9, 0.999, kw.get("epsilon", 1e-7)
            alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            a += (g - a) * (1 - b1)
            b += (g * g - b) * (1 - b2)
            p -= alpha * a / (np.sqrt(b) + eps)
        elif name == "adagrad":
            if t == 1:
                a[...] = kw.get("initial_accumulator_value", 0.1)
            a += g * g
            p -= lr * g / np.sqrt(a + kw.get("epsilon", 1e-7))
    return p


CASES = [
    ("rmsprop", lambda: keras.optimizers.RMSprop(0.01), {}),
    ("rmsprop", lambda: keras.optimizers.RMSprop(0.01, momentum=0.9), {"momentum": 0.9}),
    ("rmsprop", lambda: keras.optimizers.RMSprop(0.01, epsilon=0.1), {"epsilon": 0.1}),
    ("adam", lambda: keras.optimizers.Adam(0.01), {}),
    ("adam", lambda: keras.optimizers.Adam(0.01, epsilon=0.1), {"epsilon": 0.1}),
    ("adagrad", lambda: keras.optimizers.Adagrad(0.01), {}),
]


@pytest.mark.parametrize("name, make, kw", CASES)
def test_keras_door_optimizers_follow_keras_rules(name, make, kw):
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 2)) * 1e-2
    grads = [rng.normal(size=(3, 2)) * scale for scale in (1e-3, 1.0, 1e-2, 10.0)]
    layer, opt = Weight(start), make()
    for g in grads:
        layer.grads["W"][...] = g
        opt.step([layer])
    np.testing.assert_allclose(
        layer.params["W"], keras_rule(name, start, grads, **kw), rtol=1e-10, atol=1e-13
    )


@pytest.mark.parametrize("name, make, kw", CASES)
def test_keras_door_optimizers_match_keras(name, make, kw):
    real = real_keras()
    rng = np.random.default_rng(1)
    start = rng.normal(size=(3, 2)).astype("float32")
    grads = [rng.normal(size=(3, 2)).astype("float32") * s for s in (1e-3, 1.0, 10.0)]
    theirs = {
        "rmsprop": real.optimizers.RMSprop,
        "adam": real.optimizers.Adam,
        "adagrad": real.optimizers.Adagrad,
    }
    opt = theirs[name](learning_rate=0.01, **{k: v for k, v in kw.items()})
    var = real.Variable(start)
    for g in grads:
        opt.apply_gradients([(real.ops.convert_to_tensor(g), var)])
    layer, ours = Weight(start.astype(np.float32)), make()
    layer.params["W"] = layer.params["W"].astype(np.float32)
    layer.grads["W"] = np.zeros_like(layer.params["W"])
    for g in grads:
        layer.grads["W"][...] = g
        ours.step([layer])
    np.testing.assert_allclose(layer.params["W"], np.asarray(var.numpy()), rtol=1e-5, atol=1e-7)


def test_minidl_optimizers_keep_pytorchs_rules():
    g = np.full((2,), 0.5)
    layer = Weight([1.0, 1.0])
    layer.grads["W"][...] = g
    optim.RMSprop(lr=0.1, alpha=0.9, eps=0.1).step([layer])
    s = 0.1 * g * g
    np.testing.assert_allclose(layer.params["W"], 1 - 0.1 * g / (np.sqrt(s) + 0.1))
    layer = Weight([1.0, 1.0])
    layer.grads["W"][...] = g
    optim.Adam(lr=0.1, eps=0.1).step([layer])  # m_hat = g, v_hat = g^2
    np.testing.assert_allclose(layer.params["W"], 1 - 0.1 * g / (np.abs(g) + 0.1))


def test_a_schedules_reported_learning_rate_is_the_next_steps_as_in_keras():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = keras.optimizers.SGD(schedule)
    layer = Weight([1.0])
    assert opt.learning_rate == pytest.approx(0.1)
    for k in range(1, 4):
        before = layer.params["W"].copy()
        layer.grads["W"][...] = 1.0
        opt.step([layer])
        assert before - layer.params["W"] == pytest.approx(
            0.1 * 0.5 ** (k - 1)
        )  # step k used schedule(k - 1)
        assert opt.learning_rate == pytest.approx(0.1 * 0.5**k)  # and reports schedule(k), as Keras


def test_a_schedules_reported_learning_rate_matches_keras():
    real = real_keras()
    theirs = real.optimizers.SGD(real.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5))
    var = real.Variable(np.ones(1, np.float32))
    ours = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5))
    layer = Weight([1.0])
    for _ in range(3):
        theirs.apply_gradients([(real.ops.ones((1,)), var)])
        layer.grads["W"][...] = 1.0
        ours.step([layer])
        assert ours.learning_rate == pytest.approx(float(theirs.learning_rate))


def test_batch_normalization_moving_variance_uses_the_biased_variance_in_the_keras_door():
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float64)
    layer = keras.layers.BatchNormalization()
    layer.forward(x, training=True)
    expected = 0.99 * 1.0 + 0.01 * x.var(axis=0)  # biased (ddof=0), Keras's
    np.testing.assert_allclose(layer.buffers["running_var"], expected, rtol=1e-12)
    minidl_layer = mdl.layers.BatchNorm()  # minidl's own: unbiased, as PyTorch
    minidl_layer.forward(x, training=True)
    np.testing.assert_allclose(
        minidl_layer.buffers["running_var"], 0.9 + 0.1 * x.var(axis=0, ddof=1), rtol=1e-12
    )


def test_batch_normalization_matches_keras():
    real = real_keras()
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    theirs = real.layers.BatchNormalization()
    theirs(x, training=True)
    ours = keras.layers.BatchNormalization()
    ours.forward(x, training=True)
    np.testing.assert_allclose(ours.buffers["running_var"], theirs.moving_variance.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.buffers["running_mean"], theirs.moving_mean.numpy(), rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ Sequential, fit, metrics, callbacks
def small_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def test_positional_fit_is_batch_size_then_epochs_as_in_keras():
    x, y = small_data()
    mdl.seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, 16, 3, 0)  # batch_size=16, epochs=3, verbose=0
    assert len(history.history["loss"]) == 3 and model.optimizer.iterations == 3 * 4
    assert isinstance(model.count_params(), int) and model.count_params() == 10
    assert model.metrics_names == ["loss"]


def test_a_custom_metric_function_is_called_y_true_first():
    x, y = small_data()
    calls = []

    def true_first(y_true, y_pred):
        calls.append((y_true.ndim, y_pred.ndim))
        return keras.ops.mean(keras.ops.cast(keras.ops.argmax(y_pred, axis=-1) == y_true, "float32"))

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[true_first, "acc"],
    )
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert calls and all(c == (1, 2) for c in calls)  # labels (N,), predictions (N, 2)
    assert {"true_first", "acc"} <= set(history.history)
    assert model.metrics_names == ["loss", "compile_metrics"]


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            self_calls = object.__getattribute__(self, "calls")
            method = object.__getattribute__(self, name)

            def recorded(*args, **kwargs):
                self_calls.append(name)
                return method(*args, **kwargs)

            return recorded
        return object.__getattribute__(self, name)


def test_every_callback_hook_is_called_as_in_keras():
    x, y = small_data(40)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    fit_calls = Recorder()
    model.fit(x, y, batch_size=20, epochs=1, verbose=0, validation_data=(x, y), callbacks=[fit_calls])
    assert fit_calls.calls == [
        "on_train_begin", "on_epoch_begin",
        "on_train_batch_begin", "on_train_batch_end", "on_train_batch_begin", "on_train_batch_end",
        "on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_batch_begin",
        "on_test_batch_end", "on_test_end", "on_epoch_end", "on_train_end",
    ]  # fmt: skip
    evaluate_calls, predict_calls = Recorder(), Recorder()
    model.evaluate(x, y, batch_size=40, callbacks=[evaluate_calls])
    assert evaluate_calls.calls == [
        "on_test_begin",
        "on_test_batch_begin",
        "on_test_batch_end",
        "on_test_end",
    ]
    model.predict(x, batch_size=40, callbacks=[predict_calls])
    assert predict_calls.calls == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                                   "on_predict_end"]  # fmt: skip


def test_an_old_on_batch_end_callback_still_sees_every_training_batch():
    class Old(keras.callbacks.Callback):
        seen = 0

        def on_batch_end(self, batch, logs=None):
            Old.seen += 1

    x, y = small_data(40)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[Old()])
    assert Old.seen == 8


def test_a_nested_model_is_one_layer_and_freezing_it_freezes_the_whole_base():
    x, y = small_data()
    mdl.seed(0)
    base = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(8)]
    )
    model = keras.Sequential([base, keras.layers.Dense(2)])
    assert len(model.layers) == 2 and model.layers[0] is base
    model.layers[0].trainable = False
    frozen = [w.copy() for w in base.get_weights()]
    head = model.layers[1]
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, base.get_weights()))
    assert head.params and not np.allclose(head.params["b"], 0)  # the head trained
    assert model.count_params() == 4 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2
    with pytest.raises(NotImplementedError, match="pass it in the list"):
        keras.Sequential([keras.layers.Dense(2)]).add(base)


def test_nested_model_layers_match_keras():
    real = real_keras()
    for lib in (keras, real):
        base = lib.Sequential([lib.Input((4,)), lib.layers.Dense(8), lib.layers.Dense(8)])
        model = lib.Sequential([base, lib.layers.Dense(2)])
        model.build((None, 4)) if lib is real else model.predict(np.zeros((1, 4), np.float32))
        model.layers[0].trainable = False
        assert len(model.layers) == 2
        counts = (
            (model.count_params(), sum(int(np.prod(w.shape)) for w in model.trainable_weights))
            if lib is real
            else None
        )
        if lib is real:
            keras_counts = counts
    ours = keras.Sequential(
        [
            keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(8)]),
            keras.layers.Dense(2),
        ]
    )
    ours.predict(np.zeros((1, 4), np.float32))
    ours.layers[0].trainable = False
    assert (ours.count_params(), ours._trainable_counts()[0]) == keras_counts


# ------------------------------------------------------------------ weights and image activations
@pytest.fixture
def channels_last():
    previous = minidl_keras.config.image_data_format()
    minidl_keras.config.set_image_data_format("channels_last")
    yield
    minidl_keras.config.set_image_data_format(previous)


def image_models(lib):
    """A Keras-style CNN (Conv2D, Conv2DTranspose, softmax over channels) and a Conv1D model."""
    inputs = lib.Input((8, 8, 3))
    x = lib.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = lib.layers.Conv2DTranspose(5, 3, strides=2, padding="same")(x)
    images = lib.Model(inputs, lib.layers.Conv2D(3, 1, activation="softmax")(x))
    sequences = lib.Sequential([lib.Input((10, 2)), lib.layers.Conv1D(4, 3, activation="softmax"), lib.layers.Flatten(),
                                lib.layers.Dense(1)])  # fmt: skip
    return images, sequences


def test_weights_are_laid_out_as_keras_lays_them_out(channels_last):
    mdl.seed(0)
    images, sequences = image_models(keras)
    images.predict(np.zeros((1, 8, 8, 3), np.float32))
    assert [w.shape for w in images.get_weights()] == [
        (3, 3, 3, 4),
        (4,),
        (3, 3, 5, 4),
        (5,),
        (1, 1, 5, 3),
        (3,),
    ]
    assert [w.shape for w in sequences.get_weights()] == [(3, 2, 4), (4,), (32, 1), (1,)]
    conv = images.layers[1]
    np.testing.assert_array_equal(images.get_weights()[0][1, 2, 0, 3], conv.params["W"][3, 0, 1, 2])
    weights = [w + 1 for w in images.get_weights()]
    images.set_weights(weights)
    assert all(np.array_equal(a, b) for a, b in zip(images.get_weights(), weights))


def test_an_image_layers_softmax_runs_along_the_channels_when_channels_last(channels_last):
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype(np.float32)
    for layer in (keras.layers.Conv2D(4, 3, activation="softmax"),
                  keras.layers.Conv2DTranspose(4, 3, activation="softmax")):  # fmt: skip
        np.testing.assert_allclose(layer.forward(x).sum(axis=-1), 1.0, rtol=1e-5)
    conv1d = keras.Sequential([keras.Input((5, 3)), keras.layers.Conv1D(4, 3, activation="softmax")])
    np.testing.assert_allclose(conv1d.predict(x[:, 0]).sum(axis=-1), 1.0, rtol=1e-5)


def test_keras_weights_load_unchanged_and_give_kerass_outputs(channels_last):
    real = real_keras()
    real.utils.set_random_seed(0)
    theirs_images, theirs_sequences = image_models(real)
    mdl.seed(0)
    ours_images, ours_sequences = image_models(keras)
    rng = np.random.default_rng(0)
    for ours, theirs, x in (
        (ours_images, theirs_images, rng.normal(size=(2, 8, 8, 3)).astype(np.float32)),
        (ours_sequences, theirs_sequences, rng.normal(size=(2, 10, 2)).astype(np.float32)),
    ):
        ours.predict(x[:1])
        ours.set_weights(theirs.get_weights())
        assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
        np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_model_weights_list_each_weight_in_get_weights_order(channels_last):
    mdl.seed(0)
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3), keras.layers.BatchNormalization(),
                              keras.layers.Flatten(), keras.layers.Dense(2)])  # fmt: skip
    assert [w.shape for w in model.weights] == [w.shape for w in model.get_weights()]
    assert [w.name for w in model.weights] == [  # Keras's names (issue #78)
        "kernel",
        "bias",
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
        "kernel",
        "bias",
    ]
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2
    kernel = model.weights[0]
    kernel.assign(np.ones((3, 3, 2, 3)))
    assert np.array_equal(model.get_weights()[0], np.ones((3, 3, 2, 3)))
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 4
    inputs = keras.Input((4,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert [w.numpy().shape for w in functional.weights] == [(4, 2), (2,)]


def keras_sgd(p, grads, rates, momentum, nesterov=False):
    """Keras 3's SGD (keras/src/optimizers/sgd.py) in NumPy: the rate inside the velocity."""
    p, v = p.copy(), np.zeros_like(p)
    for g, lr in zip(grads, rates):
        v = momentum * v - lr * g
        p = p + (momentum * v - lr * g if nesterov else v)
    return p


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_under_a_changing_rate_follows_kerass_rule(nesterov):
    rng = np.random.default_rng(2)
    start = rng.normal(size=(3,))
    grads = [rng.normal(size=(3,)) for _ in range(5)]
    rates = [0.1, 0.1, 0.05, 0.01, 0.2]  # as ReduceLROnPlateau or a scheduler would set them
    layer, opt = Weight(start), keras.optimizers.SGD(0.1, momentum=0.9, nesterov=nesterov)
    for g, lr in zip(grads, rates):
        opt.learning_rate = lr
        layer.grads["W"][...] = g
        opt.step([layer])
    np.testing.assert_allclose(layer.params["W"], keras_sgd(start, grads, rates, 0.9, nesterov), rtol=1e-12)
    # minidl's own SGD keeps PyTorch's rule (v = mu v + g; p -= lr v): here it differs
    layer, torch_rule = Weight(start), optim.SGD(0.1, momentum=0.9, nesterov=nesterov)
    for g, lr in zip(grads, rates):
        torch_rule.lr = lr
        layer.grads["W"][...] = g
        torch_rule.step([layer])
    assert np.abs(layer.params["W"] - keras_sgd(start, grads, rates, 0.9, nesterov)).max() > 1e-3


def test_sgd_momentum_with_a_schedule_matches_keras():
    real = real_keras()
    rng = np.random.default_rng(3)
    start = rng.normal(size=(4,)).astype("float32")
    grads = [rng.normal(size=(4,)).astype("float32") for _ in range(6)]
    theirs = real.optimizers.SGD(real.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5), momentum=0.9)
    var = real.Variable(start)
    ours = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5), momentum=0.9)
    layer = Weight(start.astype(np.float32))
    layer.params["W"] = layer.params["W"].astype(np.float32)
    layer.grads["W"] = np.zeros_like(layer.params["W"])
    for g in grads:
        theirs.apply_gradients([(real.ops.convert_to_tensor(g), var)])
        layer.grads["W"][...] = g
        ours.step([layer])
    np.testing.assert_allclose(layer.params["W"], np.asarray(var.numpy()), rtol=1e-5, atol=1e-7)


SCHEDULES = [
    ("PiecewiseConstantDecay", ([10], [0.1, 0.01]), "PiecewiseConstant"),
    ("ExponentialDecay", (0.1, 10, 0.9), "ExponentialDecay"),
    ("InverseTimeDecay", (0.1, 10, 0.9), "InverseTimeDecay"),
    ("CosineDecay", (0.1, 10), "CosineDecay"),
]


@pytest.mark.parametrize("cls, args, name", SCHEDULES)
def test_a_schedules_config_names_it_as_keras_does(cls, args, name):
    config = getattr(keras.optimizers.schedules, cls)(*args).get_config()
    assert config["name"] == name
    assert getattr(keras.optimizers.schedules, cls)(*args, name="mine").get_config()["name"] == "mine"


@pytest.mark.parametrize("cls, args, name", SCHEDULES)
def test_a_schedules_config_matches_keras(cls, args, name):
    real = real_keras()
    theirs = getattr(real.optimizers.schedules, cls)(*args).get_config()
    ours = getattr(keras.optimizers.schedules, cls)(*args).get_config()
    assert {k: v for k, v in theirs.items() if k in ours} == ours


def test_to_categorical_is_float64_as_in_keras():
    y = keras.utils.to_categorical([0, 2, 1])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, np.eye(3)[[0, 2, 1]])
    assert keras.utils.to_categorical([1], 3, dtype="float32").dtype == np.float32


def test_to_categorical_matches_keras():
    real = real_keras()
    ours, theirs = keras.utils.to_categorical([0, 2, 1]), real.utils.to_categorical([0, 2, 1])
    assert ours.dtype == np.asarray(theirs).dtype
    np.testing.assert_array_equal(ours, theirs)


NORMALIZATION = [
    (-1, (10, 4), (1, 4)),
    (None, (10, 4), (1, 1)),
    (None, (10,), (1,)),
    (-1, (10, 3, 4), (1, 1, 4)),
]


@pytest.mark.parametrize("axis, shape, expected", NORMALIZATION)
def test_normalization_statistics_are_shaped_to_broadcast_as_in_keras(axis, shape, expected):
    data = np.random.default_rng(0).normal(size=shape)
    layer = keras.layers.Normalization(axis=axis)
    layer.adapt(data)
    assert tuple(layer.mean.shape) == expected and tuple(layer.variance.shape) == expected
    axes = tuple(range(data.ndim)) if axis is None else tuple(range(data.ndim - 1))
    np.testing.assert_allclose(layer.mean, data.mean(axis=axes, keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("axis, shape, expected", NORMALIZATION)
def test_normalization_statistics_shapes_match_keras(axis, shape, expected):
    real = real_keras()
    data = np.random.default_rng(0).normal(size=shape).astype("float32")
    theirs = real.layers.Normalization(axis=axis)
    theirs.adapt(data)
    ours = keras.layers.Normalization(axis=axis)
    ours.adapt(data)
    assert tuple(ours.mean.shape) == tuple(theirs.mean.shape)
    np.testing.assert_allclose(ours.mean, np.asarray(theirs.mean.cpu()), rtol=1e-5, atol=1e-6)


def test_setting_the_rate_of_a_scheduled_optimizer_is_refused_as_in_keras():
    opt = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5), momentum=0.9)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.5
    with pytest.raises(TypeError, match="not settable"):
        opt.lr = 0.5
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=opt, loss="mse")
    with pytest.raises(TypeError, match="not settable"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0,
                  callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr)])  # fmt: skip
    plain = keras.optimizers.SGD(0.1)
    plain.learning_rate = 0.5
    assert plain.lr == 0.5 and plain.get_config()["learning_rate"] == 0.5
