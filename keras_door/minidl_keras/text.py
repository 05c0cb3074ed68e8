"""``keras.layers.TextVectorization``: strings -> integer token ids, with Keras 3's rules.

    standardize "lower_and_strip_punctuation":  lower-case A-Z (ASCII only, as
                 ``tf.strings.lower``), then delete every character of
                 ``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'``
    split "whitespace":  the runs of whitespace separate the tokens
    adapt(texts):  count the tokens; the vocabulary is "" (padding, id 0), "[UNK]" (id 1),
                 then the tokens by descending count, ties by descending token (Keras sorts
                 with ``np.lexsort((tokens, counts))[::-1]``), at most ``max_tokens`` in all
    call(texts) (N,) or (N, 1) strings -> (N, L) int64 ids: unknown tokens are 1, and each
                 row is cut or padded with 0 at its end to ``output_sequence_length``
                 (without it, to the longest row of the batch)

Used as Keras's docs use it: a preprocessing step on the data before ``fit``
(``x = vectorize(texts)``), or a model's first layer on string inputs
(``keras.Input(shape=(1,), dtype="string")``; then ``output_sequence_length`` fixes the
output's width). It has no weights and passes no gradient (ids are integers). Only
``output_mode="int"``, ``"multi_hot"`` and ``"count"`` are here (the last two as Keras's
``IndexLookup`` encodes them: no padding entry, so the vocabulary starts at "[UNK]" (0), and
each text becomes a float32 row of ``vocabulary_size()`` entries -- ``max_tokens`` with
``pad_to_max_tokens=True`` -- holding 1 where a token occurs, or its count); ``ngrams`` and
``"tf_idf"`` raise ``NotImplementedError``.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from minidl.nn.layers.base import Layer

from .missing import KerasFeatureMissing
from .weights import KerasLayerAPI

__all__ = ["TextVectorization"]

_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_STANDARDIZE = (None, "lower_and_strip_punctuation", "lower", "strip_punctuation")
PAD, OOV = "", "[UNK]"


class TextVectorization(KerasLayerAPI, Layer):
    """Keras 3's ``TextVectorization(max_tokens=None, standardize="lower_and_strip_punctuation",
    split="whitespace", output_mode="int", output_sequence_length=None, vocabulary=None)``
    (see the module's docstring). ``standardize`` and ``split`` may also be functions of one
    string (Keras passes tensors; here each string alone)."""

    def __init__(
        self,
        max_tokens=None,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        ngrams=None,
        output_mode="int",
        output_sequence_length=None,
        pad_to_max_tokens=False,
        vocabulary=None,
        idf_weights=None,
        sparse=False,
        ragged=False,
        encoding="utf-8",
        name=None,
        **kwargs,
    ):
        if (
            output_mode not in ("int", "multi_hot", "count")
            or ngrams is not None
            or sparse
            or ragged
            or idf_weights is not None
        ):
            raise KerasFeatureMissing(
                "TextVectorization with output_mode other than 'int', 'multi_hot', 'count', ngrams, "
                "sparse, ragged or idf_weights is not in minidl_keras: take the 'count' rows and "
                "weight them with NumPy"
            )
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(
                "TextVectorization output_sequence_length must not be set if output_mode is not 'int'"
            )
        if standardize not in _STANDARDIZE and not callable(standardize):
            raise ValueError(
                f"TextVectorization standardize must be one of {_STANDARDIZE} or a function, got {standardize!r}"
            )
        if split not in (None, "whitespace", "character") and not callable(split):
            raise ValueError(
                f"TextVectorization split must be None, 'whitespace', 'character' or a function, got {split!r}"
            )
        if max_tokens is not None and int(max_tokens) < 3:
            raise ValueError(
                f"TextVectorization max_tokens must be at least 3 ('', '[UNK]' and a token), got {max_tokens}"
            )
        if output_sequence_length is not None and int(output_sequence_length) < 1:
            raise ValueError(
                f"TextVectorization output_sequence_length must be positive, got {output_sequence_length}"
            )
        super().__init__(name, **kwargs)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.standardize, self.split = standardize, split
        self.output_mode = output_mode
        self.output_sequence_length = None if output_sequence_length is None else int(output_sequence_length)
        self.pad_to_max_tokens, self.encoding = pad_to_max_tokens, encoding
        self.trainable = False
        self._special = [PAD, OOV] if output_mode == "int" else [OOV]  # Keras: no padding id otherwise
        self._vocabulary: list[str] = list(self._special)
        self._ids: dict[str, int] = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ------------------------------------------------------------------ the tokens of one text
    def _standardized(self, text: str) -> str:
        if callable(self.standardize):
            return self.standardize(text)
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.translate(_ASCII_LOWER)
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = _PUNCTUATION.sub("", text)
        return text

    def _words(self, text) -> list[str]:
        if isinstance(text, bytes):
            text = text.decode(self.encoding)
        text = self._standardized(str(text))
        if self.split is None:
            return [text]
        if self.split == "whitespace":
            return text.split()
        if self.split == "character":
            return list(text)
        return list(self.split(text))

    @staticmethod
    def _texts(data) -> list:
        """The strings of ``data``: a string, a list of them, or an (N,) / (N, 1) array."""
        if isinstance(data, (str, bytes)):
            return [data]
        array = np.asarray(data, dtype=object)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise ValueError(
                f"TextVectorization expected strings of shape (N,) or (N, 1), got shape {array.shape}"
            )
        return list(array)

    # ------------------------------------------------------------------ the vocabulary
    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary from ``data`` (strings): by descending count, ties by
        descending token, after "" and "[UNK]"; at most ``max_tokens`` entries in all."""
        counts = Counter(token for text in self._texts(data) for token in self._words(text))
        counts.pop(PAD, None)
        counts.pop(OOV, None)
        ranked = sorted(counts, key=lambda token: (counts[token], token.encode("utf-8")), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[: self.max_tokens - len(self._special)]
        self._set(ranked)

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Use ``vocabulary`` (a list of tokens, without "" and "[UNK]" or starting with them)."""
        tokens = [t.decode(self.encoding) if isinstance(t, bytes) else str(t) for t in vocabulary]
        if tokens[: len(self._special)] == self._special:
            tokens = tokens[len(self._special) :]
        if len(set(tokens)) != len(tokens) or PAD in tokens or OOV in tokens:
            raise ValueError(
                "TextVectorization vocabulary must hold distinct tokens other than '' and '[UNK]'"
            )
        size = len(tokens) + len(self._special)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(
                f"TextVectorization vocabulary of {size} entries is larger than max_tokens={self.max_tokens}"
            )
        self._set(tokens)

    def _set(self, tokens: list[str]) -> None:
        self._vocabulary = [*self._special, *tokens]
        self._ids = {token: i for i, token in enumerate(self._vocabulary)}

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        return list(self._vocabulary if include_special_tokens else self._vocabulary[len(self._special) :])

    def vocabulary_size(self) -> int:
        return len(self._vocabulary)

    # ------------------------------------------------------------------ the call
    def __call__(self, data, training=None):  # type: ignore[override]  # strings, not an array x
        """Strings (N,) or (N, 1) -> ids (N, L) int64 (a single string: (L,)); on a string
        KerasTensor (``keras.Input(dtype="string")``), a node of the model."""
        if hasattr(data, "record_call"):
            return data.record_call(self, data, training=training)
        return self.forward(data)

    def symbolic_output(self, x):
        """The output's spec in a graph: (batch, output_sequence_length) int64, or (batch,
        width) float32 for "multi_hot" and "count"."""
        if x.dtype != "string":
            raise TypeError(f"{self.label} reads strings, got a {x.dtype} input {x!r}")
        if (x.ndim == 2 and x.shape[1] != 1) or x.ndim > 2:
            raise ValueError(f"{self.label} expected strings of shape (batch,) or (batch, 1), got {x.shape}")
        if self.output_mode != "int":
            return (x.shape[0], self._width()), "float32"
        return (x.shape[0], self.output_sequence_length), "int64"

    def _width(self) -> int:
        """The length of a "multi_hot" or "count" row."""
        return self.max_tokens if self.pad_to_max_tokens and self.max_tokens else self.vocabulary_size()

    def backward(self, dy):
        return None  # integer ids: no gradient to the text

    def forward(self, data, training=False):
        """Strings (N,) or (N, 1) -> ids (N, L) int64 (a single string: (L,))."""
        single = isinstance(data, (str, bytes))
        oov = self._ids[OOV]
        rows = [[self._ids.get(token, oov) for token in self._words(text)] for text in self._texts(data)]
        if self.output_mode != "int":  # one row of counts per text
            counts = np.zeros((len(rows), self._width()), dtype=np.float32)
            for i, row in enumerate(rows):
                np.add.at(counts[i], np.asarray(row, dtype=np.int64), 1.0)
            encoded = counts if self.output_mode == "count" else (counts > 0).astype(np.float32)
            return encoded[0] if single else encoded
        length = self.output_sequence_length
        if length is None:
            length = max((len(row) for row in rows), default=0)
        ids = np.zeros((len(rows), length), dtype=np.int64)
        for i, row in enumerate(rows):
            row = row[:length]
            ids[i, : len(row)] = row
        return ids[0] if single else ids

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "max_tokens": self.max_tokens,
            "standardize": self.standardize,
            "split": self.split,
            "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "vocabulary": self.get_vocabulary(include_special_tokens=False),
        }

    def __repr__(self) -> str:
        return f"<TextVectorization vocabulary_size={self.vocabulary_size()}>"
