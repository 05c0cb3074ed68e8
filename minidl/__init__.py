"""minidl: deep learning written by hand, readable first and fast second.

    import minidl as mdl
    from minidl import layers as L, losses, optim, callbacks, datasets
"""
__version__ = "0.1.0"

from . import backend
from .backend import seed
from . import (callbacks, data, datasets, gallery, gradcheck, initializers, layers, losses,
               metrics, optim, plot, regularizers, zoo)
from . import models, utils
from .model import NonFiniteLossError, Sequential, load_model

__all__ = ["__version__", "backend", "seed", "callbacks", "data", "datasets", "gallery", "gradcheck", "plot", "zoo", "initializers",
           "layers", "losses", "metrics", "models", "optim", "regularizers", "utils", "Sequential", "load_model",
           "NonFiniteLossError"]
