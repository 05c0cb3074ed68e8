"""The CUDA masked softmax launchers, run by the emulator, and a mask of the wrong shape."""

import numpy as np
import pytest

from minidl.kernels import emulate, reference
from minidl.kernels.gpu import attention as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)


def test_probabilities_and_gradient_equal_the_reference():
    rng = np.random.default_rng(0)
    scores, dprobs = rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 3, 5))
    keep = rng.random((2, 3, 5)) < 0.6
    keep[0, 1] = False  # a row with nothing to see
    probs = K.masked_softmax(scores, keep, 0.5)
    np.testing.assert_allclose(probs, reference.masked_softmax(scores, keep, 0.5), rtol=1e-12, atol=1e-15)
    assert np.all(probs[:2, 1] == 0.0)
    np.testing.assert_allclose(
        K.masked_softmax_backward(probs, dprobs, 0.5),
        reference.masked_softmax_backward(probs, dprobs, 0.5),
        rtol=1e-12,
        atol=1e-15,
    )


def test_a_mask_whose_groups_do_not_divide_the_scores_is_refused():
    with pytest.raises(
        ValueError, match=r"keep must be \(Gm, 3, 5\) with 4 a multiple of Gm, got \(3, 3, 5\)"
    ):
        K.masked_softmax(np.zeros((4, 3, 5)), np.ones((3, 3, 5), bool), 1.0)
