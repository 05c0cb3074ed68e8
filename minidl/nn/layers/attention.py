"""Attention and the transformer, each forward beside its hand-written backward.

Scaled dot-product attention (Vaswani et al., 2017) is a soft lookup: every query asks all
keys how well they match, and receives the values mixed in those proportions.

    forward     S = Q K^T                       (..., Tq, Tk)  one score per (query, key)
                P = softmax(S / sqrt(d))        rows sum to 1 over the keys a query may see
                O = P V                         (..., Tq, dv)
    backward    dV = P^T dO     dP = dO V^T
                dS = P * (dP - sum_k dP * P) / sqrt(d)   (the softmax Jacobian, never built)
                dQ = dS K       dK = dS^T Q

The scale 1/sqrt(d) keeps the scores' spread near 1 whatever the key size d (a dot product
of d unit-variance numbers has variance d), so the softmax starts out soft. A mask removes
keys from a query's view: the *causal* mask hides the future (key j > query i), a *padding*
mask hides filler positions. The masked softmax and its backward are one kernel family
(``masked_softmax`` in ``minidl/kernels``).

Layers here:

    MultiHeadAttention            num_heads, key_dim, value_dim, output_shape
    SinusoidalPositionalEncoding  x + PE (fixed sines and cosines)
    PositionalEmbedding           x + P  (learned, one vector per position)
    TransformerBlock              pre-LN: x + MHA(LN(x)), then + MLP(LN(.)) with GELU

How several inputs are passed. A minidl layer takes one input, ``forward(x, training)``, so
self-attention works inside ``Sequential``. Cross-attention (queries from one sequence,
keys and values from another) takes the other sequence by keyword:
``mha(query, value=context)`` or ``block(x, context=memory)``; ``backward(dy)`` then returns
a tuple ``(d_query, d_value)`` (``(d_query, d_value, d_key)`` when a separate ``key`` was
given) instead of a single array.

Generation with a KV cache: ``forward(x, kv_cache=cache)`` with a dict (empty at first)
appends this call's keys and values to it and lets ``x``'s positions attend to everything
cached so far (inference only: no backward).
"""

from __future__ import annotations

import math

import numpy as np

from ... import backend
from .. import initializers
from .activations import GELU
from .base import Layer, column_sums
from .checks import SequenceLayout, fraction, positive_int
from .core import Dense
from .normalization import LayerNorm

__all__ = ["scaled_dot_product_attention", "scaled_dot_product_attention_backward", "causal_mask"]
__all__ += ["padding_mask", "MultiHeadAttention", "SinusoidalPositionalEncoding", "PositionalEmbedding"]
__all__ += ["TransformerBlock"]


# ============================================================ the function and its backward
def causal_mask(tq: int, tk: int | None = None, offset: int = 0, xp=np):
    """(Tq, Tk) bool, True where query i may see key j: j <= i + offset.

    ``offset`` is the number of keys before the first query (a KV cache holding ``offset``
    earlier positions): query i is position ``offset + i`` of the sequence.
    """
    tk = tq + offset if tk is None else tk
    return xp.arange(tk)[None, :] <= xp.arange(tq)[:, None] + offset


def padding_mask(key_valid, tq: int):
    """(N, Tq, Tk) bool from key_valid (N, Tk) bool: every query may see the valid keys only."""
    xp = backend.get_array_module(key_valid)
    key_valid = xp.asarray(key_valid, dtype=bool)
    return xp.broadcast_to(key_valid[:, None, :], (key_valid.shape[0], tq, key_valid.shape[1]))


