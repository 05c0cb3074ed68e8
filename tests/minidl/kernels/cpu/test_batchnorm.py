"""The Numba batch norm: the image path and the (N, D) features path against the reference."""

import numpy as np
import pytest

from minidl.kernels import reference
from minidl.kernels.cpu import batchnorm as K


@pytest.mark.parametrize("shape", [(8, 3, 10), (16, 5, 1)])  # L = 1: the features kernel
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_forward_and_backward_equal_the_reference(shape, dtype, rtol):
    rng = np.random.default_rng(0)
    x = (2.0 + 3.0 * rng.standard_normal(shape)).astype(dtype)
    gamma, beta = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    y, mean, var = K.batchnorm_forward(x, gamma, beta, 1e-5)
    ry, rmean, rvar = reference.batchnorm_forward(x, gamma, beta, 1e-5)
    assert y.dtype == mean.dtype == var.dtype == dtype
    for got, want in ((y, ry), (mean, rmean), (var, rvar)):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    dy = rng.standard_normal(shape).astype(dtype)
    for got, want in zip(
        K.batchnorm_backward(dy, x, gamma, mean, var, 1e-5),
        reference.batchnorm_backward(dy, x, gamma, rmean, rvar, 1e-5),
    ):
        np.testing.assert_allclose(got, want, rtol=rtol * 10, atol=rtol * 10)


def test_a_constant_channel_gives_beta_not_nan():
    x = np.full((4, 2, 3), 7.0)
    y, mean, var = K.batchnorm_forward(x, np.ones(2), np.array([0.5, -0.5]), 1e-5)
    assert np.all(var == 0.0) and np.all(mean == 7.0)
    np.testing.assert_allclose(y[:, 0], 0.5)
    np.testing.assert_allclose(y[:, 1], -0.5)
