"""Keras 3's optimizer options (``RMSprop(centered=True)``, ``Adam``/``AdamW(amsgrad=True)``,
``clipvalue``, ``clipnorm``, ``global_clipnorm``, ``SGD(nesterov=True)``), initializers with
arguments, constraints and ``add_weight(regularizer=, constraint=)`` in ``minidl_keras``:
each against Keras's rule written out in NumPy and, where Keras 3 is installed (PyTorch
backend), against Keras itself (``centered`` and ``amsgrad`` are the door's: minidl's optimizers have none).
"""

import minidl_keras as keras
import numpy as np
import pytest

import minidl as mdl
from minidl.nn import optim
from tests.keras.keras_oracle import HAVE_KERAS, real_keras


class Weights(mdl.layers.Layer):
    """Two parameters and gradients we set: what an optimizer sees of a layer."""

    def __init__(self, *values):
        super().__init__()
        for i, value in enumerate(values):
            self.add_param(f"W{i}", np.array(value))


def run_ours(make, starts, grads):
    layer, opt = Weights(*starts), make()
    for step in grads:
        for i, g in enumerate(step):
            layer.grads[f"W{i}"][...] = g
        opt.step([layer])
    return [layer.params[f"W{i}"] for i in range(len(starts))]


def keras_rule(name, params, grads, lr=0.01, **kw):
    """Keras 3's update rules (keras/src/optimizers/*.py and base_optimizer.py's clipping),
    written out in NumPy for a list of weights."""
    params = [p.copy() for p in params]
    state = [[np.zeros_like(p) for _ in range(3)] for p in params]
    for t, step in enumerate(grads, start=1):
        step = [g.copy() for g in step]
        if kw.get("clipnorm"):
            c = kw["clipnorm"]
            step = [g * c / max(np.sqrt((g * g).sum()), c) for g in step]
        elif kw.get("global_clipnorm"):
            c = kw["global_clipnorm"]
            total = np.sqrt(sum((g * g).sum() for g in step))
            step = [g * c * min(1 / total, 1 / c) for g in step]
        elif kw.get("clipvalue"):
            step = [np.clip(g, -kw["clipvalue"], kw["clipvalue"]) for g in step]
        for p, g, (a, b, c_) in zip(params, step, state):
            if kw.get("weight_decay"):
                p -= p * kw["weight_decay"] * lr
            if name == "rmsprop":
                rho, eps, mom = 0.9, 1e-7, kw.get("momentum", 0.0)
                a[...] = rho * a + (1 - rho) * g * g
                denominator = a + eps
                if kw.get("centered"):
                    c_[...] = rho * c_ + (1 - rho) * g
                    denominator = a - c_ * c_ + eps
                increment = lr * g / np.sqrt(denominator)
                if mom:
                    b[...] = mom * b + increment
                    p -= b
                else:
                    p -= increment
            elif name in ("adam", "adamw"):
                b1, b2, eps = 0.9, 0.999, 1e-7
                alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
                a += (g - a) * (1 - b1)
                b += (g * g - b) * (1 - b2)
                v = b
                if kw.get("amsgrad"):
                    c_[...] = np.maximum(c_, b)
                    v = c_
                p -= alpha * a / (np.sqrt(v) + eps)
            elif name == "adagrad":
                if t == 1:
                    a[...] = 0.1  # initial_accumulator_value
                a += g * g
                p -= lr * g / np.sqrt(a + 1e-7)
            elif name == "sgd":
                mom = kw.get("momentum", 0.0)
                if mom:
                    a[...] = mom * a - lr * g
                    if kw.get("nesterov"):
                        p += mom * a - lr * g
                    else:
                        p += a
                else:
                    p -= lr * g
    return params


