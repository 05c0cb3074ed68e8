"""Concatenate: join several arrays along one axis (the channels of a skip connection).

A U-Net's decoder sees two things at each scale: the upsampled coarse features and the
encoder's fine features of the same size, stacked as channels (Ronneberger et al., 2015):

    forward     y = [x_1 | x_2 | ... | x_m]     along ``axis`` (1: the channels of (N, C, H, W))
    backward    dx_i = dy[..., offset_i : offset_i + C_i, ...]

The backward is the forward's inverse *slicing*: every input gets back exactly the block of
the gradient that its own values occupied, unchanged (concatenation is a copy, its Jacobian a
permutation of an identity). It takes a list of arrays and returns a list of gradients, so it
does not fit ``Sequential``; a layer with a small graph inside (``UNet``) calls it.
"""

from __future__ import annotations

from itertools import accumulate

from ... import backend
from .base import Layer


class Concatenate(Layer):
    """``y = concatenate(xs, axis)``; ``backward(dy)`` returns the list ``[dx_1, ..., dx_m]``.

    Parameters
    ----------
    axis : int
        The axis to join along, counted with the batch axis (default 1: the channels of an
        (N, C, H, W) batch; -1 joins channels-last images).

    Shapes: xs = [(N, ..., C_i, ...)] equal on every other axis -> y (N, ..., sum C_i, ...).
    """

    def __init__(self, axis: int = 1, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.axis = int(axis)

    def forward(self, xs, training=False):
        xs = list(xs)
        if len(xs) < 2:
            raise ValueError(f"{self.label} expected a list of at least 2 arrays, got {len(xs)}")
        ndim = xs[0].ndim
        axis = self.axis % ndim if -ndim <= self.axis < ndim else None
        if axis is None or axis == 0:
            raise ValueError(
                f"{self.label}: axis {self.axis} is not a non-batch axis of inputs with {ndim} axes"
            )
        for x in xs[1:]:
            other = [d for i, d in enumerate(x.shape) if i != axis]
            if x.ndim != ndim or other != [d for i, d in enumerate(xs[0].shape) if i != axis]:
                raise ValueError(
                    f"{self.label} expected shapes equal except on axis {self.axis}, got "
                    f"{[tuple(a.shape) for a in xs]}"
                )
        if not self.built:
            self.build(tuple(xs[0].shape[1:]), dtype=xs[0].dtype)
        self.cache = (axis, [x.shape[axis] for x in xs])
        return backend.get_array_module(xs[0]).concatenate(xs, axis=axis)

    def backward(self, dy):
        axis, sizes = self.require_cache()
        ends = list(accumulate(sizes[:-1]))  # where one input's block of dy ends and the next begins
        return backend.get_array_module(dy).split(dy, ends, axis=axis)
