"""``keras.config``: this namespace's image data format (channels-last, Keras's default;
minidl's own layers take channels-first only)."""

__all__ = ["image_data_format", "set_image_data_format", "floatx"]

_settings = {"image_data_format": "channels_last"}


def image_data_format() -> str:
    """The ``data_format`` that ``minidl_keras.layers`` give image and sequence layers."""
    return _settings["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    """Change it for layers created from now on through ``minidl_keras.layers`` only."""
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            "set_image_data_format data_format must be 'channels_first' (N, C, H, W) or "
            f"'channels_last' (N, H, W, C), got {data_format!r}"
        )
    _settings["image_data_format"] = data_format


def floatx() -> str:
    """The dtype models are built in: float32 (``Sequential(dtype="float64")`` for another)."""
    return "float32"
