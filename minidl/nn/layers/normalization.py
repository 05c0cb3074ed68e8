"""Normalization layers: BatchNorm (statistics over the batch) and LayerNorm (over features).

Both normalize, then scale and shift with learned ``gamma`` and ``beta``:

    x_hat = (x - mean) / sqrt(var + eps)        y = gamma * x_hat + beta

and both have the same backward, because ``mean`` and ``var`` depend on every input of
the group they are taken over. With M values in a group and dx_hat = dy * gamma:

    dx = (1 / (M sigma)) * (M dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))

(the two sums are the gradient flowing back through the mean and through the variance).
They differ in the group: BatchNorm takes one channel across the batch (and the pixels),
LayerNorm takes one sample across its features.

BatchNorm's batch statistics make sense only in training; at inference it uses running
averages gathered during training (``momentum`` is the weight of the old value):

    running = momentum * running + (1 - momentum) * batch_statistic

with the unbiased batch variance (M / (M - 1) times the biased one), as PyTorch
(``unbiased_running_var=False``: the biased one, as TensorFlow keeps it).
"""

from __future__ import annotations

import numpy as np

from ... import backend
from .base import Layer
from .checks import fraction, positive


class BatchNorm(Layer):
    """Batch normalization for (N, D) features or (N, C, H, W) images.

    Parameters
    ----------
    momentum : float
        Weight of the old value in the running averages (0.9: slow, smooth).
    eps : float
        Added to the variance before the square root.

    Frozen (``trainable = False``) inside a model, it runs in inference mode -- running
    statistics used, not updated -- so a frozen pretrained base stays unchanged.

    Shapes: x (N, D) -> y (N, D), statistics over N; x (N, C, H, W) -> y (N, C, H, W),
    statistics over N, H, W. params ``gamma``, ``beta`` (C,); buffers ``running_mean``
    (starts at 0) and ``running_var`` (starts at 1), both (C,).
    """

    input_ndims = (2, 4)
    input_layout = "(N, D) or (N, C, H, W)"

    inference_when_frozen = True

    def __init__(
        self, momentum: float = 0.9, eps: float = 1e-5, name=None, unbiased_running_var: bool = True, **kwargs
    ):
        super().__init__(name, **kwargs)
        self.momentum, self.eps = fraction(momentum, "BatchNorm momentum"), positive(eps, "BatchNorm eps")
        self.unbiased_running_var = bool(unbiased_running_var)

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        channels = input_shape[0]
        self.add_param("gamma", np.ones(channels, dtype=dtype))
        self.add_param("beta", np.zeros(channels, dtype=dtype))
        self.add_buffer("running_mean", np.zeros(channels, dtype=dtype))
        self.add_buffer("running_var", np.ones(channels, dtype=dtype))

    def input_mismatch(self, shape):
        built = self.built_input_shape
        return len(shape) != len(built) or shape[0] != built[0]

    def forward(self, x, training=False):
        x = self.check_input(x)
        x3 = x.reshape(x.shape[0], x.shape[1], -1)  # (N, C, L): (N, D, 1) or (N, C, H*W), as the kernels take
        gamma, beta = self.params["gamma"], self.params["beta"]
        running_mean, running_var = self.buffers["running_mean"], self.buffers["running_var"]
        if training:  # batch statistics, and the running averages follow them
            M = _values_per_channel(self, x3)
            y3, mean, var = backend.kernels_for(x3).batchnorm_forward(x3, gamma, beta, self.eps)
            running_mean[...] = self.momentum * running_mean + (1 - self.momentum) * mean
            correction = M / (M - 1) if self.unbiased_running_var else 1.0
            running_var[...] = self.momentum * running_var + (1 - self.momentum) * var * correction
            self.cache = ("training", x3, mean, var)
        else:  # running statistics: a fixed affine map per channel, y = x * scale + shift
            inv_std = 1.0 / backend.get_array_module(x).sqrt(running_var + self.eps)
            scale = (gamma * inv_std).astype(x.dtype)
            y3 = x3 * scale[:, None] + (beta - running_mean * scale)[:, None].astype(x.dtype)
            self.cache = ("inference", x3, inv_std.astype(x.dtype))
        return y3.reshape(x.shape)

    def backward(self, dy):
        mode, x3, *statistics = self.require_cache()
        dy3 = dy.reshape(dy.shape[0], dy.shape[1], -1)
        if mode == "training":  # the mean and variance depend on x: the full formula, in a kernel
            mean, var = statistics
            dx3, dgamma, dbeta = backend.kernels_for(dy3).batchnorm_backward(
                dy3, x3, self.params["gamma"], mean, var, self.eps
            )
        else:  # constants: dx = dy * gamma / sigma, and the affine map's parameter gradients
            (inv_std,) = statistics
            x_hat = (x3 - self.buffers["running_mean"][:, None]) * inv_std[:, None]
            dgamma, dbeta = (dy3 * x_hat).sum(axis=(0, 2)), dy3.sum(axis=(0, 2))
            dx3 = dy3 * (self.params["gamma"] * inv_std)[:, None]
        self.grads["gamma"][...], self.grads["beta"][...] = dgamma, dbeta
        return dx3.reshape(dy.shape)


def _values_per_channel(layer, x3) -> int:
    """M = N * L, the values each batch statistic is taken over; a clear error when M < 2."""
    count = x3.shape[0] * x3.shape[2]
    if count < 2:
        raise ValueError(
            f"{layer.label} in training needs more than one value per channel to "
            f"compute batch statistics, got a batch of shape "
            f"{(x3.shape[0], *layer.input_shape)}; use a batch of at least 2 "
            "(or training=False)"
        )
    return count


class LayerNorm(Layer):
    """Layer normalization over the last axis: each sample (each time step) on its own.

    Unlike BatchNorm it behaves the same in training and inference and works with a
    batch of one, which is why sequence models and transformers use it.

    Parameters: eps (float), added to the variance.
    Shapes: x (N, ..., D) -> y (N, ..., D); params ``gamma``, ``beta`` (D,).
    """

    input_layout = "(N, ..., features)"

    def __init__(self, eps: float = 1e-5, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.eps = positive(eps, "LayerNorm eps")

    def build(self, input_shape, dtype=np.float32):
        self.check_rank(input_shape)
        super().build(input_shape, dtype)
        features = input_shape[-1]
        self.add_param("gamma", np.ones(features, dtype=dtype))
        self.add_param("beta", np.zeros(features, dtype=dtype))

    def forward(self, x, training=False):
        x = self.check_input(x)
        xp = backend.get_array_module(x)
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        inv_std = 1.0 / xp.sqrt(var + x.dtype.type(self.eps))
        x_hat = (x - mean) * inv_std
        self.cache = (x_hat, inv_std)
        return self.params["gamma"] * x_hat + self.params["beta"]

    def backward(self, dy):
        x_hat, inv_std = self.require_cache()
        D = x_hat.shape[-1]
        summed_axes = tuple(range(dy.ndim - 1))
        self.grads["gamma"][...] = (dy * x_hat).sum(axis=summed_axes)
        self.grads["beta"][...] = dy.sum(axis=summed_axes)
        dx_hat = dy * self.params["gamma"]
        return (inv_std / D) * (
            D * dx_hat
            - dx_hat.sum(axis=-1, keepdims=True)
            - x_hat * (dx_hat * x_hat).sum(axis=-1, keepdims=True)
        )
