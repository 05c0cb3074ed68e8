"""Byte-pair encoding: a subword vocabulary learned from a corpus (Sennrich et al., 2016).

A word vocabulary cannot spell a word it never saw; characters can spell anything but make
long sequences. BPE starts from characters and learns, from counts, which pieces to glue:

1. Split the text into words (``tokenize_words``: lower-cased words and punctuation) and
   each word into characters, with an end-of-word marker: "low" -> ``l o w </w>``.
2. Count every pair of adjacent symbols over the corpus (each word weighted by its count).
3. Merge the most frequent pair everywhere it occurs ("w" "</w>" -> "w</w>"), record the
   merge, and go back to 2 until the vocabulary has ``vocab_size`` symbols (or no pair
   occurs twice).

**Ties** (two pairs with the same count) go to the pair that sorts first as a pair of
strings, ``(left, right)`` in Python's order: the result depends on the counts alone, never
on the order in which words were read.

Encoding a word replays the learned merges in the order they were learned (repeatedly merge
the adjacent pair that was learned earliest), so a word seen in training becomes the pieces
training made of it, and a new word the pieces it shares with the corpus. A character never
seen in training becomes ``<unk>``.

The vocabulary: the special tokens first (``<pad>`` id 0, ``<unk>`` id 1, then any others
asked for, e.g. ``<mask>``), then the characters seen and ``</w>`` (sorted), then one symbol
per merge, in the order learned.

Sennrich, R., Haddow, B. & Birch, A. (2016). Neural machine translation of rare words with
subword units. *ACL*. arXiv:1508.07909.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict

from .language import tokenize_words
from .synthetic import _check_count

__all__ = ["BPETokenizer", "END_OF_WORD"]

END_OF_WORD = "</w>"


def merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """``symbols`` with every occurrence of ``pair`` joined into one symbol, left to right
    (``a a a`` with the pair ``(a, a)`` gives ``aa a``)."""
    merged, out, j = pair[0] + pair[1], [], 0
    while j < len(symbols):
        if j + 1 < len(symbols) and symbols[j] == pair[0] and symbols[j + 1] == pair[1]:
            out.append(merged)
            j += 2
        else:
            out.append(symbols[j])
            j += 1
    return out


class BPETokenizer:
    """A byte-pair-encoding tokenizer trained by ``fit`` (see the module docstring).

    Parameters
    ----------
    vocab_size : int
        The number of ids in all: special tokens + alphabet + merges (training stops earlier
        when no pair occurs at least ``min_frequency`` times).
    special_tokens : tuple of str
        Ids 0, 1, ...: ``("<pad>", "<unk>")`` by default; a masked language model adds ``"<mask>"``.
    min_frequency : int
        A pair is merged only if it occurs at least this many times (2: never a one-off).

    Attributes after ``fit``: ``merges`` (list of (left, right) pairs, in order), ``vocab``
    (tuple of symbols, id = position), ``token_to_id`` (dict).

    >>> bpe = BPETokenizer(vocab_size=12).fit(["low lower lowest"])
    >>> bpe.merges
    [('l', 'o'), ('lo', 'w')]
    >>> bpe.tokenize("low slow")
    ['low', '</w>', 's', 'low', '</w>']
    """

    def __init__(self, vocab_size: int, special_tokens=("<pad>", "<unk>"), min_frequency: int = 2):
        _check_count("vocab_size", vocab_size)
        specials: tuple[str, ...] = tuple(special_tokens)
        if len(specials) < 2 or len(set(specials)) != len(specials):
            raise ValueError(
                f"special_tokens must start with the padding and unknown tokens and hold no "
                f"repeats, got {special_tokens!r}"
            )
        _check_count("min_frequency", min_frequency)
        self.vocab_size: int = int(vocab_size)
        self.special_tokens: tuple[str, ...] = specials
        self.min_frequency: int = int(min_frequency)
        self.merges: list[tuple[str, str]] = []
        self.vocab: tuple[str, ...] = specials
        self.token_to_id: dict[str, int] = {t: i for i, t in enumerate(specials)}
        self._ranks: dict[tuple[str, str], int] = {}
        self._cache: dict[str, tuple[str, ...]] = {}

    pad_id, unk_id = 0, 1

    # ------------------------------------------------------------------ training
    def fit(self, texts) -> BPETokenizer:
        """Learn the merges from ``texts`` (an iterable of str); returns ``self``."""
        if isinstance(texts, str):
            raise TypeError("BPETokenizer.fit expects a list of texts, got one str (wrap it in a list)")
        counts = Counter(word for text in texts for word in tokenize_words(text))
        words = [list(word) + [END_OF_WORD] for word in counts]  # each distinct word as symbols
        freq = list(counts.values())
        alphabet = sorted({s for w in words for s in w})
        budget = self.vocab_size - len(self.special_tokens) - len(alphabet)
        if budget < 0:
            raise ValueError(
                f"vocab_size {self.vocab_size} is smaller than the special tokens and the "
                f"{len(alphabet)} characters of the corpus ({len(self.special_tokens) + len(alphabet)})"
            )
        pairs: defaultdict[tuple[str, str], int] = defaultdict(int)  # pair -> count over the corpus
        where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)  # pair -> words holding it
        for i, w in enumerate(words):
            for pair in zip(w, w[1:]):
                pairs[pair] += freq[i]
                where[pair].add(i)
        # a heap of (-count, pair): the top is the most frequent pair, ties to the smaller pair;
        # entries go stale when a count changes and are skipped when popped (lazy deletion)
        heap = [(-c, p) for p, c in pairs.items()]
        heapq.heapify(heap)
        merges: list[tuple[str, str]] = []
        while len(merges) < budget and heap:
            negative, pair = heapq.heappop(heap)
            if pairs.get(pair, 0) != -negative:
                continue  # stale
            if -negative < self.min_frequency:
                break
            merges.append(pair)
            changed: set[tuple[str, str]] = set()
            for i in sorted(where.pop(pair)):
                w, f = words[i], freq[i]
                for old in zip(w, w[1:]):  # take the word's pairs out ...
                    pairs[old] -= f
                    changed.add(old)
                new = merge_pair(w, pair)  # ... merge left to right ...
                words[i] = new
                for p in zip(new, new[1:]):  # ... and put its new pairs in
                    pairs[p] += f
                    where[p].add(i)
                    changed.add(p)
            pairs.pop(pair, None)
            for p in changed:
                if pairs.get(p, 0) > 0:
                    heapq.heappush(heap, (-pairs[p], p))
        self.merges = merges
        self.vocab = self.special_tokens + tuple(alphabet) + tuple(a + b for a, b in merges)
        self.token_to_id = {t: i for i, t in enumerate(self.vocab)}
        self._ranks = {pair: rank for rank, pair in enumerate(merges)}
        self._cache = {}
        return self

    def truncated(self, vocab_size: int) -> BPETokenizer:
        """The tokenizer that ``fit`` with a smaller ``vocab_size`` gives on the same texts: its
        first merges. (Training is greedy, one merge after another, so a smaller vocabulary's
        merges are a prefix of a larger one's: one training measures every size below it.)"""
        first = len(self.vocab) - len(self.merges)
        if not first <= vocab_size <= len(self.vocab):
            raise ValueError(f"vocab_size must be in [{first}, {len(self.vocab)}], got {vocab_size!r}")
        smaller = BPETokenizer(vocab_size, self.special_tokens, self.min_frequency)
        smaller.merges = self.merges[: vocab_size - first]
        smaller.vocab = self.vocab[:vocab_size]
        smaller.token_to_id = {t: i for i, t in enumerate(smaller.vocab)}
        smaller._ranks = {pair: rank for rank, pair in enumerate(smaller.merges)}
        return smaller

    # ------------------------------------------------------------------ using it
    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"BPETokenizer({len(self.vocab)} ids: {len(self.merges)} merges)"

    def _word_pieces(self, word: str) -> tuple[str, ...]:
        """One word's symbols after replaying the merges, earliest-learned pair first."""
        if word in self._cache:
            return self._cache[word]
        symbols = list(word) + [END_OF_WORD]
        while len(symbols) > 1:
            ranked = [
                (self._ranks[p], j) for j, p in enumerate(zip(symbols, symbols[1:])) if p in self._ranks
            ]
            if not ranked:
                break
            rank, j = min(ranked)
            pair = self.merges[rank]
            symbols = merge_pair(symbols, pair)
        pieces = tuple(symbols)
        self._cache[word] = pieces
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """A text -> its subword symbols (a symbol not in the vocabulary stays as it is)."""
        return [piece for word in tokenize_words(text) for piece in self._word_pieces(word)]

    def encode(self, text: str) -> list[int]:
        """A text -> ids (a character never seen in training -> ``unk_id``)."""
        get = self.token_to_id.get
        return [get(piece, self.unk_id) for piece in self.tokenize(text)]

    def decode(self, ids) -> str:
        """Ids -> text: pieces joined, ``</w>`` read as a space, padding left out."""
        pieces = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"id {i} is outside the vocabulary 0 .. {len(self.vocab) - 1}")
            if i != self.pad_id:
                token = self.vocab[i]
                pieces.append(token + END_OF_WORD if token in self.special_tokens else token)
        return "".join(pieces).replace(END_OF_WORD, " ").strip()
