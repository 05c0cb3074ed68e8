"""``keras.activations``: activation functions by Keras's names.

Each is minidl's activation layer applied once: on arrays it computes; on a KerasTensor
(inside a custom layer's ``call`` or a functional model) it records a node whose backward
is the layer's hand-written one. ``Dense(activation=keras.activations.elu)`` means
``Dense(activation="elu")``. ``gelu`` is the tanh approximation (Keras's default is the exact
erf form: they differ by less than 1e-3).
"""

from __future__ import annotations

from minidl.nn.layers import activations as _A

from .missing import KerasFeatureMissing

__all__ = [
    "relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "swish", "silu", "softplus", "relu6",
    "gelu", "leaky_relu", "get",
]  # fmt: skip


def _named(layer_class, name):
    def activation(x):
        return layer_class()(x)

    activation.__name__ = activation.__qualname__ = name
    activation.__doc__ = layer_class.__doc__
    return activation


relu = _named(_A.ReLU, "relu")
sigmoid = _named(_A.Sigmoid, "sigmoid")
tanh = _named(_A.Tanh, "tanh")
selu = _named(_A.SELU, "selu")
swish = _named(_A.Swish, "swish")
silu = _named(_A.Swish, "silu")
softplus = _named(_A.Softplus, "softplus")
relu6 = _named(_A.ReLU6, "relu6")
gelu = _named(_A.GELU, "gelu")


def elu(x, alpha: float = 1.0):
    return _A.ELU(alpha)(x)


def leaky_relu(x, negative_slope: float = 0.2):
    return _A.LeakyReLU(negative_slope)(x)


def softmax(x, axis: int = -1):
    return _A.Softmax(axis)(x)


def linear(x):
    return x


def get(identifier):
    """The function for a name (``"relu"``), or the function itself."""
    if callable(identifier):
        return identifier
    if identifier is None:
        return linear
    if identifier in __all__[:-1]:
        return globals()[identifier]
    raise ValueError(f"unknown activation {identifier!r}; keras.activations has {', '.join(__all__[:-1])}")


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.activations.{name} is not in minidl_keras; it has {', '.join(__all__[:-1])}"
    )
