"""Numba twins of ``reference/recurrent.py``: the LSTM and GRU cells and their loops over time.

A cell is one fused pass over each row's gates, serial (per step the work is too small for
threads); float32 gates use a vectorisable rational tanh. The LSTM's loop over time runs in one
kernel, blocks of the batch's rows on threads of their own; the GRU's stays in Python, one BLAS
product and one fused cell per step (``common.gru_steps``, shared with the GPU tier).
"""

import math

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .. import blas_pool, common
from ..reference import recurrent as reference
from .loops import pick, threaded

# ============================================================ recurrent cells
# Serial, one row of the batch at a time: per step there are only N*H units (~10 µs of work), and a parallel
# region per step made 16 threads of a busy host 2.5-5x slower than one (100 tiny regions a call, each waiting
# for its slowest thread). Each row goes through a small helper on 1-D rows, which LLVM vectorises behind a
# runtime check that outputs and inputs do not overlap (an output passed as its own input, where the docstring
# allows it, is still right but takes the scalar path, several times slower; the layers never do it). Numba
# has no vector math library here, so float32 tanh/sigmoid use a rational approximation (accurate to a few
# float32 ulp) made of multiply-adds and one division, which vectorises; float64 uses math.tanh/exp.
# ``gate_tanh``/``gate_sigmoid`` pick one of the two by type at compile time (overload).
_TANH_CLAMP = np.float32(7.90531110763549805)  # beyond this tanh(x) rounds to ±1 in float32
# p's coefficients at x, x^3, ..., x^13 and q's at 1, x^2, ..., x^6 (Eigen's), in float32
_P1, _P3, _P5 = (np.float32(v) for v in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05))
_P7, _P9, _P11 = (np.float32(v) for v in (5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13))
_P13, _Q0, _Q2 = (np.float32(v) for v in (-2.76076847742355e-16, 4.89352518554385e-03, 2.26843463243900e-03))
_Q4, _Q6 = (np.float32(v) for v in (1.18534705686654e-04, 1.19825839466702e-06))
_HALF32 = np.float32(0.5)
_GATE_MATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})  # fastmath without no-NaN/no-inf


@njit(inline="always", cache=True)
def _tanh_f32(x):
    # odd rational approximation p(x)/q(x) (Eigen's float tanh); NaN passes through the clamp
    x = _TANH_CLAMP if x > _TANH_CLAMP else x
    x = -_TANH_CLAMP if x < -_TANH_CLAMP else x
    x2 = x * x
    p = x2 * _P13 + _P11
    p = x2 * p + _P9
    p = x2 * p + _P7
    p = x2 * p + _P5
    p = x2 * p + _P3
    p = x2 * p + _P1
    q = x2 * _Q6 + _Q4
    q = x2 * q + _Q2
    q = x2 * q + _Q0
    return x * p / q


@njit(inline="always", cache=True)
def _sigmoid_f32(x):
    return _HALF32 + _HALF32 * _tanh_f32(_HALF32 * x)  # σ(x) = (1 + tanh(x/2)) / 2


def gate_tanh(x):
    """tanh for the cell kernels (plain Python under NUMBA_DISABLE_JIT=1)."""
    return math.tanh(x)


def gate_sigmoid(x):
    """σ for the cell kernels (plain Python under NUMBA_DISABLE_JIT=1)."""
    return 1.0 / (1.0 + math.exp(-x))


def _is_float32(x):
    return isinstance(x, types.Float) and x.bitwidth == 32


@overload(gate_tanh)
def _gate_tanh_typed(x):
    if _is_float32(x):
        return lambda x: _tanh_f32(x)
    return lambda x: math.tanh(x)


@overload(gate_sigmoid)
def _gate_sigmoid_typed(x):
    if _is_float32(x):
        return lambda x: _sigmoid_f32(x)
    return lambda x: 1.0 / (1.0 + math.exp(-x))


@njit(fastmath=set(_GATE_MATH), error_model="numpy", cache=True)
def _lstm_forward_row(xw, hw, b, c_prev, gates, c, h):
    H = c_prev.shape[0]
    for j in range(H):
        i = gate_sigmoid(xw[j] + hw[j] + b[j])
        f = gate_sigmoid(xw[H + j] + hw[H + j] + b[H + j])
        g = gate_tanh(xw[2 * H + j] + hw[2 * H + j] + b[2 * H + j])
        o = gate_sigmoid(xw[3 * H + j] + hw[3 * H + j] + b[3 * H + j])
        c_new = f * c_prev[j] + i * g
        c[j] = c_new
        h[j] = o * gate_tanh(c_new)
        gates[j], gates[H + j], gates[2 * H + j], gates[3 * H + j] = i, f, g, o


