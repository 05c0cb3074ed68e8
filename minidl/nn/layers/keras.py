"""Keras's names for what minidl already has, so Keras programs run with their imports changed.

Input(shape)               declares a model's per-sample input shape (not a layer of the model)
Activation("relu")         an activation as its own layer
Rescaling(scale, offset)   y = x * scale + offset (pixels 0..255 -> 0..1 inside the model)
MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, BatchNormalization
                           the same classes as MaxPool2D, AvgPool2D, GlobalAvgPool2D,
                           BatchNorm: they print and save under minidl's names
"""

from __future__ import annotations

import numpy as np

from . import activations
from .base import Layer
from .conv import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .normalization import BatchNorm

__all__ = [
    "Input",
    "Activation",
    "Rescaling",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "BatchNormalization",
]

MaxPooling2D = MaxPool2D
AveragePooling2D = AvgPool2D
GlobalAveragePooling2D = GlobalAvgPool2D
BatchNormalization = BatchNorm


class Input(Layer):
    """``Input(shape)``: the per-sample shape of a model's inputs, without the batch axis.

    As the first entry of ``Sequential([Input((28, 28, 1)), ...])`` (or the first
    ``model.add``) it means exactly ``Sequential(..., input_shape=(28, 28, 1))`` and, as in
    Keras, it is not kept in ``model.layers``. ``None`` marks a free axis: ``Input((None, 10))``
    for sequences of any length. Used on its own it passes its input through unchanged.
    """

    def __init__(self, shape=None, name=None, **kwargs):
        if shape is None:
            shape = kwargs.pop("input_shape", None)
        if shape is None:
            raise ValueError(
                "Input needs the per-sample shape, e.g. Input(shape=(784,)) or "
                "Input(shape=(None, 10)) for sequences"
            )
        super().__init__(name, input_shape=shape, **kwargs)
        self.shape = self.declared_input_shape

    def forward(self, x, training=False):
        return self.check_input(x)

    def backward(self, dy):
        return dy


class Activation(Layer):
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


class Rescaling(Layer):
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
