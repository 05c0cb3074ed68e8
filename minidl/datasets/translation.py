"""Sentence pairs for translation: a GENERATED language pair, and the real Tatoeba pairs.

* ``make_sentence_pairs`` -- GENERATED pairs: a small English fragment ("the small cats see a
  red ball .") and its translation into a rule-based target language written for this course
  (``TARGET_LANGUAGE`` describes it). The target puts the verb last and adjectives after their
  noun, and its articles, adjectives and verbs agree in gender and number with their noun, so
  that translating word by word is not enough: "the" has four translations, "red" four, and
  the order changes. Seeded; ``exclude=`` training sources gives a held-out set that shares no
  pair with them.
* ``read_sentence_pairs`` -- the tab-separated format in which the ManyThings site packs the
  real English-other pairs of the Tatoeba project (CC BY 2.0 FR; each line's third field names
  the sentences' authors, which a user of the pairs must credit), read from any file or stream.
  The download itself (``fra-eng.zip`` holding ``fra.txt``, its sum pinned or recorded on
  arrival) is a maintainer's tool, ``tools/real_text.py tatoeba fra``: no chapter trains on it.
"""

from __future__ import annotations

from pathlib import Path

from .synthetic import _check_count, _generator

__all__ = ["TARGET_LANGUAGE", "make_sentence_pairs", "read_sentence_pairs"]

# --------------------------------------------------------------------------- the generated pair
# English noun -> (target stem, gender); the target noun is stem + "o" (masculine) or "a"
# (feminine), + "s" in the plural.
_NOUNS = {
    "cat": ("gat", "m"),
    "dog": ("can", "m"),
    "bird": ("av", "f"),
    "horse": ("cabal", "m"),
    "girl": ("nin", "f"),
    "boy": ("chic", "m"),
    "ball": ("pelot", "f"),
    "book": ("libr", "m"),
    "house": ("cas", "f"),
    "apple": ("manzan", "f"),
}
# adjective -> target stem, + o / a / os / as (agreeing with the noun)
_ADJECTIVES = dict(small="pequen", big="grand", red="roj", old="viej", new="nuev", happy="alegr")
# verb -> target stem, + "a" for a singular subject, "an" for a plural one
_VERBS = {"see": "mir", "like": "am", "find": "hall", "follow": "sigu", "want": "quier", "take": "tom"}
# (definite, plural, gender) -> target article
_ARTICLES = {
    (True, False, "m"): "lo",
    (True, False, "f"): "la",
    (True, True, "m"): "los",
    (True, True, "f"): "las",
    (False, False, "m"): "un",
    (False, False, "f"): "una",
    (False, True, "m"): "unos",
    (False, True, "f"): "unas",
}

TARGET_LANGUAGE = """\
The target language of make_sentence_pairs (written for this course; it borrows Spanish-like
stems but is no natural language):
  order     subject, object, verb ("the cat sees a ball" -> "lo gato una pelota mira");
            an adjective follows its noun ("a red ball" -> "una pelota roja").
  nouns     stem + o (masculine) or a (feminine), + s in the plural: gato, gatos, pelota.
  articles  agree in gender and number: lo la los las (the), un una unos unas (a / some).
  adjectives agree with their noun: roj + o / a / os / as.
  verbs     agree in number with the subject: mir + a (singular) / an (plural).
Every English word of a sentence has exactly one word in its translation, so the lengths
match, yet no word-for-word table translates it: the article and the adjective depend on the
noun's gender, and the verb moves to the end."""


def _noun_phrase(rng) -> tuple[list[str], list[str], bool]:
    """One noun phrase: (English words, target words, plural?)."""
    noun = list(_NOUNS)[rng.integers(len(_NOUNS))]
    stem, gender = _NOUNS[noun]
    definite, plural = bool(rng.integers(2)), bool(rng.integers(2))
    adjective = list(_ADJECTIVES)[rng.integers(len(_ADJECTIVES))] if rng.random() < 0.6 else None
    ending = ("o" if gender == "m" else "a") + ("s" if plural else "")  # the noun's, and its adjective's
    english = ["the" if definite else ("some" if plural else "a"), noun + "s" if plural else noun]
    target = [_ARTICLES[definite, plural, gender], stem + ending]
    if adjective is not None:
        english.insert(1, adjective)  # before the noun in English, after it in the target
        target.append(_ADJECTIVES[adjective] + ending)
    return english, target, plural


def _pair(rng) -> tuple[str, str]:
    subject, subject_target, plural = _noun_phrase(rng)
    obj, obj_target, _ = _noun_phrase(rng)
    verb = list(_VERBS)[rng.integers(len(_VERBS))]
    english = [*subject, verb if plural else verb + "s", *obj, "."]
    target = [*subject_target, *obj_target, _VERBS[verb] + ("an" if plural else "a"), "."]
    return " ".join(english), " ".join(target)


def make_sentence_pairs(n: int = 2000, seed: int = 0, exclude=None) -> list[tuple[str, str]]:
    """``n`` GENERATED (English, target) sentence pairs; the language is ``TARGET_LANGUAGE``.

    A sentence is subject, verb, object: each noun phrase an article, an adjective (60 % of
    the time) and a noun, singular or plural. There are about 470,000 different sentences;
    ``n`` draws may repeat one. ``exclude`` (English sentences, or pairs) are never returned:
    pass the training pairs to draw a held-out set that shares no pair, and no English
    sentence, with them. The same ``seed`` (and ``exclude``) gives the same pairs.

    >>> make_sentence_pairs(1, seed=3)
    [('a house finds the big birds .', 'una casa las avas grandas halla .')]
    """
    _check_count("n", n, minimum=0)
    if isinstance(exclude, str):
        raise TypeError("exclude must be a list of sentences or pairs, got one str (wrap it in a list)")
    excluded = frozenset(e[0] if isinstance(e, tuple) else e for e in (exclude or ()))
    rng = _generator(seed)
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n:
        pair = _pair(rng)
        if pair[0] not in excluded:
            pairs.append(pair)
    return pairs


# --------------------------------------------------------------------------- the real pairs
def read_sentence_pairs(source) -> list[tuple[str, str]]:
    """Read the ManyThings / Tatoeba format: one ``English<TAB>other<TAB>attribution`` a line.

    ``source`` is a path or an open text stream (UTF-8). Blank lines are skipped; the third
    field (the Tatoeba sentence numbers and authors, for the CC BY credit) is optional and
    dropped. Returns the (English, other) pairs in file order.

    Raises ValueError, naming the line, if a line has fewer than two fields or an empty one.
    """
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8") as f:
            return read_sentence_pairs(f)
    pairs = []
    for number, line in enumerate(source, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise ValueError(
                f"line {number}: expected 'English<TAB>translation<TAB>attribution', got {line[:80]!r}"
            )
        pairs.append((fields[0].strip(), fields[1].strip()))
    return pairs
