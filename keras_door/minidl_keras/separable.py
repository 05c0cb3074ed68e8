"""Depthwise and depthwise-separable convolutions: DepthwiseConv2D and SeparableConv2D.

A depthwise convolution filters each input channel on its own, with ``M`` kernels per channel
(the depth multiplier): no sum over channels, so it costs C*M*KH*KW multiplications per
output pixel where a full convolution to C*M channels costs C*C*M*KH*KW::

    y[n, c*M + m, oh, ow] = b[c*M + m] + sum_{i, j} W[c, m, i, j] * x_pad[n, c, sh*oh + i, sw*ow + j]

Written with the windows of x as a stack ``P`` (KH*KW, N, C, OH, OW), one slice per kernel
offset k = i*KW + j, ``P[k] = x_pad[:, :, i : i + sh*OH : sh, j : j + sw*OW : sw]``::

    forward     y[n, c, m]  = sum_k W[c, m, k] P[k, n, c]               (then b, and c, m -> c*M + m)
    backward    dW[c, m, k] = sum_{n, oh, ow} dy[n, c, m] P[k, n, c]
                db          = dy summed over n, oh, ow
                dP[k, n, c] = sum_m dy[n, c, m] W[c, m, k], added back onto the pixels each
                              window read (the adjoint of taking the windows), padding dropped

A separable convolution (Chollet's Xception, MobileNet) is a depthwise convolution followed by
a 1x1 convolution that mixes the C*M channels into F: ``SeparableConv2D`` holds a
``DepthwiseConv2D`` (no bias) and a 1x1 ``Conv2D`` (with the bias and the activation) as its
sub-layers ``depthwise`` and ``pointwise`` and runs one after the other; its backward is
theirs in reverse.

No chapter uses these layers, so they are the door's, not minidl's: minidl-layout layers on
minidl's public ``ImageHints`` and ``Conv2D`` (docs/ARCHITECTURE.md, "Extending minidl"), to
which ``layers.py`` gives Keras's names and channels-last layout.
"""

from __future__ import annotations

import numpy as np

from minidl import backend
from minidl.nn import initializers
from minidl.nn.layers import activations
from minidl.nn.layers.base import Layer
from minidl.nn.layers.checks import positive_int
from minidl.nn.layers.conv import Conv2D, ImageHints, pair, same_padding

__all__ = ["DepthwiseConv2D", "SeparableConv2D", "depthwise_conv", "depthwise_conv_backward"]


def _padding(padding, who: str) -> str:
    if padding not in ("valid", "same"):
        raise ValueError(f"{who} padding must be 'valid' or 'same', got {padding!r}")
    return padding


def _no_dilation(dilation_rate, who: str) -> None:
    if pair(dilation_rate, "dilation_rate", who) != (1, 1):
        raise NotImplementedError(
            f"{who}(dilation_rate={dilation_rate!r}) is not in minidl: its convolutions read adjacent "
            "pixels only. The closest minidl way: a larger kernel_size, or pooling before the layer"
        )


def conv_pads(padding: str, H: int, W: int, kernel_size, stride) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) zeros: none for ``"valid"``; ``"same"`` (ceil(size / stride)
    outputs, the odd zero at the bottom and right)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    (kh, kw), (sh, sw) = kernel_size, stride
    return same_padding(H, kh, sh) + same_padding(W, kw, sw)


def depthwise_conv(x, W, b, stride, pads):
    """The depthwise convolution (see the module's docstring).

    x (N, C, H, W); W (C, M, KH, KW); b (C*M,) or None; stride (SH, SW); pads (top, bottom,
    left, right). Returns y (N, C*M, OH, OW) with OH = (H + top + bottom - KH) // SH + 1
    (likewise OW), and the cache ``depthwise_conv_backward`` takes: the windows P
    (KH*KW, N, C, OH, OW) and the padded input's shape.
    """
    xp = backend.get_array_module(x)
    C, M, kh, kw = W.shape
    (sh, sw), (top, bottom, left, right) = stride, pads
    x_pad = xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    N, _, Hp, Wp = x_pad.shape
    OH, OW = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    P = xp.stack(
        [x_pad[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw] for i in range(kh) for j in range(kw)]
    )  # (KH*KW, N, C, OH, OW)
    y = xp.einsum("cmk,knchw->ncmhw", W.reshape(C, M, kh * kw), P).reshape(N, C * M, OH, OW)
    if b is not None:
        y += b.reshape(1, C * M, 1, 1)
    return y, (P, x_pad.shape)


