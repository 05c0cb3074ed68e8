"""What the tiers share: output lengths, a sigmoid that never overflows, the convolution by
im2col, and the recurrent loops with a cell passed in, each against the reference."""

import numpy as np
import pytest

from minidl.kernels import common, reference

T, N, H = 4, 3, 2


def test_output_lengths_follow_the_floor_formula():
    assert common.conv_output_length(7, 3, 2, 1) == 4  # (7 + 2 - 3) // 2 + 1
    assert common.conv_output_length(5, 5, 1) == 1
    assert common.pool_output_length(7, 2, 2) == 3  # the last row does not fit: dropped
    assert common.pool_output_length(4, 4, 3) == 1


def test_sigmoid_is_the_logistic_function_and_never_overflows():
    x = np.array([-1000.0, -2.0, 0.0, 3.0, 1000.0])
    with np.errstate(over="raise"):
        y = common.sigmoid(x)
    np.testing.assert_allclose(y[1:4], 1 / (1 + np.exp(-x[1:4])), rtol=1e-15)
    assert y[0] == 0.0 and y[-1] == 1.0
    assert common.get_array_module(x) is np and common.get_array_module([1, 2]) is np


@pytest.mark.parametrize("input_grad", [True, False])
def test_the_convolution_by_im2col_is_the_references(input_grad):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    y, cols = common.conv2d_forward_by_im2col(reference.im2col, x, w, b, 2, 1, 1, 0)
    ry, _ = reference.conv2d_forward(x, w, b, 2, 1, 1, 0)
    np.testing.assert_allclose(y, ry, rtol=1e-12)
    assert y.flags.c_contiguous
    dy = rng.standard_normal(y.shape)
    got = common.conv2d_backward_by_im2col(
        reference.im2col, reference.col2im, dy, x, None, w, 2, 1, 1, 0, input_grad
    )
    want = reference.conv2d_backward(dy, x, cols, w, 2, 1, 1, 0, input_grad)
    for g, r in zip(got, want):
        if r is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


def test_the_lstm_and_gru_loops_with_the_reference_cells_are_the_reference_sequences():
    rng = np.random.default_rng(1)
    xw, Wh, b, dy = (
        rng.standard_normal((T, N, 4 * H)),
        rng.standard_normal((H, 4 * H)),
        rng.standard_normal(4 * H),
        rng.standard_normal((T, N, H)),
    )
    mine = common.lstm_steps(
        reference.lstm_cell_forward,
        xw,
        Wh,
        b,
        np.empty((T, N, 4 * H)),
        np.zeros((T + 1, N, H)),
        np.zeros((T + 1, N, H)),
    )
    ref = reference.lstm_forward_sequence(
        xw, Wh, b, np.empty((T, N, 4 * H)), np.zeros((T + 1, N, H)), np.zeros((T + 1, N, H))
    )
    for g, r in zip(mine, ref):
        np.testing.assert_allclose(g, r, rtol=1e-12)
    gates, cells, _ = ref
    back = common.lstm_steps_backward(
        reference.lstm_cell_backward,
        dy,
        Wh.T.copy(),
        gates,
        cells,
        np.empty((T, N, 4 * H)),
        np.empty((N, H)),
        np.empty((N, H)),
    )
    rback = reference.lstm_backward_sequence(
        dy, Wh.T.copy(), gates, cells, np.empty((T, N, 4 * H)), np.empty((N, H)), np.empty((N, H))
    )
    for g, r in zip(back, rback):
        np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-13)
    gx, gWh, bx, bh = (
        rng.standard_normal((T, N, 3 * H)),
        rng.standard_normal((H, 3 * H)),
        rng.standard_normal(3 * H),
        rng.standard_normal(3 * H),
    )
    mine = common.gru_steps(
        reference.gru_cell_forward,
        gx,
        gWh,
        bx,
        bh,
        np.empty((T, N, 3 * H)),
        np.empty((T, N, H)),
        np.zeros((T + 1, N, H)),
    )
    ref = reference.gru_forward_sequence(
        gx, gWh, bx, bh, np.empty((T, N, 3 * H)), np.empty((T, N, H)), np.zeros((T + 1, N, H))
    )
    for g, r in zip(mine, ref):
        np.testing.assert_allclose(g, r, rtol=1e-12)
    gates, hn, hs = ref
    args = (dy, gWh.T.copy(), gates, hn, hs)
    back = common.gru_steps_backward(
        reference.gru_cell_backward, *args, np.empty((T, N, 3 * H)), np.empty((T, N, 3 * H)), np.empty((N, H))
    )
    rback = reference.gru_backward_sequence(
        *args, np.empty((T, N, 3 * H)), np.empty((T, N, 3 * H)), np.empty((N, H))
    )
    for g, r in zip(back, rback):
        np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-13)
