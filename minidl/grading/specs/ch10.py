"""Chapter 10, recurrent networks: SimpleRNN step forward and backward, LSTM cell forward and backward."""
import numpy as np

from ..registry import Case, function_exercise

CHAPTER = "10_recurrent_networks"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---------------------------------------------------------------- SimpleRNN
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """h = tanh(x Wx + h_prev Wh + b): x (N, D), h_prev (N, H), Wx (D, H), Wh (H, H), b (H,)."""
    return np.tanh(x @ Wx + h_prev @ Wh + b)


def rnn_step_backward(dh, x, h_prev, Wx, Wh, b):
    """Gradients of one tanh RNN step. Returns (dx, dh_prev, dWx, dWh, db)."""
    h = rnn_step_forward(x, h_prev, Wx, Wh, b)
    da = dh * (1.0 - h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def _rnn_grads_from(da, x, h_prev, Wx, Wh):
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def _rnn_cases(rng, with_dh):
    cases = []
    for n, d, h in ((4, 3, 5), (2, 6, 3)):
        args = (rng.standard_normal((n, d)), rng.standard_normal((n, h)),
                rng.standard_normal((d, h)) * 0.5, rng.standard_normal((h, h)) * 0.5,
                rng.standard_normal(h) * 0.5)
        if with_dh:
            args = (rng.standard_normal((n, h)),) + args
        cases.append(Case(args, label=f"batch {n}, input size {d}, hidden size {h}"))
    return cases


function_exercise(
    "rnn_step_forward", CHAPTER, 1, "rnn_step_forward", "One SimpleRNN step, forward",
    lambda rng: _rnn_cases(rng, False), rnn_step_forward, ("h",),
    mistakes=(("the recurrent term h_prev @ Wh is missing",
               lambda x, hp, Wx, Wh, b: np.tanh(x @ Wx + b)),
              ("the tanh is missing", lambda x, hp, Wx, Wh, b: x @ Wx + hp @ Wh + b)))


def _rnn_one_minus_h(dh, x, hp, Wx, Wh, b):
    h = rnn_step_forward(x, hp, Wx, Wh, b)
    return _rnn_grads_from(dh * (1.0 - h), x, hp, Wx, Wh)


def _rnn_no_tanh_grad(dh, x, hp, Wx, Wh, b):
    return _rnn_grads_from(dh, x, hp, Wx, Wh)


function_exercise(
    "rnn_step_backward", CHAPTER, 3, "rnn_step_backward", "One SimpleRNN step, backward",
    lambda rng: _rnn_cases(rng, True), rnn_step_backward, ("dx", "dh_prev", "dWx", "dWh", "db"),
    mistakes=(("the derivative of tanh is 1 - h**2, not 1 - h", _rnn_one_minus_h),
              ("the derivative of tanh is missing: multiply dh by 1 - h**2 first",
               _rnn_no_tanh_grad)))


# ---------------------------------------------------------------- LSTM
def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step; gate blocks of H columns in the order [i | f | g | o].

    i, f, o = sigmoid(...), g = tanh(...);  c = f c_prev + i g;  h = o tanh(c).
    Returns (h, c), each (N, H).
    """
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 3 * H:])
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    return o * np.tanh(c), c


def _lstm_ifog(x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    c = f * c_prev + i * g
    return o * np.tanh(c), c


def _lstm_no_tanh_c(x, h_prev, c_prev, Wx, Wh, b):
    h, c = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    H = h_prev.shape[1]
    o = _sigmoid((x @ Wx + h_prev @ Wh + b)[:, 3 * H:])
    return o * c, c


def lstm_step_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b):
    """Gradients of one LSTM step, given dL/dh and dL/dc from later steps.

    Returns (dx, dh_prev, dc_prev, dWx, dWh, db).
    """
    return _lstm_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b, through_h=True)


def _lstm_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b, through_h):
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 3 * H:])
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    tc = np.tanh(c)
    dc_total = dc + (dh * o * (1 - tc ** 2) if through_h else 0.0)
    da = np.concatenate([dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f),
                         dc_total * i * (1 - g ** 2), dh * tc * o * (1 - o)], axis=1)
    return (da @ Wx.T, da @ Wh.T, dc_total * f, x.T @ da, h_prev.T @ da, da.sum(axis=0))


def _lstm_cases(rng, backward):
    cases = []
    for n, d, h in ((3, 4, 2), (2, 3, 5)):
        args = (rng.standard_normal((n, d)), rng.standard_normal((n, h)),
                rng.standard_normal((n, h)), rng.standard_normal((d, 4 * h)) * 0.5,
                rng.standard_normal((h, 4 * h)) * 0.5, rng.standard_normal(4 * h) * 0.5)
        if backward:
            args = (rng.standard_normal((n, h)), rng.standard_normal((n, h))) + args
        cases.append(Case(args, label=f"batch {n}, input size {d}, hidden size {h}"))
    return cases


function_exercise(
    "lstm_step_forward", CHAPTER, 2, "lstm_step_forward", "One LSTM step, forward",
    lambda rng: _lstm_cases(rng, False), lstm_step_forward, ("h", "c"),
    mistakes=(("the gate blocks are taken in the order [i | f | o | g]; this chapter uses "
               "[i | f | g | o] (as PyTorch and Keras)", _lstm_ifog),
              ("h = o * tanh(c): the tanh on the cell state is missing", _lstm_no_tanh_c)))

function_exercise(
    "lstm_step_backward", CHAPTER, 3, "lstm_step_backward", "One LSTM step, backward",
    lambda rng: _lstm_cases(rng, True), lstm_step_backward,
    ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"),
    mistakes=(("the gradient reaching c through h = o * tanh(c) is missing: "
               "dc_total = dc + dh * o * (1 - tanh(c)**2)",
               lambda *args: _lstm_backward(*args, through_h=False)),))


# ---------------------------------------------------------------- questions
# Graded like the code exercises; the answers and the explanations stay here, in the
# grader's process (see questions.py).
from ..questions import multiple_choice, number_question, shape_question  # noqa: E402

multiple_choice(
    "lstm_cell_path", CHAPTER, 1, "Why the LSTM's cell path eases vanishing gradients",
    choices={"a": "the LSTM uses tanh, whose derivative is larger than the sigmoid's",
             "b": "dc_{t-1} = f_t * dc_t: along the cell the gradient is scaled by the forget gate, "
                  "not multiplied by Wh and a tanh derivative at every step",
             "c": "it has four times the parameters of a SimpleRNN",
             "d": "the LSTM clips its gradients internally"},
    answer="b",
    wrong={"a": "the SimpleRNN uses tanh too, and its gradient still vanishes: it is multiplied by "
                "Wh and tanh' at every step, which shrinks it geometrically",
           "c": "more parameters do not change how a gradient flows back through time; the "
                "structure of the path does",
           "d": "nothing is clipped inside the layer (clipping is an optimizer option, clipnorm, "
                "and it fights *exploding* gradients, not vanishing ones)"},
    explanation="c' = f c + i g is additive: with f near 1 the gradient crosses many steps almost "
                "unchanged, as in a residual connection.")

shape_question(
    "lstm_output_shape", CHAPTER, 1, "The output of an LSTM that returns sequences",
    shape=(16, 20, 32), axes="(N, T, H)",
    mistakes={(16, 32): "that is return_sequences=False, the last step only; with True every step's h is returned",
              (16, 20, 128): "4H = 128 is the width of the stacked gates inside the layer; the output is h, of width H",
              (20, 16, 32): "minidl is batch-first, (N, T, D) in and (N, T, H) out",
              (16, 20, 8): "the output width is the number of units, not the input's feature count"},
    hint="one hidden state of width units for every time step of every sample",
    explanation="(16, 20, 32): return_sequences=True keeps h_t for every t.")