@njit(cache=True)
def lstm_cell_forward(xw, hw, b, c_prev, gates, c, h):
    """Numba twin of ``reference.lstm_cell_forward``: one fused pass over each row's gates."""
    for n in range(c_prev.shape[0]):
        _lstm_forward_row(xw[n], hw[n], b, c_prev[n], gates[n], c[n], h[n])
    return gates, c, h


@njit(fastmath=set(_GATE_MATH), error_model="numpy", cache=True)
def _lstm_backward_row(dh, dc_next, gates, c_prev, c, da, dc_prev):
    H = c_prev.shape[0]
    for j in range(H):
        i, f, g, o = gates[j], gates[H + j], gates[2 * H + j], gates[3 * H + j]
        tanh_c = gate_tanh(c[j])
        dc = dc_next[j] + dh[j] * o * (1 - tanh_c * tanh_c)
        da[j] = dc * g * i * (1 - i)
        da[H + j] = dc * c_prev[j] * f * (1 - f)
        da[2 * H + j] = dc * i * (1 - g * g)
        da[3 * H + j] = dh[j] * tanh_c * o * (1 - o)
        dc_prev[j] = dc * f


@njit(cache=True)
def lstm_cell_backward(dh, dc_next, gates, c_prev, c, da, dc_prev):
    """Numba twin of ``reference.lstm_cell_backward`` (tanh(c) recomputed, not stored)."""
    for n in range(c_prev.shape[0]):
        _lstm_backward_row(dh[n], dc_next[n], gates[n], c_prev[n], c[n], da[n], dc_prev[n])
    return da, dc_prev


@njit(fastmath=set(_GATE_MATH), error_model="numpy", cache=True)
def _gru_forward_row(xw, hw, bx, bh, h_prev, gates, hn, h):
    H = h_prev.shape[0]
    for j in range(H):
        r = gate_sigmoid(xw[j] + bx[j] + hw[j] + bh[j])
        z = gate_sigmoid(xw[H + j] + bx[H + j] + hw[H + j] + bh[H + j])
        hn_j = hw[2 * H + j] + bh[2 * H + j]
        n = gate_tanh(xw[2 * H + j] + bx[2 * H + j] + r * hn_j)
        hn[j] = hn_j
        h[j] = (1 - z) * n + z * h_prev[j]
        gates[j], gates[H + j], gates[2 * H + j] = r, z, n


@njit(cache=True)
def gru_cell_forward(xw, hw, bx, bh, h_prev, gates, hn, h):
    """Numba twin of ``reference.gru_cell_forward``: one fused pass over each row's gates."""
    for n in range(h_prev.shape[0]):
        _gru_forward_row(xw[n], hw[n], bx, bh, h_prev[n], gates[n], hn[n], h[n])
    return gates, hn, h


@njit(fastmath=set(_GATE_MATH), error_model="numpy", cache=True)
def _gru_backward_row(dh, gates, hn, h_prev, dxw, dhw, dh_prev):
    H = h_prev.shape[0]
    for j in range(H):
        r, z, n = gates[j], gates[H + j], gates[2 * H + j]
        d = dh[j]
        da_n = d * (1 - z) * (1 - n * n)
        da_z = d * (h_prev[j] - n) * z * (1 - z)
        da_r = da_n * hn[j] * r * (1 - r)
        dxw[j], dxw[H + j], dxw[2 * H + j] = da_r, da_z, da_n
        dhw[j], dhw[H + j], dhw[2 * H + j] = da_r, da_z, da_n * r
        dh_prev[j] = d * z


@njit(cache=True)
def gru_cell_backward(dh, gates, hn, h_prev, dxw, dhw, dh_prev):
    """Numba twin of ``reference.gru_cell_backward``: one pass, both gradient blocks at once."""
    for n in range(h_prev.shape[0]):
        _gru_backward_row(dh[n], gates[n], hn[n], h_prev[n], dxw[n], dhw[n], dh_prev[n])
    return dxw, dhw, dh_prev


@threaded()
def _swap_batch_time(x, y):
    # x (A, B, F) -> y (B, A, F), one task per row of y: NumPy's transposed copy runs on one core
    for b in prange(x.shape[1]):
        for a in range(x.shape[0]):
            for f in range(x.shape[2]):
                y[b, a, f] = x[a, b, f]


