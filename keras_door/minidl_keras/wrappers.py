"""Keras's layer wrappers: ``Bidirectional`` and ``TimeDistributed``.

Each holds minidl layers as its ``sublayers()`` (``Layer``'s "Layers that hold layers"), so
their arrays are in its own ``params`` / ``grads`` / ``buffers`` under ``"<part>.<name>"``
(views onto the inner dicts, as ``Residual``'s), and an optimizer, ``get_weights`` and the
tape see the inner weights with no copy.

    TimeDistributed(layer)    (N, T, ...) -> (N, T, ...'): ``layer`` on every step, as one
                              batch of N*T samples; backward the same way.
    Bidirectional(rnn)        runs ``rnn`` on x and a copy with ``go_backwards=True`` (x read
                              last to first); the outputs merged (``"concat"``, ``"sum"``,
                              ``"ave"``, ``"mul"``), or with ``merge_mode=None`` returned as a
                              list ``[forward, backward]``. The backward branch's sequence output
                              is put back in time order.

On the tape a ``merge_mode=None`` call is one node whose value is the pair, and one small
``Part`` op per direction that reads its half (its backward puts ``dy`` in its slot of a
``Pair`` of gradients, and two such pairs add slot by slot at the fan-out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend
from minidl.nn.layers.base import Layer

from .recurrent import KerasRecurrent
from .weights import KerasLayerAPI

__all__ = ["Bidirectional", "TimeDistributed"]


class _Wrapper(KerasLayerAPI, Layer):
    def sublayers(self) -> dict[str, Layer]:
        raise NotImplementedError

    def input_mismatch(self, shape) -> bool:
        return False  # the inner layers check their own inputs

    def get_config(self) -> dict:
        raise NotImplementedError(f"saving a {type(self).__name__} is not in minidl_keras yet")


class TimeDistributed(_Wrapper):
    """``TimeDistributed(layer)``: ``layer`` applied to every time step of (N, T, ...)."""

    def __init__(self, layer, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a layer, got {type(layer).__name__}")
        self.layer = layer

    def sublayers(self) -> dict[str, Layer]:
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
    GRU); the backward copy is made from the layer's config unless ``backward_layer`` is given.

    The backward copy has ``go_backwards=True`` (Keras's): it reads the steps, and the mask,
    last to first; its sequence output is flipped back into time order before the merge.
    ``forward(x, mask=None, initial_state=None)``: the mask (N, T) goes to both directions;
    with ``return_sequences`` the masked steps output zeros (Keras sets
    ``zero_output_for_mask`` on both). ``initial_state`` is the forward layer's states
    then the backward one's; with ``return_state`` the output is
    ``[merged, *forward states, *backward states]``."""

    MODES = ("concat", "sum", "ave", "mul", None)

    forward_layer: Any  # a recurrent layer (SimpleRNN, LSTM, GRU)
    backward_layer: Any

    def __init__(self, layer, merge_mode="concat", backward_layer=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if merge_mode not in self.MODES:
            raise NotImplementedError(
                f"Bidirectional(merge_mode={merge_mode!r}) is not in minidl_keras; it merges with "
                f"{', '.join(map(repr, self.MODES))}"
            )
        if not isinstance(layer, KerasRecurrent):
            raise TypeError(
                "Bidirectional wraps a recurrent layer of keras.layers (SimpleRNN, LSTM, GRU), got "
                f"{type(layer).__module__}.{type(layer).__name__}"
            )
        self.forward_layer = layer
        self.backward_layer = backward_layer or type(layer)(
            **dict(layer.get_config(), go_backwards=not layer.go_backwards)
        )
        if self.backward_layer.go_backwards == layer.go_backwards:
            raise ValueError(
                "Bidirectional: the forward and backward layers need different go_backwards values, got "
                f"{layer.go_backwards} for both (give backward_layer=LSTM(..., go_backwards=True))"
            )
        for attribute in ("return_sequences", "return_state"):
            if getattr(self.backward_layer, attribute) != getattr(layer, attribute):
                raise ValueError(f"Bidirectional: the forward and backward layers differ in {attribute}")
        for inner in (
            self.forward_layer,
            self.backward_layer,
        ):  # Keras's: masked steps of a sequence output zeros
            inner.zero_output_for_mask = inner.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = bool(getattr(layer, "return_state", False))
        if merge_mode is None and self.return_state:
            raise NotImplementedError(
                "Bidirectional(merge_mode=None) of a layer with return_state=True is not in minidl_keras: "
                "merge the outputs (merge_mode='concat') or take the states from two layers of your own"
            )
        self.initial_state_grad = None

    def sublayers(self) -> dict[str, Layer]:
        return {"forward_layer": self.forward_layer, "backward_layer": self.backward_layer}

    def build(self, input_shape, dtype=np.float32):
        for layer in self.sublayers().values():
            if not layer.built:
                layer.build(tuple(input_shape), dtype=dtype)
        super().build(input_shape, dtype)

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.output_shape_for(tuple(input_shape))
        return (*shape[:-1], 2 * shape[-1]) if self.merge_mode == "concat" else shape

    def __call__(self, x, training=None, **kwargs):
        """With ``merge_mode=None`` on a KerasTensor: the two directions as two tensors (one
        node for the layer, a ``Part`` op for each half)."""
        if self.merge_mode is not None or not hasattr(x, "record_call"):
            return super().__call__(x, training=training, **kwargs)
        pair = x.record_call(self, x, training=training, **kwargs)
        return [pair.record_call(Part(i), [pair]) for i in (0, 1)]

    def forward(self, x, training=False, mask=None, initial_state=None):
        x = self.check_input(x)
        states: list = [None, None]
        if initial_state is not None:
            given = list(initial_state)
            half = len(given) // 2
            states = [s[0] if len(s) == 1 else s for s in (given[:half], given[half:])]
        forward = self.forward_layer.forward(x, training=training, mask=mask, initial_state=states[0])
        backward = self.backward_layer.forward(x, training=training, mask=mask, initial_state=states[1])
        final = []
        if self.return_state:
            (forward, *forward_states), (backward, *backward_states) = forward, backward
            final = forward_states + backward_states
        if self.return_sequences:
            backward = backward[:, ::-1]
        self.cache = (forward, backward, initial_state is not None)
        if self.merge_mode is None:
            return [forward, backward]
        if self.merge_mode == "concat":
            y = backend.get_array_module(forward).concatenate([forward, backward], axis=-1)
        elif self.merge_mode == "sum":
            y = forward + backward
        elif self.merge_mode == "ave":
            y = (forward + backward) / 2
        else:
            y = forward * backward
        return [y, *final] if self.return_state else y

    def backward(self, dy):
        forward, backward, has_state = self.require_cache()
        d_states = []
        if self.return_state:
            dy, *d_states = dy
        xp = backend.get_array_module(forward)
        if dy is None:  # (return_state: the loss reads only the states)
            width = forward.shape[-1] * (2 if self.merge_mode == "concat" else 1)
            dy = xp.zeros(forward.shape[:-1] + (width,), dtype=forward.dtype)
        if self.merge_mode is None:  # dy: [d_forward, d_backward], None where no gradient flows
            d_forward, d_backward = (
                xp.zeros_like(y) if d is None else d for d, y in zip(dy, (forward, backward))
            )
        elif self.merge_mode == "concat":
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
        d_forward, d_backward = xp.ascontiguousarray(d_forward), xp.ascontiguousarray(d_backward)
        if self.return_state:
            half = len(d_states) // 2
            d_forward, d_backward = [d_forward, *d_states[:half]], [d_backward, *d_states[half:]]
        dx_forward = self.forward_layer.backward(d_forward)
        dx_backward = self.backward_layer.backward(d_backward)  # (in time order: it undoes go_backwards)
        self.initial_state_grad = None
        if has_state:
            grads = [self.forward_layer.initial_state_grad, self.backward_layer.initial_state_grad]
            self.initial_state_grad = [
                g for grad in grads for g in (grad if isinstance(grad, tuple) else (grad,))
            ]
        return dx_forward + dx_backward


class Pair(list):
    """The gradient of a ``[forward, backward]`` pair: two arrays, None where nothing flowed;
    ``+`` adds slot by slot (the tape sums gradients at a fan-out with ``+``)."""

    def __add__(self, other):
        return Pair(a if b is None else b if a is None else a + b for a, b in zip(self, other))


class Part:
    """The op that reads half ``index`` of a ``Bidirectional(merge_mode=None)`` node's pair;
    backward: ``Pair`` with ``dy`` in that slot."""

    trainable = True

    def __init__(self, index: int):
        self.index, self.cache = index, None

    def symbolic_output(self, inputs):
        (pair,) = inputs
        return pair.shape, pair.dtype

    def forward(self, inputs, training: bool = False):
        (pair,) = inputs
        return pair[self.index]

    def backward(self, dy):
        slots = [None, None]
        slots[self.index] = dy
        return [Pair(slots)]

    def __repr__(self) -> str:
        return f"Bidirectional.Part({self.index})"
