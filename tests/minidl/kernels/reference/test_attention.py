"""The reference masked softmax: masked keys get exactly 0, empty rows give zeros, the backward."""

import numpy as np

from minidl.kernels.reference import attention as K
from minidl.nn.gradcheck import numerical_gradient


def test_the_kept_keys_share_the_softmax_and_masked_ones_get_exactly_zero():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((2, 3, 4))
    keep = np.tril(np.ones((3, 4), bool))[None]  # one causal mask for both groups
    probs = K.masked_softmax(scores, keep, 0.5)
    for g in range(2):
        for i in range(3):
            k = keep[0, i]
            e = np.exp(0.5 * scores[g, i, k] - np.max(0.5 * scores[g, i, k]))
            np.testing.assert_allclose(probs[g, i, k], e / e.sum(), rtol=1e-12)
            assert np.all(probs[g, i, ~k] == 0.0)


def test_a_row_with_nothing_to_see_is_zeros_not_nan():
    probs = K.masked_softmax(np.ones((1, 2, 3)), np.array([[[1, 1, 0], [0, 0, 0]]], np.uint8), 1.0)
    assert probs[0, 1].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(probs[0, 0], [0.5, 0.5, 0.0])


def test_a_padding_mask_per_sample_serves_its_heads():
    scores = np.zeros((4, 1, 3))  # N = 2 samples x H = 2 heads
    keep = np.array([[[1, 1, 1]], [[1, 0, 0]]], bool)  # Gm = N
    probs = K.masked_softmax(scores, keep, 1.0)
    np.testing.assert_allclose(probs[:2, 0], np.full((2, 3), 1 / 3))
    np.testing.assert_allclose(probs[2:, 0], [[1.0, 0.0, 0.0]] * 2)


def test_the_backward_is_the_derivative_of_the_forward():
    rng = np.random.default_rng(1)
    scores, dprobs = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    keep = rng.random((1, 3, 4)) < 0.7
    keep[..., 0] = True
    probs = K.masked_softmax(scores, keep, 0.7)
    grad = K.masked_softmax_backward(probs, dprobs, 0.7)
    numeric = numerical_gradient(lambda: np.sum(K.masked_softmax(scores, keep, 0.7) * dprobs), scores)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