def swap_batch_time(x):
    """Numba twin of ``reference.swap_batch_time``: threads from 2^16 elements, NumPy's copy where
    a row has under 16 values (a transposition of single values, which NumPy does faster)."""
    x = np.ascontiguousarray(x)
    if x.ndim < 2 or x[:1, :1].size < 16:  # (an empty x too)
        return reference.swap_batch_time(x)
    (A, B), y = x.shape[:2], np.empty((x.shape[1], x.shape[0]) + x.shape[2:], x.dtype)
    pick(_swap_batch_time, _swap_batch_time.serial, x.size)(x.reshape(A, B, -1), y.reshape(B, A, -1))
    return y


# ============================================================ recurrent sequences
# A sample's h_t needs only its own h_{t-1}: the LSTM's batch splits into blocks of rows, one per
# thread, and each block runs the whole sequence -- its rows' product h_{t-1} Wh (OpenBLAS, one
# thread each: ``blas_pool.gemm``) and its cells -- never waiting for another block: one parallel
# region a call, not one a step (see the cells' comment). (OpenBLAS may round a block's product
# otherwise than the whole batch's, as it splits the work by shape.) Without an OpenBLAS to call
# (or Numba), the loop over time stays in Python, a product and a fused cell per step
# (``common.lstm_steps``, shared with the GPU tier). The GRU's blocks are the same loops around its cell.
@njit(parallel=True, cache=True)
def _lstm_forward_blocks(gemm_at, piece, blocks, xw, Wh, b, gates, cells, hs, hw):
    T, N, _ = xw.shape
    for block in prange(blocks):
        lo, hi = block * N // blocks, (block + 1) * N // blocks
        for t in range(T):
            blas_pool.matmul_rows(gemm_at, hs[t], lo, hi, Wh, hw, piece)  # hw[lo:hi] = h_{t-1} Wh
            for n in range(lo, hi):
                _lstm_forward_row(xw[t, n], hw[n], b, cells[t, n], gates[t, n], cells[t + 1, n], hs[t + 1, n])


@njit(parallel=True, cache=True)
def _lstm_backward_blocks(gemm_at, piece, blocks, dy, Wh_T, gates, cells, da, dh, dc):
    # dh (N, H): dL/dh_t, ends as dL/dh0; dc (2, N, H): dL/dc_t and dL/dc_{t-1}, taking turns
    T, N, _ = dy.shape
    for block in prange(blocks):
        lo, hi = block * N // blocks, (block + 1) * N // blocks
        dh[lo:hi] = dy[T - 1, lo:hi]
        dc[0, lo:hi] = 0
        for t in range(T - 1, -1, -1):
            now, prev = dc[(T - 1 - t) % 2], dc[(T - t) % 2]  # dL/dc_t, dL/dc_{t-1}
            c_prev, c = cells[t], cells[t + 1]
            for n in range(lo, hi):
                _lstm_backward_row(dh[n], now[n], gates[t, n], c_prev[n], c[n], da[t, n], prev[n])
            blas_pool.matmul_rows(gemm_at, da[t], lo, hi, Wh_T, dh, piece)  # dh[lo:hi] = da_t Wh^T
            if t > 0:
                dh[lo:hi] += dy[t - 1, lo:hi]


@njit(parallel=True, cache=True)
def _gru_forward_blocks(gemm_at, piece, blocks, xw, Wh, bx, bh, gates, hn, hs, hw):
    T, N, _ = xw.shape
    for block in prange(blocks):
        lo, hi = block * N // blocks, (block + 1) * N // blocks
        for t in range(T):
            blas_pool.matmul_rows(gemm_at, hs[t], lo, hi, Wh, hw, piece)  # hw[lo:hi] = h_{t-1} Wh
            for n in range(lo, hi):
                _gru_forward_row(xw[t, n], hw[n], bx, bh, hs[t, n], gates[t, n], hn[t, n], hs[t + 1, n])


@njit(parallel=True, cache=True)
def _gru_backward_blocks(gemm_at, piece, blocks, dy, Wh_T, gates, hn, hs, dxw, dhw, dh, direct):
    # dh (N, H): dL/dh_t, ends as dL/dh0; direct: dL/dh_t * z, the part that skips the product
    T, N, _ = dy.shape
    for block in prange(blocks):
        lo, hi = block * N // blocks, (block + 1) * N // blocks
        dh[lo:hi] = dy[T - 1, lo:hi]
        for t in range(T - 1, -1, -1):
            for n in range(lo, hi):
                _gru_backward_row(dh[n], gates[t, n], hn[t, n], hs[t, n], dxw[t, n], dhw[t, n], direct[n])
            blas_pool.matmul_rows(gemm_at, dhw[t], lo, hi, Wh_T, dh, piece)  # dh[lo:hi] = dhw_t Wh^T
            dh[lo:hi] += direct[lo:hi]
            if t > 0:
                dh[lo:hi] += dy[t - 1, lo:hi]


