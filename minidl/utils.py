"""Keras's ``utils`` names: ``to_categorical`` (one-hot labels) and the image data format."""

from __future__ import annotations

import numpy as np

from .nn.layers.base import image_data_format, set_image_data_format
from .training.data import one_hot

__all__ = ["to_categorical", "image_data_format", "set_image_data_format"]


def to_categorical(y, num_classes: int | None = None, dtype="float32"):
    """Integer labels (N,) (or (N, 1), as Keras accepts) -> one-hot rows (N, num_classes).

    Keras's name for ``minidl.training.data.one_hot``; ``num_classes`` defaults to ``max(y) + 1``.
    """
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # Keras accepts whole-number floats as labels
    return one_hot(y, num_classes, dtype=np.dtype(dtype))
