"""Greedy and beam decoding: a wide beam finds the exhaustive optimum, a beam of one is greedy, padding and ties."""

import itertools

import numpy as np
import pytest


def markov_model(rng, v, end_penalty=0.5):
    logits = rng.standard_normal((v, v)) * 2.0
    logits[:, 1] -= end_penalty
    table = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return table, lambda prefixes: table[prefixes[:, -1]]


def exhaustive(table, start, end, max_len, alpha):
    """The best sequence by score / length ** alpha among all sequences that end at ``end``
    or reach ``max_len`` tokens, by enumeration."""
    best, best_value = None, -np.inf
    v = table.shape[0]
    for length in range(1, max_len + 1):
        for seq in itertools.product(range(v), repeat=length):
            if end in seq[:-1] or (length < max_len and seq[-1] != end):
                continue
            prev, score = start, 0.0
            for token in seq:
                score, prev = score + table[prev, token], token
            if score / length**alpha > best_value:
                best, best_value = list(seq), score / length**alpha
    return best


def test_a_wide_beam_finds_the_exhaustive_optimum():
    from minidl.training import decoding

    rng = np.random.default_rng(0)
    for _ in range(10):
        table, step = markov_model(rng, 4)
        for alpha in (0.0, 1.0):
            tokens, _ = decoding.beam_search(step, start=0, end=1, beam_width=4**4, max_len=4, alpha=alpha)
            assert tokens == exhaustive(table, 0, 1, 4, alpha)


def test_a_beam_of_one_is_greedy_decoding():
    from minidl.training import decoding

    rng = np.random.default_rng(1)
    for _ in range(20):
        table, step = markov_model(rng, 5)
        greedy = decoding.greedy_decode(step, batch=1, start=0, end=1, max_len=6)[0].tolist()
        one, _ = decoding.beam_search(step, 0, 1, beam_width=1, max_len=6, alpha=0.0)
        assert one == greedy[: len(one)] and all(t == 1 for t in greedy[len(one) :])


def test_greedy_decode_batches_rows_and_pads_after_the_end():
    from minidl.training import decoding

    table = np.log(np.array([[0.1, 0.2, 0.7], [0.1, 0.8, 0.1], [0.1, 0.6, 0.3]]))
    out = decoding.greedy_decode(lambda p: table[p[:, -1]], batch=2, start=0, end=1, max_len=4)
    np.testing.assert_array_equal(out, [[2, 1, 1, 1], [2, 1, 1, 1]])
    with pytest.raises(ValueError, match="beam_width"):
        decoding.beam_search(lambda p: table[p[:, -1]], 0, 1, beam_width=0)


def test_beam_search_ties_go_to_the_smaller_sequence():
    """Two finished sequences of equal score: (2, 3), found from the better first beam, and
    (1, 3); the smaller sequence wins (Chapter 14's exercise has the same rule)."""
    from minidl.training import decoding

    table = np.full((4, 4), -50.0)
    table[0, 2], table[0, 1] = -1.0, -2.0  # after start: 2 is the better first token
    table[2, 3], table[1, 3] = -2.0, -1.0  # both then end with a total of -3
    tokens, score = decoding.beam_search(lambda p: table[p[:, -1]], 0, 3, beam_width=2, max_len=3)
    assert (tokens, score) == ([1, 3], -3.0)
