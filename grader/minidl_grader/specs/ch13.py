"""Chapter 13, language tasks: masked max-pooling and its backward, beam search with length
normalisation, ROUGE-L as an F-beta score; questions on a bag of words and on ROUGE."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "13_language_tasks"


# ---------------------------------------------------------------- masked max-pooling
def _masked_max(h, mask, dout, counted=None, ties="first"):
    """Max over the real steps of each (sample, feature) and the gradient routed to it.

    ``counted`` overrides which steps take part (the padding mistake); ``ties`` says which of
    several equal maxima receives the gradient ("first", "last", "all" or "split").
    """
    N, T, H = h.shape
    counted = mask if counted is None else counted
    scores = np.where(counted[:, :, None], h, -np.inf)  # (N, T, H)
    out = scores.max(axis=1)  # (N, H)
    at_max = scores == out[:, None, :]  # (N, T, H)
    if ties == "first":
        winner = np.zeros_like(at_max)
        np.put_along_axis(winner, at_max.argmax(axis=1)[:, None, :], True, axis=1)
    elif ties == "last":
        winner = np.zeros_like(at_max)
        np.put_along_axis(winner, (T - 1 - at_max[:, ::-1].argmax(axis=1))[:, None, :], True, axis=1)
    else:
        winner = at_max
    dh = winner * dout[:, None, :]
    if ties == "split":
        dh = dh / at_max.sum(axis=1, keepdims=True)
    return out, dh


def masked_max_pool(h, mask, dout):
    """out[n, k] = max of h[n, t, k] over the real steps t (mask[n, t] True) and
    dh = dL/dh for dL/dout = dout: dout[n, k] at the step of the maximum (the first one
    when several steps tie), 0 elsewhere (padding included).

    h (N, T, H) float, mask (N, T) bool with at least one True per row, dout (N, H).
    """
    return _masked_max(h, mask, dout)


def _pool_cases(rng):
    cases = []
    for n, t, hdim in ((2, 5, 3), (4, 7, 4), (3, 6, 5)):
        h = rng.integers(-3, 4, size=(n, t, hdim)).astype(np.float64)  # small integers: ties
        lengths = rng.integers(1, t + 1, size=n)
        lengths[0] = max(1, t - 2)  # at least one row with padding
        mask = np.arange(t)[None, :] < lengths[:, None]
        h[~mask] = 5.0  # padding holds values above every real one
        h[0, : lengths[0], 0] = -rng.integers(1, 4, size=lengths[0])  # a feature whose real steps are all < 0
        dout = rng.standard_normal((n, hdim))
        cases.append(Case((h, mask, dout), label=f"N={n}, T={t}, H={hdim}, lengths {lengths.tolist()}"))
    return cases


function_exercise(
    "masked_max_pool",
    CHAPTER,
    2,
    "masked_max_pool",
    "Masked max-pooling and its backward",
    _pool_cases,
    masked_max_pool,
    ("out", "dh"),
    mistakes=(
        (
            "the padding takes part in the max: leave out the steps where mask is False",
            lambda h, m, d: _masked_max(h, m, d, counted=np.ones_like(m)),
        ),
        (
            "when several steps tie for the max, the gradient goes to the first of them only",
            lambda h, m, d: _masked_max(h, m, d, ties="all"),
        ),
        (
            "ties: the gradient is not split among the tied steps; it goes to the first one",
            lambda h, m, d: _masked_max(h, m, d, ties="split"),
        ),
        (
            "ties: the first (earliest) of the tied steps receives the gradient, not the last",
            lambda h, m, d: _masked_max(h, m, d, ties="last"),
        ),
    ),
    forbids=("minidl.nn.layers.conv1d", "minidl.kernels"),
    dtypes="float64",
    equivalent_mutants={
        "masked_max_pool > _masked_max: delete: N, T, H = h.shape -> pass": "the sizes serve only "
        "the grader's own mistake (ties going to the last step)",
    },
)


# ---------------------------------------------------------------- beam search
def _beam_search(
    log_probs, start, end, beam_width, max_len, alpha, tie_sign=1, end_counted=True, live_kept=True
):
    V = log_probs.shape[0]
    beams: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    finished: list[tuple[tuple[int, ...], float]] = []
    for _ in range(max_len):
        candidates: list[tuple[tuple[int, ...], float]] = []
        for seq, score in beams:
            last = seq[-1] if seq else start
            for token in range(V):
                candidates.append((seq + (token,), score + log_probs[last, token]))
        candidates.sort(key=lambda c: (-c[1], tuple(tie_sign * t for t in c[0])))
        beams = []
        for seq, score in candidates[:beam_width]:
            (finished if seq[-1] == end else beams).append((seq, score))
        if not beams:
            break
    if live_kept or not finished:  # live_kept=False (a named mistake): the live ones dropped
        finished += beams

    def length(seq):  # ``end`` counts as a token (end_counted=False: a named mistake)
        return max(len(seq) - (not end_counted and seq[-1] == end), 1)

    best = min(finished, key=lambda c: (-c[1] / length(c[0]) ** alpha, tuple(tie_sign * t for t in c[0])))
    return np.asarray(best[0], dtype=np.int64)


def beam_search(log_probs, start, end, beam_width, max_len, alpha):
    """Beam search on a model whose next token depends on the last one only.

    log_probs (V, V): log_probs[a, b] = log P(next = b | last = a). A hypothesis starts after
    ``start``; each step extends every live hypothesis by every token, and the ``beam_width``
    best by total log-probability are kept (ties: the smaller token sequence, compared
    token by token). A kept hypothesis that ends in ``end`` is finished and leaves the
    beam; the search stops when no hypothesis is live or after ``max_len`` steps (the live
    ones then count as finished). The answer is the finished hypothesis with the best
    score / length ** alpha (length: its number of tokens, ``end`` included; ties as above),
    as an int64 array of its tokens (``start`` excluded).
    """
    return _beam_search(log_probs, start, end, beam_width, max_len, alpha)


def _random_model(rng, v):
    logits = rng.standard_normal((v, v)) * 2.0
    logits[np.arange(v), np.arange(v)] -= 2.0  # fewer repeats of one token
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def _same(a, b):
    return len(a) == len(b) and bool(np.all(a == b))


def _beam_cases(rng):
    """Random models, each drawn until beam search differs from the mistake the case is for."""
    cases = []
    for v, start, end, width, max_len, alpha, against in (  # start and end tokens vary
        (5, 0, 1, 2, 6, 1.0, "greedy"),
        (6, 4, 2, 3, 7, 0.7, "no normalisation"),
        (7, 3, 0, 3, 8, 1.0, "greedy"),
        (6, 5, 1, 2, 6, 1.0, "no normalisation"),
        (6, 2, 0, 3, 7, 0.5, "alpha 1"),  # length ** alpha, not length * alpha
    ):
        for _ in range(500):
            log_probs = _random_model(rng, v)
            args = (log_probs, start, end, width, max_len, alpha)
            best = _beam_search(*args)
            if against == "greedy":
                other = _beam_search(*args[:3], 1, max_len, alpha)
            else:  # no length normalisation (alpha 0), or length * alpha where it is length ** alpha
                other = _beam_search(*args[:5], 0.0 if against == "no normalisation" else 1.0)
            without_end = _beam_search(*args, end_counted=False)  # the length without `end`
            if len(best) > 1 and not _same(best, other) and not _same(best, without_end):
                break
        cases.append(
            Case(
                args, label=f"V={v}, start {start}, end {end}, beam {width}, max_len {max_len}, alpha {alpha}"
            )
        )
    # the search stops at max_len and the best hypothesis is still live there
    for _ in range(500):
        args = (_random_model(rng, 6), 1, 0, 2, 4, 1.0)
        best = _beam_search(*args)
        if best[-1] != 0 and not _same(best, _beam_search(*args, live_kept=False)):
            break
    cases.append(
        Case(args, label="V=6, start 1, end 0, beam 2, max_len 4: the best is still live at max_len")
    )
    # a tie: from the start, tokens 2 and 3 are equally likely
    tie = np.log(
        np.array(
            [
                [0.05, 0.05, 0.4, 0.4, 0.1],
                [0.2, 0.2, 0.2, 0.2, 0.2],
                [0.1, 0.5, 0.1, 0.1, 0.2],
                [0.1, 0.5, 0.1, 0.1, 0.2],
                [0.1, 0.6, 0.1, 0.1, 0.1],
            ]
        )
    )
    cases.append(Case((tie, 0, 1, 1, 5, 1.0), label="a tie at the first step, beam 1"))
    return cases


function_exercise(
    "beam_search",
    CHAPTER,
    3,
    "beam_search",
    "Beam search with length normalisation",
    _beam_cases,
    beam_search,
    ("tokens",),
    mistakes=(
        (
            "the final choice divides the total log-probability by length ** alpha",
            lambda lp, s, e, w, m, a: _beam_search(lp, s, e, w, m, 0.0),
        ),
        (
            "this is greedy decoding: keep the beam_width best hypotheses at every step",
            lambda lp, s, e, w, m, a: _beam_search(lp, s, e, 1, m, a),
        ),
        (
            "ties are broken towards the smaller token sequence",
            lambda lp, s, e, w, m, a: _beam_search(lp, s, e, w, m, a, tie_sign=-1),
        ),
        (
            "the length counts every token, `end` included: score / len(tokens) ** alpha",
            lambda lp, s, e, w, m, a: _beam_search(lp, s, e, w, m, a, end_counted=False),
        ),
        (
            "after max_len steps the live hypotheses count as finished: compare them too",
            lambda lp, s, e, w, m, a: _beam_search(lp, s, e, w, m, a, live_kept=False),
        ),
        (
            "the first token follows `start`: score it with log_probs[start, b], not with row 0",
            lambda lp, s, e, w, m, a: _beam_search(lp, 0, e, w, m, a),
        ),
    ),
    forbids=("minidl.training.decoding",),
    dtypes=("int",),
    equivalent_mutants={
        "beam_search > _beam_search: augassign: finished += beams -> *": "finished is the "
        "function's own list: += and = + hold the same hypotheses",
        "beam_search > _beam_search: const: 0 -> 1": "log_probs is square (V, V): shape[1] is V as well",
        "beam_search > _beam_search: const: 0 -> -1": "log_probs is square (V, V): shape[-1] is V as well",
        "beam_search > _beam_search: delete: break -> pass": "with no live beam left, the next steps "
        "extend nothing and finish nothing: the loop runs on without effect",
        "beam_search > _beam_search: const: 1 -> 0": "a hypothesis holds at least one token: "
        "max(length, 0) is max(length, 1)",
    },
)


# ---------------------------------------------------------------- ROUGE-L F-beta
def _common(a, b, gaps=True):
    """The longest common subsequence of two word lists (gaps allowed), or with ``gaps=False``
    the longest common substring (contiguous words, the mistake): ``table[i, j]`` is the
    answer for ``a[:i]`` and ``b[:j]``, for the substring the run ending at ``a[i-1]`` and ``b[j-1]``."""
    table = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int64)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            if x == y:
                table[i + 1, j + 1] = table[i, j] + 1
            elif gaps:
                table[i + 1, j + 1] = max(table[i, j + 1], table[i + 1, j])
    return int(table[-1, -1] if gaps else table.max())


def _fbeta(candidate, reference, beta, gaps=True, squared=True, swap=False):
    c, r = candidate.split(), reference.split()
    common = _common(c, r, gaps)
    if common == 0:
        return 0.0
    p, rec = common / len(c), common / len(r)
    if swap:
        p, rec = rec, p
    b2 = beta**2 if squared else beta
    return (1 + b2) * p * rec / (rec + b2 * p)


def rouge_l_fbeta(candidate, reference, beta):
    """ROUGE-L F-beta of two white-space separated texts (Lin, 2004):

    P = LCS / len(candidate), R = LCS / len(reference), F = (1 + beta^2) P R / (R + beta^2 P),
    and 0 when the texts share no word (an empty text included).
    """
    return _fbeta(candidate, reference, beta)


_WORDS = "the home side won a late goal at home in the rain".split()


def _rouge_cases(rng):
    cases = []
    for beta in (1.0, 2.0, 0.5, 3.0):
        while True:  # beta matters only where P != R: lengths differ, and a word in common
            cand = " ".join(rng.choice(_WORDS, size=rng.integers(3, 9)))
            ref = " ".join(rng.choice(_WORDS, size=rng.integers(3, 9)))
            if len(cand.split()) != len(ref.split()) and set(cand.split()) & set(ref.split()):
                break
        cases.append(Case((cand, ref, beta), label=f"beta={beta}: {cand!r} against {ref!r}"))
    cases.append(Case(("", "the home side won", 1.0), label="an empty candidate"))
    cases.append(Case(("home side the won", "the home side won", 2.0), label="a reordered candidate"))
    # the textbook case (ABCBDAB against BDCABA): the longest common subsequence, 4 words, is
    # found only by a table that takes the better of both neighbours at every mismatch
    cases.append(
        Case(
            ("a b c b d a b", "b d c a b a", 0.5),
            label="'a b c b d a b' against 'b d c a b a' (repeated words, several longest subsequences)",
        )
    )
    return cases


function_exercise(
    "rouge_l_fbeta",
    CHAPTER,
    2,
    "rouge_l_fbeta",
    "ROUGE-L as an F-beta score",
    _rouge_cases,
    rouge_l_fbeta,
    ("f",),
    mistakes=(
        (
            "this is the longest common *substring* (contiguous); ROUGE-L uses the longest common "
            "subsequence, gaps allowed",
            lambda c, r, b: _fbeta(c, r, b, gaps=False),
        ),
        (
            "beta enters squared: (1 + beta^2) P R / (R + beta^2 P)",
            lambda c, r, b: _fbeta(c, r, b, squared=False),
        ),
        (
            "precision divides by the candidate's length and recall by the reference's",
            lambda c, r, b: _fbeta(c, r, b, swap=True),
        ),
    ),
    forbids=("minidl.training.rouge",),
    dtypes=("number",),
)
