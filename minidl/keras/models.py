"""``keras.models``: ``Sequential`` (minidl's own class), ``Model`` (the functional API and
subclassing, ``minidl.keras.functional``) and ``load_model``."""

from ..training.model import Sequential, load_model
from .functional import Model

__all__ = ["Sequential", "Model", "load_model"]
