"""Weight constraints: a function applied to a weight after every optimizer step.

A constraint projects a weight back into a set after each update (the optimizer calls it
once the step is taken), where a regularizer (``minidl.nn.regularizers``) only pulls
towards it. The norms are taken along ``axis`` of the weight as the layer hands it:

    MaxNorm(max_value=2, axis=0)   w * clip(|w|, 0, max_value) / (eps + |w|)   (Srivastava et al., 2014)

with ``|w|`` the Euclidean norm along ``axis`` (``norms``, kept for broadcasting) and
``eps = 1e-7``. Other constraints (a unit norm, a norm between two bounds, non-negative
weights: no chapter uses them) belong to libraries built on minidl, as subclasses of
``Constraint`` written on ``norms``.
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


def norms(w, axis):
    """The Euclidean norms of ``w``'s slices along ``axis`` (an int or a list of ints), the
    reduced axes kept (size 1) so that they broadcast against ``w``."""
    xp = backend.get_array_module(w)
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return xp.sqrt(xp.sum(w * w, axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Rescales the slices along ``axis`` whose norm exceeds ``max_value`` to that norm."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        length = norms(w, self.axis)
        desired = backend.get_array_module(w).clip(length, 0, self.max_value)
        return w * (desired / (EPSILON + length))


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
