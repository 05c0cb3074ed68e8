"""The Numba recurrent cells: the reference's cells and loops over time, and the float32 gates."""

import numpy as np
import pytest
import threadpoolctl

from minidl.kernels import cpu, reference

N, H, T = 3, 4, 5


def _arrays(rng, dtype, *shapes):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_the_lstm_cell_and_its_backward_equal_the_reference(dtype, rtol):
    rng = np.random.default_rng(0)
    xw, hw, b, c_prev, dh, dc = _arrays(rng, dtype, (N, 4 * H), (N, 4 * H), (4 * H,), (N, H), (N, H), (N, H))
    outs = []
    for tier in (cpu, reference):
        gates, c, h = tier.lstm_cell_forward(
            xw, hw, b, c_prev, np.empty((N, 4 * H), dtype), np.empty((N, H), dtype), np.empty((N, H), dtype)
        )
        da, dc_prev = tier.lstm_cell_backward(
            dh, dc, gates, c_prev, c, np.empty((N, 4 * H), dtype), np.empty((N, H), dtype)
        )
        outs.append([gates, c, h, da, dc_prev])
    for got, want in zip(*outs):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_the_gru_cell_and_its_backward_equal_the_reference(dtype, rtol):
    rng = np.random.default_rng(1)
    xw, hw, bx, bh, h_prev, dh = _arrays(
        rng, dtype, (N, 3 * H), (N, 3 * H), (3 * H,), (3 * H,), (N, H), (N, H)
    )
    outs = []
    for tier in (cpu, reference):
        gates, hn, h = tier.gru_cell_forward(
            xw,
            hw,
            bx,
            bh,
            h_prev,
            np.empty((N, 3 * H), dtype),
            np.empty((N, H), dtype),
            np.empty((N, H), dtype),
        )
        back = tier.gru_cell_backward(
            dh,
            gates,
            hn,
            h_prev,
            np.empty((N, 3 * H), dtype),
            np.empty((N, 3 * H), dtype),
            np.empty((N, H), dtype),
        )
        outs.append([gates, hn, h, *back])
    for got, want in zip(*outs):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("blocks, piece", [(1, None), (2, None), (3, None), (2, 3), (3, 5)])
def test_the_lstm_loops_over_time_equal_the_reference(blocks, piece, monkeypatch):
    """Whatever the blocks of rows the Numba tier splits the batch into (one per thread), and
    the columns each step's product takes a call (``blas_pool.product_piece``: 3 divides neither
    4H = 16 nor H = 4, the last piece is short; 5 is more than H)."""
    monkeypatch.setattr(cpu.recurrent.numba, "get_num_threads", lambda: blocks)
    if piece is not None:
        monkeypatch.setattr(cpu.blas_pool, "product_piece", lambda dtype, m, n, k: piece)
    rng = np.random.default_rng(2)
    xw, Wh, b, dy = _arrays(rng, np.float64, (T, N, 4 * H), (H, 4 * H), (4 * H,), (T, N, H))
    outs = []
    for tier in (cpu, reference):
        cells, hs = np.zeros((T + 1, N, H)), np.zeros((T + 1, N, H))
        gates, cells, hs = tier.lstm_forward_sequence(xw, Wh, b, np.empty((T, N, 4 * H)), cells, hs)
        back = tier.lstm_backward_sequence(
            dy,
            np.ascontiguousarray(Wh.T),
            gates,
            cells,
            np.empty((T, N, 4 * H)),
            np.empty((N, H)),
            np.empty((N, H)),
        )
        outs.append([gates, cells, hs, *back])
    for got, want in zip(*outs):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("blocks, piece", [(1, None), (2, None), (3, None), (2, 4), (3, 5)])
def test_the_gru_loops_over_time_equal_the_reference(blocks, piece, monkeypatch):
    """The GRU's blocks of rows, as the LSTM's; pieces of 4 columns (3H = 12 in three) and of 5
    (the last piece short, and more than H)."""
    monkeypatch.setattr(cpu.recurrent.numba, "get_num_threads", lambda: blocks)
    if piece is not None:
        monkeypatch.setattr(cpu.blas_pool, "product_piece", lambda dtype, m, n, k: piece)
    rng = np.random.default_rng(4)
    xw, Wh, bx, bh, dy = _arrays(rng, np.float64, (T, N, 3 * H), (H, 3 * H), (3 * H,), (3 * H,), (T, N, H))
    outs = []
    for tier in (cpu, reference):
        hs = np.zeros((T + 1, N, H))
        hs[0] = dy[0]  # a non-zero initial state
        gates, hn, hs = tier.gru_forward_sequence(
            xw, Wh, bx, bh, np.empty((T, N, 3 * H)), np.empty((T, N, H)), hs
        )
        back = tier.gru_backward_sequence(
            dy,
            np.ascontiguousarray(Wh.T),
            gates,
            hn,
            hs,
            np.empty((T, N, 3 * H)),
            np.empty((T, N, 3 * H)),
            np.empty((N, H)),
        )
        outs.append([gates, hn, hs, *back])
    for got, want in zip(*outs):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_the_lstm_takes_any_layout_and_keeps_blas_threads(monkeypatch):
    """Inputs of any strides are read (copied to rows where needed); BLAS's thread count is
    the same after the kernels as before."""
    rng = np.random.default_rng(3)
    xw, Wh, b = _arrays(rng, np.float64, (T, 4 * H, N), (4 * H, H), (4 * H,))
    got = []
    with threadpoolctl.threadpool_limits(2, user_api="blas"):  # (the tests run with one)
        for xw_, Wh_ in (
            (xw.transpose(0, 2, 1), Wh.T),
            (np.ascontiguousarray(xw.transpose(0, 2, 1)), Wh.T.copy()),
        ):
            cells, hs = np.zeros((T + 1, N, H)), np.zeros((T + 1, N, H))
            got.append(cpu.lstm_forward_sequence(xw_, Wh_, b, np.empty((T, N, 4 * H)), cells, hs))
        blas = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert blas == [2] or not cpu.blas_pool.gemm_address(np.float64), blas  # one_thread put it back
    for a, b_ in zip(*got):
        np.testing.assert_array_equal(a, b_)


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
