"""The reference dropout: the mask from the given uniforms, inverted scaling, the backward."""

import numpy as np
import pytest

from minidl.kernels.reference import dropout as K


def test_elements_below_the_rate_are_dropped_and_the_rest_scaled():
    x = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    uniform = np.array([0.1, 0.25, 0.5, 0.9])
    y, mask = K.dropout_forward(x, uniform, 0.25)
    assert mask.tolist() == pytest.approx([0.0, 4 / 3, 4 / 3, 4 / 3])  # u >= rate is kept
    assert y.tolist() == pytest.approx([0.0, 8 / 3, 4.0, 16 / 3])
    assert y.dtype == mask.dtype == np.float32


def test_the_expected_output_is_the_input():
    rng = np.random.default_rng(0)
    x = np.full(200_000, 2.0)
    y, _ = K.dropout_forward(x, rng.random(x.shape), 0.4)
    assert y.mean() == pytest.approx(2.0, rel=0.01)
    assert np.mean(y == 0) == pytest.approx(0.4, abs=0.01)


def test_the_gradient_passes_through_the_kept_elements_only():
    _, mask = K.dropout_forward(np.ones(3), np.array([0.0, 0.6, 0.9]), 0.5)
    assert K.dropout_backward(np.array([1.0, 1.0, 3.0]), mask).tolist() == [0.0, 2.0, 6.0]


def test_rate_zero_is_the_identity():
    x = np.arange(4.0)
    y, mask = K.dropout_forward(x, np.zeros(4), 0.0)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(mask, np.ones(4))
