"""Recurrent layers: SimpleRNN, LSTM and GRU, with backpropagation through time by hand.

A recurrent layer reads a sequence x of shape (N, T, D) one step at a time, carrying a
hidden state h (N, H) from step to step with the SAME weights at every step:

    SimpleRNN   h_t = tanh(x_t Wx + h_{t-1} Wh + b)
    LSTM        [i f g o] = [σ σ tanh σ](x_t Wx + h_{t-1} Wh + b)
                c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)
    GRU         r = σ(x_t Wx_r + bx_r + h_{t-1} Wh_r + bh_r)       z likewise
                n = tanh(x_t Wx_n + bx_n + r * (h_{t-1} Wh_n + bh_n))
                h_t = (1 - z) * n + z * h_{t-1}                    (PyTorch's GRU)

Backpropagation through time is the chain rule on the unrolled loop: walk the steps
backwards, and at each step add the gradient arriving from the output (if the whole
sequence is returned) to the gradient arriving from step t+1 through h_t (and c_t).
Because the weights are shared, their gradients are sums over the steps; those sums
are matrix products over all N*T rows at once, done once after the loop.

How the work is laid out (the same for all three cells):

* the input projection ``x_t Wx`` of every step is ONE matrix product before the loop;
* the loop runs over a time-major (T, N, ...) copy, so each step's slice is contiguous;
  it does one small product ``h_{t-1} Wh`` and one fused pointwise kernel per step
  (``lstm_cell_forward`` etc. from ``backend.kernels_for(x)``), writing into buffers
  allocated once per call;
* the backward loop only computes dL/dh_{t-1} per step; dWx, dWh, the biases and dx
  are then one matrix product (or sum) each over all steps.

Every layer takes ``forward(x, training=False, initial_state=None)``. The initial state
is h0 (N, H) (for LSTM a pair (h0, c0)); when it is given, ``backward`` also leaves its
gradient in ``layer.initial_state_grad`` (for LSTM a pair (dh0, dc0)).
"""
from __future__ import annotations

import numpy as np

from .. import backend, initializers
from .base import Layer

__all__ = ["SimpleRNN", "LSTM", "GRU"]


