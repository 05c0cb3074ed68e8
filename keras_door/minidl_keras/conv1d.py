"""Layers for sequences of feature vectors: Conv1D, MaxPool1D, AvgPool1D, GlobalAvgPool1D.

A 1-D convolution is a 2-D one on images one pixel high: the sequence (N, C, L) is viewed
as (N, C, 1, L), the kernel (F, C, K) as (F, C, 1, K), and Conv2D's ``convolve`` /
``convolve_backward`` (the ``conv2d_forward``/``conv2d_backward`` kernels) do the work; pooling likewise
calls the 2-D pooling kernels with (1, K) windows. So these layers add no arithmetic of
their own, only the views:

    Conv1D      y[n, f, t] = b[f] + sum_{c, k} W[f, c, k] x_pad[n, c, s t + k]
    MaxPool1D   y[n, c, t] = max_k x[n, c, s t + k]          AvgPool1D: the mean
    GlobalAvgPool1D   y[n, c] = mean_t x[n, c, t]

Sequences are (N, C, L), channels first, PyTorch's ``Conv1d`` layout (the recurrent layers
take (N, T, D): ``x.transpose(0, 2, 1)`` turns one into the other).

No chapter uses these layers, so they are the door's, not minidl's: minidl-layout layers built
on minidl's public ``Convolution``/``Pooling`` (docs/ARCHITECTURE.md, "Extending minidl"), to
which ``layers.py`` gives Keras's names, defaults and channels-last layout.
"""

from __future__ import annotations

import numpy as np

from minidl import backend
from minidl.kernels.common import pool_output_length
from minidl.nn.layers.base import Layer
from minidl.nn.layers.conv import (
    Convolution,
    Pooling,
    convolve,
    convolve_backward,
    pool,
    pool_backward,
    pooling_pads,
    same_padding,
)

__all__ = ["Conv1D", "MaxPool1D", "AvgPool1D", "GlobalAvgPool1D"]


def _single(value, what: str, who: str, minimum: int = 1) -> int:
    """``3 -> 3``, ``(3,) -> 3``; anything else is a clear error."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{who} {what} must be an integer >= {minimum} (or a 1-tuple), got {value!r}")
    return int(value)


class _Sequence1D(Layer):
    """What the 1-D layers share: (N, C, L) inputs, windows given as one integer."""

    input_ndims = (3,)
    input_layout = "(N, C, L)"

    def window(self, value, what: str):
        """A window's size or stride (Conv1D's, a pool's): one integer (a 1-tuple is taken too)."""
        return _single(value, what, type(self).__name__)

    def _check_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(
                f"{self.label} expected input {self.input_layout}, got per-sample shape {tuple(shape)}"
            )
        if shape[1] is None:
            raise ValueError(
                f"{self.label} needs the sequence length; got per-sample shape "
                f"{tuple(shape)} with a free (None) axis"
            )


