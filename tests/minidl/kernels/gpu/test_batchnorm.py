"""The CUDA batch norm launchers, run by the emulator: the reference's statistics and gradients."""

import numpy as np
import pytest

from minidl.kernels import emulate, reference
from minidl.kernels.gpu import batchnorm as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)


@pytest.mark.parametrize("shape", [(8, 3, 10), (16, 4, 1)])
def test_forward_and_backward_equal_the_reference(shape):
    rng = np.random.default_rng(0)
    x = 1.0 + 2.0 * rng.standard_normal(shape)
    gamma, beta, dy = rng.standard_normal(shape[1]), rng.standard_normal(shape[1]), rng.standard_normal(shape)
    got = K.batchnorm_forward(x, gamma, beta, 1e-5)
    want = reference.batchnorm_forward(x, gamma, beta, 1e-5)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    for g, w in zip(
        K.batchnorm_backward(dy, x, gamma, got[1], got[2], 1e-5),
        reference.batchnorm_backward(dy, x, gamma, *want[1:], 1e-5),
    ):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-11)