def orthogonal(shape, dtype=np.float32):
    """A random matrix with orthonormal rows or columns (Keras's recurrent initializer).

    Repeated multiplication by an orthogonal ``Wh`` neither blows up nor shrinks the
    state at initialisation, which helps gradients survive many time steps.
    """
    rows, cols = shape
    a = backend.rng().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the result uniformly distributed over orthogonal matrices
    q = q if rows >= cols else q.T
    return np.ascontiguousarray(q, dtype=dtype)


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: checks, shapes, state handling, layouts.

    Subclasses set ``gate_blocks`` (how many blocks of H columns ``Wx`` has) and
    implement ``_forward_time_major`` / ``_backward_time_major``.
    """

    input_ndims = (3,)
    input_layout = "(N, T, features)"
    gate_blocks = 1
    state_names = ("h0",)

    def __init__(self, units: int, return_sequences: bool = False, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{type(self).__name__} units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.return_sequences = bool(return_sequences)
        self.initial_state_grad = None

    # ------------------------------------------------------------------ building
    def build(self, input_shape, dtype=np.float32):
        if len(input_shape) != 2:
            raise ValueError(f"{self.label} expected input (N, T, features), got per-sample shape "
                             f"{tuple(input_shape)}")
        super().build(input_shape, dtype)
        D, H = int(input_shape[-1]), self.units
        width = self.gate_blocks * H
        self.add_param("Wx", initializers.glorot_uniform((D, width), D, width, dtype))
        self.add_param("Wh", orthogonal((H, width), dtype))
        self._add_biases(width, dtype)

    def _add_biases(self, width, dtype):
        self.add_param("b", np.zeros(width, dtype=dtype))

    def compute_output_shape(self, input_shape):
        T = input_shape[0]
        return (T, self.units) if self.return_sequences else (self.units,)

    # ------------------------------------------------------------------ checks
    def _check_sequence(self, x):
        """x as a float (N, T, D) array of the weights' dtype, or a clear error."""
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3:
            hint = ""
            if x.ndim == 2:
                hint = (" (a 2-D batch has no time axis: use x[:, :, None] for one feature per "
                        "step, or x[:, None, :] for a single step)")
            raise ValueError(f"{self.label} expected input (N, T, features), got shape "
                             f"{tuple(x.shape)}{hint}")
        if x.shape[1] == 0:
            raise ValueError(f"{self.label} got an empty sequence (T = 0), input shape {tuple(x.shape)}")
        if self.built and x.shape[2] != self.input_shape[-1]:
            D = self.input_shape[-1]
            raise ValueError(f"{self.label} expects {D} features per time step, i.e. input "
                             f"(N, T, {D}); got shape {tuple(x.shape)}")
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
            raise ValueError(f"{self.label} initial state {name} must have shape (N, units) = "
                             f"({N}, {self.units}), got shape {tuple(state.shape)}")
        return xp.asarray(state, dtype=dtype)

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False, initial_state=None):
        """x (N, T, D) -> (N, T, H) if ``return_sequences`` else the last state (N, H)."""
        x = self._check_sequence(x)
        xp = backend.get_array_module(x)
        x_tm = xp.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, D): one step = one contiguous slice
        hs = self._forward_time_major(x_tm, initial_state, xp)  # (T + 1, N, H), hs[0] = h0
        if self.return_sequences:
            return xp.ascontiguousarray(hs[1:].transpose(1, 0, 2))
        return hs[-1].copy()

    def backward(self, dy):
        """dy (N, T, H) or (N, H) (as the forward's output) -> dx (N, T, D); fills ``grads``."""
        cache = self.require_cache()
        xp = backend.get_array_module(dy)
        T, N = cache["x_tm"].shape[:2]
        expected = (N, T, self.units) if self.return_sequences else (N, self.units)
        if tuple(dy.shape) != expected:
            raise ValueError(f"{self.label}.backward expected dy of shape {expected} (as its output), "
                             f"got shape {tuple(dy.shape)}")
        dtype = self.params["Wx"].dtype
        if self.return_sequences:
            dy_tm = xp.ascontiguousarray(dy.transpose(1, 0, 2), dtype=dtype)  # (T, N, H)
        else:  # only the last step receives a gradient from outside
            dy_tm = xp.zeros((T, N, self.units), dtype=dtype)
            dy_tm[-1] = dy
        dx_tm = self._backward_time_major(dy_tm, cache, xp)
        return xp.ascontiguousarray(dx_tm.transpose(1, 0, 2))

    def _input_gradients(self, dpre_tm, x_tm, xp):
        """dWx = x^T dpre over all N*T rows, and dx = dpre Wx^T, as one product each.

        dpre_tm (T, N, G) is dL/d(x_t Wx) for every step; returns dx_tm (T, N, D).
        """
        T, N, D = x_tm.shape
        dpre = dpre_tm.reshape(T * N, -1)
        xp.matmul(x_tm.reshape(T * N, D).T, dpre, out=self.grads["Wx"])
        return (dpre @ self.params["Wx"].T).reshape(T, N, D)

    def _recurrent_gradient(self, dpre_tm, hs, xp):
        """dWh = sum_t h_{t-1}^T dL/d(h_{t-1} Wh), one product over all N*T rows."""
        T, N, H = dpre_tm.shape[0], dpre_tm.shape[1], self.units
        xp.matmul(hs[:T].reshape(T * N, H).T, dpre_tm.reshape(T * N, -1), out=self.grads["Wh"])


