"""The recurrent steps in minidl/nn/layers/recurrent.py against the fused cell kernels.

The steps (``lstm_step_forward`` / ``lstm_step_backward``, ``gru_step_*``: two matrix
products around the one readable cell of ``minidl/kernels/reference/recurrent.py``;
``rnn_step_*``) are what a student reads; the layers run the same math through the kernel
contract (``lstm_forward_sequence`` etc., built from the cells ``lstm_cell_forward`` etc.),
on whichever tier is in use. Here:

* one step built from each tier's fused kernels (plus the matrix products the layer does
  around them) equals the step on the reference tier, forward and backward, in float64;
* a whole layer equals the plain steps run along the sequence, outputs and gradients;
* a whole layer gives the same numbers on the reference and the Numba tier (float64);
* the plain steps pass a finite-difference gradient check, every input and parameter.
"""

import numpy as np
import pytest

import minidl as mdl
from minidl import backend
from minidl.kernels import reference
from minidl.nn.gradcheck import numerical_gradient, rel_error
from minidl.nn.layers.recurrent import (
    GRU,
    LSTM,
    SimpleRNN,
    gru_step_backward,
    gru_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from tests.minidl.kernels.tiers import gpu_tier

TIERS = ["reference", "numba", gpu_tier("gpu")]  # numba is a dependency: a broken install fails
SHAPES = [(1, 1, 1), (3, 4, 5), (5, 7, 19)]  # (N, D, H); H = 19 exercises SIMD loop tails
TOL = dict(rtol=1e-11, atol=1e-13)  # float64; the kernels' sigmoid is 1/(1+e^-x), the step's tanh-based


def kernel_module(tier):
    if tier == "reference":
        return reference
    if tier == "numba":
        from minidl.kernels import cpu

        return cpu
    from minidl.kernels import gpu

    return gpu


def on_tier(tier, *arrays):
    """The arrays on the tier's device (CuPy for "gpu"), as float64."""
    if tier == "gpu":
        import cupy

        return [cupy.asarray(a) for a in arrays]
    return arrays


def host(a):
    return backend.to_numpy(a)


def step_inputs(N, D, H, blocks, with_state, seed=0):
    """x_t, h_prev, c_prev, Wx, Wh and two biases; zero state when ``with_state`` is False.

    Large pre-activations (scale 3 on x_t) reach the saturated ends of σ and tanh.
    """
    rng = np.random.default_rng(seed)
    x_t = 3 * rng.standard_normal((N, D))
    h_prev = rng.standard_normal((N, H)) if with_state else np.zeros((N, H))
    c_prev = rng.standard_normal((N, H)) if with_state else np.zeros((N, H))
    Wx = rng.standard_normal((D, blocks * H)) / np.sqrt(D)
    Wh = rng.standard_normal((H, blocks * H)) / np.sqrt(H)
    b1, b2 = rng.standard_normal(blocks * H), rng.standard_normal(blocks * H)
    return x_t, h_prev, c_prev, Wx, Wh, b1, b2


def upstream(N, H, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, H)), rng.standard_normal((N, H))


# ---------------------------------------------------------------- plain step == fused kernels
@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("N, D, H", SHAPES)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "initial-state"])
def test_lstm_step_equals_fused_kernels(tier, N, D, H, with_state, reference_kernels):
    x_t, h_prev, c_prev, Wx, Wh, b, _ = step_inputs(N, D, H, 4, with_state)
    dh, dc = upstream(N, H)
    h, c, cache = lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b)
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(dh, dc, cache)

    k = kernel_module(tier)
    xw, hw, b_, c_prev_, dh_, dc_ = on_tier(tier, x_t @ Wx, h_prev @ Wh, b, c_prev, dh, dc)
    xp = backend.get_array_module(xw)
    gates, c_k, h_k = xp.empty((N, 4 * H)), xp.empty((N, H)), xp.empty((N, H))
    k.lstm_cell_forward(xw, hw, b_, c_prev_, gates, c_k, h_k)
    np.testing.assert_allclose(host(h_k), h, **TOL)
    np.testing.assert_allclose(host(c_k), c, **TOL)
    np.testing.assert_allclose(host(gates), cache[5], **TOL)  # [i f g o]

    da, dc_prev_k = xp.empty((N, 4 * H)), xp.empty((N, H))
    k.lstm_cell_backward(dh_, dc_, gates, c_prev_, c_k, da, dc_prev_k)
    da = host(da)  # the layer's fast path does these products around the kernel
    np.testing.assert_allclose(host(dc_prev_k), dc_prev, **TOL)
    np.testing.assert_allclose(da @ Wx.T, dx, **TOL)
    np.testing.assert_allclose(da @ Wh.T, dh_prev, **TOL)
    np.testing.assert_allclose(x_t.T @ da, dWx, **TOL)
    np.testing.assert_allclose(h_prev.T @ da, dWh, **TOL)
    np.testing.assert_allclose(da.sum(axis=0), db, **TOL)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("N, D, H", SHAPES)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "initial-state"])
