"""Weight penalties added to the loss: L1, L2 and both.

    L2(W) = l2 * sum(W^2)        dL2/dW = 2 l2 W          (no 1/2)
    L1(W) = l1 * sum(|W|)        dL1/dW = l1 sign(W)

A layer given ``kernel_regularizer=L2(1e-4)`` (or the string ``"l2"``) adds ``loss(W)``
to the model's loss and ``gradient(W)`` to ``grads["W"]`` in its backward.
"""

from .. import backend
from .configurable import Configurable


class Regularizer(Configurable):
    """Base class: ``loss(w) -> float`` and its ``gradient(w)``, the arguments its config."""

    def loss(self, w) -> float:
        raise NotImplementedError

    def gradient(self, w):
        raise NotImplementedError


class L1L2(Regularizer):
    """``l1 * sum(|W|) + l2 * sum(W^2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        if l1 < 0 or l2 < 0:
            raise ValueError(f"regularization factors must be >= 0, got l1={l1}, l2={l2}")
        self.l1, self.l2 = float(l1), float(l2)

    def loss(self, w) -> float:
        xp = backend.get_array_module(w)
        return float(self.l1 * xp.abs(w).sum() + self.l2 * (w * w).sum())

    def gradient(self, w):
        xp = backend.get_array_module(w)
        return (self.l1 * xp.sign(w) + 2.0 * self.l2 * w).astype(w.dtype)


class L1(L1L2):
    """``l1 * sum(|W|)``: pushes weights to exactly zero (sparse weights)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(W^2)``: weight decay, shrinks large weights most."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


REGULARIZERS = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def get(spec):
    """``None``, a ``Regularizer``, a name (``"l2"``: the default factor 0.01), or a saved config."""
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, str) and spec in REGULARIZERS:
        return REGULARIZERS[spec]()
    if isinstance(spec, dict) and spec.get("class") in REGULARIZERS:
        return REGULARIZERS[spec["class"]](**spec.get("config", {}))
    raise ValueError(
        f"unknown regularizer {spec!r}; expected None, a Regularizer, or one of 'l1', 'l2', 'l1_l2'"
    )
