"""Keras's ``SimpleRNN``, ``LSTM`` and ``GRU``: minidl's layers with Keras's options.

minidl's recurrent layers (``minidl.nn.layers.recurrent``) take ``units``,
``return_sequences``, the initializers and ``forward(x, training, initial_state)``. The door's
classes subclass them and add what Keras programs use:

* ``return_state=True``: the output is a list ``[output, h_T]`` (LSTM ``[output, h_T, c_T]``)
  and ``backward`` takes one gradient per entry (``None`` for one the loss does not read);
* ``forward(..., mask=)``: a mask (N, T) of booleans marks the real steps (False: padding). A
  masked step changes nothing: every state is carried over, ``s_t = s_{t-1}``, and its output
  repeats the previous step's (zeros before the first real step), or is zeros with
  ``zero_output_for_mask=True`` (what ``Bidirectional`` asks for). So the last output is the
  output of the last real step; masked steps get no gradient;
* ``go_backwards=True`` reads the steps (and the mask) last to first and returns the outputs
  in that order;
* variational dropout (Gal & Ghahramani): ``dropout=p`` zeroes the same input features of a
  sample at every step (a mask (N, 1, D) on x, kept values scaled by 1 / (1 - p));
  ``recurrent_dropout=p`` (SimpleRNN, LSTM) likewise masks h_{t-1} where it enters
  ``h_{t-1} Wh``, one mask (N, H) for the whole sequence. Both act only with ``training=True``;
* Keras's arguments at the values minidl's cells have (``activation="tanh"``,
  ``reset_after=True``, ...), accepted; other values refused (``minidl_keras.layer_options``).

A mask and a recurrent dropout mask sit inside the recurrence, where no sequence kernel reaches:
the layer then runs minidl's one-step functions (``lstm_step_forward`` and its backward, ...)
along the sequence. The classes print and save under minidl's names; a file loads back into
them (``layout.door_class``).
"""

from __future__ import annotations

import numpy as np

from minidl import backend
from minidl.nn import layers as _L
from minidl.nn.layers.recurrent import (
    Recurrent,
    gru_step_backward,
    gru_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_step_backward,
    rnn_step_forward,
)

from .layout import DOOR_CLASSES
from .weights import KerasLayerAPI

__all__ = ["SimpleRNN", "LSTM", "GRU", "KerasRecurrent"]


def _step_forward(layer, x_t, state):
    """One step of ``layer``'s cell, x_t (N, D): the new state (a tuple as ``state``) and its cache."""
    p = layer.params
    if isinstance(layer, _L.LSTM):
        h, c, cache = lstm_step_forward(x_t, state[0], state[1], p["Wx"], p["Wh"], p["b"])
        return (h, c), cache
    if isinstance(layer, _L.GRU):
        h, cache = gru_step_forward(x_t, state[0], p["Wx"], p["Wh"], p["bx"], p["bh"])
        return (h,), cache
    h, cache = rnn_step_forward(x_t, state[0], p["Wx"], p["Wh"], p["b"])
    return (h,), cache


def _step_backward(layer, dstate, cache):
    """One step back: dx_t (N, D), the previous state's gradient and the weights' gradients."""
    if isinstance(layer, _L.LSTM):
        dx, dh, dc, dWx, dWh, db = lstm_step_backward(dstate[0], dstate[1], cache)
        return dx, (dh, dc), {"Wx": dWx, "Wh": dWh, "b": db}
    if isinstance(layer, _L.GRU):
        dx, dh, dWx, dWh, dbx, dbh = gru_step_backward(dstate[0], cache)
        return dx, (dh,), {"Wx": dWx, "Wh": dWh, "bx": dbx, "bh": dbh}
    dx, dh, dWx, dWh, db = rnn_step_backward(dstate[0], cache)
    return dx, (dh,), {"Wx": dWx, "Wh": dWh, "b": db}


