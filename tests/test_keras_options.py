"""Keras 3's optimizer options (``RMSprop(centered=True)``, ``Adam``/``AdamW(amsgrad=True)``,
``clipvalue``, ``clipnorm``, ``global_clipnorm``, ``SGD(nesterov=True)``), initializers with
arguments, constraints and ``add_weight(regularizer=, constraint=)`` in ``minidl.keras``:
each against Keras's rule written out in NumPy and, where Keras 3 is installed (PyTorch
backend), against Keras itself; ``minidl.nn.optim``'s ``centered``/``amsgrad`` keep PyTorch's rules.
"""

import importlib.util
import os

import numpy as np
import pytest

import minidl as mdl
import minidl.keras as keras
from minidl.nn import optim

HAVE_KERAS = importlib.util.find_spec("keras") is not None and importlib.util.find_spec("torch") is not None


def real_keras():
    if not HAVE_KERAS:
        pytest.skip("Keras 3 with the PyTorch backend is not installed")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as real

    return real


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
]
CLASSES = {"rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}


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


def test_minidl_centered_and_amsgrad_keep_pytorchs_rules():
    torch = pytest.importorskip("torch")
    starts, grads = problem(np.float64, seed=2)
    cases = [
        (lambda: optim.RMSprop(0.01, centered=True), lambda p: torch.optim.RMSprop(p, 0.01, centered=True)),
        (
            lambda: optim.RMSprop(0.01, centered=True, momentum=0.5, weight_decay=0.1),
            lambda p: torch.optim.RMSprop(p, 0.01, centered=True, momentum=0.5, weight_decay=0.1),
        ),
        (lambda: optim.Adam(0.01, amsgrad=True), lambda p: torch.optim.Adam(p, 0.01, amsgrad=True)),
        (lambda: optim.AdamW(0.01, amsgrad=True), lambda p: torch.optim.AdamW(p, 0.01, amsgrad=True)),
        (
            lambda: optim.Adam(0.01, amsgrad=True, weight_decay=0.1),
            lambda p: torch.optim.Adam(p, 0.01, amsgrad=True, weight_decay=0.1),
        ),
    ]
    for ours_make, theirs_make in cases:
        ours = run_ours(ours_make, starts, grads)
        params = [torch.tensor(s.copy(), requires_grad=True) for s in starts]
        opt = theirs_make(params)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = torch.tensor(g)
            opt.step()
        for got, p in zip(ours, params):
            np.testing.assert_allclose(got, p.detach().numpy(), rtol=1e-12, atol=1e-14)


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
