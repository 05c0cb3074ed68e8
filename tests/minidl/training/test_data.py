"""DataLoader, one-hot and standardisation."""

import numpy as np
import pytest

import minidl as mdl
from minidl.training.data import DataLoader, one_hot, standardize


def test_dataloader_batches_cover_everything_once():
    x, y = np.arange(10), np.arange(10) * 10
    batches = list(DataLoader(x, y, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert len(DataLoader(x, y, batch_size=4, drop_last=True)) == 2
    shuffled = list(DataLoader(x, y, batch_size=3, shuffle=True, seed=0))
    xs = np.concatenate([b[0] for b in shuffled])
    assert sorted(xs) == list(range(10)) and not np.array_equal(xs, x)
    assert all(np.array_equal(bx * 10, by) for bx, by in shuffled)


def test_dataloader_shuffle_is_seeded():
    x = np.arange(100)
    mdl.seed(3)
    first = np.concatenate(list(DataLoader(x, batch_size=10, shuffle=True)))
    mdl.seed(3)
    again = np.concatenate(list(DataLoader(x, batch_size=10, shuffle=True)))
    np.testing.assert_array_equal(first, again)
    loader = DataLoader(x, batch_size=10, shuffle=True, seed=1)
    assert not np.array_equal(
        np.concatenate(list(loader)), np.concatenate(list(loader))
    )  # new order per epoch


def test_dataloader_errors():
    with pytest.raises(ValueError, match="empty dataset"):
        DataLoader(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="same number of samples, got 3 and 2"):
        DataLoader(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        DataLoader(np.zeros(3), batch_size=0)


def test_one_hot_and_standardize():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        one_hot(np.array([3]), 3)
    with pytest.raises(TypeError, match="integer labels"):
        one_hot(np.array([1.0]))
    x = np.random.default_rng(0).normal(5, 3, size=(1000, 2))
    z, mean, std = standardize(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-4)
    z2, _, _ = standardize(x[:10], mean, std)
    np.testing.assert_allclose(z2, z[:10], rtol=1e-6)
