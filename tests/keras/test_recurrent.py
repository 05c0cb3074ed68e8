"""The Keras door's SimpleRNN, LSTM and GRU (keras_door/minidl_keras/recurrent.py): masks,
``return_state``, ``zero_output_for_mask``, ``go_backwards``, dropout and recurrent dropout.

* a masked step carries every state over and repeats the previous output (zeros before the
  first real step, or zeros everywhere it is masked with ``zero_output_for_mask``);
* right padding gives what the unpadded sequence gives; gradients never reach padding;
* backprop through the masked steps, the final states and the initial state against float64
  finite differences, on both kernel tiers.
"""

import functools

import numpy as np
import pytest
from minidl_keras.recurrent import GRU, LSTM, SimpleRNN

import minidl as mdl
from minidl import backend
from minidl.nn.gradcheck import check_layer, numerical_gradient, rel_error

CELLS = [SimpleRNN, LSTM, GRU]
MASK = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 0, 1, 1, 0]], dtype=bool)  # right, left, holes


@pytest.fixture(params=["numpy", "numba"])
def tier(request):
    previous = backend.current()
    backend.use(request.param)
    yield request.param
    backend.use(previous)


def _layer(cell, **kwargs):
    mdl.seed(0)
    layer = cell(4, **kwargs)
    layer.build((5, 3), dtype=np.float64)
    return layer


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_right_padding_gives_the_unpadded_result(cell):
    rng = np.random.default_rng(0)
    layer = _layer(cell, return_sequences=True)
    x = rng.standard_normal((1, 5, 3))
    mask = np.array([[1, 1, 1, 0, 0]], dtype=bool)
    padded = layer.forward(x, mask=mask)
    alone = layer.forward(x[:, :3])
    np.testing.assert_allclose(padded[:, :3], alone, rtol=1e-12)
    np.testing.assert_allclose(padded[:, 3:], alone[:, [-1, -1]], rtol=1e-12)  # the last output repeated
    layer.return_sequences = False
    np.testing.assert_allclose(layer.forward(x, mask=mask), alone[:, -1], rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_leading_padding_outputs_zeros_and_keeps_the_initial_state(cell):
    rng = np.random.default_rng(1)
    layer = _layer(cell, return_sequences=True, return_state=True)
    x = rng.standard_normal((1, 5, 3))
    mask = np.array([[0, 0, 1, 1, 1]], dtype=bool)
    state = [rng.standard_normal((1, 4)) for _ in layer.state_names]
    y, *final = layer.forward(x, mask=mask, initial_state=state if cell is LSTM else state[0])
    np.testing.assert_array_equal(y[:, :2], 0)  # Keras: the carried output starts at zeros, not h0
    y_alone, *final_alone = layer.forward(x[:, 2:], initial_state=state if cell is LSTM else state[0])
    np.testing.assert_allclose(y[:, 2:], y_alone, rtol=1e-12)
    for a, b in zip(final, final_alone):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_zero_output_for_mask_zeroes_masked_outputs():
    rng = np.random.default_rng(2)
    layer = _layer(LSTM, return_sequences=True, zero_output_for_mask=True)
    y = layer.forward(rng.standard_normal((3, 5, 3)), mask=MASK)
    assert np.all((y == 0) == ~MASK[:, :, None].repeat(4, axis=2))


def test_a_mask_of_ones_changes_nothing(tier):
    rng = np.random.default_rng(3)
    for cell in CELLS:
        layer = _layer(cell, return_sequences=True)
        x = rng.standard_normal((3, 5, 3))
        np.testing.assert_allclose(
            layer.forward(x, mask=np.ones((3, 5), bool)), layer.forward(x), rtol=1e-10, atol=1e-12
        )


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("zero_output", [False, True], ids=["carried", "zeros"])
def test_masked_bptt_matches_finite_differences(tier, cell, return_sequences, zero_output):
    rng = np.random.default_rng(4)
    layer = _layer(cell, return_sequences=return_sequences, zero_output_for_mask=zero_output)
    x = rng.standard_normal((3, 5, 3))
    state = tuple(rng.standard_normal((3, 4)) for _ in layer.state_names)
    state = state if cell is LSTM else state[0]
    layer.forward = functools.partial(type(layer).forward, layer, mask=MASK, initial_state=state)
    report = check_layer(layer, x)
    assert report.passed, str(report)
    dy = np.random.default_rng(2).standard_normal(layer.forward(x).shape)
    dx = layer.backward(dy)
    assert np.all(dx[~MASK] == 0), "a masked step's input gets no gradient"
    grads = layer.initial_state_grad if cell is LSTM else (layer.initial_state_grad,)
    for s, analytic in zip(state if cell is LSTM else (state,), grads):
        numeric = numerical_gradient(lambda: layer.forward(x), s, dy)
        assert rel_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
def test_return_state_gradients_match_finite_differences(tier, cell, masked):
    """The final states' gradients (an encoder's states feeding a decoder) flow back."""
    rng = np.random.default_rng(5)
    layer = _layer(cell, return_sequences=True, return_state=True)
    x = rng.standard_normal((3, 5, 3))
    mask = MASK if masked else None
    outputs = layer.forward(x, mask=mask)
    dys = [rng.standard_normal(o.shape) for o in outputs]

    def scalar():
        return sum(float(np.sum(o * d)) for o, d in zip(layer.forward(x, mask=mask), dys))

    layer.forward(x, mask=mask)
    dx = layer.backward(dys)
    assert rel_error(dx, numerical_gradient(scalar, x)) < 1e-6
    for key, param in layer.params.items():
        assert rel_error(layer.grads[key].copy(), numerical_gradient(scalar, param)) < 1e-6, key
    layer.forward(x, mask=mask)
    dx_none = layer.backward([dys[0]] + [None] * len(layer.state_names))  # states the loss does not read
    layer.return_state = False
    layer.forward(x, mask=mask)
    np.testing.assert_allclose(dx_none, layer.backward(dys[0]), rtol=1e-12)


def test_bad_mask_is_a_clear_error():
    with pytest.raises(ValueError, match=r"mask must have shape \(N, T\) = \(3, 5\), got shape \(3, 4\)"):
        LSTM(4).forward(np.zeros((3, 5, 2)), mask=np.ones((3, 4), bool))


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
def test_go_backwards_reads_the_sequence_reversed_and_passes_a_gradient_check(cell):
    rng = np.random.default_rng(6)
    layer = _layer(cell, return_sequences=True, go_backwards=True)
    forwards = _layer(cell, return_sequences=True)
    x = rng.standard_normal((3, 5, 3))
    np.testing.assert_allclose(layer.forward(x, mask=MASK), forwards.forward(x[:, ::-1], mask=MASK[:, ::-1]))
    layer.forward = functools.partial(type(layer).forward, layer, mask=MASK)
    report = check_layer(layer, x)
    assert report.passed, str(report)


def test_keras_arguments_at_minidls_behaviour_are_accepted_and_others_say_so():
    layer = LSTM(4, activation="tanh", recurrent_activation="sigmoid", unroll=False, use_cudnn="auto")
    config = layer.get_config()  # Keras's keys, at the cell's values (use_cudnn: a speed hint, not kept)
    assert (config["activation"], config["unroll"], config["unit_forget_bias"]) == ("tanh", False, True)
    assert "use_cudnn" not in config and type(layer).from_config(config).get_config() == config
    GRU(4, reset_after=True, stateful=False, use_cudnn=False)
    with pytest.raises(
        NotImplementedError, match=r"keras.layers.SimpleRNN\(activation='relu'\) is not in minidl_keras"
    ):
        SimpleRNN(4, activation="relu")
    with pytest.raises(NotImplementedError, match="reset_after=True"):
        GRU(4, reset_after=False)
    with pytest.raises(TypeError, match="unexpected keyword"):
        LSTM(4, colour="blue")


# ------------------------------------------------------------------ dropout and recurrent_dropout
@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: LSTM(4, dropout=0.3, recurrent_dropout=0.4, return_sequences=True),
        lambda: LSTM(3, dropout=0.5),
        lambda: SimpleRNN(3, recurrent_dropout=0.5),
        lambda: GRU(3, dropout=0.4, return_sequences=True),
    ],
    ids=["lstm-both", "lstm-input", "rnn-recurrent", "gru-input"],
)
def test_dropout_gradients(make_layer, tier, rng):
    report = check_layer(make_layer(), rng.standard_normal((3, 5, 2)), training=True)
    assert report.passed, str(report)


