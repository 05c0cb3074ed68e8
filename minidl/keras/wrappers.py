"""Keras's layer wrappers: ``Bidirectional`` and ``TimeDistributed``.

Each holds minidl layers and exposes their arrays in its own ``params`` / ``grads`` /
``buffers`` under ``"<part>.<name>"`` (views onto the inner dicts, as ``Residual`` does), so
an optimizer, ``get_weights`` and the tape see the inner weights with no copy.

    TimeDistributed(layer)    (N, T, ...) -> (N, T, ...'): ``layer`` on every step, as one
                              batch of N*T samples; backward the same way.
    Bidirectional(rnn)        runs ``rnn`` on x and a copy on x reversed in time; the outputs
                              merged (``"concat"``, ``"sum"``, ``"ave"``, ``"mul"``). The
                              reversed branch's sequence output is put back in time order, and
                              its input gradient is reversed again.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import numpy as np

from ..nn.layers.base import Layer

__all__ = ["Bidirectional", "TimeDistributed"]


class _PartArrays(MutableMapping):
    """``params`` / ``grads`` / ``buffers`` of a wrapper: the inner layers' ones, keyed ``"<part>.<name>"``."""

    def __init__(self, owner, store: str):
        self._owner, self._store = owner, store

    def _slots(self):
        for part, layer in self._owner.parts().items():
            inner = getattr(layer, self._store)
            for key in inner:
                yield f"{part}.{key}", inner, key

    def _find(self, name):
        for full, inner, key in self._slots():
            if full == name:
                return inner, key
        raise KeyError(f"{self._owner.label} has no {self._store[:-1]} {name!r}; it has {list(self)}")

    def __getitem__(self, name):
        inner, key = self._find(name)
        return inner[key]

    def __setitem__(self, name, value):
        inner, key = self._find(name)
        inner[key] = value

    def __delitem__(self, name):
        raise TypeError(f"cannot delete {name!r}: a wrapper's {self._store} belong to its inner layers")

    def __iter__(self):
        return (full for full, _, _ in self._slots())

    def __len__(self):
        return sum(1 for _ in self._slots())


class _Wrapper(Layer):
    def __init__(self, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.params = _PartArrays(self, "params")
        self.grads = _PartArrays(self, "grads")
        self.buffers = _PartArrays(self, "buffers")

    def parts(self) -> dict:
        raise NotImplementedError

    def _input_mismatch(self, shape) -> bool:
        return False  # the inner layers check their own inputs

    def to(self, device: str):
        for layer in self.parts().values():
            layer.to(device)
        self.device, self.cache = device, None
        return self

    def regularization_loss(self) -> float:
        return sum(layer.regularization_loss() for layer in self.parts().values())

    def get_config(self) -> dict:
        raise NotImplementedError(f"saving a {type(self).__name__} is not in minidl.keras yet")


class TimeDistributed(_Wrapper):
    """``TimeDistributed(layer)``: ``layer`` applied to every time step of (N, T, ...)."""

    def __init__(self, layer, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a layer, got {type(layer).__name__}")
        self.layer = layer

    def parts(self) -> dict:
        return {"layer": self.layer}

    def build(self, input_shape, dtype=np.float32):
        if len(input_shape) < 2:
            raise ValueError(f"TimeDistributed needs inputs (N, T, ...), got per-sample shape {input_shape}")
        if not self.layer.built:
            self.layer.build(tuple(input_shape[1:]), dtype=dtype)
        super().build(input_shape, dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.layer.output_shape_for(tuple(input_shape[1:])))

    def forward(self, x, training=False):
        x = self.check_input(x)
        n, t = x.shape[:2]
        y = self.layer.forward(x.reshape(n * t, *x.shape[2:]), training=training)
        self.cache = (n, t, x.shape)
        return y.reshape(n, t, *y.shape[1:])

    def backward(self, dy):
        n, t, x_shape = self.require_cache()
        dx = self.layer.backward(dy.reshape(n * t, *dy.shape[2:]))
        return None if dx is None else dx.reshape(x_shape)


class Bidirectional(_Wrapper):
    """``Bidirectional(layer, merge_mode="concat")`` for a recurrent ``layer`` (SimpleRNN, LSTM,
    GRU); the backward copy is made from the layer's config unless ``backward_layer`` is given."""

    MODES = ("concat", "sum", "ave", "mul")

    def __init__(self, layer, merge_mode="concat", backward_layer=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if merge_mode not in self.MODES:
            raise NotImplementedError(
                f"Bidirectional(merge_mode={merge_mode!r}) is not in minidl.keras; it merges with "
                f"{', '.join(self.MODES)}"
            )
        if not hasattr(layer, "return_sequences"):
            raise TypeError(
                f"Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), got {type(layer).__name__}"
            )
        self.forward_layer = layer
        self.backward_layer = backward_layer or type(layer)(**layer.get_config())
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences

    def parts(self) -> dict:
        return {"forward_layer": self.forward_layer, "backward_layer": self.backward_layer}

    def build(self, input_shape, dtype=np.float32):
        for layer in self.parts().values():
            if not layer.built:
                layer.build(tuple(input_shape), dtype=dtype)
        super().build(input_shape, dtype)

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.output_shape_for(tuple(input_shape))
        return (*shape[:-1], 2 * shape[-1]) if self.merge_mode == "concat" else shape

    def forward(self, x, training=False):
        x = self.check_input(x)
        forward = self.forward_layer.forward(x, training=training)
        backward = self.backward_layer.forward(x[:, ::-1], training=training)
        if self.return_sequences:
            backward = backward[:, ::-1]
        self.cache = (forward, backward)
        if self.merge_mode == "concat":
            return np.concatenate([forward, backward], axis=-1)
        if self.merge_mode == "sum":
            return forward + backward
        if self.merge_mode == "ave":
            return (forward + backward) / 2
        return forward * backward

    def backward(self, dy):
        forward, backward = self.require_cache()
        if self.merge_mode == "concat":
            units = forward.shape[-1]
            d_forward, d_backward = dy[..., :units], dy[..., units:]
        elif self.merge_mode == "sum":
            d_forward = d_backward = dy
        elif self.merge_mode == "ave":
            d_forward = d_backward = dy / 2
        else:
            d_forward, d_backward = dy * backward, dy * forward
        if self.return_sequences:
            d_backward = d_backward[:, ::-1]
        dx_forward = self.forward_layer.backward(np.ascontiguousarray(d_forward))
        dx_backward = self.backward_layer.backward(np.ascontiguousarray(d_backward))
        return dx_forward + dx_backward[:, ::-1]
