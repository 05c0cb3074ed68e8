"""Optimizers: the first steps equal the documented update rules, worked out by hand."""

import math

import numpy as np
import pytest

from minidl import layers as L
from minidl import optim
from tests.keras.keras_oracle import real_keras

P0 = np.array([1.0, -2.0, 0.5])
GRADS = [np.array([0.5, 0.1, -0.3]), np.array([-0.2, 0.4, 0.3]), np.array([0.1, 0.1, 0.1])]


def run(opt, steps=3, p0=P0):
    """Apply ``opt`` to one Dense-like parameter fed the fixed gradients above."""
    layer = L.Dense(1)
    layer.params = {"w": p0.copy()}
    history = []
    for g in GRADS[:steps]:
        layer.grads = {"w": g.copy()}
        opt.step([layer])
        history.append(layer.params["w"].copy())
    return history


def test_sgd_plain(tier):
    out = run(optim.SGD(lr=0.1))
    np.testing.assert_allclose(out[0], P0 - 0.1 * GRADS[0])
    np.testing.assert_allclose(out[1], P0 - 0.1 * GRADS[0] - 0.1 * GRADS[1])


def test_sgd_momentum_and_nesterov(tier):
    mu, lr = 0.9, 0.1
    v1 = GRADS[0]
    v2 = mu * v1 + GRADS[1]
    out = run(optim.SGD(lr=lr, momentum=mu), steps=2)
    np.testing.assert_allclose(out[0], P0 - lr * v1)
    np.testing.assert_allclose(out[1], P0 - lr * v1 - lr * v2)
    out = run(optim.SGD(lr=lr, momentum=mu, nesterov=True), steps=2)
    np.testing.assert_allclose(out[0], P0 - lr * (GRADS[0] + mu * v1))
    np.testing.assert_allclose(out[1], out[0] - lr * (GRADS[1] + mu * v2))


def test_sgd_weight_decay(tier):
    out = run(optim.SGD(lr=0.1, weight_decay=0.01), steps=1)
    np.testing.assert_allclose(out[0], P0 - 0.1 * (GRADS[0] + 0.01 * P0))


def test_adam_first_steps(tier):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    out = run(optim.Adam(lr, b1, b2, eps), steps=2)
    # step 1: m_hat = g, v_hat = g^2, so the step is lr * sign(g) (up to eps)
    np.testing.assert_allclose(out[0], P0 - lr * GRADS[0] / (np.abs(GRADS[0]) + eps), rtol=1e-12)
    m = (1 - b1) * (b1 * GRADS[0] + GRADS[1])
    v = (1 - b2) * (b2 * GRADS[0] ** 2 + GRADS[1] ** 2)
    step2 = lr * (m / (1 - b1**2)) / (np.sqrt(v / (1 - b2**2)) + eps)
    np.testing.assert_allclose(out[1], out[0] - step2, rtol=1e-12)


def test_adamw_decouples_weight_decay(tier):
    lr, wd = 0.01, 0.1
    out = run(optim.AdamW(lr, weight_decay=wd), steps=1)
    np.testing.assert_allclose(out[0], P0 * (1 - lr * wd) - lr * GRADS[0] / (np.abs(GRADS[0]) + 1e-8))
    coupled = run(optim.Adam(lr, weight_decay=wd), steps=1)
    assert not np.allclose(out[0], coupled[0])


def test_rmsprop_and_adagrad():
    lr, alpha, eps = 0.01, 0.99, 1e-8
    out = run(optim.RMSprop(lr, alpha=alpha, eps=eps), steps=2)
    s1 = (1 - alpha) * GRADS[0] ** 2
    np.testing.assert_allclose(out[0], P0 - lr * GRADS[0] / (np.sqrt(s1) + eps))
    s2 = alpha * s1 + (1 - alpha) * GRADS[1] ** 2
    np.testing.assert_allclose(out[1], out[0] - lr * GRADS[1] / (np.sqrt(s2) + eps))
    out = run(optim.Adagrad(0.1), steps=2)
    np.testing.assert_allclose(out[0], P0 - 0.1 * GRADS[0] / (np.abs(GRADS[0]) + 1e-10))
    acc = GRADS[0] ** 2 + GRADS[1] ** 2
    np.testing.assert_allclose(out[1], out[0] - 0.1 * GRADS[1] / (np.sqrt(acc) + 1e-10))


def test_clipnorm_per_parameter_and_global():
    g = GRADS[0]
    norm = np.linalg.norm(g)
    out = run(optim.SGD(lr=1.0, clipnorm=0.1), steps=1)
    np.testing.assert_allclose(out[0], P0 - g * 0.1 / norm, rtol=1e-9)
    out = run(optim.SGD(lr=1.0, clipnorm=10.0), steps=1)  # below the threshold: untouched
    np.testing.assert_allclose(out[0], P0 - g)
    a, b = L.Dense(1), L.Dense(1)
    a.params, a.grads = {"w": np.zeros(2)}, {"w": np.array([3.0, 0.0])}
    b.params, b.grads = {"w": np.zeros(1)}, {"w": np.array([4.0])}
    optim.SGD(lr=1.0, global_clipnorm=1.0).step([a, b])  # total norm 5 -> scaled by 1/5
    np.testing.assert_allclose(a.params["w"], [-0.6, 0.0])
    np.testing.assert_allclose(b.params["w"], [-0.8])


def test_frozen_layers_are_skipped():
    layer = L.Dense(1)
    layer.params, layer.grads = {"w": P0.copy()}, {"w": GRADS[0].copy()}
    layer.trainable = False
    optim.Adam(0.1).step([layer])
    np.testing.assert_array_equal(layer.params["w"], P0)


