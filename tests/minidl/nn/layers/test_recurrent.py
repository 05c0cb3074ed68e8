"""Recurrent layers (SimpleRNN, LSTM, GRU), Embedding and the recurrent-cell kernels.

* backprop through time against finite differences (float64), both kernel tiers;
* the initial-state gradient against finite differences;
* the Numba layer equal to the NumPy one in float32 (the cell kernels themselves are in the
  conformance table, tests/minidl/kernels/kernel_cases.py, with every other kernel);
* outputs and gradients equal to torch.nn.LSTM / torch.nn.GRU (skipped without torch);
* Embedding's scatter-add gradient; clear errors for bad inputs.
"""

import functools

import numpy as np
import pytest

import minidl as mdl
from minidl import backend
from minidl.nn.gradcheck import check_layer, numerical_gradient, rel_error
from minidl.nn.layers.embedding import Embedding
from minidl.nn.layers.recurrent import GRU, LSTM, SimpleRNN

TIERS = ["numpy", "numba"]
CELLS = [SimpleRNN, LSTM, GRU]


@pytest.fixture(params=TIERS)
def tier(request):
    previous = backend.current()
    backend.use(request.param)
    yield request.param
    backend.use(previous)


def random_state(cell, N, H, rng):
    """A random float64 initial state in the form the cell takes."""
    if cell is LSTM:
        return (rng.standard_normal((N, H)), rng.standard_normal((N, H)))
    return rng.standard_normal((N, H))


def state_arrays(state):
    return list(state) if isinstance(state, tuple) else [state]


def grad_arrays(grad):
    return list(grad) if isinstance(grad, tuple) else [grad]


# ---------------------------------------------------------------- backprop through time
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("T", [1, 7])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "initial-state"])
def test_bptt_matches_finite_differences(tier, cell, T, return_sequences, with_state):
    mdl.seed(0)
    rng = np.random.default_rng(1)
    N, D, H = 2, 3, 4
    layer = cell(H, return_sequences=return_sequences)
    x = rng.standard_normal((N, T, D))
    state = random_state(cell, N, H, rng) if with_state else None
    if with_state:  # check_layer calls forward(x, training); bind the state to it
        layer.forward = functools.partial(type(layer).forward, layer, initial_state=state)
    report = check_layer(layer, x)
    assert report.passed, str(report)

    if with_state:  # and the gradient with respect to the initial state itself
        dy = np.random.default_rng(2).standard_normal(layer.forward(x).shape)
        layer.backward(dy)
        for s, analytic in zip(state_arrays(state), grad_arrays(layer.initial_state_grad)):
            numeric = numerical_gradient(lambda: layer.forward(x), s, dy)
            assert rel_error(analytic, numeric) < 1e-6
    else:
        assert layer.initial_state_grad is None


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_numba_layer_equals_numpy_layer_in_float32(cell):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 12, 5)).astype(np.float32)
    dy = rng.standard_normal((8, 12, 16)).astype(np.float32)
    results = {}
    previous = backend.current()
    try:
        for name in ("numpy", "numba"):
            backend.use(name)
            mdl.seed(3)
            layer = cell(16, return_sequences=True)
            y = layer.forward(x)
            dx = layer.backward(dy)
            results[name] = [y, dx] + [layer.grads[k] for k in sorted(layer.grads)]
    finally:
        backend.use(previous)
    for a, b in zip(results["numpy"], results["numba"]):
        assert a.dtype == np.float32 and b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- against PyTorch
def _torch_pair(cell, D, H, seed):
    torch = pytest.importorskip("torch")
    mdl.seed(seed)
    ours = cell(H, return_sequences=True)
    ours.build((5, D), dtype=np.float64)
    rng = np.random.default_rng(seed)
    for p in ours.params.values():  # non-trivial biases, so their placement is tested too
        p[...] = rng.uniform(-0.5, 0.5, p.shape)
    ref = (torch.nn.LSTM if cell is LSTM else torch.nn.GRU)(D, H, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.from_numpy(ours.params["Wx"].T.copy()))
        ref.weight_hh_l0.copy_(torch.from_numpy(ours.params["Wh"].T.copy()))
        if cell is LSTM:  # our single bias is PyTorch's b_ih + b_hh: split it unevenly
            ref.bias_ih_l0.copy_(torch.from_numpy(0.3 * ours.params["b"]))
            ref.bias_hh_l0.copy_(torch.from_numpy(0.7 * ours.params["b"]))
        else:
            ref.bias_ih_l0.copy_(torch.from_numpy(ours.params["bx"]))
            ref.bias_hh_l0.copy_(torch.from_numpy(ours.params["bh"]))
    return torch, ours, ref


