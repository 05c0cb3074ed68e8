"""The synthetic sets: spirals and XOR (shapes, seeds, geometry, errors)."""

import numpy as np
import pytest

import minidl
from minidl import datasets

# =========================================================================== synthetic sets
SYNTHETIC = [datasets.make_spirals, datasets.make_xor]


@pytest.mark.parametrize("make", SYNTHETIC)
def test_synthetic_shapes_types_and_seed(make):
    x, y = make(n_samples=101, seed=4)
    assert x.shape == (101, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    assert y.shape == (101,) and y.dtype == np.int64
    x2, y2 = make(n_samples=101, seed=4)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = make(n_samples=101, seed=5)
    assert not np.array_equal(x, x3)


@pytest.mark.parametrize("make", SYNTHETIC)
def test_synthetic_uses_minidl_seed_when_seed_is_none(make):
    minidl.seed(11)
    first = make()
    second = make()  # the shared generator moved on
    minidl.seed(11)
    again = make()
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], second[0])


def test_spirals_classes_and_balance():
    x, y = datasets.make_spirals(n_samples=301, n_classes=4, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [76, 75, 75, 75]
    assert np.linalg.norm(x, axis=1).max() <= 1.0 + 1e-6


def test_xor_labels_follow_quadrants_without_noise():
    x, y = datasets.make_xor(n_samples=500, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (x[:, 0] > 0) ^ (x[:, 1] > 0))
    assert 0.4 < y.mean() < 0.6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_samples=0), "n_samples must be an integer >= 1, got 0"),
        (dict(n_samples=10.5), "n_samples must be an integer"),
        (dict(noise=-0.1), "noise must be a finite number >= 0, got -0.1"),
        (dict(n_classes=1), "n_classes must be an integer >= 2"),
    ],
)
def test_synthetic_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.make_spirals(**kwargs)
