"""The pointer-generator of See et al. (2017): a decoder that may copy words from its source.

A decoder that must *generate* every word has to learn, for each name it will ever write, an
output row that fires when that name is in the source; a name it never saw in training it
cannot write at all. The pointer-generator gives it a second way to produce a word: point at a
position of the source and copy the word there. At every decoder step t:

    copy attention   a_t = softmax_s(q_t . m_s / sqrt(Dm)),  q_t = s_t W_q   (source padding hidden)
    context          c_t = sum_s a_ts m_s
    switch           p_t = sigmoid(w_h . c_t + w_s . s_t + w_x . x_t + b)    (See et al.'s p_gen)
    output           P_t(w) = p_t softmax(z_t)(w) + (1 - p_t) sum_{s: id_s = w} a_ts

with s_t the decoder's state, x_t its input (the embedded previous word), m_s the encoder's
output at source position s, z_t the decoder's vocabulary logits and id_s the source word's id
in the *extended* vocabulary: the fixed vocabulary's V ids, then one temporary id per source
word outside it (V, V + 1, ...), so that a copied unknown word is still a word. The copy term is
a product with a one-hot matrix, ``a_t @ E`` with E[s, w] = 1 where id_s = w (the scatter of the
attention weights onto the ids, written as a matrix so that its backward is one more product).

See et al. reuse their decoder's (single, additive) attention for the copy distribution; a
transformer decoder has several heads in several blocks, so the layer here owns a one-head
dot-product attention of its own, which the copy loss trains (the usual choice for
transformer pointer-generators).
"""

from __future__ import annotations

import math

import numpy as np

from ... import backend
from .. import initializers
from .base import Layer
from .checks import SequenceLayout

__all__ = ["PointerGenerator"]