CASES = [
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"centered": True, "momentum": 0.9}),
    ("rmsprop", {"clipvalue": 0.5}),
    ("adam", {"amsgrad": True}),
    ("adam", {"amsgrad": True, "clipnorm": 1.0}),
    ("adamw", {"amsgrad": True, "weight_decay": 0.004}),
    ("adam", {"clipvalue": 0.1}),
    ("adam", {"global_clipnorm": 1.0}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd", {"momentum": 0.9, "clipnorm": 0.5}),
    ("sgd", {"clipvalue": 0.2}),
    ("sgd", {"momentum": 0.9, "weight_decay": 0.1}),  # Keras's decay: before the step, every optimizer
    ("rmsprop", {"centered": True, "weight_decay": 0.05}),
    ("adagrad", {"weight_decay": 0.05, "clipnorm": 1.0}),
]
CLASSES = {"rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "adagrad": "Adagrad"}


def problem(dtype, seed=0):
    """Two weights and four steps of gradients of very different sizes (so clipping, amsgrad's
    maximum and the centred variance all act)."""
    rng = np.random.default_rng(seed)
    starts = [rng.normal(size=(3, 2)).astype(dtype), rng.normal(size=(4,)).astype(dtype)]
    grads = [
        [(rng.normal(size=s.shape) * scale).astype(dtype) for s in starts]
        for scale in (1.0, 1e-2, 10.0, 1e-3)
    ]
    return starts, grads


@pytest.mark.parametrize("name, kw", CASES)
def test_keras_door_options_follow_kerass_rules(name, kw):
    starts, grads = problem(np.float64)
    ours = run_ours(lambda: getattr(keras.optimizers, CLASSES[name])(0.01, **kw), starts, grads)
    for got, want in zip(ours, keras_rule(name, starts, grads, **kw)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, kw", CASES)
def test_keras_door_options_match_keras(name, kw):
    real = real_keras()
    starts, grads = problem(np.float32, seed=1)
    opt = getattr(real.optimizers, CLASSES[name])(learning_rate=0.01, **kw)
    variables = [real.Variable(s) for s in starts]
    for step in grads:
        opt.apply_gradients([(real.ops.convert_to_tensor(g), v) for g, v in zip(step, variables)])
    ours = run_ours(lambda: getattr(keras.optimizers, CLASSES[name])(0.01, **kw), starts, grads)
    for got, var in zip(ours, variables):
        np.testing.assert_allclose(got, np.asarray(var.numpy()), rtol=1e-6, atol=1e-7)


def test_keras_allows_one_clipping_option():
    with pytest.raises(ValueError, match="only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        keras.optimizers.Adam(clipnorm=1.0, clipvalue=0.5)


def test_centered_and_amsgrad_are_the_doors_not_minidls():
    """No chapter uses them: minidl's RMSprop and Adam have one rule each (their kernel's)."""
    with pytest.raises(TypeError, match="unexpected keyword argument.*centered"):
        optim.RMSprop(0.01, centered=True)
    with pytest.raises(TypeError, match="unexpected keyword argument.*amsgrad"):
        optim.Adam(0.01, amsgrad=True)
    assert keras.optimizers.RMSprop(centered=True).get_config()["centered"] is True
    assert keras.optimizers.AdamW(amsgrad=True).get_config()["amsgrad"] is True


def test_clipvalue_in_minidl_and_its_state_saves(tmp_path):
    layer = Weights(np.zeros(3))
    layer.grads["W0"][...] = [-3.0, 0.1, 2.0]
    optim.SGD(1.0, clipvalue=0.5).step([layer])
    np.testing.assert_allclose(layer.params["W0"], [0.5, -0.1, -0.5])
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.01, amsgrad=True, clipvalue=0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.optimizer.amsgrad and again.optimizer.clipvalue == 0.1
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    again.fit(x, y, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_array_equal(again.layers[0].params["W"], model.layers[0].params["W"])


# ------------------------------------------------------------------ initializers with arguments
INITIALIZERS = [
    ("RandomNormal", {"mean": 1.0, "stddev": 2.0}),
    ("RandomUniform", {"minval": -3.0, "maxval": 1.0}),
    ("TruncatedNormal", {"mean": 0.5, "stddev": 0.3}),
    ("VarianceScaling", {"scale": 3.0, "mode": "fan_out", "distribution": "uniform"}),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "normal"}),
    ("VarianceScaling", {"scale": 2.0, "distribution": "untruncated_normal"}),
    ("GlorotUniform", {}),
    ("GlorotNormal", {}),
    ("HeNormal", {}),
    ("HeUniform", {}),
    ("LecunNormal", {}),
    ("LecunUniform", {}),
    ("Orthogonal", {"gain": 3.0}),
    ("Constant", {"value": 0.7}),
    ("Zeros", {}),
    ("Ones", {}),
]


def summary(values):
    values = np.asarray(values, dtype=np.float64)
    return np.array([values.mean(), values.std(), values.min(), values.max()])


@pytest.mark.parametrize("name, kw", INITIALIZERS)
def test_initializers_draw_what_kerass_draw(name, kw):
    real = real_keras()
    shape = (3, 3, 16, 32) if name != "Orthogonal" else (16, 64)
    ours = getattr(keras.initializers, name)(seed=5, **kw) if name not in ("Constant", "Zeros", "Ones") else (
        getattr(keras.initializers, name)(**kw))  # fmt: skip
    theirs = getattr(real.initializers, name)(**kw) if name in ("Constant", "Zeros", "Ones") else (
        getattr(real.initializers, name)(seed=5, **kw))  # fmt: skip
    a, b = ours(shape), np.asarray(theirs(shape, dtype="float32"))
    assert a.shape == b.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, ours(shape))  # the same values at every call, as Keras's
    np.testing.assert_array_equal(b, np.asarray(theirs(shape, dtype="float32")))
    mine, keras_ = summary(a), summary(b)
    std = max(keras_[1], 1e-12)
    assert abs(mine[0] - keras_[0]) < 0.05 * std + 1e-12, (mine, keras_)  # mean
    assert mine[1] == pytest.approx(keras_[1], rel=0.05, abs=1e-12)  # standard deviation
    assert mine[2] >= keras_[2] - 0.25 * std and mine[3] <= keras_[3] + 0.25 * std  # the same range
    if name == "Orthogonal":
        np.testing.assert_allclose(a @ a.T, 9.0 * np.eye(16), atol=1e-4)
    config = ours.get_config()
    assert {k: v for k, v in theirs.get_config().items() if k != "seed"} == {
        k: v for k, v in config.items() if k != "seed"
    }
    assert type(ours).from_config(config) == ours


def test_a_seeded_initializer_repeats_and_the_unseeded_follow_minidls_seed():
    np.testing.assert_array_equal(
        keras.initializers.HeNormal(seed=1)((4, 4)), keras.initializers.HeNormal(seed=1)((4, 4))
    )
    mdl.seed(3)
    first = keras.initializers.RandomUniform()((5,))
    mdl.seed(3)
    np.testing.assert_array_equal(keras.initializers.RandomUniform()((5,)), first)
    assert not np.array_equal(keras.initializers.RandomUniform()((5,)), first)
    shared = keras.initializers.GlorotNormal()  # one object, two layers: the same weights, as Keras
    a, b = keras.layers.Dense(3, kernel_initializer=shared), keras.layers.Dense(3, kernel_initializer=shared)
    a.build((4,)), b.build((4,))
    np.testing.assert_array_equal(a.kernel.numpy(), b.kernel.numpy())


def test_truncated_normals_stay_within_two_standard_deviations():
    values = keras.initializers.TruncatedNormal(mean=1.0, stddev=0.5, seed=0)((20000,))
    assert values.min() > 0.0 and values.max() < 2.0
    he = keras.initializers.HeNormal(seed=0)((400, 500))  # std sqrt(2 / 400) after truncation
    assert he.std() == pytest.approx(np.sqrt(2 / 400), rel=0.01)
    assert np.abs(he).max() < 2 * np.sqrt(2 / 400) / 0.87962566103423978


def test_initializer_objects_in_layers_draw_and_save(tmp_path):
    conv = keras.layers.Conv2D(
        8, 3, kernel_initializer=keras.initializers.Orthogonal(gain=2.0, seed=1),
        bias_initializer=keras.initializers.Constant(0.5),
    )  # fmt: skip
    lstm = keras.layers.LSTM(4, kernel_initializer=keras.initializers.RandomUniform(-0.1, 0.2, seed=2),
                             recurrent_initializer=keras.initializers.Orthogonal(seed=3))  # fmt: skip
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Flatten()(conv(inputs))
    x = keras.layers.Reshape((8, 16))(x)
    x = lstm(x)
    outputs = keras.layers.Dense(2, kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_out"))(x)
    model = keras.Model(inputs, outputs)
    W = conv.params["W"].reshape(8, -1)  # minidl's layout (F, C, KH, KW): the 8 filters orthonormal
    np.testing.assert_allclose(W @ W.T, 4.0 * np.eye(8), atol=1e-5)
    np.testing.assert_array_equal(conv.params["b"], np.full(8, 0.5, np.float32))
    assert -0.1 <= lstm.params["Wx"].min() and lstm.params["Wx"].max() <= 0.2
    Wh = lstm.params["Wh"]
    np.testing.assert_allclose(Wh @ Wh.T, np.eye(4), atol=1e-5)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    layers = {type(layer).__name__: layer for layer in again.layers}
    assert layers["Conv2D"].kernel_initializer == keras.initializers.Orthogonal(gain=2.0, seed=1)
    assert layers["Conv2D"].bias_initializer == keras.initializers.Constant(0.5)
    assert layers["LSTM"].recurrent_initializer == keras.initializers.Orthogonal(seed=3)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert keras.initializers.get("HeNormal") == keras.initializers.HeNormal()


# ------------------------------------------------------------------ constraints and regularizers
from minidl.nn import constraints as nn_constraints  # noqa: E402
from minidl.nn.gradcheck import check_layer, numerical_gradient  # noqa: E402

CONSTRAINTS = [
    ("MaxNorm", {"max_value": 0.5, "axis": 0}),
    ("MaxNorm", {"max_value": 1.0, "axis": [0, 1, 2]}),
    ("UnitNorm", {"axis": 1}),
    ("UnitNorm", {"axis": [0, 1, 2]}),
    ("MinMaxNorm", {"min_value": 0.5, "max_value": 0.8, "rate": 0.7, "axis": 0}),
    ("NonNeg", {}),
]


def keras_constraint(name, kw, w):
    """Keras 3's formulas (keras/src/constraints/constraints.py), epsilon 1e-7."""
    if name == "NonNeg":
        return np.maximum(w, 0)
    axis = tuple(kw["axis"]) if isinstance(kw["axis"], list) else kw["axis"]
    norms = np.sqrt((w * w).sum(axis=axis, keepdims=True))
    if name == "MaxNorm":
        return w * np.clip(norms, 0, kw["max_value"]) / (1e-7 + norms)
    if name == "UnitNorm":
        return w / (1e-7 + norms)
    desired = kw["rate"] * np.clip(norms, kw["min_value"], kw["max_value"]) + (1 - kw["rate"]) * norms
    return w * desired / (1e-7 + norms)


@pytest.mark.parametrize("name, kw", CONSTRAINTS)
def test_constraints_follow_kerass_formulas(name, kw):
    w = np.random.default_rng(0).normal(size=(3, 3, 4, 5))
    ours = getattr(keras.constraints, name)(**kw)
    np.testing.assert_allclose(ours(w), keras_constraint(name, kw, w), rtol=1e-12)
    assert nn_constraints.get({"class": name, "config": ours.get_config()}) == ours
    if HAVE_KERAS:
        real = real_keras()
        theirs = getattr(real.constraints, name)(**kw)
        w32 = w.astype("float32")
        np.testing.assert_allclose(ours(w32), np.asarray(theirs(w32)), rtol=1e-6, atol=1e-7)
        assert theirs.get_config() == ours.get_config()
    assert keras.constraints.get("max_norm") == keras.constraints.MaxNorm()


def test_kerass_constraint_strings_are_the_doors_only():
    """One door (issue 43): ``"max_norm"`` is Keras's string, taken by ``keras.constraints`` and
    the door's layers; minidl's own layers take no constraint (a Keras option)."""
    C = keras.constraints
    assert keras.layers.Dense(3, kernel_constraint="max_norm").kernel_constraint == C.MaxNorm()
    conv = keras.layers.Conv2D(2, 3, kernel_constraint="unit_norm", bias_constraint="non_neg")
    assert (conv.kernel_constraint, conv.bias_constraint) == (C.UnitNorm(), C.NonNeg())
    assert C.get("MinMaxNorm") == C.get("min_max_norm")
    assert keras.layers.Dense(3, kernel_constraint="MaxNorm").kernel_constraint == C.MaxNorm()
    with pytest.raises(TypeError, match="kernel_constraint"):  # a Keras option: the door's Dense takes it
        mdl.nn.layers.Dense(3, kernel_constraint=C.MaxNorm())
    assert not hasattr(nn_constraints, "KERAS_NAMES")


def penalized_model(lib, constrained=True, regularized=True):
    """Conv2D -> Flatten -> Dense with every constraint and penalty this module adds."""
    c = lib.constraints if constrained else None
    r = lib.regularizers if regularized else None
    return lib.Sequential([
        lib.Input((6, 6, 3)),
        lib.layers.Conv2D(
            4, 3, activation="tanh",
            kernel_constraint=c and c.MaxNorm(0.3, axis=[0, 1, 2]), bias_constraint=c and c.NonNeg(),
            kernel_regularizer=r and r.L2(0.01), activity_regularizer=r and r.L1(0.001),
        ),
        lib.layers.Flatten(),
        lib.layers.Dense(
            3, kernel_constraint=c and c.UnitNorm(axis=0), bias_constraint=c and c.MinMaxNorm(0.1, 0.2),
            bias_regularizer=r and r.L1L2(l1=0.01, l2=0.02), activity_regularizer=r and r.L2(0.05),
        ),
    ])  # fmt: skip


def training_data():
    rng = np.random.default_rng(4)
    return rng.normal(size=(8, 6, 6, 3)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")


def test_constraints_and_penalties_train_as_in_keras():
    real = real_keras()
    x, y = training_data()
    theirs, ours = penalized_model(real), penalized_model(keras)
    ours.set_weights(theirs.get_weights())
    for model in (theirs, ours):
        model.compile(optimizer="sgd", loss="mse")
    their_losses = [float(theirs.train_on_batch(x, y)) for _ in range(3)]
    our_losses = [float(ours.train_on_batch(x, y)) for _ in range(3)]
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for batch_size in (8, 3):  # the output penalties are each batch's, weighted by its size
        np.testing.assert_allclose(
            ours.evaluate(x, y, batch_size=batch_size, verbose=0),
            theirs.evaluate(x, y, batch_size=batch_size, verbose=0),
            rtol=1e-5,
        )


def test_constraints_hold_after_every_step_and_save(tmp_path):
    x, y = training_data()
    model = penalized_model(keras)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    conv, dense = model.layers[0], model.layers[2]
    kernel = conv.kernel.numpy()  # (KH, KW, C, F): each filter's norm at most 0.3
    assert np.sqrt((kernel**2).sum(axis=(0, 1, 2))).max() <= 0.3 + 1e-6
    assert conv.bias.numpy().min() >= 0
    np.testing.assert_allclose(np.sqrt((dense.kernel.numpy() ** 2).sum(axis=0)), 1.0, rtol=1e-5)
    assert 0.1 - 1e-6 <= np.linalg.norm(dense.bias.numpy()) <= 0.2 + 1e-6  # the vector's norm
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.layers[0].kernel_constraint == keras.constraints.MaxNorm(0.3, axis=[0, 1, 2])
    assert again.layers[2].bias_regularizer.get_config() == {"l1": 0.01, "l2": 0.02}
    assert again.layers[2].activity_regularizer.get_config() == {"l2": 0.05}
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("make", [
    lambda: keras.layers.Dense(3, activation="tanh", bias_regularizer="l1_l2", activity_regularizer=mdl.regularizers.L2(0.3)),
    lambda: keras.layers.Conv2D(2, 3, padding="same", activation="relu", bias_regularizer=mdl.regularizers.L2(0.2),
                                activity_regularizer=mdl.regularizers.L1L2(0.1, 0.2), data_format="channels_first"),
    lambda: keras.layers.Conv1D(2, 3, bias_regularizer=mdl.regularizers.L2(0.2), activity_regularizer="l2",
                                data_format="channels_first"),
    lambda: keras.layers.Conv2DTranspose(2, 3, strides=2, bias_regularizer="l2", activity_regularizer="l1",
                                         data_format="channels_first"),
])  # fmt: skip
def test_bias_and_activity_penalties_pass_the_gradient_check(make):
    layer = make()
    shapes = {"Dense": (4, 5), "Conv2D": (2, 3, 5, 5), "Conv1D": (2, 3, 7), "Conv2DTranspose": (2, 3, 3, 3)}
    x = np.random.default_rng(0).normal(size=shapes[type(layer).__name__]) + 0.1
    layer.build(x.shape[1:], dtype=np.float64)
    if layer.use_bias:
        layer.params["b"][...] = np.random.default_rng(1).normal(size=layer.params["b"].shape)
    report = check_layer(layer, x)
    assert report.passed, str(report)
    assert layer.regularization_loss() > 0


def custom_layer_class(lib):
    class NonNegativeAffine(lib.layers.Layer):
        """y = x W + b with W >= 0 (a constraint) and an L2 penalty on W."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(input_shape[-1], self.units), initializer="ones",
                regularizer=lib.regularizers.L2(0.1), constraint=lib.constraints.NonNeg(), name="w",
            )  # fmt: skip
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b",
                                     constraint=lib.constraints.MaxNorm(0.05))  # fmt: skip

        def call(self, inputs):
            return lib.ops.matmul(inputs, self.w) + self.b

    return NonNegativeAffine


def test_add_weight_regularizer_and_constraint_match_keras():
    real = real_keras()
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    results = []
    for lib in (real, keras):
        model = lib.Sequential([lib.Input((4,)), custom_layer_class(lib)(2)])
        model.compile(optimizer=lib.optimizers.SGD(0.3), loss="mse")
        losses = [float(model.train_on_batch(x, y)) for _ in range(4)]
        results.append((losses, model.get_weights()))
    (their_losses, theirs), (our_losses, ours) = results
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert ours[0].min() >= 0 and np.linalg.norm(ours[1]) <= 0.05 + 1e-6


def test_add_weight_regularizer_alone_follows_the_penalty():
    layer = custom_layer_class(keras)(2)
    layer(np.ones((1, 3), dtype="float32"))
    assert layer.regularization_loss() == pytest.approx(0.1 * 6)


# ------------------------------------------------------------------ Bidirectional(merge_mode=None)
def two_directions(lib, return_sequences):
    """A functional model whose Bidirectional returns both directions, used differently."""
    inputs = lib.Input((5, 3))
    forward, backward = lib.layers.Bidirectional(
        lib.layers.LSTM(4, return_sequences=return_sequences), merge_mode=None
    )(inputs)
    outputs = lib.layers.Dense(2)(lib.layers.Concatenate()([forward, lib.ops.square(backward)]))
    return lib.Model(inputs, [outputs, backward])


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_without_merging_returns_both_directions_as_keras(return_sequences):
    real = real_keras()
    x = np.random.default_rng(0).normal(size=(6, 5, 3)).astype(np.float32)
    y = [np.random.default_rng(1).normal(size=s).astype(np.float32) for s in
         ([(6, 5, 2), (6, 5, 4)] if return_sequences else [(6, 2), (6, 4)])]  # fmt: skip
    theirs, ours = two_directions(real, return_sequences), two_directions(keras, return_sequences)
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params() and len(ours.layers) == len(theirs.layers)
    for a, b in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    theirs.compile(optimizer=real.optimizers.SGD(0.1), loss=["mse", "mse"])
    ours.compile(optimizer=keras.optimizers.SGD(0.1), loss=["mse", "mse"])
    for _ in range(2):
        total = np.ravel(theirs.train_on_batch(x, y))[0]  # Keras: [total, per output...]
        np.testing.assert_allclose(np.ravel(ours.train_on_batch(x, y))[0], total, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    pair = keras.layers.Bidirectional(keras.layers.SimpleRNN(2), merge_mode=None)(x)
    assert isinstance(pair, list) and [p.shape for p in pair] == [(6, 2), (6, 2)]


def test_bidirectional_without_merging_passes_a_gradient_check():
    mdl.seed(0)
    layer = keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True), merge_mode=None)
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    layer.build(x.shape[1:], dtype=np.float64)
    layer.astype(np.float64)
    rng = np.random.default_rng(1)
    dys = [rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 3))]

    def loss():
        forward, backward = layer.forward(x)
        return float((forward * dys[0]).sum() + (backward * dys[1]).sum())

    loss()
    dx = layer.backward(list(dys))
    analytic = {key: g.copy() for key, g in layer.grads.items()}
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-5, atol=1e-8)
    for key, value in layer.params.items():  # the very arrays, perturbed in place
        np.testing.assert_allclose(
            analytic[key], numerical_gradient(loss, value), rtol=1e-5, atol=1e-8, err_msg=key
        )
    layer.forward(x)
    dx_one = layer.backward([dys[0], None])  # one direction read: the other's gradient is zero
    assert dx_one.shape == x.shape and np.isfinite(dx_one).all()


def test_a_penalty_a_layer_lacks_is_not_implemented_not_a_type_error():
    with pytest.raises(
        NotImplementedError, match=r"LSTM\(recurrent_regularizer='l2'\) is not in minidl_keras"
    ):
        keras.layers.LSTM(4, recurrent_regularizer="l2")
    with pytest.raises(NotImplementedError, match="embeddings_constraint"):
        keras.layers.Embedding(10, 4, embeddings_constraint=keras.constraints.NonNeg())
