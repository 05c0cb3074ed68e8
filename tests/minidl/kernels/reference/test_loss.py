"""The reference softmax cross-entropy: the formula, stability at large logits, the backward."""

import numpy as np
import pytest

from minidl.kernels.reference import loss as K
from minidl.nn.gradcheck import numerical_gradient


def test_the_losses_and_probabilities_by_the_formula():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    labels = np.array([2, 0])
    losses, probs = K.softmax_cross_entropy(logits, labels)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_allclose(losses, -np.log(expected[[0, 1], labels]), rtol=1e-12)
    assert losses[1] == pytest.approx(np.log(3.0))


def test_huge_logits_give_finite_exact_losses():
    logits = np.array([[1000.0, 0.0], [0.0, 1000.0]])
    losses, probs = K.softmax_cross_entropy(logits, np.array([1, 1]))
    assert np.isfinite(losses).all() and np.isfinite(probs).all()
    assert losses.tolist() == [1000.0, 0.0]  # no log(0) for the underflowed probability


def test_the_backward_is_the_derivative_of_the_scaled_sum():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    _, probs = K.softmax_cross_entropy(logits, labels)
    grad = K.softmax_cross_entropy_backward(probs.copy(), labels, 0.25)
    numeric = numerical_gradient(lambda: 0.25 * K.softmax_cross_entropy(logits, labels)[0].sum(), logits)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-12)  # each row's gradient sums to 0
