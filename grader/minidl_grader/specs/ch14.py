"""Chapter 14, language tasks: masked max-pooling and its backward, beam search that never
repeats an n-gram, a broken ROUGE-L F-beta to repair; questions on what a bag of words and
pairs cannot tell apart, and on ROUGE."""

from collections.abc import Callable
from functools import partial

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "14_language_tasks"


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
    # padding on either side: the real steps are wherever the mask says, not a prefix
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 1, 0, 0, 0]], dtype=bool)
    h = rng.integers(-3, 4, size=(3, 6, 1)).astype(np.float64)
    h[~mask] = 5.0
    cases.append(
        Case(
            (h, mask, rng.standard_normal((3, 1))),
            label="N=3, T=6, H=1, padded on the left, the right and both sides",
        )
    )
    # padding that holds each feature's real maximum, before the real steps too: a tie between
    # padding and a real step that the padding must lose (the gradient to the real step, never
    # to the padding, even where the padding comes first)
    mask = np.array([[0, 0, 1, 1, 1], [0, 1, 1, 1, 0], [1, 1, 1, 0, 0]], dtype=bool)
    h = rng.integers(-3, 4, size=(3, 5, 4)).astype(np.float64)
    h = np.where(mask[:, :, None], h, np.where(mask[:, :, None], h, -np.inf).max(axis=1)[:, None, :])
    cases.append(
        Case(
            (h, mask, rng.standard_normal((3, 4))),
            label="N=3, T=5, H=4, the padding steps (on the left, the right, both) hold the real maximum",
        )
    )
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
    forbids=("minidl_keras", "minidl.kernels"),
    catches=("the gradient sent to a padding step that holds the real maximum (h == out, not masked)",),
    dtypes="float64",
    equivalent_mutants={
        "masked_max_pool > _masked_max: delete: N, T, H = h.shape -> pass": "the sizes serve only "
        "the grader's own mistake (ties going to the last step)",
    },
)


# ---------------------------------------------------------------- beam search without repeats
def _repeats(seq, n, start=None, overlap=True):
    """Whether the last n tokens of ``seq`` occur as n neighbours earlier in it (occurrences
    that overlap the last n included; ``start``, ``overlap=False``: the named mistakes)."""
    if start is not None:
        seq = (start,) + seq
    if len(seq) < n:
        return False
    tail, stop = seq[-n:], len(seq) - n if overlap else len(seq) - 2 * n + 1
    return any(seq[i : i + n] == tail for i in range(stop))


def _beam_search(
    log_probs,
    start,
    end,
    beam_width,
    max_len,
    alpha,
    ngram,
    tie_sign=1,
    start_counted=False,
    overlap=True,
    finished_take_slots=True,
    live_count_at_end=True,
    end_in_length=True,
    length_shift=0,
):
    V = log_probs.shape[0]
    beams: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    finished: list[tuple[tuple[int, ...], float]] = []
    first = start if start_counted else None

    def blocked(seq):
        return _repeats(seq, ngram, first, overlap)

    for _ in range(max_len):
        candidates: list[tuple[tuple[int, ...], float]] = []
        for seq, score in beams:
            last = seq[-1] if seq else start
            for token in range(V):
                if not blocked(seq + (token,)):
                    candidates.append((seq + (token,), score + log_probs[last, token]))
        candidates.sort(key=lambda c: (-c[1], tuple(tie_sign * t for t in c[0])))
        beams = []
        if finished_take_slots:
            kept = candidates[:beam_width]
        else:  # the mistake: the best candidates up to beam_width live ones
            kept = []
            for candidate in candidates:
                if sum(seq[-1] != end for seq, _ in kept) == beam_width:
                    break
                kept.append(candidate)
        for seq, score in kept:
            (finished if seq[-1] == end else beams).append((seq, score))
        if not beams:
            break
    if live_count_at_end:
        finished += beams
    elif not finished:
        finished = beams

    def length(seq):
        if not end_in_length and seq[-1] == end:
            return max(len(seq) - 1, 1)
        return len(seq) + length_shift

    best = min(finished, key=lambda c: (-c[1] / length(c[0]) ** alpha, tuple(tie_sign * t for t in c[0])))
    return np.asarray(best[0], dtype=np.int64)


