"""``keras.activations``: activation functions by Keras's names.

Each is minidl's activation layer applied once: on arrays it computes; on a KerasTensor
(inside a custom layer's ``call`` or a functional model) it records a node whose backward
is the layer's hand-written one. ``Dense(activation=keras.activations.elu)`` means
``Dense(activation="elu")``. ``gelu`` is the tanh approximation (Keras's default is the exact
erf form: they differ by less than 1e-3).

``selu``, ``swish``/``silu``, ``softplus`` and ``relu6`` are layers of the door's own (no chapter
uses them), written as minidl's activations are, and added to minidl's ``ACTIVATIONS`` so that
``Dense(activation="selu")`` finds them:

    SELU      f = scale * elu(x, alpha) (fixed constants)   f' = scale * elu'(x)
    Swish     f = x s, s = sigmoid(x)                       f' = s + x s (1 - s)
    Softplus  f = log(1 + e^x)                              f' = sigmoid(x)
    ReLU6     f = min(max(x, 0), 6)                         f' = [0 < x < 6]
"""

from __future__ import annotations

from minidl import backend
from minidl.kernels.common import sigmoid as _sigmoid
from minidl.nn.layers import activations as _A
from minidl.nn.layers.base import Layer

from .missing import KerasFeatureMissing

__all__ = [
    "relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "swish", "silu", "softplus", "relu6",
    "gelu", "leaky_relu", "get",
]  # fmt: skip


class SELU(_A.ELU):
    """``scale * elu(x, alpha)`` with the self-normalising constants (Klambauer et al., 2017)."""

    ALPHA, SCALE = 1.6732632423543772, 1.0507009873554805

    def __init__(self, name=None, **kwargs):
        Layer.__init__(self, name, **kwargs)
        self.alpha = self.ALPHA

    def forward(self, x, training=False):
        return super().forward(x, training) * x.dtype.type(self.SCALE)

    def backward(self, dy):
        positive, y = self.require_cache()  # y is elu(x): scale * elu'(x)
        xp = backend.get_array_module(y)
        return dy * (self.SCALE * xp.where(positive, 1.0, y + self.alpha)).astype(y.dtype)


class Swish(Layer):
    """``x sigmoid(x)`` (SiLU); gradient ``s + x s (1 - s)``, s = sigmoid(x)."""

    def forward(self, x, training=False):
        x = self.check_input(x)
        s = _sigmoid(x)
        self.cache = (x, s)
        return x * s

    def backward(self, dy):
        x, s = self.require_cache()
        return dy * (s + x * s * (1.0 - s))


class Softplus(Layer):
    """``log(1 + e^x)``, a smooth ReLU, computed as ``logaddexp(0, x)``; gradient ``sigmoid(x)``."""

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x
        return backend.get_array_module(x).logaddexp(0, x).astype(x.dtype)

    def backward(self, dy):
        return dy * _sigmoid(self.require_cache())


class ReLU6(Layer):
    """``min(max(x, 0), 6)``; gradient 1 strictly between 0 and 6."""

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = (x > 0) & (x < 6)
        return backend.get_array_module(x).clip(x, 0, 6)

    def backward(self, dy):
        return dy * self.require_cache()


_A.ACTIVATIONS.update(selu=SELU, swish=Swish, silu=Swish, softplus=Softplus, relu6=ReLU6)


def _named(layer_class, name):
    def activation(x):
        return layer_class()(x)

    activation.__name__ = activation.__qualname__ = name
    activation.__doc__ = layer_class.__doc__
    return activation


relu = _named(_A.ReLU, "relu")
sigmoid = _named(_A.Sigmoid, "sigmoid")
tanh = _named(_A.Tanh, "tanh")
selu = _named(SELU, "selu")
swish = _named(Swish, "swish")
silu = _named(Swish, "silu")
softplus = _named(Softplus, "softplus")
relu6 = _named(ReLU6, "relu6")
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
