"""ROUGE (Lin, 2004): how much of a reference summary a candidate summary recovers.

Both texts are lists of tokens (or strings, split on white space). For n-grams,

    ROUGE-n recall    = |matched n-grams| / |n-grams of the reference|
    ROUGE-n precision = |matched n-grams| / |n-grams of the candidate|

where an n-gram counts as matched at most as often as it occurs in each text (the
clipped count of BLEU); ROUGE-L replaces matched n-grams by the longest common
subsequence (LCS: the longest word sequence found in both texts in the same order, gaps
allowed). Each score is reported as its F1 = 2 P R / (P + R) -- what the ``rouge-score``
package calls ``fmeasure``; an empty text scores 0.

Lower-case tokens from ``minidl.datasets.language.tokenize_words`` match ``rouge-score``'s
own tokenizer on lower-case alphanumeric words (the tests check it); it drops punctuation,
so compare texts without punctuation when comparing with it.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["ngrams", "lcs_length", "rouge_n", "rouge_l", "rouge"]


def _tokens(text) -> list:
    """A text as its tokens: a str split on white space, else a list of the tokens given."""
    return text.split() if isinstance(text, str) else list(text)


def ngrams(tokens, n: int) -> Counter:
    """Counts of the n-grams (tuples of n consecutive tokens) of ``tokens``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    tokens = _tokens(tokens)
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f1(matched: int, candidate_total: int, reference_total: int) -> dict:
    precision = matched / candidate_total if candidate_total else 0.0
    recall = matched / reference_total if reference_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def rouge_n(candidate, reference, n: int = 1) -> dict:
    """ROUGE-n: {"precision", "recall", "f1"} of the clipped n-gram overlap."""
    cand, ref = ngrams(candidate, n), ngrams(reference, n)
    matched = sum((cand & ref).values())  # Counter & Counter: the smaller count of each n-gram
    return _f1(matched, sum(cand.values()), sum(ref.values()))


def lcs_length(a, b) -> int:
    """Length of the longest common subsequence of two token lists, by dynamic programming.

    ``table[i][j]`` is the LCS of ``a[:i]`` and ``b[:j]``: one more than ``table[i-1][j-1]``
    when ``a[i-1] == b[j-1]``, else the larger of ``table[i-1][j]`` and ``table[i][j-1]``.
    O(len(a) len(b)) time, O(len(b)) memory (one row at a time).
    """
    a, b = _tokens(a), _tokens(b)
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate, reference) -> dict:
    """ROUGE-L: {"precision", "recall", "f1"} with the LCS as the matched length."""
    cand, ref = _tokens(candidate), _tokens(reference)
    return _f1(lcs_length(cand, ref), len(cand), len(ref))


def rouge(candidates, references) -> dict:
    """Mean F1 of ROUGE-1, ROUGE-2 and ROUGE-L over pairs of texts: {"rouge1", "rouge2", "rougeL"}."""
    candidates, references = list(candidates), list(references)
    if len(candidates) != len(references) or not candidates:
        raise ValueError(
            f"rouge needs as many candidates as references (at least one), got "
            f"{len(candidates)} candidates and {len(references)} references"
        )
    scores = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for cand, ref in zip(candidates, references):
        scores["rouge1"] += rouge_n(cand, ref, 1)["f1"]
        scores["rouge2"] += rouge_n(cand, ref, 2)["f1"]
        scores["rougeL"] += rouge_l(cand, ref)["f1"]
    return {k: v / len(candidates) for k, v in scores.items()}
