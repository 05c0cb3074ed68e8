"""Losses: values against direct formulas, gradients against finite differences, bad input."""

import warnings

import numpy as np
import pytest

from minidl import losses
from minidl.nn.gradcheck import check_loss, numerical_gradient, rel_error


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture
def logits(rng):
    return rng.standard_normal((6, 4)) * 2


def test_sparse_crossentropy_from_logits_value_and_gradient(tier, logits):
    labels = np.array([0, 3, 1, 1, 2, 0])
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    expected = -np.log(softmax(logits)[np.arange(6), labels]).mean()
    assert loss(logits, labels) == pytest.approx(expected, rel=1e-10)
    assert check_loss(loss, logits, labels).passed


def test_sparse_crossentropy_is_stable_for_huge_logits(tier):
    z = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]])
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    value = loss(z, np.array([2, 1]))
    assert np.isfinite(value) and value == pytest.approx(1000.0, rel=1e-6)
    assert np.all(np.isfinite(loss.backward()))


def test_sparse_crossentropy_over_sequences(tier, rng):
    z = rng.standard_normal((2, 5, 3))
    labels = rng.integers(0, 3, size=(2, 5))
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    flat = losses.SparseCategoricalCrossentropy(from_logits=True)
    assert loss(z, labels) == pytest.approx(flat(z.reshape(10, 3), labels.reshape(10)))
    assert check_loss(loss, z, labels).passed


@pytest.mark.parametrize("from_logits", [True, False])
def test_categorical_crossentropy(logits, from_logits):
    targets = softmax(np.random.default_rng(5).standard_normal((6, 4)))  # soft targets
    y_pred = logits if from_logits else softmax(logits)
    loss = losses.CategoricalCrossentropy(from_logits=from_logits)
    expected = -(targets * np.log(softmax(logits))).sum(axis=1).mean()
    assert loss(y_pred, targets) == pytest.approx(expected, rel=1e-8)
    # -log p curves sharply near p = 0, so finite differences need a smaller step there
    assert check_loss(loss, y_pred, targets, eps=1e-6 if from_logits else 1e-8).passed


def test_sparse_from_probabilities_matches_categorical(logits):
    labels = np.array([0, 3, 1, 1, 2, 0])
    probs = softmax(logits)
    sparse = losses.SparseCategoricalCrossentropy()
    dense = losses.CategoricalCrossentropy()
    assert sparse(probs, labels) == pytest.approx(dense(probs, np.eye(4)[labels]))
    assert check_loss(sparse, probs, labels).passed


@pytest.mark.parametrize("from_logits", [True, False])
def test_binary_crossentropy(rng, from_logits):
    z = rng.standard_normal((5, 3))
    t = (rng.random((5, 3)) > 0.5).astype(float)
    p = 1 / (1 + np.exp(-z))
    loss = losses.BinaryCrossentropy(from_logits=from_logits)
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
    assert loss(z if from_logits else p, t) == pytest.approx(expected, rel=1e-8)
    assert check_loss(loss, z if from_logits else p, t).passed


def test_binary_crossentropy_from_logits_does_not_overflow():
    loss = losses.BinaryCrossentropy(from_logits=True)
    assert loss(np.array([[800.0], [-800.0]]), np.array([[0.0], [1.0]])) == pytest.approx(800.0)


def test_mse(rng):
    y, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss = losses.MeanSquaredError()
    assert loss(y, t) == pytest.approx(((y - t) ** 2).mean())
    assert check_loss(loss, y, t).passed
    assert loss(y[:, :1], t[:, 0]) == pytest.approx(((y[:, 0] - t[:, 0]) ** 2).mean())  # (N, 1) vs (N,)


def test_probability_losses_warn_once_on_logits(logits):
    loss = losses.CategoricalCrossentropy()
    with pytest.warns(UserWarning, match="from_logits=True"):
        value = loss(logits, np.eye(4)[[0, 1, 2, 3, 0, 1]])
    assert np.isfinite(value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(logits, np.eye(4)[[0, 1, 2, 3, 0, 1]])  # second time: silent
    with pytest.warns(UserWarning, match="outside \\[0, 1\\]"):
        losses.BinaryCrossentropy()(np.array([[2.0], [-1.0]]), np.array([[1.0], [0.0]]))


def test_bad_labels_are_named(logits):
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match=r"labels in \[0, 4\) for 4 classes, got label 7"):
        loss(logits, np.array([0, 1, 7, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"got label -1"):
        loss(logits, np.array([0, 1, -1, 1, 2, 0]))
    with pytest.raises(TypeError, match="integer class labels, got dtype float64"):
        loss(logits, np.zeros(6))
    with pytest.raises(ValueError, match=r"labels of shape \(6,\) .* got \(5,\)"):
        loss(logits, np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match=r"y_true of shape \(6, 4\) like y_pred, got \(6,\).*Sparse"):
        losses.CategoricalCrossentropy(from_logits=True)(logits, np.zeros(6, dtype=int))


def test_lookup_by_name():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("sparse_categorical_crossentropy"), losses.SparseCategoricalCrossentropy)
    with pytest.raises(ValueError, match="unknown loss 'crossentropy'"):
        losses.get("crossentropy")
    with pytest.raises(RuntimeError, match="before the loss was computed"):
        losses.MeanSquaredError().backward()


def test_a_loss_is_its_arguments_and_names_missing_targets():
    assert losses.Huber(2.0) == losses.Huber(2.0) != losses.Huber(1.0)
    assert repr(losses.BinaryCrossentropy(from_logits=True)) == "BinaryCrossentropy(from_logits=True)"
    with pytest.raises(ValueError, match=r"y_true of shape \(3, 1\) like y_pred, got none"):
        losses.MeanSquaredError()(np.ones((3, 1)))
    with pytest.raises(ValueError, match="Huber delta must be > 0, got 0"):
        losses.Huber(0)


# ------------------------------------------------------------------ GaussianKL (the VAE's KL term)
@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_kl_gradient_check(rng, beta):
    assert check_loss(
        losses.GaussianKL(beta),
        np.concatenate([rng.standard_normal((4, 3)), 0.5 * rng.standard_normal((4, 3))], axis=1),
        None,
    ).passed


def test_kl_is_the_closed_form_summed_over_the_code_and_averaged_over_samples():
    h = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 2.0, np.log(2.0), 0.0]])
    per_sample = [0.0, 0.5 * (1 + 4) + 0.5 * (2 - 1 - np.log(2.0))]
    assert losses.GaussianKL()(h) == pytest.approx(np.mean(per_sample))
    assert losses.GaussianKL(beta=4.0)(h) == pytest.approx(4.0 * np.mean(per_sample))