def _by_blocks(outputs, inputs) -> int:
    """The ``cblas_?gemm`` for the blocks of rows, or 0: no OpenBLAS to call, one dtype not
    shared, or an output that is not C-contiguous (the kernels take rows by address)."""
    arrays = outputs + inputs
    ok = all(a.flags.c_contiguous for a in outputs) and len({a.dtype for a in arrays}) == 1
    return blas_pool.gemm_address(arrays[0].dtype) if ok else 0


def _blocks(N, W):
    """A block of rows per thread, and the columns of each step's product a call (``product_piece``)."""
    blocks = min(numba.get_num_threads(), N)
    return blocks, blas_pool.product_piece(W.dtype, -(-N // blocks), W.shape[1], W.shape[0])


def lstm_forward_sequence(xw, Wh, b, gates, cells, hs):
    """Numba twin of ``reference.lstm_forward_sequence``: blocks of rows on threads of their own."""
    gemm_at = _by_blocks((gates, cells, hs), (xw, Wh, b))
    if not gemm_at:
        return common.lstm_steps(lstm_cell_forward, xw, Wh, b, gates, cells, hs)
    xw, Wh, b = (np.ascontiguousarray(a) for a in (xw, Wh, b))
    blocks, piece = _blocks(xw.shape[1], Wh)
    with blas_pool.one_thread():
        _lstm_forward_blocks(gemm_at, piece, blocks, xw, Wh, b, gates, cells, hs, np.empty_like(xw[0]))
    return gates, cells, hs


def lstm_backward_sequence(dy, Wh_T, gates, cells, da, dh0, dc0):
    """Numba twin of ``reference.lstm_backward_sequence``: blocks of rows on threads of their own."""
    gemm_at = _by_blocks((da, dh0), (dy, Wh_T, gates, cells))
    if not gemm_at:
        return common.lstm_steps_backward(lstm_cell_backward, dy, Wh_T, gates, cells, da, dh0, dc0)
    dy, Wh_T, gates, cells = (np.ascontiguousarray(a) for a in (dy, Wh_T, gates, cells))
    (blocks, piece), dc = _blocks(dy.shape[1], Wh_T), np.empty((2,) + dh0.shape, dtype=dh0.dtype)
    with blas_pool.one_thread():
        _lstm_backward_blocks(gemm_at, piece, blocks, dy, Wh_T, gates, cells, da, dh0, dc)
    dc0[...] = dc[dy.shape[0] % 2]
    return da, dh0, dc0


def gru_forward_sequence(xw, Wh, bx, bh, gates, hn, hs):
    """Numba twin of ``reference.gru_forward_sequence``: blocks of rows on threads of their own."""
    gemm_at = _by_blocks((gates, hn, hs), (xw, Wh, bx, bh))
    if not gemm_at:
        return common.gru_steps(gru_cell_forward, xw, Wh, bx, bh, gates, hn, hs)
    xw, Wh, bx, bh = (np.ascontiguousarray(a) for a in (xw, Wh, bx, bh))
    blocks, piece = _blocks(xw.shape[1], Wh)
    with blas_pool.one_thread():
        _gru_forward_blocks(gemm_at, piece, blocks, xw, Wh, bx, bh, gates, hn, hs, np.empty_like(xw[0]))
    return gates, hn, hs


def gru_backward_sequence(dy, Wh_T, gates, hn, hs, dxw, dhw, dh0):
    """Numba twin of ``reference.gru_backward_sequence``: blocks of rows on threads of their own."""
    gemm_at = _by_blocks((dxw, dhw, dh0), (dy, Wh_T, gates, hn, hs))
    if not gemm_at:
        return common.gru_steps_backward(gru_cell_backward, dy, Wh_T, gates, hn, hs, dxw, dhw, dh0)
    dy, Wh_T, gates, hn, hs = (np.ascontiguousarray(a) for a in (dy, Wh_T, gates, hn, hs))
    blocks, piece = _blocks(dy.shape[1], Wh_T)
    with blas_pool.one_thread():
        _gru_backward_blocks(
            gemm_at, piece, blocks, dy, Wh_T, gates, hn, hs, dxw, dhw, dh0, np.empty_like(dh0)
        )
    return dxw, dhw, dh0