def depthwise_conv_backward(dy, cache, W, stride, pads):
    """The backward of ``depthwise_conv``: dy (N, C*M, OH, OW) -> dx (N, C, H, W), dW (C, M, KH, KW),
    db (C*M,) (the sum of dy over n, oh, ow; the caller keeps it only with a bias)."""
    xp = backend.get_array_module(dy)
    P, padded_shape = cache
    C, M, kh, kw = W.shape
    (sh, sw), (top, bottom, left, right) = stride, pads
    N, _, OH, OW = dy.shape
    dy5 = dy.reshape(N, C, M, OH, OW)
    dW = xp.einsum("ncmhw,knchw->cmk", dy5, P).reshape(C, M, kh, kw)
    db = dy.sum(axis=(0, 2, 3))
    dP = xp.einsum("ncmhw,cmk->knchw", dy5, W.reshape(C, M, kh * kw))
    dx_pad = xp.zeros(padded_shape, dtype=dy.dtype)
    for k in range(kh * kw):
        i, j = divmod(k, kw)
        dx_pad[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw] += dP[k]
    Hp, Wp = padded_shape[2:]
    dx = xp.ascontiguousarray(dx_pad[:, :, top : Hp - bottom, left : Wp - right])
    return dx, dW, db


class _Depthwise(ImageHints, Layer, register=False):
    """What DepthwiseConv2D and SeparableConv2D share: (N, C, H, W) images, whose channels the
    built layer's weights fix (H and W may vary), and the arguments they take alike."""

    input_ndims = (4,)
    input_layout = "(N, C, H, W)"

    def __init__(
        self,
        name,
        stride,
        activation,
        use_bias,
        depthwise_initializer,
        bias_initializer,
        **kwargs,
    ):
        who = type(self).__name__
        super().__init__(name, **kwargs)
        self.stride = pair(stride, "stride", who)
        self.dilation_rate = 1
        self.activation, self.use_bias = activation, use_bias
        self.activation_layer = activations.get(activation)
        self.depthwise_initializer = initializers.from_saved(depthwise_initializer)
        self.bias_initializer = initializers.from_saved(bias_initializer)

    def input_mismatch(self, shape):
        return shape[0] != self.built_input_shape[0]  # W fixes the channels; H and W may vary


