"""The LSTM and GRU cells, forward and backward, and their loops over time: the one readable cell.

This is where the cells' equations and their derivatives are written out, once, in NumPy.
Everything else calls these through the kernel contract: the layers of
``minidl/nn/layers/recurrent.py`` (their fast path through the ``*_sequence`` loops below, their
step functions ``lstm_step_forward`` / ``gru_step_forward`` -- the two matrix products around a
cell -- where a mask or recurrent dropout enters the recurrence), and chapter 12. On the reference
tier (``backend.use("numpy")``) they run these very functions; on the others the fused twins of
``cpu/recurrent.py`` and ``gpu/recurrent.py``, which the conformance table holds to these.
"""

import numpy as np

from ..common import get_array_module, sigmoid


# ============================================================ recurrent cells
# One step of a cell is two matrix products and a handful of pointwise operations. The products
# stay in the layer (BLAS): it computes x_t Wx for ALL time steps with one product before the
# loop, so each step only adds h_{t-1} Wh. What remains is the cell below, one fused pass in
# the Numba and CUDA tiers. Outputs are arguments (written in place and returned),
# so the layer preallocates every per-step buffer once and the GPU tier can take the same
# signature. Gate blocks are H columns wide: LSTM [i | f | g | o], GRU [r | z | n].
def lstm_cell_forward(xw, hw, b, c_prev, gates, c, h):
    """Pointwise part of one LSTM step (Hochreiter & Schmidhuber, 1997).

        a = xw + hw + b       pre-activations (N, 4H), blocks [a_i | a_f | a_g | a_o]
        i = σ(a_i)            input gate:  how much of the candidate to write
        f = σ(a_f)            forget gate: how much of the old cell to keep
        g = tanh(a_g)         candidate values
        o = σ(a_o)            output gate: how much of the cell to show
        c = f * c_prev + i * g                the new cell state
        h = o * tanh(c)                       the new hidden state

    Parameters: xw (N, 4H) = x_t Wx, hw (N, 4H) = h_{t-1} Wh, b (4H,), c_prev (N, H).
    Outputs, written in place and returned: gates (N, 4H) = [i | f | g | o] (kept for the
    backward), c (N, H), h (N, H).
    """
    H = c_prev.shape[1]
    a = xw + hw + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), sigmoid(a[:, 3 * H :])
    g = np.tanh(a[:, 2 * H : 3 * H])
    gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :] = i, f, g, o
    c[...] = f * c_prev + i * g
    h[...] = o * np.tanh(c)
    return gates, c, h


def lstm_cell_backward(dh, dc_next, gates, c_prev, c, da, dc_prev):
    """Backward of ``lstm_cell_forward``: from dL/dh_t and dL/dc_t to the pre-activations.

        dc   = dc_next + dh * o * (1 - tanh(c)^2)    c reaches the loss through c_{t+1} AND h_t
        da_i = dc * g      * i (1 - i)               σ'(a) = σ(a) (1 - σ(a))
        da_f = dc * c_prev * f (1 - f)
        da_g = dc * i      * (1 - g^2)               tanh'(a) = 1 - tanh(a)^2
        da_o = dh * tanh(c) * o (1 - o)
        dc_prev = dc * f                             the "gradient highway": no squashing

    Since a = x_t Wx + h_{t-1} Wh + b, the step's other gradients are products with da:
    dx_t = da Wx^T, dh_{t-1} = da Wh^T, dWx = x_t^T da, dWh = h_{t-1}^T da, db = Σ_n da.

    Parameters: dh (N, H) = dL/dh_t (from the output and from step t+1), dc_next (N, H) =
    dL/dc_t from step t+1, gates (N, 4H), c_prev (N, H), c (N, H) from the forward.
    Outputs, written in place and returned: da (N, 4H) = dL/da (which is also dL/dxw,
    dL/dhw and the per-sample dL/db), dc_prev (N, H) = dL/dc_{t-1}. ``dc_prev`` may be
    the same array as ``dc_next``.
    """
    H = c_prev.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    tanh_c = np.tanh(c)
    dc = dc_next + dh * o * (1 - tanh_c**2)
    da[:, :H] = dc * g * i * (1 - i)
    da[:, H : 2 * H] = dc * c_prev * f * (1 - f)
    da[:, 2 * H : 3 * H] = dc * i * (1 - g**2)
    da[:, 3 * H :] = dh * tanh_c * o * (1 - o)
    dc_prev[...] = dc * f
    return da, dc_prev