def _mask_groups(mask, batch: tuple, tq: int, tk: int, xp):
    """``mask`` (broadcastable to (*batch, Tq, Tk)) as the kernel's keep (Gm, Tq, Tk).

    A mask shared by every group stays one (1, Tq, Tk); one whose leading axes are a prefix
    of ``batch`` followed by ones (a padding mask (N, 1, Tq, Tk) for (N, H) heads) keeps one
    copy per prefix entry; anything else is broadcast to all G groups.
    """
    mask = xp.asarray(mask, dtype=bool)
    if mask.ndim < 2:
        raise ValueError(f"attention mask must end in (Tq, Tk) = ({tq}, {tk}), got shape {tuple(mask.shape)}")
    lead = (1,) * (len(batch) - (mask.ndim - 2)) + tuple(mask.shape[:-2])
    if len(lead) != len(batch):
        raise ValueError(
            f"attention mask of shape {tuple(mask.shape)} has more axes than the scores {(*batch, tq, tk)}"
        )
    if mask.shape[-2:] == (tq, tk):
        mask = mask.reshape(lead + (tq, tk))
    else:
        mask = xp.broadcast_to(mask, lead + (tq, tk))
    j = len(lead)
    while j > 0 and lead[j - 1] == 1:
        j -= 1
    if lead[:j] == tuple(batch[:j]):
        return xp.ascontiguousarray(mask.reshape((math.prod(lead[:j]), tq, tk)))
    return xp.ascontiguousarray(xp.broadcast_to(mask, tuple(batch) + (tq, tk)).reshape(-1, tq, tk))


def scaled_dot_product_attention(q, k, v, mask=None, is_causal=False, scale=None, dropout_keep=None):
    """softmax(Q K^T / sqrt(d) masked) V, and the cache its backward needs.

    Parameters
    ----------
    q : (..., Tq, d)     queries
    k : (..., Tk, d)     keys
    v : (..., Tk, dv)    values
    mask : bool array broadcastable to (..., Tq, Tk), True = may attend (PyTorch's ``attn_mask``
        for booleans), or None
    is_causal : bool     also hide keys j > i (PyTorch's ``is_causal``)
    scale : float        defaults to 1 / sqrt(d)
    dropout_keep : array (..., Tq, Tk) or None   dropout on the weights:
        ``O = (P * keep) V`` with ``keep`` 0 or 1 / (1 - rate); ``probs`` stays P

    Returns ``out`` (..., Tq, dv), ``probs`` (..., Tq, Tk) (the attention weights) and
    ``cache`` for ``scaled_dot_product_attention_backward``. A query that may see no key
    gets all-zero weights and output 0 (PyTorch gives NaN there).
    """
    xp = backend.get_array_module(q)
    *batch, tq, d = q.shape
    tk = k.shape[-2]
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    keep = xp.ones((1, tq, tk), dtype=bool) if mask is None else _mask_groups(mask, batch, tq, tk, xp)
    if is_causal:
        keep = keep & causal_mask(tq, tk, offset=tk - tq, xp=xp)[None]
    kernels = backend.kernels_for(q)
    scores = kernels.batched_matmul(q, xp.swapaxes(k, -1, -2))  # (..., Tq, Tk)
    G = math.prod(batch)
    probs = kernels.masked_softmax(scores.reshape(G, tq, tk), keep, scale)
    probs = probs.reshape(scores.shape)  # (..., Tq, Tk)
    weights = probs if dropout_keep is None else probs * dropout_keep
    out = kernels.batched_matmul(weights, v)  # (..., Tq, dv)
    return out, probs, (q, k, v, probs, scale, dropout_keep)


def scaled_dot_product_attention_backward(dout, cache, out=(None, None, None)):
    """(dq, dk, dv) from dout (..., Tq, dv) and the forward's cache; shapes as q, k, v, written
    into the arrays ``out`` where given (any strides: views of merged heads, say)."""
    q, k, v, probs, scale, keep = cache
    xp, kernels = backend.get_array_module(dout), backend.kernels_for(dout)
    weights = probs if keep is None else probs * keep
    dv = kernels.batched_matmul(xp.swapaxes(weights, -1, -2), dout, out[2])  # (..., Tk, dv)
    dprobs = kernels.batched_matmul(dout, xp.swapaxes(v, -1, -2))  # (..., Tq, Tk)
    if keep is not None:
        dprobs = dprobs * keep
    tq, tk = probs.shape[-2:]
    dscores = kernels.masked_softmax_backward(
        probs.reshape(-1, tq, tk), dprobs.reshape(-1, tq, tk), scale
    ).reshape(probs.shape)
    dq = kernels.batched_matmul(dscores, k, out[0])  # (..., Tq, d)
    dk = kernels.batched_matmul(xp.swapaxes(dscores, -1, -2), q, out[1])  # (..., Tk, d)
    return dq, dk, dv