def test_kl_is_zero_at_the_prior_and_refuses_a_negative_beta():
    loss = losses.GaussianKL()
    assert loss(np.zeros((3, 4))) == 0.0
    assert np.all(loss.backward() == 0.0)
    with pytest.raises(ValueError, match="beta must be >= 0, got -1"):
        losses.GaussianKL(beta=-1)


# ------------------------------------------------------------------ InfoNCE (SimCLR, CLIP)
def loop_loss(z, tau, within):
    """The mean over the 2N rows of -log softmax(cosines / tau)[partner], one row at a time."""
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    n2, n = len(z), len(z) // 2
    total = 0.0
    for r in range(n2):
        mine = r < n
        candidates = [c for c in range(n2) if c != r and (within or (c < n) != mine)]
        scores = np.array([u[r] @ u[c] / tau for c in candidates])
        partner = candidates.index((r + n) % n2)
        total += np.log(np.exp(scores).sum()) - scores[partner]
    return total / n2


@pytest.mark.parametrize("within", [True, False])
@pytest.mark.parametrize("tau", [0.05, 0.5, 2.0])
def test_info_nce_is_the_row_by_row_definition(within, tau):
    z = np.random.default_rng(3).standard_normal((8, 5))
    assert losses.InfoNCE(tau, within)(z) == pytest.approx(loop_loss(z, tau, within), rel=1e-10)


@pytest.mark.parametrize("within", [True, False])
@pytest.mark.parametrize("tau, n", [(0.1, 3), (1.0, 1), (0.3, 5)])
def test_info_nce_gradient_check_float64(within, tau, n):
    z = np.random.default_rng(n).standard_normal((2 * n, 4))
    report = check_loss(losses.InfoNCE(tau, within), z, None)
    assert report.passed, report


@pytest.mark.parametrize("within", [True, False])
def test_info_nce_temperature_gradient(within):
    z = np.random.default_rng(7).standard_normal((6, 3))
    loss = losses.InfoNCE(0.4, within)
    loss(z)
    tau = np.array([0.4])
    numeric = numerical_gradient(lambda: losses.InfoNCE(float(tau[0]), within)(z), tau)
    assert rel_error(np.array([loss.d_temperature]), numeric) < 1e-6


def test_info_nce_properties_and_refusals():
    z = np.random.default_rng(1).standard_normal((6, 4))
    loss = losses.InfoNCE(0.2)
    value = loss(z)
    assert loss(3.0 * z) == pytest.approx(value)  # cosines: the scale of a row does not matter
    order = np.array([2, 0, 1])
    assert loss(np.concatenate([z[:3][order], z[3:][order]])) == pytest.approx(value)  # pairs reordered
    swapped = losses.InfoNCE(0.2, within=False)
    assert swapped(np.concatenate([z[3:], z[:3]])) == pytest.approx(swapped(z))  # symmetric
    perfect = np.concatenate([np.eye(3), np.eye(3)])
    assert losses.InfoNCE(0.01, within=False)(perfect) < 1e-10
    with pytest.raises(ValueError, match=r"\(2N, D\).*\(5, 4\)"):
        loss(z[:5])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        losses.InfoNCE(0.0)


def test_a_loss_defined_elsewhere_registers_by_name_and_checks_its_targets(monkeypatch):
    """``LOSSES`` and ``targets_like``: what a library built on minidl (the Keras door's mean
    absolute error) uses to add a loss that ``compile(loss=name)`` and a saved model find."""

    class CubedError(losses.Loss):
        symmetric = True

        def compute(self, y_pred, y_true):
            d = y_pred - losses.targets_like(y_pred, y_true, "CubedError")
            return d**3, 3 * d**2 / d.size

    monkeypatch.setitem(losses.LOSSES, "cubed", CubedError)
    loss = losses.get("cubed")
    assert isinstance(loss, CubedError) and isinstance(losses.get({"class": "CubedError"}), CubedError)
    assert loss(np.array([[2.0], [1.0]]), np.array([1.0, 1.0])) == 0.5  # (N,) targets for (N, 1)
    with pytest.raises(
        ValueError, match=r"CubedError expected y_true of shape \(2, 1\) like y_pred, got \(3,\)"
    ):
        loss(np.zeros((2, 1)), np.zeros(3))
