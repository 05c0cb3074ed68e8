"""Recurrent layers: SimpleRNN, LSTM and GRU, with backpropagation through time by hand.

A recurrent layer reads a sequence x of shape (N, T, D) one step at a time, carrying a
hidden state h (N, H) from step to step with the SAME weights at every step:

    SimpleRNN   h_t = tanh(x_t Wx + h_{t-1} Wh + b)
    LSTM        [i f g o] = [σ σ tanh σ](x_t Wx + h_{t-1} Wh + b)
                c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)
    GRU         r = σ(x_t Wx_r + bx_r + h_{t-1} Wh_r + bh_r)       z likewise
                n = tanh(x_t Wx_n + bx_n + r * (h_{t-1} Wh_n + bh_n))
                h_t = (1 - z) * n + z * h_{t-1}                    (PyTorch's GRU)

How to read this file:

1. **One step of each cell**, forward and backward, in the CS231n style
   ``step_forward(...) -> (..., cache)`` and ``step_backward(d..., cache) -> gradients``:
   ``rnn_step_forward`` / ``rnn_step_backward`` in plain NumPy; ``lstm_step_*`` and
   ``gru_step_*`` are the two matrix products around a cell kernel (``lstm_cell_forward``,
   ...), whose equations and derivatives are written once, in NumPy, in
   ``minidl/kernels/reference/recurrent.py`` (the one readable cell, which chapter 12 reads
   too); on the other tiers the steps run that cell's fused twin.
2. **The layers.** ``forward`` computes ``x_t Wx`` for every step in ONE matrix product,
   then hands the loop over time to a kernel (``kernels.lstm_forward_sequence`` etc.);
   ``backward`` hands backpropagation through time to its twin (walk the steps backwards,
   adding at step t the gradient from the layer's output to the one arriving from step t+1
   through h_t and, in an LSTM, through c_t), then computes the weight gradients -- sums
   over the steps, since the weights are shared -- as one product over all N*T rows.
   The kernel tier changes how the loop runs, never what it computes: the reference tier
   (``backend.use("numpy")``) is the readable loop in ``minidl/kernels/reference/recurrent.py``
   over the same cells as part 1, the Numba tier fuses each step's pointwise part, the
   CUDA tier runs the whole loop in one launch. tests/minidl/nn/layers/test_recurrent_step.py checks that
   the layers and the steps of part 1 give the same numbers.

Every layer takes ``forward(x, training=False, initial_state=None)``. The initial state is
h0 (N, H) (for LSTM a pair (h0, c0)); when it is given, ``backward`` also leaves its gradient
in ``layer.initial_state_grad`` (for LSTM a pair (dh0, dc0)).
"""

from __future__ import annotations

import numpy as np

from ... import backend
from .. import initializers
from .base import Layer, column_sums
from .checks import SequenceLayout, positive_int

__all__ = ["SimpleRNN", "LSTM", "GRU", "rnn_step_forward", "rnn_step_backward", "lstm_step_forward"]
__all__ += ["lstm_step_backward", "gru_step_forward", "gru_step_backward"]


# ================================================================== one step of each cell
def rnn_step_forward(x_t, h_prev, Wx, Wh, b):
    """One SimpleRNN step: ``h = tanh(x_t Wx + h_prev Wh + b)``.

    x_t (N, D), h_prev (N, H), Wx (D, H), Wh (H, H), b (H,).
    Returns h (N, H) and the cache that ``rnn_step_backward`` needs.
    """
    h = np.tanh(x_t @ Wx + h_prev @ Wh + b)
    return h, (x_t, h_prev, Wx, Wh, h)


