"""``keras.layers.Normalization``: standardize features with a mean and variance learned by
``adapt(data)`` (or given), as Keras 3 does::

    y = (x - mean) / max(sqrt(variance), 1e-7)          dy/dx = 1 / max(sqrt(variance), 1e-7)
    invert=True:  y = mean + x * max(sqrt(variance), 1e-7)

``axis`` names the axes that keep their own statistics (``-1``: one mean per feature;
``None``: one mean for everything); the others are averaged over by ``adapt`` (the
variance is the biased one, as Keras's). The statistics are not trained: Keras's
non-trainable weights ``mean``, ``variance`` and ``count`` (``get_weights`` order), held in
``buffers``; with ``mean=`` and ``variance=`` given the layer has no weights.
"""

from __future__ import annotations

import numpy as np

from minidl import backend
from minidl.nn.layers.base import Layer

from . import layer_options
from .weights import KerasLayerAPI

__all__ = ["Normalization"]

EPSILON = 1e-7  # keras.config.epsilon()


class Normalization(KerasLayerAPI, Layer):
    """Keras 3's ``Normalization(axis=-1, mean=None, variance=None, invert=False)``.

    Shapes: x (N, ...) -> y of the same shape; the statistics have the shape of the kept axes.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.axis = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        if 0 in self.axis:
            raise ValueError(f"Normalization axis may not include the batch axis 0, got axis={axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both mean and variance, or neither (then adapt)")
        self.given_mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.given_variance = None if variance is None else np.asarray(variance, dtype=np.float32)
        self.invert = bool(invert)
        self.trainable = False
        self._adapted = False

    @property
    def mean(self):
        """Keras's ``layer.mean``: the given mean, or the adapted one (None before ``build``),
        shaped as Keras shapes it once built: to broadcast against the inputs, 1 on every
        averaged axis and the batch axis ((1, d) for (N, d) inputs; the weight itself,
        ``get_weights()[0]``, is (d,))."""
        return self._broadcast(self.given_mean if self.given_mean is not None else self.buffers.get("mean"))

    @property
    def variance(self):
        """Keras's ``layer.variance``: the given variance, or the adapted one (shaped as ``mean``)."""
        return self._broadcast(
            self.given_variance if self.given_variance is not None else self.buffers.get("variance")
        )

    def _broadcast(self, value):
        if value is None or not self.built or self.input_shape is None:
            return value
        ndim = 1 + len(self.input_shape)
        shape = [1] * ndim
        keep = self._keep_axes(ndim)
        if value.ndim == len(keep):
            for d, size in zip(keep, value.shape):
                shape[d] = size
            return value.reshape(shape)
        return value

    def _keep_axes(self, ndim: int) -> tuple[int, ...]:
        keep = []
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise ValueError(f"Normalization axis {a} is out of range for inputs of {ndim} axes")
            keep.append(a % ndim)
        return tuple(sorted(keep))

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        ndim = 1 + len(input_shape)
        full = (None, *input_shape)
        keep = self._keep_axes(ndim)
        if self.given_mean is None:
            shape = tuple(full[d] for d in keep)
            if any(d is None for d in shape):
                raise ValueError(f"Normalization: the kept axes {self.axis} need a known size, got {full}")
            self.add_buffer("mean", np.zeros(shape, dtype=dtype))
            self.add_buffer("variance", np.ones(shape, dtype=dtype))
            self.add_buffer("count", np.zeros((), dtype=np.int32))  # Keras 3 keeps it 0 (old files' slot)

    def _statistics(self, ndim: int, dtype):
        """mean and standard deviation, shaped to broadcast against (N, ...) inputs."""
        keep = self._keep_axes(ndim)
        if self.given_mean is None:
            mean, variance = self.buffers["mean"], self.buffers["variance"]
        else:
            mean, variance = self.given_mean, self.given_variance
        if mean.ndim and mean.ndim == len(keep):  # one entry per kept position
            shape = [1] * ndim
            for d, size in zip(keep, mean.shape):
                shape[d] = size
            mean, variance = mean.reshape(shape), variance.reshape(shape)
        std = np.maximum(np.sqrt(variance), EPSILON)
        return np.asarray(mean, dtype=dtype), np.asarray(std, dtype=dtype)

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the mean and (biased) variance of ``data`` (N, ...) over the axes not kept."""
        if self.given_mean is not None:
            raise ValueError("Normalization was given mean and variance: it has nothing to adapt")
        data = np.asarray(data, dtype=np.float64)
        if not self.built:
            self.build(data.shape[1:])
        keep = self._keep_axes(data.ndim)
        reduce = tuple(d for d in range(data.ndim) if d not in keep)
        dtype = self.buffers["mean"].dtype
        self.buffers["mean"][...] = data.mean(axis=reduce).astype(dtype)
        self.buffers["variance"][...] = data.var(axis=reduce).astype(dtype)
        self._adapted = True

    def forward(self, x, training=False):
        x = backend.get_array_module(x).asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        if not self.built:
            self.build(x.shape[1:], x.dtype)
        mean, std = self._statistics(x.ndim, x.dtype)
        xp = backend.get_array_module(x)
        mean, std = xp.asarray(mean), xp.asarray(std)
        self.cache = std
        return mean + x * std if self.invert else (x - mean) / std

    def backward(self, dy):
        std = self.require_cache()
        return dy * std if self.invert else dy / std

    def get_config(self) -> dict:
        return layer_options.keras_config(
            self,
            {
                "name": self.name,
                "axis": self.axis[0] if len(self.axis) == 1 else (None if not self.axis else list(self.axis)),
                "mean": None if self.given_mean is None else self.given_mean.tolist(),
                "variance": None if self.given_variance is None else self.given_variance.tolist(),
                "invert": self.invert,
            },
        )
