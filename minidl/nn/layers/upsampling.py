"""Layers that make images larger: UpSampling2D and Conv2DTranspose.

A decoder (of an autoencoder, of a GAN's generator) has to grow a small feature map back
into an image. Two ways, both on (N, C, H, W) batches:

``UpSampling2D(size)`` repeats every pixel ``sh x sw`` times (nearest neighbour) and has
no weights; a Conv2D after it then learns to smooth the blocks:

    forward     y[n, c, h, w] = x[n, c, h // sh, w // sw]
    backward    dx[n, c, i, j] = sum of dy over the sh x sw block that copied x[n, c, i, j]

``Conv2DTranspose(filters, kernel_size, stride, padding)`` is the *adjoint* of a
convolution: its forward is exactly the input-gradient of a Conv2D (so it grows H, W by
the stride), and its backward is that Conv2D's forward. With ``x2d`` the input as a
(C_in, N*H*W) matrix and ``W2 = W.reshape(C_in, F*KH*KW)``:

    forward     cols  = W2.T @ x2d                          (F*KH*KW, N*H*W)
                y     = col2im(cols) + b                    (N, F, OH, OW)
    backward    dcols = im2col(dy)                          (F*KH*KW, N*H*W)
                dx2d  = W2 @ dcols      dW2 = x2d @ dcols.T      db = sum of dy over N, OH, OW

with OH = (H - 1) * SH - 2 PH + KH + OPH (likewise OW), PyTorch's ``ConvTranspose2d``
formula. Each input pixel "stamps" the kernel, scaled by its value, onto the output at
stride spacing, and overlapping stamps add up. The same ``im2col``/``col2im`` kernels as
Conv2D do the work, with their roles swapped, through ``backend.kernels_for``.
"""

from __future__ import annotations

import numpy as np

from ... import backend
from .conv import Convolution, ImageHints, pair


