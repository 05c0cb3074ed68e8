"""The sequence sets: the adding problem and sine sequences with their baselines."""

import numpy as np
import pytest

from minidl import datasets


# =========================================================================== sequences
def test_adding_problem_target_is_sum_of_marked_values():
    x, y = datasets.make_adding_problem(n=64, length=20, seed=0)
    assert x.shape == (64, 20, 2) and y.shape == (64, 1)
    assert x.dtype == y.dtype == np.float32
    markers = x[..., 1]
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :10].sum(axis=1) == 1).all()  # one mark in each half
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(y[:, 0], (x[..., 0] * markers).sum(axis=1))
    assert ((0 <= x[..., 0]) & (x[..., 0] < 1)).all()


def test_adding_problem_mean_baseline_scores_about_one_sixth():
    _, y = datasets.make_adding_problem(n=4000, length=10, seed=1)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.015


def test_sine_sequences_shapes_and_baseline():
    x, y = datasets.make_sine_sequences(n_series=400, length=30, noise=0.05, seed=0)
    assert x.shape == (400, 30, 1) and y.shape == (400, 1) and x.dtype == np.float32
    naive = datasets.last_value_forecast(x)
    np.testing.assert_array_equal(naive, x[:, -1, :])
    naive_mse = np.mean((naive - y) ** 2)
    # the naive forecast is better than guessing the mean but far from the noise floor...
    assert 0.05**2 < naive_mse < np.var(y)
    # ...and a linear model on the last 10 values beats it: the data is predictable
    lags = x[:, -10:, 0]
    design = np.column_stack([lags, np.ones(len(lags))])
    coef, *_ = np.linalg.lstsq(design, y[:, 0], rcond=None)
    linear_mse = np.mean((design @ coef - y[:, 0]) ** 2)
    assert linear_mse < naive_mse / 2


def test_sine_sequences_deterministic_and_validated():
    a = datasets.make_sine_sequences(n_series=5, length=8, seed=3)
    b = datasets.make_sine_sequences(n_series=5, length=8, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="period_range"):
        datasets.make_sine_sequences(period_range=(20, 10))
    with pytest.raises(ValueError, match=r"expected sequences \(N, T, D\), got shape \(3, 4\)"):
        datasets.last_value_forecast(np.zeros((3, 4)))


@pytest.mark.parametrize("length", [40, 50])  # chapter 12's series, examples/rnn_sine.py's
def test_test_series_share_no_example_with_training(length):
    # the sets are drawn from two seeds, as chapter 12 draws them: continuous values, so no
    # held-out series (or adding-problem input) equals a training one, and none repeats
    def rows(x, y):
        return {a.tobytes() + b.tobytes() for a, b in zip(x, y)}

    train = rows(*datasets.make_sine_sequences(n_series=1000, length=length, noise=0.05, seed=1))
    test = rows(*datasets.make_sine_sequences(n_series=500, length=length, noise=0.05, seed=2))
    assert len(train) == 1000 and len(test) == 500 and not train & test
    train = rows(*datasets.make_adding_problem(n=1000, length=length, seed=1))
    test = rows(*datasets.make_adding_problem(n=500, length=length, seed=2))
    assert len(train) == 1000 and len(test) == 500 and not train & test
