"""Decoding a sequence from a model that predicts the next token: greedy and beam search.

Both take ``next_log_probs(prefixes) -> log_probs``: prefixes (B, t) int64, every row starting
with the start token and all of the same length t; log_probs (B, V), the log-probabilities of
the token that follows each prefix. A model of any kind fits behind that function (a decoder
with cross-attention to a source, a language model, a table).

* ``greedy_decode`` -- the most likely token at every step, for a batch of sources at once.
* ``beam_search`` -- keeps the ``beam_width`` most likely prefixes at every step and returns
  the finished one with the best length-normalised score (Wu et al., 2016, in its simplest
  form ``score / length ** alpha``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["greedy_decode", "beam_search"]


def greedy_decode(next_log_probs, batch: int, start: int, end: int, max_len: int) -> np.ndarray:
    """(batch, max_len) int64: the most likely next token, step by step, for every row.

    Rows that emitted ``end`` keep emitting ``end`` (a row's output stops at its first
    ``end``); decoding stops early once every row has one.
    """
    prefixes = np.full((batch, 1), start, dtype=np.int64)
    done = np.zeros(batch, dtype=bool)
    for _ in range(max_len):
        token = np.asarray(next_log_probs(prefixes)).argmax(axis=-1)  # (batch,)
        token = np.where(done, end, token)
        prefixes = np.concatenate([prefixes, token[:, None]], axis=1)
        done |= token == end
        if done.all():
            break
    out = np.full((batch, max_len), end, dtype=np.int64)
    out[:, : prefixes.shape[1] - 1] = prefixes[:, 1:]
    return out


def beam_search(
    next_log_probs, start: int, end: int, beam_width: int = 3, max_len: int = 20, alpha: float = 1.0
):
    """The most likely sequence found by a beam: (tokens list without ``start``, its log-probability).

    At each step every live prefix is extended by its ``beam_width`` best tokens and the
    ``beam_width`` best extensions by total log-probability are kept; an extension ending in
    ``end`` is finished and leaves the beam. The search stops when no prefix is live or after
    ``max_len`` steps (live prefixes then count as finished). The answer maximises
    ``log-probability / length ** alpha`` (length: tokens after ``start``, ``end`` included):
    ``alpha = 0`` favours short sequences (every token costs log-probability), ``alpha = 1``
    ranks by log-probability per token. ``beam_width = 1`` is greedy decoding.

    Ties, in the beam and in the answer, go to the smaller token sequence (compared token by
    token, as Python compares lists), whatever the order in which the beams were found: the
    rule of Chapter 14's beam-search exercise, whose answers this function reproduces.
    """
    if beam_width < 1 or max_len < 1:
        raise ValueError(f"beam_width and max_len must be >= 1, got {beam_width} and {max_len}")
    live: list[tuple[list[int], float]] = [([start], 0.0)]
    finished: list[tuple[list[int], float]] = []
    for _ in range(max_len):
        log_probs = np.asarray(next_log_probs(np.array([seq for seq, _ in live], dtype=np.int64)))  # (B, V)
        candidates = []
        for (seq, score), row in zip(live, log_probs):
            totals = score + row.astype(np.float64)  # the candidates' scores, summed as they are ranked
            # a beam's best beam_width extensions (ties: smaller ids) hold every one the beam keeps
            for token in np.argsort(-totals, kind="stable")[:beam_width]:
                candidates.append((seq + [int(token)], float(totals[token])))
        candidates.sort(key=lambda c: (-c[1], c[0]))  # ties: the smaller token sequence first
        live = []
        for seq, score in candidates[:beam_width]:
            (finished if seq[-1] == end else live).append((seq, score))
        if not live:
            break
    finished += live
    best, score = min(finished, key=lambda c: (-(c[1] / (len(c[0]) - 1) ** alpha), c[0]))
    return best[1:], score
