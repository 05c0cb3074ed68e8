"""The door's pooling rooms: global max pooling (ties share the gradient), zero padding, the
masked global average, channels-last pools, and the errors each gives."""

import numpy as np
import pytest
from minidl_keras import pooling as P

from minidl.nn.gradcheck import check_layer


def test_global_max_pooling_2d_takes_each_channels_maximum_and_shares_ties():
    x = np.zeros((1, 2, 2, 2))
    x[0, :, :, 0] = [[1.0, 3.0], [3.0, 0.0]]  # channel 0: a tie of two maxima
    x[0, 1, 0, 1] = 5.0
    layer = P.GlobalMaxPooling2D()
    np.testing.assert_array_equal(layer.forward(x), [[3.0, 5.0]])
    dx = layer.backward(np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 0.5], [0.5, 0.0]])
    assert dx[0, 1, 0, 1] == 2.0 and dx[..., 1].sum() == 2.0
    assert P.GlobalMaxPooling2D(keepdims=True).forward(x).shape == (1, 1, 1, 2)
    rng = np.random.default_rng(0)
    assert check_layer(P.GlobalMaxPooling1D(), rng.standard_normal((2, 5, 3))).passed
    assert check_layer(
        P.GlobalMaxPooling2D(data_format="channels_first"), rng.standard_normal((2, 3, 4, 4))
    ).passed


def test_zero_padding_2d_pads_the_middle_axes_and_gives_back_the_middle_of_dy():
    layer = P.ZeroPadding2D(((1, 0), (2, 1)))
    x = np.ones((1, 2, 3, 4))
    y = layer.forward(x)
    assert y.shape == (1, 3, 6, 4) and y.sum() == x.sum() and y[0, 0].sum() == 0
    np.testing.assert_array_equal(layer.backward(y), x)
    assert check_layer(P.ZeroPadding2D(1), np.random.default_rng(1).standard_normal((2, 2, 2, 3))).passed
    with pytest.raises(ValueError, match="ZeroPadding2D padding must be >= 0"):
        P.ZeroPadding2D(-1)


def test_the_masked_global_average_counts_the_real_steps_only():
    x = np.arange(12.0).reshape(1, 4, 3)
    mask = np.array([[True, True, False, False]])
    layer = P.GlobalAvgPool1D()
    np.testing.assert_allclose(layer.forward(x, mask=mask), x[:, :2].mean(axis=1))
    np.testing.assert_allclose(layer.backward(np.ones((1, 3))), np.array([[[0.5] * 3] * 2 + [[0.0] * 3] * 2]))
    with pytest.raises(ValueError, match=r"mask must have shape \(N, L\) = \(1, 4\), got \(1, 3\)"):
        layer.forward(x, mask=np.ones((1, 3), bool))
    with pytest.raises(ValueError, match="sample 0 has no unmasked step to average"):
        layer.forward(x, mask=np.zeros((1, 4), bool))


def test_minidls_pools_take_channels_last_and_a_bad_format_is_named():
    x = np.random.default_rng(2).standard_normal((2, 6, 6, 3))
    y = P.MaxPool2D(2).forward(x)
    assert y.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(y[0, 0, 0], x[0, :2, :2].max(axis=(0, 1)))
    with pytest.raises(
        ValueError, match="data_format must be 'channels_last' or 'channels_first', got 'nhwc'"
    ):
        P.GlobalMaxPooling2D(data_format="nhwc")
