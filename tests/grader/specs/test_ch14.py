"""Chapter 14's exercises: the solutions pass, and the wrong answers a TA sees fail with their hint.

The answers below are written independently of the spec (as students would write them); each
wrong one is judged on the cases of several seeds, and must fail at least one case, with the
hint the spec gives for that mistake where it names one.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from minidl_grader.judge import registry

ROOT = Path(__file__).resolve().parents[3]


def solution(name):
    """The function defined in the solutions notebook's cell for ``name``."""
    nb = json.loads((ROOT / "solutions" / "14_language_tasks.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("minidl", {}).get("exercise") == name:
            scope = {"np": np}
            exec("".join(cell["source"]), scope)
            return scope[name]
    raise KeyError(name)


def verdicts(name, answer, seeds=(0, 1, 2, 3)):
    exercise = registry.get(name)
    messages = []
    for seed in seeds:
        for case in exercise.make_cases(np.random.default_rng(seed)):
            try:
                got = answer(*case.args)
            except Exception as err:  # noqa: BLE001 -- a wrong answer may crash: that is a failure
                got = err
            messages.append(exercise.judge(case, got) if not isinstance(got, Exception) else repr(got))
    return messages


@pytest.mark.parametrize("name", ["masked_max_pool", "beam_search_no_repeat", "rouge_l_fbeta"])
def test_the_solutions_pass_every_case(name):
    assert all(m is None for m in verdicts(name, solution(name)))


# ---------------------------------------------------------------- wrong answers
def max_pool_padding_counted(h, mask, dout):
    first = h.argmax(axis=1)
    out = np.take_along_axis(h, first[:, None, :], axis=1)[:, 0]
    dh = np.zeros_like(h)
    np.put_along_axis(dh, first[:, None, :], dout[:, None, :], axis=1)
    return out, dh


def max_pool_every_tie(h, mask, dout):
    scores = np.where(mask[:, :, None], h, -np.inf)
    out = scores.max(axis=1)
    return out, (scores == out[:, None, :]) * dout[:, None, :]


def max_pool_pads_with_zero(h, mask, dout):
    """Padding replaced by 0, not -inf: wrong whenever every real value is negative."""
    scores = np.where(mask[:, :, None], h, 0.0)
    first = scores.argmax(axis=1)
    out = np.take_along_axis(scores, first[:, None, :], axis=1)[:, 0]
    dh = np.zeros_like(h)
    np.put_along_axis(dh, first[:, None, :], dout[:, None, :], axis=1)
    return out, dh


def greedy(log_probs, start, end, beam_width, max_len, alpha, ngram):
    tokens, last = [], start
    for _ in range(max_len):
        last = int(np.argmax(log_probs[last]))
        tokens.append(last)
        if last == end:
            break
    return np.array(tokens, dtype=np.int64)


def beam_unnormalised(log_probs, start, end, beam_width, max_len, alpha, ngram):
    return solution("beam_search_no_repeat")(log_probs, start, end, beam_width, max_len, 0.0, ngram)


def beam_without_the_rule(log_probs, start, end, beam_width, max_len, alpha, ngram):
    """The plain beam search of the chapter: no n-gram is ever blocked."""
    return solution("beam_search_no_repeat")(log_probs, start, end, beam_width, max_len, alpha, max_len + 1)


def beam_blocks_after_the_cut(log_probs, start, end, beam_width, max_len, alpha, ngram):
    """The beam_width best kept first, the repeats among them dropped after (a beam that shrinks)."""

    def repeats(t):
        return len(t) >= ngram and any(t[i : i + ngram] == t[-ngram:] for i in range(len(t) - ngram))

    live, finished = [(0.0, ())], []
    for _ in range(max_len):
        ext = [
            (s + log_probs[t[-1] if t else start, b], t + (b,))
            for s, t in live
            for b in range(len(log_probs))
        ]
        ext.sort(key=lambda item: (-item[0], item[1]))
        live = []
        for s, t in ext[:beam_width]:
            if not repeats(t):
                (finished if t[-1] == end else live).append((s, t))
        if not live:
            break
    finished += live
    if not finished:
        return np.zeros(0, dtype=np.int64)
    best = min(finished, key=lambda item: (-item[0] / len(item[1]) ** alpha, item[1]))
    return np.array(best[1], dtype=np.int64)


def rouge_one_row_in_place(candidate, reference, beta):
    """The student's LCS of exercise 3, the other two bugs repaired: one row updated in place."""
    cand, ref = candidate.split(), reference.split()
    row = [0] * (len(ref) + 1)
    for word in cand:
        for j, other in enumerate(ref):
            row[j + 1] = row[j] + 1 if word == other else max(row[j + 1], row[j])
    if row[-1] == 0:
        return 0.0
    p, rec = row[-1] / len(cand), row[-1] / len(ref)
    return (1 + beta**2) * p * rec / (rec + beta**2 * p)


def rouge_unigram_overlap(candidate, reference, beta):
    c, r = candidate.split(), reference.split()
    common = sum(min(c.count(w), r.count(w)) for w in set(c))
    if not common:
        return 0.0
    p, rec = common / len(c), common / len(r)
    return (1 + beta**2) * p * rec / (rec + beta**2 * p)


def rouge_beta_not_squared(candidate, reference, beta):
    return solution("rouge_l_fbeta")(candidate, reference, np.sqrt(beta))


def rouge_no_guard_for_empty_text(candidate, reference, beta):
    """The F-beta formula without the 'no common word' case: 0 / 0 for an empty candidate."""
    c, r = candidate.split(), reference.split()
    table = np.zeros((len(c) + 1, len(r) + 1), dtype=int)
    for i, x in enumerate(c):
        for j, y in enumerate(r):
            table[i + 1, j + 1] = table[i, j] + 1 if x == y else max(table[i, j + 1], table[i + 1, j])
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 gives nan: what the judge must refuse
        p, rec = table[-1, -1] / len(c), table[-1, -1] / len(r)
        return (1 + beta**2) * p * rec / (rec + beta**2 * p)


@pytest.mark.parametrize(
    "name, answer, hint",
    [
        ("masked_max_pool", max_pool_padding_counted, "padding takes part"),
        ("masked_max_pool", max_pool_every_tie, "first of them only"),
        ("masked_max_pool", max_pool_pads_with_zero, None),
        ("beam_search_no_repeat", greedy, None),
        ("beam_search_no_repeat", beam_unnormalised, "length ** alpha"),
        ("beam_search_no_repeat", beam_without_the_rule, "no n-gram is blocked"),
        ("beam_search_no_repeat", beam_blocks_after_the_cut, "dropped before the cut"),
        ("rouge_l_fbeta", rouge_one_row_in_place, "one row updated in place"),
        ("rouge_l_fbeta", rouge_unigram_overlap, None),
        ("rouge_l_fbeta", rouge_beta_not_squared, "beta enters squared"),
        ("rouge_l_fbeta", rouge_no_guard_for_empty_text, None),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_wrong_answers_fail_and_are_named(name, answer, hint):
    failures = [m for m in verdicts(name, answer) if m is not None]
    assert failures, f"{answer.__name__} passed every case of {name}"
    if hint is not None:
        assert any(hint in m for m in failures), failures[:3]


def test_the_library_beam_search_agrees_with_the_exercise_on_ties():
    """minidl.training.decoding.beam_search and the exercise break ties alike (issue 57): on
    tables of small integer log-probabilities (sums exact, so ties everywhere), the library's
    answer is the solution's and the spec reference's, at every width and alpha, when the
    exercise's n-grams are longer than any hypothesis (so that none is blocked)."""
    from minidl.training import decoding

    reference = registry.get("beam_search_no_repeat").references["beam_search_no_repeat"]
    answer = solution("beam_search_no_repeat")
    rng = np.random.default_rng(57)
    for _ in range(60):
        v = int(rng.integers(3, 6))
        table = -rng.integers(1, 4, size=(v, v)).astype(np.float64)
        start, end = (int(t) for t in rng.choice(v, 2, replace=False))
        width, max_len, alpha = (
            int(rng.integers(1, 4)),
            int(rng.integers(2, 6)),
            float(rng.choice([0.0, 0.7, 1.0])),
        )
        args = (table, start, end, width, max_len, alpha, max_len + 1)  # no n-gram long enough to repeat
        tokens, _ = decoding.beam_search(lambda p, t=table: t[p[:, -1]], start, end, width, max_len, alpha)
        assert tokens == reference(*args).tolist() == answer(*args).tolist(), args
