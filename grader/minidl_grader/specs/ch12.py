"""Chapter 12, recurrent networks: BPTT over padded sequences, gradient clipping, an LSTM backward to repair."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "12_recurrent_networks"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---------------------------------------------------------------- BPTT over padded sequences
def rnn_bptt(dhs, xs, mask, h0, Wx, Wh, b):
    """Backpropagation through time for a tanh RNN over a batch of padded sequences.

    Forward, t = 1..T: n_t = tanh(x_t Wx + h_{t-1} Wh + b), h_t = m_t n_t + (1 - m_t) h_{t-1}
    with m_t = mask[t - 1] (N,) of 0.0 and 1.0: a padded step copies the state forward.
    dhs (T, N, H): dL/dh_t for every step, padded ones included; xs (T, N, D), h0 (N, H).
    Returns (dxs (T, N, D), dh0 (N, H), dWx, dWh, db)."""
    return _masked_bptt(dhs, xs, mask, h0, Wx, Wh, b)


def _masked_bptt(dhs, xs, mask, h0, Wx, Wh, b, *, copy_back=True, padded_loss=True, carry=True):
    hs, ns = [h0], []
    for x, m in zip(xs, mask):
        ns.append(np.tanh(x @ Wx + hs[-1] @ Wh + b))
        hs.append(m[:, None] * ns[-1] + (1.0 - m[:, None]) * hs[-1])
    dxs = np.zeros_like(xs)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        m = mask[t][:, None]
        dh = (dhs[t] if padded_loss else m * dhs[t]) + dh_next
        da = m * dh * (1.0 - ns[t] ** 2)
        dxs[t] = da @ Wx.T
        dWx += xs[t].T @ da
        dWh += hs[t].T @ da
        db += da.sum(axis=0)
        dh_next = da @ Wh.T + ((1.0 - m) * dh if copy_back else 0.0)
        if not carry and t > 0:
            dh_next = np.zeros_like(h0)
    return dxs, dh_next, dWx, dWh, db


def _unmasked_bptt(dhs, xs, mask, h0, Wx, Wh, b):
    """The mask ignored: every step computed as a real one."""
    return _masked_bptt(dhs, xs, np.ones_like(mask), h0, Wx, Wh, b)


def _bptt_cases(rng):
    cases = []
    # lengths per sequence: padded at the end; one case all real, one with a sequence of
    # length 0 (only padding), one step of one sample, and 80 steps; the last case masks
    # steps in the middle too (a padded step followed by real ones)
    for (t, d, h), lengths in (
        ((4, 2, 3), (4, 2, 1)),
        ((6, 3, 4), (3, 6)),
        ((5, 2, 3), (5, 5, 5)),
        ((4, 3, 2), (0, 4, 2)),
        ((1, 2, 3), (1,)),
        ((80, 2, 3), (80, 37)),
        ((6, 2, 3), ((1, 0, 1, 1, 0, 0), (0, 1, 1, 0, 1, 1), (1, 1, 0, 0, 1, 0))),
    ):
        n = len(lengths)
        if isinstance(lengths[0], tuple):  # the mask itself, sequence by sequence
            mask = np.array(lengths, dtype=np.float64).T
        else:
            mask = (np.arange(t)[:, None] < np.array(lengths)[None, :]).astype(np.float64)
        cases.append(
            Case(
                (
                    rng.standard_normal((t, n, h)),
                    rng.standard_normal((t, n, d)),
                    mask,
                    rng.standard_normal((n, h)) * 0.5,
                    rng.standard_normal((d, h)) * 0.5,
                    rng.standard_normal((h, h)) * 0.5,
                    rng.standard_normal(h) * 0.2,
                ),
                label=f"T={t} steps, "
                + (
                    "steps masked in the middle of the sequences"
                    if isinstance(lengths[0], tuple)
                    else f"sequence lengths {list(lengths)}"
                )
                + f", input {d}, hidden {h}",
            )
        )
    return cases


function_exercise(
    "rnn_bptt",
    CHAPTER,
    3,
    "rnn_bptt",
    "Backpropagation through time over padded sequences",
    _bptt_cases,
    rnn_bptt,
    ("dxs", "dh0", "dWx", "dWh", "db"),
    mistakes=(
        (
            "on a padded step the state is copied forward; going backward, what does a copy do "
            "with the gradient that reaches it?",
            lambda *a: _masked_bptt(*a, copy_back=False),
        ),
        (
            "the loss at a padded step still depends on the weights: through the state that the "
            "padding copied",
            lambda *a: _masked_bptt(*a, padded_loss=False),
        ),
        (
            "the padded steps are computed as real ones: they must neither change the state nor "
            "receive gradient through tanh",
            _unmasked_bptt,
        ),
        (
            "h_t feeds the next step too: dL/dh_t is more than dhs[t]",
            lambda *a: _masked_bptt(*a, carry=False),
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
        "rnn_bptt > _masked_bptt: augassign: d* += *": "dWx, dWh and db are the function's own accumulators "
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


def _lstm_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b, *, through_h, tanh_g=True, forget=True):
    a_i, a_f, a_g, a_o = np.split(x @ Wx + h_prev @ Wh + b, 4, axis=1)
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
    c = f * c_prev + i * g
    tc = np.tanh(c)
    dc_total = dc + (dh * o * (1 - tc**2) if through_h else 0.0)
    # first the gradients with respect to the gate values, then through their nonlinearities
    d_i, d_f, d_g, d_o = dc_total * g, dc_total * c_prev, dc_total * i, dh * tc
    local_g = 1 - g**2 if tanh_g else g * (1 - g)
    da = np.hstack([d_i * i * (1 - i), d_f * f * (1 - f), d_g * local_g, d_o * o * (1 - o)])
    dc_prev = dc_total * f if forget else dc_total
    return (da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0))


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
    "A broken LSTM step backward, repaired",
    lambda rng: _lstm_cases(rng, True),
    lstm_step_backward,
    ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"),
    mistakes=(
        (
            "c reaches the loss by more than one road: which of the step's outputs is computed from c?",
            lambda *args: _lstm_backward(*args, through_h=False),
        ),
        (
            "each gate's local derivative belongs to its own nonlinearity: which of the four is not a sigmoid?",
            lambda *args: _lstm_backward(*args, through_h=True, tanh_g=False),
        ),
        (
            "c_prev reaches c through a product: what multiplies it in c = f * c_prev + i * g?",
            lambda *args: _lstm_backward(*args, through_h=True, forget=False),
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
    ("size_one", "non_square", "long_sequence", "left_and_right_padding"),
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
