"""Words as data: a word vocabulary, padding and masks, and text sets for chapter 14.

* ``tokenize_words`` -- lower-cased words and punctuation marks.
* ``Vocabulary`` -- words <-> ids, with a padding id (0) and an unknown-word id (1).
* ``pad_sequences``, ``padding_mask`` -- ragged id lists -> an (N, T) batch and its mask.
* ``make_reviews`` -- GENERATED short film reviews with sentiment labels, from a small
  grammar with negation ("not bad"), intensifiers ("very good") and contrast ("good but
  too long"). They are not human-written: no labelled human corpus installs offline.
* ``make_match_reports`` -- GENERATED football match reports and a one-sentence reference
  summary each, written from the same random record (teams, score, scorer, crowd).

The real IMDB reviews of Maas et al. (2011), 25,000 + 25,000, are a maintainer's download
(``tools/real_text.py imdb``): no chapter trains on them.
"""

from __future__ import annotations

import numbers
import re
from collections import Counter

import numpy as np

from .synthetic import _check_count, _generator

__all__ = ["tokenize_words", "Vocabulary", "pad_sequences", "padding_mask", "make_reviews"]
__all__ += ["make_match_reports"]

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


# --------------------------------------------------------------------------- words
def tokenize_words(text: str) -> list[str]:
    """Lower-cased words (with an apostrophe part: "didn't") and single punctuation marks.

    >>> tokenize_words("Not bad, really!")
    ['not', 'bad', ',', 'really', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize_words expects a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


class Vocabulary:
    """Words <-> integer ids: id 0 is the padding token, id 1 the unknown word.

    The other words are numbered by decreasing count in the texts given to ``fit``
    (ties: alphabetical), keeping at most ``max_size`` ids in all and only words seen at
    least ``min_count`` times; any other word is encoded as ``UNK`` (id 1).

    >>> vocab = Vocabulary(["good film", "bad film"])
    >>> vocab.words, vocab.encode("good popcorn")
    (('<pad>', '<unk>', 'film', 'bad', 'good'), [4, 1])
    """

    pad_id, unk_id = 0, 1

    def __init__(self, texts=None, max_size: int | None = None, min_count: int = 1):
        if max_size is not None and (not isinstance(max_size, numbers.Integral) or max_size < 2):
            raise ValueError(
                f"max_size must be None or an integer >= 2 (padding and unknown), got {max_size!r}"
            )
        _check_count("min_count", min_count)
        self.max_size: int | None = max_size
        self.min_count: int = int(min_count)
        self.words: tuple = (PAD, UNK)
        self.word_to_id: dict = {PAD: 0, UNK: 1}
        if texts is not None:
            self.fit(texts)

    def fit(self, texts) -> Vocabulary:
        """Count the words of ``texts`` (an iterable of str) and number them; returns ``self``."""
        if isinstance(texts, str):
            raise TypeError("Vocabulary.fit expects a list of texts, got one str (wrap it in a list)")
        counts = Counter(word for text in texts for word in tokenize_words(text))
        kept = sorted((w for w, c in counts.items() if c >= self.min_count), key=lambda w: (-counts[w], w))
        if self.max_size is not None:
            kept = kept[: self.max_size - 2]
        self.words = (PAD, UNK) + tuple(kept)
        self.word_to_id = {w: i for i, w in enumerate(self.words)}
        return self

    def __len__(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} ids: {PAD}, {UNK} and {len(self) - 2} words)"

    def encode(self, text: str) -> list[int]:
        """A text -> its word ids (unknown words -> 1)."""
        return [self.word_to_id.get(w, self.unk_id) for w in tokenize_words(text)]

    def encode_batch(self, texts, maxlen: int | None = None):
        """Texts -> (ids (N, T) int64 padded after the words, mask (N, T) bool of real words)."""
        ids = pad_sequences([self.encode(t) for t in texts], maxlen=maxlen, value=self.pad_id)
        return ids, padding_mask(ids, self.pad_id)

    def decode(self, ids, skip_padding: bool = True) -> str:
        """Ids -> words joined by spaces (padding left out unless ``skip_padding=False``)."""
        words = []
        for i in np.asarray(ids).ravel().tolist():
            if not 0 <= i < len(self.words):
                raise ValueError(f"id {i} is outside the vocabulary 0 .. {len(self.words) - 1}")
            if i != self.pad_id or not skip_padding:
                words.append(self.words[i])
        return " ".join(words)


def pad_sequences(
    sequences, maxlen: int | None = None, padding: str = "post", truncating: str = "post", value: int = 0
):
    """Lists of ids of different lengths -> one (N, T) int64 array.

    T is ``maxlen`` or the longest length. Shorter sequences are filled with ``value``
    after their ids (``padding="post"``, the default here) or before them (``"pre"``); longer ones lose their end (``truncating="post"``) or their start
    (``"pre"``). Padding after the words suits a left-to-right recurrent layer whose
    outputs are pooled over the real words: its outputs at the real words never see the
    padding, so padding changes nothing.
    """
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in ("pre", "post"):
            raise ValueError(f"{name} must be 'pre' or 'post', got {side!r}")
    sequences = [list(s) for s in sequences]
    if maxlen is None:
        maxlen = max((len(s) for s in sequences), default=0)
    elif not isinstance(maxlen, numbers.Integral) or maxlen < 1:
        raise ValueError(f"maxlen must be None or a positive integer, got {maxlen!r}")
    out = np.full((len(sequences), maxlen), value, dtype=np.int64)
    for row, seq in enumerate(sequences):
        seq = seq[:maxlen] if truncating == "post" else seq[max(len(seq) - maxlen, 0) :]
        start = 0 if padding == "post" else maxlen - len(seq)
        out[row, start : start + len(seq)] = seq
    return out


def padding_mask(ids, pad_id: int = 0):
    """(N, T) ids -> (N, T) bool, True at real tokens and False at padding."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"padding_mask expects ids of shape (N, T), got shape {ids.shape}")
    return ids != pad_id