def _beam_after_cut(log_probs, start, end, beam_width, max_len, alpha, ngram):
    """The mistake: the beam cut to ``beam_width`` first, the repeats dropped after it (the beam
    may then shrink to nothing: an empty answer)."""
    beams: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    finished: list[tuple[tuple[int, ...], float]] = []
    for _ in range(max_len):
        candidates = [
            (seq + (token,), score + log_probs[seq[-1] if seq else start, token])
            for seq, score in beams
            for token in range(len(log_probs))
        ]
        candidates.sort(key=lambda c: (-c[1], c[0]))
        beams = []
        for seq, score in candidates[:beam_width]:
            if not _repeats(seq, ngram):
                (finished if seq[-1] == end else beams).append((seq, score))
        if not beams:
            break
    finished += beams
    if not finished:
        return np.zeros(0, dtype=np.int64)
    best = min(finished, key=lambda c: (-c[1] / len(c[0]) ** alpha, c[0]))
    return np.asarray(best[0], dtype=np.int64)


def beam_search_no_repeat(log_probs, start, end, beam_width, max_len, alpha, ngram):
    """Beam search with length normalisation that never repeats an n-gram.

    log_probs (V, V): log_probs[a, b] = log P(next = b | last = a); the first token follows
    ``start``. Each step extends every live hypothesis by every token, drops the extensions
    whose last ``ngram`` tokens already occur as ``ngram`` neighbours earlier in the same
    hypothesis (``start`` is not one of its tokens; occurrences overlapping the last n count),
    and keeps the ``beam_width`` best of the rest by total log-probability (ties: the smaller
    token sequence). A kept hypothesis ending in ``end`` is finished; the search stops when none
    is live or after ``max_len`` steps (the live ones then count as finished). The answer is the
    finished one with the best score / len ** alpha (ties as above), an int64 array of tokens.
    """
    return _beam_search(log_probs, start, end, beam_width, max_len, alpha, ngram)


def _loopy_model(rng, v, scale=2.5, diagonal=0.0):
    """A random next-token table with strong preferences, so that hypotheses loop."""
    logits = rng.standard_normal((v, v)) * scale
    logits[np.arange(v), np.arange(v)] += diagonal
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def _same(a, b):
    return len(a) == len(b) and bool(np.all(a == b))


def _beam_against(args, against):
    """The mistake a case is drawn to catch (besides beam search without the blocking)."""
    lp, start, end, width, max_len, alpha, n = args
    table: dict[str, Callable[[], np.ndarray]] = {
        "start counted": lambda: _beam_search(lp, start, end, width, max_len, alpha, n, start_counted=True),
        "overlap": lambda: _beam_search(lp, start, end, width, max_len, alpha, n, overlap=False),
        "after cut": lambda: _beam_after_cut(lp, start, end, width, max_len, alpha, n),
        "n - 1": lambda: _beam_search(lp, start, end, width, max_len, alpha, max(n - 1, 1)),
        "n + 1": lambda: _beam_search(lp, start, end, width, max_len, alpha, n + 1),
        "greedy": lambda: _beam_search(lp, start, end, 1, max_len, alpha, n),
        "no normalisation": lambda: _beam_search(lp, start, end, width, max_len, 0.0, n),
        **{
            key: partial(_beam_search, lp, start, end, width, max_len, alpha, n, **{key: value})
            for key, value in _RULES.items()
        },
    }
    return table[against]()


# the rules the task states beyond the named n-gram mistakes: a finished hypothesis takes its
# place among the beam_width kept, the live ones count as finished after max_len steps, and the
# length that normalises counts the tokens with `end` and without `start`
_RULES = {
    "finished_take_slots": False,
    "live_count_at_end": False,
    "end_in_length": False,
    "length_shift": 1,
}


