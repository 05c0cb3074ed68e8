"""minidl: deep learning written by hand, readable first and fast second.

    import minidl as mdl
    from minidl import layers as L, losses, optim, callbacks, datasets

``minidl.gallery``, ``minidl.zoo`` and ``minidl.plot`` (with Matplotlib) are imported on first
use, so ``import minidl`` stays light; ``mdl.zoo.load(...)`` and ``from minidl import zoo`` work as usual.
"""

import importlib

from . import backend, datasets, models
from ._version import __version__
from .backend import seed

# The short spellings readers use (``mdl.layers.Dense``, ``from minidl import layers as L``)
# are ordinary attributes bound to the modules where the code lives: ``minidl.layers`` *is*
# ``minidl.nn.layers``. An import path, though, is a file path: ``import minidl.nn.layers``.
from .nn import gradcheck, initializers, layers, losses, optim, regularizers
from .training import augment, callbacks, data, metrics
from .training.model import NonFiniteLossError, Sequential, load_model

_ON_FIRST_USE = ("gallery", "plot", "zoo")

__all__ = ["__version__", "backend", "seed", "augment", "callbacks", "data", "datasets", "gallery"]
__all__ += ["gradcheck", "plot", "zoo", "initializers", "layers", "losses", "metrics", "models", "optim"]
__all__ += ["regularizers", "Sequential", "load_model", "NonFiniteLossError"]


def __getattr__(name: str):
    """Import ``gallery``, ``plot`` and ``zoo`` the first time they are asked for."""
    if name in _ON_FIRST_USE:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))
