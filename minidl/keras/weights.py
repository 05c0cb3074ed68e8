"""Weights as Keras lays them out, for ``get_weights``/``set_weights`` (and the files of
``save_weights``) through this door, so arrays move between Keras and minidl unchanged.

minidl's kernels hold PyTorch's layout; Keras's differ for the convolutions only:

    Conv2D           minidl W (F, C, KH, KW)      Keras kernel (KH, KW, C, F)
    Conv2DTranspose  minidl W (C, F, KH, KW)      Keras kernel (KH, KW, F, C)
    Conv1D           minidl W (F, C, K)           Keras kernel (K, C, F)

Every other weight (Dense's (in, out) kernel, biases, LSTM's blocks, batch-norm statistics)
is laid out alike.
"""

from __future__ import annotations

import numpy as np

from ..nn import layers as _L

__all__ = ["to_keras", "from_keras"]

# the axes that turn minidl's W into Keras's kernel
_TO_KERAS = {_L.Conv2D: (2, 3, 1, 0), _L.Conv2DTranspose: (2, 3, 1, 0), _L.Conv1D: (2, 1, 0)}


def _axes(layer, key):
    return _TO_KERAS.get(type(layer)) if key == "W" else None


def to_keras(layer, key: str, array):
    """``layer.params[key]`` (or a copy of it) in Keras's layout."""
    axes = _axes(layer, key)
    return array if axes is None else np.ascontiguousarray(np.transpose(array, axes))


def from_keras(layer, key: str, array):
    """A Keras-laid-out weight in minidl's layout for ``layer.params[key]``."""
    axes = _axes(layer, key)
    return array if axes is None else np.ascontiguousarray(np.transpose(array, np.argsort(axes)))
