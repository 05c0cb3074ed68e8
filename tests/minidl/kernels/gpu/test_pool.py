"""The CUDA pooling launchers, run by the emulator: the reference's outputs and gradients."""

import numpy as np
import pytest

from minidl.kernels import emulate, reference
from minidl.kernels.gpu import pool as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)


@pytest.mark.parametrize("k, s", [(2, 2), (3, 1)])
def test_max_and_average_equal_the_reference(k, s):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 7)).astype(np.float32)
    y, argmax = K.max_pool_forward(x, k, k, s, s)
    ry, rargmax = reference.max_pool_forward(x, k, k, s, s)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(argmax, rargmax)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(
        K.max_pool_backward(dy, argmax, x.shape, k, k, s, s),
        reference.max_pool_backward(dy, rargmax, x.shape, k, k, s, s),
    )
    np.testing.assert_allclose(
        K.avg_pool_forward(x, k, k, s, s), reference.avg_pool_forward(x, k, k, s, s), rtol=1e-6
    )
    np.testing.assert_allclose(
        K.avg_pool_backward(dy, x.shape, k, k, s, s),
        reference.avg_pool_backward(dy, x.shape, k, k, s, s),
        rtol=1e-6,
    )


def test_a_tie_goes_to_the_first_maximum():
    x = np.zeros((1, 1, 2, 2), np.float32)
    _, argmax = K.max_pool_forward(x, 2, 2, 2, 2)
    assert argmax.item() == 0
