"""``keras.constraints``: ``MaxNorm``, ``NonNeg``, ``UnitNorm``, ``MinMaxNorm`` (and Keras's
lower-case names ``max_norm``, ...), Keras 3's formulas: ``MaxNorm`` is minidl's
(``minidl.nn.constraints``), the other three are the door's own (no chapter uses them),
subclasses of minidl's ``Constraint`` on its ``norms``:

    UnitNorm(axis=0)               w / (eps + |w|)
    MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0)
                                   w * (rate clip(|w|, min, max) + (1 - rate) |w|) / (eps + |w|)
    NonNeg()                       max(w, 0)

with ``|w|`` the Euclidean norm along ``axis`` (kept for broadcasting) and ``eps = 1e-7``.

Keras's strings (``kernel_constraint="max_norm"``) are this door's: ``get`` reads them here,
and the door's layers (``Dense``, ``Conv1D``, ``Conv2D``, ``Conv2DTranspose``) and
``add_weight(constraint=)`` pass their constraints through it; ``minidl.nn`` knows the
class names only (``"MaxNorm"``), which is also how a saved layer names its constraint.

A layer of this door hands its kernel to the constraint in Keras's layout (a Conv2D's
(KH, KW, C, F), so ``MaxNorm(axis=[0, 1, 2])`` bounds each filter, as in Keras) and takes the
result back in minidl's (``minidl_keras.weights.KerasNames.constraint_of``); the optimizer
applies it after each step, as Keras's does.
"""

from minidl import backend
from minidl.nn import constraints as _constraints
from minidl.nn.constraints import EPSILON, Constraint, MaxNorm, norms

__all__ = [
    "Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm",
    "max_norm", "min_max_norm", "non_neg", "unit_norm", "get",
]  # fmt: skip


class UnitNorm(Constraint):
    """Rescales every slice along ``axis`` to norm 1."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (EPSILON + norms(w, self.axis))


class MinMaxNorm(Constraint):
    """Moves every slice's norm into ``[min_value, max_value]``, a fraction ``rate`` of the way."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        length = norms(w, self.axis)
        clipped = backend.get_array_module(w).clip(length, self.min_value, self.max_value)
        desired = self.rate * clipped + (1 - self.rate) * length
        return w * (desired / (EPSILON + length))


class NonNeg(Constraint):
    """Sets the negative entries to 0."""

    def __call__(self, w):
        return backend.get_array_module(w).maximum(w, 0)


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

#: Keras's snake_case strings -> minidl's class names
KERAS_NAMES = {
    "max_norm": "MaxNorm",
    "non_neg": "NonNeg",
    "unit_norm": "UnitNorm",
    "min_max_norm": "MinMaxNorm",
}


def get(spec):
    """Keras's ``constraints.get``: ``None``, a constraint (any function ``w -> w``), a name --
    Keras's (``"max_norm"``) or the class's (``"MaxNorm"``) -- with its defaults, or a saved
    ``{"class", "config"}`` (``minidl.nn.constraints.get``)."""
    if isinstance(spec, str):
        spec = KERAS_NAMES.get(spec, spec)
    return _constraints.get(spec)


def with_keras_constraints(options: dict) -> dict:
    """A door layer's keyword ``options`` with each ``*_constraint`` made by ``get``, so that
    minidl's layer, which knows class names only, receives Keras's strings as constraints."""
    return {key: get(value) if key.endswith("_constraint") else value for key, value in options.items()}
