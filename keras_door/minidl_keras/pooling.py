"""Keras's pooling layers: minidl's own in Keras's layout, and those minidl lacks.

``MaxPooling1D``/``2D``, ``AveragePooling1D``/``2D``, ``GlobalAveragePooling1D``/``2D`` are
minidl's pools made channels-last (``layout.channels_last_class``); ``GlobalAveragePooling1D``
also takes Keras's ``mask`` (N, L) and averages the real steps only::

    y[n, c] = sum_t m[n, t] x[n, t, c] / sum_t m[n, t]       dx[n, t, c] = m[n, t] dy[n, c] / sum_t m[n, t]

``GlobalMaxPooling1D``/``2D`` and ``ZeroPadding2D`` are this door's own, channels-last unless
``data_format="channels_first"`` (this door's setting by default). They have no weights::

    GlobalMaxPooling2D  (N, H, W, C) -> (N, C)      y = max over H, W
                        dx = dy at each channel's maximum (shared equally by ties), else 0
    GlobalMaxPooling1D  (N, L, C) -> (N, C)         the same over L
    ZeroPadding2D       (N, H, W, C) -> (N, t + H + b, l + W + r, C)
                        dx = the middle of dy
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend
from minidl.nn import layers as _L
from minidl.nn.layers.base import Layer

from . import config, conv1d
from .layout import DOOR_CLASSES, channels_last_class
from .missing import KerasFeatureMissing
from .weights import KerasLayerAPI

__all__ = [
    "MaxPool1D",
    "MaxPool2D",
    "AvgPool1D",
    "AvgPool2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "UpSampling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "ZeroPadding2D",
]


def _format(data_format):
    data_format = data_format or config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


# Keras's positional order: (pool_size, strides, padding, data_format), (size, data_format), (data_format)
MaxPool1D = channels_last_class(conv1d.MaxPool1D, data_format_at=3)
MaxPool2D = channels_last_class(_L.MaxPool2D, data_format_at=3)
AvgPool1D = channels_last_class(conv1d.AvgPool1D, data_format_at=3)
AvgPool2D = channels_last_class(_L.AvgPool2D, data_format_at=3)
GlobalAvgPool2D = channels_last_class(_L.GlobalAvgPool2D, data_format_at=0)


def bilinear_matrix(n: int, scale: int) -> np.ndarray:
    """The (n * scale, n) matrix of Keras's bilinear resize along one axis (half-pixel
    centres): output i reads the input at ``(i + 0.5) / scale - 0.5``, clamped to [0, n - 1],
    from its two neighbours, weighted by distance."""
    out = np.zeros((n * scale, n))
    for i in range(n * scale):
        at = min(max((i + 0.5) / scale - 0.5, 0.0), n - 1.0)
        low = int(np.floor(at))
        high = min(low + 1, n - 1)
        out[i, low] += 1.0 - (at - low)
        out[i, high] += at - low
    return out


class _UpSampling2D(_L.UpSampling2D, register=False):
    """minidl's ``UpSampling2D`` (each pixel an ``sh x sw`` block) and Keras's
    ``interpolation="bilinear"``: ``y = A_h x A_w^T`` for each image and channel, ``A`` the
    matrices of ``bilinear_matrix``, so ``dx = A_h^T dy A_w`` (no weights)."""

    def __init__(self, size=2, name=None, interpolation="nearest", **kwargs):
        super().__init__(size, name, **kwargs)
        if interpolation not in ("nearest", "bilinear"):
            raise KerasFeatureMissing(
                f"keras.layers.UpSampling2D(interpolation={interpolation!r}) is not in minidl_keras: it "
                "has 'nearest' and 'bilinear'; resize the images before the model for another interpolation"
            )
        self.interpolation = interpolation

    def forward(self, x, training=False):
        if self.interpolation == "nearest":
            return super().forward(x, training)
        x = self.check_input(x)
        xp = backend.get_array_module(x)
        (H, W), (sh, sw) = x.shape[2:], self.size
        rows, cols = (xp.asarray(bilinear_matrix(n, s), dtype=x.dtype) for n, s in ((H, sh), (W, sw)))
        self.cache = (rows, cols)
        return xp.ascontiguousarray(xp.einsum("ih,nchw,jw->ncij", rows, x, cols))

    def backward(self, dy):
        if self.interpolation == "nearest":
            return super().backward(dy)
        rows, cols = self.require_cache()
        xp = backend.get_array_module(dy)
        return xp.ascontiguousarray(xp.einsum("ih,ncij,jw->nchw", rows, dy, cols))


_UpSampling2D.__name__ = _UpSampling2D.__qualname__ = "UpSampling2D"
UpSampling2D = channels_last_class(_UpSampling2D, data_format_at=1)


_GlobalAvgPool1D: Any = channels_last_class(conv1d.GlobalAvgPool1D, data_format_at=0)


class GlobalAvgPool1D(_GlobalAvgPool1D, register=False):  # type: ignore[call-arg]
    """minidl's ``GlobalAvgPool1D`` in Keras's layout, with Keras's ``mask`` (N, L) of booleans
    (from ``Embedding(mask_zero=True)``): the mean over the real steps only. A sample with no
    real step is an error (Keras divides 0 by 0 and returns NaN)."""

    def forward(self, x, training=False, mask=None):
        if not hasattr(x, "ndim"):
            x = np.asarray(x, dtype=np.float32)
        y = super().forward(x, training)  # builds and checks the layer, and caches (N, C, L)
        if mask is None:
            self._weights = None
            return y
        N, _, L = self.cache
        xp = backend.get_array_module(y)
        if tuple(mask.shape) != (N, L):
            raise ValueError(
                f"{self.label} mask must have shape (N, L) = ({N}, {L}), got {tuple(mask.shape)}"
            )
        weights = xp.asarray(mask, dtype=y.dtype)
        counts = weights.sum(axis=1, keepdims=True)
        if not bool(xp.all(counts > 0)):
            empty = int(xp.argmin(counts[:, 0]))
            raise ValueError(
                f"{self.label}: sample {empty} has no unmasked step to average (Keras would give NaN); "
                "drop empty sequences or give them at least one token"
            )
        self._weights = weights / counts  # (N, L): 1 / (real steps) where real, else 0
        steps = 1 if self.channels_last else 2
        return (x * xp.expand_dims(self._weights, -1 if self.channels_last else 1)).sum(axis=steps)

    def backward(self, dy):
        weights = getattr(self, "_weights", None)
        if weights is None:
            return super().backward(dy)
        xp = backend.get_array_module(dy)
        if self.channels_last:
            return xp.ascontiguousarray(dy[:, None, :] * weights[:, :, None])
        return xp.ascontiguousarray(dy[:, :, None] * weights[:, None, :])


DOOR_CLASSES[conv1d.GlobalAvgPool1D] = GlobalAvgPool1D  # a file loads it back with its mask


class _GlobalMax(KerasLayerAPI, Layer):
    spatial_rank = 2

    def __init__(self, data_format=None, keepdims: bool = False, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.data_format, self.keepdims = _format(data_format), bool(keepdims)
        self.input_ndims = (self.spatial_rank + 2,)
        where = "L" if self.spatial_rank == 1 else "H, W"
        self.input_layout = f"(N, {where}, C)" if self.data_format == "channels_last" else f"(N, C, {where})"

    def _axes(self, ndim):
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.spatial_rank))

    def compute_output_shape(self, input_shape):
        axes = [a - 1 for a in self._axes(len(input_shape) + 1)]
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def forward(self, x, training=False):
        x = self.check_input(x)
        axes = self._axes(x.ndim)
        y = x.max(axis=axes, keepdims=True)
        hits = x == y
        self.cache = (hits / hits.sum(axis=axes, keepdims=True)).astype(x.dtype)
        return y if self.keepdims else y.reshape(self.cache.shape[0], -1)

    def backward(self, dy):
        share = self.require_cache()
        axes = self._axes(share.ndim)
        shape = tuple(1 if a in axes else n for a, n in enumerate(share.shape))
        return share * dy.reshape(shape)


class GlobalMaxPooling2D(_GlobalMax):
    """The largest value of each channel over the image: (N, H, W, C) -> (N, C)."""


class GlobalMaxPooling1D(_GlobalMax):
    """The largest value of each channel over the sequence: (N, L, C) -> (N, C)."""

    spatial_rank = 1


class ZeroPadding2D(KerasLayerAPI, Layer):
    """``ZeroPadding2D(padding)``: rows and columns of zeros around each image; ``padding`` is
    an int, ``(rows, columns)`` or ``((top, bottom), (left, right))``."""

    input_ndims = (4,)

    def __init__(self, padding=(1, 1), data_format=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.data_format = _format(data_format)
        if isinstance(padding, (int, np.integer)):
            padding = ((padding, padding), (padding, padding))
        elif all(isinstance(p, (int, np.integer)) for p in padding):
            padding = ((padding[0], padding[0]), (padding[1], padding[1]))
        self.padding = tuple(tuple(int(v) for v in p) for p in padding)
        if any(v < 0 for p in self.padding for v in p):
            raise ValueError(f"ZeroPadding2D padding must be >= 0, got {padding!r}")
        self.input_layout = "(N, H, W, C)" if self.data_format == "channels_last" else "(N, C, H, W)"

    def _pad_widths(self):
        (t, b), (left, r) = self.padding
        if self.data_format == "channels_last":
            return ((0, 0), (t, b), (left, r), (0, 0))
        return ((0, 0), (0, 0), (t, b), (left, r))

    def compute_output_shape(self, input_shape):
        widths = self._pad_widths()[1:]
        return tuple(None if d is None else d + a + b for d, (a, b) in zip(input_shape, widths))

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x.shape
        return backend.get_array_module(x).pad(x, self._pad_widths())

    def backward(self, dy):
        shape = self.require_cache()
        index = tuple(slice(a, a + n) for (a, _), n in zip(self._pad_widths(), shape))
        return dy[index]