class PointerGenerator(SequenceLayout, Layer):
    """Mixes a decoder's vocabulary distribution with copying from the source (See et al., 2017).

    Call ``forward(state, training=False, *, memory, source_mask, copy_ids, vocab_logits,
    inputs, extended_size)``:

    state : (N, T, D)            the decoder's output s_t (what its vocabulary readout reads)
    memory : (N, S, Dm)          the encoder's output m_s
    source_mask : (N, S) bool    True at real source tokens (padding gets no attention)
    copy_ids : (N, S) int        each source token's id in the extended vocabulary, < extended_size
    vocab_logits : (N, T, V)     the decoder's logits z_t over the fixed vocabulary
    inputs : (N, T, E)           the decoder's input vectors x_t (the embedded previous words)
    extended_size : int          V plus the number of temporary ids (default V)

    Returns P (N, T, extended_size): probabilities, every row sums to 1 (the first V columns
    are the fixed vocabulary). ``backward(dP)`` fills the gradients and returns
    ``(d_state, d_memory, d_vocab_logits, d_inputs)``. The last switch values p_t (N, T) and
    copy attention (N, T, S) are kept in ``last_p_gen`` and ``last_copy_attention``.

    Params: ``Wq`` (D, Dm) the copy attention's query map; ``w_h`` (Dm,), ``w_s`` (D,),
    ``w_x`` (E,) and ``b`` (1,) the switch. The switch starts at p = 1/2 (its weights at zero).
    """

    def __init__(self, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.source_dims: tuple[int, int] | None = None  # (Dm, E), read from the first call
        self.last_p_gen = None
        self.last_copy_attention = None

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        D = input_shape[-1]
        Dm, E = self.source_dims or (D, D)
        self.add_param("Wq", initializers.get("glorot_uniform")((D, Dm), D, Dm, dtype))
        for name, size in (("w_h", Dm), ("w_s", D), ("w_x", E), ("b", 1)):
            self.add_param(name, np.zeros(size, dtype=dtype))

    def compute_output_shape(self, input_shape):
        raise NotImplementedError(
            "PointerGenerator's output size depends on the call (extended_size): it is not a Sequential layer"
        )

    def forward(  # type: ignore[override]
        self,
        state,
        training=False,
        *,
        memory,
        source_mask,
        copy_ids,
        vocab_logits,
        inputs,
        extended_size=None,
    ):
        if not self.built:
            self.source_dims = (int(memory.shape[-1]), int(inputs.shape[-1]))
        state = self.check_input(state)
        xp = backend.get_array_module(state)
        copy_ids = xp.asarray(copy_ids)
        N, T, _ = state.shape
        S, V = memory.shape[1], vocab_logits.shape[-1]
        extended_size = V if extended_size is None else int(extended_size)
        expected = {
            "memory": ((N, S, self.params["w_h"].shape[0]), memory.shape),
            "source_mask": ((N, S), source_mask.shape),
            "copy_ids": ((N, S), copy_ids.shape),
            "vocab_logits": ((N, T, V), vocab_logits.shape),
            "inputs": ((N, T, self.params["w_x"].shape[0]), inputs.shape),
        }
        for what, (want, got) in expected.items():
            if tuple(want) != tuple(got):
                raise ValueError(
                    f"{self.label} expected {what} of shape {tuple(want)}, got shape {tuple(got)}"
                )
        if extended_size < V or (
            copy_ids.size and not 0 <= int(copy_ids.min()) <= int(copy_ids.max()) < extended_size
        ):
            raise ValueError(
                f"{self.label} needs extended_size >= V = {V} and copy_ids in [0, extended_size = "
                f"{extended_size}), got ids in [{int(copy_ids.min())}, {int(copy_ids.max())}]"
            )
        p = self.params
        scale = 1.0 / math.sqrt(memory.shape[-1])
        # copy attention: one head, queries from the decoder state, keys = values = the memory
        q = (state.reshape(N * T, -1) @ p["Wq"]).reshape(N, T, -1)  # (N, T, Dm)
        keep = xp.ascontiguousarray(
            xp.broadcast_to(xp.asarray(source_mask, dtype=bool)[:, None, :], (N, T, S))
        )
        attention = backend.kernels_for(state).masked_softmax(q @ memory.transpose(0, 2, 1), keep, scale)
        context = attention @ memory  # (N, T, Dm)
        # the switch p_gen, one number per step
        gate = context @ p["w_h"] + state @ p["w_s"] + inputs @ p["w_x"] + p["b"][0]  # (N, T)
        p_gen = 1.0 / (1.0 + xp.exp(-gate))
        # the two distributions, mixed
        z = vocab_logits - vocab_logits.max(axis=-1, keepdims=True)
        vocab_probs = xp.exp(z)
        vocab_probs /= vocab_probs.sum(axis=-1, keepdims=True)  # (N, T, V)
        one_hot = xp.zeros((N, S, extended_size), dtype=state.dtype)  # E[n, s, copy_ids[n, s]] = 1
        one_hot[xp.arange(N)[:, None], xp.arange(S)[None, :], copy_ids] = 1
        copy_probs = attention @ one_hot  # (N, T, extended_size): the attention scattered onto ids
        out = (1 - p_gen)[..., None] * copy_probs
        out[..., :V] += p_gen[..., None] * vocab_probs
        self.last_p_gen, self.last_copy_attention = p_gen, attention
        self.cache = (state, memory, inputs, q, attention, context, p_gen, vocab_probs, copy_probs, one_hot)
        return out

    def backward(self, dy):
        """dy = dL/dP (N, T, extended_size) -> (d_state, d_memory, d_vocab_logits, d_inputs).

        With g_t = dL/dP_t:
            d vocab_probs = p g[:V]              d z = P_v * (d P_v - sum(d P_v * P_v))
            d a           = (1 - p) g E^T        (the gather of g at the source's ids)
            d p           = g[:V] . P_v - g . (a E)
            d gate        = d p * p (1 - p)      d w_h = sum d gate c,  d w_s = sum d gate s, ...
            d c           = d gate w_h           (and d s += d gate w_s, d x = d gate w_x)
            d a          += d c m^T              (a also mixes the context c = a m)
            d scores      = the masked softmax's backward of d a
            d q = d scores m,   d m = d scores^T q + a^T d c,   d W_q = s^T d q,   d s += d q W_q^T
        """
        state, memory, inputs, q, attention, context, p_gen, vocab_probs, copy_probs, one_hot = (
            self.require_cache()
        )
        p, g = self.params, self.grads
        N, T, V = vocab_probs.shape
        d_vocab = dy[..., :V]
        # the mixture
        d_vocab_probs = p_gen[..., None] * d_vocab
        d_logits = vocab_probs * (d_vocab_probs - (d_vocab_probs * vocab_probs).sum(axis=-1, keepdims=True))
        d_copy = dy @ one_hot.transpose(0, 2, 1)  # (N, T, S): dL/dP at each source word's id
        d_attention = (1 - p_gen)[..., None] * d_copy
        d_p_gen = (d_vocab * vocab_probs).sum(axis=-1) - (dy * copy_probs).sum(axis=-1)  # (N, T)
        # the switch
        d_gate = d_p_gen * p_gen * (1 - p_gen)  # (N, T)
        g["w_h"][...] = _weighted_sum(d_gate, context)
        g["w_s"][...] = _weighted_sum(d_gate, state)
        g["w_x"][...] = _weighted_sum(d_gate, inputs)
        g["b"][...] = d_gate.sum()
        d_context = d_gate[..., None] * p["w_h"]  # (N, T, Dm)
        d_state = d_gate[..., None] * p["w_s"]  # (N, T, D)
        d_inputs = d_gate[..., None] * p["w_x"]  # (N, T, E)
        # the copy attention: context = a m and the copy term both depend on a
        d_attention = d_attention + d_context @ memory.transpose(0, 2, 1)  # (N, T, S)
        d_memory = attention.transpose(0, 2, 1) @ d_context  # (N, S, Dm), through the values
        scale = 1.0 / math.sqrt(memory.shape[-1])
        d_scores = backend.kernels_for(dy).masked_softmax_backward(attention, d_attention, scale)
        d_memory = d_memory + d_scores.transpose(0, 2, 1) @ q  # through the keys
        d_q = d_scores @ memory  # (N, T, Dm)
        g["Wq"][...] = state.reshape(N * T, -1).T @ d_q.reshape(N * T, -1)
        d_state = d_state + d_q @ p["Wq"].T
        return d_state, d_memory, d_logits, d_inputs


def _weighted_sum(weights, x):
    """sum over n, t of weights[n, t] * x[n, t, :] -> (features,), as one product."""
    return weights.reshape(-1) @ x.reshape(-1, x.shape[-1])
