"""Keras's preprocessing layers of structured data, which have no weights and no gradient::

CategoryEncoding(num_tokens, output_mode)   integer categories -> one-hot / multi-hot / counts
Discretization(bin_boundaries)              numbers -> the index of their bin (int64)

Both read their inputs as values, not as something to train through: their backward passes
zeros to the layer before (an integer input has no gradient; a bin index is constant between
the boundaries).
"""

from __future__ import annotations

import numpy as np

from minidl import backend
from minidl.nn.layers.base import Layer

from .weights import KerasLayerAPI

__all__ = ["CategoryEncoding", "Discretization"]


class _NoGradient(KerasLayerAPI, Layer):
    takes_integer_ids = True  # a Sequential hands integer inputs over unchanged

    def backward(self, dy):
        x_shape = self.require_cache()
        return backend.get_array_module(dy).zeros(x_shape, dtype=dy.dtype)


class CategoryEncoding(_NoGradient):
    """Integer categories ``0 .. num_tokens - 1`` as vectors of length ``num_tokens``:
    ``"one_hot"`` (one category per sample: inputs ``(N,)`` or ``(N, 1)``), ``"multi_hot"`` (1
    where any of a sample's categories is) or ``"count"`` (how often each is), float32. A
    category outside the range is an error, as in Keras."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if num_tokens is None or int(num_tokens) < 1:
            raise ValueError(f"CategoryEncoding needs num_tokens >= 1, got {num_tokens!r}")
        if output_mode not in ("one_hot", "multi_hot", "count"):
            raise ValueError(
                f"CategoryEncoding output_mode must be 'one_hot', 'multi_hot' or 'count', got {output_mode!r}"
            )
        if sparse:
            raise NotImplementedError(
                "CategoryEncoding(sparse=True) is not in minidl_keras: its outputs are dense"
            )
        self.num_tokens, self.output_mode, self.sparse = int(num_tokens), output_mode, False

    def output_shape_for(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "one_hot" and (not shape or shape[-1] != 1):
            return (*shape, self.num_tokens)
        return (*shape[:-1], self.num_tokens)

    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        ids = xp.asarray(x)
        if ids.dtype.kind == "f" and not bool(xp.all(ids == xp.round(ids))):
            raise ValueError("CategoryEncoding takes integer categories, got fractional values")
        ids = ids.astype(np.int64)
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= self.num_tokens):
            raise ValueError(
                f"CategoryEncoding(num_tokens={self.num_tokens}) got a category outside 0..{self.num_tokens - 1}: "
                f"{int(ids.min())}..{int(ids.max())}"
            )
        self.cache = ids.shape
        if ids.ndim == 0 or self.output_mode == "one_hot" and ids.shape[-1] != 1:
            ids = ids[..., None]  # one category per entry: each gets its own vector
        flat = ids.reshape(-1, ids.shape[-1])
        counts = (flat[:, :, None] == xp.arange(self.num_tokens)).sum(axis=1).astype(np.float32)
        if self.output_mode != "count":
            counts = (counts > 0).astype(np.float32)
        return counts.reshape(*ids.shape[:-1], self.num_tokens)


class Discretization(_NoGradient):
    """The index of each value's bin, int64: ``bin_boundaries=[0., 1., 2.]`` makes the bins
    ``(-inf, 0), [0, 1), [1, 2), [2, inf)``, numbered 0 to 3 (Keras's rule: a value on a
    boundary goes to the bin above it). Adapting to data (``num_bins=``) is not in minidl_keras."""

    def __init__(
        self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", name=None, **kwargs
    ):
        super().__init__(name, **kwargs)
        if bin_boundaries is None:
            raise NotImplementedError(
                "Discretization(num_bins=...) with adapt() is not in minidl_keras: give the "
                "bin_boundaries (np.quantile(x, [0.25, 0.5, 0.75]) makes four bins of equal counts)"
            )
        if output_mode != "int":
            raise NotImplementedError(
                f"Discretization(output_mode={output_mode!r}) is not in minidl_keras: it outputs bin "
                "indices ('int'); layers.CategoryEncoding turns them into one-hot vectors"
            )
        self.bin_boundaries = [float(b) for b in bin_boundaries]
        self.num_bins, self.epsilon, self.output_mode = num_bins, epsilon, output_mode

    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        x = xp.asarray(x)
        self.cache = x.shape
        return xp.searchsorted(xp.asarray(self.bin_boundaries), x, side="right").astype(np.int64)