def test_input_dropout_is_one_mask_per_sample_for_every_step(tier, rng):
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    layer = LSTM(5, dropout=0.5, return_sequences=True)
    layer.build((6, 3))
    mdl.seed(0)
    y = layer.forward(x, training=True)
    mdl.seed(0)
    mask = (mdl.backend.rng().random((4, 1, 3)) >= 0.5) / 0.5
    np.testing.assert_allclose(y, layer.forward((x * mask).astype(np.float32)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x))  # inference: no mask


def test_recurrent_dropout_masks_the_state_where_it_meets_wh(tier, rng):
    from minidl.nn.layers.recurrent import lstm_step_forward

    x = rng.standard_normal((4, 6, 3))
    layer = LSTM(5, recurrent_dropout=0.4, return_sequences=True)
    layer.build((6, 3), dtype=np.float64)
    mdl.seed(1)
    y = layer.forward(x, training=True)
    mdl.seed(1)
    mask = (mdl.backend.rng().random((4, 5)) >= 0.4) / 0.6
    h = c = np.zeros((4, 5))
    p = layer.params
    for t in range(6):
        h, c, _ = lstm_step_forward(x[:, t], h * mask, c, p["Wx"], p["Wh"], p["b"])
        np.testing.assert_allclose(y[:, t], h, rtol=1e-10)
    assert not np.allclose(y, layer.forward(x))
    with pytest.raises(ValueError, match="GRU has no recurrent_dropout.*use dropout="):
        GRU(3, recurrent_dropout=0.2)
    with pytest.raises(ValueError, match=r"dropout must be a fraction in \[0, 1\), got 1.5"):
        LSTM(3, dropout=1.5)