def rnn_step_backward(dh, cache):
    """Backward of ``rnn_step_forward``, from dh = dL/dh (N, H).

        da = dh * (1 - h^2)                   (tanh' = 1 - tanh^2, a = the pre-activation)
        dx = da Wx^T    dh_prev = da Wh^T    dWx = x_t^T da    dWh = h_prev^T da    db = Σ_n da

    Returns dx (N, D), dh_prev (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x_t, h_prev, Wx, Wh, h = cache
    da = dh * (1 - h**2)
    return da @ Wx.T, da @ Wh.T, x_t.T @ da, h_prev.T @ da, da.sum(axis=0)


def lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step: the two matrix products, then the cell ``lstm_cell_forward``.

        a = x_t Wx + h_prev Wh + b            pre-activations (N, 4H), blocks [i | f | g | o]
        c = σ(a_f) * c_prev + σ(a_i) * tanh(a_g)          h = σ(a_o) * tanh(c)

    The cell (what each gate does, and its derivatives) is written once, in NumPy, in
    ``minidl/kernels/reference/recurrent.py``; here it runs on the kernel tier in use.
    x_t (N, D), h_prev (N, H), c_prev (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,).
    Returns h (N, H), c (N, H) and the cache that ``lstm_step_backward`` needs.
    """
    xw, hw = x_t @ Wx, h_prev @ Wh
    xp, (N, H) = backend.get_array_module(xw), h_prev.shape
    gates, c, h = xp.empty_like(xw), xp.empty((N, H), xw.dtype), xp.empty((N, H), xw.dtype)
    backend.kernels_for(xw).lstm_cell_forward(xw, hw, b, c_prev, gates, c, h)
    return h, c, (x_t, h_prev, c_prev, Wx, Wh, gates, c)