def _beam_cases(rng):
    """Random models, each drawn until the blocking changes the answer and the mistake the
    case is for gives another one."""
    cases = []
    for v, start, end, width, max_len, alpha, n, diagonal, against in (
        (5, 0, 1, 2, 8, 1.0, 2, 0.0, "n + 1"),
        (6, 4, 2, 3, 9, 0.7, 2, 0.0, "start counted"),
        (5, 2, 1, 2, 8, 1.0, 2, 4.0, "overlap"),  # a strong diagonal: a token that repeats itself
        (6, 3, 0, 3, 8, 1.0, 3, 0.0, "n - 1"),
        (6, 5, 0, 3, 8, 0.5, 1, 0.0, "after cut"),  # n = 1: no token twice
        (5, 1, 3, 2, 9, 1.0, 3, 4.0, "overlap"),
        (6, 2, 0, 3, 8, 1.0, 2, 0.0, "greedy"),
        (6, 0, 5, 2, 8, 0.7, 2, 0.0, "no normalisation"),
        (5, 3, 2, 2, 7, 1.0, 2, 0.0, "after cut"),
        (6, 1, 4, 3, 8, 1.0, 2, 0.0, "finished_take_slots"),
        (6, 2, 5, 2, 5, 0.7, 2, 0.0, "live_count_at_end"),
        (5, 4, 0, 3, 8, 1.0, 2, 0.0, "end_in_length"),
        (6, 0, 3, 2, 8, 0.5, 3, 0.0, "length_shift"),
    ):
        for _ in range(2000):
            args = (_loopy_model(rng, v, diagonal=diagonal), start, end, width, max_len, alpha, n)
            best = _beam_search(*args)
            free = _beam_search(*args[:6], max_len + 1)  # an n-gram longer than any hypothesis
            if len(best) > 2 and not _same(best, free) and not _same(best, _beam_against(args, against)):
                break
        label = f"V={v}, start {start}, end {end}, beam {width}, max_len {max_len}, alpha {alpha}, ngram {n}"
        cases.append(Case(args, label=label))
    # a tie: from the start, tokens 2 and 3 are equally likely
    tie = np.log(
        np.array(
            [
                [0.05, 0.05, 0.4, 0.4, 0.1],
                [0.2, 0.2, 0.2, 0.2, 0.2],
                [0.1, 0.1, 0.1, 0.6, 0.1],
                [0.1, 0.1, 0.6, 0.1, 0.1],
                [0.1, 0.6, 0.1, 0.1, 0.1],
            ]
        )
    )
    cases.append(Case((tie, 0, 1, 1, 6, 1.0, 2), label="a tie at the first step, beam 1, ngram 2"))
    return cases


_BEAM_MISTAKES = (
    (
        "no n-gram is blocked: drop every extension whose last n tokens already occur as "
        "neighbours earlier in the hypothesis",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, m + 1),
    ),
    (
        "`start` is not one of the hypothesis's tokens: an n-gram that begins with it does not count",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, n, start_counted=True),
    ),
    (
        "an earlier occurrence that overlaps the last n tokens counts too (for n = 2, 'a a a' "
        "repeats the pair 'a a')",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, n, overlap=False),
    ),
    (
        "the repeats are dropped before the cut: the beam then holds beam_width allowed hypotheses, "
        "not fewer",
        _beam_after_cut,
    ),
    (
        "the blocked n-grams are `ngram` tokens long, not one fewer",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, max(n - 1, 1)),
    ),
    (
        "the blocked n-grams are `ngram` tokens long, not one more",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, n + 1),
    ),
    (
        "this is greedy decoding: keep the beam_width best hypotheses at every step",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, 1, m, a, n),
    ),
    (
        "the final choice divides the total log-probability by length ** alpha",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, 0.0, n),
    ),
    (
        "ties are broken towards the smaller token sequence",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, n, tie_sign=-1),
    ),
    (
        "a hypothesis that ends in `end` is one of the beam_width kept at its step: it leaves the "
        "beam and takes its place, so fewer live ones go on",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, n, finished_take_slots=False),
    ),
    (
        "after max_len steps the live hypotheses count as finished too, and compete with the finished ones",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, n, live_count_at_end=False),
    ),
    (
        "the length that normalises a finished hypothesis counts its `end` token",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, n, end_in_length=False),
    ),
    (
        "the length that normalises counts the hypothesis's own tokens; `start` is not one of them",
        lambda lp, s, e, w, m, a, n: _beam_search(lp, s, e, w, m, a, n, length_shift=1),
    ),
)

