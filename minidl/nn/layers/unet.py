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
An odd size at some scale is allowed: the pool drops the last row (7 -> 3) and ``up`` adds it
back (its ``output_padding``), so H and W need only be at least 2^L.

The backward walks the same graph in reverse. The one new rule is at a fan-out: e_l feeds
both the pool below it and the concatenation of the decoder, so its gradient is the *sum*
of the two that come back:  dL/de_l = pool^T(...) + (the e_l block of dL/d[up | e_l]).

The inner layers are its ``sublayers()`` (``Layer``'s "Layers that hold layers"), so their
arrays appear in ``params`` / ``grads`` / ``buffers`` under dotted names (``"enc.0.0.W"``,
``"up.1.W"``, ``"head.W"``), views onto the inner layers' own dicts that optimizers and
``save`` see with no copy. The blocks are numbered in forward order (encoder 0..L-1, the bottom
L, the decoder's from the bottom up, L+1..2L), and ``forward_block(i, h, training)`` /
``backward_block(i, dh)`` run one: a subclass changes a block there (the diffusion gallery's
``UNetDenoiser`` adds the step's code to each).
"""

from __future__ import annotations

import numpy as np

from ... import backend
from .activations import ReLU
from .base import Layer
from .checks import positive_int
from .conv import Conv2D, ImageHints, MaxPool2D
from .merge import Concatenate
from .upsampling import Conv2DTranspose


def _conv_block(filters: int, convs: int, initializer) -> list:
    """``convs`` times a 3x3 "same" convolution to ``filters`` channels and a ReLU."""
    return [
        layer
        for _ in range(convs)
        for layer in (Conv2D(filters, 3, padding="same", kernel_initializer=initializer), ReLU())
    ]


class UNet(ImageHints):
    """A U-Net for ``num_classes`` per-pixel scores.

    Parameters
    ----------
    num_classes : int
        K, the number of output channels (class logits per pixel).
    filters : sequence of int
        f_0, ..., f_{L-1}: the encoder's widths, one per scale.
    bottom_filters : int or None
        The bottom's width (default 2 f_{L-1}).
    convs : int
        Convolutions per block (2, Ronneberger et al.'s; the denoiser of chapter 19 has 1).
    kernel_initializer : str
        The convolutions' initializer (``Conv2D``'s, Glorot uniform by default).

    Shapes: x (N, C, H, W) with H, W >= 2^L -> y (N, K, H, W) (logits).
    """

    def __init__(
        self,
        num_classes: int,
        filters=(8, 16),
        name=None,
        bottom_filters: int | None = None,
        convs: int = 2,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(name, **kwargs)
        self.num_classes = positive_int(num_classes, "UNet num_classes")
        self.filters = tuple(positive_int(f, "UNet filters") for f in filters)
        if not self.filters and bottom_filters is None:
            raise ValueError("UNet needs at least one scale in filters (or a bottom_filters), got ()")
        self.bottom_filters, self.convs = bottom_filters, positive_int(convs, "UNet convs")
        self.kernel_initializer, depth = kernel_initializer, len(self.filters)
        block = lambda f: _conv_block(f, self.convs, kernel_initializer)  # noqa: E731
        self.enc = [block(f) for f in self.filters]
        self.pools = [MaxPool2D(2) for _ in range(depth)]
        self.bottom = block(bottom_filters or 2 * self.filters[-1])
        self.up = [Conv2DTranspose(f, 2, stride=2) for f in self.filters]
        self.concat = [Concatenate(axis=1) for _ in range(depth)]
        self.dec = [block(f) for f in self.filters]
        self.head = Conv2D(self.num_classes, 1)
        self.blocks = [*self.enc, self.bottom, *self.dec[::-1]]  # in forward order

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
        if min(h, w) < step:
            raise ValueError(
                f"{self.label} with {len(self.filters)} scales needs H and W of at least {step}, "
                f"got input (N, {c}, {h}, {w})"
            )
        for l, up in enumerate(self.up):  # an odd size at scale l (7 -> 3) gets its row back (3 -> 7)
            up.output_padding = ((h >> l) % 2, (w >> l) % 2)
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
    def forward_block(self, i: int, h, training: bool):
        """Block ``i`` (in forward order) on ``h``."""
        for layer in self.blocks[i]:
            h = layer.forward(h, training=training)
        return h

    def backward_block(self, i: int, dh):
        """Block ``i``'s backward: dL/d(its input) from dL/d(its output)."""
        for layer in reversed(self.blocks[i]):
            dh = layer.backward(dh)
        return dh

    def _run(self, x, training):
        skips, h, depth = [], x, len(self.filters)
        for l, pool in enumerate(self.pools):
            h = self.forward_block(l, h, training)
            skips.append(h)  # e_l: used twice (pool below, concatenation above)
            h = pool.forward(h, training=training)
        h = self.forward_block(depth, h, training)
        for l in reversed(range(depth)):
            h = self.up[l].forward(h, training=training)
            h = self.concat[l].forward([h, skips[l]])
            h = self.forward_block(2 * depth - l, h, training)
        return self.head.forward(h, training=training)

    def forward(self, x, training=False):
        x = self.check_input(x)
        y = self._run(x, training)
        self.cache = True  # the inner layers keep their own caches
        return y

    def backward(self, dy):
        self.require_cache()
        dh, depth = self.head.backward(dy), len(self.filters)
        d_skips = [None] * depth
        for l in range(depth):
            dh = self.backward_block(2 * depth - l, dh)
            dh, d_skips[l] = self.concat[l].backward(dh)
            dh = self.up[l].backward(dh)
        dh = self.backward_block(depth, dh)
        for l in reversed(range(depth)):
            dh = self.pools[l].backward(dh) + d_skips[l]  # fan-out: the two gradients add
            dh = self.backward_block(l, dh)
        return dh
