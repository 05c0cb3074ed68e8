"""UpSampling2D and Conv2DTranspose: shapes, the adjoint of a convolution, gradient checks."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.nn.gradcheck import check_layer


def test_upsampling_repeats_each_pixel_and_sums_its_blocks_back():
    layer = L.UpSampling2D((2, 3))
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    y = layer.forward(x)
    assert y.shape == (1, 1, 4, 6)
    assert y[0, 0, :2, :3].tolist() == [[0.0] * 3] * 2 and y[0, 0, 3, 5] == 3.0
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)), np.full(x.shape, 6.0))
    assert check_layer(L.UpSampling2D(2), np.random.default_rng(0).standard_normal((2, 2, 3, 2))).passed
    with pytest.raises(ValueError, match=r"expected input \(N, C, H, W\), got per-sample shape \(4,\)"):
        layer.compute_output_shape((4,))


@pytest.mark.parametrize(
    "kernel, stride, padding, out_hw",
    [(4, 2, 1, (10, 10)), (3, 2, "same", (10, 10)), (3, 2, "valid", (11, 11)), (2, 2, 0, (10, 10))],
)
def test_conv_transpose_output_sizes(kernel, stride, padding, out_hw):
    layer = L.Conv2DTranspose(3, kernel, stride=stride, padding=padding)
    assert layer.forward(np.zeros((1, 2, 5, 5), np.float32)).shape == (1, 3, *out_hw)


def test_conv_transpose_is_the_adjoint_of_conv2d():
    """<conv(x), y> = <x, conv_transpose(y)> with the same weights, no bias."""
    rng = np.random.default_rng(1)
    conv = L.Conv2D(3, 3, stride=2, padding=1, use_bias=False)
    x = rng.standard_normal((2, 4, 7, 7))
    y = conv.forward(x)
    up = L.Conv2DTranspose(4, 3, stride=2, padding=1, use_bias=False)
    up.build(y.shape[1:])
    up.params["W"][...] = conv.params["W"].astype(up.params["W"].dtype)
    dy = rng.standard_normal(y.shape)
    back = up.forward(dy)[:, :, :7, :7]
    assert np.sum(y * dy) == pytest.approx(np.sum(x * back), rel=1e-4)


@pytest.mark.parametrize("padding", [1, "same"])
def test_conv_transpose_passes_the_gradient_check(padding):
    x = np.random.default_rng(2).standard_normal((2, 2, 3, 3))
    assert check_layer(L.Conv2DTranspose(2, 3, stride=2, padding=padding), x).passed