def lstm_step_backward(dh, dc, cache):
    """Backward of ``lstm_step_forward``: the cell's backward ``lstm_cell_backward``, then the
    products' (a = x_t Wx + h_prev Wh + b):

        da, dc_prev = lstm_cell_backward(dh, dc, ...)       dL/da (N, 4H), dL/dc_prev (N, H)
        dx = da Wx^T    dh_prev = da Wh^T    dWx = x_t^T da    dWh = h_prev^T da    db = Σ_n da

    dh (N, H) = dL/dh, from the layer's output and from the next step;
    dc (N, H) = dL/dc from the next step (through c_next = f_next * c + ...).
    Returns dx (N, D), dh_prev (N, H), dc_prev (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    x_t, h_prev, c_prev, Wx, Wh, gates, c = cache
    xp = backend.get_array_module(gates)
    da, dc_prev = xp.empty_like(gates), xp.empty_like(c)
    backend.kernels_for(gates).lstm_cell_backward(dh, dc, gates, c_prev, c, da, dc_prev)
    return da @ Wx.T, da @ Wh.T, dc_prev, x_t.T @ da, h_prev.T @ da, da.sum(axis=0)


def gru_step_forward(x_t, h_prev, Wx, Wh, bx, bh):
    """One GRU step (PyTorch's formulation): the two matrix products, then the cell
    ``gru_cell_forward`` (written out, with its derivatives, in ``minidl/kernels/reference/recurrent.py``).

        ax = x_t Wx + bx     ah = h_prev Wh + bh      the two projections (N, 3H), blocks [r | z | n]
        r = σ(ax_r + ah_r)   z = σ(ax_z + ah_z)   n = tanh(ax_n + r * ah_n)   h = (1 - z) n + z h_prev

    x_t (N, D), h_prev (N, H), Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,).
    Returns h (N, H) and the cache that ``gru_step_backward`` needs.
    """
    xw, hw = x_t @ Wx, h_prev @ Wh
    xp, (N, H) = backend.get_array_module(xw), h_prev.shape
    gates, hn, h = xp.empty_like(xw), xp.empty((N, H), xw.dtype), xp.empty((N, H), xw.dtype)
    backend.kernels_for(xw).gru_cell_forward(xw, hw, bx, bh, h_prev, gates, hn, h)
    return h, (x_t, h_prev, Wx, Wh, gates, hn)


def gru_step_backward(dh, cache):
    """Backward of ``gru_step_forward``, from dh = dL/dh (N, H): the cell's backward
    ``gru_cell_backward``, then the products':

        dax, dah, dh_direct = gru_cell_backward(dh, ...)   dL/d(x_t Wx + bx), dL/d(h_prev Wh + bh), dh * z
        dx = dax Wx^T      dh_prev = dh_direct + dah Wh^T      (h_prev enters directly and via Wh)
        dWx = x_t^T dax    dWh = h_prev^T dah    dbx = Σ_n dax    dbh = Σ_n dah

    Returns dx (N, D), dh_prev (N, H), dWx (D, 3H), dWh (H, 3H), dbx (3H,), dbh (3H,).
    """
    x_t, h_prev, Wx, Wh, gates, hn = cache
    xp = backend.get_array_module(gates)
    dax, dah, dh_prev = xp.empty_like(gates), xp.empty_like(gates), xp.empty_like(hn)
    backend.kernels_for(gates).gru_cell_backward(dh, gates, hn, h_prev, dax, dah, dh_prev)
    dh_prev += dah @ Wh.T
    return dax @ Wx.T, dh_prev, x_t.T @ dax, h_prev.T @ dah, dax.sum(axis=0), dah.sum(axis=0)


# ================================================================== the layers
class Recurrent(SequenceLayout, Layer):
    """What SimpleRNN, LSTM and GRU share: checks, shapes, state handling, the time-major frame.

    Subclasses set ``gate_blocks`` (how many blocks of H columns ``Wx`` has) and
    ``state_names``, and implement ``forward_sequence`` / ``backward_sequence`` on
    time-major arrays.

    ``kernel_initializer`` draws ``Wx`` (Glorot uniform) and ``recurrent_initializer`` ``Wh``
    (orthogonal), by name from ``minidl.nn.initializers``. Repeated multiplication by an
    orthogonal ``Wh`` neither blows up nor shrinks the state at initialisation, which helps
    gradients survive many time steps.
    """

    gate_blocks = 1
    state_names: tuple[str, ...] = ("h0",)

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        name=None,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(name, **kwargs)
        self.units = positive_int(units, f"{type(self).__name__} units")
        self.return_sequences = bool(return_sequences)
        for initializer in (kernel_initializer, recurrent_initializer):
            initializers.get(initializer)  # unknown names fail here
        self.kernel_initializer = initializers.from_saved(kernel_initializer)
        self.recurrent_initializer = initializers.from_saved(recurrent_initializer)
        self.initial_state_grad = None

    # ------------------------------------------------------------------ building
    def build(self, input_shape, dtype=np.float32):
        self.check_rank(input_shape)
        super().build(input_shape, dtype)
        D, H = int(input_shape[-1]), self.units
        width = self.gate_blocks * H
        self.add_param("Wx", initializers.get(self.kernel_initializer)((D, width), D, width, dtype))
        self.add_param("Wh", initializers.get(self.recurrent_initializer)((H, width), H, width, dtype))
        self._add_biases(width, dtype)

    def _add_biases(self, width, dtype):
        self.add_param("b", np.zeros(width, dtype=dtype))

    def compute_output_shape(self, input_shape):
        """The output's per-sample shape."""
        T = input_shape[0]
        return (T, self.units) if self.return_sequences else (self.units,)

    # ------------------------------------------------------------------ checks
    def check_sequence(self, x):
        """x as a float (N, T, D) array of the weights' dtype, or a clear error."""
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3:
            hint = ""
            if x.ndim == 2:
                hint = (
                    " (a 2-D batch has no time axis: use x[:, :, None] for one feature per "
                    "step, or x[:, None, :] for a single step)"
                )
            raise ValueError(
                f"{self.label} expected input (N, T, features), got shape {tuple(x.shape)}{hint}"
            )
        if x.shape[1] == 0:
            raise ValueError(f"{self.label} got an empty sequence (T = 0), input shape {tuple(x.shape)}")
        if self.built and x.shape[2] != self.built_input_shape[-1]:
            D = self.built_input_shape[-1]
            raise ValueError(
                f"{self.label} expects {D} features per time step, i.e. input "
                f"(N, T, {D}); got shape {tuple(x.shape)}"
            )
        x = self.check_input(x)
        dtype = self.params["Wx"].dtype
        return x if x.dtype == dtype else x.astype(dtype)

    def _check_state(self, state, N, name, xp, dtype):
        """One initial state array (N, H), checked and cast; ``None`` gives zeros."""
        if state is None:
            return xp.zeros((N, self.units), dtype=dtype)
        if not hasattr(state, "shape"):
            state = np.asarray(state)
        if tuple(state.shape) != (N, self.units):
            raise ValueError(
                f"{self.label} initial state {name} must have shape (N, units) = "
                f"({N}, {self.units}), got shape {tuple(state.shape)}"
            )
        return xp.asarray(state, dtype=dtype)

    def start_state(self, initial_state, N, xp, dtype):
        """The initial state as a tuple of (N, H) arrays (h0,) or (h0, c0); zeros when None."""
        if initial_state is None or len(self.state_names) == 1:
            states = (initial_state,) * len(self.state_names)
        elif isinstance(initial_state, (tuple, list)) and len(initial_state) == len(self.state_names):
            states = tuple(initial_state)
        else:
            names = ", ".join(self.state_names)
            raise ValueError(
                f"{self.label} initial_state must be a pair ({names}) of (N, units) "
                f"arrays, got {type(initial_state).__name__}"
            )
        return tuple(self._check_state(s, N, name, xp, dtype) for s, name in zip(states, self.state_names))

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False, initial_state=None):
        """x (N, T, D) -> (N, T, H) if ``return_sequences`` else the last output (N, H)."""
        x = self.check_sequence(x)
        xp = backend.get_array_module(x)
        N, T, D = x.shape
        state = self.start_state(initial_state, N, xp, x.dtype)
        kernels = backend.kernels_for(x)
        x_tm = kernels.swap_batch_time(x)  # time-major: one step = one contiguous slice
        hs, cache = self.forward_sequence(x_tm, state, kernels)  # hs (T + 1, N, H)
        self.cache = dict(cache, has_state=initial_state is not None, x_shape=(N, T, D))
        if self.return_sequences:
            return kernels.swap_batch_time(hs[1:])
        return hs[-1].copy()

    def backward(self, dy):
        """dy (N, T, H) or (N, H) (as the forward's output) -> dx (N, T, D); fills ``grads``."""
        cache = self.require_cache()
        N, T = cache["x_shape"][:2]
        xp = backend.get_array_module(self.params["Wx"])
        dy_tm = self.time_major_gradient(dy, N, T, xp)
        dx_tm, state_grad = self.backward_sequence(dy_tm, cache, backend.kernels_for(dy_tm))
        self.initial_state_grad = state_grad if cache["has_state"] else None
        return backend.kernels_for(dx_tm).swap_batch_time(dx_tm)

    def time_major_gradient(self, dy, N, T, xp):
        """dy checked against the output's shape, as (T, N, H): zeros but the last step for an
        output that is the last step only."""
        dtype = self.params["Wx"].dtype
        self.check_gradient(dy, (N, T, self.units) if self.return_sequences else (N, self.units))
        if self.return_sequences:  # (T, N, H), a new array (never a view of the caller's dy)
            return backend.kernels_for(dy).swap_batch_time(xp.asarray(dy, dtype=dtype))
        dy_tm = xp.zeros((T, N, self.units), dtype=dtype)
        dy_tm[-1] = dy
        return dy_tm

    # ------------------------------------------------------------------ what each cell writes
    def forward_sequence(self, x_tm, state, kernels):
        """x_tm (T, N, D), ``state`` (one (N, H) array per ``state_names``) -> hs (T + 1, N, H)
        (hs[0] the initial h) and the cache ``backward_sequence`` takes."""
        raise NotImplementedError

    def backward_sequence(self, dy_tm, cache, kernels):
        """dy_tm (T, N, H) -> dx (T, N, D) and the initial state's gradient; fills ``grads``."""
        raise NotImplementedError

    def _weight_gradients(self, dxw, dhw, cache, biases):
        """The shared weights' gradients are sums over the steps, each one product over all N*T rows:

            dWx = Σ_t x_t^T dxw_t     dWh = Σ_t h_{t-1}^T dhw_t     db = Σ_{t,n} d(pre-activation)

        dxw, dhw (T, N, width) = dL/d(x_t Wx), dL/d(h_{t-1} Wh); ``biases`` maps each bias to its
        gradient per step. Fills ``grads``; returns dx (T, N, D) = dxw Wx^T.
        """
        T, N, D = cache["x_tm"].shape
        dxw, dhw = dxw.reshape(T * N, -1), dhw.reshape(T * N, -1)
        kernels = backend.kernels_for(dxw)
        self.grads["Wh"][...] = kernels.weight_gradient(cache["hs"][:T].reshape(T * N, self.units), dhw)
        self.grads["Wx"][...] = kernels.weight_gradient(cache["x_tm"].reshape(T * N, D), dxw)
        for name, grad in biases.items():
            self.grads[name][...] = column_sums(grad.reshape(T * N, -1))
        return (dxw @ self.params["Wx"].T).reshape(T, N, D)


