"""``keras.layers.MultiHeadAttention``: chapter 13's ``minidl.nn.layers.MultiHeadAttention``
(its hand-written backward) under Keras 3's call and weight layout.

Keras calls it ``mha(query, value, key=None, attention_mask=None,
return_attention_scores=False, training=None, use_causal_mask=False)``: the inputs are
positional, so in a graph (the functional API, a custom layer's ``call``) the call is ONE
node reading ``[query, value]`` (``[query, value, key]``, and the mask if it is a tensor),
whose backward returns a gradient per input. ``mha(x, x)`` (self-attention) runs the fused
``x [Wq | Wk | Wv]`` product of chapter 13 and gives ``x`` one summed gradient.

Weights, in Keras's order and layout (``get_weights`` / ``set_weights``, a model's too):

    query kernel (D, H, dk), bias (H, dk)      minidl Wq (D, H*dk), bq (H*dk,)
    key kernel   (Dk, H, dk), bias (H, dk)     minidl Wk, bk
    value kernel (Dv, H, dv), bias (H, dv)     minidl Wv, bv
    output kernel (H, dv, D'), bias (D',)      minidl Wo (H*dv, D'), bo

the same numbers, reshaped. Kernels are drawn as Keras draws them: Glorot-uniform with the
fans of the 3-D shape (fan_in = D*H, fan_out = D*dk for the query kernel).

Semantics as Keras's: the scores are scaled by 1/sqrt(dk); ``attention_mask`` (B, Tq, Tk)
is True where a query may attend; ``use_causal_mask`` hides key j > i (Keras's lower
triangle, also when Tq != Tk); a query that may see no key gets zero weights (Keras's
masked softmax zeroes them too); ``dropout`` drops attention weights in training.
Not here: ``query_mask``/``value_mask``/``key_mask`` (implicit masks, from
``Embedding(mask_zero=True)``), ``attention_axes`` other than the sequence axis, an
``output_shape`` of more than one axis, regularizers and constraints, and
``return_attention_scores=True`` inside a graph (a node has one output; eager calls have it).
"""

from __future__ import annotations

import numpy as np

from minidl import backend
from minidl.nn.layers import attention as _attention
from minidl.nn.layers.base import Layer

from . import initializers as keras_initializers
from .custom import _fans
from .graph import KerasTensor, Node, is_symbolic, remember_call, symbolic
from .missing import KerasFeatureMissing
from .weights import KerasLayerAPI

__all__ = ["MultiHeadAttention", "Attention"]


def _is_default(initializer, name: str, class_name: str) -> bool:
    """Whether ``initializer`` is Keras's default ``name`` (the string, the class name, or the
    class with its defaults, as a loaded ``get_config`` gives it back)."""
    if isinstance(initializer, str):
        return initializer in (name, class_name)
    return keras_initializers.serialize(initializer) == keras_initializers.serialize(name)


