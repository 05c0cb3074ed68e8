"""UNet: an encoder-decoder with skip connections for per-pixel labels (Ronneberger et al., 2015).

A classifier shrinks an image to one vector; a segmenter must answer at every pixel, so it
shrinks (to see context) and then grows back (to place the answer), and hands the decoder the
encoder's fine features at each scale so that edges are not lost in the bottleneck:

    x (N, C, H, W)
    encoder   e_0 = block_0(x)                     (N, f_0, H, W)
              e_l = block_l(pool(e_{l-1}))         (N, f_l, H / 2^l, W / 2^l)      l = 1..L-1
    bottom    b   = block_L(pool(e_{L-1}))         (N, 2 f_{L-1}, H / 2^L, W / 2^L)
    decoder   d_l = block'_l([up_l(d_{l+1}) | e_l])   concatenated channels, l = L-1..0   (d_L = b)
    head      y   = Conv2D(K, 1)(d_0)              (N, K, H, W): K class scores per pixel

with ``block`` two 3x3 "same" convolutions with ReLU, ``pool`` a 2x2 max-pool, ``up`` a 2x2
transposed convolution of stride 2 (``Conv2DTranspose``) and ``[a | b]`` a ``Concatenate``.

The backward walks the same graph in reverse. The one new rule is at a fan-out: e_l feeds
both the pool below it and the concatenation of the decoder, so its gradient is the *sum*
of the two that come back:  dL/de_l = pool^T(...) + (the e_l block of dL/d[up | e_l]).

The inner layers are its ``sublayers()`` (``Layer``'s "Layers that hold layers"), so their
arrays appear in ``params`` / ``grads`` / ``buffers`` under dotted names (``"enc.0.0.W"``,
``"up.1.W"``, ``"head.W"``), views onto the inner layers' own dicts that optimizers and
``save`` see with no copy. H and W must be divisible by 2^L.
"""

from __future__ import annotations

import numpy as np

from ... import backend
from .activations import ReLU
from .base import Layer
from .checks import positive_int
from .conv import Conv2D, MaxPool2D
from .merge import Concatenate
from .upsampling import Conv2DTranspose


def _conv_block(filters: int) -> list:
    return [Conv2D(filters, 3, padding="same"), ReLU(), Conv2D(filters, 3, padding="same"), ReLU()]


class UNet(Layer):
    """A U-Net for ``num_classes`` per-pixel scores.

    Parameters
    ----------
    num_classes : int
        K, the number of output channels (class logits per pixel).
    filters : sequence of int
        f_0, ..., f_{L-1}: the encoder's widths, one per scale; the bottom has 2 f_{L-1}.

    Shapes: x (N, C, H, W) with H, W divisible by 2^L -> y (N, K, H, W) (logits).
    """

    input_ndims = (4,)
    input_layout = "(N, C, H, W)"

    def __init__(self, num_classes: int, filters=(8, 16), name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.num_classes = positive_int(num_classes, "UNet num_classes")
        self.filters = tuple(positive_int(f, "UNet filters") for f in filters)
        if not self.filters:
            raise ValueError("UNet needs at least one scale in filters, got ()")
        depth = len(self.filters)
        self.enc = [_conv_block(f) for f in self.filters]
        self.pools = [MaxPool2D(2) for _ in range(depth)]
        self.bottom = _conv_block(2 * self.filters[-1])
        self.up = [Conv2DTranspose(f, 2, stride=2) for f in self.filters]
        self.concat = [Concatenate(axis=1) for _ in range(depth)]
        self.dec = [_conv_block(f) for f in self.filters]
        self.head = Conv2D(self.num_classes, 1)

    def sublayers(self) -> dict[str, Layer]:
        """Every inner layer with arrays (and the ReLUs between them) by dotted path, in
        forward order; the pools and concatenations, which hold no arrays, are left out."""
        named: dict[str, Layer] = {}
        for l, block in enumerate(self.enc):
            named.update((f"enc.{l}.{i}", layer) for i, layer in enumerate(block))
        named.update((f"bottom.{i}", layer) for i, layer in enumerate(self.bottom))
        for l in reversed(range(len(self.filters))):
            named[f"up.{l}"] = self.up[l]
            named.update((f"dec.{l}.{i}", layer) for i, layer in enumerate(self.dec[l]))
        named["head"] = self.head
        return named

    # ------------------------------------------------------------------ building
    def build(self, input_shape, dtype=np.float32):
        c, h, w = (int(d) for d in input_shape)
        step = 2 ** len(self.filters)
        if h % step or w % step:
            raise ValueError(
                f"{self.label} with {len(self.filters)} scales needs H and W divisible by {step}, "
                f"got input (N, {c}, {h}, {w})"
            )
        super().build(input_shape, dtype)
        for layer in self.sublayers().values():  # build by running shapes through the graph once
            if layer.device is None:
                layer.device = self.device
        probe = np.zeros((1, c, h, w), dtype=dtype)
        if self.device is not None:  # where the weights are to be born (a CuPy batch: the GPU)
            probe = backend.to_device(probe, self.device)
        self._run(probe, training=False)
        self.cache = None

    def compute_output_shape(self, input_shape):
        return (self.num_classes,) + tuple(input_shape[1:])

    # ------------------------------------------------------------------ computing
    @staticmethod
    def _forward_block(block, h, training):
        for layer in block:
            h = layer.forward(h, training=training)
        return h

    @staticmethod
    def _backward_block(block, dh):
        for layer in reversed(block):
            dh = layer.backward(dh)
        return dh

    def _run(self, x, training):
        skips, h = [], x
        for block, pool in zip(self.enc, self.pools):
            h = self._forward_block(block, h, training)
            skips.append(h)  # e_l: used twice (pool below, concatenation above)
            h = pool.forward(h, training=training)
        h = self._forward_block(self.bottom, h, training)
        for l in reversed(range(len(self.filters))):
            h = self.up[l].forward(h, training=training)
            h = self.concat[l].forward([h, skips[l]])
            h = self._forward_block(self.dec[l], h, training)
        return self.head.forward(h, training=training)

    def forward(self, x, training=False):
        x = self.check_input(x)
        y = self._run(x, training)
        self.cache = True  # the inner layers keep their own caches
        return y

    def backward(self, dy):
        self.require_cache()
        dh = self.head.backward(dy)
        d_skips = [None] * len(self.filters)
        for l in range(len(self.filters)):
            dh = self._backward_block(self.dec[l], dh)
            dh, d_skips[l] = self.concat[l].backward(dh)
            dh = self.up[l].backward(dh)
        dh = self._backward_block(self.bottom, dh)
        for l in reversed(range(len(self.filters))):
            dh = self.pools[l].backward(dh) + d_skips[l]  # fan-out: the two gradients add
            dh = self._backward_block(self.enc[l], dh)
        return dh
