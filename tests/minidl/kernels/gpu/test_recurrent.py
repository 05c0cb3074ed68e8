"""The CUDA recurrent launchers, run by the emulator: cells and one-launch sequences against the
reference, and the shapes and sizes the sequence kernels refuse."""

import numpy as np
import pytest

from minidl.kernels import emulate, reference
from minidl.kernels.gpu import recurrent as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)

N, H, T = 3, 4, 5


def test_the_lstm_and_gru_cells_equal_the_reference():
    rng = np.random.default_rng(0)
    xw, hw, b, c_prev = (
        rng.standard_normal((N, 4 * H)),
        rng.standard_normal((N, 4 * H)),
        rng.standard_normal(4 * H),
        rng.standard_normal((N, H)),
    )
    outs = [
        m.lstm_cell_forward(xw, hw, b, c_prev, np.empty((N, 4 * H)), np.empty((N, H)), np.empty((N, H)))
        for m in (K, reference)
    ]
    for g, w in zip(*outs):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
    gx, gh, bx, bh, h_prev = (
        rng.standard_normal((N, 3 * H)),
        rng.standard_normal((N, 3 * H)),
        rng.standard_normal(3 * H),
        rng.standard_normal(3 * H),
        rng.standard_normal((N, H)),
    )
    outs = [
        m.gru_cell_forward(gx, gh, bx, bh, h_prev, np.empty((N, 3 * H)), np.empty((N, H)), np.empty((N, H)))
        for m in (K, reference)
    ]
    for g, w in zip(*outs):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_the_lstm_sequence_in_one_launch_equals_the_reference():
    rng = np.random.default_rng(1)
    xw, Wh, b = (
        rng.standard_normal((T, N, 4 * H)),
        0.5 * rng.standard_normal((H, 4 * H)),
        rng.standard_normal(4 * H),
    )
    outs = []
    for m in (K, reference):
        outs.append(
            m.lstm_forward_sequence(
                xw, Wh, b, np.empty((T, N, 4 * H)), np.zeros((T + 1, N, H)), np.zeros((T + 1, N, H))
            )
        )
    for g, w in zip(*outs):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_the_sequence_kernels_check_shapes_and_the_hidden_size():
    assert K.sequence_kernels_fit(K.SEQUENCE_MAX_HIDDEN) and not K.sequence_kernels_fit(
        K.SEQUENCE_MAX_HIDDEN + 1
    )
    assert [K.sequence_rows_per_block(n) for n in (1, 128, 129, 10_000)] == [1, 1, 2, K.SEQUENCE_MAX_ROWS]
    with pytest.raises(ValueError, match=r"hs must have shape \(6, 3, 4\), got \(5, 3, 4\)"):
        K._launch_sequence(
            "lstm_forward_sequence",
            4,
            np.zeros((T, N, 4 * H)),
            np.zeros((H, 4 * H)),
            np.zeros(4 * H),
            np.empty((T, N, 4 * H)),
            np.zeros((T + 1, N, H)),
            np.zeros((T, N, H)),
        )
    with pytest.raises(ValueError, match="at most 256 hidden units, got 300"):
        K._launch_sequence(
            "lstm_forward_sequence",
            4,
            np.zeros((1, 1, 1200)),
            np.zeros((300, 1200)),
            np.zeros(1200),
            np.empty((1, 1, 1200)),
            np.zeros((2, 1, 300)),
            np.zeros((2, 1, 300)),
        )