class SimpleRNN(_Recurrent):
    """Elman recurrent layer ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``.

    Shapes: x (N, T, D) -> (N, T, H) with ``return_sequences`` else (N, H);
    params ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,). Initial state h0 (N, H).

    Backward, per step from t = T-1 down to 0:
        da_t = dh_t * (1 - h_t^2)            dh_{t-1} = da_t Wh^T (+ dy_{t-1})
    """

    gate_blocks = 1

    def _forward_time_major(self, x_tm, initial_state, xp):
        T, N, D = x_tm.shape
        H, p = self.units, self.params
        xw = (x_tm.reshape(T * N, D) @ p["Wx"] + p["b"]).reshape(T, N, H)  # all steps at once
        hs = xp.empty((T + 1, N, H), dtype=xw.dtype)
        hs[0] = self._check_state(initial_state, N, "h0", xp, xw.dtype)
        hw = xp.empty((N, H), dtype=xw.dtype)
        for t in range(T):
            xp.matmul(hs[t], p["Wh"], out=hw)
            xp.tanh(xw[t] + hw, out=hs[t + 1])
        self.cache = {"x_tm": x_tm, "hs": hs, "has_state": initial_state is not None}
        return hs

    def _backward_time_major(self, dy_tm, cache, xp):
        hs = cache["hs"]
        T, N, H = dy_tm.shape
        Wh_T = xp.ascontiguousarray(self.params["Wh"].T)
        da = xp.empty_like(dy_tm)  # dL/d(pre-activation) of every step
        dh = dy_tm[-1].copy()
        for t in reversed(range(T)):
            xp.multiply(dh, 1 - hs[t + 1] ** 2, out=da[t])
            xp.matmul(da[t], Wh_T, out=dh)
            if t > 0 and self.return_sequences:
                dh += dy_tm[t - 1]
        self.initial_state_grad = dh if cache["has_state"] else None
        self._recurrent_gradient(da, hs, xp)
        self.grads["b"][...] = da.reshape(T * N, H).sum(axis=0)
        return self._input_gradients(da, cache["x_tm"], xp)


