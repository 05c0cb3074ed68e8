"""Chapter 13's text tools: words, vocabulary, padding, generated sets, the IMDB reader, ROUGE."""

import hashlib
import io
import itertools
import tarfile

import numpy as np
import pytest

from minidl import datasets
from minidl.datasets import download, language
from minidl.training import rouge


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


# ----------------------------------------------------------------- IMDB
def imdb_archive(reviews) -> bytes:
    """A .tar.gz in the layout of aclImdb_v1.tar.gz: {(split, label, name): text}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for (split, label, name), text in reviews.items():
            raw = text.encode("utf-8")
            info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        for extra in ("aclImdb/imdb.vocab", "aclImdb/train/unsup/0_0.txt", "aclImdb/train/urls_pos.txt"):
            info = tarfile.TarInfo(extra)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return buffer.getvalue()


def test_load_imdb_reads_the_verified_archive(offline_cache, monkeypatch):
    content = imdb_archive(
        {
            ("train", "pos", "0_9.txt"): "Great film.<br />Loved it.",
            ("train", "neg", "1_2.txt"): "Dull.",
            ("train", "neg", "0_1.txt"): "Awful.",
            ("test", "pos", "3_8.txt"): "Fine, fine.",
            ("test", "neg", "2_3.txt"): "Too long.",
        }
    )
    folder, _ = offline_cache
    (folder / "imdb").mkdir()
    (folder / "imdb" / "aclImdb_v1.tar.gz").write_bytes(content)
    monkeypatch.setitem(download.SHA256["imdb"], "aclImdb_v1.tar.gz", hashlib.sha256(content).hexdigest())
    (x, y), (xt, yt) = datasets.load_imdb()
    assert x == ["Great film. Loved it.", "Awful.", "Dull."] and y.tolist() == [1, 0, 0]
    assert xt == ["Fine, fine.", "Too long."] and yt.tolist() == [1, 0] and yt.dtype == np.int64


def test_load_imdb_offline_names_the_file_its_sum_and_the_folder(offline_cache):
    folder, _ = offline_cache
    with pytest.raises(download.DownloadError) as err:
        datasets.load_imdb()
    message = str(err.value)
    assert "aclImdb_v1.tar.gz" in message and download.SHA256["imdb"]["aclImdb_v1.tar.gz"] in message
    assert str(folder / "imdb") in message


def test_imdb_archive_with_wrong_layout_is_refused(tmp_path):
    path = tmp_path / "other.tar.gz"
    path.write_bytes(imdb_archive({("train", "pos", "0_9.txt"): "only train"}))
    with pytest.raises(ValueError, match="aclImdb/test"):
        language.read_imdb_archive(path)


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
    (1, 3); the smaller sequence wins (Chapter 13's exercise has the same rule)."""
    from minidl.training import decoding

    table = np.full((4, 4), -50.0)
    table[0, 2], table[0, 1] = -1.0, -2.0  # after start: 2 is the better first token
    table[2, 3], table[1, 3] = -2.0, -1.0  # both then end with a total of -3
    tokens, score = decoding.beam_search(lambda p: table[p[:, -1]], 0, 3, beam_width=2, max_len=3)
    assert (tokens, score) == ([1, 3], -3.0)