# --------------------------------------------------------------------------- generated reviews
_ASPECTS = tuple("the " + noun for noun in "plot acting music ending script film cast story".split())
_POSITIVE = ("good", "great", "funny", "moving", "clever", "beautiful", "brilliant", "fun")
_NEGATIVE = ("bad", "boring", "dull", "awful", "weak", "silly", "too long", "too slow")
_INTENSIFIERS = ("very", "really", "quite", "extremely")
_OPENERS = ("honestly ,", "overall ,", "i think", "to be fair ,", "in short ,")


def _clause(rng, polarity: int) -> str:
    """One clause of the given polarity (+1 / -1): '<aspect> was [not] [very] <adjective>'."""
    negated = rng.random() < 0.35
    said = polarity if not negated else -polarity  # "not bad" says good
    adjective = rng.choice(_POSITIVE if said > 0 else _NEGATIVE)
    words = [rng.choice(_ASPECTS), "was"]
    if negated:
        words.append("not")
    if rng.random() < 0.4 and not adjective.startswith("too"):
        words.append(rng.choice(_INTENSIFIERS))
    words.append(adjective)
    return " ".join(words)


def make_reviews(n: int = 2000, seed: int = 0, exclude=None):
    """Generated one-line film reviews and their sentiment: (texts, labels (n,) int64, kinds).

    A review is one clause -- "the acting was very good", "the plot was not bad" -- or two
    joined by "but", where the second clause decides ("the music was great but the film
    was too long" is negative). Negation flips a clause ("not bad" is positive). Labels:
    1 positive, 0 negative, balanced in expectation. ``kinds`` names each review's
    construction: "plain", "negated" (its deciding clause has "not") or "contrast" (two
    clauses of opposite polarity).

    These reviews are GENERATED by this grammar, not written by people: the grammar is
    small and its labels are exact, which makes negation and contrast easy to study but
    the task far easier than real reviews (IMDB's, ``tools/real_text.py``).

    The grammar often writes the same review twice (a short one, such as "the plot was
    good .", is drawn again and again): of the last 600 of ``make_reviews(3000)``, about a
    third are also among the first 2,400. To draw a held-out set that is held out, pass the
    training texts as ``exclude``: a review equal to one of them is drawn again, so none of
    the n returned reviews is in ``exclude`` (they may repeat one another). The held-out
    reviews are then the ones the grammar writes less often, longer on average.

    >>> train, _, _ = make_reviews(2400, seed=0)
    >>> test, _, _ = make_reviews(600, seed=1, exclude=train)
    >>> set(test) & set(train)
    set()
    """
    _check_count("n", n)
    excluded = _excluded_texts(exclude, "exclude")
    rng = _generator(seed)
    texts: list[str] = []
    labels, kinds = [], []
    while len(texts) < n:
        polarity = 1 if rng.random() < 0.5 else -1
        last = _clause(rng, polarity)
        if rng.random() < 0.4:
            text, kind = f"{_clause(rng, -polarity)} but {last}", "contrast"
        else:
            text, kind = last, "negated" if " not " in last else "plain"
        if rng.random() < 0.3:
            text = f"{rng.choice(_OPENERS)} {text}"
        if text + " ." in excluded:
            continue
        texts.append(text + " .")
        labels.append(int(polarity > 0))
        kinds.append(kind)
    return texts, np.asarray(labels, dtype=np.int64), kinds


