"""BLEU by hand, against hand-computed values, NLTK and (when installed) sacreBLEU."""

import math

import numpy as np
import pytest
from nltk.translate import bleu_score as nltk_bleu

from minidl.datasets import make_sentence_pairs
from minidl.training import bleu


def test_clipped_matches_count_a_repeated_word_at_most_as_often_as_the_reference():
    # Papineni et al.'s example: "the" seven times against references holding it twice at most
    refs = ["the cat is on the mat", "there is a cat on the mat"]
    assert bleu.clipped_matches("the the the the the the the", refs, 1) == (2, 7)
    assert bleu.clipped_matches("the cat the cat", "the cat", 2) == (1, 3)  # (the cat) once
    assert bleu.clipped_matches("a", "a b", 2) == (0, 0)  # too short for a bigram


def test_brevity_penalty_edge_cases():
    assert bleu.brevity_penalty(5, 4) == 1.0
    assert bleu.brevity_penalty(4, 4) == 1.0  # equal length: exp(0)
    assert bleu.brevity_penalty(2, 4) == pytest.approx(math.exp(-1.0))
    assert bleu.brevity_penalty(0, 4) == 0.0


def test_corpus_bleu_by_hand():
    # candidate 6 words, reference 7: p1 = 5/6, p2 = 3/5, p3 = 2/4, p4 = 1/3, BP = exp(1 - 7/6)
    candidate, reference = "the cat sat on a mat", "the cat sat on the red mat"
    expected = math.exp(1 - 7 / 6) * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert bleu.corpus_bleu([candidate], [reference]) == pytest.approx(expected, rel=1e-12)
    assert bleu.corpus_bleu([reference], [[reference]]) == 1.0
    assert bleu.corpus_bleu(["mat on sat cat"], ["the cat sat on the mat"]) == 0.0  # no bigram
    assert bleu.corpus_bleu([""], ["a b"]) == 0.0
    # the closest reference length, ties to the shorter
    assert bleu.corpus_bleu(["a b c d e"], [["a b c d e f", "a b c d"]]) == 1.0  # 5: |6-5| = |4-5|, r = 4
    with pytest.raises(ValueError):
        bleu.corpus_bleu(["a"], ["a", "b"])


def test_corpus_bleu_sums_counts_before_dividing():
    cands, refs = ["a b c d e", "x y"], ["a b c d e", "x z"]
    # p1 = 6/7, p2 = 4/5, p3 = 3/3, p4 = 2/2 over the corpus; not a mean of sentence scores
    assert bleu.corpus_bleu(cands, refs) == pytest.approx((6 / 7 * 4 / 5) ** 0.25)


def random_corpus(seed, n=60):
    rng = np.random.default_rng(seed)
    pairs = make_sentence_pairs(n, seed=seed)
    words = sorted({w for _, t in pairs for w in t.split()})
    candidates, references = [], []
    for _, target in pairs:
        tokens = target.split()
        cand = [w if rng.random() < 0.75 else words[rng.integers(len(words))] for w in tokens]
        # some shorter, none below 4 words: NLTK counts a sentence without n-grams of order n
        # as having one (its denominator is max(1, count)), sacreBLEU and the paper do not
        cand = cand[: rng.integers(max(4, len(cand) - 3), len(cand) + 1)]
        candidates.append(cand)
        references.append([tokens, tokens[::-1]] if rng.random() < 0.3 else [tokens])
    return candidates, references


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_corpus_bleu_matches_nltk(seed):
    candidates, references = random_corpus(seed)
    ours = bleu.corpus_bleu(candidates, references)
    assert 0.05 < ours < 1
    assert ours == pytest.approx(nltk_bleu.corpus_bleu(references, candidates), rel=1e-12)


def test_corpus_bleu_matches_sacrebleu():
    sacrebleu = pytest.importorskip("sacrebleu")
    candidates, references = random_corpus(3)
    one_ref = [" ".join(r[0]) for r in references]  # sacreBLEU takes reference streams
    score = sacrebleu.corpus_bleu(
        [" ".join(c) for c in candidates], [one_ref], tokenize="none", smooth_method="none"
    ).score
    assert bleu.corpus_bleu(candidates, one_ref) * 100 == pytest.approx(score, rel=1e-9)
