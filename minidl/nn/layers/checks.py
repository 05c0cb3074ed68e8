"""The checks a layer runs on its arguments and on each batch. Every error names what was
expected and what was received (``Dense units must be a positive integer, got 0``), and for a
batch the likely fix (a missing batch axis, channels on the wrong axis, another device)."""

from __future__ import annotations

import numpy as np

from ... import backend


def positive_int(value, what: str) -> int:
    """``value`` as an ``int`` if it is a positive integer (a bool is not), else a ``ValueError``
    that names ``what`` (``"Dense units"``) and the value received."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def fraction(value, what: str) -> float:
    """``value`` as a float in [0, 1) (a rate, a momentum), else a ``ValueError`` naming ``what``."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {value!r}")
    return float(value)


def positive(value, what: str) -> float:
    """``value`` as a float > 0 (an epsilon), else a ``ValueError`` naming ``what``."""
    if not value > 0:
        raise ValueError(f"{what} must be > 0, got {value!r}")
    return float(value)


def checked_shape(shape, who: str) -> tuple:
    """A per-sample shape (``input_shape=``: no batch axis) as a tuple of ints, ``None`` for a
    free axis (time); an int ``n`` means ``(n,)``. Anything else is a ``ValueError`` naming
    ``who`` (``"Sequential"``) and the shape received."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(
            f"{who} input_shape must be a tuple of sizes without the batch axis, "
            f"e.g. (28, 28, 1) or (None, 10), got {shape!r}"
        ) from None
    if not all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0) for d in dims
    ):
        raise ValueError(
            f"{who} input_shape must hold positive integers (or None for a free axis), "
            f"without the batch axis, got {shape!r}"
        )
    return tuple(None if d is None else int(d) for d in dims)


class ShapeChecks:
    """What ``Layer`` inherits to say which batches it takes: the ranks (``input_ndims``, batch
    axis included; ``None``: any) and how errors write them (``input_layout``), and, once built,
    which per-sample shapes its weights fit (``input_mismatch``, overridden by layers whose
    weights fix other axes than the last) with a hint for the error (``mismatch_hint``)."""

    input_ndims: tuple[int, ...] | None = None
    input_layout = "(N, ...)"
    input_shape: tuple | None
    name: str | None

    @property
    def label(self) -> str:
        """How errors name the layer: its ``name``, else its class name."""
        return self.name or type(self).__name__

    @property
    def built_input_shape(self) -> tuple:
        """``input_shape`` of a built layer (what its weights were made for)."""
        if self.input_shape is None:
            raise RuntimeError(f"{self.label} is not built yet: call it on a batch or build it first")
        return self.input_shape

    def check_rank(self, input_shape: tuple) -> None:
        """A ``ValueError`` unless per-sample inputs of ``input_shape`` have a rank the layer
        takes: one of ``input_ndims`` less the batch axis, or, for any rank (``None``), one axis at least."""
        rank = len(input_shape)
        if not (rank >= 1 if self.input_ndims is None else rank + 1 in self.input_ndims):
            raise ValueError(
                f"{self.label} expected input {self.input_layout}, got per-sample shape {tuple(input_shape)}"
            )

    def check_gradient(self, dy, expected: tuple) -> None:
        """A ``ValueError`` unless ``dy``, given to ``backward``, has the output's shape ``expected``."""
        if tuple(dy.shape) != expected:
            raise ValueError(
                f"{self.label}.backward expected dy of shape {expected} (as its output), "
                f"got shape {tuple(dy.shape)}"
            )

    def input_mismatch(self, shape: tuple) -> bool:
        """Whether a built layer cannot take per-sample inputs of ``shape``: by default, unless
        the last axis matches (what a weight matrix fixes)."""
        return shape[-1:] != tuple(self.input_shape or ())[-1:]

    def mismatch_hint(self, got: tuple) -> str:
        """Text added to the error for a batch of shape ``got`` a built layer cannot take."""
        return ""


class SequenceLayout(ShapeChecks):
    """The layout of the layers that read sequences of feature vectors (attention, recurrent and
    token layers): (N, T, features) batches. A base listed before ``Layer``."""

    input_ndims = (3,)
    input_layout = "(N, T, features)"


def check_batch(layer, x, was_built: bool = True) -> None:
    """Raise a ``ValueError`` when ``layer`` cannot take the batch ``x``: a rank outside
    ``layer.input_ndims``, a per-sample shape the weights of a layer built before do not fit
    (``layer.input_mismatch``), or weights on another device than ``x``."""
    if layer.input_ndims is not None and x.ndim not in layer.input_ndims:
        hint = ""
        if x.ndim + 1 in layer.input_ndims:  # one sample without its batch axis
            hint = "; if this is a single sample, add a batch axis: x[None] (or x.reshape(1, *x.shape))"
        raise ValueError(
            f"{layer.label} expected input {layer.input_layout}, got shape {tuple(x.shape)}{hint}"
        )
    if was_built and layer.params and layer.input_mismatch(tuple(x.shape[1:])):
        got = tuple(x.shape)
        built = ", ".join(str(d) for d in layer.built_input_shape)
        raise ValueError(
            f"{layer.label} was built for inputs (N, {built}), got shape {got}{layer.mismatch_hint(got)}"
        )
    if layer.params:
        weights_on = backend.device_of(next(iter(layer.params.values())))
        input_on = backend.device_of(x)
        if weights_on != input_on:
            raise ValueError(
                f"{layer.label} has its weights on the {weights_on.upper()} but got an "
                f"input on the {input_on.upper()}; move one of them "
                f"(model.to('{input_on}') or minidl.backend.to_device(x, '{weights_on}'))"
            )