def test_schedules():
    assert optim.StepDecay(0.1, step_size=2, gamma=0.5)(5) == pytest.approx(0.025)
    assert optim.ExponentialEpochDecay(1.0, gamma=0.9)(2) == pytest.approx(0.81)
    cosine = optim.CosineEpochDecay(1.0, total_epochs=10, min_lr=0.1)
    assert cosine(0) == pytest.approx(1.0) and cosine(10) == pytest.approx(0.1)
    assert cosine(5) == pytest.approx(0.55) and cosine(20) == pytest.approx(0.1)


def test_bad_settings():
    with pytest.raises(ValueError, match="learning rate must be positive, got -0.1"):
        optim.SGD(lr=-0.1)
    with pytest.raises(ValueError, match="nesterov=True needs a momentum"):
        optim.SGD(nesterov=True)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        optim.get("adamm")
    assert isinstance(optim.get("Adam"), optim.Adam)


@pytest.mark.parametrize("name", ["sgd_nesterov", "rmsprop", "adagrad", "adam", "adamw"])
def test_against_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = {
        "sgd_nesterov": (
            optim.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        ),
        "rmsprop": (optim.RMSprop(0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
        "adagrad": (optim.Adagrad(0.1), lambda p: torch.optim.Adagrad(p, lr=0.1)),
        "adam": (
            optim.Adam(0.01, weight_decay=0.1),
            lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1),
        ),
        "adamw": (optim.AdamW(0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
    }[name]
    param = torch.tensor(P0, requires_grad=True)
    opt = theirs([param])
    expected = []
    for g in GRADS:
        param.grad = torch.tensor(g)
        opt.step()
        expected.append(param.detach().numpy().copy())
    for got, want in zip(run(ours), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert not math.isnan(expected[-1][0])


# ------------------------------------------------------------------ PyTorch's spellings; Keras's are the other door's
SPELLINGS = [  # (PyTorch's keywords, minidl's keywords): the same optimizer
    (optim.Adam, dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6), dict(lr=0.02, beta1=0.8, beta2=0.95, eps=1e-6)),
    (optim.AdamW, dict(betas=[0.7, 0.9]), dict(beta1=0.7, beta2=0.9)),
]


@pytest.mark.parametrize("cls, theirs, ours", SPELLINGS, ids=lambda v: getattr(v, "__name__", None))
def test_pytorch_spellings_build_the_same_optimizer(cls, theirs, ours):
    built, expected = cls(**theirs), cls(**ours)
    assert built.get_config() == expected.get_config()
    for got, want in zip(run(built), run(expected)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "cls, keras_name, ours",
    [
        (optim.Adam, "learning_rate", "lr"),
        (optim.Adam, "beta_1", "beta1"),
        (optim.AdamW, "beta_2", "beta2"),
        (optim.RMSprop, "rho", "alpha"),
        (optim.Adagrad, "epsilon", "eps"),
        (optim.SGD, "learning_rate", "lr"),
    ],
)
def test_other_spellings_are_refused_naming_minidls_name(cls, keras_name, ours):
    """One name, one meaning: another library's name for an argument is refused with minidl's."""
    with pytest.raises(
        TypeError,
        match=rf"^{cls.__name__}\(\) got an unexpected keyword '{keras_name}': minidl's name is {ours}$",
    ):
        cls(**{keras_name: 0.5})


def test_a_setting_given_under_both_names_is_an_error():
    with pytest.raises(ValueError, match=r"give beta1/beta2 or betas \(PyTorch's name\), not both"):
        optim.AdamW(beta2=0.99, betas=(0.9, 0.99))
    with pytest.raises(ValueError, match=r"Adam betas must be a pair \(beta1, beta2\), got 0.9"):
        optim.Adam(betas=0.9)


def test_an_unknown_keyword_names_itself_and_what_is_accepted():
    with pytest.raises(
        TypeError,
        match="SGD got unexpected keyword argument.*rho; it takes lr, momentum, "
        "nesterov, weight_decay, clipnorm, global_clipnorm, clipvalue$",
    ):
        optim.SGD(0.1, rho=0.9)
    with pytest.raises(
        TypeError,
        match="Adam got unexpected keyword argument.*foreach; it takes .*clipvalue, betas$",
    ):
        optim.Adam(foreach=True)


def test_the_refused_spellings_are_kerass_own():
    """Every Keras spelling minidl.nn.optim refuses is a keyword of the Keras optimizer (read from
    Keras's signatures, when installed), and ``betas`` one of PyTorch's Adam and AdamW."""
    import inspect

    torch = pytest.importorskip("torch")
    for cls in (optim.Adam, optim.AdamW):
        assert "betas" in inspect.signature(getattr(torch.optim, cls.__name__)).parameters
    keras = real_keras()
    keywords = {
        name: set(inspect.signature(getattr(keras.optimizers, name)).parameters)
        for name in ("SGD", "RMSprop", "Adagrad", "Adam", "AdamW")
    }
    assert set(optim.RENAMED) <= set().union(*keywords.values())


def test_a_subclass_may_be_saved_under_another_name():
    """A subclass that shows the name of one of minidl's classes (the Keras door's ``Adam``)
    registers under its ``saved_name``; minidl's class keeps its own name."""

    class Adam(optim.Adam, saved_name="ShownAsAdam"):
        pass

    assert optim.Optimizer.classes["Adam"] is optim.Adam and optim.Adam.saved_name == "Adam"
    assert optim.Optimizer.classes["ShownAsAdam"] is Adam and Adam.saved_name == "ShownAsAdam"
    restored = optim.get({"class": "ShownAsAdam", "config": Adam(lr=0.1).get_config()})
    assert type(restored) is Adam and restored.lr == 0.1
    del optim.Optimizer.classes["ShownAsAdam"]