@pytest.mark.parametrize("cell", [LSTM, GRU], ids=lambda c: c.__name__)
def test_matches_torch_outputs_and_gradients(tier, cell):
    N, T, D, H = 3, 6, 4, 5
    torch, ours, ref = _torch_pair(cell, D, H, seed=7)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((N, T, D))
    dy = rng.standard_normal((N, T, H))
    state = random_state(cell, N, H, rng)

    y = ours.forward(x, initial_state=state)
    dx = ours.backward(dy)

    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s[None], requires_grad=True) for s in state_arrays(state)]
    yt, _ = ref(xt, tuple(st) if cell is LSTM else st[0])
    (yt * torch.from_numpy(dy)).sum().backward()

    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.grads["Wx"], ref.weight_ih_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.grads["Wh"], ref.weight_hh_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)
    if cell is LSTM:  # d/db_ih = d/db_hh = d/db
        np.testing.assert_allclose(ours.grads["b"], ref.bias_ih_l0.grad.numpy(), rtol=1e-9, atol=1e-12)
    else:
        np.testing.assert_allclose(ours.grads["bx"], ref.bias_ih_l0.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.grads["bh"], ref.bias_hh_l0.grad.numpy(), rtol=1e-9, atol=1e-12)
    for ours_g, s in zip(grad_arrays(ours.initial_state_grad), st):
        np.testing.assert_allclose(ours_g, s.grad.numpy()[0], rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- layer behaviour
@pytest.mark.parametrize("cell, blocks", [(SimpleRNN, 1), (LSTM, 4), (GRU, 3)], ids=["rnn", "lstm", "gru"])
def test_param_shapes_output_shapes_and_config(cell, blocks):
    layer = cell(6, return_sequences=True)
    y = layer.forward(np.zeros((2, 9, 3), np.float32))
    assert y.shape == (2, 9, 6) and y.dtype == np.float32
    assert layer.params["Wx"].shape == (3, blocks * 6) and layer.params["Wh"].shape == (6, blocks * 6)
    assert layer.compute_output_shape((9, 3)) == (9, 6)
    assert cell(6).compute_output_shape((9, 3)) == (6,)
    assert layer.get_config() == {
        "units": 6,
        "return_sequences": True,
        "name": None,
        "kernel_initializer": "glorot_uniform",
        "recurrent_initializer": "orthogonal",
    }
    # sequences of another length reuse the same weights
    assert layer.forward(np.zeros((2, 4, 3), np.float32)).shape == (2, 4, 6)


def test_lstm_forget_bias_starts_at_one_and_recurrent_kernel_is_orthogonal():
    layer = LSTM(5)
    layer.build((7, 3))
    b = layer.params["b"]
    np.testing.assert_array_equal(b[5:10], 1.0)
    np.testing.assert_array_equal(np.delete(b, np.s_[5:10]), 0.0)
    Wh = layer.params["Wh"].astype(np.float64)
    np.testing.assert_allclose(Wh @ Wh.T, np.eye(5), atol=1e-5)


def test_last_state_equals_last_step_of_sequence():
    mdl.seed(1)
    seq = GRU(4, return_sequences=True)
    x = np.random.default_rng(0).standard_normal((3, 5, 2)).astype(np.float32)
    y_seq = seq.forward(x)
    last = GRU(4)
    last.build((5, 2))
    for k in seq.params:
        last.params[k][...] = seq.params[k]
    np.testing.assert_allclose(last.forward(x), y_seq[:, -1], rtol=1e-6)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_a_batch_of_one_owns_its_output_and_input(tier, cell):
    """N = 1: the time-major copies (``swap_batch_time``) are copies, not views, so the output
    written in place, or the input changed, after the forward leaves the backward's gradients alone
    (a (1, T, D) array swapped to (T, 1, D) is C-contiguous without a copy)."""
    rng = np.random.default_rng(4)
    x, dy = rng.standard_normal((1, 6, 3)), rng.standard_normal((1, 6, 5))
    grads = []
    for spoil in (False, True):
        mdl.seed(2)
        layer = cell(5, return_sequences=True)
        inputs = x.copy()
        y = layer.forward(inputs, training=True)
        if spoil:
            y[...], inputs[...] = 7.0, -3.0
        dx = layer.backward(dy)
        grads.append([dx] + [layer.grads[k].copy() for k in sorted(layer.grads)])
    for clean, spoiled in zip(*grads):
        np.testing.assert_array_equal(spoiled, clean)


def test_lstm_trains_with_clipnorm_in_sequential():
    """An LSTM learns to output the mean of a sequence; clipnorm sees its gradients."""
    from minidl import layers as L
    from minidl import losses, optim

    mdl.seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 6, 1)).astype(np.float32)
    y = x.mean(axis=(1, 2))[:, None]
    model = mdl.Sequential([LSTM(8), L.Dense(1)])
    model.compile(optimizer=optim.Adam(0.02, clipnorm=0.5), loss=losses.MeanSquaredError())
    first = model.train_on_batch(x, y)
    for _ in range(25):
        last = model.train_on_batch(x, y)
    assert np.isfinite(last) and last < 0.3 * first