class LSTM(_Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997), gate order [i f g o].

        [a_i a_f a_g a_o] = x_t Wx + h_{t-1} Wh + b
        i, f, o = σ(a_i), σ(a_f), σ(a_o)     g = tanh(a_g)
        c_t = f * c_{t-1} + i * g            h_t = o * tanh(c_t)

    Shapes: x (N, T, D) -> (N, T, H) with ``return_sequences`` else (N, H); params
    ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,) (one bias: PyTorch's b_ih + b_hh), each
    in blocks of H columns [i | f | g | o]. The forget-gate bias starts at 1 so that the
    cell remembers by default at the start of training. Initial state: a pair (h0, c0),
    each (N, H); ``initial_state_grad`` is then (dh0, dc0).

    The cell state c is the "gradient highway": dL/dc_{t-1} = dL/dc_t * f, with no
    squashing nonlinearity in between, so gradients fade only as fast as f forgets.
    """

    gate_blocks = 4

    def _add_biases(self, width, dtype):
        b = np.zeros(width, dtype=dtype)
        b[self.units:2 * self.units] = 1.0  # forget gate open at initialisation
        self.add_param("b", b)

    def _unpack_state(self, initial_state, N, xp, dtype):
        if initial_state is None:
            return None, None
        if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
            raise ValueError(f"{self.label} initial_state must be a pair (h0, c0) of (N, units) "
                             f"arrays, got {type(initial_state).__name__}")
        return (self._check_state(initial_state[0], N, "h0", xp, dtype),
                self._check_state(initial_state[1], N, "c0", xp, dtype))

    def _forward_time_major(self, x_tm, initial_state, xp):
        T, N, D = x_tm.shape
        H, p, k = self.units, self.params, backend.kernels_for(x_tm)
        dtype = p["Wx"].dtype
        h0, c0 = self._unpack_state(initial_state, N, xp, dtype)
        xw = (x_tm.reshape(T * N, D) @ p["Wx"]).reshape(T, N, 4 * H)  # every step's x_t Wx at once
        gates = xp.empty((T, N, 4 * H), dtype=dtype)  # activated [i f g o], for the backward
        hs = xp.zeros((T + 1, N, H), dtype=dtype)  # hs[t + 1] = h_t; hs[0] = h0
        cs = xp.zeros((T + 1, N, H), dtype=dtype)
        if h0 is not None:
            hs[0], cs[0] = h0, c0
        hw = xp.zeros((N, 4 * H), dtype=dtype)  # h_{t-1} Wh; stays 0 at t = 0 without a state
        for t in range(T):
            if t > 0 or h0 is not None:
                xp.matmul(hs[t], p["Wh"], out=hw)
            k.lstm_cell_forward(xw[t], hw, p["b"], cs[t], gates[t], cs[t + 1], hs[t + 1])
        self.cache = {"x_tm": x_tm, "gates": gates, "hs": hs, "cs": cs, "has_state": h0 is not None}
        return hs

    def _backward_time_major(self, dy_tm, cache, xp):
        gates, hs, cs, has_state = cache["gates"], cache["hs"], cache["cs"], cache["has_state"]
        T, N, H = dy_tm.shape
        k = backend.kernels_for(dy_tm)
        Wh_T = xp.ascontiguousarray(self.params["Wh"].T)
        da = xp.empty_like(gates)  # dL/d(pre-activations) of every step
        dh = dy_tm[-1].copy()  # dL/dh_t, from the output and from step t+1
        dc = xp.zeros_like(dh)  # dL/dc_t from step t+1
        dc_prev = xp.empty_like(dh)  # dL/dc_{t-1}; the two buffers swap roles every step
        for t in reversed(range(T)):
            k.lstm_cell_backward(dh, dc, gates[t], cs[t], cs[t + 1], da[t], dc_prev)
            dc, dc_prev = dc_prev, dc
            if t > 0 or has_state:
                xp.matmul(da[t], Wh_T, out=dh)
            if t > 0 and self.return_sequences:
                dh += dy_tm[t - 1]
        self.initial_state_grad = (dh, dc) if has_state else None
        self._recurrent_gradient(da, hs, xp)
        self.grads["b"][...] = da.reshape(T * N, 4 * H).sum(axis=0)
        return self._input_gradients(da, cache["x_tm"], xp)


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al., 2014) in PyTorch's formulation, gate order [r z n].

        r = σ(x_t Wx_r + bx_r + h_{t-1} Wh_r + bh_r)       z = σ(... same with _z ...)
        n = tanh(x_t Wx_n + bx_n + r * (h_{t-1} Wh_n + bh_n))
        h_t = (1 - z) * n + z * h_{t-1}

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

    def _forward_time_major(self, x_tm, initial_state, xp):
        T, N, D = x_tm.shape
        H, p, k = self.units, self.params, backend.kernels_for(x_tm)
        dtype = p["Wx"].dtype
        xw = (x_tm.reshape(T * N, D) @ p["Wx"]).reshape(T, N, 3 * H)  # every step's x_t Wx at once
        gates = xp.empty((T, N, 3 * H), dtype=dtype)  # activated [r z n], for the backward
        hn = xp.empty((T, N, H), dtype=dtype)  # h_{t-1} Wh_n + bh_n, for the backward
        hs = xp.empty((T + 1, N, H), dtype=dtype)
        hs[0] = self._check_state(initial_state, N, "h0", xp, dtype)
        has_state = initial_state is not None
        hw = xp.zeros((N, 3 * H), dtype=dtype)  # h_{t-1} Wh; stays 0 at t = 0 without a state
        for t in range(T):
            if t > 0 or has_state:
                xp.matmul(hs[t], p["Wh"], out=hw)
            k.gru_cell_forward(xw[t], hw, p["bx"], p["bh"], hs[t], gates[t], hn[t], hs[t + 1])
        self.cache = {"x_tm": x_tm, "gates": gates, "hn": hn, "hs": hs, "has_state": has_state}
        return hs

    def _backward_time_major(self, dy_tm, cache, xp):
        gates, hn, hs, has_state = cache["gates"], cache["hn"], cache["hs"], cache["has_state"]
        T, N, H = dy_tm.shape
        k = backend.kernels_for(dy_tm)
        Wh_T = xp.ascontiguousarray(self.params["Wh"].T)
        dxw = xp.empty_like(gates)  # dL/d(x_t Wx + bx) of every step
        dhw = xp.empty_like(gates)  # dL/d(h_{t-1} Wh + bh) of every step
        dh = dy_tm[-1].copy()  # dL/dh_t
        dh_direct = xp.empty_like(dh)  # dL/dh_{t-1} through the z * h_{t-1} term
        for t in reversed(range(T)):
            k.gru_cell_backward(dh, gates[t], hn[t], hs[t], dxw[t], dhw[t], dh_direct)
            if t > 0 or has_state:
                xp.matmul(dhw[t], Wh_T, out=dh)
                dh += dh_direct
            if t > 0 and self.return_sequences:
                dh += dy_tm[t - 1]
        self.initial_state_grad = dh if has_state else None
        self._recurrent_gradient(dhw, hs, xp)
        self.grads["bx"][...] = dxw.reshape(T * N, 3 * H).sum(axis=0)
        self.grads["bh"][...] = dhw.reshape(T * N, 3 * H).sum(axis=0)
        return self._input_gradients(dxw, cache["x_tm"], xp)
