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
   ``minidl/kernels/reference/recurrent.py`` (the one readable cell, which chapter 11 reads
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
   CUDA tier runs the whole loop in one launch. tests/test_recurrent_step.py checks that
   the layers and the steps of part 1 give the same numbers.

Every layer takes ``forward(x, training=False, initial_state=None, mask=None)``. The initial
state is h0 (N, H) (for LSTM a pair (h0, c0)); when it is given, ``backward`` also leaves its
gradient in ``layer.initial_state_grad`` (for LSTM a pair (dh0, dc0)). ``return_state=True``
makes the output a list ``[output, h_T]`` (LSTM ``[output, h_T, c_T]``) and ``backward`` take
one gradient per entry (``None`` for an entry the loss does not read).

Masks, as Keras: ``mask`` (N, T) of booleans marks the real steps (False: padding). A masked
step changes nothing: every state is carried over, ``s_t = s_{t-1}``, and its output repeats
the previous step's (zeros before the first real step), or is zeros with
``zero_output_for_mask=True`` (what ``Bidirectional`` asks for). So the last output is the
output of the last real step. ``go_backwards=True`` reads the steps (and the mask) last to
first and returns the outputs in that order, as Keras does. The mask sits inside the
recurrence, so a masked sequence runs the steps of part 1 (as recurrent dropout does);
masked steps get no gradient.

Dropout, as Keras (Gal & Ghahramani's variational dropout): ``dropout=p`` zeroes the same
input features of a sample at every step (a mask (N, 1, D) on x, kept values scaled by
1 / (1 - p)); ``recurrent_dropout=p`` (SimpleRNN, LSTM) likewise masks h_{t-1} where it
enters ``h_{t-1} Wh``, with one mask (N, H) for the whole sequence. Both act only with
``training=True``. A recurrent mask sits inside the recurrence, where no sequence kernel
reaches, so while it is on the layer runs the steps of part 1 along the sequence.
"""

from __future__ import annotations

import numpy as np

from ... import backend
from .. import initializers
from .base import Layer, positive_int

__all__ = [
    "SimpleRNN",
    "LSTM",
    "GRU",
    "rnn_step_forward",
    "rnn_step_backward",
    "lstm_step_forward",
    "lstm_step_backward",
    "gru_step_forward",
    "gru_step_backward",
]


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
def orthogonal(shape, dtype=np.float32):
    """A random matrix with orthonormal rows or columns (Keras's recurrent initializer).

    Repeated multiplication by an orthogonal ``Wh`` neither blows up nor shrinks the
    state at initialisation, which helps gradients survive many time steps.
    (``initializers.orthogonal``, under the name the recurrent layers have always used.)
    """
    return initializers.orthogonal(shape, dtype=dtype)


# Keras's recurrent-layer arguments that minidl's layers always behave as: accepted at these
# values (so a Keras program that spells them out runs), refused otherwise.
_KERAS_FIXED = {
    "activation": "tanh",
    "recurrent_activation": "sigmoid",
    "use_bias": True,
    "unit_forget_bias": True,
    "bias_initializer": "zeros",
    "stateful": False,
    "unroll": False,
    "use_cudnn": "auto",
    "reset_after": True,
    "time_major": False,
    "seed": None,
}


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: checks, shapes, state handling, the time-major frame.

    Subclasses set ``gate_blocks`` (how many blocks of H columns ``Wx`` has) and
    ``state_names``, and implement ``_forward_sequence`` / ``_backward_sequence`` on
    time-major arrays.

    ``kernel_initializer`` draws ``Wx`` (Glorot uniform) and ``recurrent_initializer`` ``Wh``
    (orthogonal), by name from ``minidl.nn.initializers``, as Keras's recurrent layers do.
    """

    input_ndims = (3,)
    input_layout = "(N, T, features)"
    gate_blocks = 1
    state_names: tuple[str, ...] = ("h0",)

    #: whether ``recurrent_dropout`` can mask h_{t-1} (where h_{t-1} enters only ``h Wh``)
    masks_recurrent_state = True

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
        who = type(self).__name__
        for key in [k for k in kwargs if k in _KERAS_FIXED]:
            value = kwargs.pop(key)
            if value != _KERAS_FIXED[key] and not (key == "use_cudnn" and value is False):
                raise NotImplementedError(
                    f"{who}({key}={value!r}) is not in minidl: its {who} always has "
                    f"{key}={_KERAS_FIXED[key]!r} (the cell equations of minidl.nn.layers.recurrent); "
                    "write another cell with a keras.layers.Layer subclass, or use the default"
                )
        super().__init__(name, **kwargs)
        self.go_backwards = bool(go_backwards)
        self.return_state = bool(return_state)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.units = positive_int(units, f"{who} units")
        self.return_sequences = bool(return_sequences)
        for what, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
                raise ValueError(f"{who} {what} must be a fraction in [0, 1), got {rate!r}")
        if recurrent_dropout and not self.masks_recurrent_state:
            raise ValueError(
                f"{who} has no recurrent_dropout: in PyTorch's GRU h_(t-1) also enters "
                "h_t = (1 - z) n + z h_(t-1), where Keras leaves it unmasked; use "
                "dropout= (on the inputs), or an LSTM"
            )
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.kernel_initializer = initializers.from_saved(kernel_initializer)
        self.recurrent_initializer = initializers.from_saved(recurrent_initializer)
        (
            initializers.get(kernel_initializer),
            initializers.get(recurrent_initializer),
        )  # unknown names fail here
        self.initial_state_grad = None

    # ------------------------------------------------------------------ building
    def build(self, input_shape, dtype=np.float32):
        if len(input_shape) != 2:
            raise ValueError(
                f"{self.label} expected input (N, T, features), got per-sample shape {tuple(input_shape)}"
            )
        super().build(input_shape, dtype)
        D, H = int(input_shape[-1]), self.units
        width = self.gate_blocks * H
        self.add_param("Wx", initializers.get(self.kernel_initializer)((D, width), D, width, dtype))
        self.add_param("Wh", initializers.get(self.recurrent_initializer)((H, width), H, width, dtype))
        self._add_biases(width, dtype)

    def _add_biases(self, width, dtype):
        self.add_param("b", np.zeros(width, dtype=dtype))

    def compute_output_shape(self, input_shape):
        """The output's shape (with ``return_state`` the first entry's; each state is (units,))."""
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

    def _initial_state(self, initial_state, N, xp, dtype):
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
        x = self._check_sequence(x)
        xp = backend.get_array_module(x)
        (N, T, D), H = x.shape, self.units
        state = self._initial_state(initial_state, N, xp, x.dtype)
        keep = None if mask is None else self._check_mask(mask, N, T, xp)
        if self.go_backwards:  # Keras's: read the steps last to first (outputs in that order)
            x, keep = x[:, ::-1], None if keep is None else keep[::-1]
        input_mask = self._dropout_mask((N, 1, D), self.dropout, xp, x.dtype) if training else None
        h_mask = self._dropout_mask((N, H), self.recurrent_dropout, xp, x.dtype) if training else None
        if input_mask is not None:
            x = x * input_mask
        x_tm = xp.ascontiguousarray(x.transpose(1, 0, 2))  # time-major: one step = one contiguous slice
        if h_mask is None and keep is None:
            hs, cache = self._forward_sequence(x_tm, state, backend.kernels_for(x))  # hs (T + 1, N, H)
            outputs, final = hs[1:], None
        else:
            outputs, final, cache = self._forward_masked_steps(x_tm, state, h_mask, keep)
        self.cache = dict(
            cache,
            has_state=initial_state is not None,
            x_shape=(N, T, D),
            input_mask=input_mask,
            h_mask=h_mask,
            keep=keep,
        )
        if self.return_sequences:
            y = xp.ascontiguousarray(outputs.transpose(1, 0, 2))
        else:
            y = outputs[-1].copy()
        if not self.return_state:
            return y
        if final is None:  # no mask: the final states are the last step's
            final = (hs[-1].copy(),) + ((cache["cells"][-1].copy(),) if "cells" in cache else ())
        return [y, *final]

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
        expected = (N, T, self.units) if self.return_sequences else (N, self.units)
        if dy is None:
            dy = xp.zeros(expected, dtype=dtype)
        if tuple(dy.shape) != expected:
            raise ValueError(
                f"{self.label}.backward expected dy of shape {expected} (as its output), "
                f"got shape {tuple(dy.shape)}"
            )
        if self.return_sequences:
            dy_tm = xp.array(dy.transpose(1, 0, 2), dtype=dtype)  # (T, N, H), a copy: added to below
        else:  # only the last step receives a gradient from outside
            dy_tm = xp.zeros((T, N, self.units), dtype=dtype)
            dy_tm[-1] = dy
        dfinal = [
            xp.zeros((N, self.units), dtype=dtype) if g is None else xp.asarray(g, dtype=dtype)
            for g in (dfinal or [None] * len(self.state_names))
        ]
        if cache["h_mask"] is None and cache["keep"] is None:
            if len(dfinal) == 2 and bool(xp.any(dfinal[1])):  # the kernels take no dL/dc_T
                dx_tm, state_grad = self._backward_masked_steps(dy_tm, cache, dfinal, from_kernels=True)
            else:
                dy_tm[-1] += dfinal[0]  # the last h is the last output
                dx_tm, state_grad = self._backward_sequence(dy_tm, cache, backend.kernels_for(dy_tm))
        else:
            dx_tm, state_grad = self._backward_masked_steps(dy_tm, cache, dfinal)
        self.initial_state_grad = state_grad if cache["has_state"] else None
        dx = dx_tm.transpose(1, 0, 2)
        dx = xp.ascontiguousarray(dx[:, ::-1] if self.go_backwards else dx)
        return dx if cache["input_mask"] is None else dx * cache["input_mask"]

    # ------------------------------------------------------------------ what each cell writes
    def _forward_sequence(self, x_tm, state, kernels):
        """x_tm (T, N, D), ``state`` (one (N, H) array per ``state_names``) -> hs (T + 1, N, H)
        (hs[0] the initial h) and the cache ``_backward_sequence`` takes."""
        raise NotImplementedError

    def _backward_sequence(self, dy_tm, cache, kernels):
        """dy_tm (T, N, H) -> dx (T, N, D) and the initial state's gradient; fills ``grads``."""
        raise NotImplementedError

    def _step_forward(self, x_t, state):
        """One step, x_t (N, D): the new state (a tuple as ``state``) and the step's cache."""
        raise NotImplementedError

    def _step_backward(self, dstate, step):
        """One step back: dx_t (N, D), the previous state's gradient and the weights' gradients."""
        raise NotImplementedError

    # ------------------------------------------------------------------ recurrent dropout, masks
    def _forward_masked_steps(self, x_tm, state, h_mask, keep):
        """Part 1's steps along the sequence, h_{t-1} masked where it enters ``h Wh`` (recurrent
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
            new, step = self._step_forward(x_tm[t], entered)
            if keep is None:
                state, out = new, new[0]
            else:
                state = tuple(xp.where(keep[t], n, s) for n, s in zip(new, state))
                out = xp.where(keep[t], new[0], 0 if self.zero_output_for_mask else previous)
            outputs[t] = previous = out
            steps.append(step)
        return outputs, tuple(s.copy() for s in state), {"steps": steps}

    def _backward_masked_steps(self, dy_tm, cache, dfinal, from_kernels=False):
        """Backpropagation through part 1's steps, the forward's rules read backwards: a skipped
        step hands the state's gradient (and a carried output's) to the step before; a recurrent
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
            dx[t], dprev, step_grads = self._step_backward(dnew, cache["steps"][t])
            if h_mask is not None:
                dprev = (dprev[0] * h_mask,) + tuple(dprev[1:])
            dstate = tuple(d + s for d, s in zip(dprev, skipped))
            for name, grad in step_grads.items():
                self.grads[name] += grad
        return dx, dstate[0] if len(dstate) == 1 else dstate

    def _weight_gradients(self, dxw, dhw, cache, biases):
        """The shared weights' gradients are sums over the steps, each one product over all N*T rows:

            dWx = Σ_t x_t^T dxw_t     dWh = Σ_t h_{t-1}^T dhw_t     db = Σ_{t,n} d(pre-activation)

        dxw, dhw (T, N, width) = dL/d(x_t Wx), dL/d(h_{t-1} Wh); ``biases`` maps each bias to its
        gradient per step. Fills ``grads``; returns dx (T, N, D) = dxw Wx^T.
        """
        T, N, D = cache["x_tm"].shape
        xp = backend.get_array_module(dxw)
        dxw, dhw = dxw.reshape(T * N, -1), dhw.reshape(T * N, -1)
        xp.matmul(cache["hs"][:T].reshape(T * N, self.units).T, dhw, out=self.grads["Wh"])
        xp.matmul(cache["x_tm"].reshape(T * N, D).T, dxw, out=self.grads["Wx"])
        for name, grad in biases.items():
            self.grads[name][...] = grad.reshape(T * N, -1).sum(axis=0)
        return (dxw @ self.params["Wx"].T).reshape(T, N, D)


class SimpleRNN(_Recurrent):
    """Elman recurrent layer ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``.

    Shapes: x (N, T, D) -> (N, T, H) with ``return_sequences`` else (N, H);
    params ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,). Initial state h0 (N, H).
    One step is ``rnn_step_forward`` / ``rnn_step_backward``.
    """

    gate_blocks = 1

    def _forward_sequence(self, x_tm, state, kernels):
        """hs[t+1] = tanh(x_t Wx + b + hs[t] Wh). The pointwise part is a single tanh, written in
        place with the array module, so no kernel is needed: every tier runs this loop."""
        p, xp = self.params, backend.get_array_module(x_tm)
        T, N, D = x_tm.shape
        xw = (x_tm.reshape(T * N, D) @ p["Wx"] + p["b"]).reshape(T, N, self.units)  # all steps at once
        hs = xp.empty((T + 1, N, self.units), dtype=xw.dtype)
        hs[0] = state[0]
        hw = xp.empty((N, self.units), dtype=xw.dtype)
        for t in range(T):
            xp.matmul(hs[t], p["Wh"], out=hw)
            xp.tanh(xw[t] + hw, out=hs[t + 1])
        return hs, {"x_tm": x_tm, "hs": hs}

    def _backward_sequence(self, dy_tm, cache, kernels):
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

    def _step_forward(self, x_t, state):
        p = self.params
        h, step = rnn_step_forward(x_t, state[0], p["Wx"], p["Wh"], p["b"])
        return (h,), step

    def _step_backward(self, dstate, step):
        dx, dh, dWx, dWh, db = rnn_step_backward(dstate[0], step)
        return dx, (dh,), {"Wx": dWx, "Wh": dWh, "b": db}


class LSTM(_Recurrent):
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

    def _forward_sequence(self, x_tm, state, kernels):
        """x_t Wx for every step in one product, then the loop over time in one kernel call."""
        p, xp = self.params, backend.get_array_module(x_tm)
        (T, N, D), H = x_tm.shape, self.units
        xw = (x_tm.reshape(T * N, D) @ p["Wx"]).reshape(T, N, 4 * H)
        gates = xp.empty((T, N, 4 * H), dtype=xw.dtype)  # activated [i f g o], for the backward
        hs, cells = xp.empty((T + 1, N, H), dtype=xw.dtype), xp.empty((T + 1, N, H), dtype=xw.dtype)
        hs[0], cells[0] = state
        kernels.lstm_forward_sequence(xw, p["Wh"], p["b"], gates, cells, hs)
        return hs, {"x_tm": x_tm, "gates": gates, "hs": hs, "cells": cells}

    def _backward_sequence(self, dy_tm, cache, kernels):
        """Backpropagation through time in one kernel call, then the weight gradients."""
        xp, (_, N, H) = backend.get_array_module(dy_tm), dy_tm.shape
        da = xp.empty_like(cache["gates"])  # dL/d(pre-activations) of every step
        dh0, dc0 = xp.empty((N, H), dtype=da.dtype), xp.empty((N, H), dtype=da.dtype)
        Wh_T = xp.ascontiguousarray(self.params["Wh"].T)
        kernels.lstm_backward_sequence(dy_tm, Wh_T, cache["gates"], cache["cells"], da, dh0, dc0)
        return self._weight_gradients(da, da, cache, {"b": da}), (dh0, dc0)

    def _step_forward(self, x_t, state):
        p = self.params
        h, c, step = lstm_step_forward(x_t, state[0], state[1], p["Wx"], p["Wh"], p["b"])
        return (h, c), step

    def _step_backward(self, dstate, step):
        dx, dh, dc, dWx, dWh, db = lstm_step_backward(dstate[0], dstate[1], step)
        return dx, (dh, dc), {"Wx": dWx, "Wh": dWh, "b": db}


class GRU(_Recurrent):
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
    masks_recurrent_state = False

    def _add_biases(self, width, dtype):
        self.add_param("bx", np.zeros(width, dtype=dtype))
        self.add_param("bh", np.zeros(width, dtype=dtype))

    def _forward_sequence(self, x_tm, state, kernels):
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

    def _backward_sequence(self, dy_tm, cache, kernels):
        """Backpropagation through time in one kernel call, then the weight gradients."""
        xp, (_, N, H) = backend.get_array_module(dy_tm), dy_tm.shape
        dxw, dhw = xp.empty_like(cache["gates"]), xp.empty_like(cache["gates"])
        dh0 = xp.empty((N, H), dtype=dxw.dtype)
        Wh_T = xp.ascontiguousarray(self.params["Wh"].T)
        kernels.gru_backward_sequence(dy_tm, Wh_T, cache["gates"], cache["hn"], cache["hs"], dxw, dhw, dh0)
        return self._weight_gradients(dxw, dhw, cache, {"bx": dxw, "bh": dhw}), dh0

    def _step_forward(self, x_t, state):
        p = self.params
        h, step = gru_step_forward(x_t, state[0], p["Wx"], p["Wh"], p["bx"], p["bh"])
        return (h,), step

    def _step_backward(self, dstate, step):
        dx, dh, dWx, dWh, dbx, dbh = gru_step_backward(dstate[0], step)
        return dx, (dh,), {"Wx": dWx, "Wh": dWh, "bx": dbx, "bh": dbh}