def test_embedding_lstm_dense_over_time_steps():
    """Embedding -> LSTM(return_sequences) -> Dense on (N, T, H) -> per-step logits."""
    from minidl import layers as L
    from minidl import losses, optim

    mdl.seed(0)
    ids = np.random.default_rng(0).integers(0, 7, (4, 5))
    model = mdl.Sequential([Embedding(7, 3), LSTM(6, return_sequences=True), L.Dense(7)])
    model.compile(optimizer=optim.SGD(0.1), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    assert model.forward(ids).shape == (4, 5, 7)
    losses_seen = [model.train_on_batch(ids, ids) for _ in range(12)]  # learn the identity
    assert losses_seen[-1] < losses_seen[0]


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_two_dimensional_input_is_a_clear_error(cell):
    with pytest.raises(ValueError, match=r"expected input \(N, T, features\), got shape \(64, 784\)"):
        cell(4).forward(np.zeros((64, 784), np.float32))


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_wrong_feature_size_is_a_clear_error(cell):
    layer = cell(4)
    layer.forward(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"expects 3 features per time step.*got shape \(2, 5, 8\)"):
        layer.forward(np.zeros((2, 5, 8), np.float32))


def test_bad_initial_state_is_a_clear_error():
    x = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, units\) = \(2, 4\), got shape \(3, 4\)"):
        GRU(4).forward(x, initial_state=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"pair \(h0, c0\)"):
        LSTM(4).forward(x, initial_state=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"c0 must have shape"):
        LSTM(4).forward(x, initial_state=(np.zeros((2, 4)), np.zeros((2, 5))))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="units must be a positive integer"):
        LSTM(0)
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        Embedding(-3, 4)


# ---------------------------------------------------------------- Embedding
def test_embedding_looks_up_rows():
    layer = Embedding(10, 3)
    ids = np.array([[1, 4, 4], [9, 0, 2]])
    y = layer.forward(ids)
    assert y.shape == (2, 3, 3)
    np.testing.assert_array_equal(y[1, 0], layer.params["W"][9])
    assert layer.compute_output_shape((3,)) == (3, 3)


def test_embedding_gradient_accumulates_repeated_ids():
    layer = Embedding(6, 2)
    ids = np.array([[1, 1, 3], [1, 5, 3]])
    layer.forward(ids)
    dy = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    assert layer.backward(dy) is None  # ids have no gradient
    dW = layer.grads["W"]
    np.testing.assert_array_equal(dW[1], dy[0, 0] + dy[0, 1] + dy[1, 0])
    np.testing.assert_array_equal(dW[3], dy[0, 2] + dy[1, 2])
    np.testing.assert_array_equal(dW[[0, 2, 4]], 0)
    report = check_layer(Embedding(6, 2), ids, wrt_input=False)
    assert report.passed, str(report)


def test_embedding_rejects_ids_outside_the_table():
    layer = Embedding(10, 3)
    with pytest.raises(ValueError, match=r"token id 12 outside the valid range \[0, 10\)"):
        layer.forward(np.array([[1, 12, 3]]))
    with pytest.raises(ValueError, match=r"token id -1 outside the valid range \[0, 10\)"):
        layer.forward(np.array([[1, -1]]))


def test_embedding_rejects_non_integer_ids_but_accepts_integral_floats():
    layer = Embedding(10, 3)
    with pytest.raises(
        TypeError, match=r"integer token ids, got dtype float32 with non-integer values \(e.g. 1.5\)"
    ):
        layer.forward(np.array([[1.5, 2.0]], np.float32))
    with pytest.raises(TypeError, match="integer token ids, got dtype <U1"):
        layer.forward(np.array([["a", "b"]]))
    y = layer.forward(np.array([[1.0, 2.0]], np.float32))  # what a float DataLoader batch looks like
    np.testing.assert_array_equal(y[0, 1], layer.params["W"][2])


def test_save_and_load_round_trip(tmp_path):
    from minidl import layers as L

    mdl.seed(0)
    model = mdl.Sequential(
        [
            Embedding(7, 3),
            GRU(5, return_sequences=True),
            SimpleRNN(4, return_sequences=True),
            LSTM(4),
            L.Dense(2),
        ],
        input_shape=(6,),
    )
    ids = np.random.default_rng(0).integers(0, 7, (3, 6))
    model.save(tmp_path / "model.npz")
    loaded = mdl.load_model(tmp_path / "model.npz")
    assert [type(layer).__name__ for layer in loaded.layers] == [
        "Embedding",
        "GRU",
        "SimpleRNN",
        "LSTM",
        "Dense",
    ]
    assert loaded.layers[1].return_sequences and not loaded.layers[3].return_sequences
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
