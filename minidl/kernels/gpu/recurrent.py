"""CUDA launchers of ``reference/recurrent.py``: the LSTM and GRU cells and sequences (``cuda/recurrent.cu``).

A cell is one thread per hidden unit computing all its gates; a whole sequence is one launch
(a block takes a few samples through every step) for H <= ``SEQUENCE_MAX_HIDDEN``, else the
per-step loop of ``common.lstm_steps``. ``USE_SEQUENCE_KERNELS = False`` (set it here) forces
the per-step path, for comparisons.
"""

from __future__ import annotations

from .. import common
from ..common import get_array_module as _array_module
from ..contract import KERNELS
from .launch import blocks_for, get_kernel, int32s, launch, real_array


# ============================================================ recurrent cells
def _launch_cell(kernel, like, inputs, outputs, n, hidden):
    """Run a recurrent-cell kernel, one thread per (sample, unit), writing into ``outputs`` in place:
    through a temporary where an output is not C-contiguous of ``like``'s dtype (a layer may pass
    a time slice ``buffer[:, t]`` of a larger array)."""
    xp = _array_module(like)
    inputs = [real_array(xp, a, like.dtype) for a in inputs]
    writable = [out.flags.c_contiguous and out.dtype == like.dtype for out in outputs]
    buffers = [out if ok else xp.empty(out.shape, like.dtype) for out, ok in zip(outputs, writable)]
    launch("recurrent.cu", kernel, n * hidden, (*inputs, *buffers, *int32s(n, hidden)))
    for out, buffer in zip(outputs, buffers):
        if buffer is not out:
            out[...] = buffer
    return tuple(outputs)


def lstm_cell_forward(xw, hw, b, c_prev, gates, c, h):
    """One LSTM step's pointwise part: xw, hw (N, 4H), b (4H,), c_prev (N, H) -> gates, c, h (in place)."""
    n, hidden = c_prev.shape
    return _launch_cell("lstm_cell_forward", xw, [xw, hw, b, c_prev], [gates, c, h], n, hidden)


def lstm_cell_backward(dh, dc_next, gates, c_prev, c, da, dc_prev):
    """Backward of ``lstm_cell_forward`` -> da (N, 4H), dc_prev (N, H), in place (dc_prev may be dc_next)."""
    n, hidden = c_prev.shape
    return _launch_cell("lstm_cell_backward", dh, [dh, dc_next, gates, c_prev, c], [da, dc_prev], n, hidden)


def gru_cell_forward(xw, hw, bx, bh, h_prev, gates, hn, h):
    """One GRU step's pointwise part: xw, hw (N, 3H), bx, bh (3H,), h_prev (N, H) -> gates, hn, h (in place)."""
    n, hidden = h_prev.shape
    return _launch_cell("gru_cell_forward", xw, [xw, hw, bx, bh, h_prev], [gates, hn, h], n, hidden)


def gru_cell_backward(dh, gates, hn, h_prev, dxw, dhw, dh_prev):
    """Backward of ``gru_cell_forward`` -> dxw, dhw (N, 3H), dh_prev (N, H), in place (dh_prev may be dh)."""
    n, hidden = h_prev.shape
    return _launch_cell("gru_cell_backward", dh, [dh, gates, hn, h_prev], [dxw, dhw, dh_prev], n, hidden)


def swap_batch_time(x):
    """Twin of ``reference.swap_batch_time``: CuPy's copy."""
    return _array_module(x).array(x.swapaxes(0, 1), order="C")


# ============================================================ recurrent sequences (one launch each)
# Twins of ``reference.lstm_forward_sequence`` & co.: the loop over time in ONE kernel launch
# when ``sequence_kernels_fit(hidden)``, else the per-step loop (a cuBLAS product and a cell
# kernel per step, ``common.lstm_steps``). The conformance table holds both to the reference,
# tests/minidl/kernels/gpu/test_device.py holds the one-launch kernels to the per-step loop.
SEQUENCE_MAX_HIDDEN = 256  # SEQ_MAX_HIDDEN in recurrent.cu
SEQUENCE_MAX_ROWS = 4  # SEQ_MAX_ROWS in recurrent.cu
USE_SEQUENCE_KERNELS = True  # False: the layers take the per-step path (for comparisons)


def sequence_kernels_fit(hidden: int) -> bool:
    """Whether the ``*_sequence`` kernels serve a layer of ``hidden`` units (and are switched on)."""
    return bool(USE_SEQUENCE_KERNELS) and 1 <= hidden <= SEQUENCE_MAX_HIDDEN


