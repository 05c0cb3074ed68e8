"""The Numba softmax cross-entropy: the reference's losses and gradient, stable at huge logits."""

import numpy as np
import pytest

from minidl.kernels import reference
from minidl.kernels.cpu import loss as K


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_losses_probabilities_and_gradient_equal_the_reference(dtype, rtol):
    rng = np.random.default_rng(0)
    logits, labels = (4 * rng.standard_normal((9, 6))).astype(dtype), rng.integers(0, 6, 9)
    losses, probs = K.softmax_cross_entropy(logits, labels)
    rlosses, rprobs = reference.softmax_cross_entropy(logits, labels)
    assert losses.dtype == probs.dtype == dtype
    np.testing.assert_allclose(losses, rlosses, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(probs, rprobs, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(
        K.softmax_cross_entropy_backward(probs, labels, 1 / 9),
        reference.softmax_cross_entropy_backward(rprobs.copy(), labels, 1 / 9),
        rtol=rtol,
        atol=rtol,
    )


def test_huge_logits_and_int32_labels():
    logits = np.array([[1000.0, -1000.0, 0.0]])
    losses, probs = K.softmax_cross_entropy(logits, np.array([1], np.int32))
    assert losses.tolist() == [2000.0] and np.isfinite(probs).all()
