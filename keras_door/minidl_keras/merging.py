"""Keras's merging layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum``, ``Concatenate`` and ``Dot``.

Each takes a list of inputs of one shape (``Concatenate``: equal but for ``axis``; it is
minidl's own, ``minidl.nn.layers.Concatenate``, with Keras's default axis) and has no weights;
its ``backward(dy)`` returns one gradient per input::

    Add          y = x1 + x2 + ...          dx_i = dy
    Subtract     y = x1 - x2                dx1 = dy, dx2 = -dy
    Multiply     y = x1 * x2 * ...          dx_i = dy * prod_{j != i} x_j
    Average      y = (x1 + ... + xk) / k    dx_i = dy / k
    Maximum      y = max(x1, x2, ...)       dx_i = dy where x_i is the largest (the first of ties)
    Minimum      y = min(x1, x2, ...)       dx_i = dy where x_i is the smallest (the first of ties)
    Concatenate  y = [x1, x2, ...] on axis  dx_i = the slice of dy that came from x_i

``layers.Add()([h, x])`` is how a functional model writes a skip connection. ``Dot`` is the
one merge of two shapes that differ: a dot product per sample (see its docstring).
"""

from __future__ import annotations

import numpy as np

from minidl import backend
from minidl.nn.layers import merge
from minidl.nn.layers.base import Layer

from .weights import KerasLayerAPI, KerasNames, keras_names

__all__ = [
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Dot",
    "add",
    "subtract",
    "multiply",
    "average",
    "maximum",
    "minimum",
    "concatenate",
    "dot",
]