class UpSampling2D(ImageHints):
    """Nearest-neighbour upsampling: each pixel becomes an ``sh x sw`` block.

    Parameters
    ----------
    size : int or (int, int)
        Repetition factors (SH, SW).

    Shapes: x (N, C, H, W) -> y (N, C, H*SH, W*SW); no params.
    """

    def __init__(self, size=2, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.size = pair(size, "size", "UpSampling2D")

    def compute_output_shape(self, input_shape):
        self.check_rank(input_shape)
        C, H, W = input_shape
        sh, sw = self.size
        return (C, H * sh, W * sw)

    def forward(self, x, training=False):
        x = self.check_input(x)
        sh, sw = self.size
        self.cache = x.shape
        return x.repeat(sh, axis=2).repeat(sw, axis=3)

    def backward(self, dy):
        N, C, H, W = self.require_cache()
        sh, sw = self.size
        # axis 3 indexes the copy inside a block of rows, axis 5 inside a block of columns
        return dy.reshape(N, C, H, sh, W, sw).sum(axis=(3, 5))


class Conv2DTranspose(Convolution):
    """Transposed convolution ("deconvolution"): the adjoint of Conv2D, used to upsample.

    Parameters
    ----------
    filters : int
        Output channels F.
    kernel_size : int or (int, int)
        KH, KW.
    stride : int or (int, int)
        SH, SW: the factor by which H and W (roughly) grow.
    padding : int, (int, int), "valid" or "same"
        PH, PW: rows/columns cropped from each side of the full output (the padding of the
        Conv2D this layer is the adjoint of). ``kernel_size=4, stride=2, padding=1`` doubles
        H and W exactly. ``"same"`` gives H * SH x W * SW for any kernel (the
        adjoint of a ``"same"`` Conv2D: when KH - SH is odd, the extra row is cropped at
        the bottom, as TensorFlow, where an integer padding with ``output_padding`` crops
        it at the top, as PyTorch); ``"valid"`` keeps the full output, (H - 1) * SH + KH
        (at least H * SH). Both come with ``output_padding=0``.
    output_padding : int or (int, int)
        Extra rows/columns added at the bottom/right (must be smaller than the stride);
        ``kernel_size=3, stride=2, padding=1, output_padding=1`` also doubles H and W.
    activation : str or None
        Name of an activation applied after the layer.
    use_bias : bool
        Whether to add ``b``.
    kernel_initializer : str (keyword-only, as the option that follows)
        A name from ``minidl.nn.initializers``. Fans: C_in*KH*KW in, F*KH*KW out.
    kernel_regularizer : Regularizer, str or None
        As Conv2D's (``AffineLayer``).

    Shapes: x (N, C_in, H, W) -> y (N, F, OH, OW) with
    OH = (H - 1) * SH - 2 PH + KH + OPH (likewise OW); params ``W`` (C_in, F, KH, KW)
    (PyTorch's ``ConvTranspose2d`` layout), ``b`` (F,).
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        activation=None,
        use_bias: bool = True,
        *,
        name=None,
        **options,
    ):
        super().__init__(filters, kernel_size, stride, padding, activation, use_bias, name=name, **options)
        if isinstance(padding, str) and output_padding not in (0, (0, 0), None):
            raise ValueError(
                "Conv2DTranspose: output_padding goes with an integer padding; "
                f"padding={padding!r} fixes the output size itself"
            )
        self.output_padding = pair(output_padding or 0, "output_padding", "Conv2DTranspose", 0)
        if any(op >= s for op, s in zip(self.output_padding, self.stride)):
            raise ValueError(
                f"Conv2DTranspose output_padding must be smaller than the stride, got "
                f"output_padding={self.output_padding}, stride={self.stride}"
            )

    def set_padding(self, padding) -> None:
        """Keep ``padding``: a string, or an integer as a pair (the rows/columns cropped)."""
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(
                f"Conv2DTranspose padding must be an integer, a pair, 'valid' or 'same', got {padding!r}"
            )
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", "Conv2DTranspose", 0)

    # ------------------------------------------------------------------ shapes
    def build(self, input_shape, dtype=np.float32):
        self.compute_output_shape(input_shape)
        super().build(input_shape, dtype)
        channels = input_shape[0]
        kh, kw = self.kernel_size
        fan_in, fan_out = channels * kh * kw, self.filters * kh * kw
        self.add_kernel_and_bias((channels, self.filters, kh, kw), self.filters, fan_in, fan_out, dtype)

    def crops(self):
        """For ``padding="same"``/``"valid"``: (top, bottom, left, right) rows and columns
        cut from the full output (H - 1) * SH + KH x ...; a negative ``bottom``/``right``
        adds that many rows/columns instead (a kernel smaller than the stride)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if self.padding == "valid":
            return 0, min(kh - sh, 0), 0, min(kw - sw, 0)
        top, left = max(kh - sh, 0) // 2, max(kw - sw, 0) // 2
        return top, kh - sh - top, left, kw - sw - left

    def compute_output_shape(self, input_shape):
        self.check_rank(input_shape)
        _, H, W = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if isinstance(self.padding, str):
            top, bottom, left, right = self.crops()
            return (self.filters, (H - 1) * sh + kh - top - bottom, (W - 1) * sw + kw - left - right)
        (ph, pw), (oph, opw) = self.padding, self.output_padding
        OH, OW = (H - 1) * sh - 2 * ph + kh + oph, (W - 1) * sw - 2 * pw + kw + opw
        if OH < 1 or OW < 1:
            raise ValueError(
                f"{self.label} padding ({ph}, {pw}) crops away the whole output for input "
                f"(N, {', '.join(map(str, input_shape))}): it would be {OH}x{OW}"
            )
        return (self.filters, OH, OW)

    def _pads(self):
        """(PH, PW) for col2im/im2col: 0 with a string padding (cropped separately)."""
        return (0, 0) if isinstance(self.padding, str) else self.padding

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False):
        x = self.check_input(x)
        N, C, H, W = x.shape
        F, OH, OW = self.compute_output_shape(x.shape[1:])
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self._pads()
        xp = backend.get_array_module(x)

        x2d = x.transpose(1, 0, 2, 3).reshape(C, N * H * W)  # (C, N*H*W)
        cols = self.params["W"].reshape(C, -1).T @ x2d  # (F*KH*KW, N*H*W)
        # col2im treats (N, F, OH, OW) as the input of a Conv2D whose output is (N, C, H, W)
        if isinstance(self.padding, str):  # the full output, then the crop
            full = backend.kernels_for(cols).col2im(
                cols, (N, F, (H - 1) * sh + kh, (W - 1) * sw + kw), kh, kw, sh, sw, 0, 0
            )
            y = _crop(full, self.crops())
        else:
            y = backend.kernels_for(cols).col2im(cols, (N, F, OH, OW), kh, kw, sh, sw, ph, pw)
        if self.use_bias:
            y += self.params["b"].reshape(1, F, 1, 1)
        self.cache = (x2d, x.shape)
        y = xp.ascontiguousarray(y)
        return y if self.activation_layer is None else self.activation_layer.forward(y, training)

    def backward(self, dy):
        x2d, (N, C, H, W) = self.require_cache()
        dy = dy if self.activation_layer is None else self.activation_layer.backward(dy)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self._pads()
        xp = backend.get_array_module(dy)
        Wt = self.params["W"]
        if self.use_bias:  # b reaches every output, appended zero rows too
            self.grads["b"][...] = dy.sum(axis=(0, 2, 3))
        if isinstance(self.padding, str):  # back to the full output: the crop's adjoint pads
            dy = _uncrop(dy, self.crops(), ((H - 1) * sh + kh, (W - 1) * sw + kw))

        dcols = backend.kernels_for(dy).im2col(xp.ascontiguousarray(dy), kh, kw, sh, sw, ph, pw)
        self.grads["W"][...] = (x2d @ dcols.T).reshape(Wt.shape)  # (C, F*KH*KW)
        dx2d = Wt.reshape(C, -1) @ dcols  # (C, N*H*W)
        return xp.ascontiguousarray(dx2d.reshape(C, N, H, W).transpose(1, 0, 2, 3))


def _crop(full, crops):
    """Cut (top, bottom, left, right) from the last two axes of ``full``; a negative
    bottom/right appends that many zero rows/columns instead."""
    top, bottom, left, right = crops
    xp = backend.get_array_module(full)
    y = full[:, :, top : full.shape[2] - max(bottom, 0), left : full.shape[3] - max(right, 0)]
    return xp.pad(y, ((0, 0), (0, 0), (0, max(-bottom, 0)), (0, max(-right, 0))))


def _uncrop(dy, crops, full_shape):
    """The adjoint of ``_crop``: ``dy`` back on the full output's (H, W), zeros where cut."""
    top, bottom, left, right = crops
    xp = backend.get_array_module(dy)
    H, W = full_shape
    dy = dy[:, :, : dy.shape[2] - max(-bottom, 0), : dy.shape[3] - max(-right, 0)]
    return xp.pad(dy, ((0, 0), (0, 0), (top, H - top - dy.shape[2]), (left, W - left - dy.shape[3])))