class KerasRecurrent(KerasLayerAPI, Recurrent, register=False):
    """The mixin put before minidl's SimpleRNN, LSTM and GRU (see the module's docstring)."""

    #: Keras's names of the weights (``layer.weights[i].name``): minidl's ``Wx``, ``Wh``, ``b``
    keras_weights = {
        "kernel": ("params", "Wx"),
        "recurrent_kernel": ("params", "Wh"),
        "bias": ("params", "b"),
    }

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        name=None,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        return_state: bool = False,
        zero_output_for_mask: bool = False,
        go_backwards: bool = False,
        **kwargs,
    ):
        who = type(self).__name__  # Keras's options at the cell's values: minidl_keras.layer_options
        super().__init__(
            units,
            return_sequences,
            name=name,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            **kwargs,
        )
        self.go_backwards = bool(go_backwards)
        self.return_state = bool(return_state)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        for what, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
                raise ValueError(f"{who} {what} must be a fraction in [0, 1), got {rate!r}")
        if recurrent_dropout and isinstance(self, _L.GRU):
            raise ValueError(
                f"{who} has no recurrent_dropout: in PyTorch's GRU h_(t-1) also enters "
                "h_t = (1 - z) n + z h_(t-1), where Keras leaves it unmasked; use "
                "dropout= (on the inputs), or an LSTM"
            )
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)

    # ------------------------------------------------------------------ forward
    def _dropout_mask(self, shape, rate, xp, dtype):
        """A mask of 0 and 1 / (1 - rate), drawn from minidl's generator (None when rate is 0)."""
        if not rate:
            return None
        keep = backend.rng().random(shape) >= rate
        return xp.asarray(keep / (1.0 - rate), dtype=dtype)

    def _check_mask(self, mask, N, T, xp):
        """A mask (N, T) as a (T, N, 1) boolean array in the time-major frame, or a clear error."""
        if not hasattr(mask, "shape"):
            mask = np.asarray(mask)
        if tuple(mask.shape) != (N, T):
            raise ValueError(
                f"{self.label} mask must have shape (N, T) = ({N}, {T}), got shape {tuple(mask.shape)}"
            )
        return xp.ascontiguousarray(xp.asarray(mask, dtype=bool).T[:, :, None])

    def forward(self, x, training=False, initial_state=None, mask=None):
        """x (N, T, D) -> (N, T, H) if ``return_sequences`` else the last output (N, H);
        with ``return_state`` a list ``[output, *final states]``."""
        x = self.check_sequence(x)
        xp = backend.get_array_module(x)
        (N, T, D), H = x.shape, self.units
        keep = None if mask is None else self._check_mask(mask, N, T, xp)
        if self.go_backwards:  # read the steps last to first (outputs in that order)
            x, keep = x[:, ::-1], None if keep is None else keep[::-1]
        input_mask = self._dropout_mask((N, 1, D), self.dropout, xp, x.dtype) if training else None
        h_mask = self._dropout_mask((N, H), self.recurrent_dropout, xp, x.dtype) if training else None
        if input_mask is not None:
            x = x * input_mask
        if h_mask is None and keep is None:  # minidl's layer, its sequence kernels
            y, final = super().forward(x, training, initial_state), None
        else:
            state = self.start_state(initial_state, N, xp, x.dtype)
            x_tm = xp.ascontiguousarray(x.transpose(1, 0, 2))
            outputs, final, cache = self._forward_masked_steps(x_tm, state, h_mask, keep)
            self.cache = dict(cache, has_state=initial_state is not None, x_shape=(N, T, D))
            y = (
                xp.ascontiguousarray(outputs.transpose(1, 0, 2))
                if self.return_sequences
                else outputs[-1].copy()
            )
        self.cache.update(input_mask=input_mask, h_mask=h_mask, keep=keep)
        if not self.return_state:
            return y
        if final is None:  # no mask: the final states are the last step's
            cache = self.cache
            final = (cache["hs"][-1].copy(),) + ((cache["cells"][-1].copy(),) if "cells" in cache else ())
        return [y, *final]

    def _forward_masked_steps(self, x_tm, state, h_mask, keep):
        """The cell's steps along the sequence, h_{t-1} masked where it enters ``h Wh`` (recurrent
        dropout, ``h_mask`` (N, H) or None) and steps skipped where ``keep`` (T, N, 1) is False:

            s_t = keep_t ? cell(x_t, s_{t-1}) : s_{t-1}
            y_t = keep_t ? h_t : (0 if zero_output_for_mask else y_{t-1}),   y_{-1} = 0

        Returns the outputs (T, N, H), the final states and the cache."""
        xp = backend.get_array_module(x_tm)
        T = x_tm.shape[0]
        outputs = xp.empty((T,) + state[0].shape, dtype=x_tm.dtype)
        previous = xp.zeros_like(state[0])
        steps = []
        for t in range(T):
            entered = state if h_mask is None else (state[0] * h_mask,) + tuple(state[1:])
            new, step = _step_forward(self, x_tm[t], entered)
            if keep is None:
                state, out = new, new[0]
            else:
                state = tuple(xp.where(keep[t], n, s) for n, s in zip(new, state))
                out = xp.where(keep[t], new[0], 0 if self.zero_output_for_mask else previous)
            outputs[t] = previous = out
            steps.append(step)
        return outputs, tuple(s.copy() for s in state), {"steps": steps, "x_tm": x_tm}

    # ------------------------------------------------------------------ backward
    def backward(self, dy):
        """dy (N, T, H) or (N, H) (as the forward's output) -> dx (N, T, D); fills ``grads``.
        With ``return_state``, dy is a list ``[d output, d h_T(, d c_T)]`` (``None`` for zeros)."""
        cache = self.require_cache()
        N, T = cache["x_shape"][:2]
        dfinal = None
        if self.return_state:
            dy, *dfinal = dy
        dtype = self.params["Wx"].dtype
        xp = backend.get_array_module(self.params["Wx"])
        if dy is None:
            dy = xp.zeros((N, T, self.units) if self.return_sequences else (N, self.units), dtype=dtype)
        dy_tm = self.time_major_gradient(dy, N, T, xp)
        dfinal = [
            xp.zeros((N, self.units), dtype=dtype) if g is None else xp.asarray(g, dtype=dtype)
            for g in (dfinal or [None] * len(self.state_names))
        ]
        if cache["h_mask"] is None and cache["keep"] is None:
            if len(dfinal) == 2 and bool(xp.any(dfinal[1])):  # the kernels take no dL/dc_T
                dx_tm, state_grad = self._backward_masked_steps(dy_tm, cache, dfinal, from_kernels=True)
            else:
                dy_tm[-1] += dfinal[0]  # the last h is the last output
                dx_tm, state_grad = self.backward_sequence(dy_tm, cache, backend.kernels_for(dy_tm))
        else:
            dx_tm, state_grad = self._backward_masked_steps(dy_tm, cache, dfinal)
        self.initial_state_grad = state_grad if cache["has_state"] else None
        dx = dx_tm.transpose(1, 0, 2)
        dx = xp.ascontiguousarray(dx[:, ::-1] if self.go_backwards else dx)
        return dx if cache["input_mask"] is None else dx * cache["input_mask"]

    def _backward_masked_steps(self, dy_tm, cache, dfinal, from_kernels=False):
        """Backpropagation through the steps, the forward's rules read backwards: a skipped step
        hands the state's gradient (and a carried output's) to the step before; a recurrent
        dropout mask multiplies dL/dh_{t-1}. ``dfinal``: the final states' gradients."""
        if from_kernels:  # a forward without the steps' caches: recompute them
            x_tm, state = cache["x_tm"], (cache["hs"][0], cache["cells"][0])
            cache = dict(cache, **self._forward_masked_steps(x_tm, state, None, None)[2])
        xp, h_mask, keep = backend.get_array_module(dy_tm), cache["h_mask"], cache["keep"]
        for grad in self.grads.values():
            grad[...] = 0
        dx = xp.empty(cache["x_shape"][1:2] + (dy_tm.shape[1], self.params["Wx"].shape[0]), dtype=dy_tm.dtype)
        dstate = tuple(dfinal)
        d_carried = xp.zeros_like(dy_tm[0])  # dL/dy_t through the outputs that repeat it
        for t in reversed(range(dy_tm.shape[0])):
            d_out = dy_tm[t] + d_carried
            if keep is None:
                dnew = (dstate[0] + d_out,) + dstate[1:]
                skipped = tuple(xp.zeros_like(d) for d in dstate)
            else:
                k = keep[t]
                dnew = (xp.where(k, dstate[0] + d_out, 0),) + tuple(xp.where(k, d, 0) for d in dstate[1:])
                skipped = tuple(xp.where(k, 0, d) for d in dstate)
                if not self.zero_output_for_mask:
                    d_carried = xp.where(k, 0, d_out)
            dx[t], dprev, step_grads = _step_backward(self, dnew, cache["steps"][t])
            if h_mask is not None:
                dprev = (dprev[0] * h_mask,) + tuple(dprev[1:])
            dstate = tuple(d + s for d, s in zip(dprev, skipped))
            for name, grad in step_grads.items():
                self.grads[name] += grad
        return dx, dstate[0] if len(dstate) == 1 else dstate


def _door_class(base: type) -> type:
    cls = type(
        base.__name__,
        (KerasRecurrent, base),
        {"__doc__": base.__doc__, "__module__": __name__},
        register=False,
    )
    DOOR_CLASSES[base] = cls
    return cls


SimpleRNN, LSTM, GRU = (_door_class(base) for base in (_L.SimpleRNN, _L.LSTM, _L.GRU))
