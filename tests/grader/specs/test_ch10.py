"""Chapter 10's spec (``grader/minidl_grader/specs/ch10.py``, fast cpu kernels): its cases
are drawn by the grading seed alone (tests/grader/specs/spec_checks.py), and its references
agree with minidl's own kernels and with their formulas. Its kernels are judged through the
probes: tests/grader/test_public.py, tests/grader/test_numba_evidence.py."""

import numpy as np
import pytest

from tests.grader.specs import spec_checks as checks

CHAPTER = "10_fast_cpu_kernels"


@pytest.mark.parametrize("name", checks.code_exercises(CHAPTER))
def test_the_cases_are_drawn_by_the_seed(name):
    checks.assert_the_cases_are_drawn_by_the_seed(name)


def test_the_depthwise_reference_is_minidls_convolution_channel_by_channel():
    """A depthwise convolution is minidl's Conv2D applied to each channel alone (one filter)."""
    from minidl_grader.specs import ch10

    from minidl import layers as L

    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((3, 3, 3))
    for stride, pad in [(1, 0), (2, 1), (1, 2)]:
        channels = []
        for c in range(3):
            conv = L.Conv2D(1, 3, stride=stride, padding=pad, use_bias=False)
            conv.build((1, 7, 6))
            conv.params["W"] = W[c][None, None]
            channels.append(conv.forward(x[:, c : c + 1]))
        y = np.concatenate(channels, axis=1)
        np.testing.assert_allclose(ch10.depthwise_conv2d_numba(x, W, stride, pad), y, rtol=1e-12, atol=1e-12)


def test_the_padded_average_backward_is_the_derivative_of_a_padded_average():
    """Finite differences of y[i, j] = the mean of the part of window (i, j) inside the image."""
    from minidl_grader.specs import ch10

    from minidl.nn.gradcheck import numerical_gradient

    rng = np.random.default_rng(1)
    x, pool, stride, pad = rng.standard_normal((1, 2, 5, 5)), 3, 2, 1
    oh = (5 + 2 * pad - pool) // stride + 1
    dy = rng.standard_normal((1, 2, oh, oh))

    def forward():
        y = np.zeros((1, 2, oh, oh))
        for i in range(oh):
            for j in range(oh):
                top, left = i * stride - pad, j * stride - pad
                window = x[:, :, max(top, 0) : top + pool, max(left, 0) : left + pool]
                y[:, :, i, j] = window.mean(axis=(2, 3))
        return np.sum(y * dy)

    dx = ch10.avgpool2d_padded_backward_numba(dy, 5, 5, pool, stride, pad)
    np.testing.assert_allclose(dx, numerical_gradient(forward, x), rtol=1e-6, atol=1e-9)
