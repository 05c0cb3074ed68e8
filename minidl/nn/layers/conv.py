"""Convolution and pooling layers for image batches (N, C, H, W).

Conv2D computes a cross-correlation, as PyTorch does (the kernel is not flipped):

    y[n, f, oh, ow] = b[f] + sum_{c, i, j} W[f, c, i, j] * x_pad[n, c, sh*oh + i, sw*ow + j]

It is computed as one matrix product. ``im2col`` copies every window of the padded input
into a column, giving ``cols`` of shape (C*KH*KW, N*OH*OW); with ``W2 = W.reshape(F, -1)``:

    forward     Y2  = W2 @ cols                 (F, N*OH*OW), then reshaped to (N, F, OH, OW)
    backward    dW2 = dY2 @ cols.T              the same product as Dense's x^T dy
                db  = dY2 summed over columns
                dcols = W2.T @ dY2, and ``col2im`` adds each column back onto its pixels

so the backward of a convolution is the backward of a Dense layer applied to windows,
plus ``col2im``, the adjoint of the copy. The whole computation is one pair of kernels,
``conv2d_forward`` and ``conv2d_backward``, of the tier chosen by ``minidl.backend.use``:
the NumPy reference does exactly the above; the Numba tier does the same products either
over the whole batch or, for layers with few filters, tile by tile, never building the whole
patch matrix (``kernels/cpu/conv.py``, ``conv2d_route``, says why and when). The forward kernel
returns the patch matrix (or None) with y, the layer keeps it in its cache, and the backward
kernel takes it back: what the backward depends on is in the layer, in sight.

Pooling layers have no weights: MaxPool2D keeps each window's maximum and sends its
gradient back to that one pixel (the first maximum in row-major order, as PyTorch);
AvgPool2D averages and shares the gradient equally; GlobalAvgPool2D averages each
channel over the whole image, (N, C, H, W) -> (N, C).
"""

from __future__ import annotations

import numpy as np

from ... import backend
from ...kernels.common import conv_output_length, pool_output_length
from .affine import AffineLayer
from .base import Layer
from .checks import positive_int


def pair(value, what: str, who: str, minimum: int = 1) -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(3, 5) -> (3, 5)``; anything else is a clear error."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        values = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{who} {what} must be an integer or a pair of integers, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{who} {what} must be >= {minimum}, got {value!r}")
    return values


class ImageHints(Layer, register=False):
    """What the image layers share (a public base of minidl's extension API): their layout,
    (N, C, H, W) batches, and the hints they add to a shape error when the channels are on the
    last axis."""

    input_ndims = (4,)
    input_layout = "(N, C, H, W)"

    def window(self, value, what: str):
        """A window's size or stride (``kernel_size``, ``pool_size``) as the layer keeps it:
        (KH, KW) for a 2-D layer (a 1-D layer overrides this to keep one integer)."""
        return pair(value, what, type(self).__name__)

    def shape_hint(self, shape) -> str:
        """For a per-sample (C, H, W) so thin (one side at most 4 pixels, the other more) that
        the channels are probably on the wrong axis."""
        if len(shape) != 3 or None in shape or not min(shape[1:]) <= 4 < max(shape[1:]):
            return ""
        return (
            "; an image this thin usually means channels-last images (N, H, W, C) fed to a "
            "layer that takes (N, C, H, W): transpose them with x.transpose(0, 3, 1, 2)"
        )

    def mismatch_hint(self, got: tuple) -> str:
        """For a 4-D batch that is the built (C, H, W) with the channels moved last."""
        built = self.input_shape or ()
        if len(got) == 4 and len(built) == 3 and tuple(got[1:]) == (built[1], built[2], built[0]):
            return "; the images look channels-last (N, H, W, C): transpose them with x.transpose(0, 3, 1, 2)"
        return ""


