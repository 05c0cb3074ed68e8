"""Embedding: a lookup table from token ids to learned vectors.

    forward     y[n, t] = W[ids[n, t]]                       W (V, D)
    backward    dW[v] = sum of dy[n, t] over every (n, t) with ids[n, t] == v

The forward is the product of a one-hot matrix with W, done as a row lookup instead.
Its backward is therefore a scatter-add: a token that appears several times in the
batch collects the gradient of every occurrence (``np.add.at``, not ``dW[ids] = dy``,
which would keep only the last one).
"""

from __future__ import annotations

import numpy as np

from ... import backend
from .base import Layer
from .checks import positive_int

__all__ = ["Embedding"]


class Embedding(Layer):
    """Map integer token ids to dense vectors.

    Parameters
    ----------
    input_dim : int
        Vocabulary size V; valid ids are 0 .. V-1.
    output_dim : int
        Vector size D.
    mask_zero : bool
        Id 0 is padding: ``compute_mask(ids)`` gives ``ids != 0``, the mask that the
        recurrent layers read (with ``Sequential`` pass it yourself:
        ``lstm.forward(x, mask=emb.compute_mask(ids))``).
        The vectors are computed for id 0 as for any id.

    Shapes: ids (N, ...) integers -> y (N, ..., D), usually (N, T) -> (N, T, D);
    param ``W`` (V, D), initialised uniformly in [-0.05, 0.05].
    ``backward`` returns ``None``: token ids have no gradient.
    """

    input_layout = "(N, ...) integer token ids"
    #: ``Sequential.fit``/``predict`` pass integer inputs to this layer uncast
    takes_integer_ids = True

    def __init__(self, input_dim: int, output_dim: int, name=None, mask_zero: bool = False, **kwargs):
        super().__init__(name, **kwargs)
        self.input_dim = positive_int(input_dim, "Embedding input_dim")
        self.output_dim = positive_int(output_dim, "Embedding output_dim")
        self.mask_zero = bool(mask_zero)

    def compute_mask(self, ids):
        """The padding mask: ``ids != 0`` (N, T) with ``mask_zero=True`` (id 0 is padding), else None."""
        return None if not self.mask_zero else ids != 0

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        W = backend.rng().uniform(-0.05, 0.05, size=(self.input_dim, self.output_dim))
        self.add_param("W", W.astype(dtype))

    def input_mismatch(self, shape):
        return False  # any number of ids per sample: W fixes no input axis

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def _check_ids(self, ids):
        """ids as an integer array with every value in [0, input_dim), or a clear error."""
        if not hasattr(ids, "shape") or not hasattr(ids, "dtype"):
            ids = np.asarray(ids)
        xp = backend.get_array_module(ids)
        if ids.ndim == 0:
            raise ValueError(f"{self.label} expected a batch of token ids (N, ...), got a scalar")
        if ids.dtype.kind == "f":
            if not bool(xp.all(ids == xp.round(ids))):
                bad = ids[ids != xp.round(ids)].ravel()[0]
                raise TypeError(
                    f"{self.label} expects integer token ids, got dtype {ids.dtype} "
                    f"with non-integer values (e.g. {float(bad)!r})"
                )
            ids = ids.astype(np.int64)
        elif ids.dtype.kind not in "iu":
            raise TypeError(f"{self.label} expects integer token ids, got dtype {ids.dtype}")
        if ids.size:
            low, high = int(ids.min()), int(ids.max())
            if low < 0 or high >= self.input_dim:
                bad = low if low < 0 else high
                raise ValueError(
                    f"{self.label} got token id {bad} outside the valid range "
                    f"[0, {self.input_dim}) (input_dim={self.input_dim}); "
                    f"input shape {tuple(ids.shape)}"
                )
        return ids

    def forward(self, x, training=False):
        ids = self._check_ids(x)
        self.check_input(ids)
        self.cache = ids
        return self.params["W"][ids]

    def backward(self, dy):
        ids = self.require_cache()
        xp = backend.get_array_module(dy)
        self.check_gradient(dy, tuple(ids.shape) + (self.output_dim,))
        dW = self.grads["W"]
        dW[...] = 0
        xp.add.at(dW, ids.reshape(-1), dy.reshape(-1, self.output_dim))  # repeated ids accumulate
        return None
