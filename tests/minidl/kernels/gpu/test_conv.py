"""The CUDA convolution launchers, run by the emulator: im2col, col2im and the whole layer."""

import numpy as np
import pytest

from minidl.kernels import emulate, reference
from minidl.kernels.gpu import conv as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)


@pytest.mark.parametrize("s, p", [(1, 0), (2, 1)])
def test_forward_backward_and_the_patch_matrix_equal_the_reference(s, p):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    np.testing.assert_allclose(
        K.im2col(x, 3, 3, s, s, p, p), reference.im2col(x, 3, 3, s, s, p, p), rtol=1e-12
    )
    y, cols = K.conv2d_forward(x, w, b, s, s, p, p)
    ry, rcols = reference.conv2d_forward(x, w, b, s, s, p, p)
    np.testing.assert_allclose(y, ry, rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    for g, want in zip(
        K.conv2d_backward(dy, x, cols, w, s, s, p, p, True),
        reference.conv2d_backward(dy, x, rcols, w, s, s, p, p, True),
    ):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)


def test_col2im_refuses_a_patch_matrix_of_another_shape():
    with pytest.raises(
        ValueError,
        match=r"col2im expected cols of shape \(27, 50\) for x_shape \(2, 3, 5, 5\), got \(27, 49\)",
    ):
        K.col2im(np.zeros((27, 49)), (2, 3, 5, 5), 3, 3, 1, 1, 1, 1)