class SimpleRNN(Recurrent):
    """Elman recurrent layer ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``.

    Shapes: x (N, T, D) -> (N, T, H) with ``return_sequences`` else (N, H);
    params ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,). Initial state h0 (N, H).
    One step is ``rnn_step_forward`` / ``rnn_step_backward``.
    """

    gate_blocks = 1

    def forward_sequence(self, x_tm, state, kernels):
        """hs[t+1] = tanh(x_t Wx + b + hs[t] Wh). The pointwise part is a single tanh, written in
        place with the array module, so no kernel is needed: every tier runs this loop."""
        p, xp = self.params, backend.get_array_module(x_tm)
        T, N, D = x_tm.shape
        xw = kernels.linear_forward(x_tm.reshape(T * N, D), p["Wx"], p["b"]).reshape(T, N, self.units)
        hs = xp.empty((T + 1, N, self.units), dtype=xw.dtype)
        hs[0] = state[0]
        hw = xp.empty((N, self.units), dtype=xw.dtype)
        for t in range(T):
            xp.matmul(hs[t], p["Wh"], out=hw)
            xp.tanh(xw[t] + hw, out=hs[t + 1])
        return hs, {"x_tm": x_tm, "hs": hs}

    def backward_sequence(self, dy_tm, cache, kernels):
        """Per step da_t = dh * (1 - h_t^2) and dL/dh_{t-1} = da_t Wh^T (+ the output's gradient)."""
        hs, xp = cache["hs"], backend.get_array_module(dy_tm)
        Wh_T = xp.ascontiguousarray(self.params["Wh"].T)
        da = xp.empty_like(dy_tm)  # dL/d(pre-activation) of every step
        dh = dy_tm[-1].copy()
        for t in reversed(range(dy_tm.shape[0])):
            xp.multiply(dh, 1 - hs[t + 1] ** 2, out=da[t])
            xp.matmul(da[t], Wh_T, out=dh)
            if t > 0:
                dh += dy_tm[t - 1]
        return self._weight_gradients(da, da, cache, {"b": da}), dh


