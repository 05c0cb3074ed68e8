"""``keras.activations``: activation functions by Keras's names.

On arrays each computes; on a KerasTensor (inside a custom layer's ``call``) it records a
``keras.ops`` node with its hand-written backward. ``Dense(activation=keras.activations.relu)``
means ``Dense(activation="relu")``: a layer takes the function by its name.
"""

from __future__ import annotations

from . import ops
from .missing import KerasFeatureMissing

__all__ = ["relu", "sigmoid", "tanh", "softmax", "linear", "get"]


def relu(x):
    return ops.relu(x)


def sigmoid(x):
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def softmax(x, axis: int = -1):
    return ops.softmax(x, axis=axis)


def linear(x):
    return x


def get(identifier):
    """The function for a name (``"relu"``) or the function itself."""
    if callable(identifier):
        return identifier
    if identifier is None:
        return linear
    if identifier in __all__[:-1]:
        return globals()[identifier]
    raise ValueError(f"unknown activation {identifier!r}; keras.activations has {', '.join(__all__[:-1])}")


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.activations.{name} is not in minidl.keras; it has {', '.join(__all__[:-1])}"
    )
