"""Feeding data to a model: mini-batches, one-hot labels, standardisation."""

from __future__ import annotations

import math

import numpy as np

from .. import backend


class DataLoader:
    """Iterate over ``(x_batch, y_batch)`` pairs of ``batch_size`` samples.

    ``shuffle=True`` draws a new order every epoch (every ``iter``) from ``seed``'s own
    generator, or from minidl's generator when ``seed`` is None, so ``minidl.seed`` makes
    the order repeatable. ``drop_last`` skips a final batch smaller than ``batch_size``.
    ``y`` may be None (unlabelled data: batches are then just ``x_batch``). With
    ``sample_weight`` (one weight per sample) the batches are ``(x_batch, y_batch, w_batch)``.
    ``transform`` (a callable ``x_batch -> x_batch``, e.g. ``minidl.training.augment.RandomShift(2)``)
    is applied to every ``x_batch`` as it is served: data augmentation, drawn afresh each
    epoch; the stored ``x`` is never changed.
    """

    def __init__(
        self,
        x,
        y=None,
        batch_size: int = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        sample_weight=None,
        transform=None,
    ):
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        n = len(x)
        if n == 0:
            raise ValueError("DataLoader got an empty dataset (0 samples)")
        if y is not None and len(y) != n:
            raise ValueError(f"x and y must have the same number of samples, got {n} and {len(y)}")
        if sample_weight is not None and (y is None or len(sample_weight) != n):
            raise ValueError(
                f"sample_weight needs targets y and one weight per sample: {n}, got {len(sample_weight)}"
            )
        self.x, self.y, self.batch_size = x, y, int(batch_size)
        self.sample_weight = sample_weight
        self.shuffle, self.drop_last = shuffle, drop_last
        self._rng = np.random.default_rng(seed) if seed is not None else None
        if transform is not None and not callable(transform):
            raise TypeError(
                f"DataLoader transform must be a callable x_batch -> x_batch, got {type(transform).__name__}"
            )
        self.transform = transform

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        order = (self._rng or backend.rng()).permutation(len(self.x)) if self.shuffle else None
        for i in range(len(self)):
            start, stop = i * self.batch_size, (i + 1) * self.batch_size
            index = slice(start, stop) if order is None else order[start:stop]
            xb = self.x[index] if self.transform is None else self.transform(self.x[index])
            if self.y is None:
                yield xb
            elif self.sample_weight is None:
                yield xb, self.y[index]
            else:
                yield xb, self.y[index], self.sample_weight[index]


def yields_batches(x) -> bool:
    """Whether ``x`` is a source of batches -- a generator, an iterator, a ``DataLoader``, an
    object with ``__getitem__`` and ``__len__`` giving batches (a batch sequence) -- rather
    than the samples themselves (an array, or a list of samples)."""
    if hasattr(x, "shape") or isinstance(x, (list, tuple, dict, str, bytes)):
        return False
    batch_sequence = hasattr(x, "__getitem__") and hasattr(x, "__len__")
    return hasattr(x, "__iter__") or hasattr(x, "__next__") or batch_sequence


def one_hot(labels, num_classes: int | None = None, dtype=np.float32):
    """Integer labels (N,) -> one-hot rows (N, num_classes)."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"one_hot expected integer labels, got dtype {labels.dtype}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"one_hot expected labels in [0, {num_classes}), got values from {labels.min()} to {labels.max()}"
        )
    return (labels[..., None] == np.arange(num_classes)).astype(dtype)


def standardize(x, mean=None, std=None, axis=0, eps: float = 1e-8):
    """``(x - mean) / std``, returning ``(x_standardized, mean, std)``.

    Compute ``mean`` and ``std`` on the training set and pass them for the test set,
    so both are transformed the same way.
    """
    x = np.asarray(x, dtype=np.float32)
    if mean is None:
        mean = x.mean(axis=axis, keepdims=True)
    if std is None:
        std = x.std(axis=axis, keepdims=True)
    return (x - mean) / (std + eps), mean, std