def gru_cell_forward(xw, hw, bx, bh, h_prev, gates, hn, h):
    """Pointwise part of one GRU step (Cho et al., 2014, in PyTorch's formulation).

        r  = σ(xw_r + bx_r + hw_r + bh_r)      reset gate:  how much of h_prev the candidate sees
        z  = σ(xw_z + bx_z + hw_z + bh_z)      update gate: how much of h_prev to keep
        hn = hw_n + bh_n                       n = tanh(xw_n + bx_n + r * hn)   the candidate
        h  = (1 - z) * n + z * h_prev

    r gates ``h Wh_n + bh_n`` after the product, which is why the GRU has two biases: ``bh_n``
    sits inside the gating and cannot be merged with ``bx_n``.

    Parameters: xw (N, 3H) = x_t Wx, hw (N, 3H) = h_{t-1} Wh, bx (3H,), bh (3H,), h_prev (N, H).
    Outputs, written in place and returned: gates (N, 3H) = [r | z | n], hn (N, H)
    (both kept for the backward), h (N, H).
    """
    H = h_prev.shape[1]
    a = xw + bx
    u = hw + bh
    r = sigmoid(a[:, :H] + u[:, :H])
    z = sigmoid(a[:, H : 2 * H] + u[:, H : 2 * H])
    hn[...] = u[:, 2 * H :]
    n = np.tanh(a[:, 2 * H :] + r * hn)
    gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :] = r, z, n
    h[...] = (1 - z) * n + z * h_prev
    return gates, hn, h


def gru_cell_backward(dh, gates, hn, h_prev, dxw, dhw, dh_prev):
    """Backward of ``gru_cell_forward``.

        da_n = dh * (1 - z) * (1 - n^2)                  (pre-activation of n)
        da_z = dh * (h_prev - n) * z (1 - z)
        da_r = da_n * hn * r (1 - r)
        dxw  = [da_r | da_z | da_n]          dhw = [da_r | da_z | da_n * r]
        dh_prev = dh * z                     (the direct path only; the layer adds dhw Wh^T)

    h_prev reaches h twice, directly (through z h_prev) and through hw = h_prev Wh, so the whole
    dL/dh_{t-1} = dh * z + dhw Wh^T; the weights' gradients are dWx = x_t^T dxw, dWh =
    h_{t-1}^T dhw, dbx = Σ_n dxw, dbh = Σ_n dhw.

    Parameters: dh (N, H) = dL/dh_t, gates (N, 3H), hn (N, H), h_prev (N, H) from the forward.
    Outputs, written in place and returned: dxw (N, 3H) = dL/d(x_t Wx + bx), dhw (N, 3H) =
    dL/d(h_{t-1} Wh + bh), dh_prev (N, H). ``dh_prev`` may be the same array as ``dh``.
    """
    H = h_prev.shape[1]
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    da_n = dh * (1 - z) * (1 - n**2)
    da_z = dh * (h_prev - n) * z * (1 - z)
    da_r = da_n * hn * r * (1 - r)
    dxw[:, :H], dxw[:, H : 2 * H], dxw[:, 2 * H :] = da_r, da_z, da_n
    dhw[:, :H], dhw[:, H : 2 * H], dhw[:, 2 * H :] = da_r, da_z, da_n * r
    dh_prev[...] = dh * z
    return dxw, dhw, dh_prev


def swap_batch_time(x):
    """x (N, T, ...) -> (T, N, ...) as a new C-contiguous array, and back (it is its own inverse):
    the layers' sequences are batch-major, these loops' time-major."""
    return get_array_module(x).array(x.swapaxes(0, 1), order="C")  # a copy even where N or T is 1


