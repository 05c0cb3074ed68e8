"""A loss's reduction, part of minidl's extension API (docs/ARCHITECTURE.md, "Extending
minidl"): ``set_reduction`` replaces the mean, ``scale_grad`` keeps the gradient in step."""

import numpy as np
import pytest

from minidl.nn import losses
from minidl.nn.gradcheck import numerical_gradient


def sum_over_samples(loss, values, y_pred, sample_weight):
    """The sum of the per-sample losses instead of their mean (gradient scaled to match)."""
    loss.scale_grad(len(values))
    return float(values.sum() / values[0].size) if values.ndim > 1 else float(values.sum())


def test_set_reduction_replaces_the_mean_and_its_gradient_matches():
    rng = np.random.default_rng(1)
    y_pred, y_true = rng.standard_normal((5, 1)), rng.standard_normal((5, 1))
    plain = losses.MeanSquaredError()
    summed = losses.MeanSquaredError()
    summed.set_reduction(sum_over_samples)
    assert summed(y_pred, y_true) == pytest.approx(5 * plain(y_pred, y_true))
    numeric = numerical_gradient(lambda: summed(y_pred, y_true), y_pred)
    summed(y_pred, y_true)
    assert np.allclose(summed.backward(), numeric, atol=1e-6)
    assert "_reduction" not in summed.get_config() and summed.get_config() == plain.get_config()
    summed.set_reduction(None)
    assert summed(y_pred, y_true) == pytest.approx(plain(y_pred, y_true))


def test_scale_grad_scales_the_last_gradient():
    loss = losses.MeanSquaredError()
    y_pred = np.ones((2, 3))
    loss(y_pred, np.zeros((2, 3)))
    before = loss.backward().copy()
    loss.scale_grad(np.array([[1.0], [0.0]]))
    assert np.allclose(loss.backward(), before * np.array([[1.0], [0.0]]))
