"""Keras's elementwise layers minidl's own door writes otherwise, with no weights::

Activation("relu")        an activation as its own layer (minidl: ``Dense(..., activation=)``
                          or the activation's layer, ``ReLU()``)
Rescaling(scale, offset)  y = x * scale + offset  (pixels 0..255 -> 0..1 inside the model)
                          dx = dy * scale
"""

from __future__ import annotations

import numpy as np

from minidl.nn.layers import activations
from minidl.nn.layers.base import Layer

from .weights import KerasLayerAPI

__all__ = ["Activation", "Rescaling"]


class Activation(KerasLayerAPI, Layer):
    """An activation as a layer of its own: ``Activation("relu")`` is ``Dense(..., activation="relu")``
    split in two (Keras's ``Activation``). ``"linear"`` is the identity."""

    def __init__(self, activation, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.activation = activation
        self.activation_layer = activations.get(activation)

    def forward(self, x, training=False):
        x = self.check_input(x)
        return x if self.activation_layer is None else self.activation_layer.forward(x, training)

    def backward(self, dy):
        return dy if self.activation_layer is None else self.activation_layer.backward(dy)


class Rescaling(KerasLayerAPI, Layer):
    """``y = x * scale + offset`` elementwise: Keras's ``Rescaling(1.0 / 255)`` puts the scaling
    of 0..255 pixels into the model. ``dx = dy * scale``; no params. Integer inputs become
    floating point (the model's dtype when ``fit`` casts them, float32 otherwise)."""

    def __init__(self, scale: float, offset: float = 0.0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        for what, value in (("scale", scale), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise TypeError(f"Rescaling {what} must be a number, got {value!r}")
        self.scale, self.offset = float(scale), float(offset)

    def forward(self, x, training=False):
        x = self.check_input(x)
        if x.dtype.kind != "f":
            x = x.astype(np.float32)
        return x * x.dtype.type(self.scale) + x.dtype.type(self.offset)

    def backward(self, dy):
        return dy * dy.dtype.type(self.scale)
