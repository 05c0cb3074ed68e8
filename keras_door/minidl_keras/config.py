"""``keras.config``: this namespace's image data format (channels-last, Keras's default),
kept apart from minidl's own (``minidl.nn.layers.image_data_format()``, channels-first)."""

from minidl.nn.layers.base import check_data_format

__all__ = ["image_data_format", "set_image_data_format", "floatx"]

_settings = {"image_data_format": "channels_last"}


def image_data_format() -> str:
    """The ``data_format`` that ``minidl_keras.layers`` give image and sequence layers."""
    return _settings["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    """Change it for layers created from now on through ``minidl_keras.layers`` only."""
    _settings["image_data_format"] = check_data_format(data_format, "set_image_data_format")


def floatx() -> str:
    """The dtype models are built in: float32 (``Sequential(dtype="float64")`` for another)."""
    return "float32"