def test_gru_step_equals_fused_kernels(tier, N, D, H, with_state, reference_kernels):
    x_t, h_prev, _, Wx, Wh, bx, bh = step_inputs(N, D, H, 3, with_state)
    dh, _ = upstream(N, H)
    h, cache = gru_step_forward(x_t, h_prev, Wx, Wh, bx, bh)
    dx, dh_prev, dWx, dWh, dbx, dbh = gru_step_backward(dh, cache)

    k = kernel_module(tier)
    xw, hw, bx_, bh_, h_prev_, dh_ = on_tier(tier, x_t @ Wx, h_prev @ Wh, bx, bh, h_prev, dh)
    xp = backend.get_array_module(xw)
    gates, hn, h_k = xp.empty((N, 3 * H)), xp.empty((N, H)), xp.empty((N, H))
    k.gru_cell_forward(xw, hw, bx_, bh_, h_prev_, gates, hn, h_k)
    np.testing.assert_allclose(host(h_k), h, **TOL)
    np.testing.assert_allclose(host(gates), cache[4], **TOL)  # [r z n]
    np.testing.assert_allclose(host(hn), cache[5], **TOL)  # h_prev Wh_n + bh_n

    dxw, dhw, dh_direct = xp.empty((N, 3 * H)), xp.empty((N, 3 * H)), xp.empty((N, H))
    k.gru_cell_backward(dh_, gates, hn, h_prev_, dxw, dhw, dh_direct)
    dxw, dhw = host(dxw), host(dhw)
    np.testing.assert_allclose(dxw @ Wx.T, dx, **TOL)
    np.testing.assert_allclose(host(dh_direct) + dhw @ Wh.T, dh_prev, **TOL)
    np.testing.assert_allclose(x_t.T @ dxw, dWx, **TOL)
    np.testing.assert_allclose(h_prev.T @ dhw, dWh, **TOL)
    np.testing.assert_allclose(dxw.sum(axis=0), dbx, **TOL)
    np.testing.assert_allclose(dhw.sum(axis=0), dbh, **TOL)


# ---------------------------------------------------------------- whole layers: both paths agree
@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU], ids=lambda c: c.__name__)
@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (4, 6, 3, 5), (3, 9, 7, 19)])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "initial-state"])
def test_plain_and_fused_layers_agree_in_float64(cell, N, T, D, H, return_sequences, with_state):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, T, D))
    state = None
    if with_state:
        state = rng.standard_normal((N, H))
        state = (state, rng.standard_normal((N, H))) if cell is LSTM else state
    results = {}
    previous = backend.current()
    try:
        for tier in ("numpy", "numba"):
            backend.use(tier)
            mdl.seed(5)
            layer = cell(H, return_sequences=return_sequences)
            layer.build((T, D), dtype=np.float64)
            for p in layer.params.values():  # non-trivial biases
                p[...] += 0.3 * np.random.default_rng(6).standard_normal(p.shape)
            y = layer.forward(x, initial_state=state)
            dy = np.random.default_rng(7).standard_normal(y.shape)
            dx = layer.backward(dy)
            state_grad = layer.initial_state_grad
            results[tier] = dict(y=y, dx=dx, **{"d" + k: g.copy() for k, g in layer.grads.items()})
            if with_state:
                for i, g in enumerate(state_grad if cell is LSTM else (state_grad,)):
                    results[tier][f"dstate{i}"] = g
            else:
                assert state_grad is None
    finally:
        backend.use(previous)
    assert results["numpy"].keys() == results["numba"].keys()
    for key, plain in results["numpy"].items():
        assert plain.dtype == np.float64, f"{key}: expected float64, got {plain.dtype}"
        np.testing.assert_allclose(results["numba"][key], plain, rtol=1e-10, atol=1e-12, err_msg=key)


