"""LoRA: fine-tune a Dense layer, or attention's projections, through a low-rank update
(Hu et al., 2022).

Fine-tuning changes a pretrained weight W (D_in, D_out) by some dW. LoRA bets that the
change a new task needs has low rank, and learns it as a product of two thin matrices while
W stays frozen:

    forward     u = x A                       A (D_in, r), u (N, ..., r)
                z = x W + b + s u B           B (r, D_out), s = alpha / r
                y = activation(z)             (the wrapped layer's activation, if any)
    backward    dz = activation'(dy)
                dB = s u^T dz                 (r, D_out)
                du = s dz B^T                 (N, ..., r)
                dA = x^T du                   (D_in, r)
                dx = dz W^T + du A^T

A starts random and B at zero, so at first the layer computes exactly what W computed and
the update grows from there. The number of trained values is r (D_in + D_out) instead of
D_in D_out. The scale s = alpha / r keeps the update's size about the same when r changes
(one learning rate serves several ranks). After training, ``merge()`` folds the update into
one plain Dense, W' = W + s A B, which costs nothing extra at inference.

The wrapped layer is held as the sub-layer ``"base"`` and frozen (``trainable = False``):
its arrays appear as ``params["base.W"]``, ``params["base.b"]``, saved with the model and
skipped by optimizers. Its gradients are computed only while it is trainable (unfreeze it to
train W as well: then dW = x^T dz, db = sum dz, as in Dense).

``LoRAAttention`` adapts some of a MultiHeadAttention's four projections (Hu et al. adapt
the queries' and the values': ``targets=("q", "v")``) the other way round, through the weight:

    forward     W_p' = W_p + s A_p B_p        for each adapted projection p
                y = attention(x; W')          (the wrapped layer, computing with W')
    backward    G = dL/dW_p'                  (the attention's own backward gives it)
                dA_p = s G B_p^T,  dB_p = s A_p^T G

which is the chain rule through W' = W + s A B. It forms the full matrix G (D_in, D_out),
which ``LoRA`` above avoids by going through u = x A; for attention's projections, whose
inputs pass through a softmax, the weight's gradient is the simpler way in, and at these sizes
it costs little.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from ... import backend
from .attention import MultiHeadAttention
from .base import Layer, column_sums
from .checks import SequenceLayout, positive, positive_int
from .core import Dense
from .registry import LAYER_CLASSES

__all__ = ["LoRA", "LoRAAttention"]


def _as_layer(layer, kind: type, wrapper: str):
    """``layer``, or the layer a saved config (``load_model``) describes; a ``TypeError``
    unless it is a ``kind``."""
    if isinstance(layer, dict):  # a saved layer (load_model)
        spec = layer
        cls = LAYER_CLASSES.get(str(spec.get("class")))
        if cls is None:
            raise ValueError(f"{wrapper}: unknown layer type {spec.get('class')!r}")
        layer = cls(**spec.get("config", {}))
    if not isinstance(layer, kind):
        raise TypeError(f"{wrapper} wraps a {kind.__name__} layer, got {type(layer).__name__}")
    return layer


class _Adapter(Layer, register=False):
    """What ``LoRA`` and ``LoRAAttention`` share: the wrapped layer (a ``wraps``), frozen and
    held as the sub-layer ``"base"``; the rank r, alpha and the scale s = alpha / r; the
    wrapped layer's config in their own; building the wrapped layer too where it is not built."""

    #: the layer class it adapts, its own name in messages, and the wrapped weight whose dtype
    #: the update takes when the wrapped layer is built
    wraps: type = Layer
    _kind = "LoRA"
    _weight = "W"

    def __init__(self, layer, rank: int, alpha: float, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.base = _as_layer(layer, self.wraps, self._kind)
        self.base.trainable = False
        self.rank = positive_int(rank, f"{self._kind} rank")
        self.alpha = positive(alpha, f"{self._kind} alpha")

    def _build_like_base(self) -> None:
        """Build the update where the wrapped layer is built: its input shape and dtype are known."""
        self.device = self.base.device
        self.build(self.base.built_input_shape, dtype=self.base.params[self._weight].dtype)

    @property
    def scale(self) -> float:
        """s = alpha / rank."""
        return self.alpha / self.rank

    def sublayers(self) -> dict:
        return {"base": self.base}

    def _options(self) -> dict:
        """The adapter's own settings after rank and alpha in its config (``LoRAAttention``'s targets)."""
        return {}

    def get_config(self) -> dict:
        base = {"class": type(self.base).__name__, "config": self.base.get_config(), "trainable": False}
        return {"layer": base, "rank": self.rank, "alpha": self.alpha, **self._options(), "name": self.name}

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        if not self.base.built:
            self.base.device = self.device
            self.base.build(input_shape, dtype)

    def compute_output_shape(self, input_shape):
        return self.base.compute_output_shape(input_shape)


class LoRA(_Adapter):
    """A Dense layer with its weight frozen and a trained low-rank update (see the module docstring).

    Parameters
    ----------
    layer : Dense
        The layer to adapt, usually pretrained (built); it is frozen.
    rank : int
        r, the rank of the update.
    alpha : float
        The update is scaled by alpha / r (Hu et al. keep alpha fixed when trying ranks).

    Shapes: x (N, ..., D_in) -> (N, ..., D_out); params ``A`` (D_in, r) drawn from
    N(0, 1 / D_in), ``B`` (r, D_out) zeros, and the wrapped layer's ``base.W``, ``base.b``.
    """

    input_ndims = None
    input_layout = "(N, ..., features)"
    wraps = Dense

    def __init__(self, layer, rank: int = 4, alpha: float = 8.0, name=None, **kwargs):
        super().__init__(layer, rank, alpha, name, **kwargs)
        if self.base.built:  # a pretrained layer: its input shape is known, build the update now
            self._build_like_base()

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        W = self.base.params["W"]
        d_in, d_out = W.shape
        if input_shape[-1] != d_in:
            raise ValueError(
                f"{self.label} wraps a layer built for {d_in} input features, got per-sample shape {input_shape}"
            )
        A = backend.rng().standard_normal((d_in, self.rank)) / math.sqrt(d_in)
        self.add_param("A", A.astype(W.dtype))
        self.add_param("B", np.zeros((self.rank, d_out), dtype=W.dtype))

    def forward(self, x, training=False):
        x = self.check_input(x)
        base, s = self.base, self.scale
        u = x @ self.params["A"]  # (N, ..., r)
        z = x @ base.params["W"] + s * (u @ self.params["B"])  # (N, ..., D_out)
        if base.use_bias:
            z += base.params["b"]
        self.cache = (x, u)
        return z if base.activation_layer is None else base.activation_layer.forward(z, training)

    def backward(self, dy):
        x, u = self.require_cache()
        base, s = self.base, self.scale
        dz = dy if base.activation_layer is None else base.activation_layer.backward(dy)
        d_out, r = dz.shape[-1], self.rank
        x2, u2, dz2 = x.reshape(-1, x.shape[-1]), u.reshape(-1, r), dz.reshape(-1, d_out)
        self.grads["B"][...] = s * (u2.T @ dz2)  # (r, D_out)
        du = s * (dz2 @ self.params["B"].T)  # (N*, r)
        self.grads["A"][...] = x2.T @ du  # (D_in, r)
        if base.trainable:  # the full weight's gradient only when it is trained too
            base.grads["W"][...] = x2.T @ dz2
            if base.use_bias:
                base.grads["b"][...] = column_sums(dz2)
        dx = dz2 @ base.params["W"].T + du @ self.params["A"].T
        return dx.reshape(x.shape)

    def merge(self) -> Dense:
        """A new Dense computing what this layer computes: W' = W + (alpha / r) A B, the same b
        and activation (for inference: one product instead of three)."""
        base = self.base
        merged = type(base)(**base.get_config())
        merged.device = base.device
        Layer.build(merged, base.built_input_shape)  # built without drawing weights: they are given
        merged.add_param("W", base.params["W"] + self.scale * (self.params["A"] @ self.params["B"]))
        if base.use_bias:
            merged.add_param("b", base.params["b"].copy())
        return merged

    def __repr__(self) -> str:
        return f"LoRA({self.base!r}, rank={self.rank}, alpha={self.alpha})"


class LoRAAttention(SequenceLayout, _Adapter):
    """A MultiHeadAttention with its weights frozen and trained low-rank updates of the
    projections named in ``targets`` (see the module docstring).

    Parameters
    ----------
    layer : MultiHeadAttention
        The attention to adapt, usually pretrained (built); it is frozen.
    rank : int
        r, the rank of each update.
    alpha : float
        Each update is scaled by alpha / r.
    targets : sequence of str
        Which projections to adapt, of ``"q"``, ``"k"``, ``"v"``, ``"o"`` (default ``("q", "v")``;
        a string such as ``"qkvo"`` names one per letter).

    Shapes: as the wrapped attention (call it the same way: ``layer(query, value, key, ...)``).
    Params, for each target p: ``A_p`` (D_in, r) drawn from N(0, 1 / D_in) and ``B_p``
    (r, D_out) zeros; the wrapped layer's arrays as ``base.Wq``, ``base.bq``, ...
    """

    wraps = MultiHeadAttention
    _kind = "LoRAAttention"
    _weight = "Wq"

    def __init__(self, layer, rank: int = 4, alpha: float = 8.0, targets=("q", "v"), name=None, **kwargs):
        super().__init__(layer, rank, alpha, name, **kwargs)
        chosen = tuple(targets)  # "qv" or ("q", "v")
        if not chosen or not set(chosen) <= set("qkvo") or len(set(chosen)) != len(chosen):
            raise ValueError(
                f"LoRAAttention targets must be distinct names among 'q', 'k', 'v', 'o', got {targets!r}"
            )
        self.targets = tuple(p for p in "qkvo" if p in chosen)
        if self.base.built:  # a pretrained layer: its weights give the updates' shapes
            self._build_like_base()

    def _options(self) -> dict:
        return {"targets": list(self.targets)}

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        for p in self.targets:
            d_in, d_out = self.base.params["W" + p].shape
            A = backend.rng().standard_normal((d_in, self.rank)) / math.sqrt(d_in)
            self.add_param("A_" + p, A.astype(dtype))
            self.add_param("B_" + p, np.zeros((self.rank, d_out), dtype=dtype))

    def merged_weight(self, p: str):
        """W_p' = W_p + (alpha / r) A_p B_p, the weight the attention computes with."""
        return self.base.params["W" + p] + self.scale * (self.params["A_" + p] @ self.params["B_" + p])

    @contextmanager
    def _computing_with_merged_weights(self):
        """The wrapped attention's W_p replaced by W_p' for the length of a forward or backward."""
        params = self.base.params
        kept = {p: params["W" + p] for p in self.targets}
        for p in self.targets:
            params["W" + p] = self.merged_weight(p)
        try:
            yield
        finally:
            for p, W in kept.items():
                params["W" + p] = W

    def forward(self, query, training: bool = False, **kwargs):  # type: ignore[override]  # (query, ...) as MultiHeadAttention
        if not self.built:  # an unbuilt attention builds from all its inputs (cross-attention too)
            sources = {k: v for k, v in kwargs.items() if k in ("value", "key")}
            self.base.forward(query, training=False, **sources)
            self._build_like_base()
        with self._computing_with_merged_weights():
            return self.base.forward(query, training=training, **kwargs)

    # called as mha(query, value, key), as the attention it wraps
    __call__ = MultiHeadAttention.__call__  # type: ignore[assignment]

    def backward(self, dy):
        with self._computing_with_merged_weights():
            dx = self.base.backward(dy)  # fills base.grads: dL/dW' = dL/dW
        s = self.scale
        for p in self.targets:
            G = self.base.grads["W" + p]  # (D_in, D_out)
            self.grads["A_" + p][...] = s * (G @ self.params["B_" + p].T)  # (D_in, r)
            self.grads["B_" + p][...] = s * (self.params["A_" + p].T @ G)  # (r, D_out)
        if not self.base.trainable:  # a frozen base gets no gradient
            for grad in self.base.grads.values():
                grad[...] = 0
        return dx

    def merge(self) -> MultiHeadAttention:
        """A new MultiHeadAttention computing what this layer computes, with W_p' in place of
        W_p for each target (for inference: no extra products)."""
        base = self.base
        merged = type(base)(**base.get_config())
        merged.device, merged.source_dims = base.device, base.source_dims
        Layer.build(merged, base.built_input_shape)  # built without drawing weights: they are given
        for key, value in base.params.items():
            p = key[1:]
            merged.add_param(
                key, self.merged_weight(p) if key[0] == "W" and p in self.targets else value.copy()
            )
        return merged

    def __repr__(self) -> str:
        return f"LoRAAttention({self.base!r}, rank={self.rank}, alpha={self.alpha}, targets={self.targets})"