def sequence_rows_per_block(n: int) -> int:
    """Samples a block takes through the sequence: about n / 128 (1 for n <= 128, so that a
    small batch still spreads over many multiprocessors), at most SEQUENCE_MAX_ROWS.
    Untuned: a first guess to measure on a device."""
    return max(1, min(SEQUENCE_MAX_ROWS, -(-n // 128)))


def _sequence_shapes(steps: int, n: int, hidden: int, gate_blocks: int) -> dict:
    """The shape of each array a ``*_sequence`` kernel takes, by its name: T = ``steps``,
    N = ``n``, H = ``hidden`` and G*H columns for the G gate blocks (4 in the LSTM, 3 in the GRU)."""
    T, N, H, GH = steps, n, hidden, gate_blocks * hidden
    per_step, states = (T, N, GH), (T + 1, N, H)
    return {
        **dict.fromkeys(("xw", "gates", "da", "dxw", "dhw"), per_step),
        **dict.fromkeys(("cells", "hs"), states),  # [0] the initial state
        **dict.fromkeys(("b", "bx", "bh"), (GH,)),
        **dict.fromkeys(("dh0", "dc0"), (N, H)),
        **dict.fromkeys(("dy", "hn"), (T, N, H)),
        "Wh": (H, GH),
        "Wh_T": (GH, H),
    }


def _launch_sequence(name, gate_blocks, *args):
    """Launch ``recurrent.cu``'s kernel ``name`` (a ``*_sequence`` kernel of the contract) on
    ``args``, its parameters in the contract's order, the last three its outputs, after
    checking their shapes (``_sequence_shapes``); the outputs are written in place and returned."""
    steps, n = args[0].shape[:2]  # xw or dy (T, N, ...)
    hidden = args[-1].shape[-1]  # the last output: hs (T + 1, N, H), dh0 or dc0 (N, H)
    if not 1 <= hidden <= SEQUENCE_MAX_HIDDEN:  # the dispatchers below never pass more
        raise ValueError(f"{name}: at most {SEQUENCE_MAX_HIDDEN} hidden units, got {hidden}")
    shapes = _sequence_shapes(steps, n, hidden, gate_blocks)
    named = dict(zip(KERNELS[name].params, args))
    for arg, array in named.items():
        if tuple(array.shape) != shapes[arg]:
            raise ValueError(f"{name}: {arg} must have shape {shapes[arg]}, got {tuple(array.shape)}")
    like, outputs = args[0], dict(list(named.items())[-3:])
    xp = _array_module(like)
    arrays = [real_array(xp, a, like.dtype) for a in args[:-3]]
    for arg, out in outputs.items():
        if _array_module(out) is not xp or out.dtype != like.dtype or not out.flags.c_contiguous:
            raise ValueError(
                f"{name}: output {arg} must be a C-contiguous {like.dtype} array on "
                f"the inputs' device, got {type(out).__name__} {out.dtype}"
            )
    rows = sequence_rows_per_block(n)
    threads = -(-gate_blocks * hidden // 32) * 32  # one per column of h Wh, whole warps
    if steps and n:
        args = (*arrays, *outputs.values(), *int32s(steps, n, hidden, rows))
        get_kernel("recurrent.cu", name, like)(blocks_for(n, rows), (threads,), args)
    return tuple(outputs.values())


def lstm_forward_sequence(xw, Wh, b, gates, cells, hs):
    """Twin of ``reference.lstm_forward_sequence``: one launch for H <= 256, else a loop of cells."""
    if sequence_kernels_fit(xw.shape[2] // 4):
        return _launch_sequence("lstm_forward_sequence", 4, xw, Wh, b, gates, cells, hs)
    return common.lstm_steps(lstm_cell_forward, xw, Wh, b, gates, cells, hs)


def lstm_backward_sequence(dy, Wh_T, gates, cells, da, dh0, dc0):
    """Twin of ``reference.lstm_backward_sequence``: one launch for H <= 256, else a loop of cells."""
    if sequence_kernels_fit(dy.shape[2]):
        return _launch_sequence("lstm_backward_sequence", 4, dy, Wh_T, gates, cells, da, dh0, dc0)
    return common.lstm_steps_backward(lstm_cell_backward, dy, Wh_T, gates, cells, da, dh0, dc0)


def gru_forward_sequence(xw, Wh, bx, bh, gates, hn, hs):
    """Twin of ``reference.gru_forward_sequence``: one launch for H <= 256, else a loop of cells."""
    if sequence_kernels_fit(xw.shape[2] // 3):
        return _launch_sequence("gru_forward_sequence", 3, xw, Wh, bx, bh, gates, hn, hs)
    return common.gru_steps(gru_cell_forward, xw, Wh, bx, bh, gates, hn, hs)


def gru_backward_sequence(dy, Wh_T, gates, hn, hs, dxw, dhw, dh0):
    """Twin of ``reference.gru_backward_sequence``: one launch for H <= 256, else a loop of cells."""
    if sequence_kernels_fit(dy.shape[2]):
        return _launch_sequence("gru_backward_sequence", 3, dy, Wh_T, gates, hn, hs, dxw, dhw, dh0)
    return common.gru_steps_backward(gru_cell_backward, dy, Wh_T, gates, hn, hs, dxw, dhw, dh0)
