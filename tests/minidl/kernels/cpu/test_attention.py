"""The Numba masked softmax: the reference's probabilities and gradient, bool or uint8 masks."""

import numpy as np
import pytest

from minidl.kernels import reference
from minidl.kernels.cpu import attention as K


@pytest.mark.parametrize("mask_dtype", [bool, np.uint8])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_probabilities_and_gradient_equal_the_reference(mask_dtype, dtype, rtol):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((4, 3, 5)).astype(dtype)
    keep = (rng.random((2, 3, 5)) < 0.6).astype(mask_dtype)  # a mask per pair of groups
    keep[1, 2] = 0  # a row with nothing to see
    probs = K.masked_softmax(scores, keep, 0.5)
    np.testing.assert_allclose(probs, reference.masked_softmax(scores, keep, 0.5), rtol=rtol, atol=rtol)
    assert probs.dtype == dtype and np.all(probs[2:, 2] == 0.0)
    dprobs = rng.standard_normal(scores.shape).astype(dtype)
    np.testing.assert_allclose(
        K.masked_softmax_backward(probs, dprobs, 0.5),
        reference.masked_softmax_backward(probs, dprobs, 0.5),
        rtol=rtol,
        atol=rtol,
    )
