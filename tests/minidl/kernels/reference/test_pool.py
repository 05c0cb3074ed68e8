"""The reference pooling: forward by loops, the max's gradient to the first maximum, the average's spread."""

import numpy as np
import pytest

from minidl.kernels.reference import pool as K
from minidl.nn.gradcheck import numerical_gradient


def windows(x, kh, kw, sh, sw):
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1  # windows that do not fit are dropped
    return [
        (i, j, x[:, :, sh * i : sh * i + kh, sw * j : sw * j + kw]) for i in range(oh) for j in range(ow)
    ], (oh, ow)


@pytest.mark.parametrize("kh, kw, sh, sw", [(2, 2, 2, 2), (3, 2, 1, 2), (2, 3, 3, 1)])
def test_max_and_average_are_those_of_each_window(kh, kw, sh, sw):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    ymax, _ = K.max_pool_forward(x, kh, kw, sh, sw)
    yavg = K.avg_pool_forward(x, kh, kw, sh, sw)
    found, (oh, ow) = windows(x, kh, kw, sh, sw)
    assert ymax.shape == yavg.shape == (2, 3, oh, ow)
    for i, j, win in found:
        np.testing.assert_array_equal(ymax[:, :, i, j], win.max(axis=(2, 3)))
        np.testing.assert_allclose(yavg[:, :, i, j], win.mean(axis=(2, 3)), rtol=1e-12)


def test_the_max_gradient_goes_to_the_first_maximum_of_a_tie():
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])  # two maxima, the first in row-major order at (0, 1)
    y, argmax = K.max_pool_forward(x, 2, 2, 2, 2)
    assert y.item() == 3.0
    dx = K.max_pool_backward(np.ones_like(y), argmax, x.shape, 2, 2, 2, 2)
    assert dx.tolist() == [[[[0.0, 1.0], [0.0, 0.0]]]]


@pytest.mark.parametrize("kh, sh", [(2, 2), (3, 1)])
def test_the_backwards_are_the_derivatives_of_the_forwards(kh, sh):
    rng = np.random.default_rng(1)
    x = rng.permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6).astype(np.float64) / 10  # no ties
    y, argmax = K.max_pool_forward(x, kh, kh, sh, sh)
    dy = rng.standard_normal(y.shape)
    dx = K.max_pool_backward(dy, argmax, x.shape, kh, kh, sh, sh)
    np.testing.assert_allclose(
        dx, numerical_gradient(lambda: np.sum(K.max_pool_forward(x, kh, kh, sh, sh)[0] * dy), x), atol=1e-7
    )
    da = K.avg_pool_backward(dy, x.shape, kh, kh, sh, sh)
    np.testing.assert_allclose(
        da, numerical_gradient(lambda: np.sum(K.avg_pool_forward(x, kh, kh, sh, sh) * dy), x), atol=1e-7
    )


def test_the_average_keeps_a_float32_input_float32():
    x = np.ones((1, 1, 4, 4), np.float32)
    assert K.avg_pool_forward(x, 2, 2, 2, 2).dtype == np.float32
