"""The error for a Keras feature that ``minidl_keras`` does not have."""


class KerasFeatureMissing(NotImplementedError, AttributeError):
    """Raised for a Keras name that minidl lacks; the message names the closest minidl way.

    A ``NotImplementedError`` (not a silent difference) that is also an ``AttributeError``, so
    ``hasattr(keras.layers, "X")`` is simply False and ``getattr(..., default)`` works.
    """


def feature_missing(what: str, closest: str) -> KerasFeatureMissing:
    """The error for the Keras name ``what`` (``"keras.layers.Attention"``): it is not here, and
    ``closest`` says the minidl way."""
    return KerasFeatureMissing(f"{what} is not in minidl_keras: {closest}")