def _steps_along_the_sequence(cell, layer, x, dy):
    """The layer's forward and backward written with the plain step functions: y, dx, grads."""
    p, (N, T, _), H = layer.params, x.shape, layer.units
    h, c, caches, ys = np.zeros((N, H)), np.zeros((N, H)), [], []
    for t in range(T):
        if cell is LSTM:
            h, c, cache = lstm_step_forward(x[:, t], h, c, p["Wx"], p["Wh"], p["b"])
        elif cell is GRU:
            h, cache = gru_step_forward(x[:, t], h, p["Wx"], p["Wh"], p["bx"], p["bh"])
        else:
            h, cache = rnn_step_forward(x[:, t], h, p["Wx"], p["Wh"], p["b"])
        ys.append(h)
        caches.append(cache)
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    names = {LSTM: ("Wx", "Wh", "b"), GRU: ("Wx", "Wh", "bx", "bh"), SimpleRNN: ("Wx", "Wh", "b")}[cell]
    dx, dh, dc = np.zeros_like(x), np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dh = dh + dy[:, t]
        if cell is LSTM:
            dx[:, t], dh, dc, *step_grads = lstm_step_backward(dh, dc, caches[t])
        elif cell is GRU:
            dx[:, t], dh, *step_grads = gru_step_backward(dh, caches[t])
        else:
            dx[:, t], dh, *step_grads = rnn_step_backward(dh, caches[t])
        for name, g in zip(names, step_grads):
            grads[name] += g
    return np.stack(ys, axis=1), dx, grads


@pytest.mark.parametrize(
    "tier",
    ["numpy", "numba"],
)
@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU], ids=lambda c: c.__name__)
def test_the_layer_equals_the_plain_steps_along_the_sequence(tier, cell):
    """What the student reads (the steps) is what the layer computes, on every tier."""
    rng = np.random.default_rng(8)
    N, T, D, H = 3, 5, 4, 6
    x, dy = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, H))
    previous = backend.current()
    backend.use(tier)
    try:
        mdl.seed(1)
        layer = cell(H, return_sequences=True)
        layer.build((T, D), dtype=np.float64)
        y = layer.forward(x, training=True)
        dx = layer.backward(dy)
    finally:
        backend.use(previous)
    y_steps, dx_steps, grads_steps = _steps_along_the_sequence(cell, layer, x, dy)
    np.testing.assert_allclose(y, y_steps, **TOL)
    np.testing.assert_allclose(dx, dx_steps, **TOL)
    for name, grad in grads_steps.items():
        np.testing.assert_allclose(layer.grads[name], grad, err_msg=name, **TOL)


# ---------------------------------------------------------------- plain steps vs finite differences
@pytest.mark.parametrize("N, D, H", SHAPES)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "initial-state"])
def test_lstm_step_gradients_match_finite_differences(N, D, H, with_state):
    x_t, h_prev, c_prev, Wx, Wh, b, _ = step_inputs(N, D, H, 4, with_state, seed=2)
    x_t /= 3  # keep the gates away from saturation, where finite differences lose digits
    dh, dc = upstream(N, H, seed=3)
    inputs = [x_t, h_prev, c_prev, Wx, Wh, b]

    def scalar():
        h, c, _ = lstm_step_forward(*inputs)
        return float(np.sum(h * dh) + np.sum(c * dc))

    _, _, cache = lstm_step_forward(*inputs)
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(dh, dc, cache)
    for name, analytic, wrt in [
        ("x_t", dx, x_t),
        ("h_prev", dh_prev, h_prev),
        ("c_prev", dc_prev, c_prev),
        ("Wx", dWx, Wx),
        ("Wh", dWh, Wh),
        ("b", db, b),
    ]:
        error = rel_error(analytic, numerical_gradient(scalar, wrt))
        assert error < 1e-7, f"lstm_step_backward d{name}: relative error {error:.1e}, expected < 1e-7"


