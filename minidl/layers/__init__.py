"""Layers: each one a forward and a hand-written backward (see ``base.Layer``)."""
from .base import LAYER_CLASSES, Layer
from .core import Dense, Dropout, Flatten, Reshape
from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh

__all__ = ["Layer", "LAYER_CLASSES", "Dense", "Dropout", "Flatten", "Reshape",
           "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU"]