class LSTM(Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997), gate order [i f g o].

        [a_i a_f a_g a_o] = x_t Wx + h_{t-1} Wh + b
        i, f, o = σ(a_i), σ(a_f), σ(a_o)     g = tanh(a_g)
        c_t = f * c_{t-1} + i * g            h_t = o * tanh(c_t)

    One step is ``lstm_step_forward`` / ``lstm_step_backward``, around the cell
    ``lstm_cell_forward`` / ``lstm_cell_backward`` (``minidl/kernels/reference/recurrent.py``:
    the derivatives are there).

    Shapes: x (N, T, D) -> (N, T, H) with ``return_sequences`` else (N, H); params
    ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,) (one bias: PyTorch's b_ih + b_hh), each
    in blocks of H columns [i | f | g | o]. The forget-gate bias starts at 1 so that the
    cell remembers by default at the start of training. Initial state: a pair (h0, c0),
    each (N, H); ``initial_state_grad`` is then (dh0, dc0).

    The cell state c is the "gradient highway": dL/dc_{t-1} = dL/dc_t * f, with no
    squashing nonlinearity in between, so gradients fade only as fast as f forgets.
    """

    gate_blocks = 4
    state_names = ("h0", "c0")

    def _add_biases(self, width, dtype):
        b = np.zeros(width, dtype=dtype)
        b[self.units : 2 * self.units] = 1.0  # forget gate open at initialisation
        self.add_param("b", b)

    def forward_sequence(self, x_tm, state, kernels):
        """x_t Wx for every step in one product, then the loop over time in one kernel call."""
        p, xp = self.params, backend.get_array_module(x_tm)
        (T, N, D), H = x_tm.shape, self.units
        xw = (x_tm.reshape(T * N, D) @ p["Wx"]).reshape(T, N, 4 * H)
        gates = xp.empty((T, N, 4 * H), dtype=xw.dtype)  # activated [i f g o], for the backward
        hs, cells = xp.empty((T + 1, N, H), dtype=xw.dtype), xp.empty((T + 1, N, H), dtype=xw.dtype)
        hs[0], cells[0] = state
        kernels.lstm_forward_sequence(xw, p["Wh"], p["b"], gates, cells, hs)
        return hs, {"x_tm": x_tm, "gates": gates, "hs": hs, "cells": cells}

    def backward_sequence(self, dy_tm, cache, kernels):
        """Backpropagation through time in one kernel call, then the weight gradients."""
        xp, (_, N, H) = backend.get_array_module(dy_tm), dy_tm.shape
        da = xp.empty_like(cache["gates"])  # dL/d(pre-activations) of every step
        dh0, dc0 = xp.empty((N, H), dtype=da.dtype), xp.empty((N, H), dtype=da.dtype)
        Wh_T = xp.ascontiguousarray(self.params["Wh"].T)
        kernels.lstm_backward_sequence(dy_tm, Wh_T, cache["gates"], cache["cells"], da, dh0, dc0)
        return self._weight_gradients(da, da, cache, {"b": da}), (dh0, dc0)


class GRU(Recurrent):
    """Gated recurrent unit (Cho et al., 2014) in PyTorch's formulation, gate order [r z n].

        r = σ(x_t Wx_r + bx_r + h_{t-1} Wh_r + bh_r)       z = σ(... same with _z ...)
        n = tanh(x_t Wx_n + bx_n + r * (h_{t-1} Wh_n + bh_n))
        h_t = (1 - z) * n + z * h_{t-1}

    One step is ``gru_step_forward`` / ``gru_step_backward``, around the cell
    ``gru_cell_forward`` / ``gru_cell_backward`` (``minidl/kernels/reference/recurrent.py``:
    the derivatives are there).
    The reset gate multiplies ``h Wh_n + bh_n`` (after the product), which is why the
    GRU has two biases: ``bh_n`` sits inside the gating and cannot be merged with ``bx_n``.

    Shapes: x (N, T, D) -> (N, T, H) with ``return_sequences`` else (N, H); params
    ``Wx`` (D, 3H), ``Wh`` (H, 3H), ``bx`` (3H,), ``bh`` (3H,), blocks [r | z | n].
    Initial state h0 (N, H).
    """

    gate_blocks = 3

    def _add_biases(self, width, dtype):
        self.add_param("bx", np.zeros(width, dtype=dtype))
        self.add_param("bh", np.zeros(width, dtype=dtype))

    def forward_sequence(self, x_tm, state, kernels):
        """x_t Wx for every step in one product, then the loop over time in one kernel call."""
        p, xp = self.params, backend.get_array_module(x_tm)
        (T, N, D), H = x_tm.shape, self.units
        xw = (x_tm.reshape(T * N, D) @ p["Wx"]).reshape(T, N, 3 * H)
        gates = xp.empty((T, N, 3 * H), dtype=xw.dtype)  # activated [r z n], for the backward
        hn = xp.empty((T, N, H), dtype=xw.dtype)  # h_{t-1} Wh_n + bh_n, for the backward
        hs = xp.empty((T + 1, N, H), dtype=xw.dtype)
        hs[0] = state[0]
        kernels.gru_forward_sequence(xw, p["Wh"], p["bx"], p["bh"], gates, hn, hs)
        return hs, {"x_tm": x_tm, "gates": gates, "hn": hn, "hs": hs}

    def backward_sequence(self, dy_tm, cache, kernels):
        """Backpropagation through time in one kernel call, then the weight gradients."""
        xp, (_, N, H) = backend.get_array_module(dy_tm), dy_tm.shape
        dxw, dhw = xp.empty_like(cache["gates"]), xp.empty_like(cache["gates"])
        dh0 = xp.empty((N, H), dtype=dxw.dtype)
        Wh_T = xp.ascontiguousarray(self.params["Wh"].T)
        kernels.gru_backward_sequence(dy_tm, Wh_T, cache["gates"], cache["hn"], cache["hs"], dxw, dhw, dh0)
        return self._weight_gradients(dxw, dhw, cache, {"bx": dxw, "bh": dhw}), dh0