# ============================================================ multi-head attention
class MultiHeadAttention(SequenceLayout, Layer):
    """Multi-head attention (Vaswani et al., 2017).

    Each of H heads projects the inputs to its own queries and keys (``key_dim`` numbers)
    and values (``value_dim``), attends, and the heads' outputs, side by side, are mapped
    to the output size:

        Q = query W_q + b_q    (N, Tq, H*dk) -> (N, H, Tq, dk)
        K = key   W_k + b_k    (N, Tk, H*dk) -> (N, H, Tk, dk)
        V = value W_v + b_v    (N, Tk, H*dv) -> (N, H, Tk, dv)
        O = attention(Q, K, V) (N, H, Tq, dv) -> (N, Tq, H*dv)
        y = O W_o + b_o        (N, Tq, output_shape)

    Parameters
    ----------
    num_heads : int      H
    key_dim : int        dk, the size of each head's queries and keys
    value_dim : int      dv, each head's value size (default ``key_dim``)
    use_bias : bool      whether the four projections have biases
    output_shape : int   the output's last axis (default: the query's)
    dropout : float      in training, dropout on the attention weights

    Call: ``forward(query, training=False, value=None, key=None, attention_mask=None,
    use_causal_mask=False, return_attention_scores=False, kv_cache=None)``; ``value``
    defaults to ``query`` (self-attention), ``key`` to ``value``. ``attention_mask`` is bool,
    broadcastable to (N, Tq, Tk), True = may attend. The last attention
    weights (N, H, Tq, Tk) are kept in ``last_attention_scores``.

    Params: ``Wq`` (Dq, H*dk), ``Wk`` (Dk, H*dk), ``Wv`` (Dv, H*dv), ``Wo`` (H*dv, Dout),
    biases ``bq``, ``bk``, ``bv``, ``bo``. (``Wq`` read as (Dq, H, dk) holds each head's columns.)
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        use_bias: bool = True,
        output_shape: int | None = None,
        kernel_initializer="glorot_uniform",
        dropout: float = 0.0,
        name=None,
        **kwargs,
    ):
        super().__init__(name, **kwargs)
        self.dropout = fraction(float(dropout), "MultiHeadAttention dropout")
        self.num_heads = positive_int(num_heads, "MultiHeadAttention num_heads")
        self.key_dim = positive_int(key_dim, "MultiHeadAttention key_dim")
        self.value_dim = (
            None if value_dim is None else positive_int(value_dim, "MultiHeadAttention value_dim")
        )
        self.use_bias = bool(use_bias)
        self.output_shape_ = (
            None if output_shape is None else positive_int(output_shape, "MultiHeadAttention output_shape")
        )
        self.kernel_initializer = kernel_initializer
        # (value features, key features) when they differ from the query's
        self.source_dims: tuple[int, int] | None = None
        self.last_attention_scores = None

    def get_config(self):
        config = super().get_config()
        config["output_shape"] = self.output_shape_
        return config

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        D = input_shape[-1]
        Dv, Dk = self.source_dims or (D, D)
        H, dk, dv = self.num_heads, self.key_dim, self.value_dim or self.key_dim
        out = self.output_shape_ or D
        init = initializers.get(self.kernel_initializer)
        for name, fan_in, fan_out in (
            ("q", D, H * dk),
            ("k", Dk, H * dk),
            ("v", Dv, H * dv),
            ("o", H * dv, out),
        ):
            self.add_param("W" + name, init((fan_in, fan_out), fan_in, fan_out, dtype))
            if self.use_bias:
                self.add_param("b" + name, np.zeros(fan_out, dtype=dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_shape_ or input_shape[-1],)

    def _project(self, x, name):
        """x (..., features) W + b, as ONE product over all rows (a 3-D ``x @ W`` is N small ones)."""
        b = self.params["b" + name] if self.use_bias else None
        y = backend.kernels_for(x).linear_forward(x.reshape(-1, x.shape[-1]), self.params["W" + name], b)
        return y.reshape(x.shape[:-1] + (y.shape[-1],))

    def _qkv_weights(self):
        """[Wq | Wk | Wv] and [bq | bk | bv]: self-attention's three projections side by side."""
        xp, p = backend.get_array_module(self.params["Wq"]), self.params
        W = xp.concatenate([p["Wq"], p["Wk"], p["Wv"]], axis=1)
        return W, (xp.concatenate([p["bq"], p["bk"], p["bv"]]) if self.use_bias else None)

    def _project_qkv(self, x):
        """Self-attention's Q, K, V (N, H, T, d) from one product x [Wq | Wk | Wv] (x read once)."""
        W, b = self._qkv_weights()
        qkv = backend.kernels_for(x).linear_forward(x.reshape(-1, x.shape[-1]), W, b)
        return self._split_qkv(qkv.reshape(x.shape[:-1] + (W.shape[1],)))

    def _split_qkv(self, qkv):
        """(N, T, [q | k | v] widths) -> views q, k, v (N, H, T, d), no copy."""
        width = self.params["Wq"].shape[1]
        spans = ((0, width), (width, 2 * width), (2 * width, qkv.shape[-1]))
        return tuple(self._split_heads(qkv[..., start:stop]) for start, stop in spans)

    def _split_heads(self, x):
        """(N, T, H*d) -> (N, H, T, d)"""
        N, T, _ = x.shape
        return x.reshape(N, T, self.num_heads, -1).transpose(0, 2, 1, 3)

    @staticmethod
    def _merge_heads(x):
        """(N, H, T, d) -> (N, T, H*d)"""
        N, H, T, d = x.shape
        return x.transpose(0, 2, 1, 3).reshape(N, T, H * d)

    def forward(
        self,
        query,
        training=False,
        value=None,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        kv_cache=None,
    ):
        self_attention = value is None and key is None
        key_is_value = key is None
        value = query if value is None else value
        key = value if key is None else key
        if not self.built:
            self.source_dims = (int(value.shape[-1]), int(key.shape[-1]))
        query = self.check_input(query)
        if (
            value.ndim != 3
            or key.ndim != 3
            or value.shape[:2] != key.shape[:2]
            or value.shape[0] != query.shape[0]
        ):
            raise ValueError(
                f"{self.label} expected value and key (N, Tk, features) with the query's N, "
                f"got query {tuple(query.shape)}, value {tuple(value.shape)}, key {tuple(key.shape)}"
            )
        xp = backend.get_array_module(query)
        if self_attention:  # q (N, H, Tq, dk), k (N, H, Tk, dk), v (N, H, Tk, dv) in one product
            q, k, v = self._project_qkv(query)
        else:
            q = self._split_heads(self._project(query, "q"))  # (N, H, Tq, dk)
            k = self._split_heads(self._project(key, "k"))  # (N, H, Tk, dk)
            v = self._split_heads(self._project(value, "v"))  # (N, H, Tk, dv)
        if kv_cache is not None:  # generation: append, attend to all
            if "k" in kv_cache:
                k = xp.concatenate([kv_cache["k"], k], axis=2)
                v = xp.concatenate([kv_cache["v"], v], axis=2)
            kv_cache["k"], kv_cache["v"] = k, v
        mask = None
        if attention_mask is not None:  # (N, Tq, Tk) -> (N, 1, Tq, Tk): all heads
            mask = xp.asarray(attention_mask, dtype=bool)
            mask = mask[:, None] if mask.ndim == 3 else mask
        keep = None
        if training and self.dropout > 0:  # inverted dropout on the weights (N, H, Tq, Tk)
            shape = (*q.shape[:-1], k.shape[-2])
            uniform = backend.rng().random(shape, dtype=np.float32)
            keep = xp.asarray((uniform >= self.dropout) / (1.0 - self.dropout), dtype=q.dtype)
        o, probs, attention_cache = scaled_dot_product_attention(
            q, k, v, mask=mask, is_causal=use_causal_mask, dropout_keep=keep
        )
        merged = self._merge_heads(o)  # (N, Tq, H*dv)
        y = self._project(merged, "o")  # (N, Tq, Dout)
        self.last_attention_scores = probs  # (N, H, Tq, Tk)
        self.cache = (
            None
            if kv_cache is not None
            else (query, key, value, merged, attention_cache, self_attention, key_is_value)
        )
        return (y, probs) if return_attention_scores else y

    # called as mha(query, value, key): the other sequences by position, where Layer takes (x, training)
    def __call__(self, query, value=None, key=None, training=False, **kwargs):  # type: ignore[override]
        return self.forward(query, training=training, value=value, key=key, **kwargs)

    def backward(self, dy):
        query, key, value, merged, attention_cache, self_attention, key_is_value = self.require_cache()
        d_o = self._split_heads(self._linear_backward(merged, dy, "o"))  # (N, Tq, H*dv) -> (N, H, Tq, dv)
        if self_attention:  # dQ, dK, dV straight into [dQ | dK | dV], heads merged: one product
            width = sum(self.params["W" + name].shape[1] for name in "qkv")
            d_qkv = backend.get_array_module(dy).empty(query.shape[:2] + (width,), dtype=d_o.dtype)
            scaled_dot_product_attention_backward(d_o, attention_cache, self._split_qkv(d_qkv))
            return self._qkv_backward(query, d_qkv)
        dq, dk, dv = scaled_dot_product_attention_backward(d_o, attention_cache)
        d_query = self._linear_backward(query, self._merge_heads(dq), "q")
        d_key = self._linear_backward(key, self._merge_heads(dk), "k")
        d_value = self._linear_backward(value, self._merge_heads(dv), "v")
        if key_is_value:
            return d_query, d_value + d_key
        return d_query, d_value, d_key

    def _linear_backward(self, x, dy, name):
        """Fill dW/db of projection ``name`` (y = x W + b) and return dx = dy W^T."""
        x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
        self.grads["W" + name][...] = backend.kernels_for(x2).weight_gradient(x2, dy2)  # x2^T dy2
        if self.use_bias:
            self.grads["b" + name][...] = column_sums(dy2)
        return (dy2 @ self.params["W" + name].T).reshape(dy.shape[:-1] + (x.shape[-1],))

    def _qkv_backward(self, x, d_qkv):
        """Self-attention's projections backward, from d_qkv = [dQ | dK | dV] (N, T, 3 widths):

        d[Wq | Wk | Wv] = x^T d_qkv    dx = d_qkv [Wq | Wk | Wv]^T  (= dQ Wq^T + dK Wk^T + dV Wv^T,
        summed inside the product)
        """
        W, _ = self._qkv_weights()
        x2, d2 = x.reshape(-1, x.shape[-1]), d_qkv.reshape(-1, W.shape[1])
        dW, start = backend.kernels_for(x2).weight_gradient(x2, d2), 0  # x2^T d2
        db = column_sums(d2) if self.use_bias else None
        for name in "qkv":
            width = self.params["W" + name].shape[1]
            self.grads["W" + name][...] = dW[:, start : start + width]
            if db is not None:
                self.grads["b" + name][...] = db[start : start + width]
            start += width
        return (d2 @ W.T).reshape(x.shape)


