"""The reference convolution: im2col/col2im and conv2d against loops written from the formula."""

import numpy as np
import pytest

from minidl.kernels.reference import conv as K
from minidl.nn.gradcheck import numerical_gradient


def conv_by_loops(x, w, b, sh, sw, ph, pw):
    """y[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] x_pad[n, c, sh i + p, sw j + q]."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, sh * i : sh * i + kh, sw * j : sw * j + kw]
            y[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + (0 if b is None else b)
    return y


@pytest.mark.parametrize("sh, sw, ph, pw", [(1, 1, 0, 0), (2, 1, 1, 2), (3, 2, 1, 0)])
def test_the_forward_is_the_sum_of_the_formula(sh, sw, ph, pw):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    y, cols = K.conv2d_forward(x, w, b, sh, sw, ph, pw)
    np.testing.assert_allclose(y, conv_by_loops(x, w, b, sh, sw, ph, pw), rtol=1e-12, atol=1e-12)
    assert cols.shape == (3 * 3 * 2, 2 * y.shape[2] * y.shape[3])
    y0, _ = K.conv2d_forward(x, w, None, sh, sw, ph, pw)
    np.testing.assert_allclose(y0, conv_by_loops(x, w, None, sh, sw, ph, pw), atol=1e-12)


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), c> = <x, col2im(c)> for every x and c: col2im adds overlapping windows."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 5, 5))
    cols = K.im2col(x, 3, 3, 2, 2, 1, 1)
    c = rng.standard_normal(cols.shape)
    assert np.sum(cols * c) == pytest.approx(np.sum(x * K.col2im(c, x.shape, 3, 3, 2, 2, 1, 1)), rel=1e-12)


@pytest.mark.parametrize("sh, ph", [(1, 0), (2, 1)])
def test_the_backward_is_the_derivative_of_the_forward(sh, ph):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    y, cols = K.conv2d_forward(x, w, b, sh, sh, ph, ph)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = K.conv2d_backward(dy, x, cols, w, sh, sh, ph, ph, True)

    def loss():
        return np.sum(K.conv2d_forward(x, w, b, sh, sh, ph, ph)[0] * dy)

    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, numerical_gradient(loss, w), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_gradient(loss, b), rtol=1e-6, atol=1e-8)
    again = K.conv2d_backward(dy, x, None, w, sh, sh, ph, ph, False)  # cols rebuilt, no dx
    assert again[0] is None
    np.testing.assert_allclose(again[1], dw, rtol=1e-12)
