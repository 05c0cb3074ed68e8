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

1. **One step of each cell**, forward and backward, in plain NumPy
   (``rnn_step_forward`` / ``rnn_step_backward``, ``lstm_step_*``, ``gru_step_*``): every
   equation above and its derivative, written once, in the CS231n style
   ``step_forward(...) -> (..., cache)`` and ``step_backward(d..., cache) -> gradients``.
2. **The layers.** ``forward`` runs the step along the sequence; ``backward`` is
   backpropagation through time: walk the steps backwards, and at step t add the
   gradient arriving from the layer's output (if the whole sequence is returned) to the
   gradient arriving from step t+1 through h_t (and, in an LSTM, through c_t). The weights
   are shared, so their gradients are sums over the steps.
3. **The fast path** (end of the file). With the Numba tier (``backend.use("numba")``,
   the default) or CuPy arrays, the layers run the same math reorganised for speed:
   ``x_t Wx`` for every step in ONE matrix product before the loop, one fused pointwise
   kernel per step (``lstm_cell_forward`` etc. in ``minidl/kernels/``), buffers allocated
   once, and the weight gradients as one product over all N*T rows after the loop.
   ``backend.use("numpy")`` runs the plain steps of part 1; tests/test_recurrent_step.py
   checks that both give the same numbers.

Every layer takes ``forward(x, training=False, initial_state=None)``. The initial state
is h0 (N, H) (for LSTM a pair (h0, c0)); when it is given, ``backward`` also leaves its
gradient in ``layer.initial_state_grad`` (for LSTM a pair (dh0, dc0)).

