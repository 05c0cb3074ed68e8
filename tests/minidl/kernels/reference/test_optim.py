"""The reference optimizer updates: PyTorch's rules written out step by step, in place."""

import numpy as np
import pytest

from minidl.kernels.reference import optim as K

W, G = np.array([1.0, -2.0]), np.array([0.5, 0.25])


def test_sgd_with_momentum_nesterov_and_weight_decay():
    p, v = W.copy(), np.zeros(2)
    K.sgd_update(p, G, v, 0.1, 0.9, False, 0.0)
    np.testing.assert_allclose(p, W - 0.1 * G)  # the first velocity is the gradient
    K.sgd_update(p, G, v, 0.1, 0.9, False, 0.0)
    np.testing.assert_allclose(v, 1.9 * G)
    np.testing.assert_allclose(p, W - 0.1 * G - 0.1 * 1.9 * G)
    p, v = W.copy(), np.zeros(2)
    K.sgd_update(p, G, v, 0.1, 0.9, True, 0.01)
    g = G + 0.01 * W
    np.testing.assert_allclose(p, W - 0.1 * (g + 0.9 * g))


def test_adam_and_adamw_first_steps():
    p, m, v = W.copy(), np.zeros(2), np.zeros(2)
    K.adam_update(p, G, m, v, 0.1, 0.9, 0.999, 1e-8, 1, 0.0, False)
    np.testing.assert_allclose(p, W - 0.1 * np.sign(G), rtol=1e-6)  # bias-corrected: a step of lr
    np.testing.assert_allclose(m, 0.1 * G)
    np.testing.assert_allclose(v, 0.001 * G**2)
    decoupled, coupled = W.copy(), W.copy()
    K.adam_update(decoupled, G, np.zeros(2), np.zeros(2), 0.1, 0.9, 0.999, 1e-8, 1, 0.5, True)
    np.testing.assert_allclose(decoupled, W * (1 - 0.05) - 0.1 * np.sign(G), rtol=1e-6)
    K.adam_update(coupled, G, np.zeros(2), np.zeros(2), 0.1, 0.9, 0.999, 1e-8, 1, 0.5, False)
    np.testing.assert_allclose(coupled, W - 0.1 * np.sign(G + 0.5 * W), rtol=1e-6)


def test_rmsprop_with_and_without_momentum():
    p, s, b = W.copy(), np.zeros(2), np.full(2, 7.0)
    K.rmsprop_update(p, G, s, b, 0.01, 0.99, 1e-8, 0.0, 0.0)
    np.testing.assert_allclose(s, 0.01 * G**2)
    np.testing.assert_allclose(p, W - 0.01 * G / (np.sqrt(0.01) * np.abs(G)), rtol=1e-6)
    assert b.tolist() == [7.0, 7.0]  # untouched without momentum
    p, s, b = W.copy(), np.zeros(2), np.zeros(2)
    K.rmsprop_update(p, G, s, b, 0.01, 0.99, 1e-8, 0.5, 0.0)
    np.testing.assert_allclose(b, G / (np.sqrt(0.01) * np.abs(G)), rtol=1e-6)


def test_adagrad_accumulates_every_squared_gradient():
    p, total = W.copy(), np.zeros(2)
    K.adagrad_update(p, G, total, 0.5, 1e-10, 0.0)
    K.adagrad_update(p, G, total, 0.5, 1e-10, 0.0)
    np.testing.assert_allclose(total, 2 * G**2)
    expected = W - 0.5 * np.sign(G) - 0.5 * G / np.sqrt(2 * G**2)
    np.testing.assert_allclose(p, expected, rtol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_are_in_place_and_keep_the_dtype(dtype):
    p, m, v = W.astype(dtype), np.zeros(2, dtype), np.zeros(2, dtype)
    before = p
    K.adam_update(p, G.astype(dtype), m, v, 0.1, 0.9, 0.999, 1e-8, 1, 0.0, False)
    assert p is before and p.dtype == dtype and not np.array_equal(p, W.astype(dtype))
