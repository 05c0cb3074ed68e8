"""Chapter 11's spec (``grader/minidl_grader/specs/ch11.py``, gpu kernels): its cases
are drawn by the grading seed alone (tests/grader/specs/spec_checks.py), and its references
agree with minidl's own kernels and with their formulas. Its kernels are judged through the
probes: tests/grader/test_public.py, tests/grader/test_numba_evidence.py."""

import numpy as np
import pytest

from tests.grader.specs import spec_checks as checks

CHAPTER = "11_gpu_kernels"


@pytest.mark.parametrize("name", checks.code_exercises(CHAPTER))
def test_the_cases_are_drawn_by_the_seed(name):
    checks.assert_the_cases_are_drawn_by_the_seed(name)


def test_the_references_against_their_formulas():
    from minidl_grader.specs import ch11

    rng = np.random.default_rng(0)
    x, b = rng.standard_normal(2 * 3 * 2 * 2).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    y = ch11.bias_relu(x, b, (2, 3, 2, 2))
    channel = (np.arange(x.size) // 4) % 3  # element i is in channel (i / (H W)) % C
    np.testing.assert_allclose(y, np.maximum(x + b[channel], 0), rtol=1e-6)
    xs = np.array([-120.0, -3.0, 0.0, 2.0, 90.0], np.float32)
    s = 1 / (1 + np.exp(-xs.astype(np.float64)))
    np.testing.assert_allclose(
        ch11._silu_backward(np.ones(5, np.float32), xs), s + xs * s * (1 - s), rtol=1e-6, atol=1e-30
    )
    assert np.isfinite(ch11._silu_backward(np.ones(5, np.float32), xs)).all()  # no overflow at -120


def test_the_upsample_backward_sums_each_block_of_dy():
    from minidl_grader.specs import ch11

    from minidl.nn.layers import UpSampling2D

    rng = np.random.default_rng(1)
    shape, factor = (2, 3, 2, 3), 2
    dy = rng.standard_normal((2, 3, 4, 6)).astype(np.float32)
    layer = UpSampling2D(factor)
    layer.forward(np.zeros(shape, np.float32))
    expected = layer.backward(dy)
    np.testing.assert_allclose(ch11.upsample_backward(dy.ravel(), shape, factor), expected.ravel(), rtol=1e-6)
