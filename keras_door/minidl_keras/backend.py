"""``keras.backend``: the few calls Keras programs make on it."""

from . import naming
from .config import floatx, image_data_format, set_image_data_format

__all__ = ["clear_session", "floatx", "image_data_format", "set_image_data_format", "backend"]


def clear_session(free_memory: bool = True) -> None:
    """Forget the layer, input and metric names made so far (the next unnamed ``Dense`` is
    ``"dense"`` again, the next ``keras.metrics.AUC()`` ``"auc"``, as in Keras); minidl keeps no
    graph between models. (Keras programs call it before building a new model; reseed with
    ``keras.utils.set_random_seed`` for repeatable weights.)"""
    naming.clear_names()


def backend() -> str:
    """The name of the engine under this namespace."""
    return "minidl"
