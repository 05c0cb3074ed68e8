"""Chapter 12, attention: sliding-window attention, ALiBi-biased attention, attention with
rotary position embeddings, the backward of causal attention (dq, dk, dv); questions on the
1/sqrt(d) scale and on a causal mask applied after the softmax."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "12_attention"


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
    # scores near -1500 .. 1500, one level per query: exp overflows unless each row's own
    # maximum goes first (the batch's maximum underflows the rows below it to 0 / 0)
    n, t, d, dv = 1, 7, 4, 3
    q, k = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, d))
    q[..., 0] += np.linspace(-10.0, 10.0, t)
    k[..., 0] += 300.0
    value = extra(t)[-1]
    cases.append(
        Case(
            (q, k, rng.standard_normal((n, t, dv)), value),
            label=f"N={n}, T={t}, d={d}, dv={dv}, {value}, scores from -1500 to 1500 (a level per query)",
        )
    )
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
    dtypes="float64",
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
    dtypes="float64",
)


# ---------------------------------------------------------------- rotary position embeddings
def _rotate(x, base, sign=1.0, halves=False, exponent=2.0):
    """Rotate the feature pairs of x (N, T, d) by the angle t / base^(exponent i / d) of position t."""
    T, d = x.shape[1], x.shape[2]
    angle = np.arange(T)[:, None] / base ** (exponent * np.arange(d // 2) / d)  # (T, d/2)
    cos, sin = np.cos(angle), sign * np.sin(angle)
    first, second = (x[..., : d // 2], x[..., d // 2 :]) if halves else (x[..., 0::2], x[..., 1::2])
    out = np.empty_like(x)
    target = (slice(None, d // 2), slice(d // 2, None)) if halves else (slice(0, None, 2), slice(1, None, 2))
    out[..., target[0]] = first * cos - second * sin
    out[..., target[1]] = first * sin + second * cos
    return out


def rope_attention(q, k, v, base):
    """Causal attention on rotated queries and keys (RoPE, Su et al., 2021): the pair
    (x_2i, x_2i+1) of position t turned by the angle t / base^(2i / d). q, k (N, T, d), d even."""
    return _attend(_rotate(q, base), _rotate(k, base), v, np.tri(q.shape[1], dtype=bool)[None])


def _rope_with(causal=True, rotate_v=False, rotate_k=True, **rotation):
    def answer(q, k, v, base):
        T = q.shape[1]
        allowed = np.tri(T, dtype=bool)[None] if causal else np.ones((1, T, T), bool)
        values = _rotate(v, base, **rotation) if rotate_v else v
        keys = _rotate(k, base, **rotation) if rotate_k else k
        return _attend(_rotate(q, base, **rotation), keys, values, allowed)

    return answer


def _rope_cases(rng):
    cases = []
    for n, t, d, base in ((2, 5, 4, 10000.0), (1, 8, 6, 10.0), (2, 6, 8, 3.0)):
        args = tuple(rng.standard_normal((n, t, width)) for width in (d, d, d))
        cases.append(Case(args + (base,), label=f"N={n}, T={t}, d={d}, base={base}"))
    # long vectors: scores near 1000, where exp overflows unless each row's maximum goes first
    # (every query of norm sqrt(2000) and its key nearly parallel: q'_i . k'_i / 2 is near 1000 in every row)
    q = rng.standard_normal((1, 6, 4))
    q *= np.sqrt(2000.0) / np.linalg.norm(q, axis=-1, keepdims=True)
    q *= np.linspace(0.2, 1.0, 6)[:, None]  # rows at levels from 40 to 1000: each its own maximum
    k = q + rng.standard_normal((1, 6, 4))
    cases.append(
        Case(
            (q, k, rng.standard_normal((1, 6, 4)), 100.0),
            label="N=1, T=6, d=4, base=100, scores from 40 to 1000",
        )
    )
    return cases


function_exercise(
    "rope_attention",
    CHAPTER,
    2,
    "rope_attention",
    "Rotary position embeddings",
    _rope_cases,
    rope_attention,
    ("out",),
    mistakes=(
        (
            "the values are rotated too: RoPE turns only the queries and the keys, whose dot product "
            "then depends on i - j; the values carry content, not position",
            _rope_with(rotate_v=True),
        ),
        (
            "the keys are not rotated: only when both sides turn does q_i . k_j depend on the "
            "distance i - j rather than on the query's position alone",
            _rope_with(rotate_k=False),
        ),
        (
            "the rotation turns the wrong way: (x_2i, x_2i+1) -> (x_2i cos - x_2i+1 sin, "
            "x_2i sin + x_2i+1 cos), a turn by +angle",
            _rope_with(sign=-1.0),
        ),
        (
            "the pairs are neighbours (x_2i, x_2i+1), as in the chapter's sinusoidal table, not "
            "the two halves (x_i, x_i+d/2)",
            _rope_with(halves=True),
        ),
        (
            "pair i turns at the speed 1 / base^(2i / d), not 1 / base^(i / d)",
            _rope_with(exponent=1.0),
        ),
        ("the causal mask is missing: keys after the query get weight 0", _rope_with(causal=False)),
    ),
    forbids=("minidl.nn.layers.attention", "minidl.kernels"),
    catches=(
        "the base ignored (10000 always): the cases use bases 10000, 10, 3 and 100",
        "exp of the scores without the row maximum: NaN for scores near 1000",
    ),
    dtypes="float64",
    equivalent_mutants={
        "rope_attention > _rotate: arith: d // 2 -> d / 2": "d is even (the features come in "
        "pairs): arange(d / 2) holds the same numbers as arange(d // 2)",
    },
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
    q[..., 0] += np.linspace(-10.0, 10.0, t)  # a level per query, from about -1000 to 1000
    k[..., 0] += 300.0
    cases.append(
        Case(
            (rng.standard_normal((n, t, dv)), q, k, rng.standard_normal((n, t, dv)), True),
            label=f"N={n}, T={t}, d={d}, dv={dv}, causal=True, scores from -1000 to 1000",
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
    dtypes="float64",
)


# ---------------------------------------------------------------- questions
