"""Images as sequences of tokens: the vision transformer's first layers (Dosovitskiy et al., 2021).

A transformer reads a sequence of vectors. A ViT makes one from an image by cutting it into
non-overlapping patches of ph x pw pixels, flattening each patch (its C channels too) and
mapping it to D numbers with one shared matrix:

    patchify    x (N, C, H, W) -> P (N, T, C*ph*pw)     T = (H / ph) (W / pw), row-major patches
    forward     y = P W + b                            W (C*ph*pw, D), b (D,)   y (N, T, D)
    backward    dW = P^T dy    db = sum dy             dP = dy W^T -> unpatchify -> dx

(This is a convolution with a ph x pw kernel and stride (ph, pw), written as the product it is.)
``ClassToken`` then puts one learned vector in front of the patches, the token whose output
the classifier reads (BERT's ``[CLS]``), and ``SelectToken`` takes that output out:

    ClassToken   (N, T, D) -> (N, 1 + T, D)    y[:, 0] = c,  y[:, 1:] = x
                 backward: dc = sum_n dy[n, 0],  dx = dy[:, 1:]
    SelectToken  (N, T, D) -> (N, D)           y = x[:, index]
                 backward: dx = zeros with dx[:, index] = dy
"""

from __future__ import annotations

import numpy as np

from ... import backend
from .. import initializers
from .base import Layer, column_sums
from .checks import SequenceLayout, positive_int
from .conv import ImageHints, pair

__all__ = ["patchify", "unpatchify", "PatchEmbedding", "ClassToken", "SelectToken"]


def patchify(x, patch_size):
    """(N, C, H, W) -> (N, (H/ph)(W/pw), C*ph*pw): the patches in row-major order, each
    flattened channel first (C, ph, pw). H must be a multiple of ph and W of pw."""
    ph, pw = pair(patch_size, "patch_size", "patchify")
    N, C, H, W = x.shape
    if H % ph or W % pw:
        raise ValueError(
            f"patches of {ph}x{pw} must tile the image: got images {H}x{W} (input shape {tuple(x.shape)})"
        )
    p = x.reshape(N, C, H // ph, ph, W // pw, pw).transpose(0, 2, 4, 1, 3, 5)  # (N, Hp, Wp, C, ph, pw)
    return p.reshape(N, (H // ph) * (W // pw), C * ph * pw)


def unpatchify(p, image_shape, patch_size):
    """The inverse of ``patchify``: (N, T, C*ph*pw) -> (N, C, H, W) for ``image_shape`` (C, H, W)."""
    ph, pw = pair(patch_size, "patch_size", "unpatchify")
    C, H, W = image_shape
    N = p.shape[0]
    x = p.reshape(N, H // ph, W // pw, C, ph, pw).transpose(0, 3, 1, 4, 2, 5)  # (N, C, Hp, ph, Wp, pw)
    return x.reshape(N, C, H, W)


class PatchEmbedding(ImageHints):
    """Cut images into patches and map each to ``embed_dim`` numbers (see the module docstring).

    Parameters
    ----------
    patch_size : int or (ph, pw)
        The patch, which must tile the image (28x28 digits: 4, 7, (7, 4), ...).
    embed_dim : int
        D, the size of each token.

    Shapes: x (N, C, H, W) -> (N, (H/ph)(W/pw), D); params ``W`` (C*ph*pw, D) drawn Glorot
    uniform, ``b`` (D,) zeros.
    """

    def __init__(self, patch_size, embed_dim: int, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.patch_size = pair(patch_size, "patch_size", "PatchEmbedding")
        self.embed_dim = positive_int(embed_dim, "PatchEmbedding embed_dim")

    def get_config(self):
        return {"patch_size": list(self.patch_size), "embed_dim": self.embed_dim, "name": self.name}

    def _check_tiles(self, shape):
        C, H, W = shape
        ph, pw = self.patch_size
        if H % ph or W % pw:
            raise ValueError(
                f"{self.label}: patches of {ph}x{pw} must tile the image, "
                f"got images of {H}x{W} (per-sample shape {tuple(shape)})"
            )

    def build(self, input_shape, dtype=np.float32):
        self._check_tiles(input_shape)
        super().build(input_shape, dtype)
        ph, pw = self.patch_size
        fan_in = input_shape[0] * ph * pw
        init = initializers.get("glorot_uniform")
        self.add_param("W", init((fan_in, self.embed_dim), fan_in, self.embed_dim, dtype))
        self.add_param("b", np.zeros(self.embed_dim, dtype=dtype))

    def input_mismatch(self, shape):
        return tuple(shape) != tuple(self.input_shape or ())

    def compute_output_shape(self, input_shape):
        C, H, W = input_shape
        ph, pw = self.patch_size
        return ((H // ph) * (W // pw), self.embed_dim)

    def forward(self, x, training=False):
        x = self.check_input(x)
        p = patchify(x, self.patch_size)  # (N, T, C*ph*pw)
        self.cache = (p, tuple(x.shape[1:]))
        N, T, K = p.shape
        y = backend.kernels_for(p).linear_forward(p.reshape(N * T, K), self.params["W"], self.params["b"])
        return y.reshape(N, T, self.embed_dim)

    def backward(self, dy):
        p, image_shape = self.require_cache()
        N, T, K = p.shape
        p2, dy2 = p.reshape(N * T, K), dy.reshape(N * T, self.embed_dim)
        self.grads["W"][...] = p2.T @ dy2  # (K, D)
        self.grads["b"][...] = column_sums(dy2)
        dp = (dy2 @ self.params["W"].T).reshape(N, T, K)
        return unpatchify(dp, image_shape, self.patch_size)


class ClassToken(SequenceLayout, Layer):
    """Put a learned vector ``c`` (D,) in front of every sequence: (N, T, D) -> (N, 1 + T, D).

    Param ``c`` (D,), drawn from N(0, 0.02^2). Backward: dc = sum over the batch of
    dy[:, 0]; dx = dy[:, 1:].
    """

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        c = 0.02 * backend.rng().standard_normal(input_shape[-1])
        self.add_param("c", c.astype(dtype))

    def compute_output_shape(self, input_shape):
        T, D = input_shape
        return (None if T is None else T + 1, D)

    def forward(self, x, training=False):
        x = self.check_input(x)
        xp = backend.get_array_module(x)
        N, T, D = x.shape
        y = xp.empty((N, T + 1, D), dtype=x.dtype)
        y[:, 0] = self.params["c"]
        y[:, 1:] = x
        self.cache = True
        return y

    def backward(self, dy):
        self.require_cache()
        self.grads["c"][...] = dy[:, 0].sum(axis=0)
        return dy[:, 1:]


class SelectToken(SequenceLayout, Layer):
    """The vector at one position of each sequence: (N, T, D) -> (N, D), ``y = x[:, index]``
    (the class token's output, for the classifier). Backward puts dy back at ``index``, zeros elsewhere."""

    def __init__(self, index: int = 0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise ValueError(f"SelectToken index must be an integer, got {index!r}")
        self.index = int(index)

    def compute_output_shape(self, input_shape):
        return (input_shape[-1],)

    def forward(self, x, training=False):
        x = self.check_input(x)
        T = x.shape[1]
        if not -T <= self.index < T:
            raise ValueError(f"{self.label} index {self.index} is outside sequences of length {T}")
        self.cache = x.shape
        return x[:, self.index]

    def backward(self, dy):
        shape = self.require_cache()
        xp = backend.get_array_module(dy)
        dx = xp.zeros(shape, dtype=dy.dtype)
        dx[:, self.index] = dy
        return dx
