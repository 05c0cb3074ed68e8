"""BPETokenizer (minidl/datasets/bpe.py): merges counted by hand, the tie rule, replaying
merges on new words, unknown characters, truncation equal to training smaller, and the
incremental counts equal to a naive recount."""

from collections import Counter

import pytest

from minidl.datasets import BPETokenizer, load_aclsum, tokenize_words
from minidl.datasets.bpe import END_OF_WORD


def _naive_merges(texts, n):
    """Sennrich et al.'s loop written plainly: recount every pair after each merge."""
    words = Counter(tuple(w) + (END_OF_WORD,) for t in texts for w in tokenize_words(t))
    merges = []
    for _ in range(n):
        pairs = Counter()
        for w, f in words.items():
            for p in zip(w, w[1:]):
                pairs[p] += f
        if not pairs or max(pairs.values()) < 2:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        new = Counter()
        for w, f in words.items():
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and (w[j], w[j + 1]) == best:
                    out.append(w[j] + w[j + 1])
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            new[tuple(out)] += f
        words = new
    return merges


def test_merges_by_hand():
    bpe = BPETokenizer(vocab_size=14).fit(["low low low lower newest newest"])
    # counts: (l,o) 4 (o,w) 4 (w,</w>) 3 (e,s) (s,t) (t,</w>) 2 ... ; the tie between (l,o) and (o,w) goes to (l,o)
    assert bpe.merges[:3] == [("l", "o"), ("lo", "w"), ("low", "</w>")]
    assert bpe.tokenize("low") == ["low</w>"]
    assert bpe.vocab[:2] == ("<pad>", "<unk>")
    assert len(bpe) == 14


def test_ties_go_to_the_pair_that_sorts_first_whatever_the_order_of_the_words():
    a = BPETokenizer(vocab_size=20).fit(["ab cd", "xy"])
    b = BPETokenizer(vocab_size=20).fit(["xy", "cd ab"])
    assert a.merges == b.merges == []  # every pair occurs once: none reaches min_frequency
    a = BPETokenizer(vocab_size=20).fit(["ab cd xy ab cd xy"])
    b = BPETokenizer(vocab_size=20).fit(["xy cd ab xy cd ab"])
    assert a.merges == b.merges
    assert a.merges[0] == ("a", "b")  # (a,b), (b,</w>), (c,d), ... all occur twice


@pytest.mark.slow
def test_the_incremental_counts_give_the_naive_loops_merges():
    papers = load_aclsum("val")[:3]
    texts = [s for p in papers for s in p.all_sentences()]
    bpe = BPETokenizer(vocab_size=300).fit(texts)
    n = len(bpe.merges)
    assert n > 150
    assert bpe.merges == _naive_merges(texts, n)


def test_encode_decode_and_unknown_characters():
    bpe = BPETokenizer(vocab_size=30, special_tokens=("<pad>", "<unk>", "<mask>")).fit(
        ["the cat sat on the mat", "the hat"]
    )
    assert bpe.token_to_id["<mask>"] == 2
    ids = bpe.encode("the cat sat")
    assert bpe.decode(ids) == "the cat sat"
    assert bpe.decode([0, *ids, 0]) == "the cat sat"
    assert bpe.encode("that")  # a new word is spelt with known pieces
    ids = bpe.encode("the zoo")
    assert bpe.unk_id in ids  # z and o were never seen
    with pytest.raises(ValueError, match="id 99 is outside the vocabulary"):
        bpe.decode([99])


def test_truncated_equals_training_a_smaller_vocabulary():
    texts = [s for p in load_aclsum("val")[:3] for s in p.all_sentences()]
    big = BPETokenizer(vocab_size=300).fit(texts)
    small = BPETokenizer(vocab_size=150).fit(texts)
    cut = big.truncated(150)
    assert cut.merges == small.merges and cut.vocab == small.vocab
    assert cut.encode(texts[0]) == small.encode(texts[0])


def test_errors_name_what_was_expected():
    with pytest.raises(ValueError, match="vocab_size must be an integer >= 1, got 0"):
        BPETokenizer(0)
    with pytest.raises(
        ValueError, match=r"vocab_size 5 is smaller than the special tokens and the 4 characters"
    ):
        BPETokenizer(5).fit(["abc"])
    with pytest.raises(TypeError, match="wrap it in a list"):
        BPETokenizer(50).fit("abc")