class Conv1D(_Sequence1D, Convolution):
    """1-D convolution (cross-correlation) ``y = activation(conv(x, W) + b)`` along a sequence.

    Parameters
    ----------
    filters : int
        Output channels F.
    kernel_size : int
        K, the window length.
    stride : int
        Step between windows.
    padding : int, "valid", "same" or "causal"
        Zeros added at each end. ``"same"`` gives ceil(L / stride) outputs (an odd zero
        goes at the end); ``"causal"`` adds K - 1 zeros at the start only, so
        output t sees inputs up to t (stride 1).
    activation, use_bias
        As Conv2D's.
    kernel_initializer, kernel_regularizer
        Keyword-only, as Conv2D's (``AffineLayer``). Fans: C*K in, F*K out.

    Shapes: x (N, C, L) -> y (N, F, OL) with OL = (L + P_start + P_end - K) // stride + 1;
    params ``W`` (F, C, K) (PyTorch's ``Conv1d`` layout), ``b`` (F,).
    """

    def set_padding(self, padding) -> None:
        if isinstance(padding, str):
            if padding not in ("valid", "same", "causal"):
                raise ValueError(
                    f"Conv1D padding must be an integer, 'valid', 'same' or 'causal', got {padding!r}"
                )
            if padding == "causal" and self.stride != 1:
                raise ValueError(f"Conv1D padding='causal' needs stride 1, got stride={self.stride}")
            self.padding: int | str = padding
        else:
            self.padding = _single(padding, "padding", "Conv1D", 0)

    def pads_for(self, length: int) -> tuple[int, int]:
        """Zeros (at the start, at the end) for a sequence of ``length``."""
        k, s = self.kernel_size, self.stride
        if self.padding == "valid":
            return (0, 0)
        if self.padding == "same":
            return same_padding(length, k, s)
        if self.padding == "causal":
            return (k - 1, 0)
        return (int(self.padding), int(self.padding))

    def build(self, input_shape, dtype=np.float32):
        self.compute_output_shape(input_shape)
        super().build(input_shape, dtype)
        C, K, F = input_shape[0], self.kernel_size, self.filters
        self.add_kernel_and_bias((F, C, K), F, C * K, F * K, dtype)

    def compute_output_shape(self, input_shape):
        self._check_shape(input_shape)
        _, L = input_shape
        start, end = self.pads_for(L)
        if self.kernel_size > L + start + end:
            raise ValueError(
                f"{self.label} kernel of {self.kernel_size} is longer than the padded "
                f"sequence {L + start + end} (input {self.input_layout} = (N, "
                f"{', '.join(map(str, input_shape))}))"
            )
        return (self.filters, (L + start + end - self.kernel_size) // self.stride + 1)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.compute_output_shape(x.shape[1:])
        start, end = self.pads_for(x.shape[2])
        pads = (0, 0, start, end)  # (top, bottom, left, right) of a 1-pixel image
        y, cache = convolve(
            x[:, :, None, :], self.params, (1, self.kernel_size), (1, self.stride), pads, training
        )
        y = y[:, :, 0, :]
        self.cache = (cache, pads)
        if self.activation_layer is not None:
            y = self.activation_layer.forward(y, training)
        return y

    def backward(self, dy):
        cache, pads = self.require_cache()
        if self.activation_layer is not None:
            dy = self.activation_layer.backward(dy)
        dx = convolve_backward(
            dy[:, :, None, :], cache, self.params, self.grads, (1, self.kernel_size), (1, self.stride), pads
        )
        return dx[:, :, 0, :]


class _Pool1D(_Sequence1D, Pooling):
    """MaxPool1D and AvgPool1D: windows of ``pool_size`` moved by ``stride`` (default: the
    pool size); with ``padding="valid"`` windows that do not fit at the end are dropped, with
    ``"same"`` ceil(L / stride) windows whose padded steps take no part (Conv2D's
    ``pool``, on (N, C, 1, L) images with (1, K) windows)."""

    def compute_output_shape(self, input_shape):
        self._check_shape(input_shape)
        C, L = input_shape
        if self.padding == "same":
            return (C, -(-L // self.stride))
        if self.pool_size > L:
            raise ValueError(
                f"{self.label} pool of {self.pool_size} does not fit the sequence of "
                f"{L} (input {self.input_layout} = (N, "
                f"{', '.join(map(str, input_shape))}))"
            )
        return (C, pool_output_length(L, self.pool_size, self.stride))

    def build(self, input_shape, dtype=np.float32):
        self.compute_output_shape(input_shape)
        super().build(input_shape, dtype)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.compute_output_shape(x.shape[1:])
        window, stride = (1, self.pool_size), (1, self.stride)
        pads = pooling_pads(self.padding, (1, x.shape[2]), window, stride)
        y, self.cache = pool(self.kind, x[:, :, None, :], window, stride, pads)
        return y[:, :, 0, :]

    def backward(self, dy):
        dx = pool_backward(
            self.kind, dy[:, :, None, :], self.require_cache(), (1, self.pool_size), (1, self.stride)
        )
        return dx[:, :, 0, :]


class MaxPool1D(_Pool1D):
    """Maximum over windows of ``pool_size`` steps: (N, C, L) -> (N, C, (L - K) // S + 1)
    ("valid"; ceil(L / S) with "same"). The gradient goes to the first maximum of each
    window, as PyTorch."""

    kind = "max"


class AvgPool1D(_Pool1D):
    """Mean over windows of ``pool_size`` steps; each step of a window gets 1/K of its gradient
    (with "same", 1/(the window's valid steps) at the ends)."""

    kind = "avg"


class GlobalAvgPool1D(_Sequence1D):
    """Average each channel over the whole sequence: (N, C, L) -> (N, C).

    y[n, c] = mean_t x[n, c, t]        dx[n, c, t] = dy[n, c] / L
    """

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            self._check_shape(input_shape)
        return (input_shape[0],)  # any length: a free (None) one too

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x.shape
        return x.mean(axis=2)

    def backward(self, dy):
        N, C, L = self.require_cache()
        xp = backend.get_array_module(dy)
        return xp.ascontiguousarray(xp.broadcast_to((dy / dy.dtype.type(L))[:, :, None], (N, C, L)))