class _Merge(KerasLayerAPI, Layer):
    """A layer of a list of inputs (at least two, of one shape)."""

    least: int = 2
    most: int | None = None  # None: no upper bound

    def __init__(self, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.built = True

    def check_inputs(self, xs) -> list:
        if not isinstance(xs, (list, tuple)):
            raise ValueError(
                f"{self.label} takes a list of inputs, e.g. {self.label}()([a, b]); got one array"
            )
        if len(xs) < self.least or (self.most is not None and len(xs) > self.most):
            want = f"exactly {self.most}" if self.most == self.least else f"at least {self.least}"
            raise ValueError(f"{self.label} takes {want} inputs, got {len(xs)}")
        shapes = [tuple(x.shape) for x in xs]
        if any(self._differ(shapes[0], s) for s in shapes[1:]):
            raise ValueError(f"{self.label} needs inputs of one shape{self._except()}, got shapes {shapes}")
        return list(xs)

    def _differ(self, a, b) -> bool:
        return a != b

    def _except(self) -> str:
        return ""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class Add(_Merge):
    def forward(self, xs, training=False):
        xs = self.check_inputs(xs)
        self.cache = len(xs)
        return sum(xs[1:], xs[0])

    def backward(self, dy):
        return [dy] * self.require_cache()


class Subtract(_Merge):
    least = most = 2

    def forward(self, xs, training=False):
        a, b = self.check_inputs(xs)
        self.cache = True
        return a - b

    def backward(self, dy):
        self.require_cache()
        return [dy, -dy]


class Multiply(_Merge):
    def forward(self, xs, training=False):
        xs = self.check_inputs(xs)
        self.cache = xs
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y

    def backward(self, dy):
        xs = self.require_cache()
        grads = []
        for i in range(len(xs)):
            g = dy
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


class Average(_Merge):
    def forward(self, xs, training=False):
        xs = self.check_inputs(xs)
        self.cache = len(xs)
        return sum(xs[1:], xs[0]) / len(xs)

    def backward(self, dy):
        k = self.require_cache()
        return [dy / k] * k


class _Extreme(_Merge):
    """The elementwise largest (``_pick``: argmax) or smallest input; the gradient goes to the
    input that was picked (the first of ties)."""

    def _pick(self, xp, stacked):
        raise NotImplementedError

    def forward(self, xs, training=False):
        xs = self.check_inputs(xs)
        xp = backend.get_array_module(xs[0])
        stacked = xp.stack(xs)  # (k, ...)
        chosen = xp.expand_dims(self._pick(xp, stacked), 0)
        self.cache = (chosen, len(xs))
        return xp.take_along_axis(stacked, chosen, axis=0)[0]

    def backward(self, dy):
        chosen, k = self.require_cache()
        return [dy * (chosen[0] == i) for i in range(k)]


class Maximum(_Extreme):
    def _pick(self, xp, stacked):
        return xp.argmax(stacked, axis=0)


class Minimum(_Extreme):
    def _pick(self, xp, stacked):
        return xp.argmin(stacked, axis=0)


class Dot(_Merge):
    """``Dot(axes, normalize=False)``: the dot product of two inputs along one axis each, per
    sample. For (N, D) and (N, D), ``axes=1``: y (N, 1), y[n] = sum_d a[n, d] b[n, d]. For
    (N, T, D) and (N, S, D), ``axes=(2, 2)``: y (N, T, S), every step of ``a`` against every
    step of ``b`` (attention's scores). With ``normalize=True`` each input is first divided by
    its L2 norm along that axis (Keras's ``l2_normalize``, norm at least 1e-6), so y is a
    cosine similarity.

    As matrices per sample: A (M, K) and B (K, L) after moving the contracted axes inward,
    y = A @ B, dA = dy @ B^T, dB = A^T @ dy; then the normalization's backward,
    dx = (du - u (u . du)) / ||x|| along the axis, where u = x / ||x||.
    """

    least = most = 2

    def __init__(self, axes, normalize: bool = False, name=None, **kwargs):
        super().__init__(name, **kwargs)
        pair = (axes, axes) if isinstance(axes, (int, np.integer)) else tuple(axes)
        if len(pair) != 2:
            raise ValueError(f"Dot axes must be an int or a pair of ints, got {axes!r}")
        self.axes = tuple(int(a) for a in pair)
        self.normalize = bool(normalize)

    def check_inputs(self, xs) -> list:
        if isinstance(xs, (list, tuple)) and len(xs) == 2 and np.ndim(xs[0]) != np.ndim(xs[1]):
            raise NotImplementedError(
                f"keras.layers.Dot of inputs of different ranks ({np.ndim(xs[0])}-D and "
                f"{np.ndim(xs[1])}-D) is not in minidl_keras: Reshape one to the other's rank "
                "(a (N, D) vector as (N, 1, D)) and contract the matching axes"
            )
        return super().check_inputs(xs)

    def _differ(self, a, b) -> bool:
        return a[0] != b[0] or a[self.axes[0]] != b[self.axes[1]]

    def _except(self) -> str:
        return f" along axes {self.axes} and the same batch"

    def _contracted(self, ndim: int) -> tuple[int, int]:
        first, second = (a % ndim for a in self.axes)
        if ndim not in (2, 3) or 0 in (first, second):
            raise NotImplementedError(
                f"keras.layers.Dot of {ndim}-D inputs or over the batch axis is not in minidl_keras: "
                "it takes (N, D) or (N, T, D) inputs and axes after the batch; write it with "
                "keras.ops.matmul/sum"
            )
        return first, second

    def compute_output_shape(self, input_shape):
        a, b = (tuple(s) for s in input_shape)
        first, second = self._contracted(len(a) + 1)
        kept = [d for i, d in enumerate(a, 1) if i != first] + [d for i, d in enumerate(b, 1) if i != second]
        return tuple(kept) if kept else (1,)

    @staticmethod
    def _unit(x, axis):
        xp = backend.get_array_module(x)
        norm = xp.sqrt(xp.maximum((x * x).sum(axis=axis, keepdims=True), 1e-12))
        return x / norm, norm

    def forward(self, xs, training=False):
        a, b = self.check_inputs(xs)
        first, second = self._contracted(a.ndim)
        norms = None
        if self.normalize:
            (a, norm_a), (b, norm_b) = self._unit(a, first), self._unit(b, second)
            norms = (norm_a, norm_b)
        if a.ndim == 2:
            self.cache = (a, b, norms, first, second)
            return (a * b).sum(axis=1, keepdims=True)
        left = a if first == 2 else a.transpose(0, 2, 1)  # (N, M, K)
        right = b if second == 1 else b.transpose(0, 2, 1)  # (N, K, L)
        self.cache = (a, b, norms, first, second)
        return left @ right

    def backward(self, dy):
        a, b, norms, first, second = self.require_cache()
        if a.ndim == 2:
            da, db = dy * b, dy * a
        else:
            left = a if first == 2 else a.transpose(0, 2, 1)
            right = b if second == 1 else b.transpose(0, 2, 1)
            d_left, d_right = dy @ right.transpose(0, 2, 1), left.transpose(0, 2, 1) @ dy
            da = d_left if first == 2 else d_left.transpose(0, 2, 1)
            db = d_right if second == 1 else d_right.transpose(0, 2, 1)
        if norms is not None:  # a and b are the unit vectors here
            da = (da - a * (a * da).sum(axis=first, keepdims=True)) / norms[0]
            db = (db - b * (b * db).sum(axis=second, keepdims=True)) / norms[1]
        return [da, db]


@keras_names(merge.Concatenate)
class _Concatenate(KerasNames, merge.Concatenate, register=False):
    """minidl's ``Concatenate`` with Keras's layer API and ``get_config`` (it saves as minidl's)."""


_Concatenate.__name__ = _Concatenate.__qualname__ = "Concatenate"


def Concatenate(axis: int = -1, **kwargs) -> merge.Concatenate:
    """Keras's ``Concatenate``: ``minidl.nn.layers.Concatenate`` joining along ``axis``, Keras's
    default -1 (the features, or the channels when channels-last; minidl's default is 1)."""
    return _Concatenate(axis=axis, **kwargs)


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def dot(inputs, axes, normalize: bool = False, **kwargs):
    return Dot(axes, normalize, **kwargs)(inputs)


def concatenate(inputs, axis: int = -1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)