Dropout, as Keras (Gal & Ghahramani's variational dropout): ``dropout=p`` zeroes the same
input features of a sample at every step (a mask (N, 1, D) on x, kept values scaled by
1 / (1 - p)); ``recurrent_dropout=p`` (SimpleRNN, LSTM) likewise masks h_{t-1} where it
enters ``h_{t-1} Wh``, with one mask (N, H) for the whole sequence. Both act only with
``training=True``; a recurrent mask runs the plain steps of part 1 (it sits inside the loop).
"""
from __future__ import annotations

import numpy as np

from .. import backend, initializers
from .activations import sigmoid
from .base import Layer, positive_int

__all__ = ["SimpleRNN", "LSTM", "GRU", "rnn_step_forward", "rnn_step_backward",
           "lstm_step_forward", "lstm_step_backward", "gru_step_forward", "gru_step_backward"]


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
    da = dh * (1 - h ** 2)
    return da @ Wx.T, da @ Wh.T, x_t.T @ da, h_prev.T @ da, da.sum(axis=0)


def lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step. Columns of Wx, Wh, b come in four blocks of H: [i | f | g | o].

        a = x_t Wx + h_prev Wh + b            pre-activations (N, 4H)
        i = σ(a_i)      input gate:  how much of the candidate to write
        f = σ(a_f)      forget gate: how much of the old cell to keep
        g = tanh(a_g)   candidate values
        o = σ(a_o)      output gate: how much of the cell to show
        c = f * c_prev + i * g                the new cell state
        h = o * tanh(c)                       the new hidden state

    x_t (N, D), h_prev (N, H), c_prev (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,).
    Returns h (N, H), c (N, H) and the cache that ``lstm_step_backward`` needs.
    """
    H = h_prev.shape[1]
    a = x_t @ Wx + h_prev @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    gates = (i, f, g, o)
    return h, c, (x_t, h_prev, c_prev, Wx, Wh, gates, tanh_c)


def lstm_step_backward(dh, dc, cache):
    """Backward of ``lstm_step_forward``.

    dh (N, H) = dL/dh, from the layer's output and from the next step;
    dc (N, H) = dL/dc from the next step (through c_next = f_next * c + ...).

        d_cell = dc + dh * o * (1 - tanh(c)^2)     c reaches the loss through c_next AND h
        da_i = d_cell * g      * i (1 - i)          σ'(a) = σ(a) (1 - σ(a))
        da_f = d_cell * c_prev * f (1 - f)
        da_g = d_cell * i      * (1 - g^2)          tanh'(a) = 1 - tanh(a)^2
        da_o = dh * tanh(c)    * o (1 - o)
        dc_prev = d_cell * f                        the "gradient highway": no squashing
        dx = da Wx^T    dh_prev = da Wh^T    dWx = x_t^T da    dWh = h_prev^T da    db = Σ_n da

    Returns dx (N, D), dh_prev (N, H), dc_prev (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    x_t, h_prev, c_prev, Wx, Wh, (i, f, g, o), tanh_c = cache
    d_cell = dc + dh * o * (1 - tanh_c ** 2)
    da = np.concatenate([d_cell * g * i * (1 - i),
                         d_cell * c_prev * f * (1 - f),
                         d_cell * i * (1 - g ** 2),
                         dh * tanh_c * o * (1 - o)], axis=1)
    return da @ Wx.T, da @ Wh.T, d_cell * f, x_t.T @ da, h_prev.T @ da, da.sum(axis=0)


def gru_step_forward(x_t, h_prev, Wx, Wh, bx, bh):
    """One GRU step (PyTorch's formulation). Columns come in three blocks of H: [r | z | n].

        ax = x_t Wx + bx     ah = h_prev Wh + bh      the two projections (N, 3H)
        r = σ(ax_r + ah_r)          reset gate:  how much of h_prev the candidate sees
        z = σ(ax_z + ah_z)          update gate: how much of h_prev to keep
        n = tanh(ax_n + r * ah_n)   candidate (r gates h_prev Wh_n + bh_n, after the product)
        h = (1 - z) * n + z * h_prev

    x_t (N, D), h_prev (N, H), Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,).
    Returns h (N, H) and the cache that ``gru_step_backward`` needs.
    """
    H = h_prev.shape[1]
    ax = x_t @ Wx + bx
    ah = h_prev @ Wh + bh
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    h = (1 - z) * n + z * h_prev
    gates = (r, z, n)
    return h, (x_t, h_prev, Wx, Wh, gates, ah[:, 2 * H:])


def gru_step_backward(dh, cache):
    """Backward of ``gru_step_forward``, from dh = dL/dh (N, H).

        da_n = dh * (1 - z) * (1 - n^2)             pre-activation of n
        da_z = dh * (h_prev - n) * z (1 - z)
        da_r = da_n * ah_n * r (1 - r)
        dax = [da_r | da_z | da_n]                  dL/d(x_t Wx + bx)
        dah = [da_r | da_z | da_n * r]              dL/d(h_prev Wh + bh)
        dx = dax Wx^T      dh_prev = dh * z + dah Wh^T      (h_prev enters directly and via Wh)
        dWx = x_t^T dax    dWh = h_prev^T dah    dbx = Σ_n dax    dbh = Σ_n dah

    Returns dx (N, D), dh_prev (N, H), dWx (D, 3H), dWh (H, 3H), dbx (3H,), dbh (3H,).
    """
    x_t, h_prev, Wx, Wh, (r, z, n), ah_n = cache
    da_n = dh * (1 - z) * (1 - n ** 2)
    da_z = dh * (h_prev - n) * z * (1 - z)
    da_r = da_n * ah_n * r * (1 - r)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)
    dah = np.concatenate([da_r, da_z, da_n * r], axis=1)
    dh_prev = dh * z + dah @ Wh.T
    return dax @ Wx.T, dh_prev, x_t.T @ dax, h_prev.T @ dah, dax.sum(axis=0), dah.sum(axis=0)


# ================================================================== the layers
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


def _runs_fused_kernels(x) -> bool:
    """True on the fast tiers (Numba, or CuPy arrays); ``backend.use("numpy")`` runs the plain steps."""
    return backend.get_array_module(x) is not np or backend.current() != "numpy"


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: checks, shapes, state handling, the two paths.

    Subclasses set ``gate_blocks`` (how many blocks of H columns ``Wx`` has) and
    ``state_names``, and implement ``_forward_steps`` / ``_backward_steps`` (the plain
    loops over the step functions) and ``_forward_fused`` / ``_backward_fused``.
    """

    input_ndims = (3,)
    input_layout = "(N, T, features)"
    gate_blocks = 1
    state_names = ("h0",)

    #: whether ``recurrent_dropout`` can mask h_{t-1} (where h_{t-1} enters only ``h Wh``)
    masks_recurrent_state = True

    def __init__(self, units: int, return_sequences: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        who = type(self).__name__
        self.units = positive_int(units, f"{who} units")
        self.return_sequences = bool(return_sequences)
        for what, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
                raise ValueError(f"{who} {what} must be a fraction in [0, 1), got {rate!r}")
        if recurrent_dropout and not self.masks_recurrent_state:
            raise ValueError(f"{who} has no recurrent_dropout: in PyTorch's GRU h_(t-1) also enters "
                             "h_t = (1 - z) n + z h_(t-1), where Keras leaves it unmasked; use "
                             "dropout= (on the inputs), or an LSTM")
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.initial_state_grad = None
        self._h_mask = None

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

    def _initial_state(self, initial_state, N, xp, dtype):
        """The initial state as a tuple of (N, H) arrays (h0,) or (h0, c0); zeros when None."""
        if initial_state is None or len(self.state_names) == 1:
            states = (initial_state,) * len(self.state_names)
        elif isinstance(initial_state, (tuple, list)) and len(initial_state) == len(self.state_names):
            states = tuple(initial_state)
        else:
            names = ", ".join(self.state_names)
            raise ValueError(f"{self.label} initial_state must be a pair ({names}) of (N, units) "
                             f"arrays, got {type(initial_state).__name__}")
        return tuple(self._check_state(s, N, name, xp, dtype) for s, name in zip(states, self.state_names))

    # ------------------------------------------------------------------ computing
    def _dropout_mask(self, shape, rate, xp, dtype):
        """A mask of 0 and 1 / (1 - rate), drawn from minidl's generator (None when rate is 0)."""
        if not rate:
            return None
        keep = backend.rng().random(shape) >= rate
        return xp.asarray(keep / (1.0 - rate), dtype=dtype)

    def forward(self, x, training=False, initial_state=None):
        """x (N, T, D) -> (N, T, H) if ``return_sequences`` else the last state (N, H)."""
        x = self._check_sequence(x)
        xp = backend.get_array_module(x)
        state = self._initial_state(initial_state, x.shape[0], xp, x.dtype)
        has_state = initial_state is not None
        N, _, D = x.shape
        input_mask = self._dropout_mask((N, 1, D), self.dropout, xp, x.dtype) if training else None
        self._h_mask = (self._dropout_mask((N, self.units), self.recurrent_dropout, xp, x.dtype)
                        if training else None)
        if self._h_mask is not None and xp is not np:
            raise ValueError(f"{self.label}: recurrent_dropout runs the plain NumPy steps, on the CPU "
                             "only; on the GPU use dropout= (on the inputs) instead")
        if input_mask is not None:
            x = x * input_mask
        y = self._forward_sequence(x, state, has_state, xp)
        self.cache["input_mask"] = input_mask
        return y

    def _forward_sequence(self, x, state, has_state, xp):
        if _runs_fused_kernels(x) and self._h_mask is None:  # the fast path, time-major: hs (T + 1, N, H), hs[0] = h0
            x_tm = xp.ascontiguousarray(x.transpose(1, 0, 2))  # one step = one contiguous slice
            hs, cache = self._forward_fused(x_tm, state, has_state, backend.kernels_for(x))
            self.cache = dict(cache, fused=True, has_state=has_state, x_shape=x.shape)
            if self.return_sequences:
                return xp.ascontiguousarray(hs[1:].transpose(1, 0, 2))
            return hs[-1].copy()
        hs, steps = self._forward_steps(x, state)  # the plain steps: hs (N, T, H)
        self.cache = {"fused": False, "has_state": has_state, "steps": steps, "x_shape": x.shape,
                      "h_mask": self._h_mask}
        return hs if self.return_sequences else hs[:, -1].copy()

    def backward(self, dy):
        """dy (N, T, H) or (N, H) (as the forward's output) -> dx (N, T, D); fills ``grads``."""
        cache = self.require_cache()
        xp = backend.get_array_module(dy)
        N, T = cache["x_shape"][:2]
        expected = (N, T, self.units) if self.return_sequences else (N, self.units)
        if tuple(dy.shape) != expected:
            raise ValueError(f"{self.label}.backward expected dy of shape {expected} (as its output), "
                             f"got shape {tuple(dy.shape)}")
        dtype = self.params["Wx"].dtype
        if cache["fused"]:
            if self.return_sequences:
                dy_tm = xp.ascontiguousarray(dy.transpose(1, 0, 2), dtype=dtype)  # (T, N, H)
            else:  # only the last step receives a gradient from outside
                dy_tm = xp.zeros((T, N, self.units), dtype=dtype)
                dy_tm[-1] = dy
            dx_tm, state_grad = self._backward_fused(dy_tm, cache, backend.kernels_for(dy))
            dx = xp.ascontiguousarray(dx_tm.transpose(1, 0, 2))
        else:
            if self.return_sequences:
                dy_seq = xp.asarray(dy, dtype=dtype)
            else:  # only the last step receives a gradient from outside
                dy_seq = xp.zeros((N, T, self.units), dtype=dtype)
                dy_seq[:, -1] = dy
            self._h_mask = cache["h_mask"]
            dx, state_grad = self._backward_steps(dy_seq, cache["steps"])
        self.initial_state_grad = state_grad if cache["has_state"] else None
        if cache["input_mask"] is not None:
            dx = dx * cache["input_mask"]
        return dx

    def _masked(self, h):
        """h_{t-1} as it enters ``h Wh``: times the recurrent dropout mask when there is one
        (and, on the way back, dL/d(masked h) times the mask is dL/dh)."""
        return h if self._h_mask is None else h * self._h_mask


class SimpleRNN(_Recurrent):
    """Elman recurrent layer ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``.

    Shapes: x (N, T, D) -> (N, T, H) with ``return_sequences`` else (N, H);
    params ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,). Initial state h0 (N, H).
    One step is ``rnn_step_forward`` / ``rnn_step_backward``.
    """

    gate_blocks = 1

    def _forward_steps(self, x, state):
        """Run ``rnn_step_forward`` along the sequence: hs (N, T, H) and every step's cache."""
        (h,), p = state, self.params
        hs = backend.get_array_module(x).empty((x.shape[0], x.shape[1], self.units), dtype=x.dtype)
        steps = []
        for t in range(x.shape[1]):
            h, cache = rnn_step_forward(x[:, t], self._masked(h), p["Wx"], p["Wh"], p["b"])
            hs[:, t] = h
            steps.append(cache)
        return hs, steps

    def _backward_steps(self, dy, steps):
        """Backpropagation through time: dy (N, T, H) from the output -> dx (N, T, D), dh0."""
        N, T, H = dy.shape
        dx = np.empty((N, T, self.params["Wx"].shape[0]), dtype=dy.dtype)
        dWx, dWh, db = (np.zeros_like(self.params[k]) for k in ("Wx", "Wh", "b"))
        dh = np.zeros((N, H), dtype=dy.dtype)  # dL/dh_t arriving from step t+1
        for t in reversed(range(T)):
            dh = dh + dy[:, t]  # ... plus the gradient from the layer's output at step t
            dx[:, t], dh, dWx_t, dWh_t, db_t = rnn_step_backward(dh, steps[t])
            dh = self._masked(dh)
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        self.grads["Wx"][...], self.grads["Wh"][...], self.grads["b"][...] = dWx, dWh, db
        return dx, dh

    def _forward_fused(self, x_tm, state, has_state, kernels):
        return _rnn_forward_fused(x_tm, state[0], self.params)

    def _backward_fused(self, dy_tm, cache, kernels):
        return _rnn_backward_fused(dy_tm, cache, self.params, self.grads, self.return_sequences)


class LSTM(_Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997), gate order [i f g o].

        [a_i a_f a_g a_o] = x_t Wx + h_{t-1} Wh + b
        i, f, o = σ(a_i), σ(a_f), σ(a_o)     g = tanh(a_g)
        c_t = f * c_{t-1} + i * g            h_t = o * tanh(c_t)

    One step is ``lstm_step_forward`` / ``lstm_step_backward`` (the derivatives are there).

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
        b[self.units:2 * self.units] = 1.0  # forget gate open at initialisation
        self.add_param("b", b)

    def _forward_steps(self, x, state):
        """Run ``lstm_step_forward`` along the sequence: hs (N, T, H) and every step's cache."""
        (h, cell), p = state, self.params
        hs = backend.get_array_module(x).empty((x.shape[0], x.shape[1], self.units), dtype=x.dtype)
        steps = []
        for t in range(x.shape[1]):
            h, cell, cache = lstm_step_forward(x[:, t], self._masked(h), cell, p["Wx"], p["Wh"], p["b"])
            hs[:, t] = h
            steps.append(cache)
        return hs, steps

    def _backward_steps(self, dy, steps):
        """Backpropagation through time: dy (N, T, H) from the output -> dx (N, T, D), (dh0, dc0)."""
        N, T, H = dy.shape
        dx = np.empty((N, T, self.params["Wx"].shape[0]), dtype=dy.dtype)
        dWx, dWh, db = (np.zeros_like(self.params[k]) for k in ("Wx", "Wh", "b"))
        dh = np.zeros((N, H), dtype=dy.dtype)  # dL/dh_t arriving from step t+1
        d_cell = np.zeros((N, H), dtype=dy.dtype)  # dL/dc_t arriving from step t+1
        for t in reversed(range(T)):
            dh = dh + dy[:, t]  # ... plus the gradient from the layer's output at step t
            dx[:, t], dh, d_cell, dWx_t, dWh_t, db_t = lstm_step_backward(dh, d_cell, steps[t])
            dh = self._masked(dh)
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        self.grads["Wx"][...], self.grads["Wh"][...], self.grads["b"][...] = dWx, dWh, db
        return dx, (dh, d_cell)

    def _forward_fused(self, x_tm, state, has_state, kernels):
        return _lstm_forward_fused(x_tm, state, has_state, self.params, kernels)

    def _backward_fused(self, dy_tm, cache, kernels):
        return _lstm_backward_fused(dy_tm, cache, self.params, self.grads, self.return_sequences, kernels)


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al., 2014) in PyTorch's formulation, gate order [r z n].

        r = σ(x_t Wx_r + bx_r + h_{t-1} Wh_r + bh_r)       z = σ(... same with _z ...)
        n = tanh(x_t Wx_n + bx_n + r * (h_{t-1} Wh_n + bh_n))
        h_t = (1 - z) * n + z * h_{t-1}

    One step is ``gru_step_forward`` / ``gru_step_backward`` (the derivatives are there).
    The reset gate multiplies ``h Wh_n + bh_n`` (after the product), which is why the
    GRU has two biases: ``bh_n`` sits inside the gating and cannot be merged with ``bx_n``.

    Shapes: x (N, T, D) -> (N, T, H) with ``return_sequences`` else (N, H); params
    ``Wx`` (D, 3H), ``Wh`` (H, 3H), ``bx`` (3H,), ``bh`` (3H,), blocks [r | z | n].
    Initial state h0 (N, H).
    """

    gate_blocks = 3
    masks_recurrent_state = False

    def _add_biases(self, width, dtype):
        self.add_param("bx", np.zeros(width, dtype=dtype))
        self.add_param("bh", np.zeros(width, dtype=dtype))

    def _forward_steps(self, x, state):
        """Run ``gru_step_forward`` along the sequence: hs (N, T, H) and every step's cache."""
        (h,), p = state, self.params
        hs = np.empty((x.shape[0], x.shape[1], self.units), dtype=x.dtype)
        steps = []
        for t in range(x.shape[1]):
            h, cache = gru_step_forward(x[:, t], h, p["Wx"], p["Wh"], p["bx"], p["bh"])
            hs[:, t] = h
            steps.append(cache)
        return hs, steps

    def _backward_steps(self, dy, steps):
        """Backpropagation through time: dy (N, T, H) from the output -> dx (N, T, D), dh0."""
        N, T, H = dy.shape
        dx = np.empty((N, T, self.params["Wx"].shape[0]), dtype=dy.dtype)
        dWx, dWh, dbx, dbh = (np.zeros_like(self.params[k]) for k in ("Wx", "Wh", "bx", "bh"))
        dh = np.zeros((N, H), dtype=dy.dtype)  # dL/dh_t arriving from step t+1
        for t in reversed(range(T)):
            dh = dh + dy[:, t]  # ... plus the gradient from the layer's output at step t
            dx[:, t], dh, dWx_t, dWh_t, dbx_t, dbh_t = gru_step_backward(dh, steps[t])
            dWx += dWx_t
            dWh += dWh_t
            dbx += dbx_t
            dbh += dbh_t
        for key, grad in (("Wx", dWx), ("Wh", dWh), ("bx", dbx), ("bh", dbh)):
            self.grads[key][...] = grad
        return dx, dh

    def _forward_fused(self, x_tm, state, has_state, kernels):
        return _gru_forward_fused(x_tm, state[0], has_state, self.params, kernels)

    def _backward_fused(self, dy_tm, cache, kernels):
        return _gru_backward_fused(dy_tm, cache, self.params, self.grads, self.return_sequences, kernels)


# ================================================================== the fast path
# The same math as the plain steps, reorganised for the Numba and CUDA tiers:
# * arrays are time-major (T, N, ...), so each step's slice is contiguous;
# * x_t Wx of every step is ONE matrix product before the loop;
# * each step does one small product h_{t-1} Wh (skipped at t = 0 when there is no initial
#   state: h0 = 0) and one fused pointwise kernel (``kernels.lstm_cell_forward`` etc.),
#   writing into buffers allocated once per call;
# * the backward loop computes only dL/dh_{t-1} (and dL/dc_{t-1}) per step; dWx, dWh, the
#   biases and dx are then one matrix product (or sum) each over all N*T rows;
# * the LSTM's dL/dc lives in two buffers that swap roles every step (no allocation).
# * on the CUDA tier, for H <= 256, the LSTM's and GRU's loop over time is ONE kernel launch
#   each way (``kernels.lstm_forward_sequence`` etc.: a block carries a few samples through
#   every step); the per-step loop stays the readable version it is tested against
#   (tests/test_gpu_device.py), and runs everywhere else.
# Each function returns the hidden states hs (T + 1, N, H), hs[0] = h0, and a cache; the
# backward returns dx (T, N, D) and the initial-state gradient.


def _sequence_kernels(kernels, hidden) -> bool:
    """Whether ``kernels`` runs the whole loop over time in one launch (the CUDA tier, small H)."""
    fits = getattr(kernels, "sequence_kernels_fit", None)
    return fits is not None and fits(hidden)


def _input_gradients_fused(dpre_tm, x_tm, Wx, dWx):
    """dWx = x^T dpre over all N*T rows (into ``dWx``), and dx = dpre Wx^T, one product each."""
    T, N, D = x_tm.shape
    dpre = dpre_tm.reshape(T * N, -1)
    xp = backend.get_array_module(dpre)
    xp.matmul(x_tm.reshape(T * N, D).T, dpre, out=dWx)
    return (dpre @ Wx.T).reshape(T, N, D)


def _recurrent_gradient_fused(dpre_tm, hs, dWh):
    """dWh = sum_t h_{t-1}^T dL/d(h_{t-1} Wh), one product over all N*T rows (into ``dWh``)."""
    T, N, H = dpre_tm.shape[0], dpre_tm.shape[1], hs.shape[2]
    backend.get_array_module(hs).matmul(hs[:T].reshape(T * N, H).T, dpre_tm.reshape(T * N, -1), out=dWh)


def _rnn_forward_fused(x_tm, h0, p):
    """SimpleRNN has no fused kernel: its pointwise part is a single tanh, written in place."""
    xp = backend.get_array_module(x_tm)
    T, N, D = x_tm.shape
    H = h0.shape[1]
    xw = (x_tm.reshape(T * N, D) @ p["Wx"] + p["b"]).reshape(T, N, H)  # all steps at once
    hs = xp.empty((T + 1, N, H), dtype=xw.dtype)
    hs[0] = h0
    hw = xp.empty((N, H), dtype=xw.dtype)
    for t in range(T):
        xp.matmul(hs[t], p["Wh"], out=hw)
        xp.tanh(xw[t] + hw, out=hs[t + 1])
    return hs, {"x_tm": x_tm, "hs": hs}


def _rnn_backward_fused(dy_tm, cache, p, grads, return_sequences):
    """Per step only dL/da_t and dL/dh_{t-1}; the weight gradients after the loop."""
    hs = cache["hs"]
    T, N, H = dy_tm.shape
    xp = backend.get_array_module(dy_tm)
    Wh_T = xp.ascontiguousarray(p["Wh"].T)
    da = xp.empty_like(dy_tm)  # dL/d(pre-activation) of every step
    dh = dy_tm[-1].copy()
    for t in reversed(range(T)):
        xp.multiply(dh, 1 - hs[t + 1] ** 2, out=da[t])
        xp.matmul(da[t], Wh_T, out=dh)
        if t > 0 and return_sequences:
            dh += dy_tm[t - 1]
    _recurrent_gradient_fused(da, hs, grads["Wh"])
    grads["b"][...] = da.reshape(T * N, H).sum(axis=0)
    return _input_gradients_fused(da, cache["x_tm"], p["Wx"], grads["Wx"]), dh


def _lstm_forward_fused(x_tm, state, has_state, p, kernels):
    """Per step one product h_{t-1} Wh and one ``lstm_cell_forward`` into preallocated slices."""
    xp = backend.get_array_module(x_tm)
    T, N, D = x_tm.shape
    H = state[0].shape[1]
    dtype = p["Wx"].dtype
    xw = (x_tm.reshape(T * N, D) @ p["Wx"]).reshape(T, N, 4 * H)  # every step's x_t Wx at once
    gates = xp.empty((T, N, 4 * H), dtype=dtype)  # activated [i f g o], for the backward
    hs = xp.empty((T + 1, N, H), dtype=dtype)  # hs[t + 1] = h_t; hs[0] = h0
    cells = xp.empty((T + 1, N, H), dtype=dtype)
    hs[0], cells[0] = state
    if _sequence_kernels(kernels, H):
        kernels.lstm_forward_sequence(xw, p["Wh"], p["b"], gates, cells, hs)
        return hs, {"x_tm": x_tm, "gates": gates, "hs": hs, "cells": cells}
    hw = xp.zeros((N, 4 * H), dtype=dtype)  # h_{t-1} Wh; stays 0 at t = 0 without a state
    for t in range(T):
        if t > 0 or has_state:
            xp.matmul(hs[t], p["Wh"], out=hw)
        kernels.lstm_cell_forward(xw[t], hw, p["b"], cells[t], gates[t], cells[t + 1], hs[t + 1])
    return hs, {"x_tm": x_tm, "gates": gates, "hs": hs, "cells": cells}


def _lstm_backward_fused(dy_tm, cache, p, grads, return_sequences, kernels):
    """Per step one ``lstm_cell_backward`` and one product da_t Wh^T; dL/dc in two swapped buffers."""
    gates, hs, cells, has_state = cache["gates"], cache["hs"], cache["cells"], cache["has_state"]
    T, N, H = dy_tm.shape
    xp = backend.get_array_module(dy_tm)
    Wh_T = xp.ascontiguousarray(p["Wh"].T)
    da = xp.empty_like(gates)  # dL/d(pre-activations) of every step
    if _sequence_kernels(kernels, H):
        dh, d_cell = xp.empty((N, H), dtype=da.dtype), xp.empty((N, H), dtype=da.dtype)
        kernels.lstm_backward_sequence(dy_tm, Wh_T, gates, cells, da, dh, d_cell)
        return _lstm_weight_gradients(da, dy_tm, cache, p, grads), (dh, d_cell)
    dh = dy_tm[-1].copy()  # dL/dh_t, from the output and from step t+1
    d_cell = xp.zeros_like(dh)  # dL/dc_t from step t+1
    d_cell_prev = xp.empty_like(dh)  # dL/dc_{t-1}; the two buffers swap roles every step
    for t in reversed(range(T)):
        kernels.lstm_cell_backward(dh, d_cell, gates[t], cells[t], cells[t + 1], da[t], d_cell_prev)
        d_cell, d_cell_prev = d_cell_prev, d_cell
        if t > 0 or has_state:
            xp.matmul(da[t], Wh_T, out=dh)
        if t > 0 and return_sequences:
            dh += dy_tm[t - 1]
    return _lstm_weight_gradients(da, dy_tm, cache, p, grads), (dh, d_cell)


def _lstm_weight_gradients(da, dy_tm, cache, p, grads):
    """dWh, db, dWx from dL/d pre-activations of every step (one product or sum each); returns dx."""
    T, N, H = dy_tm.shape
    _recurrent_gradient_fused(da, cache["hs"], grads["Wh"])
    grads["b"][...] = da.reshape(T * N, 4 * H).sum(axis=0)
    return _input_gradients_fused(da, cache["x_tm"], p["Wx"], grads["Wx"])


def _gru_forward_fused(x_tm, h0, has_state, p, kernels):
    """Per step one product h_{t-1} Wh and one ``gru_cell_forward``; h Wh_n + bh_n kept for the backward."""
    xp = backend.get_array_module(x_tm)
    T, N, D = x_tm.shape
    H = h0.shape[1]
    dtype = p["Wx"].dtype
    xw = (x_tm.reshape(T * N, D) @ p["Wx"]).reshape(T, N, 3 * H)  # every step's x_t Wx at once
    gates = xp.empty((T, N, 3 * H), dtype=dtype)  # activated [r z n], for the backward
    hn = xp.empty((T, N, H), dtype=dtype)  # h_{t-1} Wh_n + bh_n, for the backward
    hs = xp.empty((T + 1, N, H), dtype=dtype)
    hs[0] = h0
    if _sequence_kernels(kernels, H):
        kernels.gru_forward_sequence(xw, p["Wh"], p["bx"], p["bh"], gates, hn, hs)
        return hs, {"x_tm": x_tm, "gates": gates, "hn": hn, "hs": hs}
    hw = xp.zeros((N, 3 * H), dtype=dtype)  # h_{t-1} Wh; stays 0 at t = 0 without a state
    for t in range(T):
        if t > 0 or has_state:
            xp.matmul(hs[t], p["Wh"], out=hw)
        kernels.gru_cell_forward(xw[t], hw, p["bx"], p["bh"], hs[t], gates[t], hn[t], hs[t + 1])
    return hs, {"x_tm": x_tm, "gates": gates, "hn": hn, "hs": hs}


def _gru_backward_fused(dy_tm, cache, p, grads, return_sequences, kernels):
    """Per step one ``gru_cell_backward`` and one product dhw_t Wh^T plus the direct z * dh path."""
    gates, hn, hs, has_state = cache["gates"], cache["hn"], cache["hs"], cache["has_state"]
    T, N, H = dy_tm.shape
    xp = backend.get_array_module(dy_tm)
    Wh_T = xp.ascontiguousarray(p["Wh"].T)
    dxw = xp.empty_like(gates)  # dL/d(x_t Wx + bx) of every step
    dhw = xp.empty_like(gates)  # dL/d(h_{t-1} Wh + bh) of every step
    if _sequence_kernels(kernels, H):
        dh = xp.empty((N, H), dtype=dxw.dtype)
        kernels.gru_backward_sequence(dy_tm, Wh_T, gates, hn, hs, dxw, dhw, dh)
        return _gru_weight_gradients(dxw, dhw, cache, p, grads), dh
    dh = dy_tm[-1].copy()  # dL/dh_t
    dh_direct = xp.empty_like(dh)  # dL/dh_{t-1} through the z * h_{t-1} term
    for t in reversed(range(T)):
        kernels.gru_cell_backward(dh, gates[t], hn[t], hs[t], dxw[t], dhw[t], dh_direct)
        if t > 0 or has_state:
            xp.matmul(dhw[t], Wh_T, out=dh)
            dh += dh_direct
        if t > 0 and return_sequences:
            dh += dy_tm[t - 1]
    return _gru_weight_gradients(dxw, dhw, cache, p, grads), dh


def _gru_weight_gradients(dxw, dhw, cache, p, grads):
    """dWh, dbx, dbh, dWx from the per-step gradients (one product or sum each); returns dx."""
    T, N, width = dxw.shape
    _recurrent_gradient_fused(dhw, cache["hs"], grads["Wh"])
    grads["bx"][...] = dxw.reshape(T * N, width).sum(axis=0)
    grads["bh"][...] = dhw.reshape(T * N, width).sum(axis=0)
    return _input_gradients_fused(dxw, cache["x_tm"], p["Wx"], grads["Wx"])
