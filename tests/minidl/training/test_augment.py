"""Data augmentation: what each transform does, that minidl.seed repeats it, and that
DataLoader and fit apply it to training batches only."""

import numpy as np
import pytest

import minidl as mdl
from minidl import augment, losses, optim
from minidl import layers as L
from minidl.training.data import DataLoader


def test_random_shift_keeps_shape_and_moves_each_image_by_at_most_max_shift(rng):
    x = np.zeros((50, 1, 9, 9), np.float32)
    x[:, 0, 4, 4] = 1.0  # one bright pixel in the middle
    mdl.seed(0)
    y = augment.RandomShift(2)(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    rows, cols = (
        np.nonzero(y[:, 0].reshape(50, -1) == 1.0)[1] // 9,
        np.nonzero(y[:, 0].reshape(50, -1) == 1.0)[1] % 9,
    )
    assert len(rows) == 50 and set(rows - 4) <= {-2, -1, 0, 1, 2} and set(cols - 4) <= {-2, -1, 0, 1, 2}
    assert len(set(zip(rows, cols))) > 10  # images get different offsets
    np.testing.assert_array_equal(x[:, 0, 4, 4], 1.0)  # the input is not changed
    assert augment.RandomShift(2)(x[:, 0]).shape == (50, 9, 9)  # (N, H, W) works too


def test_random_crop(rng):
    x = rng.standard_normal((3, 2, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(augment.RandomCrop(6)(x), x)  # no room: the identity
    y = augment.RandomCrop(6, padding=2, seed=0)(x)
    assert y.shape == x.shape
    crops = augment.RandomCrop((4, 5), seed=1)(x)
    assert crops.shape == (3, 2, 4, 5)
    for n in range(3):  # every crop is a window of its image
        assert any(
            np.array_equal(crops[n], x[n, :, i : i + 4, j : j + 5]) for i in range(3) for j in range(2)
        )
    with pytest.raises(ValueError, match=r"cannot cut \(8, 8\) from images \(6, 6\)"):
        augment.RandomCrop(8)(x)


def test_random_flip(rng):
    x = rng.standard_normal((40, 1, 3, 4))
    y = augment.RandomFlip("horizontal", seed=0)(x)
    flipped = np.array([np.array_equal(y[n], x[n, :, :, ::-1]) for n in range(40)])
    kept = np.array([np.array_equal(y[n], x[n]) for n in range(40)])
    assert np.all(flipped | kept) and 5 < flipped.sum() < 35
    y = augment.RandomFlip("vertical", seed=0)(x)
    assert all(np.array_equal(y[n], x[n, :, ::-1]) or np.array_equal(y[n], x[n]) for n in range(40))
    with pytest.raises(ValueError, match="mode"):
        augment.RandomFlip("diagonal")


def test_gaussian_noise_statistics():
    x = np.ones((200, 50), np.float32)
    y = augment.GaussianNoise(0.3, seed=0)(x)
    assert y.dtype == np.float32
    assert abs((y - x).mean()) < 0.01 and (y - x).std() == pytest.approx(0.3, rel=0.02)


def test_same_seed_same_augmentation_different_seed_different():
    x = np.random.default_rng(0).random((16, 1, 8, 8)).astype(np.float32)
    t = augment.Compose([augment.RandomShift(2), augment.RandomFlip(), augment.GaussianNoise(0.1)])
    mdl.seed(3)
    a = t(x)
    mdl.seed(3)
    b = t(x)
    mdl.seed(4)
    c = t(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dataloader_applies_the_transform_per_batch():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    seen = []

    def record(batch):
        seen.append(batch.copy())
        return batch * 2

    loader = DataLoader(x, np.arange(10), batch_size=4, transform=record)
    batches = [xb for xb, _ in loader]
    assert len(seen) == 3
    np.testing.assert_array_equal(np.concatenate(batches), 2 * x)
    np.testing.assert_array_equal(x[:, 0], np.arange(10))  # the stored data is unchanged
    with pytest.raises(TypeError, match="callable"):
        DataLoader(x, transform="shift")


def _fit(augment_with):
    mdl.seed(0)
    x = np.random.default_rng(0).random((48, 1, 8, 8)).astype(np.float32)
    y = np.arange(48) % 3
    model = mdl.Sequential([L.Flatten(), L.Dense(3)], input_shape=(1, 8, 8))
    model.compile(optim.SGD(0.1), losses.SparseCategoricalCrossentropy(from_logits=True))
    return model.fit(
        x, y, epochs=2, batch_size=16, verbose=0, validation_data=(x, y), augment=augment_with
    ).history


def test_fit_augments_training_batches_only_and_repeats_under_seed():
    calls = []

    def counting_shift(batch):
        calls.append(len(batch))
        return augment.RandomShift(1)(batch)

    first = _fit(counting_shift)
    assert calls == [16] * 6  # 3 batches x 2 epochs, no validation batch
    assert first == _fit(augment.RandomShift(1))  # same seed, same numbers
    assert first != _fit(None)


def test_random_shift_draws_what_the_zoo_was_trained_with(rng):
    """The zoo's weights were trained with a per-image loop; RandomShift must give the same
    images from the same seed, so `python tools/zoo_train.py` still rebuilds the files."""
    x = rng.standard_normal((7, 2, 6, 5)).astype(np.float32)
    mdl.seed(5)
    ours = augment.RandomShift(2)(x)
    mdl.seed(5)
    m = 2
    padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)))
    offsets = mdl.backend.rng().integers(0, 2 * m + 1, size=(7, 2))
    loop = np.stack([padded[n, :, dy : dy + 6, dx : dx + 5] for n, (dy, dx) in enumerate(offsets)])
    np.testing.assert_array_equal(ours, loop)
