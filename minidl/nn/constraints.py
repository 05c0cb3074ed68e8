"""Weight constraints: a function applied to a weight after every optimizer step.

A constraint projects a weight back into a set after each update (the optimizer calls it
once the step is taken), where a regularizer (``minidl.nn.regularizers``) only pulls
towards it. The norms are taken along ``axis`` of the weight as the layer hands it:

    MaxNorm(max_value=2, axis=0)   w * clip(|w|, 0, max_value) / (eps + |w|)   (Srivastava et al., 2014)
    UnitNorm(axis=0)               w / (eps + |w|)
    MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0)
                                   w * (rate clip(|w|, min, max) + (1 - rate) |w|) / (eps + |w|)
    NonNeg()                       max(w, 0)

with ``|w|`` the Euclidean norm along ``axis`` (kept for broadcasting) and ``eps = 1e-7``.
For a Dense kernel (in, units), ``axis=0`` constrains the weights into each unit; for a
Conv2D kernel (F, C, KH, KW), one filter is ``axis=(1, 2, 3)``.

Layers take them as ``kernel_constraint=``/``bias_constraint=`` (Dense, Conv2D,
Conv2DTranspose); any function ``w -> w`` will do. A constraint keeps its arguments
(``get_config``) and is made again by class name when a saved layer is loaded (``get``;
``Constraint.classes`` holds every subclass, wherever it is defined).
"""

from __future__ import annotations

from .. import backend
from .configurable import Configurable

EPSILON = 1e-7


class Constraint(Configurable):
    """Base class: ``constraint(w) -> w`` (the identity here). Subclasses keep their
    constructor's arguments under their own names (their ``get_config``)."""

    classes: dict[str, type[Constraint]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Constraint.classes[cls.__name__] = cls

    def __call__(self, w):
        return w


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _norms(w, axis):
    xp = backend.get_array_module(w)
    return xp.sqrt(xp.sum(w * w, axis=_axis(axis), keepdims=True))


class MaxNorm(Constraint):
    """Rescales the slices along ``axis`` whose norm exceeds ``max_value`` to that norm."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = backend.get_array_module(w).clip(norms, 0, self.max_value)
        return w * (desired / (EPSILON + norms))


class UnitNorm(Constraint):
    """Rescales every slice along ``axis`` to norm 1."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (EPSILON + _norms(w, self.axis))


class MinMaxNorm(Constraint):
    """Moves every slice's norm into ``[min_value, max_value]``, a fraction ``rate`` of the way."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        clipped = backend.get_array_module(w).clip(norms, self.min_value, self.max_value)
        desired = self.rate * clipped + (1 - self.rate) * norms
        return w * (desired / (EPSILON + norms))


class NonNeg(Constraint):
    """Sets the negative entries to 0."""

    def __call__(self, w):
        return backend.get_array_module(w).maximum(w, 0)


def get(spec):
    """``None``, a constraint (any function ``w -> w``), a class name (``"MaxNorm"``) with its
    defaults, or a saved ``{"class", "config"}``."""
    if spec is None or callable(spec):
        return spec
    if isinstance(spec, str) and spec in Constraint.classes:
        return Constraint.classes[spec]()
    if isinstance(spec, dict) and spec.get("class") in Constraint.classes:
        return Constraint.classes[spec["class"]].from_config(dict(spec.get("config", {})))
    raise ValueError(
        f"unknown constraint {spec!r}; expected None, a function w -> w, or one of "
        f"{sorted(c for c in Constraint.classes)}"
    )
