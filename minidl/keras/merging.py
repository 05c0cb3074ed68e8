"""Keras's merging layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Concatenate``.

Each takes a list of inputs of one shape (``Concatenate``: equal but for ``axis``; it is
minidl's own, ``minidl.nn.layers.Concatenate``, with Keras's default axis) and has no weights;
its ``backward(dy)`` returns one gradient per input::

    Add          y = x1 + x2 + ...          dx_i = dy
    Subtract     y = x1 - x2                dx1 = dy, dx2 = -dy
    Multiply     y = x1 * x2 * ...          dx_i = dy * prod_{j != i} x_j
    Average      y = (x1 + ... + xk) / k    dx_i = dy / k
    Concatenate  y = [x1, x2, ...] on axis  dx_i = the slice of dy that came from x_i

``layers.Add()([h, x])`` is how a functional model writes a skip connection.
"""

from __future__ import annotations


from ..nn.layers import merge
from ..nn.layers.base import Layer

__all__ = [
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Concatenate",
    "add",
    "subtract",
    "multiply",
    "average",
    "concatenate",
]


class _Merge(Layer):
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


def Concatenate(axis: int = -1, **kwargs) -> merge.Concatenate:
    """Keras's ``Concatenate``: ``minidl.nn.layers.Concatenate`` joining along ``axis``, Keras's
    default -1 (the features, or the channels when channels-last; minidl's default is 1)."""
    return merge.Concatenate(axis=axis, **kwargs)


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def concatenate(inputs, axis: int = -1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)
