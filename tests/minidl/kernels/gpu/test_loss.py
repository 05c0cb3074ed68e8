"""The CUDA softmax cross-entropy launchers, run by the emulator, and the threads a row gets."""

import numpy as np
import pytest

from minidl.kernels import emulate, reference
from minidl.kernels.gpu import loss as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)


@pytest.mark.parametrize("k", [3, 10, 300])  # fewer, about as many and more classes than threads
def test_losses_and_gradient_equal_the_reference(k):
    rng = np.random.default_rng(0)
    logits, labels = 5 * rng.standard_normal((4, k)), rng.integers(0, k, 4)
    losses, probs = K.softmax_cross_entropy(logits, labels)
    rlosses, rprobs = reference.softmax_cross_entropy(logits, labels)
    np.testing.assert_allclose(losses, rlosses, rtol=1e-12)
    np.testing.assert_allclose(probs, rprobs, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(
        K.softmax_cross_entropy_backward(probs, labels, 0.25),
        reference.softmax_cross_entropy_backward(rprobs.copy(), labels, 0.25),
        rtol=1e-12,
        atol=1e-15,
    )


def test_a_row_gets_the_power_of_two_at_or_above_its_width_up_to_the_block():
    assert [K.softmax_threads_per_row(k) for k in (1, 2, 3, 10, 64)] == [1, 2, 4, 16, 64]
    assert K.softmax_threads_per_row(10**6) == K.SOFTMAX_THREADS
