"""The reference LSTM and GRU cells: the equations of the design written out again, and each
backward against finite differences of its forward."""

import numpy as np

from minidl.kernels.reference import recurrent as K
from minidl.nn.gradcheck import numerical_gradient

N, H = 3, 2


def sig(a):
    return 1 / (1 + np.exp(-a))


def lstm(xw, hw, b, c_prev):
    out = K.lstm_cell_forward(xw, hw, b, c_prev, np.empty((N, 4 * H)), np.empty((N, H)), np.empty((N, H)))
    return [a.copy() for a in out]


def gru(xw, hw, bx, bh, h_prev):
    out = K.gru_cell_forward(xw, hw, bx, bh, h_prev, np.empty((N, 3 * H)), np.empty((N, H)), np.empty((N, H)))
    return [a.copy() for a in out]


def test_the_lstm_cell_is_c_f_c_plus_i_g_and_h_o_tanh_c():
    rng = np.random.default_rng(0)
    xw, hw, b, c_prev = (
        rng.standard_normal((N, 4 * H)),
        rng.standard_normal((N, 4 * H)),
        rng.standard_normal(4 * H),
        rng.standard_normal((N, H)),
    )
    gates, c, h = lstm(xw, hw, b, c_prev)
    a = xw + hw + b
    i, f, g, o = sig(a[:, :H]), sig(a[:, H : 2 * H]), np.tanh(a[:, 2 * H : 3 * H]), sig(a[:, 3 * H :])
    np.testing.assert_allclose(gates, np.hstack([i, f, g, o]), rtol=1e-12)
    np.testing.assert_allclose(c, f * c_prev + i * g, rtol=1e-12)
    np.testing.assert_allclose(h, o * np.tanh(c), rtol=1e-12)


def test_the_lstm_backward_is_the_derivative_of_h_and_c():
    rng = np.random.default_rng(1)
    xw, hw, b, c_prev = (
        rng.standard_normal((N, 4 * H)),
        np.zeros((N, 4 * H)),
        np.zeros(4 * H),
        rng.standard_normal((N, H)),
    )
    dh, dc_next = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    gates, c, _ = lstm(xw, hw, b, c_prev)
    da, dc_prev = K.lstm_cell_backward(dh, dc_next, gates, c_prev, c, np.empty((N, 4 * H)), np.empty((N, H)))

    def loss():
        _, c_, h_ = lstm(xw, hw, b, c_prev)
        return np.sum(h_ * dh) + np.sum(c_ * dc_next)

    np.testing.assert_allclose(da, numerical_gradient(loss, xw), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dc_prev, numerical_gradient(loss, c_prev), rtol=1e-6, atol=1e-9)


def test_the_gru_cell_follows_pytorchs_formulation():
    rng = np.random.default_rng(2)
    xw, hw, bx, bh, h_prev = (
        rng.standard_normal(s) for s in [(N, 3 * H), (N, 3 * H), (3 * H,), (3 * H,), (N, H)]
    )
    gates, hn, h = gru(xw, hw, bx, bh, h_prev)
    r = sig(xw[:, :H] + bx[:H] + hw[:, :H] + bh[:H])
    z = sig(xw[:, H : 2 * H] + bx[H : 2 * H] + hw[:, H : 2 * H] + bh[H : 2 * H])
    n = np.tanh(xw[:, 2 * H :] + bx[2 * H :] + r * (hw[:, 2 * H :] + bh[2 * H :]))
    np.testing.assert_allclose(gates, np.hstack([r, z, n]), rtol=1e-12)
    np.testing.assert_allclose(hn, hw[:, 2 * H :] + bh[2 * H :], rtol=1e-12)
    np.testing.assert_allclose(h, (1 - z) * n + z * h_prev, rtol=1e-12)


def test_the_gru_backward_is_the_derivative_of_h():
    rng = np.random.default_rng(3)
    xw, hw, bx, bh, h_prev = (
        rng.standard_normal(s) for s in [(N, 3 * H), (N, 3 * H), (3 * H,), (3 * H,), (N, H)]
    )
    dh = rng.standard_normal((N, H))
    gates, hn, _ = gru(xw, hw, bx, bh, h_prev)
    dxw, dhw, dh_prev = K.gru_cell_backward(
        dh, gates, hn, h_prev, np.empty((N, 3 * H)), np.empty((N, 3 * H)), np.empty((N, H))
    )

    def loss():
        return np.sum(gru(xw, hw, bx, bh, h_prev)[2] * dh)

    np.testing.assert_allclose(dxw, numerical_gradient(loss, xw), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dhw, numerical_gradient(loss, hw), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        dh_prev, numerical_gradient(loss, h_prev), rtol=1e-6, atol=1e-9
    )  # the direct path


def test_the_lstm_sequence_is_the_cell_applied_step_by_step():
    rng = np.random.default_rng(4)
    T = 4
    xw, Wh, b = (
        rng.standard_normal((T, N, 4 * H)),
        rng.standard_normal((H, 4 * H)),
        rng.standard_normal(4 * H),
    )
    gates, cells, hs = K.lstm_forward_sequence(
        xw, Wh, b, np.empty((T, N, 4 * H)), np.zeros((T + 1, N, H)), np.zeros((T + 1, N, H))
    )
    h, c = np.zeros((N, H)), np.zeros((N, H))
    for t in range(T):
        _, c, h = lstm(xw[t], h @ Wh, b, c)
        np.testing.assert_allclose(hs[t + 1], h, rtol=1e-12)
        np.testing.assert_allclose(cells[t + 1], c, rtol=1e-12)
