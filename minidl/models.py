"""Where Keras keeps its model classes: ``from minidl.models import Sequential, load_model``."""
from .model import Sequential, load_model

__all__ = ["Sequential", "load_model"]
