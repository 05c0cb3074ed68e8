"""Chapter 14's text tools: words, vocabulary, padding and the generated sets (the IMDB reader is
tools/real_text.py's: tests/tools/test_real_text.py)."""

import hashlib

import numpy as np
import pytest

from minidl import datasets
from minidl.datasets import language


# ----------------------------------------------------------------- words and padding
def test_tokenize_words_lowercases_and_splits_punctuation():
    assert language.tokenize_words("Not bad, really! Didn't") == ["not", "bad", ",", "really", "!", "didn't"]
    with pytest.raises(TypeError, match="expects a str"):
        language.tokenize_words(["a"])


def test_vocabulary_reserves_padding_and_unknown_and_orders_by_count():
    vocab = language.Vocabulary(["b a a", "c a b"])
    assert vocab.words == ("<pad>", "<unk>", "a", "b", "c")
    assert vocab.encode("a zebra c") == [2, 1, 4]
    assert vocab.decode([2, 1, 4, 0, 0]) == "a <unk> c"
    assert vocab.decode([2, 0], skip_padding=False) == "a <pad>"
    small = language.Vocabulary(["b a a", "c a b"], max_size=3)
    assert small.words == ("<pad>", "<unk>", "a") and small.encode("b") == [1]
    assert language.Vocabulary(["b a a", "c a b"], min_count=2).words == ("<pad>", "<unk>", "a", "b")
    with pytest.raises(TypeError, match="list of texts"):
        language.Vocabulary("one string")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([7])


def test_pad_sequences_sides_and_truncation():
    seqs = [[1, 2, 3], [4], []]
    np.testing.assert_array_equal(language.pad_sequences(seqs), [[1, 2, 3], [4, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(
        language.pad_sequences(seqs, padding="pre"), [[1, 2, 3], [0, 0, 4], [0, 0, 0]]
    )
    np.testing.assert_array_equal(language.pad_sequences(seqs, maxlen=2), [[1, 2], [4, 0], [0, 0]])
    np.testing.assert_array_equal(
        language.pad_sequences(seqs, maxlen=2, truncating="pre"), [[2, 3], [4, 0], [0, 0]]
    )
    np.testing.assert_array_equal(language.pad_sequences([[5]], maxlen=3, value=9), [[5, 9, 9]])
    with pytest.raises(ValueError, match="'pre' or 'post'"):
        language.pad_sequences(seqs, padding="left")
    with pytest.raises(ValueError, match="maxlen"):
        language.pad_sequences(seqs, maxlen=0)


def test_encode_batch_mask_marks_real_words():
    vocab = language.Vocabulary(["good film", "bad film"])
    ids, mask = vocab.encode_batch(["good film", "bad"])
    np.testing.assert_array_equal(mask, [[True, True], [True, False]])
    assert ids.dtype == np.int64 and ids[1, 1] == 0
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        language.padding_mask(np.zeros(3))


# ----------------------------------------------------------------- generated sets
def test_reviews_are_deterministic_balanced_and_labelled_by_the_grammar():
    texts, labels, kinds = datasets.make_reviews(600, seed=3)
    again = datasets.make_reviews(600, seed=3)
    assert texts == again[0] and np.array_equal(labels, again[1])
    assert 0.4 < labels.mean() < 0.6 and set(kinds) == {"plain", "negated", "contrast"}
    positive, negative = set(language._POSITIVE), set(language._NEGATIVE)
    for text, label, kind in zip(texts, labels, kinds):
        deciding = text.rstrip(" .").split(" but ")[-1]
        adjective = next(a for a in positive | negative if deciding.endswith(" " + a))
        said = adjective in positive
        negated = " not " in f" {deciding} "
        assert label == int(said != negated), text
        assert (kind == "contrast") == (" but " in text)


def test_match_report_summaries_follow_their_records():
    documents, summaries, records = datasets.make_match_reports(50, seed=1)
    for doc, summary, r in zip(documents, summaries, records):
        assert r["home"] in doc and r["away"] in doc
        h, a = r["home_goals"], r["away_goals"]
        if h == a:
            assert summary == f"{r['home']} and {r['away']} drew {h} - {a} ."
        else:
            winner, loser = (r["home"], r["away"]) if h > a else (r["away"], r["home"])
            assert summary == f"{winner} beat {loser} {max(h, a)} - {min(h, a)} ."


def _digest(value) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()


def test_generators_without_exclude_give_the_sets_of_earlier_versions():
    # digests of the outputs before `exclude` existed: chapters and exercises rely on them
    texts, labels, kinds = datasets.make_reviews(500, seed=3)
    assert _digest((texts, labels.tolist(), kinds)) == (
        "767f289afd955903a0497f4b15df0c8b0f92af4eb9f58cd4a0fde61523f4df72"
    )
    assert datasets.make_reviews(500, seed=3, exclude=[])[0] == texts
    reports = datasets.make_match_reports(300, seed=3)
    assert _digest(reports) == "2aa72368a9ce7d94c2c28585c84e921557d017c0af1560cb7b5609fe85acd72e"
    assert datasets.make_match_reports(300, seed=3, exclude_summaries=[]) == reports


@pytest.mark.slow
def test_plain_slices_of_one_draw_share_reviews_and_summaries():
    # the reason for `exclude`: without it a "held-out" slice repeats the training slice
    texts, _, _ = datasets.make_reviews(3000, seed=0)
    assert sum(t in set(texts[:2400]) for t in texts[2400:]) > 150
    _, summaries, _ = datasets.make_match_reports(1000, seed=0)
    assert sum(s in set(summaries[:800]) for s in summaries[800:]) > 50


def test_held_out_reviews_share_no_text_with_training():
    train, _, _ = datasets.make_reviews(2400, seed=0)
    test, labels, kinds = datasets.make_reviews(600, seed=1, exclude=train)
    assert len(test) == 600 and labels.shape == (600,) and len(kinds) == 600
    assert sum(t in set(train) for t in test) == 0
    assert set(kinds) == {"plain", "negated", "contrast"} and 0.4 < labels.mean() < 0.6
    # the grammar still labels them (same check as above, on the held-out reviews)
    for text, label in zip(test, labels):
        deciding = text.rstrip(" .").split(" but ")[-1]
        said = any(deciding.endswith(" " + a) for a in language._POSITIVE)
        assert label == int(said != (" not " in f" {deciding} ")), text
    with pytest.raises(TypeError, match="list of texts"):
        datasets.make_reviews(5, exclude="the plot was good .")


@pytest.mark.slow
def test_held_out_reports_share_no_summary_with_training():
    _, train_summaries, _ = datasets.make_match_reports(800, seed=0)
    documents, summaries, records = datasets.make_match_reports(
        200, seed=1, exclude_summaries=train_summaries
    )
    assert len(documents) == len(summaries) == len(records) == 200
    assert sum(s in set(train_summaries) for s in summaries) == 0
    assert all(r["home"] in d and r["away"] in d for d, r in zip(documents, records))
    every = sorted(language._ALL_SUMMARIES)
    assert len(every) == 1350
    with pytest.raises(ValueError, match="every possible summary"):
        datasets.make_match_reports(1, exclude_summaries=every)
    assert datasets.make_match_reports(3, exclude_summaries=every[1:])[1] == [every[0]] * 3
