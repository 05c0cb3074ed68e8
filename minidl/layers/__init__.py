"""Layers: each one a forward and a hand-written backward (see ``base.Layer``)."""
from .base import Layer, LAYER_CLASSES
