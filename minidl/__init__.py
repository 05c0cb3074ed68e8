"""minidl: deep learning written by hand, readable first and fast second.

    import minidl as mdl
    from minidl import layers as L, losses, optim, callbacks, datasets

``minidl.gallery``, ``minidl.zoo``, ``minidl.plot`` (with Matplotlib) and ``minidl.keras``
(Keras's door: ``import minidl.keras as keras``) are imported on first use, so
``import minidl`` stays light; ``mdl.zoo.load(...)`` and ``from minidl import zoo`` work as usual.
"""
import importlib

from ._version import __version__
from . import backend
from .backend import seed
from . import (callbacks, data, datasets, gradcheck, initializers, layers, losses, metrics, models,
               optim, regularizers, utils)
from .model import NonFiniteLossError, Sequential, load_model

_ON_FIRST_USE = ("gallery", "keras", "plot", "zoo")

__all__ = ["__version__", "backend", "seed", "callbacks", "data", "datasets", "gallery", "gradcheck",
           "keras", "plot", "zoo", "initializers", "layers", "losses", "metrics", "models", "optim",
           "regularizers", "utils", "Sequential", "load_model", "NonFiniteLossError"]


def __getattr__(name: str):
    """Import ``gallery``, ``keras``, ``plot`` and ``zoo`` the first time they are asked for."""
    if name in _ON_FIRST_USE:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))