# ============================================================ recurrent sequences
# The loop over time of an LSTM or GRU layer, forward and backward (backpropagation through time), built
# from the cells above and one matrix product h_{t-1} Wh per step. The layers compute x_t Wx for every step
# with one product before calling these, and the weight gradients with one product over all N*T rows after:
# what is left here is the part that is sequential in t. Arrays are time-major, (T, N, ...), so a step is
# one contiguous slice; every output is an argument, written in place and returned. The CUDA tier runs each
# of these as ONE kernel launch (for H <= 256), the Numba tier as this loop with its fused cells.
def lstm_forward_sequence(xw, Wh, b, gates, cells, hs):
    """The LSTM forward over all T steps.

        for t = 0 .. T-1:   gates[t], cells[t+1], hs[t+1] = lstm_cell(xw[t] + hs[t] Wh + b, cells[t])

    Parameters: xw (T, N, 4H) = x_t Wx for every t (no bias); Wh (H, 4H); b (4H,);
    cells, hs (T + 1, N, H) with [0] the initial state (c0, h0).
    Outputs, written in place and returned: gates (T, N, 4H), cells[1:], hs[1:].
    """
    for t in range(xw.shape[0]):
        lstm_cell_forward(xw[t], hs[t] @ Wh, b, cells[t], gates[t], cells[t + 1], hs[t + 1])
    return gates, cells, hs


def lstm_backward_sequence(dy, Wh_T, gates, cells, da, dh0, dc0):
    """Backpropagation through time of ``lstm_forward_sequence``.

        dh = dL/dh_t = dy[t] + da[t+1] Wh^T       (from the output and from step t+1)
        da[t], dc = lstm_cell_backward(dh, dc, ...)   going t = T-1 .. 0

    Parameters: dy (T, N, H) = dL/dh_t from the layer's output (zeros where there is none);
    Wh_T (4H, H) = Wh^T; gates (T, N, 4H), cells (T + 1, N, H) from the forward.
    Outputs, written in place and returned: da (T, N, 4H) = dL/d pre-activations (also
    dL/d(x_t Wx) and dL/d(h_{t-1} Wh)), dh0 (N, H) = dL/dh0, dc0 (N, H) = dL/dc0.
    """
    dh = dy[-1].copy()
    dc = np.zeros_like(dh)
    for t in reversed(range(dy.shape[0])):
        lstm_cell_backward(dh, dc, gates[t], cells[t], cells[t + 1], da[t], dc)
        dh = da[t] @ Wh_T + (dy[t - 1] if t > 0 else 0)
    dh0[...], dc0[...] = dh, dc
    return da, dh0, dc0


def gru_forward_sequence(xw, Wh, bx, bh, gates, hn, hs):
    """The GRU forward over all T steps.

        for t = 0 .. T-1:   gates[t], hn[t], hs[t+1] = gru_cell(xw[t], hs[t] Wh, bx, bh, hs[t])

    Parameters: xw (T, N, 3H) = x_t Wx for every t (no bias); Wh (H, 3H); bx, bh (3H,);
    hs (T + 1, N, H) with hs[0] = h0.
    Outputs, written in place and returned: gates (T, N, 3H), hn (T, N, H) =
    h_{t-1} Wh_n + bh_n, hs[1:].
    """
    for t in range(xw.shape[0]):
        gru_cell_forward(xw[t], hs[t] @ Wh, bx, bh, hs[t], gates[t], hn[t], hs[t + 1])
    return gates, hn, hs


def gru_backward_sequence(dy, Wh_T, gates, hn, hs, dxw, dhw, dh0):
    """Backpropagation through time of ``gru_forward_sequence``.

        dh = dL/dh_t = dy[t] + dhw[t+1] Wh^T + z_{t+1} * dh_{t+1}   (output, product, direct path)

    Parameters: dy (T, N, H) = dL/dh_t from the layer's output; Wh_T (3H, H) = Wh^T;
    gates (T, N, 3H), hn (T, N, H), hs (T + 1, N, H) from the forward.
    Outputs, written in place and returned: dxw, dhw (T, N, 3H) = dL/d(x_t Wx + bx),
    dL/d(h_{t-1} Wh + bh); dh0 (N, H) = dL/dh0.
    """
    dh = dy[-1].copy()
    direct = np.zeros_like(dh)
    for t in reversed(range(dy.shape[0])):
        gru_cell_backward(dh, gates[t], hn[t], hs[t], dxw[t], dhw[t], direct)
        dh = dhw[t] @ Wh_T + direct + (dy[t - 1] if t > 0 else 0)
    dh0[...] = dh
    return dxw, dhw, dh0
