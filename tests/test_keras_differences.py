"""No silent difference between ``minidl.keras`` and Keras 3: the optimizers' update rules
(epsilon where Keras puts it), a schedule's reported learning rate, BatchNormalization's
moving variance. Each is checked against Keras's rule written out here in NumPy, and against
Keras itself where it is installed (PyTorch backend); ``minidl.nn`` keeps PyTorch's rules.
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
