"""Activation functions as layers, each with its derivative beside it.

Elementwise activations (every one here but ``Softmax``) have a diagonal Jacobian, so
backward is just ``dx = dy * f'(x)``:

    ReLU        f = max(x, 0)                     f' = [x > 0]
    LeakyReLU   f = x if x > 0 else a x           f' = 1 if x > 0 else a
    Sigmoid     f = 1 / (1 + e^-x)                f' = f (1 - f)
    Tanh        f = tanh x                        f' = 1 - f^2
    GELU        f = x/2 (1 + tanh(k (x + 0.044715 x^3))),  k = sqrt(2/pi)   (the tanh form)

``Softmax`` mixes a row: ``y = e^x / sum e^x`` and ``dx = y * (dy - sum(dy * y))``.
"""

import numpy as np

from ... import backend
from ...kernels.common import sigmoid  # σ has one home; still importable from here
from .base import Layer


class ReLU(Layer):
    """``max(x, 0)``: the default hidden activation; gradient 1 where x > 0, else 0."""

    def forward(self, x, training=False):
        x = self.check_input(x)
        y = backend.kernels_for(x).relu_forward(x)
        self.cache = y  # y > 0 exactly where x > 0: the output is all the backward needs
        return y

    def backward(self, dy):
        y = self.require_cache()
        return backend.kernels_for(dy).relu_backward(dy, y)


class LeakyReLU(Layer):
    """``x`` for x > 0, ``alpha * x`` otherwise (PyTorch's default slope 0.01), so no unit dies."""

    def __init__(self, alpha: float = 0.01, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        x = self.check_input(x)
        xp = backend.get_array_module(x)
        slope = xp.where(x > 0, 1.0, self.alpha).astype(x.dtype)
        self.cache = slope
        return x * slope

    def backward(self, dy):
        slope = self.require_cache()
        return dy * slope


class Sigmoid(Layer):
    """``1 / (1 + e^-x)`` in (0, 1); its gradient ``y (1 - y)`` is at most 1/4 (vanishing gradients)."""

    def forward(self, x, training=False):
        x = self.check_input(x)
        y = sigmoid(x)
        self.cache = y
        return y

    def backward(self, dy):
        y = self.require_cache()
        return dy * y * (1.0 - y)


class Tanh(Layer):
    """``tanh x`` in (-1, 1), zero-centred; gradient ``1 - y^2``."""

    def forward(self, x, training=False):
        x = self.check_input(x)
        xp = backend.get_array_module(x)
        y = xp.tanh(x)
        self.cache = y
        return y

    def backward(self, dy):
        y = self.require_cache()
        return dy * (1.0 - y * y)


class GELU(Layer):
    """Gaussian Error Linear Unit, tanh approximation (as in BERT and GPT-2).

    ``f(x) = x/2 (1 + tanh(u))``, ``u = k (x + c x^3)``, ``k = sqrt(2/pi)``, ``c = 0.044715``;
    ``f'(x) = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) k (1 + 3 c x^2)``.
    """

    K = float(np.sqrt(2.0 / np.pi))  # Python floats compute in x's precision (a NumPy float64 made float64)
    C = 0.044715

    def forward(self, x, training=False):
        x = self.check_input(x)
        xp = backend.get_array_module(x)
        t = xp.tanh(self.K * (x + self.C * (x * x * x)))  # (x**3 calls pow: 30 times slower)
        self.cache = (x, t)
        return 0.5 * x * (1.0 + t)

    def backward(self, dy):
        x, t = self.require_cache()
        du_dx = self.K * (1.0 + 3.0 * self.C * x * x)
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du_dx)


class Softmax(Layer):
    """``y_k = e^{x_k} / sum_j e^{x_j}`` along ``axis`` (the last by default).

    Backward uses the Jacobian ``dy_k/dx_j = y_k ([k == j] - y_j)`` without building it:
    ``dx = y * (dy - sum(dy * y, axis))``. For classification prefer logits plus
    ``SparseCategoricalCrossentropy(from_logits=True)``: fused, cheaper and more stable.
    """

    def __init__(self, axis: int = -1, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.axis = int(axis)

    def forward(self, x, training=False):
        x = self.check_input(x)
        xp = backend.get_array_module(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        y = e / e.sum(axis=self.axis, keepdims=True)
        self.cache = y
        return y

    def backward(self, dy):
        y = self.require_cache()
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))


class ELU(Layer):
    """``x`` for x > 0, ``alpha (e^x - 1)`` otherwise; gradient 1, or ``y + alpha`` below zero."""

    def __init__(self, alpha: float = 1.0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        x = self.check_input(x)
        xp = backend.get_array_module(x)
        y = xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype)
        self.cache = (x > 0, y)
        return y

    def backward(self, dy):
        positive, y = self.require_cache()
        return dy * backend.get_array_module(y).where(positive, 1.0, y + self.alpha).astype(y.dtype)


#: the activation layers by name (what ``get`` and ``activation="..."`` read); a library built on
#: minidl adds its own here (SELU, Swish, Softplus, ReLU6: activations no chapter uses)
ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "elu": ELU,
    "softmax": Softmax,
}


def get(name):
    """A new activation layer for ``name`` (``"relu"``, ``"tanh"``, ...); ``None``/``"linear"`` give ``None``."""
    if callable(name) and getattr(name, "__name__", None) in ACTIVATIONS:  # a function named relu, ...
        name = name.__name__
    if name is None or name == "linear" or getattr(name, "__name__", None) == "linear":
        return None
    try:
        return ACTIVATIONS[name]()
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}, 'linear' or None"
        ) from None
