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
