"""Keras's small reshaping layers: ``RepeatVector``, ``Permute``, ``UpSampling1D``,
``ZeroPadding1D``, ``Cropping1D``, ``Cropping2D``.

None has weights; each moves or copies values, so its backward moves the gradient back::

    RepeatVector(n)   (N, D) -> (N, n, D), y[:, t] = x        dx = sum over t of dy[:, t]
    Permute(dims)     axes 1.. reordered by dims (1-based)     dx = dy with the inverse order
    UpSampling1D(s)   (N, T, C) -> (N, s T, C), each step s times   dx = sum of each step's s copies
    ZeroPadding1D(p)  zeros before and after the steps         dx = dy without them
    Cropping1D/2D     steps (rows, columns) cut at the edges   dx = dy with zeros where they were

Sequences are channels-last (N, T, C), as in Keras; ``Cropping2D`` follows ``data_format``.
"""

from __future__ import annotations

import numpy as np

from minidl import backend
from minidl.nn.layers.base import Layer

from .pooling import _format
from .weights import KerasLayerAPI

__all__ = ["RepeatVector", "Permute", "UpSampling1D", "ZeroPadding1D", "Cropping1D", "Cropping2D"]


def _pair_of_ints(value, who: str) -> tuple[int, int]:
    """An int ``p`` as ``(p, p)``, a pair as itself; both >= 0."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 0 for v in pair):
        raise ValueError(f"{who} takes an int >= 0 or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


class RepeatVector(KerasLayerAPI, Layer):
    """``RepeatVector(n)``: (N, D) -> (N, n, D), the input repeated at every step."""

    input_ndims = (2,)
    input_layout = "(N, D)"

    def __init__(self, n, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"RepeatVector n must be a positive integer, got {n!r}")
        self.n = int(n)

    def compute_output_shape(self, input_shape):
        return (self.n, *input_shape)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = True
        return backend.get_array_module(x).repeat(x[:, None, :], self.n, axis=1)

    def backward(self, dy):
        self.require_cache()
        return dy.sum(axis=1)


class Permute(KerasLayerAPI, Layer):
    """``Permute(dims)``: the axes after the batch reordered, ``dims`` numbered from 1 (Keras's
    ``Permute((2, 1))`` swaps the steps and the features of (N, T, C))."""

    def __init__(self, dims, name=None, **kwargs):
        super().__init__(name, **kwargs)
        dims = tuple(int(d) for d in dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute dims must reorder 1..{len(dims)}, got {dims}")
        self.dims = dims
        self.input_ndims = (len(dims) + 1,)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = True
        return x.transpose(0, *self.dims)

    def backward(self, dy):
        self.require_cache()
        return dy.transpose(0, *(1 + int(i) for i in np.argsort(self.dims)))


class UpSampling1D(KerasLayerAPI, Layer):
    """``UpSampling1D(size)``: (N, T, C) -> (N, size T, C), each step repeated ``size`` times."""

    input_ndims = (3,)
    input_layout = "(N, T, C)"

    def __init__(self, size=2, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"UpSampling1D size must be a positive integer, got {size!r}")
        self.size = int(size)

    def compute_output_shape(self, input_shape):
        steps, channels = input_shape
        return (None if steps is None else steps * self.size, channels)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = True
        return backend.get_array_module(x).repeat(x, self.size, axis=1)

    def backward(self, dy):
        self.require_cache()
        n, steps, channels = dy.shape
        return dy.reshape(n, steps // self.size, self.size, channels).sum(axis=2)


class ZeroPadding1D(KerasLayerAPI, Layer):
    """``ZeroPadding1D(padding)``: zero steps before and after each sequence (N, T, C);
    ``padding`` is an int or ``(before, after)``."""

    input_ndims = (3,)
    input_layout = "(N, T, C)"

    def __init__(self, padding=1, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.padding = _pair_of_ints(padding, "ZeroPadding1D padding")

    def compute_output_shape(self, input_shape):
        steps, channels = input_shape
        return (None if steps is None else steps + sum(self.padding), channels)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x.shape[1]
        return backend.get_array_module(x).pad(x, ((0, 0), self.padding, (0, 0)))

    def backward(self, dy):
        steps = self.require_cache()
        return dy[:, self.padding[0] : self.padding[0] + steps]


class Cropping1D(KerasLayerAPI, Layer):
    """``Cropping1D(cropping)``: steps cut from the start and the end of each sequence (N, T, C);
    ``cropping`` is an int or ``(start, end)``."""

    input_ndims = (3,)
    input_layout = "(N, T, C)"

    def __init__(self, cropping=(1, 1), name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.cropping = _pair_of_ints(cropping, "Cropping1D cropping")

    def compute_output_shape(self, input_shape):
        steps, channels = input_shape
        return (None if steps is None else steps - sum(self.cropping), channels)

    def forward(self, x, training=False):
        x = self.check_input(x)
        start, end = self.cropping
        if start + end >= x.shape[1]:
            raise ValueError(f"Cropping1D{self.cropping} leaves no step of a sequence of {x.shape[1]}")
        self.cache = x.shape
        return x[:, start : x.shape[1] - end]

    def backward(self, dy):
        shape = self.require_cache()
        dx = backend.get_array_module(dy).zeros(shape, dtype=dy.dtype)
        dx[:, self.cropping[0] : self.cropping[0] + dy.shape[1]] = dy
        return dx


class Cropping2D(KerasLayerAPI, Layer):
    """``Cropping2D(cropping)``: rows and columns cut at the edges of each image; ``cropping``
    is an int, ``(rows, columns)`` or ``((top, bottom), (left, right))`` (a U-Net crops the
    encoder's map to the decoder's this way)."""

    input_ndims = (4,)

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.data_format = _format(data_format)
        if isinstance(cropping, (int, np.integer)):
            cropping = (cropping, cropping)
        if len(cropping) != 2:
            raise ValueError(f"Cropping2D takes an int, (rows, columns) or two pairs, got {cropping!r}")
        self.cropping = (
            _pair_of_ints(cropping[0], "Cropping2D cropping"),
            _pair_of_ints(cropping[1], "Cropping2D cropping"),
        )
        self.input_layout = "(N, H, W, C)" if self.data_format == "channels_last" else "(N, C, H, W)"

    def _spatial_axes(self) -> tuple[int, int]:
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (a, b) in zip(self._spatial_axes(), self.cropping):
            shape[axis - 1] = None if shape[axis - 1] is None else shape[axis - 1] - a - b
        return tuple(shape)

    def _cropped_region(self, shape) -> tuple:
        index = [slice(None)] * 4
        for axis, (a, b) in zip(self._spatial_axes(), self.cropping):
            if a + b >= shape[axis]:
                raise ValueError(f"Cropping2D{self.cropping} leaves nothing of an image of {tuple(shape)}")
            index[axis] = slice(a, shape[axis] - b)
        return tuple(index)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x.shape
        return x[self._cropped_region(x.shape)]

    def backward(self, dy):
        shape = self.require_cache()
        dx = backend.get_array_module(dy).zeros(shape, dtype=dy.dtype)
        dx[self._cropped_region(shape)] = dy
        return dx
