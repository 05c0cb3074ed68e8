"""What is particular to the Numba tier (``minidl/kernels/cpu.py``).

That every Numba kernel equals its NumPy reference is the conformance table's job
(``tests/kernel_cases.py``, run by ``tests/test_conformance.py`` over every tier). Here:

* the threaded versions of the kernels equal their serial twins bit for bit, on the same
  table's cases;
* small work runs serially and large work in parallel;
* the float32 tanh / sigmoid approximations of the recurrent cells stay within a few ulp.
"""

import copy

import numpy as np
import pytest

import kernel_cases as kc
from minidl.kernels import cpu


@pytest.mark.parametrize("name", sorted(kc.TABLE))
def test_parallel_versions_equal_the_serial_ones(name, monkeypatch):
    """The table's cases are small, so they run the serial versions; force the threaded
    ones (``PARALLEL_MIN_ELEMENTS = 0``) and require the same results, bit for bit."""
    for args in kc.TABLE[name].make_cases(np.float32):
        results = []
        for threshold in (0, 2**62):
            monkeypatch.setattr(cpu, "PARALLEL_MIN_ELEMENTS", threshold)
            call_args = copy.deepcopy(args)
            results.append(
                kc.arrays_in(getattr(cpu, name)(*call_args))
                + [a for a in call_args if isinstance(a, np.ndarray)]
            )
        for threaded, serial in zip(*results):
            np.testing.assert_array_equal(
                threaded, serial, err_msg=f"{name}({kc.describe(args)}): threaded != serial"
            )


def test_small_work_runs_serially_and_large_work_in_parallel(monkeypatch):
    monkeypatch.setattr(cpu.numba, "get_num_threads", lambda: 2)
    assert not cpu.threads_pay(cpu.PARALLEL_MIN_ELEMENTS - 1)
    assert cpu.threads_pay(cpu.PARALLEL_MIN_ELEMENTS)
    monkeypatch.setattr(cpu.numba, "get_num_threads", lambda: 1)
    assert not cpu.threads_pay(10 * cpu.PARALLEL_MIN_ELEMENTS)


def test_float32_gate_functions_are_accurate():
    """The Numba float32 tanh/sigmoid approximation stays within a few float32 ulp."""
    x = np.linspace(-30, 30, 200_001).astype(np.float32)
    H = x.size // 4
    xw = x[: 4 * H].reshape(1, 4 * H)
    zeros = np.zeros_like(xw)
    gates = np.empty_like(xw)
    c, h = np.empty((1, H), np.float32), np.empty((1, H), np.float32)
    cpu.lstm_cell_forward(xw, zeros, np.zeros(4 * H, np.float32), np.zeros((1, H), np.float32), gates, c, h)
    exact = xw.astype(np.float64)
    sig = 1 / (1 + np.exp(-exact))
    expected = np.concatenate([sig[:, : 2 * H], np.tanh(exact[:, 2 * H : 3 * H]), sig[:, 3 * H :]], axis=1)
    assert np.max(np.abs(gates - expected)) < 4e-7
    nan_in = np.full((1, 4 * H), np.nan, np.float32)
    cpu.lstm_cell_forward(
        nan_in, zeros, np.zeros(4 * H, np.float32), np.zeros((1, H), np.float32), gates, c, h
    )
    assert np.isnan(h).all()  # NaN is not clamped into a number


# ------------------------------------------------------------------ the fused LSTM sequence kernel
FUSED_LSTM_SHAPES = [(3, 9, 5), (4, 13, 19), (2, 4, 1), (5, 1, 3), (2, 8, 33)]  # (T, N, H)


def _lstm_sequence_problem(rng, T, N, H, dtype):
    xw = rng.standard_normal((T, N, 4 * H)).astype(dtype)
    Wh = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(dtype)
    b = rng.standard_normal(4 * H).astype(dtype)
    cells, hs = np.zeros((T + 1, N, H), dtype), np.zeros((T + 1, N, H), dtype)
    cells[0], hs[0] = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    return xw, Wh, b, np.zeros((T, N, 4 * H), dtype), cells, hs


@pytest.mark.parametrize("dtype", kc.DTYPES)
@pytest.mark.parametrize("threads", [False, True])
def test_fused_lstm_sequence_equals_the_reference(dtype, threads, monkeypatch):
    """Blocks of 4 rows with a short last block, H odd or 1, one thread or several: the fused
    route equals ``reference.lstm_*_sequence`` (the table's shapes are too small for threads)."""
    from minidl.kernels import reference

    monkeypatch.setattr(cpu, "_fused_threads_pay", lambda N: threads)
    rng = np.random.default_rng(7)
    tolerance = kc.Kernel("lstm_forward_sequence", None, scale=(10, 10)).tolerance(dtype)
    for T, N, H in FUSED_LSTM_SHAPES:
        args = _lstm_sequence_problem(rng, T, N, H, dtype)
        ref, ours = reference.lstm_forward_sequence(*copy.deepcopy(args)), cpu.lstm_forward_fused(*args)
        for r, o in zip(ref, ours):
            np.testing.assert_allclose(o, r, err_msg=f"forward (T, N, H) = {(T, N, H)}", **tolerance)
        gates, cells = ref[0], ref[1]
        dy = rng.standard_normal((T, N, H)).astype(dtype)
        back = (dy, np.ascontiguousarray(args[1].T), gates, cells, np.zeros_like(gates))
        states = (np.zeros((N, H), dtype), np.zeros((N, H), dtype))
        ref = reference.lstm_backward_sequence(*copy.deepcopy(back + states))
        ours = cpu.lstm_backward_fused(*back, *states)
        for r, o in zip(ref, ours):
            np.testing.assert_allclose(o, r, err_msg=f"backward (T, N, H) = {(T, N, H)}", **tolerance)


def test_the_lstm_sequence_dispatch_rule():
    """Fused while Wh (H x 4H) fits in 1 MiB, as ``lstm_sequence_is_fused`` documents."""
    assert cpu.lstm_sequence_is_fused(64, 128, np.float32)
    assert cpu.lstm_sequence_is_fused(64, 256, np.float32)
    assert not cpu.lstm_sequence_is_fused(64, 257, np.float32)
    assert cpu.lstm_sequence_is_fused(64, 181, np.float64)
    assert not cpu.lstm_sequence_is_fused(64, 256, np.float64)