class MultiHeadAttention(KerasLayerAPI, _attention.MultiHeadAttention):
    """Keras 3's ``MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0,
    use_bias=True, output_shape=None, ...)`` (see the module's docstring).

    Shapes: query (B, Tq, D), value (B, Tk, Dv), key (B, Tk, Dk) -> (B, Tq, D'), D' =
    ``output_shape`` or D; attention scores (B, H, Tq, Tk).
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        name=None,
        **kwargs,
    ):
        not_here = dict(  # Keras's options that this layer lacks
            attention_axes=attention_axes,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        if attention_axes in (1, (1,), [1]):  # the sequence axis: what it attends over anyway
            not_here["attention_axes"] = None
        for option, value in not_here.items():
            if value is not None:
                raise KerasFeatureMissing(
                    f"MultiHeadAttention({option}=...) is not in minidl_keras: it attends over the "
                    "sequence axis of (B, T, features) inputs, with no regularizers or constraints"
                )
        if not _is_default(kernel_initializer, "glorot_uniform", "GlorotUniform"):
            raise KerasFeatureMissing(
                "MultiHeadAttention(kernel_initializer=...) other than 'glorot_uniform' is not in "
                "minidl_keras: assign the kernels with set_weights"
            )
        if not _is_default(bias_initializer, "zeros", "Zeros"):
            raise KerasFeatureMissing(
                "MultiHeadAttention(bias_initializer=...) other than 'zeros' is not in minidl_keras: "
                "assign the biases with set_weights"
            )
        sizes = tuple(output_shape) if isinstance(output_shape, (tuple, list)) else (output_shape,)
        if len(sizes) != 1:
            raise KerasFeatureMissing(
                f"MultiHeadAttention(output_shape={sizes}) of more than one axis is not "
                "in minidl_keras: give one size and reshape after it"
            )
        output_shape = sizes[0]
        super().__init__(
            num_heads, key_dim, value_dim=value_dim, use_bias=use_bias, output_shape=output_shape,
            dropout=dropout, name=name, **kwargs,
        )  # fmt: skip
        self.attention_axes, self.flash_attention, self.seed = None, flash_attention, seed
        self.bias_initializer = "zeros"
        self.kernel_regularizer = self.bias_regularizer = self.activity_regularizer = None
        self.kernel_constraint = self.bias_constraint = None
        self._n_inputs: int | None = None  # how many inputs the last graph-style forward read

    def build(self, input_shape, dtype=np.float32):
        """Weights drawn as Keras's: Glorot-uniform over the fans of the 3-D kernels."""
        super().build(input_shape, dtype)
        for name in "qkvo":
            shape = self.to_keras_layout("W" + name, self.params["W" + name]).shape
            fan_in, fan_out = _fans(shape)
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            values = backend.rng().uniform(-limit, limit, self.params["W" + name].shape)
            param = self.params["W" + name]
            param[...] = backend.to_device(values.astype(param.dtype), backend.device_of(param))

    # ------------------------------------------------------------------ Keras's layout
    def to_keras_layout(self, key: str, array):
        """minidl's ``key`` array as Keras lays it out (see the module's docstring)."""
        H = self.num_heads
        dv = self.value_dim or self.key_dim
        if key in ("Wq", "Wk", "Wv"):
            return array.reshape(array.shape[0], H, -1)
        if key in ("bq", "bk", "bv"):
            return array.reshape(H, -1)
        if key == "Wo":
            return array.reshape(H, dv, array.shape[-1])
        return array

    def from_keras_layout(self, key: str, array):
        """A Keras-laid-out weight as minidl's ``key`` array."""
        if key in ("Wq", "Wk", "Wv", "Wo"):
            lead = array.shape[0] if key != "Wo" else -1
            return array.reshape(lead, -1) if key != "Wo" else array.reshape(-1, array.shape[-1])
        if key in ("bq", "bk", "bv"):
            return array.reshape(-1)
        return array

    def get_weights(self) -> list:
        """Keras's ``layer.get_weights()``: query kernel, bias, key's, value's, output's."""
        return [self.to_keras_layout(k, backend.to_numpy(a).copy()) for k, a in self.params.items()]

    def set_weights(self, weights) -> None:
        keys = list(self.params)
        if len(weights) != len(keys):
            raise ValueError(f"{self.label}.set_weights expected {len(keys)} arrays, got {len(weights)}")
        for key, w in zip(keys, weights):
            w = self.from_keras_layout(key, np.asarray(w))
            if w.shape != self.params[key].shape:
                raise ValueError(
                    f"{self.label}.set_weights: {key} has shape "
                    f"{self.to_keras_layout(key, self.params[key]).shape}, got {np.shape(weights[keys.index(key)])}"
                )
            self.params[key][...] = backend.to_device(
                w.astype(self.params[key].dtype), backend.device_of(self.params[key])
            )

    # ------------------------------------------------------------------ Keras's call
    def __call__(  # type: ignore[override]
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        **minidl_options,
    ):
        if value is None:
            if minidl_options or not is_symbolic(query):  # minidl's call: mha(x) is self-attention
                return super().__call__(
                    query, training=bool(training), attention_mask=attention_mask,
                    use_causal_mask=use_causal_mask, return_attention_scores=return_attention_scores,
                    **minidl_options,
                )  # fmt: skip
            raise TypeError("MultiHeadAttention.call() missing 1 required positional argument: 'value'")
        if query_mask is not None or value_mask is not None or key_mask is not None:
            raise KerasFeatureMissing(
                "MultiHeadAttention(query_mask=/value_mask=/key_mask=) is not in minidl_keras (its "
                "layers carry no implicit masks): pass attention_mask (B, Tq, Tk), True = may attend"
            )
        inputs = [query, value] + ([key] if key is not None else [])
        options = {"has_key": key is not None, "use_causal_mask": bool(use_causal_mask)}
        if attention_mask is not None:
            inputs.append(attention_mask)
            options["has_mask"] = True
        if any(is_symbolic(t) for t in inputs):
            if return_attention_scores:
                raise KerasFeatureMissing(
                    "MultiHeadAttention(..., return_attention_scores=True) inside a model is not in "
                    "minidl_keras (one output per recorded call): call the layer on arrays, or read "
                    "layer.last_attention_scores (B, H, Tq, Tk) after a forward pass"
                )
            return self.record_node(inputs, training, options)
        y = self.forward(inputs, training=bool(training), **options)
        return (y, self.last_attention_scores) if return_attention_scores else y

    def record_node(self, inputs, training, options):
        """Record this call as one graph node (also what ``load_model`` does with a saved node)."""
        tensors = [symbolic(t) for t in inputs]
        node = Node(self, tensors, many=True, training=training, options=options)
        query = tensors[0]
        if not self.built:
            self._keep_source_dims(tensors[1], tensors[2] if options["has_key"] else tensors[1])
            self.build(query.shape[1:])
        out = self.output_shape_ or query.shape[-1]
        node.output = KerasTensor(
            (*query.shape[:-1], out), self.params["Wo"].dtype, name=self.name, node=node
        )
        remember_call(self, inputs, node.output)
        return node.output

    def _keep_source_dims(self, value, key) -> None:
        self.source_dims = (int(value.shape[-1]), int(key.shape[-1]))

    def forward(  # type: ignore[override]
        self, inputs, training=False, has_key=False, has_mask=False, use_causal_mask=False, **minidl_options
    ):
        """``inputs``: [query, value] (+ key if ``has_key``) (+ attention_mask if ``has_mask``),
        as one node of a graph passes them; a single array is minidl's call (self-attention)."""
        if not isinstance(inputs, (list, tuple)):
            self._n_inputs = None
            return super().forward(
                inputs, training=training, use_causal_mask=use_causal_mask, **minidl_options
            )
        query, value = inputs[0], inputs[1]
        key = inputs[2] if has_key else None
        mask = inputs[-1] if has_mask else None
        if use_causal_mask:  # Keras's causal mask: the lower triangle, j <= i, whatever Tk
            tq, tk = query.shape[1], (key if key is not None else value).shape[1]
            causal = np.tril(np.ones((tq, tk), dtype=bool))[None]
            mask = causal if mask is None else np.asarray(mask, dtype=bool) & causal
        self._fused = value is query and key is None
        self._n_inputs = len(inputs)
        if self._fused:  # self-attention: one product x [Wq | Wk | Wv]
            return super().forward(query, training=training, attention_mask=mask)
        return super().forward(query, training=training, value=value, key=key, attention_mask=mask)

    def backward(self, dy):
        """One gradient per input of ``forward``'s list (None for the mask)."""
        grads = super().backward(dy)
        if self._n_inputs is None:
            return grads
        if self._fused:
            grads = [grads, None]
        grads = list(grads)
        return grads + [None] * (self._n_inputs - len(grads))


