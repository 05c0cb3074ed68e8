"""Sentence pairs for translation: a GENERATED language pair, and the real Tatoeba pairs.

* ``make_sentence_pairs`` -- GENERATED pairs: a small English fragment ("the small cats see a
  red ball .") and its translation into a rule-based target language written for this course
  (``TARGET_LANGUAGE`` describes it). The target puts the verb last and adjectives after their
  noun, and its articles, adjectives and verbs agree in gender and number with their noun, so
  that translating word by word is not enough: "the" has four translations, "red" four, and
  the order changes. Seeded; ``exclude=`` training sources gives a held-out set that shares no
  pair with them.
* ``load_tatoeba_pairs`` -- the real English-other pairs of the Tatoeba project as the
  ManyThings site packs them (``fra-eng.zip`` holding ``fra.txt``), downloaded once into
  ``data_home() / "manythings"``; ``read_sentence_pairs`` reads that tab-separated format
  from any file already on disk. Licence of the sentences: CC BY 2.0 FR (Tatoeba); each line's
  third field names the sentences' authors, which a user of the pairs must credit.

The ManyThings files are re-exported as Tatoeba grows, so no single SHA-256 sum describes
them for long. ``load_tatoeba_pairs`` therefore checks a sum in one of two ways: against the
``sha256=`` the caller passes (to pin one release), or, without it, against the sum recorded
next to the file when it was first downloaded or placed (``<file>.sha256``), so a cached file
that changes afterwards is caught like a corrupt download.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from .download import ChecksumError, DownloadError, data_home, download, sha256_of
from .synthetic import _generator

__all__ = [
    "TARGET_LANGUAGE",
    "make_sentence_pairs",
    "read_sentence_pairs",
    "load_tatoeba_pairs",
    "TATOEBA_URL",
]

TATOEBA_URL = "https://www.manythings.org/anki/"

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
_ADJECTIVES = {
    "small": "pequen",
    "big": "grand",
    "red": "roj",
    "old": "viej",
    "new": "nuev",
    "happy": "alegr",
}
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
    english = ["the" if definite else ("some" if plural else "a")]
    target = [_ARTICLES[definite, plural, gender]]
    if adjective is not None:
        english.append(adjective)
    english.append(noun + "s" if plural else noun)
    target.append(stem + ("o" if gender == "m" else "a") + ("s" if plural else ""))
    if adjective is not None:
        target.append(_ADJECTIVES[adjective] + ("o" if gender == "m" else "a") + ("s" if plural else ""))
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
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
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


def load_tatoeba_pairs(language: str = "fra", sha256: str | None = None, download_missing: bool = True):
    """The real English-``language`` sentence pairs of Tatoeba, as ManyThings packs them.

    ``language`` is a three-letter code of the ManyThings list ("fra", "deu", "spa", ...).
    The file ``<language>-eng.zip`` is downloaded once into ``data_home() / "manythings"``
    (or placed there by hand), its SHA-256 checked (see the module's text: against ``sha256``
    if given, else against the sum recorded when the file arrived), and ``<language>.txt``
    read straight out of the archive. With ``download_missing=False`` a missing file raises
    DownloadError at once, without going on the network.

    Returns a list of (English, other) pairs. Licence: CC BY 2.0 FR (Tatoeba).
    """
    if not (isinstance(language, str) and len(language) == 3 and language.isalpha() and language.islower()):
        raise ValueError(f"language must be a three-letter lower-case code such as 'fra', got {language!r}")
    name = f"{language}-eng.zip"
    path = data_home() / "manythings" / name
    record = path.with_name(name + ".sha256")
    if not path.exists():
        if not download_missing:
            raise DownloadError(_placing_message(path, "the file is not in the cache"))
        try:
            download(TATOEBA_URL + name, path, sha256)
        except (OSError, ChecksumError) as err:
            raise DownloadError(_placing_message(path, f"{TATOEBA_URL + name}: {err}")) from err
    actual = sha256_of(path)
    expected = sha256 if sha256 is not None else (record.read_text().strip() if record.exists() else None)
    if expected is not None and actual != expected:
        raise ChecksumError(
            f"SHA-256 mismatch for {path}: expected {expected}, got {actual}. The file is corrupt, "
            f"truncated or another release. Delete it (and {record.name}) and run again."
        )
    if not record.exists():
        record.write_text(actual + "\n")
    with zipfile.ZipFile(path) as archive:
        member = f"{language}.txt"
        if member not in archive.namelist():
            raise ValueError(f"{path} holds no {member}: not a ManyThings archive for {language!r}")
        with archive.open(member) as raw:
            return read_sentence_pairs(io.TextIOWrapper(raw, encoding="utf-8"))


def _placing_message(path: Path, reason: str) -> str:
    return (
        f"could not get {path.name} ({reason}).\n"
        f"If this machine is offline, download {TATOEBA_URL + path.name} elsewhere and place it, "
        f"unchanged, in {path.parent}/ (set $MINIDL_DATA to use another folder than {data_home()})."
    )