# --------------------------------------------------------------------------- generated reports
_TEAMS = tuple("rovers united city athletic wanderers albion rangers town harriers dynamo".split())
_PLAYERS = ("silva", "okafor", "berg", "moreau", "kowalski", "tanaka", "novak", "haddad", "jensen", "costa")
_WEATHER = ("rain", "sunshine", "wind", "cold", "fog")
_NUMBERS = ("nil", "one", "two", "three", "four")


def make_match_reports(n: int = 500, seed: int = 0, exclude_summaries=None):
    """Generated football match reports, each with a one-sentence reference summary.

    Each report is written from one random record (home and away team, their goals, the
    first scorer and the minute, the crowd, the weather): four or five sentences in a
    shuffled order, then the summary "<winner> beat <loser> <w> - <l> ." or "<home> and
    <away> drew <g> - <g> .". Lower-case words and spaced punctuation, ready for
    ``tokenize_words``. Returns (documents, summaries, records) -- lists of n str, n str and
    n dicts. GENERATED text (data-to-text), not written by people.

    Two reports almost never repeat (crowd, minute, scorer and the order of the sentences
    differ), but their summaries do: there are 1,350 (90 ordered pairs of teams, each with
    10 winning scores and 5 draws), and of the last 200 of ``make_match_reports(1000)``
    about half have a summary that is also among the first 800. To hold out *by summary*,
    pass the training summaries as ``exclude_summaries``: a record whose summary is one of
    them is drawn again, so no returned report has a summary in that set, and a model must
    write a result (pair of teams and score) it never saw written.
    """
    _check_count("n", n)
    excluded = _excluded_texts(exclude_summaries, "exclude_summaries")
    if len(excluded & _ALL_SUMMARIES) == len(_ALL_SUMMARIES):
        raise ValueError("exclude_summaries holds every possible summary: no report can be drawn")
    rng = _generator(seed)
    documents: list[str] = []
    summaries, records = [], []
    while len(documents) < n:
        home, away = (str(t) for t in rng.choice(_TEAMS, size=2, replace=False))
        goals = rng.integers(0, 5, size=2)
        record = dict(
            home=home,
            away=away,
            home_goals=int(goals[0]),
            away_goals=int(goals[1]),
            scorer=str(rng.choice(_PLAYERS)),
            minute=int(rng.integers(2, 90)),
            crowd=int(rng.integers(2, 40)) * 1000,
            weather=str(rng.choice(_WEATHER)),
        )
        document = _report(record, rng)
        if _summary(record) in excluded:
            continue
        documents.append(document)
        summaries.append(_summary(record))
        records.append(record)
    return documents, summaries, records


def _report(r: dict, rng) -> str:
    h, a = r["home_goals"], r["away_goals"]
    sentences = [
        f"{r['crowd']} fans came to see {r['home']} play {r['away']} in the {r['weather']} .",
        f"the final score was {r['home']} {_NUMBERS[h]} , {r['away']} {_NUMBERS[a]} .",
        f"{r['away']} travelled with a young side .",
    ]
    if h + a:
        team = r["home"] if (h and (not a or rng.random() < 0.5)) else r["away"]
        sentences.append(f"{r['scorer']} of {team} opened the scoring after {r['minute']} minutes .")
    else:
        sentences.append("neither keeper was beaten all afternoon .")
    if rng.random() < 0.5:
        sentences.append(f"the manager of {r['home']} praised the crowd .")
    order = rng.permutation(len(sentences))
    return " ".join(sentences[i] for i in order)


def _excluded_texts(texts, name: str) -> frozenset:
    """The texts a generator must not return, as a set (None: none)."""
    if texts is None:
        return frozenset()
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of texts, got one str (wrap it in a list)")
    texts = frozenset(texts)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError(f"{name} must hold str texts, got {sorted({type(t).__name__ for t in texts})}")
    return texts


def _summary(r: dict) -> str:
    h, a = r["home_goals"], r["away_goals"]
    if h == a:
        return f"{r['home']} and {r['away']} drew {h} - {a} ."
    (winner, w), (loser, lo) = sorted(((r["home"], h), (r["away"], a)), key=lambda p: -p[1])
    return f"{winner} beat {loser} {w} - {lo} ."


_ALL_SUMMARIES = frozenset(
    _summary(dict(home=home, away=away, home_goals=h, away_goals=a))
    for home in _TEAMS
    for away in _TEAMS
    if home != away
    for h in range(5)
    for a in range(5)
)
