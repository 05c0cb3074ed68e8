"""Chapter 17, attention: sliding-window attention, ALiBi-biased attention, the backward of a
softmax with a temperature, the backward of causal attention (dq, dk, dv); questions on the 1/sqrt(d) scale and the size of a KV cache."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "17_attention"


def _softmax_rows(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _attend(q, k, v, allowed, bias=0.0, scale=None):
    """softmax((q k^T) * scale + bias, over allowed keys) v, written without the library."""
    d = q.shape[-1]
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    scores = np.einsum("nid,njd->nij", q, k) * scale + bias
    scores = np.where(allowed, scores, -np.inf)
    return np.einsum("nij,njd->nid", _softmax_rows(scores), v)


def _window(T, window, causal=True):
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    return (j <= i) & (j > i - window) if causal else np.abs(i - j) < window


# ---------------------------------------------------------------- sliding-window attention
def sliding_window_attention(q, k, v, window):
    """Causal attention where query i sees keys j with i - window < j <= i.

    q, k (N, T, d), v (N, T, dv), window >= 1 -> (N, T, dv).
    """
    return _attend(q, k, v, _window(q.shape[1], window)[None])


def _attention_cases(rng, extra):
    cases = []
    for n, t, d, dv in ((2, 6, 4, 3), (1, 9, 8, 5)):
        args = (
            rng.standard_normal((n, t, d)),
            rng.standard_normal((n, t, d)),
            rng.standard_normal((n, t, dv)),
        )
        for value in extra(t):
            cases.append(Case(args + (value,), label=f"N={n}, T={t}, d={d}, dv={dv}, {value}"))
    return cases


function_exercise(
    "sliding_window_attention",
    CHAPTER,
    2,
    "sliding_window_attention",
    "Attention in a sliding window",
    lambda rng: _attention_cases(rng, lambda t: (1, 3, t)),
    sliding_window_attention,
    ("out",),
    mistakes=(
        (
            "the window is one key too wide: query i sees keys i - window + 1 .. i, which is "
            "`window` keys including itself",
            lambda q, k, v, w: _attend(q, k, v, _window(q.shape[1], w + 1)[None]),
        ),
        (
            "the window must also be causal: no key after the query",
            lambda q, k, v, w: _attend(q, k, v, _window(q.shape[1], w, causal=False)[None]),
        ),
        (
            "the scores are divided by sqrt(d) before the softmax",
            lambda q, k, v, w: _attend(q, k, v, _window(q.shape[1], w)[None], scale=1.0),
        ),
    ),
    forbids=("minidl.nn.layers.attention", "minidl.kernels"),
)


# ---------------------------------------------------------------- ALiBi
def alibi_attention(q, k, v, slope):
    """Causal attention with a linear distance penalty (ALiBi, Press et al., 2022):

    scores_ij = q_i . k_j / sqrt(d) - slope * (i - j)    for j <= i (others masked)
    """
    T = q.shape[1]
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    return _attend(q, k, v, (j <= i)[None], bias=-slope * (i - j))


def _alibi_sign(q, k, v, slope):
    T = q.shape[1]
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    return _attend(q, k, v, (j <= i)[None], bias=slope * (i - j))


def _alibi_not_causal(q, k, v, slope):
    T = q.shape[1]
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    return _attend(q, k, v, np.ones((1, T, T), bool), bias=-slope * np.abs(i - j))


function_exercise(
    "alibi_attention",
    CHAPTER,
    2,
    "alibi_attention",
    "Attention with a distance penalty (ALiBi)",
    lambda rng: _attention_cases(rng, lambda t: (0.5, 2.0)),
    alibi_attention,
    ("out",),
    mistakes=(
        (
            "the penalty has the wrong sign: far keys must get *lower* scores, "
            "-slope * (i - j) with i - j >= 0",
            _alibi_sign,
        ),
        ("the causal mask is missing: keys after the query must get weight 0", _alibi_not_causal),
    ),
    forbids=("minidl.nn.layers.attention", "minidl.kernels"),
)


# ---------------------------------------------------------------- softmax with a temperature
def softmax_temperature_backward(z, dp, tau):
    """dL/dz for p = softmax(z / tau) over the last axis, given dp = dL/dp; z, dp (N, K)."""
    p = _softmax_rows(z / tau)
    return p * (dp - (dp * p).sum(axis=-1, keepdims=True)) / tau


def _temperature_cases(rng):
    cases = [
        Case(
            (rng.standard_normal((n, k)) * 2, rng.standard_normal((n, k)), tau),
            label=f"N={n}, K={k}, tau={tau}",
        )
        for n, k, tau in ((3, 5, 1.0), (4, 7, 0.5), (2, 3, 3.0))
    ]
    # logits of a confident model at a low temperature: exp(z / tau) overflows unless the
    # row maximum is subtracted first
    cases.append(
        Case(
            (rng.standard_normal((3, 6)) * 300 + 500, rng.standard_normal((3, 6)), 0.5),
            label="N=3, K=6, logits near 500, tau=0.5 (exp(z / tau) overflows)",
        )
    )
    return cases


function_exercise(
    "softmax_temperature_backward",
    CHAPTER,
    2,
    "softmax_temperature_backward",
    "The backward of a softmax with a temperature",
    _temperature_cases,
    softmax_temperature_backward,
    ("dz",),
    mistakes=(
        (
            "the chain rule through z / tau is missing: divide by tau",
            lambda z, dp, tau: softmax_temperature_backward(z, dp, tau) * tau,
        ),
        (
            "only the diagonal of the Jacobian is used: p (1 - p) dp misses the -p_j p_k terms",
            lambda z, dp, tau: _softmax_rows(z / tau) * (1 - _softmax_rows(z / tau)) * dp / tau,
        ),
        (
            "p was computed as softmax(z), without the temperature",
            lambda z, dp, tau: _softmax_rows(z) * (dp - (dp * _softmax_rows(z)).sum(-1, keepdims=True)) / tau,
        ),
    ),
    factors=lambda z, dp, tau: {"tau": tau, "1/tau": 1 / tau},
    forbids=(
        "minidl.nn.layers.Softmax",
        "minidl.nn.layers.activations",
        "minidl.nn.layers.attention",
        "minidl.kernels",
        "minidl.nn.gradcheck",
    ),
    catches=("a softmax without the row maximum: NaN for logits near 500 at tau = 0.5",),
)


# ---------------------------------------------------------------- attention's backward
def attention_backward(dout, q, k, v, causal):
    """dq, dk, dv of out = softmax(q k^T / sqrt(d) + mask) v, the softmax over the keys.

    q, k (N, T, d), v (N, T, dv), dout (N, T, dv); ``causal``: query i sees keys j <= i.
    With S = q k^T / sqrt(d), P = softmax(S) and dP = dout v^T:
    dS = P * (dP - rowsum(P * dP)), dq = dS k / sqrt(d), dk = dS^T q / sqrt(d), dv = P^T dout.
    """
    return _attention_backward(dout, q, k, v, causal)


def _attention_backward(dout, q, k, v, causal, scale_in_backward=True, row_sum=True, mask=True, fix=None):
    d = q.shape[-1]
    T = q.shape[1]
    scale = 1.0 / np.sqrt(d)
    scores = np.einsum("nid,njd->nij", q, k) * scale
    if causal and mask:
        scores = np.where(np.tri(T, dtype=bool)[None], scores, -np.inf)
    P = _softmax_rows(scores)
    dP = np.einsum("nie,nje->nij", dout, v)
    dS = P * (dP - (P * dP).sum(axis=-1, keepdims=True)) if row_sum else P * dP
    back = scale if scale_in_backward else 1.0
    dq = np.einsum("nij,njd->nid", dS, k) * back
    dk = np.einsum("nij,nid->njd", dS, q) * back
    dv = np.einsum("nij,nie->nje", P, dout)
    if fix == "dk_not_transposed":
        dk = np.einsum("nij,njd->nid", dS, q) * back
    if fix == "dv_not_transposed":
        dv = np.einsum("nij,nje->nie", P, dout)
    return dq, dk, dv


def _attention_backward_cases(rng):
    cases = []
    for n, t, d, dv, causal, visibility in (
        (1, 4, 3, 2, True, "visible"),
        (2, 7, 8, 5, True, "hidden"),
        (2, 5, 4, 6, False, "hidden"),
    ):
        q, k = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, d))
        args = (rng.standard_normal((n, t, dv)), q, k, rng.standard_normal((n, t, dv)), causal)
        label = f"N={n}, T={t}, d={d}, dv={dv}, causal={causal}"
        cases.append(Case(args, label=label, visibility=visibility))
    # scores near 1000: the same offset for every key of a query (softmax and the gradients do
    # not change), so exp without the row maximum overflows while the answer stays well
    # conditioned (the rows of dS sum to 0, so the offset in k cancels in dS k)
    n, t, d, dv = 2, 6, 8, 3
    q, k = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, d))
    q[..., 0] += 10.0
    k[..., 0] += 300.0
    cases.append(
        Case(
            (rng.standard_normal((n, t, dv)), q, k, rng.standard_normal((n, t, dv)), True),
            label=f"N={n}, T={t}, d={d}, dv={dv}, causal=True, scores near 1000",
            visibility="hidden",
        )
    )
    return cases


function_exercise(
    "attention_backward",
    CHAPTER,
    3,
    "attention_backward",
    "The backward of causal scaled dot-product attention",
    _attention_backward_cases,
    attention_backward,
    ("dq", "dk", "dv"),
    mistakes=(
        (
            "the 1/sqrt(d) scale is missing in dq and dk: S = q k^T / sqrt(d), so the chain rule "
            "multiplies dS k and dS^T q by 1/sqrt(d) too",
            lambda dout, q, k, v, causal: _attention_backward(dout, q, k, v, causal, scale_in_backward=False),
        ),
        (
            "the softmax Jacobian's row sum is missing: dS = P * (dP - sum_j P dP), not P * dP "
            "(each p_j depends on every score of its row)",
            lambda dout, q, k, v, causal: _attention_backward(dout, q, k, v, causal, row_sum=False),
        ),
        (
            "masked positions receive gradient: with causal=True a query's future keys get "
            "weight 0 in the forward, so P (and dS) must be 0 there in the backward too",
            lambda dout, q, k, v, causal: _attention_backward(dout, q, k, v, causal, mask=False),
        ),
        (
            "dk is dS q; the keys are the columns of S, so dk = dS^T q / sqrt(d) (sum over the queries)",
            lambda dout, q, k, v, causal: _attention_backward(dout, q, k, v, causal, fix="dk_not_transposed"),
        ),
        (
            "dv is P dout; each value row j is used by every query i with weight P_ij, so dv = P^T dout",
            lambda dout, q, k, v, causal: _attention_backward(dout, q, k, v, causal, fix="dv_not_transposed"),
        ),
    ),
    factors=lambda dout, q, k, v, causal: {
        "sqrt(d)": np.sqrt(q.shape[-1]),
        "1/sqrt(d)": 1 / np.sqrt(q.shape[-1]),
    },
    forbids=("minidl.nn.layers.attention", "minidl.kernels", "minidl.nn.gradcheck"),
    catches=(
        "exp of the scores without the row maximum: NaN for scores near 1000 (hidden case)",
        "the non-causal case answered with the mask (causal ignored)",
    ),
)


# ---------------------------------------------------------------- questions