@pytest.mark.parametrize("N, D, H", SHAPES)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "initial-state"])
def test_gru_step_gradients_match_finite_differences(N, D, H, with_state):
    x_t, h_prev, _, Wx, Wh, bx, bh = step_inputs(N, D, H, 3, with_state, seed=2)
    x_t /= 3
    dh, _ = upstream(N, H, seed=3)
    inputs = [x_t, h_prev, Wx, Wh, bx, bh]

    def scalar():
        return float(np.sum(gru_step_forward(*inputs)[0] * dh))

    _, cache = gru_step_forward(*inputs)
    dx, dh_prev, dWx, dWh, dbx, dbh = gru_step_backward(dh, cache)
    for name, analytic, wrt in [
        ("x_t", dx, x_t),
        ("h_prev", dh_prev, h_prev),
        ("Wx", dWx, Wx),
        ("Wh", dWh, Wh),
        ("bx", dbx, bx),
        ("bh", dbh, bh),
    ]:
        error = rel_error(analytic, numerical_gradient(scalar, wrt))
        assert error < 1e-7, f"gru_step_backward d{name}: relative error {error:.1e}, expected < 1e-7"


@pytest.mark.parametrize("N, D, H", SHAPES)
def test_rnn_step_gradients_match_finite_differences(N, D, H):
    x_t, h_prev, _, Wx, Wh, b, _ = step_inputs(N, D, H, 1, True, seed=2)
    x_t /= 3
    dh, _ = upstream(N, H, seed=3)
    inputs = [x_t, h_prev, Wx, Wh, b]

    def scalar():
        return float(np.sum(rnn_step_forward(*inputs)[0] * dh))

    _, cache = rnn_step_forward(*inputs)
    dx, dh_prev, dWx, dWh, db = rnn_step_backward(dh, cache)
    for name, analytic, wrt in [
        ("x_t", dx, x_t),
        ("h_prev", dh_prev, h_prev),
        ("Wx", dWx, Wx),
        ("Wh", dWh, Wh),
        ("b", db, b),
    ]:
        error = rel_error(analytic, numerical_gradient(scalar, wrt))
        assert error < 1e-7, f"rnn_step_backward d{name}: relative error {error:.1e}, expected < 1e-7"


def sig(v):
    return 1 / (1 + np.exp(-v))


def test_lstm_step_follows_the_documented_equations():
    """A hand-computed 1-unit LSTM step: the gate blocks are [i | f | g | o]."""
    a = np.array([[0.5, -1.0, 2.0, 0.25]])  # pre-activations of i, f, g, o, with Wx = I, Wh = 0, b = 0
    c_prev = np.array([[3.0]])
    h, c, _ = lstm_step_forward(a, np.zeros((1, 1)), c_prev, np.eye(4), np.zeros((1, 4)), np.zeros(4))
    expected_c = sig(-1.0) * 3.0 + sig(0.5) * np.tanh(2.0)
    np.testing.assert_allclose(c, [[expected_c]], rtol=1e-14)
    np.testing.assert_allclose(h, [[sig(0.25) * np.tanh(expected_c)]], rtol=1e-14)


def test_gru_step_follows_the_documented_equations():
    """A hand-computed 1-unit GRU step: blocks [r | z | n], r gates h Wh_n + bh_n."""
    x = np.array([[0.5, -1.0, 2.0]])  # x Wx with Wx = I
    Wh = np.array([[0.2, 0.4, -0.6]])
    bx, bh = np.zeros(3), np.array([0.0, 0.0, 0.3])
    h_prev = np.array([[1.5]])
    r, z = sig(0.5 + 1.5 * 0.2), sig(-1.0 + 1.5 * 0.4)
    n = np.tanh(2.0 + r * (1.5 * -0.6 + 0.3))
    h, _ = gru_step_forward(x, h_prev, np.eye(3), Wh, bx, bh)
    np.testing.assert_allclose(h, [[(1 - z) * n + z * 1.5]], rtol=1e-14)