# ============================================================ positional encodings
class SinusoidalPositionalEncoding(SequenceLayout, Layer):
    """Adds the fixed encoding of Vaswani et al.: y[n, t] = x[n, t] + PE[offset + t].

        PE[t, 2i] = sin(t / w^(2i/D)),   PE[t, 2i+1] = cos(t / w^(2i/D)),   w = max_wavelength

    No parameters; backward passes dy through. ``forward(x, offset=t0)`` starts at
    position t0 (generation with a KV cache). Shapes: x (N, T, D) -> (N, T, D).
    """

    def __init__(self, max_wavelength: float = 10000.0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.max_wavelength = float(max_wavelength)

    def input_mismatch(self, shape):
        return False

    @staticmethod
    def encoding(T: int, D: int, max_wavelength: float = 10000.0, dtype=np.float32):
        """PE (T, D) as above."""
        position = np.arange(T)[:, None]  # (T, 1)
        frequency = max_wavelength ** (-np.arange(0, D, 2) / D)  # (ceil(D/2),)
        pe = np.zeros((T, D))
        pe[:, 0::2] = np.sin(position * frequency)
        pe[:, 1::2] = np.cos(position * frequency[: D // 2])
        return pe.astype(dtype)

    def forward(self, x, training=False, offset: int = 0):
        x = self.check_input(x)
        _, T, D = x.shape
        pe = self.encoding(offset + T, D, self.max_wavelength, x.dtype)[offset:]
        return x + backend.to_device(pe, backend.device_of(x))

    def backward(self, dy):
        return dy


class PositionalEmbedding(SequenceLayout, Layer):
    """Adds a learned vector per position: y[n, t] = x[n, t] + P[offset + t].

    Parameters: max_length (int), the longest sequence it will see.
    Shapes: x (N, T, D) -> (N, T, D); param ``P`` (max_length, D), drawn from N(0, 0.02^2)
    (GPT-2's choice). Backward: dP[t] = sum over the batch of dy[:, t], dx = dy.
    """

    def __init__(self, max_length: int, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.max_length = positive_int(max_length, "PositionalEmbedding max_length")

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        P = 0.02 * backend.rng().standard_normal((self.max_length, input_shape[-1]))
        self.add_param("P", P.astype(dtype))

    def forward(self, x, training=False, offset: int = 0):
        x = self.check_input(x)
        T = x.shape[1]
        if offset + T > self.max_length:
            raise ValueError(
                f"{self.label} has {self.max_length} positions (max_length), got positions "
                f"{offset}..{offset + T - 1} (input shape {tuple(x.shape)}, offset {offset})"
            )
        self.cache = (offset, T)
        return x + self.params["P"][offset : offset + T]

    def backward(self, dy):
        offset, T = self.require_cache()
        self.grads["P"][...] = 0
        self.grads["P"][offset : offset + T] = dy.sum(axis=0)
        return dy


# ============================================================ the transformer block
class TransformerBlock(SequenceLayout, Layer):
    """A pre-LN transformer block (GPT-2's arrangement):

        h = x + MHA(LN1(x))                       self-attention (causal if ``causal``)
        h = h + MHA_c(LNc(h), value=context)      cross-attention, if ``cross_attention``
        y = h + W2 GELU(W1 LN2(h) + b1) + b2      the MLP, on every position alone

    Parameters
    ----------
    num_heads : int
    key_dim : int          per head (default D // num_heads)
    mlp_dim : int          the MLP's hidden size (default 4 D)
    causal : bool          hide later positions from each query (a decoder, a GPT)
    cross_attention : bool add the cross-attention sub-layer; call with ``context=``
    eps : float            LayerNorm's epsilon

    Shapes: x (N, T, D) -> (N, T, D); context (N, S, Dc). ``backward(dy)`` returns dx, or
    ``(dx, d_context)`` with cross-attention. The sub-layers are attributes (``ln1``, ``attn``,
    ``ln_cross``, ``cross``, ``ln2``, ``fc1``, ``act``, ``fc2``), created by ``build``, and its
    ``sublayers()`` (base.py's mechanism): ``params`` and ``grads`` hold their arrays under
    ``"<sub-layer>.<name>"`` (the same arrays, not copies), so an optimizer, ``save`` and
    ``to(device)`` treat the block like any layer.
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int | None = None,
        mlp_dim: int | None = None,
        causal: bool = False,
        cross_attention: bool = False,
        eps: float = 1e-5,
        name=None,
        **kwargs,
    ):
        super().__init__(name, **kwargs)
        self.num_heads = positive_int(num_heads, "TransformerBlock num_heads")
        self.key_dim = None if key_dim is None else positive_int(key_dim, "TransformerBlock key_dim")
        self.mlp_dim = None if mlp_dim is None else positive_int(mlp_dim, "TransformerBlock mlp_dim")
        self.causal = bool(causal)
        self.cross_attention = bool(cross_attention)
        self.eps = float(eps)
        self.context_dim: int | None = None

    def sublayers(self) -> dict:
        """The sub-layers by attribute name, in the order of the forward (none before ``build``)."""
        names = (
            ["ln1", "attn"]
            + (["ln_cross", "cross"] if self.cross_attention else [])
            + ["ln2", "fc1", "act", "fc2"]
        )
        return {name: getattr(self, name) for name in names if hasattr(self, name)}

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        T, D = input_shape[-2], input_shape[-1]
        key_dim = self.key_dim or max(1, D // self.num_heads)
        self.ln1, self.ln2 = LayerNorm(self.eps), LayerNorm(self.eps)
        self.attn = MultiHeadAttention(self.num_heads, key_dim)
        self.fc1, self.act, self.fc2 = Dense(self.mlp_dim or 4 * D), GELU(), Dense(D)
        if self.cross_attention:
            self.ln_cross = LayerNorm(self.eps)
            self.cross = MultiHeadAttention(self.num_heads, key_dim)
            self.cross.source_dims = (self.context_dim or D,) * 2
        hidden = (T, self.mlp_dim or 4 * D)
        for name, layer in self.sublayers().items():
            layer.device = self.device
            layer.build(hidden if name == "fc2" else (T, D), dtype)

    def forward(self, x, training=False, context=None, attention_mask=None, context_mask=None, kv_cache=None):
        """x (N, T, D) -> (N, T, D). ``kv_cache``: a dict, for generation (self-attention's
        keys and values of earlier positions are kept under ``"self"``)."""
        if self.cross_attention and context is None:
            raise ValueError(f"{self.label} has cross-attention: call it with context=(N, S, features)")
        if not self.built and context is not None:
            self.context_dim = int(context.shape[-1])
        x = self.check_input(x)
        self_cache = None if kv_cache is None else kv_cache.setdefault("self", {})
        h = x + self.attn.forward(
            self.ln1.forward(x, training),
            training,
            attention_mask=attention_mask,
            use_causal_mask=self.causal,
            kv_cache=self_cache,
        )  # (N, T, D)
        if self.cross_attention:
            h = h + self.cross.forward(
                self.ln_cross.forward(h, training), training, value=context, attention_mask=context_mask
            )  # (N, T, D)
        mlp = self.fc2.forward(
            self.act.forward(self.fc1.forward(self.ln2.forward(h, training), training), training), training
        )  # (N, T, D)
        self.cache = kv_cache is None
        return h + mlp

    def backward(self, dy):
        if not self.require_cache():
            raise RuntimeError(f"{self.label}.backward after a forward with a kv_cache (inference only)")
        dh = dy + self.ln2.backward(self.fc1.backward(self.act.backward(self.fc2.backward(dy))))
        d_context = None
        if self.cross_attention:
            d_query, d_context = self.cross.backward(dh)
            dh = dh + self.ln_cross.backward(d_query)
        dx = dh + self.ln1.backward(self.attn.backward(dh))
        return (dx, d_context) if self.cross_attention else dx
