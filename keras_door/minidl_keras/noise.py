"""Keras's noise layers: ``SpatialDropout1D``, ``SpatialDropout2D``, ``GaussianNoise``,
``GaussianDropout``, and ``Identity``.

All are the identity at inference; in training (``fit``, or ``training=True``)::

    SpatialDropout1D/2D(rate)  whole channels zeroed, for every step or pixel alike, the rest
                               scaled by 1 / (1 - rate)             dx = dy * mask
    GaussianNoise(stddev)      y = x + e,  e ~ N(0, stddev^2)       dx = dy
    GaussianDropout(rate)      y = x * m,  m ~ N(1, rate / (1 - rate))   dx = dy * m

Neighbouring steps of a sequence (pixels of a feature map) are strongly correlated, so dropping
single values barely regularizes; dropping a whole channel does (Tompson et al., 2015). The
noise comes from ``minidl.backend.rng()`` (``minidl.seed``), or with ``seed=`` from a generator
of the layer's own, not from Keras's ``SeedGenerator``.
"""

from __future__ import annotations

import numpy as np

from minidl import backend
from minidl.nn.layers.base import Layer
from minidl.nn.layers.checks import fraction

from .pooling import _format
from .weights import KerasLayerAPI

__all__ = ["SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "Identity"]


_PASS_THROUGH = "pass-through"  # the cache of a forward that changed nothing (inference)


def _on_device_of(x, values):
    return backend.to_device(values.astype(x.dtype, copy=False), backend.device_of(x))


class _Noise(KerasLayerAPI, Layer):
    """A layer that draws noise in training: from its own generator with ``seed=``, else from
    minidl's (``minidl.seed``)."""

    def __init__(self, seed=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.seed = seed
        self._own_rng = None if seed is None else np.random.default_rng(seed)

    def rng(self) -> np.random.Generator:
        return self._own_rng if self._own_rng is not None else backend.rng()


class _SpatialDropout(_Noise):
    """Dropout of whole channels: one keep-or-drop draw per (sample, channel)."""

    def __init__(self, rate, seed=None, name=None, **kwargs):
        super().__init__(seed, name, **kwargs)
        self.rate = fraction(rate, f"{type(self).__name__} rate")

    def _mask_shape(self, shape) -> tuple:
        raise NotImplementedError

    def forward(self, x, training=False):
        x = self.check_input(x)
        if not training or self.rate == 0.0:
            self.cache = _PASS_THROUGH
            return x
        keep = self.rng().random(self._mask_shape(x.shape)) >= self.rate
        self.cache = _on_device_of(x, keep / (1.0 - self.rate))  # broadcasts over steps/pixels
        return x * self.cache

    def backward(self, dy):
        mask = self.require_cache()
        return dy if mask is _PASS_THROUGH else dy * mask


class SpatialDropout1D(_SpatialDropout):
    """``SpatialDropout1D(rate)`` on sequences (N, T, C): a dropped channel is zero at every step."""

    input_ndims = (3,)
    input_layout = "(N, T, C)"

    def _mask_shape(self, shape) -> tuple:
        return (shape[0], 1, shape[2])


class SpatialDropout2D(_SpatialDropout):
    """``SpatialDropout2D(rate, data_format)`` on images: a dropped channel is zero at every pixel."""

    input_ndims = (4,)

    def __init__(self, rate, data_format=None, seed=None, name=None, **kwargs):
        super().__init__(rate, seed, name, **kwargs)
        self.data_format = _format(data_format)
        self.input_layout = "(N, H, W, C)" if self.data_format == "channels_last" else "(N, C, H, W)"

    def _mask_shape(self, shape) -> tuple:
        if self.data_format == "channels_last":
            return (shape[0], 1, 1, shape[3])
        return (shape[0], shape[1], 1, 1)


class GaussianNoise(_Noise):
    """``GaussianNoise(stddev)``: zero-mean Gaussian noise added in training."""

    def __init__(self, stddev, seed=None, name=None, **kwargs):
        super().__init__(seed, name, **kwargs)
        if not isinstance(stddev, (int, float, np.floating)) or stddev < 0:
            raise ValueError(f"GaussianNoise stddev must be a number >= 0, got {stddev!r}")
        self.stddev = float(stddev)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = True
        if not training or self.stddev == 0.0:
            return x
        return x + _on_device_of(x, self.rng().normal(0.0, self.stddev, size=x.shape))

    def backward(self, dy):
        self.require_cache()
        return dy


class GaussianDropout(_Noise):
    """``GaussianDropout(rate)``: multiplicative noise of mean 1 and variance
    ``rate / (1 - rate)`` in training (the variance of inverted dropout's scaling)."""

    def __init__(self, rate, seed=None, name=None, **kwargs):
        super().__init__(seed, name, **kwargs)
        self.rate = fraction(rate, "GaussianDropout rate")

    def forward(self, x, training=False):
        x = self.check_input(x)
        if not training or self.rate == 0.0:
            self.cache = _PASS_THROUGH
            return x
        stddev = np.sqrt(self.rate / (1.0 - self.rate))
        self.cache = _on_device_of(x, self.rng().normal(1.0, stddev, size=x.shape))
        return x * self.cache

    def backward(self, dy):
        noise = self.require_cache()
        return dy if noise is _PASS_THROUGH else dy * noise


class Identity(KerasLayerAPI, Layer):
    """``Identity()``: returns its input (a placeholder in a model's list of layers)."""

    def forward(self, x, training=False):
        self.cache = True
        return x

    def backward(self, dy):
        self.require_cache()
        return dy