function_exercise(
    "beam_search_no_repeat",
    CHAPTER,
    3,
    "beam_search_no_repeat",
    "Beam search that never repeats an n-gram",
    _beam_cases,
    beam_search_no_repeat,
    ("tokens",),
    mistakes=_BEAM_MISTAKES,
    forbids=("minidl.training.decoding",),
    dtypes=("int",),
    equivalent_mutants={
        "beam_search_no_repeat > _beam_search: augassign: finished += beams -> *": "finished is "
        "the function's own list: += and = + hold the same hypotheses",
        "beam_search_no_repeat > _beam_search: const: 0 -> 1": "log_probs is square (V, V): "
        "shape[1] is V as well",
        "beam_search_no_repeat > _beam_search: const: 0 -> -1": "log_probs is square (V, V): "
        "shape[-1] is V as well",
        "beam_search_no_repeat > _beam_search: delete: break -> pass": "with no live beam left, "
        "the next steps extend nothing and finish nothing: the loop runs on without effect",
        "beam_search_no_repeat > _repeats: delete: seq = (start,) + seq -> pass": "the branch "
        "serves only the grader's mistake (start counted); the reference passes start=None",
        "beam_search_no_repeat > _repeats: arith: (start,) + seq -> (start,) - seq": "the branch "
        "serves only the grader's mistake (start counted); the reference passes start=None",
        "beam_search_no_repeat > _repeats: compare: len(seq) < n -> len(seq) <= n": "with "
        "len(seq) == n there is no earlier position to look at: range(len(seq) - n) is empty",
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


def _one_row(a, b):
    """The student's LCS (the bug the exercise repairs): one row of the table, updated in
    place, so that a match reads the *new* row's left neighbour instead of the old diagonal."""
    row = [0] * (len(b) + 1)
    for x in a:
        for j, y in enumerate(b):
            row[j + 1] = row[j] + 1 if x == y else max(row[j + 1], row[j])
    return row[-1]


def _fbeta(candidate, reference, beta, gaps=True, squared=True, swap=False, lcs=None):
    c, r = candidate.split(), reference.split()
    common = _common(c, r, gaps) if lcs is None else lcs(c, r)
    if common == 0:
        return 0.0
    p, rec = common / len(c), common / len(r)
    if swap:
        p, rec = rec, p
    b2 = beta**2 if squared else beta
    return (1 + b2) * p * rec / (rec + b2 * p)


def rouge_l_fbeta(candidate, reference, beta):
    """ROUGE-L F-beta of two white-space separated texts (Lin, 2004), the repair of a
    student's version with three bugs (the task shows it: an LCS table kept as one row updated
    in place, precision and recall swapped, no case for texts that share no word):

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
    cases.append(Case(("the home side", "", 2.0), label="an empty reference"))
    cases.append(Case(("rain rain late", "the home side won", 0.5), label="no word in common"))
    cases.append(Case(("goal", "the goal won", 2.0), label="a candidate of one word"))
    # a repeated word in the reference: a table of one row updated in place matches 'the' twice
    cases.append(
        Case(("the goal won", "the the goal won", 2.0), label="'the goal won' against 'the the goal won'")
    )
    cases.append(Case(("home side the won", "the home side won", 2.0), label="a reordered candidate"))
    # words are separated by any run of white space (str.split()): split(' ') makes empty
    # words of the doubled and outer spaces and keeps 'side\twon' as one word
    cases.append(
        Case(
            ("  the home  side\twon ", "the home side\nwon the goal", 2.0),
            label="white space other than one space: doubled and outer spaces, a tab, a newline",
        )
    )
    # the textbook case (ABCBDAB against BDCABA): the longest common subsequence, 4 words, is
    # found only by a table that takes the better of both neighbours at every mismatch
    cases.append(
        Case(
            ("a b c b d a b", "b d c a b a", 0.5),
            label="'a b c b d a b' against 'b d c a b a' (repeated words, several longest subsequences)",
        )
    )
    cand, ref = " ".join(rng.choice(_WORDS, size=70)), " ".join(rng.choice(_WORDS, size=64))
    cases.append(Case((cand, ref, 1.5), label="a candidate of 70 words against a reference of 64, beta=1.5"))
    return cases


function_exercise(
    "rouge_l_fbeta",
    CHAPTER,
    2,
    "rouge_l_fbeta",
    "A broken ROUGE-L F-beta, repaired",
    _rouge_cases,
    rouge_l_fbeta,
    ("f",),
    mistakes=(
        (
            "the LCS table kept as one row updated in place: at a match, row[j] already holds the "
            "current word's row, not the previous one, so a word is matched more than once (an "
            "LCS longer than the candidate, F above 1)",
            lambda c, r, b: _fbeta(c, r, b, lcs=_one_row),
        ),
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
    catches=(
        "the words split on one space (split(' ')): empty words, and words joined by a tab or a newline",
    ),
    dtypes=("number",),
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "masked_max_pool",
    ("size_one", "non_square", "ties", "left_and_right_padding"),
    {
        "empty": "every row holds at least one real step (the task says so): a max over none has no value",
        "inf_or_nan_input": "the inputs are finite: the -inf that hides the padding is made inside the function",
    },
)
declare_edges(
    "beam_search_no_repeat",
    ("ties", "varied_settings"),
    {
        "empty": "the vocabulary holds at least the start and the end token",
        "size_one": "the model is a V x V table with V >= 5; a beam of width 1 is a case (a setting)",
        "non_square": "the model is a table of next-token log-probabilities, V x V: square by definition",
        "long_sequence": "its loop runs over at most max_len (<= 9) steps: longer searches repeat the same step",
    },
)
declare_edges(
    "rouge_l_fbeta",
    ("empty", "size_one", "repeated_indices", "varied_settings", "long_sequence"),
)
