"""BLEU (Papineni et al., 2002): how many of a candidate translation's n-grams the references hold.

Texts are lists of tokens (or strings, split on white space). For each n = 1..4,

    p_n = sum over sentences of clipped matches / sum over sentences of candidate n-grams

where an n-gram of the candidate is matched at most as often as it occurs in the one
reference that holds it most often (the **clipped** count: "the the the" does not score three
times against a reference with one "the"). Short candidates would score high precisions, so a
**brevity penalty** multiplies the geometric mean of the precisions:

    BP = 1 if c > r else exp(1 - r / c),    BLEU = BP * exp(sum_n w_n log p_n),  w_n = 1/4

with c the candidates' total length and r the sum, over sentences, of the reference length
closest to the candidate's (ties: the shorter). A precision of 0 makes BLEU 0; an empty
candidate corpus scores 0. This is ``corpus_bleu``: counts summed over the corpus before the
ratios are taken (not the mean of sentence scores), as in the paper, NLTK's ``corpus_bleu`` and
sacreBLEU (Post, 2018), which the tests compare it with.

Scores are in [0, 1]; sacreBLEU prints 100 times that.
"""

from __future__ import annotations

import math
from collections import Counter

from .rouge import _tokens, ngrams

__all__ = ["clipped_matches", "brevity_penalty", "corpus_bleu"]


def _references(references) -> list[list]:
    """One sentence's references: a str is one reference; a list holds references, each a str
    or a list of tokens (so one reference given as tokens is wrapped: ``[tokens]``)."""
    if isinstance(references, str):
        return [references.split()]
    return [_tokens(r) for r in references]


def clipped_matches(candidate, references, n: int) -> tuple[int, int]:
    """(clipped matches, candidate n-grams) of one sentence for n-grams of order ``n``.

    Each n-gram of the candidate counts at most as often as the reference that holds it most
    often. ``references``: one reference as a str, or a list of references (each a str or a
    list of tokens).

    >>> clipped_matches("the the the the", "the cat is on the mat", 1)
    (2, 4)
    """
    counts = ngrams(_tokens(candidate), n)
    most: Counter = Counter()
    for reference in _references(references):
        most |= ngrams(reference, n)  # | keeps the larger count of each n-gram
    return sum(min(count, most[gram]) for gram, count in counts.items()), sum(counts.values())


def _closest_length(length: int, references) -> int:
    return min((len(r) for r in _references(references)), key=lambda r: (abs(r - length), r))


def brevity_penalty(candidate_length: int, reference_length: int) -> float:
    """1 if the candidate is longer than the reference, else exp(1 - r / c); 0 for c = 0."""
    if candidate_length > reference_length:
        return 1.0
    if candidate_length == 0:
        return 0.0
    return math.exp(1.0 - reference_length / candidate_length)


def corpus_bleu(candidates, references, max_n: int = 4) -> float:
    """Corpus BLEU of ``candidates`` (one text each) against ``references`` (per candidate: one
    reference as a str, or a list of references, each a str or a list of tokens, as NLTK takes
    them), n-grams 1..``max_n`` weighted equally."""
    candidates = [_tokens(c) for c in candidates]
    references = list(references)
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} references")
    if max_n < 1:
        raise ValueError(f"max_n must be >= 1, got {max_n}")
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0
    for candidate, refs in zip(candidates, references):
        for n in range(1, max_n + 1):
            m, t = clipped_matches(candidate, refs, n)
            matches[n - 1] += m
            totals[n - 1] += t
        c += len(candidate)
        r += _closest_length(len(candidate), refs)
    if c == 0 or any(m == 0 for m in matches):
        return 0.0
    log_mean = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    return brevity_penalty(c, r) * math.exp(log_mean)
