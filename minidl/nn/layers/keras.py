"""Keras's names for what minidl already has, so Keras programs run with their imports changed.

    Input(shape)               declares a model's per-sample input shape (not a layer of the model)
    Activation("relu")         an activation as its own layer
    MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, BatchNormalization
                               the same classes as MaxPool2D, AvgPool2D, GlobalAvgPool2D,
                               BatchNorm: they print and save under minidl's names
"""
from __future__ import annotations

from . import activations
from .base import Layer
from .conv import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .normalization import BatchNorm

__all__ = ["Input", "Activation", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
           "BatchNormalization"]

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
            raise ValueError("Input needs the per-sample shape, e.g. Input(shape=(784,)) or "
                             "Input(shape=(None, 10)) for sequences")
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