class Convolution(ImageHints, AffineLayer, register=False):
    """What Conv2D and Conv2DTranspose share (a public base of minidl's extension API: a library
    built on minidl derives its 1-D convolution from it): their arguments, and which input
    shapes a built layer takes.

    Each takes ``filters`` (F, the output channels), a window of ``kernel_size`` moved by
    ``stride`` (pairs for the 2-D layers; a subclass's ``window`` may keep one integer), a
    ``padding`` that each checks by its own rules (``set_padding``), ``activation`` and
    ``use_bias`` and the other options of ``AffineLayer``. Inputs are (N, C, H, W) images (a 1-D
    convolution's: (N, C, L) sequences). Once built, ``W`` fixes the input channels only: the image (or
    sequence) may be of any size the kernel fits.
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        stride=1,
        padding=0,
        activation=None,
        use_bias: bool = True,
        *,
        name=None,
        **options,
    ):
        super().__init__(name, activation=activation, use_bias=use_bias, **options)
        self.filters = positive_int(filters, f"{type(self).__name__} filters")
        self.kernel_size = self.window(kernel_size, "kernel_size")
        self.stride = self.window(stride, "stride")
        self.set_padding(padding)

    def set_padding(self, padding) -> None:
        """Check ``padding`` and keep it as ``self.padding`` (each layer has its own rules)."""
        raise NotImplementedError

    def input_mismatch(self, shape):
        return shape[0] != self.built_input_shape[0]  # W fixes the input channels; the rest may vary


class Conv2D(Convolution):
    """2-D convolution (cross-correlation) ``y = activation(conv(x, W) + b)``.

    Parameters
    ----------
    filters : int
        Output channels F.
    kernel_size : int or (int, int)
        KH, KW.
    stride : int or (int, int)
        Step between windows, SH, SW.
    padding : int, (int, int), "valid" or "same"
        Zeros added on each side (PH, PW). ``"valid"`` is 0; ``"same"`` gives
        ceil(H / SH) x ceil(W / SW) outputs (with a stride or an even kernel the
        zeros cannot be shared equally: the odd row and column go at the bottom and
        right, as in TensorFlow; ``pads_for`` says which).
    activation : str or None
        Name of an activation applied after the convolution (``"relu"``, ...).
    use_bias : bool
        Whether to add ``b``.
    kernel_initializer : str (keyword-only, as the option that follows)
        A name from minidl.nn.initializers (Glorot uniform by default; "he_uniform"
        suits ReLU networks). Fans: C*KH*KW in, F*KH*KW out.
    kernel_regularizer : Regularizer, str or None
        A penalty on W, as Dense's (AffineLayer).
    **kwargs
        ``input_shape=``, ``input_dim=``, ``trainable=`` (``Layer``'s).

    Shapes: x (N, C, H, W) -> y (N, F, OH, OW) with OH = (H + 2 PH - KH) // SH + 1
    (likewise OW); params ``W`` (F, C, KH, KW), ``b`` (F,).
    """

    def set_padding(self, padding) -> None:
        """Keep ``padding`` (an integer becomes a pair) and ``pads``, the zeros it adds."""
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", "Conv2D", 0)
        self.pads = self._resolve_padding(self.padding)

    def _resolve_padding(self, padding):
        """The zeros (PH, PW) added on each side for ``padding``; None for a ``"same"`` that
        depends on the input's size (a stride, or an even kernel: see ``pads_for``)."""
        if not isinstance(padding, str):
            return padding
        if padding == "valid":
            return (0, 0)
        if padding == "same":
            kh, kw = self.kernel_size
            if self.stride == (1, 1) and kh % 2 == 1 and kw % 2 == 1:
                return (kh // 2, kw // 2)
            return None
        raise ValueError(
            f"{type(self).__name__} padding must be an integer, a pair, 'valid' or 'same', got {padding!r}"
        )

    def pads_for(self, H: int, W: int):
        """The padding for an H x W input: ``pads`` (PH, PW), or for ``"same"`` with a stride
        or an even kernel (top, bottom, left, right), which gives ceil(H / SH) x
        ceil(W / SW) outputs (the odd zero row and column at the bottom and right)."""
        if self.pads is not None:
            return self.pads
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return same_padding(H, kh, sh) + same_padding(W, kw, sw)

    # ------------------------------------------------------------------ shapes
    def build(self, input_shape, dtype=np.float32):
        self.compute_output_shape(input_shape)  # the kernel must fit the padded input
        super().build(input_shape, dtype)
        channels = input_shape[0]
        kh, kw = self.kernel_size
        fan_in, fan_out = channels * kh * kw, self.filters * kh * kw
        self.add_kernel_and_bias((self.filters, channels, kh, kw), self.filters, fan_in, fan_out, dtype)

    def compute_output_shape(self, input_shape):
        self.check_rank(input_shape)
        _, H, W = input_shape
        if H is None or W is None:
            raise ValueError(
                f"{self.label} needs the image height and width; got per-sample shape "
                f"{tuple(input_shape)} with a free (None) axis"
            )
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if self.pads is None:  # "same": ceil(size / stride), always fits
            return (self.filters, -(-H // sh), -(-W // sw))
        ph, pw = self.pads
        if kh > H + 2 * ph or kw > W + 2 * pw:
            raise ValueError(
                f"{self.label} kernel {kh}x{kw} is larger than the padded input "
                f"{H + 2 * ph}x{W + 2 * pw} (input (N, "
                f"{', '.join(map(str, input_shape))}) "
                f"with padding ({ph}, {pw})){self.shape_hint(input_shape)}"
            )
        return (self.filters, conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw))

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False):
        x = self.check_input(x)
        self.compute_output_shape(x.shape[1:])
        pads = self.pads_for(*x.shape[2:])
        y, cache = convolve(x, self.params, self.kernel_size, self.stride, pads, training)
        self.cache = (cache, pads)
        return y if self.activation_layer is None else self.activation_layer.forward(y, training)

    def backward(self, dy):
        return self._backward(dy, input_grad=True)

    def backward_params(self, dy) -> None:
        """``backward`` without ``dL/dx`` (Dense's ``backward_params``): a model's first
        convolution skips ``W2.T @ dY2`` and ``col2im``."""
        self._backward(dy, input_grad=False)

    def _backward(self, dy, input_grad):
        cache, pads = self.require_cache()
        dy = dy if self.activation_layer is None else self.activation_layer.backward(dy)
        return convolve_backward(
            dy, cache, self.params, self.grads, self.kernel_size, self.stride, pads, input_grad
        )


def convolve(x, params, kernel_size, stride, pads, training=True):
    """The convolution of Conv2D (and a 1-D convolution's, as images one pixel high), activation aside.

    x (N, C, H, W); ``params["W"]`` (F, C, KH, KW) or any array with that memory layout
    (Conv1D's (F, C, KW)), ``params.get("b")`` (F,); ``pads`` (PH, PW) on each side, or
    (top, bottom, left, right) when the two sides differ (``"same"`` with a stride, or an
    even kernel: the extra row and column go at the bottom and right, as TensorFlow;
    Conv1D's ``"causal"``: zeros before the sequence only). The zeros both sides share are
    the kernel's padding; the rest are added to ``x`` here.
    Returns y (N, F, OH, OW) and the cache ``convolve_backward`` takes, a dict: ``"x"`` the
    input as the kernel saw it, ``"extra"`` the zeros added here, and ``"cols"`` the patch
    matrix the kernel returned (C*KH*KW, N*OH*OW), which the backward's dW product reads
    again -- kept only when ``training`` (a forward for inference has no backward), and
    None where the tier did not build it whole.
    """
    (kh, kw), (sh, sw) = kernel_size, stride
    xp = backend.get_array_module(x)
    ph, pw, extra = _symmetric_part(pads)
    if any(extra):  # the unequal part of the padding, added as zeros here
        x = xp.pad(x, ((0, 0), (0, 0), extra[:2], extra[2:]))
    weight = _kernel_4d(params["W"], x.shape[1], kh, kw)
    y, cols = backend.kernels_for(x).conv2d_forward(x, weight, params.get("b"), sh, sw, ph, pw)
    return y, {"x": x, "extra": extra, "cols": cols if training else None}


def convolve_backward(dy, cache, params, grads, kernel_size, stride, pads, input_grad=True):
    """The backward of ``convolve``: fills ``grads["W"]`` (and ``grads["b"]``) and returns
    dx (N, C, H, W), or None when ``input_grad`` is False.

        dW2 = dY2 @ cols.T      db = dY2 summed over columns      dcols = W2.T @ dY2 -> col2im

    The patch matrix serves one backward: it is taken out of ``cache`` and handed to the
    kernel without a name kept here, so the kernel can free it once dW is computed (a second
    backward after the same forward builds it again from x).
    """
    x, extra = cache["x"], cache["extra"]
    (kh, kw), (sh, sw) = kernel_size, stride
    ph, pw, _ = _symmetric_part(pads)
    weight = _kernel_4d(params["W"], x.shape[1], kh, kw)
    dx, dweight, dbias = backend.kernels_for(dy).conv2d_backward(
        dy, x, cache.pop("cols", None), weight, sh, sw, ph, pw, input_grad
    )
    grads["W"][...] = dweight.reshape(grads["W"].shape)
    if "b" in params:
        grads["b"][...] = dbias
    if dx is not None and any(extra):  # the gradient of the zeros added in ``convolve`` is dropped
        top, bottom, left, right = extra
        dx = backend.get_array_module(dx).ascontiguousarray(
            dx[:, :, top : x.shape[2] - bottom, left : x.shape[3] - right]
        )
    return dx


def _kernel_4d(W, channels, kh, kw):
    """``W`` as (F, C, KH, KW) (Conv1D keeps (F, C, KW): the same memory)."""
    return W.reshape(W.shape[0], channels, kh, kw)


def _symmetric_part(pads):
    """(PH, PW, extra) for ``pads`` (PH, PW) or (top, bottom, left, right): the zeros both
    sides share, and the (top, bottom, left, right) rest, to be added to the input."""
    if len(pads) == 2:
        return pads[0], pads[1], (0, 0, 0, 0)
    top, bottom, left, right = pads
    ph, pw = min(top, bottom), min(left, right)
    return ph, pw, (top - ph, bottom - ph, left - pw, right - pw)


def same_padding(size, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``padding="same"`` along one axis: (before, after) zeros so that
    the output has ``ceil(size / stride)`` positions; the odd one goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pooling_pads(padding: str, sizes, pool, stride):
    """The (before, after) padding of each axis for a pooling ``padding``: None for ``"valid"``
    (windows that do not fit are dropped), ``"same"`` (``same_padding``: ceil(size /
    stride) windows, the odd one after) flattened to (top, bottom, left, right)."""
    if padding == "valid":
        return None
    return sum((same_padding(n, k, s) for n, k, s in zip(sizes, pool, stride)), ())


def pool(kind: str, x, pool_size, stride, pads):
    """Max (``kind="max"``) or average pooling of x (N, C, H, W) over (KH, KW) windows moved by
    (SH, SW), with ``pads`` (top, bottom, left, right) cells around the image or None.

    The padded cells are not data (``padding="same"``): a maximum is taken over the
    window's valid cells only (they are padded with -inf, and every window holds at least
    one valid cell), and an average divides by the number of valid cells in its window::

        max   y[n, c, oh, ow] = max_{(h, w) valid in window (oh, ow)} x[n, c, h, w]
        avg   y[n, c, oh, ow] = sum_{(h, w) valid in window (oh, ow)} x[n, c, h, w] / count[oh, ow]

    computed with the "valid" kernels on the padded image (zeros for the average, whose
    kernel divides by KH * KW, then scaled by KH * KW / count).
    Returns y (N, C, OH, OW) and the cache ``pool_backward`` takes.
    """
    (kh, kw), (sh, sw) = pool_size, stride
    kernels, xp = backend.kernels_for(x), backend.get_array_module(x)
    shape, scale = x.shape, None
    if pads is not None:
        widths = ((0, 0), (0, 0), pads[:2], pads[2:])
        x = xp.pad(x, widths, constant_values=-np.inf if kind == "max" else 0)
        if kind == "avg":  # KH * KW / (valid cells of each window), (OH, OW)
            valid = xp.pad(xp.ones((1, 1) + tuple(shape[2:]), dtype=x.dtype), widths)
            scale = 1 / kernels.avg_pool_forward(valid, kh, kw, sh, sw)[0, 0]
    if kind == "max":
        y, argmax = kernels.max_pool_forward(x, kh, kw, sh, sw)
        return y, (shape, x.shape, pads, argmax)
    y = kernels.avg_pool_forward(x, kh, kw, sh, sw)
    return (y if scale is None else y * scale), (shape, x.shape, pads, scale)


def pool_backward(kind: str, dy, cache, pool_size, stride):
    """The backward of ``pool``: dx (N, C, H, W) from dy (N, C, OH, OW).

        max   each window's dy goes to its (first) maximum, a valid cell
        avg   each valid cell of window (oh, ow) gets dy[n, c, oh, ow] / count[oh, ow]

    The kernels' backward runs on the padded image; the padded cells' gradient is dropped.
    """
    (kh, kw), (sh, sw) = pool_size, stride
    shape, padded_shape, pads, extra = cache
    kernels = backend.kernels_for(dy)
    if kind == "max":
        dx = kernels.max_pool_backward(dy, extra, padded_shape, kh, kw, sh, sw)
    else:
        dx = kernels.avg_pool_backward(dy if extra is None else dy * extra, padded_shape, kh, kw, sh, sw)
    if pads is None:
        return dx
    top, left = pads[0], pads[2]
    xp = backend.get_array_module(dx)
    return xp.ascontiguousarray(dx[:, :, top : top + shape[2], left : left + shape[3]])


class Pooling(ImageHints, register=False):
    """What the pooling layers (MaxPool2D, AvgPool2D, and 1-D pools built on them) share: their
    arguments (a public base of minidl's extension API).

    A window of ``pool_size`` moved by ``stride`` (default: the pool size), pairs for the 2-D
    layers and one integer for the 1-D ones (``window``); ``padding`` "valid" or "same".
    """

    kind = "max"

    def __init__(self, pool_size=2, stride=None, padding="valid", name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.pool_size = self.window(pool_size, "pool_size")
        self.stride = self.pool_size if stride is None else self.window(stride, "stride")
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__} padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding


class _Pool2D(Pooling):
    """MaxPool2D and AvgPool2D: output shape, fit check, forward and backward.

    ``padding="valid"`` (the default) drops the windows that do not fit; ``"same"`` pads the
    image so that ceil(H / SH) x ceil(W / SW) windows fit, the padded cells taking no part
    (``pool``).
    """

    def compute_output_shape(self, input_shape):
        self.check_rank(input_shape)
        C, H, W = input_shape
        (kh, kw), (sh, sw) = self.pool_size, self.stride
        if self.padding == "same":
            return (C, -(-H // sh), -(-W // sw))
        if kh > H or kw > W:
            raise ValueError(
                f"{self.label} pool {kh}x{kw} does not fit the input {H}x{W} "
                f"(got per-sample shape {tuple(input_shape)}, "
                f"read as {self.input_layout}){self.shape_hint(input_shape)}"
            )
        return (C, pool_output_length(H, kh, sh), pool_output_length(W, kw, sw))

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.compute_output_shape(x.shape[1:])
        pads = pooling_pads(self.padding, x.shape[2:], self.pool_size, self.stride)
        y, self.cache = pool(self.kind, x, self.pool_size, self.stride, pads)
        return y

    def backward(self, dy):
        return pool_backward(self.kind, dy, self.require_cache(), self.pool_size, self.stride)


class MaxPool2D(_Pool2D):
    """Maximum over (KH, KW) windows, moved by ``stride`` (default: the pool size).

    With ``padding="valid"`` windows that do not fit at the right or bottom edge are dropped
    (floor), as in PyTorch; ``"same"`` takes the maximum of each window's valid cells. Backward sends each window's gradient to the first maximum of the window
    in row-major order.

    Shapes: x (N, C, H, W) -> y (N, C, (H - KH) // SH + 1, (W - KW) // SW + 1) ("valid"),
    (N, C, ceil(H / SH), ceil(W / SW)) ("same").
    """

    kind = "max"


class AvgPool2D(_Pool2D):
    """Mean over (KH, KW) windows; backward gives every pixel of a window 1/(KH*KW) of its
    gradient. With ``padding="same"`` a window at the edge averages its valid
    cells only, and shares its gradient among them.

    Shapes as MaxPool2D.
    """

    kind = "avg"


class GlobalAvgPool2D(ImageHints):
    """Average each channel over the whole image: (N, C, H, W) -> (N, C).

    y[n, c] = mean_{h, w} x[n, c, h, w]        dx[n, c, h, w] = dy[n, c] / (H W)
    """

    def compute_output_shape(self, input_shape):
        self.check_rank(input_shape)
        return (input_shape[0],)

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dy):
        N, C, H, W = self.require_cache()
        xp = backend.get_array_module(dy)
        share = dy / dy.dtype.type(H * W)
        return xp.ascontiguousarray(xp.broadcast_to(share[:, :, None, None], (N, C, H, W)))
