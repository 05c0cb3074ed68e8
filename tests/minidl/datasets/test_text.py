"""The text tools: the corpus, the character encoder, windows and sampling from a model."""

import string

import numpy as np
import pytest

from minidl import datasets


# =========================================================================== text
def test_text_corpus_is_deterministic_printable_ascii():
    text = datasets.load_text_corpus(max_chars=20_000)
    assert len(text) == 20_000
    assert set(text) <= set(string.printable) - set("\t\r\x0b\x0c")
    assert "\n\n\n" not in text
    assert datasets.load_text_corpus(max_chars=20_000) == text
    assert datasets.load_text_corpus(max_chars=5_000) == text[:5_000]
    assert text.count(" ") > len(text) / 10  # prose, not noise
    with pytest.raises(ValueError, match="max_chars"):
        datasets.load_text_corpus(max_chars=0)


def test_char_encoder_round_trip():
    text = datasets.load_text_corpus(max_chars=5_000)
    encoder = datasets.CharEncoder(text)
    ids = encoder.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert ids.min() == 0 and ids.max() == encoder.vocab_size - 1
    assert encoder.decode(ids) == text
    assert list(encoder.chars) == sorted(set(text))


def test_char_encoder_unknown_characters():
    strict = datasets.CharEncoder("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\) not in the vocabulary: 'xz'"):
        strict.encode("axbz")
    lenient = datasets.CharEncoder("abc", unknown="?")
    assert lenient.vocab_size == 4
    assert lenient.decode(lenient.encode("axbz")) == "a?b?"
    with pytest.raises(ValueError, match=r"ids must be in 0..3, got values from 0 to 9"):
        lenient.decode([0, 9])
    with pytest.raises(RuntimeError, match="not fitted"):
        datasets.CharEncoder().encode("a")


def test_make_char_windows_targets_are_next_characters():
    ids = np.arange(23)
    inputs, targets = datasets.make_char_windows(ids, window=5)
    assert inputs.shape == targets.shape == (4, 5) and inputs.dtype == np.int64
    assert inputs[1].tolist() == [5, 6, 7, 8, 9] and targets[1].tolist() == [6, 7, 8, 9, 10]
    np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])
    overlapping, _ = datasets.make_char_windows(ids, window=5, stride=2)
    assert overlapping.shape == ((23 - 1 - 5) // 2 + 1, 5)
    with pytest.raises(ValueError, match="at least window \\+ 1 = 6 ids"):
        datasets.make_char_windows(np.arange(5), window=5)


class FavouriteCharModel:
    """A stand-in for a trained model: logits that favour one id, and a log of inputs."""

    def __init__(self, vocab_size, favourite, margin=5.0):
        self.vocab_size, self.favourite, self.margin = vocab_size, favourite, margin
        self.seen = []

    def predict(self, x):
        self.seen.append(np.array(x))
        logits = np.zeros((x.shape[0], x.shape[1], self.vocab_size))
        logits[..., self.favourite] = self.margin
        return logits


def test_sample_follows_the_model_and_respects_window():
    encoder = datasets.CharEncoder("abcde ")
    model = FavouriteCharModel(encoder.vocab_size, favourite=encoder.char_to_id["e"])
    text = datasets.sample(model, encoder, "ab", length=12, temperature=0.05, window=4, seed=0)
    assert text == "ab" + "e" * 12
    assert [s.shape for s in model.seen[:4]] == [(1, 2), (1, 3), (1, 4), (1, 4)]
    assert all(s.dtype == np.int64 for s in model.seen)


def test_sample_temperature_flattens_the_distribution():
    encoder = datasets.CharEncoder("abcdefghij")
    model = FavouriteCharModel(encoder.vocab_size, favourite=0, margin=2.0)
    cold = datasets.sample(model, encoder, "a", length=300, temperature=0.2, seed=1)
    hot = datasets.sample(model, encoder, "a", length=300, temperature=5.0, seed=1)
    assert cold[1:].count("a") > 290  # p(a) = 1 / (1 + 9 e^-10) ~ 0.9996
    assert hot[1:].count("a") < 100  # p(a) = e^.4 / (e^.4 + 9) ~ 0.14
    again = datasets.sample(model, encoder, "a", length=300, temperature=5.0, seed=1)
    assert again == hot


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan")])
def test_sample_rejects_non_positive_temperature(temperature):
    encoder = datasets.CharEncoder("ab")
    model = FavouriteCharModel(2, favourite=0)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        datasets.sample(model, encoder, "a", length=3, temperature=temperature)
    with pytest.raises(ValueError, match="length must be an integer >= 0, got -1"):
        datasets.sample(model, encoder, "a", length=-1)


def test_sample_rejects_wrong_logit_shape():
    encoder = datasets.CharEncoder("abc")
    model = FavouriteCharModel(5, favourite=0)  # vocabulary of the wrong size
    with pytest.raises(ValueError, match=r"logits \(1, 1, 3\) or \(1, 3\).*got shape \(1, 1, 5\)"):
        datasets.sample(model, encoder, "a", length=1)