class Attention(KerasLayerAPI, Layer):
    """Keras 3's ``Attention(use_scale=False, score_mode="dot", dropout=0.0, seed=None)``:
    dot-product attention without projections (Luong's), called on a list::

        attention([query, value]) or attention([query, value, key])  (key defaults to value)

        S = Q K^T (B, Tq, Tk)    Z = s S  (s: the trainable scalar ``scale``, 1 without use_scale)
        P = softmax(Z) over the visible keys    O = P V (B, Tq, dv)

    Backward (the softmax's Jacobian applied by ``masked_softmax_backward`` with scale 1):
    dV = P^T dO, dZ from dP = dO V^T, dS = s dZ, dQ = dS K, dK = dS^T Q, ds = sum(dZ * S).

    ``mask=[query_mask, value_mask]`` ((B, Tq), (B, Tk) bool; eager calls only) hides keys and
    zeroes the rows of masked queries; ``use_causal_mask`` hides key j > i; ``dropout`` drops
    attention weights in training. A query that may see no key gets zero weights (Keras's
    scores - 1e9 leave its softmax as if unmasked). ``score_mode="concat"`` is not here.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, name=None, **kwargs):
        if score_mode != "dot":
            raise KerasFeatureMissing(
                f"Attention(score_mode={score_mode!r}) is not in minidl_keras: score_mode='dot' is "
                "(or keras.layers.MultiHeadAttention)"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"Attention dropout must be in [0, 1), got {dropout!r}")
        super().__init__(name, **kwargs)
        self.use_scale, self.score_mode, self.dropout, self.seed = (
            bool(use_scale),
            score_mode,
            float(dropout),
            seed,
        )

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        if self.use_scale:
            self.add_param("scale", np.ones((), dtype=dtype))

    def __call__(  # type: ignore[override]  # Keras's call: a list of inputs, mask=
        self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False
    ):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(
                "Attention layer must be called on a list of inputs, namely [query, value] or "
                f"[query, value, key], got {type(inputs).__name__}"
            )
        inputs = list(inputs)
        if any(is_symbolic(t) for t in inputs):
            if mask is not None or return_attention_scores:
                raise KerasFeatureMissing(
                    "Attention(mask=...) or return_attention_scores=True inside a model is not in "
                    "minidl_keras: call the layer on arrays, or use MultiHeadAttention's attention_mask"
                )
            tensors = [symbolic(t) for t in inputs]
            node = Node(
                self,
                tensors,
                many=True,
                training=training,
                options={"use_causal_mask": bool(use_causal_mask)},
            )
            if not self.built:
                self.build(tensors[0].shape[1:])
            node.output = KerasTensor(
                (*tensors[0].shape[:-1], tensors[1].shape[-1]), "float32", name=self.name, node=node
            )
            remember_call(self, inputs, node.output)
            return node.output
        q_mask, v_mask = (None, None) if mask is None else (mask[0], mask[1])
        y = self.forward(
            inputs,
            training=bool(training),
            use_causal_mask=use_causal_mask,
            query_mask=q_mask,
            value_mask=v_mask,
        )
        return (y, self.last_attention_scores) if return_attention_scores else y

    def forward(self, inputs, training=False, use_causal_mask=False, query_mask=None, value_mask=None):
        """``inputs``: [query (B, Tq, d), value (B, Tk, dv)(, key (B, Tk, d))] -> (B, Tq, dv)."""
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        if not self.built:
            self.build(q.shape[1:], q.dtype)
        if q.ndim != 3 or v.ndim != 3 or k.shape[:2] != v.shape[:2] or k.shape[-1] != q.shape[-1]:
            raise ValueError(
                f"{self.label} expected query (B, Tq, d), value (B, Tk, dv), key (B, Tk, d), got "
                f"{tuple(q.shape)}, {tuple(v.shape)}, {tuple(k.shape)}"
            )
        xp = backend.get_array_module(q)
        B, Tq, _ = q.shape
        Tk = k.shape[1]
        keep = np.ones((1, Tq, Tk), dtype=bool)
        if use_causal_mask:
            keep = keep & np.tril(np.ones((Tq, Tk), dtype=bool))[None]
        if value_mask is not None:
            keep = keep & np.asarray(backend.to_numpy(value_mask), dtype=bool)[:, None, :]
        keep = xp.asarray(
            np.ascontiguousarray(np.broadcast_to(keep, (B, Tq, Tk)) if keep.shape[0] != 1 else keep)
        )
        scale = self.params["scale"] if self.use_scale else 1.0
        scores = q @ xp.swapaxes(k, -1, -2)  # (B, Tq, Tk)
        kernels = backend.kernels_for(q)
        probs = kernels.masked_softmax(xp.ascontiguousarray(scores), keep, float(scale))  # (B, Tq, Tk)
        dropped = None
        if training and self.dropout > 0:
            uniform = backend.rng().random(probs.shape, dtype=np.float32)
            dropped = xp.asarray(((uniform >= self.dropout) / (1.0 - self.dropout)).astype(q.dtype))
        weights = probs if dropped is None else probs * dropped
        out = weights @ v  # (B, Tq, dv)
        rows = None
        if query_mask is not None:  # (B, Tq, 1)
            rows = xp.asarray(np.asarray(backend.to_numpy(query_mask), dtype=bool)[..., None])
            out = xp.where(rows, out, 0)
        self.last_attention_scores = probs
        self.cache = (q, k, v, scores, probs, dropped, rows, len(inputs))
        return out

    def backward(self, dy):
        q, k, v, scores, probs, dropped, rows, n_inputs = self.require_cache()
        xp = backend.get_array_module(dy)
        if rows is not None:
            dy = xp.where(rows, dy, 0)
        weights = probs if dropped is None else probs * dropped
        dv = xp.swapaxes(weights, -1, -2) @ dy  # (B, Tk, dv)
        dprobs = dy @ xp.swapaxes(v, -1, -2)  # (B, Tq, Tk)
        if dropped is not None:
            dprobs = dprobs * dropped
        dz = backend.kernels_for(probs).masked_softmax_backward(probs, dprobs, 1.0)  # d(s S)
        scale = self.params["scale"] if self.use_scale else 1.0
        if self.use_scale:
            self.grads["scale"][...] = (dz * scores).sum()
        ds = dz * scale
        dq = ds @ k  # (B, Tq, d)
        dk = xp.swapaxes(ds, -1, -2) @ q  # (B, Tk, d)
        if n_inputs == 3:
            return [dq, dv, dk]
        return [dq, dv + dk]

    def compute_output_shape(self, input_shape):
        return input_shape
