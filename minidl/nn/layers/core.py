"""Core layers: Dense, Flatten, Reshape, Dropout.

Dense is the workhorse. For a batch ``x`` of shape (N, D_in) (or (N, ..., D_in): it acts
on the last axis, so it also maps every time step of a sequence):

    forward     y = x W + b                       W (D_in, D_out), b (D_out,)
    backward    dW = x^T dy     db = sum_n dy     dx = dy W^T

Each product in backward is the only one with the right shape, which is a good way to
remember them: dW must be (D_in, D_out), and x^T dy is the product that gives it.
"""

import math

import numpy as np

from ... import backend
from .affine import AffineLayer
from .base import Layer, column_sums
from .checks import fraction, positive_int


class Dense(AffineLayer):
    """Fully connected layer ``y = activation(x W + b)``.

    Parameters
    ----------
    units : int
        Output features D_out.
    activation : str or None
        Name of an activation applied after the affine map (``"relu"``, ``"softmax"``, ...).
    use_bias : bool
        Whether to add ``b``.
    kernel_initializer : str or Initializer (keyword-only, as the option below)
        How ``W`` is drawn: a name from ``minidl.nn.initializers``; Glorot uniform by default.
    kernel_regularizer : Regularizer, str or None
        A penalty on ``W`` added to the loss (``"l2"`` or ``regularizers.L2(1e-4)``); its
        gradient is added by ``add_penalty_gradients``, not by ``backward``.

    Shapes: x (N, ..., D_in) -> y (N, ..., D_out); params ``W`` (D_in, D_out), ``b`` (D_out,).
    """

    input_ndims = None
    input_layout = "(N, ..., features)"

    def __init__(self, units: int, activation=None, use_bias: bool = True, *, name=None, **options):
        super().__init__(name, activation=activation, use_bias=use_bias, **options)
        self.units = positive_int(units, "Dense units")

    def build(self, input_shape, dtype=np.float32):
        self.check_rank(input_shape)
        super().build(input_shape, dtype)
        fan_in = input_shape[-1]
        self.add_kernel_and_bias((fan_in, self.units), self.units, fan_in, self.units, dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x
        b = self.params["b"] if self.use_bias else None
        y = backend.kernels_for(x).linear_forward(x.reshape(-1, x.shape[-1]), self.params["W"], b)
        y = y.reshape(x.shape[:-1] + (self.units,))
        return y if self.activation_layer is None else self.activation_layer.forward(y, training)

    def backward(self, dy):
        x = self.require_cache()
        dy = dy if self.activation_layer is None else self.activation_layer.backward(dy)
        kernels = backend.kernels_for(x)
        self.grads["W"][...] = kernels.weight_gradient(x.reshape(-1, x.shape[-1]), dy.reshape(-1, self.units))
        if self.use_bias:
            self.grads["b"][...] = column_sums(dy.reshape(-1, self.units))
        return dy @ self.params["W"].T


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...); backward reshapes the gradient back."""

    input_ndims = tuple(range(2, 8))
    input_layout = "(N, d1, ...) with at least one axis after the batch"

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.require_cache())


class Reshape(Layer):
    """(N, *input_shape) -> (N, *target_shape); one entry of ``target_shape`` may be -1."""

    def __init__(self, target_shape, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(
                f"Reshape target_shape must have positive sizes and at most one -1, got {self.target_shape}"
            )

    def compute_output_shape(self, input_shape):
        size = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        shape = tuple(size // known if d == -1 else d for d in self.target_shape)
        if math.prod(shape) != size or (-1 in self.target_shape and size % known):
            raise ValueError(
                f"Reshape cannot turn per-sample shape {tuple(input_shape)} "
                f"({size} values) into {self.target_shape}"
            )
        return shape

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x.shape
        return x.reshape((x.shape[0],) + self.compute_output_shape(x.shape[1:]))

    def backward(self, dy):
        return dy.reshape(self.require_cache())


class _PassThrough:
    """Dropout's cache after a forward that dropped nothing (inference, or rate 0): backward
    passes the gradient through. One instance, kept by copies and pickles."""

    def __repr__(self):
        return "<Dropout: nothing dropped>"

    def __reduce__(self):
        return "_PASS_THROUGH"


_PASS_THROUGH = _PassThrough()


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``rate`` and scale
    the survivors by ``1 / (1 - rate)``; at inference the identity.

    Scaling during training keeps the expected activation unchanged, so the network
    needs no correction at test time. The mask comes from ``minidl.backend.rng()``.
    """

    def __init__(self, rate: float, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.rate = fraction(rate, "Dropout rate")

    def forward(self, x, training=False):
        x = self.check_input(x)
        if not training or self.rate == 0.0:
            self.cache = _PASS_THROUGH
            return x
        uniform = backend.rng().random(x.shape, dtype=np.float32)
        uniform = backend.to_device(uniform, backend.device_of(x))
        y, mask = backend.kernels_for(x).dropout_forward(x, uniform, self.rate)
        self.cache = mask
        return y

    def backward(self, dy):
        mask = self.require_cache()
        if mask is _PASS_THROUGH:
            return dy
        return backend.kernels_for(dy).dropout_backward(dy, mask)
