"""minidl: deep learning written by hand, readable first and fast second.

    import minidl as mdl
    from minidl import layers as L, losses, optim, callbacks, datasets

``minidl.gallery``, ``minidl.zoo``, ``minidl.plot`` (with Matplotlib) and ``minidl.keras``
(Keras's door: ``import minidl.keras as keras``) are imported on first use, so
``import minidl`` stays light; ``mdl.zoo.load(...)`` and ``from minidl import zoo`` work as usual.
"""

import importlib

from . import _moved

_moved.install()  # old paths (minidl.layers, minidl.model, ...) name the moved modules

from ._version import __version__  # noqa: E402
from . import backend  # noqa: E402
from .backend import seed  # noqa: E402
from .nn import gradcheck, initializers, layers, losses, optim, regularizers  # noqa: E402
from .training import augment, callbacks, data, metrics  # noqa: E402
from .training.model import NonFiniteLossError, Sequential, load_model  # noqa: E402
from . import datasets, models, utils  # noqa: E402

_ON_FIRST_USE = ("gallery", "keras", "plot", "zoo")

__all__ = [
    "__version__",
    "backend",
    "seed",
    "augment",
    "callbacks",
    "data",
    "datasets",
    "gallery",
    "gradcheck",
    "keras",
    "plot",
    "zoo",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optim",
    "regularizers",
    "utils",
    "Sequential",
    "load_model",
    "NonFiniteLossError",
]


def __getattr__(name: str):
    """Import ``gallery``, ``keras``, ``plot`` and ``zoo`` the first time they are asked for."""
    if name in _ON_FIRST_USE:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))