class DepthwiseConv2D(_Depthwise):
    """Each input channel convolved on its own with ``depth_multiplier`` kernels (no sum over channels).

    Parameters
    ----------
    kernel_size : int or (int, int)
        KH, KW.
    stride : int or (int, int)
        SH, SW.
    padding : "valid" or "same"
        ``"same"`` gives ceil(H / SH) x ceil(W / SW) outputs (odd zeros at the bottom/right).
    depth_multiplier : int
        M, the kernels (output channels) per input channel.
    activation, use_bias
        As Conv2D's.
    dilation_rate : 1
        Only 1: another is a ``NotImplementedError``.
    depthwise_initializer, bias_initializer : str
        Glorot uniform and zeros by default; fans KH*KW*C in, KH*KW*M out.

    Shapes: x (N, C, H, W) -> y (N, C*M, OH, OW), output channel c*M + m from input channel c;
    params ``W`` (C, M, KH, KW), ``b`` (C*M,).
    """

    def __init__(
        self,
        kernel_size,
        stride=1,
        padding="valid",
        depth_multiplier: int = 1,
        dilation_rate=1,
        activation=None,
        use_bias: bool = True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        name=None,
        **kwargs,
    ):
        super().__init__(
            name, stride, activation, use_bias, depthwise_initializer, bias_initializer, **kwargs
        )
        who = type(self).__name__
        _no_dilation(dilation_rate, who)
        self.kernel_size = pair(kernel_size, "kernel_size", who)
        self.padding = _padding(padding, who)
        self.depth_multiplier = positive_int(depth_multiplier, f"{who} depth_multiplier")

    def build(self, input_shape, dtype=np.float32):
        self.compute_output_shape(input_shape)
        super().build(input_shape, dtype)
        C, M, (kh, kw) = input_shape[0], self.depth_multiplier, self.kernel_size
        fan_in, fan_out = C * kh * kw, M * kh * kw
        init = initializers.get(self.depthwise_initializer)
        self.add_param("W", init((C, M, kh, kw), fan_in, fan_out, dtype))
        if self.use_bias:
            self.add_param("b", initializers.get(self.bias_initializer)((C * M,), fan_in, fan_out, dtype))

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"{self.label} expected input {self.input_layout}, got per-sample shape {tuple(input_shape)}"
            )
        C, H, W = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if self.padding == "same":
            return (C * self.depth_multiplier, -(-H // sh), -(-W // sw))
        if kh > H or kw > W:
            raise ValueError(
                f"{self.label} kernel {kh}x{kw} is larger than the input {H}x{W} (per-sample shape "
                f"{tuple(input_shape)}){self.shape_hint(input_shape)}"
            )
        return (C * self.depth_multiplier, (H - kh) // sh + 1, (W - kw) // sw + 1)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.compute_output_shape(x.shape[1:])
        H, W = x.shape[2:]
        pads = conv_pads(self.padding, H, W, self.kernel_size, self.stride)
        y, cache = depthwise_conv(x, self.params["W"], self.params.get("b"), self.stride, pads)
        self.cache = (cache, pads)
        if self.activation_layer is not None:
            y = self.activation_layer.forward(y, training)
        return y

    def backward(self, dy):
        cache, pads = self.require_cache()
        if self.activation_layer is not None:
            dy = self.activation_layer.backward(dy)
        dx, dW, db = depthwise_conv_backward(dy, cache, self.params["W"], self.stride, pads)
        self.grads["W"][...] = dW
        if self.use_bias:
            self.grads["b"][...] = db
        return dx


class SeparableConv2D(_Depthwise):
    """A depthwise convolution then a 1x1 convolution to ``filters`` channels (see the module's docstring).

    Parameters as DepthwiseConv2D's, plus ``filters`` (F) and ``pointwise_initializer``; the bias
    (``use_bias``, the 1x1 convolution's) and the ``activation`` come last.

    Shapes: x (N, C, H, W) -> y (N, F, OH, OW) (OH, OW as DepthwiseConv2D's); params
    ``depthwise.W`` (C, M, KH, KW), ``pointwise.W`` (F, C*M, 1, 1), ``pointwise.b`` (F,).
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        stride=1,
        padding="valid",
        dilation_rate=1,
        depth_multiplier: int = 1,
        activation=None,
        use_bias: bool = True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        name=None,
        **kwargs,
    ):
        super().__init__(
            name, stride, activation, use_bias, depthwise_initializer, bias_initializer, **kwargs
        )
        self.filters = positive_int(filters, f"{type(self).__name__} filters")
        self.depthwise = DepthwiseConv2D(
            kernel_size,
            self.stride,
            padding,
            depth_multiplier,
            use_bias=False,
            depthwise_initializer=depthwise_initializer,
            dilation_rate=dilation_rate,
        )
        self.pointwise = Conv2D(
            filters,
            1,
            use_bias=use_bias,
            kernel_initializer=pointwise_initializer,
        )
        self.kernel_size, self.padding, self.depth_multiplier = (
            self.depthwise.kernel_size,
            padding,
            depth_multiplier,
        )
        self.pointwise_initializer = initializers.from_saved(pointwise_initializer)

    def sublayers(self):
        return {"depthwise": self.depthwise, "pointwise": self.pointwise}

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        for layer in (self.depthwise, self.pointwise):
            layer.device = self.device
            layer.build(input_shape, dtype)
            input_shape = layer.compute_output_shape(input_shape)
        if self.use_bias:  # the pointwise convolution's b, drawn by this layer's bias_initializer
            F, fan_in = self.pointwise.filters, self.pointwise.params["W"].shape[1]
            self.pointwise.add_param("b", initializers.get(self.bias_initializer)((F,), fan_in, F, dtype))

    def compute_output_shape(self, input_shape):
        return self.pointwise.compute_output_shape(self.depthwise.compute_output_shape(input_shape))

    def forward(self, x, training=False):
        x = self.check_input(x)
        y = self.pointwise.forward(self.depthwise.forward(x, training), training)
        if self.activation_layer is not None:
            y = self.activation_layer.forward(y, training)
        return y

    def backward(self, dy):
        if self.activation_layer is not None:
            dy = self.activation_layer.backward(dy)
        return self.depthwise.backward(self.pointwise.backward(dy))
