"""Sentence pairs: the generated language pair, and the reader of the Tatoeba format (its
downloader is tools/real_text.py's: tests/tools/test_real_text.py)."""

import io

import pytest

from minidl import datasets

# Three lines in the real format of the ManyThings files (English, French, attribution).
REAL_LINES = (
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)\n"
    "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #509819 (Aiji)\n"
    "Run!\tCours\u202f!\tCC-BY 2.0 (France) Attribution: tatoeba.org #906328 (papabear) & #906331 (sacredceltic)\n"
)


def test_generated_pairs_are_seeded_and_word_for_word_in_length():
    pairs = datasets.make_sentence_pairs(300, seed=0)
    assert pairs == datasets.make_sentence_pairs(300, seed=0)
    assert pairs != datasets.make_sentence_pairs(300, seed=1)
    for english, target in pairs:
        assert len(english.split()) == len(target.split()) and english.endswith(" .")


def test_the_target_language_agrees_and_reorders():
    pairs = dict(datasets.make_sentence_pairs(3000, seed=0))
    # subject, object, verb; adjective after its noun, agreeing in gender and number
    assert datasets.make_sentence_pairs(1, seed=3) == [
        ("a house finds the big birds .", "una casa las avas grandas halla .")
    ]
    translations_of_the = {t.split()[0] for e, t in pairs.items() if e.split()[0] == "the"}
    assert translations_of_the == {"lo", "la", "los", "las"}  # one English word, four targets
    plural = [t for e, t in pairs.items() if e.split()[1] == "cats"]
    assert plural and all(t.split()[-2].endswith("an") for t in plural)  # verb last, plural


def test_held_out_pairs_share_no_pair_with_training():
    train = datasets.make_sentence_pairs(2000, seed=0)
    test = datasets.make_sentence_pairs(500, seed=1, exclude=train)
    assert len(test) == 500 and not set(test) & set(train)
    assert not {e for e, _ in test} & {e for e, _ in train}
    with pytest.raises(TypeError):
        datasets.make_sentence_pairs(5, exclude="the cat sees a ball .")
    with pytest.raises(ValueError, match="n must be an integer >= 0, got -1"):
        datasets.make_sentence_pairs(-1)


def test_read_sentence_pairs_reads_the_real_format(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text(REAL_LINES + "\n", encoding="utf-8")
    assert datasets.read_sentence_pairs(path) == [
        ("Go.", "Va !"),
        ("Hi.", "Salut !"),
        ("Run!", "Cours\u202f!"),
    ]
    assert datasets.read_sentence_pairs(io.StringIO("a\tb\n")) == [("a", "b")]  # attribution optional
    with pytest.raises(ValueError, match="line 2"):
        datasets.read_sentence_pairs(io.StringIO("a\tb\tc\nno tab here\n"))
