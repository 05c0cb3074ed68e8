"""Chapter 11, recurrent networks: BPTT over a sequence, gradient clipping, LSTM cell backward."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "11_recurrent_networks"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---------------------------------------------------------------- BPTT over a sequence
def rnn_bptt(dhs, xs, h0, Wx, Wh, b):
    """Backpropagation through time for h_t = tanh(x_t Wx + h_{t-1} Wh + b), t = 1..T.

    dhs (T, N, H): dL/dh_t from the loss at each step; xs (T, N, D), h0 (N, H).
    Returns (dxs (T, N, D), dh0 (N, H), dWx, dWh, db)."""
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(x @ Wx + hs[-1] @ Wh + b))
    dxs = np.zeros_like(xs)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        da = (dhs[t] + dh_next) * (1.0 - hs[t + 1] ** 2)
        dxs[t] = da @ Wx.T
        dWx += xs[t].T @ da
        dWh += hs[t].T @ da
        db += da.sum(axis=0)
        dh_next = da @ Wh.T
    return dxs, dh_next, dWx, dWh, db


def _bptt_cases(rng):
    cases = []
    # the last two: one step of one sample, and 80 steps (the gradient flows back through all)
    for t, n, d, h in ((4, 3, 2, 3), (6, 2, 3, 4), (1, 1, 2, 3), (80, 2, 2, 3)):
        cases.append(
            Case(
                (
                    rng.standard_normal((t, n, h)),
                    rng.standard_normal((t, n, d)),
                    rng.standard_normal((n, h)) * 0.5,
                    rng.standard_normal((d, h)) * 0.5,
                    rng.standard_normal((h, h)) * 0.5,
                    rng.standard_normal(h) * 0.2,
                ),
                label=f"T={t} steps, batch {n}, input {d}, hidden {h}",
            )
        )
    return cases


def _bptt_no_carry(dhs, xs, h0, Wx, Wh, b):
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(x @ Wx + hs[-1] @ Wh + b))
    das = [dhs[t] * (1.0 - hs[t + 1] ** 2) for t in range(len(xs))]
    return (
        np.stack([da @ Wx.T for da in das]),
        das[0] @ Wh.T,
        sum(x.T @ da for x, da in zip(xs, das)),
        sum(hp.T @ da for hp, da in zip(hs, das)),
        sum(da.sum(axis=0) for da in das),
    )


function_exercise(
    "rnn_bptt",
    CHAPTER,
    3,
    "rnn_bptt",
    "Backpropagation through time over a whole sequence",
    _bptt_cases,
    rnn_bptt,
    ("dxs", "dh0", "dWx", "dWh", "db"),
    mistakes=(
        (
            "the gradient that flows back from step t+1 into h_t is missing: h_t feeds the "
            "next step too, so dL/dh_t = dhs[t] + (what comes back from step t+1)",
            _bptt_no_carry,
        ),
    ),
    forbids=(
        "minidl.nn.layers.SimpleRNN",
        "minidl.nn.layers.recurrent",
        "minidl.kernels",
        "minidl.nn.gradcheck",
    ),
    dtypes="float64",
    equivalent_mutants={
        "rnn_bptt: augassign: d* += *": "dWx, dWh and db are the function's own accumulators "
        "(np.zeros_like): += and = + add the same",
    },
)


# ---------------------------------------------------------------- clipping
def clip_by_global_norm(grads, max_norm):
    """Scale every gradient by max_norm / ||all grads|| when that norm exceeds max_norm."""
    total = np.sqrt(sum(np.sum(g**2) for g in grads))
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    return [g * scale for g in grads]


def _clip_each(grads, max_norm):
    with np.errstate(divide="ignore", invalid="ignore"):  # gradients of norm 0: NaN, as a student's
        return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads]


def _clip_always(grads, max_norm):
    total = np.sqrt(sum(np.sum(g**2) for g in grads))
    with np.errstate(divide="ignore", invalid="ignore"):
        return [g * max_norm / total for g in grads]


def _clip_cases(rng):
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4), rng.standard_normal((2, 2))]
    small = [g * 0.01 for g in grads]
    total = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [
        Case((grads, 1.0), label="3 gradients with a global norm above max_norm=1.0"),
        Case((small, 1.0), label="3 gradients with a global norm below max_norm=1.0"),
        Case(
            ([g * 0.8 / total for g in grads], 0.5),
            label="a global norm of 0.8 above max_norm=0.5 (both below 1)",
        ),
        Case(([g * 2.0 for g in grads], 2.5), label="3 gradients, max_norm=2.5 (not 1)"),
        Case(([np.zeros_like(g) for g in grads], 1.0), label="gradients that are all 0 (norm 0)"),
    ]


function_exercise(
    "clip_by_global_norm",
    CHAPTER,
    1,
    "clip_by_global_norm",
    "Gradient clipping by global norm",
    _clip_cases,
    clip_by_global_norm,
    ("grads[0]", "grads[1]", "grads[2]"),
    mistakes=(
        ("each gradient is clipped on its own; the norm is over all gradients together", _clip_each),
        ("gradients below the limit must be left unchanged (scale = min(1, max_norm / norm))", _clip_always),
    ),
    forbids=("minidl.nn.optim",),
    fresh_outputs=True,
    equivalent_mutants={
        "clip_by_global_norm: compare: total > 0 -> total >= 0": "at total = 0 every gradient is 0: "
        "any finite scale (max_norm / 0 = inf is capped at 1) leaves them 0",
        "clip_by_global_norm: const: 1.0 -> 2.0": "the else branch: total = 0, every gradient is 0, "
        "and any scale leaves them 0",
        "clip_by_global_norm: const: 1.0 -> 0.0": "the else branch: total = 0, every gradient is 0, "
        "and any scale leaves them 0",
        "clip_by_global_norm: const: 0 -> -1": "total is a norm: > -1 is > 0 but at 0, where the "
        "gradients are 0 whatever the scale",
    },
    dtypes="float64",
)


# ---------------------------------------------------------------- LSTM
def lstm_step_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b):
    """Gradients of one LSTM step, given dL/dh and dL/dc from later steps.

    Returns (dx, dh_prev, dc_prev, dWx, dWh, db).
    """
    return _lstm_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b, through_h=True)


def _lstm_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b, *, through_h):
    a_i, a_f, a_g, a_o = np.split(x @ Wx + h_prev @ Wh + b, 4, axis=1)
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
    c = f * c_prev + i * g
    tc = np.tanh(c)
    dc_total = dc + (dh * o * (1 - tc**2) if through_h else 0.0)
    # first the gradients with respect to the gate values, then through their nonlinearities
    d_i, d_f, d_g, d_o = dc_total * g, dc_total * c_prev, dc_total * i, dh * tc
    da = np.hstack([d_i * i * (1 - i), d_f * f * (1 - f), d_g * (1 - g**2), d_o * o * (1 - o)])
    return (da @ Wx.T, da @ Wh.T, dc_total * f, x.T @ da, h_prev.T @ da, da.sum(axis=0))


def _lstm_cases(rng, backward):
    cases = []
    for n, d, h in ((3, 4, 2), (2, 3, 5), (1, 3, 1)):  # the last: one sample, one hidden unit
        args: tuple = (
            rng.standard_normal((n, d)),
            rng.standard_normal((n, h)),
            rng.standard_normal((n, h)),
            rng.standard_normal((d, 4 * h)) * 0.5,
            rng.standard_normal((h, 4 * h)) * 0.5,
            rng.standard_normal(4 * h) * 0.5,
        )
        if backward:
            args = (rng.standard_normal((n, h)), rng.standard_normal((n, h))) + args
        cases.append(Case(args, label=f"batch {n}, input size {d}, hidden size {h}"))
    return cases


function_exercise(
    "lstm_step_backward",
    CHAPTER,
    3,
    "lstm_step_backward",
    "One LSTM step, backward",
    lambda rng: _lstm_cases(rng, True),
    lstm_step_backward,
    ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"),
    mistakes=(
        (
            "the gradient reaching c through h = o * tanh(c) is missing: "
            "dc_total = dc + dh * o * (1 - tanh(c)**2)",
            lambda *args: _lstm_backward(*args, through_h=False),
        ),
    ),
    forbids=("minidl.nn.layers.LSTM", "minidl.nn.layers.recurrent", "minidl.kernels", "minidl.nn.gradcheck"),
    dtypes="float64",
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_SATURATES = "tanh and sigmoid saturate without overflow: a large input only zeroes a gradient"
declare_edges(
    "rnn_bptt",
    ("size_one", "non_square", "long_sequence"),
    {"empty": "the task takes at least one step of at least one sample", "extreme_magnitude": _SATURATES},
)
declare_edges(
    "clip_by_global_norm",
    ("non_square", "varied_settings"),
    {
        "empty": "the outputs are the three gradients of one model: the list's length is fixed",
        "size_one": "the outputs are the three gradients of one model: the list's length is fixed",
        "ties": "the one comparison is of the global norm with max_norm, never of two entries",
        "long_sequence": "its loops run over the model's parameters, a few",
    },
)
declare_edges(
    "lstm_step_backward",
    ("size_one", "non_square"),
    {"empty": "the task takes at least one sample and one hidden unit", "extreme_magnitude": _SATURATES},
)
