"""Chapter 13, attention: one generation step of windowed ALiBi attention on a ring-buffer KV
cache, attention with rotary position embeddings, a broken backward of causal attention to
repair (dq, dk, dv, judged element by element against what each element is made of), corpus
chrF (Popovic, 2015) with its F-score derived from van Rijsbergen's definition of beta, a
teacher-forced loss to repair; questions on what a stale 1/sqrt(d) scale does, on a causal mask
applied after the softmax, on the BLEU of candidates that stop halfway and on why teacher-forced
accuracy overstates decoding."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "13_attention"


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


# ---------------------------------------------------------------- a windowed KV cache
def _cache_step(
    cache_k, cache_v, t, q, k, v, slope, write=True, seen=True, distance="ring", sign=-1.0, scale=True
):
    """One decoding step on a ring buffer of W slots (position p in slot p % W), with the
    ALiBi penalty; the keyword arguments switch on the named mistakes."""
    W = cache_k.shape[1]
    keys, values = cache_k.copy(), cache_v.copy()
    if write:
        keys[:, t % W], values[:, t % W] = k, v
    if distance == "ring":
        back = (t - np.arange(W)) % W  # (W,): how many steps ago each slot was written
    else:  # the mistake: the slot index taken as the position
        back = np.abs(t % W - np.arange(W))
    written = back <= t if seen else np.ones(W, dtype=bool)
    d = q.shape[-1]
    scores = np.einsum("nd,nsd->ns", q, keys) / (np.sqrt(d) if scale else 1.0) + sign * slope * back
    scores = np.where(written[None], scores, -np.inf)
    return np.einsum("ns,nse->ne", _softmax_rows(scores), values), keys, values


def windowed_cache_step(cache_k, cache_v, t, q, k, v, slope):
    """One generation step of causal attention over the last W positions with a distance
    penalty (ALiBi), on a KV cache kept as a ring buffer: position p lives in slot p % W.

    cache_k (N, W, d), cache_v (N, W, dv) hold positions t - W .. t - 1 (the slots of negative
    positions were never written); q, k (N, d), v (N, dv) are the token at position t.
    Returns (out (N, dv), the new cache_k, the new cache_v), the inputs left as they were.
    """
    return _cache_step(cache_k, cache_v, t, q, k, v, slope)


def _cache_cases(rng):
    cases = []
    for n, w, d, dv, t, slope in (
        (2, 4, 4, 3, 0, 0.5),  # the first token: only itself to see
        (1, 5, 8, 5, 2, 2.0),  # slots 3 and 4 never written
        (2, 4, 4, 3, 3, 0.5),  # the cache just full, not yet wrapped
        (3, 4, 6, 2, 9, 0.25),  # wrapped twice: slot order is not position order
        (1, 1, 4, 3, 5, 1.0),  # one slot: only the new token
        (2, 6, 4, 3, 13, 0.0),  # no penalty, wrapped
        (2, 5, 4, 4, 7, 1.5),
    ):
        cache_k, cache_v = rng.standard_normal((n, w, d)), rng.standard_normal((n, w, dv))
        unwritten = (t - np.arange(w)) % w > t  # slots whose position would be negative
        cache_k[:, unwritten] = 3.0 * rng.standard_normal((n, int(unwritten.sum()), d)) + 4.0
        cache_v[:, unwritten] = 100.0
        args = (
            cache_k,
            cache_v,
            t,
            rng.standard_normal((n, d)),
            rng.standard_normal((n, d)),
            rng.standard_normal((n, dv)),
            slope,
        )
        cases.append(Case(args, label=f"N={n}, W={w}, d={d}, dv={dv}, t={t}, slope={slope}"))
    # scores near -1500 .. 1500, one level per sample: exp overflows unless each row's own
    # maximum goes first (the batch's maximum underflows the rows below it to 0 / 0)
    n, w, d, dv, t = 3, 4, 4, 3, 6
    q, k = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    q[:, 0] += np.linspace(-10.0, 10.0, n)
    cache_k = rng.standard_normal((n, w, d))
    cache_k[..., 0] += 300.0
    k[:, 0] += 300.0
    args = (cache_k, rng.standard_normal((n, w, dv)), t, q, k, rng.standard_normal((n, dv)), 0.5)
    label = f"N={n}, W={w}, d={d}, dv={dv}, t={t}, slope=0.5, scores from -1500 to 1500 (a level per sample)"
    cases.append(Case(args, label=label))
    return cases


function_exercise(
    "windowed_cache_step",
    CHAPTER,
    3,
    "windowed_cache_step",
    "A step of windowed ALiBi attention on a ring-buffer KV cache",
    _cache_cases,
    windowed_cache_step,
    ("out", "cache_k", "cache_v"),
    mistakes=(
        (
            "the new token's key and value go into the cache (slot t % W) before the query "
            "attends: a query sees its own position",
            lambda ck, cv, t, q, k, v, m: _cache_step(ck, cv, t, q, k, v, m, write=False),
        ),
        (
            "slots never written (negative positions, while t < W - 1) hold no token: give them weight 0",
            lambda ck, cv, t, q, k, v, m: _cache_step(ck, cv, t, q, k, v, m, seen=False),
        ),
        (
            "a slot's index is not its position once the buffer has wrapped: the distance of the "
            "token in slot s is how many steps ago slot s was written",
            lambda ck, cv, t, q, k, v, m: _cache_step(ck, cv, t, q, k, v, m, distance="slot"),
        ),
        (
            "the penalty has the wrong sign: older keys must get *lower* scores",
            lambda ck, cv, t, q, k, v, m: _cache_step(ck, cv, t, q, k, v, m, sign=1.0),
        ),
        (
            "the scores are divided by sqrt(d) before the penalty and the softmax",
            lambda ck, cv, t, q, k, v, m: _cache_step(ck, cv, t, q, k, v, m, scale=False),
        ),
    ),
    forbids=("minidl.nn.layers.attention", "minidl.kernels"),
    catches=(
        "the new key written into the caller's cache (the inputs must stay as they were)",
        "exp of the scores without each row's maximum: overflow for scores near 1500",
    ),
    fresh_outputs=True,
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
    """dq, dk, dv of out = softmax(q k^T / sqrt(d) + mask) v, the softmax over the keys: the
    repair of a student's backward with four bugs (the task shows it), which a gradient check
    on q = 0 (every weight 1/T, non-causal) could not see.

    q, k (N, T, d), v (N, T, dv), dout (N, T, dv); ``causal``: query i sees keys j <= i.
    Judged element by element: |got - reference| <= 1e-6 times the sum of the magnitudes of
    the terms that make the element (``_attention_backward_scales``), so that rounding never
    fails a right answer where those terms cancel to a tiny gradient, and a wrong small row is
    not hidden by the large ones.
    """
    return _attention_backward(dout, q, k, v, causal)


def _attention_backward(dout, q, k, v, causal, scale_in_backward=True, row_sum=True, mask=True, fix=None):
    d = q.shape[-1]
    T = q.shape[1]
    scale = 1.0 / np.sqrt(d)
    scores = np.einsum("nid,njd->nij", q, k) * scale
    if causal and mask:
        scores = np.where(np.tri(T, dtype=bool)[None], scores, -np.inf if mask is True else 0.0)
    P = _softmax_rows(scores)
    dP = np.einsum("nie,nje->nij", dout, v)
    if row_sum == "mean":  # the student's bug: the plain mean of the row, not its P-weighted sum
        dS = P * (dP - dP.mean(axis=-1, keepdims=True))
    else:
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
        (3, 1, 4, 2, True, "hidden"),  # one position: every weight is 1
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
    # every row nearly one-hot (the best key ahead of the others by 80 or more): dq and dk are
    # near 1e-35 everywhere, made of terms near 1 that cancel, so two right answers that round
    # differently (P (dP - sum P dP) against the row's Jacobian diag(p) - p p^T times dP)
    # disagree in every digit: an error relative to the whole array would fail one of them
    n, t, d, dv = 2, 5, 8, 3
    k = rng.standard_normal((n, t, d))
    k *= 30.0 / np.linalg.norm(k, axis=-1, keepdims=True)  # |k_j| = 30, random directions
    q = k.copy()  # query i points at key i: its score 900 / sqrt(8), the others' well below
    cases.append(
        Case(
            (rng.standard_normal((n, t, dv)), q, k, rng.standard_normal((n, t, dv)), True),
            label=f"N={n}, T={t}, d={d}, dv={dv}, causal=True, every row nearly one-hot (gradients near 1e-35)",
            visibility="hidden",
        )
    )
    return cases


def _attention_backward_scales(dout, q, k, v, causal):
    """Per element of dq, dk, dv, the sum of the magnitudes of the terms that add up to it:
    |dS| is bounded by P (|dP| + sum_l P |dP_l|), and each product sums |factor| |factor|."""
    d, T = q.shape[-1], q.shape[1]
    scores = np.einsum("nid,njd->nij", q, k) / np.sqrt(d)
    if causal:
        scores = np.where(np.tri(T, dtype=bool)[None], scores, -np.inf)
    P = _softmax_rows(scores)
    dP = np.abs(np.einsum("nie,nje->nij", dout, v))
    size = P * (dP + (P * dP).sum(axis=-1, keepdims=True))
    return (
        np.einsum("nij,njd->nid", size, np.abs(k)) / np.sqrt(d),
        np.einsum("nij,nid->njd", size, np.abs(q)) / np.sqrt(d),
        np.einsum("nij,nie->nje", P, np.abs(dout)),
    )


function_exercise(
    "attention_backward",
    CHAPTER,
    3,
    "attention_backward",
    "A broken attention backward, repaired",
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
            "masked scores set to 0 are not masked: exp(0 - max) is not 0, so the future keys "
            "still take weight; a masked score must be -inf before the softmax",
            lambda dout, q, k, v, causal: _attention_backward(dout, q, k, v, causal, mask="zero"),
        ),
        (
            "the softmax Jacobian subtracts the P-weighted sum of dP over the row, not its plain "
            "mean (the two agree only when every weight of the row is equal)",
            lambda dout, q, k, v, causal: _attention_backward(dout, q, k, v, causal, row_sum="mean"),
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
    scales=_attention_backward_scales,
)


# ---------------------------------------------------------------- corpus chrF
_TARGET_WORDS = "lo la gato casa una pelota mira roja miran".split()


def _char_grams(text, n, spaces=False):
    """The character n-grams of ``text`` and their counts, white space removed (or kept)."""
    chars = text if spaces else "".join(text.split())
    counts: dict[str, int] = {}
    for i in range(len(chars) - n + 1):
        counts[chars[i : i + n]] = counts.get(chars[i : i + n], 0) + 1
    return counts


def _f_beta(p, r, beta, recall_side=True, power=2):
    b2 = beta**power
    if p == 0 or r == 0:
        return 0.0
    return (1 + b2) * p * r / (b2 * p + r) if recall_side else (1 + b2) * p * r / (p + b2 * r)


def _chrf(
    candidates,
    references,
    beta,
    clip=True,
    corpus=True,
    spaces=False,
    orders=6,
    per_order=False,
    recall_side=True,
    power=2,
):
    """chrF with the named mistakes switched on by the keyword arguments."""
    if not corpus:  # the mistake: the mean of the sentences' chrF
        return float(
            np.mean(
                [
                    _chrf([c], [r], beta, clip, True, spaces, orders, per_order, recall_side, power)
                    for c, r in zip(candidates, references)
                ]
            )
        )
    matches, hyp, ref = [0] * orders, [0] * orders, [0] * orders
    for candidate, reference in zip(candidates, references):
        for n in range(1, orders + 1):
            c_grams, r_grams = _char_grams(candidate, n, spaces), _char_grams(reference, n, spaces)
            for gram, count in c_grams.items():
                matches[n - 1] += min(count, r_grams.get(gram, 0)) if clip else count * (gram in r_grams)
            hyp[n - 1] += sum(c_grams.values())
            ref[n - 1] += sum(r_grams.values())
    precisions = [m / h if h else 0.0 for m, h in zip(matches, hyp)]
    recalls = [m / r if r else 0.0 for m, r in zip(matches, ref)]
    if per_order:  # the mistake: sacreBLEU's order, an F-score per order, then their mean
        return float(np.mean([_f_beta(p, r, beta, recall_side, power) for p, r in zip(precisions, recalls)]))
    return _f_beta(sum(precisions) / orders, sum(recalls) / orders, beta, recall_side, power)


def corpus_chrf(candidates, references, beta):
    """chrF (Popovic, 2015) of white-space separated candidates, one reference each: character
    n-grams of the sentences with their white space removed, n = 1..6; for each n the clipped
    matches, the candidates' n-grams and the references' n-grams summed over the corpus,
    P_n = matches / candidate n-grams and R_n = matches / reference n-grams (0 where there are
    none); P and R the means of the six; chrF = (1 + beta^2) P R / (beta^2 P + R), 0 if P R = 0:
    van Rijsbergen's 1 / F = alpha / P + (1 - alpha) / R with dF/dP = dF/dR at R = beta P, which
    gives alpha = 1 / (1 + beta^2) (the task asks for that derivation, not the formula)."""
    return _chrf(candidates, references, beta)


def _misspell(word, rng):
    """The word with two neighbouring letters swapped, or one letter dropped."""
    if len(word) < 3:
        return word
    i = int(rng.integers(0, len(word) - 1))
    if rng.random() < 0.5:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :]


def _chrf_cases(rng):
    cases = []
    for n_sentences, noise, beta in ((3, 0.3, 2.0), (5, 0.2, 1.0), (4, 0.4, 3.0), (70, 0.25, 2.0)):
        candidates, references = [], []
        for _ in range(n_sentences):
            ref = [str(w) for w in rng.choice(_TARGET_WORDS, size=rng.integers(3, 7))]
            cand = [
                w
                if rng.random() > noise
                else _misspell(w, rng)
                if rng.random() < 0.6
                else str(rng.choice(_TARGET_WORDS))
                for w in ref
            ]
            cand = cand[: len(cand) - int(rng.integers(0, 2))]  # some shorter than their reference
            candidates.append(" ".join(cand))
            references.append(" ".join(ref))
        label = f"{n_sentences} random sentences, some words misspelt, beta={beta}"
        cases.append(Case((candidates, references, beta), label=label))
    cases.append(
        Case(
            (["aaaaaaa", "la casa"], ["a gato", "la casa roja"], 2.0),
            label="a repeated letter ('a' seven times against two)",
        )
    )
    cases.append(
        Case(
            (["logato mira", "la casa roja"], ["lo gato mira", "lacasa roja"], 2.0),
            label="the same letters, the spaces elsewhere",
        )
    )
    cases.append(
        Case(
            (["la pelota rojo", "un gatos"], ["la pelota roja", "unos gatos"], 0.5),
            label="endings changed: words wrong, most characters right (beta 0.5)",
        )
    )
    cases.append(
        Case(
            (["lo", "y"], ["la", "y"], 2.0),
            label="every sentence shorter than 6 characters: P_n = R_n = 0 there",
        )
    )
    cases.append(Case(([""], ["lo gato"], 2.0), label="an empty candidate: chrF 0"))
    cases.append(Case((["gato mira"], ["mira una pelota"], 1.0), label="one sentence, words moved"))
    return cases


function_exercise(
    "corpus_chrf",
    CHAPTER,
    2,
    "corpus_chrf",
    "Corpus chrF",
    _chrf_cases,
    corpus_chrf,
    ("chrf",),
    mistakes=(
        (
            "chrF removes the white space before taking character n-grams: 'lo gato' and 'logato' have the "
            "same n-grams",
            lambda c, r, b: _chrf(c, r, b, spaces=True),
        ),
        (
            "a character n-gram of the candidate counts at most as often as the reference holds it "
            "(clipping): 'a' seven times against two is two matches",
            lambda c, r, b: _chrf(c, r, b, clip=False),
        ),
        (
            "matches and n-gram counts are summed over the whole corpus before dividing; this is the "
            "mean of the sentences' chrF",
            lambda c, r, b: _chrf(c, r, b, corpus=False),
        ),
        (
            "P and R are the means of the six orders' precisions and recalls, combined once; this is "
            "the mean of six F-scores",
            lambda c, r, b: _chrf(c, r, b, per_order=True),
        ),
        (
            "this weighs precision beta^2 times as much: at R = beta P the two partial derivatives "
            "must be equal, so the weight alpha on 1 / P comes out small when beta is large (recall "
            "is what beta favours)",
            lambda c, r, b: _chrf(c, r, b, recall_side=False),
        ),
        (
            "alpha = 1 / (1 + beta) is what R / P = beta gives without the squares: dF/dP carries "
            "alpha / P^2 and dF/dR carries (1 - alpha) / R^2, so the condition is about (R / P)^2",
            lambda c, r, b: _chrf(c, r, b, power=1),
        ),
        (
            "chrF's character n-grams go up to 6, not 4 as BLEU's words do",
            lambda c, r, b: _chrf(c, r, b, orders=4),
        ),
    ),
    forbids=("minidl.training.bleu", "minidl.training.rouge", "nltk", "sacrebleu"),
    dtypes=("number",),
    equivalent_mutants={
        "corpus_chrf > _chrf: augassign: hyp[n - 1] += sum(c_grams.values()) -> hyp[n - 1] = "
        "hyp[n - 1] + sum(c_grams.values())": "hyp is the function's own list: += and = + add the same number",
        "corpus_chrf > _chrf: augassign: ref[n - 1] += sum(r_grams.values()) -> ref[n - 1] = "
        "ref[n - 1] + sum(r_grams.values())": "ref is the function's own list: += and = + add the same number",
        "corpus_chrf > _chrf: augassign: matches[n - 1] += min(count, r_grams.get(gram, 0)) -> "
        "matches[n - 1] = matches[n - 1] + min(count, r_grams.get(gram, 0))": "matches is the "
        "function's own list: += and = + add the same number",
        "corpus_chrf > _f_beta: negate: p == 0 or r == 0 -> p == 0 and r == 0": "P is 0 exactly when "
        "R is (a match is an n-gram of both sides), and where one is 0 the formula gives 0 too",
        "corpus_chrf > _f_beta: const: 0 -> -1": "p == -1 never holds; p = 0 comes with r = 0, which "
        "the other test catches",
        "corpus_chrf > _f_beta: const: 0 -> -1 #2": "r == -1 never holds; r = 0 comes with p = 0, which "
        "the other test catches",
        "corpus_chrf > _char_grams: const: 1 -> 2 #2": "every count doubled, the reference's too: "
        "min(2a, 2b) / 2t is min(a, b) / t, every P_n and R_n the same",
    },
)


# ---------------------------------------------------------------- teacher forcing, repaired
TEACHER_BUGS = {
    "shift": "the decoder's input at position t is the word *before* the one it predicts: start, "
    "then the targets shifted one place to the right (targets[:, :-1]), not to the left",
    "pad": "padding is the id ``pad``, not always 0: with pad = V - 1, word 0 is a real word",
    "end": "the end token is a word the model must predict (it is how the model learns to stop): "
    "its log-probability counts",
}


def teacher_forced_nll(table, targets, start, end, pad):
    """The negative log-likelihood of each padded target sentence under teacher forcing, the
    decoder a bigram table: table[w, v] = log p(next word v | previous word w); the input at
    position 0 is ``start``, at position t the target word t - 1; positions holding ``pad``
    are left out, the ``end`` that closes each sentence counts. targets (N, T) int -> (N,)."""
    return _teacher_forced(table, targets, start, end, pad, ())


def _teacher_forced(table, targets, start, end, pad, bugs, mean=False):
    N = targets.shape[0]
    if "shift" in bugs:
        inputs = np.concatenate([targets[:, 1:], np.full((N, 1), start)], axis=1)
    elif "unshifted" in bugs:
        inputs = targets
    else:
        inputs = np.concatenate([np.full((N, 1), start), targets[:, :-1]], axis=1)
    real = targets != (0 if "pad" in bugs else pad)
    if "end" in bugs:
        real = real & (targets != end)
    nll = -np.where(real, table[inputs, targets], 0.0).sum(axis=1)
    return nll / real.sum(axis=1) if mean else nll


def _teacher_cases(rng):
    cases = []
    for n, t, v, start, end, pad, lengths, visibility in (
        (3, 5, 7, 5, 4, 0, (5, 3, 1), "visible"),  # pad 0; a full sentence and a lone end
        (4, 6, 9, 1, 2, 8, (2, 6, 4, 3), "hidden"),  # pad the last id: word 0 is a real word
        (2, 4, 6, 0, 3, 5, (4, 2), "hidden"),  # start is id 0
        (3, 1, 5, 3, 1, 0, (1, 1, 1), "hidden"),  # T = 1: every sentence is its end alone
        (2, 7, 8, 7, 6, 3, (7, 5), "hidden"),  # pad in the middle of the ids
    ):
        table = rng.standard_normal((v, v)) * 2.0
        table -= np.log(np.exp(table).sum(axis=1, keepdims=True))  # each row a log-distribution
        words = np.array([w for w in range(v) if w not in (start, end, pad)])
        targets = np.full((n, t), pad)
        for row, length in enumerate(lengths):
            targets[row, : length - 1] = rng.choice(words, size=length - 1)
            targets[row, length - 1] = end
        label = f"N={n}, T={t}, V={v}, start={start}, end={end}, pad={pad}, sentence lengths {lengths}"
        cases.append(Case((table, targets, start, end, pad), label=label, visibility=visibility))
    return cases


function_exercise(
    "teacher_forced_nll",
    CHAPTER,
    2,
    "teacher_forced_nll",
    "A teacher-forced loss, repaired",
    _teacher_cases,
    teacher_forced_nll,
    ("nll",),
    mistakes=(
        (
            "this is the function as given, its bugs still in it: read it against the task's "
            "definition, the input at position t being the target word t - 1",
            lambda tb, y, s, e, p: _teacher_forced(tb, y, s, e, p, tuple(TEACHER_BUGS)),
        ),
    )
    + tuple(
        (
            f"{hint} (the other bugs are fixed)",
            lambda tb, y, s, e, p, bug=bug: _teacher_forced(tb, y, s, e, p, (bug,)),
        )
        for bug, hint in TEACHER_BUGS.items()
    )
    + (
        (
            "the decoder reads the word it must predict (inputs = targets): shift them by one, start first",
            lambda tb, y, s, e, p: _teacher_forced(tb, y, s, e, p, ("unshifted",)),
        ),
        (
            "the negative log-likelihood of a sentence is the sum over its words, not their mean",
            lambda tb, y, s, e, p: _teacher_forced(tb, y, s, e, p, (), mean=True),
        ),
    ),
    forbids=("minidl.nn.losses", "minidl.training.decoding"),
    dtypes="float64",
)


# ---------------------------------------------------------------- questions


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_FINITE = "the inputs are finite: the -inf of a masked score is made inside the function"
_SHIFT = "the row's maximum only shifts the scores before exp: equal maxima shift by the same value"
declare_edges(
    "windowed_cache_step",
    ("size_one", "non_square", "extreme_magnitude", "varied_settings"),
    {
        "empty": "a cache has at least one slot, and the new token always attends to itself",
        "inf_or_nan_input": _FINITE,
        "ties": _SHIFT,
    },
)
declare_edges(
    "rope_attention",
    ("size_one", "non_square", "extreme_magnitude", "varied_settings"),
    {
        "empty": "the task takes at least one position of at least one sequence",
        "inf_or_nan_input": _FINITE,
        "ties": _SHIFT,
    },
)
declare_edges(
    "attention_backward",
    ("size_one", "non_square", "extreme_magnitude", "varied_settings"),
    {
        "empty": "the task takes at least one position of at least one sequence",
        "inf_or_nan_input": _FINITE,
        "ties": _SHIFT,
    },
)
declare_edges(
    "corpus_chrf",
    ("empty", "size_one", "repeated_indices", "varied_settings", "long_sequence"),
    {},
)
declare_edges(
    "teacher_forced_nll",
    ("size_one", "non_square", "repeated_indices", "varied_settings"),
    {"empty": "every sentence holds at least its end token"},
)
