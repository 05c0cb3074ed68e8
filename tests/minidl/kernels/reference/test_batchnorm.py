"""The reference batch normalization: statistics, the normalised output, and the backward."""

import numpy as np

from minidl.kernels.reference import batchnorm as K
from minidl.nn.gradcheck import numerical_gradient


def test_each_channel_is_normalised_over_the_batch_and_the_pixels():
    rng = np.random.default_rng(0)
    x = 3.0 + 2.0 * rng.standard_normal((8, 3, 10))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 4.0])
    y, mean, var = K.batchnorm_forward(x, gamma, beta, 1e-5)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=(0, 2)), rtol=1e-12)  # biased, as in training
    np.testing.assert_allclose(y.mean(axis=(0, 2)), beta, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2)), gamma * np.sqrt(var / (var + 1e-5)), rtol=1e-10)


def test_the_backward_is_the_derivative_through_the_batch_statistics():
    rng = np.random.default_rng(1)
    x, gamma, beta = rng.standard_normal((5, 2, 3)), rng.standard_normal(2), rng.standard_normal(2)
    y, mean, var = K.batchnorm_forward(x, gamma, beta, 1e-3)
    dy = rng.standard_normal(y.shape)
    dx, dgamma, dbeta = K.batchnorm_backward(dy, x, gamma, mean, var, 1e-3)

    def loss():
        return np.sum(K.batchnorm_forward(x, gamma, beta, 1e-3)[0] * dy)

    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dgamma, numerical_gradient(loss, gamma), rtol=1e-6)
    np.testing.assert_allclose(dbeta, numerical_gradient(loss, beta), rtol=1e-6)
    assert np.abs(dx.sum(axis=(0, 2))).max() < 1e-10  # shifting a channel changes nothing


def test_the_backward_keeps_a_float32_input_float32():
    x = np.random.default_rng(2).standard_normal((4, 2, 3)).astype(np.float32)
    g = np.ones(2, np.float32)
    y, mean, var = K.batchnorm_forward(x, g, np.zeros(2, np.float32), 1e-5)
    assert K.batchnorm_backward(np.ones_like(y), x, g, mean, var, 1e-5)[0].dtype == np.float32
