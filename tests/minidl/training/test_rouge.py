"""ROUGE: the longest common subsequence against brute force, scores by hand and against the rouge_score package."""

import itertools

import numpy as np
import pytest

from minidl.training import rouge


# ----------------------------------------------------------------- ROUGE
def brute_force_lcs(a, b):
    """Longest common subsequence by trying every subsequence of the shorter text."""
    a, b = (a, b) if len(a) <= len(b) else (b, a)
    for size in range(len(a), 0, -1):
        for picked in itertools.combinations(a, size):
            it = iter(b)
            if all(token in it for token in picked):  # `in` on an iterator consumes it: order kept
                return size
    return 0


def test_lcs_matches_brute_force_on_random_texts():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.choice(list("abcd"), size=rng.integers(0, 8)).tolist()
        b = rng.choice(list("abcd"), size=rng.integers(0, 8)).tolist()
        assert rouge.lcs_length(a, b) == brute_force_lcs(a, b), (a, b)


def test_rouge_by_hand():
    r = rouge.rouge_n("the cat the cat", "the cat sat", 1)
    assert r["precision"] == 0.5 and r["recall"] == pytest.approx(2 / 3)  # 'the', 'cat' clipped to 1 each
    assert rouge.rouge_n("a b", "b a", 2)["f1"] == 0.0
    assert rouge.rouge_l("b a", "a b")["f1"] == 0.5
    assert rouge.rouge_l("", "a b")["f1"] == 0.0 and rouge.rouge_n("a", "", 1)["f1"] == 0.0
    assert rouge.rouge(["a b"], ["a b"]) == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
    with pytest.raises(ValueError, match="as many candidates"):
        rouge.rouge(["a"], [])


def test_rouge_matches_the_rouge_score_package():
    scorer_module = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = scorer_module.RougeScorer(["rouge1", "rouge2", "rougeL"])
    rng = np.random.default_rng(1)
    words = "the cat sat on a mat and dog ran".split()
    for _ in range(100):
        cand = " ".join(rng.choice(words, size=rng.integers(0, 10)))
        ref = " ".join(rng.choice(words, size=rng.integers(1, 10)))
        theirs = scorer.score(ref, cand)
        for name, mine in (
            ("rouge1", rouge.rouge_n(cand, ref, 1)),
            ("rouge2", rouge.rouge_n(cand, ref, 2)),
            ("rougeL", rouge.rouge_l(cand, ref)),
        ):
            assert mine["precision"] == pytest.approx(theirs[name].precision), (name, cand, ref)
            assert mine["recall"] == pytest.approx(theirs[name].recall), (name, cand, ref)
            assert mine["f1"] == pytest.approx(theirs[name].fmeasure), (name, cand, ref)


# ----------------------------------------------------------------- decoding
