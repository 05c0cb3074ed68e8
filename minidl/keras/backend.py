"""``keras.backend``: the few calls Keras programs make on it."""

from .config import floatx, image_data_format, set_image_data_format

__all__ = ["clear_session", "floatx", "image_data_format", "set_image_data_format", "backend"]


def clear_session(free_memory: bool = True) -> None:
    """Nothing to clear: minidl keeps no graph or global layer names between models.
    (Keras programs call it before building a new model; reseed with
    ``keras.utils.set_random_seed`` for repeatable weights.)"""


def backend() -> str:
    """The name of the engine under this namespace."""
    return "minidl"
