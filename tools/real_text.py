"""The real text that chapters 13 and 14 name but do not train on, downloaded on request.

    python tools/real_text.py imdb            # IMDB's reviews: aclImdb_v1.tar.gz (81 MB), the counts
    python tools/real_text.py tatoeba fra     # Tatoeba's English-French pairs: fra-eng.zip, a few

Chapter 14 trains on generated reviews and chapter 13 on generated sentence pairs (this course
runs offline); their real counterparts are here, for a reader with a network, not in the
installed library (no chapter calls them: docs/ARCHITECTURE.md, "The library's budget"). From
Python, in a checkout: ``sys.path.insert(0, "tools"); import real_text; real_text.load_imdb()``.

* ``load_imdb`` -- the IMDB reviews of Maas et al. (2011), 25,000 + 25,000, downloaded once into
  minidl's verified cache (``minidl.datasets.download``: the file's sum is registered below, as
  a library adds a dataset there) and read straight out of the archive.
* ``load_tatoeba_pairs`` -- the real English-other pairs of the Tatoeba project as the
  ManyThings site packs them (``fra-eng.zip`` holding ``fra.txt``), downloaded once into
  ``data_home() / "manythings"`` and read by minidl's ``datasets.read_sentence_pairs``.
  Licence of the sentences: CC BY 2.0 FR (Tatoeba); each line's third field names the
  sentences' authors, which a user of the pairs must credit.

The ManyThings files are re-exported as Tatoeba grows, so no single SHA-256 sum describes
them for long. ``load_tatoeba_pairs`` therefore checks a sum in one of two ways: against the
``sha256=`` the caller passes (to pin one release), or, without it, against the sum recorded
next to the file when it was first downloaded or placed (``<file>.sha256``), so a cached file
that changes afterwards is caught like a corrupt download.
"""

from __future__ import annotations

import argparse
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from minidl import datasets
from minidl.datasets import download

TATOEBA_URL = "https://www.manythings.org/anki/"

# Maas et al.'s archive, fetched into minidl's cache folder imdb/ and checked by SHA-256
download.MIRRORS.setdefault("imdb", ("https://ai.stanford.edu/~amaas/data/sentiment/",))
download.SHA256.setdefault(
    "imdb", {"aclImdb_v1.tar.gz": "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"}
)


def load_imdb():
    """The IMDB reviews of Maas et al. (2011): 25,000 train / 25,000 test, half positive.

    Downloads ``aclImdb_v1.tar.gz`` (81 MB) once into the cache (folder ``imdb/``), checks
    its SHA-256, and reads ``aclImdb/{train,test}/{pos,neg}/*.txt`` straight out of the
    verified archive (nothing is unpacked to disk). Offline, the error names the file, its
    sum and the folder to place it in.

    Returns
    -------
    ((texts_train, y_train), (texts_test, y_test)) : lists of str (the reviews, with their
    ``<br />`` line breaks replaced by spaces) and labels int64, 1 positive and 0 negative,
    in the archive's file-name order.
    """
    return read_imdb_archive(download.fetch("imdb")["aclImdb_v1.tar.gz"])


def read_imdb_archive(path):
    """Read a file in the layout of ``aclImdb_v1.tar.gz`` (see ``load_imdb``)."""
    found: dict[str, list[tuple[str, str, int]]] = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if (
                member.isfile()
                and len(parts) == 4
                and parts[0] == "aclImdb"
                and parts[1] in found
                and parts[2] in ("pos", "neg")
                and parts[3].endswith(".txt")
            ):
                stream = archive.extractfile(member)
                if stream is None:  # a file member always has a stream; the check is for the types
                    continue
                raw = stream.read()
                text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", errors="replace").read()
                found[parts[1]].append((parts[3], text.replace("<br />", " "), int(parts[2] == "pos")))
    out = []
    for split in ("train", "test"):
        if not found[split]:
            raise ValueError(
                f"{path} holds no aclImdb/{split}/{{pos,neg}}/*.txt reviews: not the IMDB archive"
            )
        rows = sorted(found[split], key=lambda r: (-r[2], r[0]))
        out.append(([r[1] for r in rows], np.asarray([r[2] for r in rows], dtype=np.int64)))
    return tuple(out)


def load_tatoeba_pairs(language: str = "fra", sha256: str | None = None, download_missing: bool = True):
    """The real English-``language`` sentence pairs of Tatoeba, as ManyThings packs them.

    ``language`` is a three-letter code of the ManyThings list ("fra", "deu", "spa", ...).
    The file ``<language>-eng.zip`` is downloaded once into ``download.data_home() / "manythings"``
    (or placed there by hand), its SHA-256 checked (see the module's text: against ``sha256``
    if given, else against the sum recorded when the file arrived), and ``<language>.txt``
    read straight out of the archive. With ``download_missing=False`` a missing file raises
    DownloadError at once, without going on the network.

    Returns a list of (English, other) pairs. Licence: CC BY 2.0 FR (Tatoeba).
    """
    if not (isinstance(language, str) and len(language) == 3 and language.isalpha() and language.islower()):
        raise ValueError(f"language must be a three-letter lower-case code such as 'fra', got {language!r}")
    name = f"{language}-eng.zip"
    path = download.data_home() / "manythings" / name
    record = path.with_name(name + ".sha256")
    if not path.exists():
        if not download_missing:
            raise download.DownloadError(_placing_message(path, "the file is not in the cache"))
        try:
            download.download(TATOEBA_URL + name, path, sha256)
        except (OSError, download.ChecksumError) as err:
            raise download.DownloadError(_placing_message(path, f"{TATOEBA_URL + name}: {err}")) from err
    actual = download.sha256_of(path)
    expected = sha256 if sha256 is not None else (record.read_text().strip() if record.exists() else None)
    if expected is not None and actual != expected:
        raise download.ChecksumError(
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
            return datasets.read_sentence_pairs(io.TextIOWrapper(raw, encoding="utf-8"))


def _placing_message(path: Path, reason: str) -> str:
    return (
        f"could not get {path.name} ({reason}).\n"
        f"If this machine is offline, download {TATOEBA_URL + path.name} elsewhere and place it, "
        f"unchanged, in {path.parent}/ (set $MINIDL_DATA to use another folder than {download.data_home()})."
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", choices=("imdb", "tatoeba"))
    parser.add_argument("language", nargs="?", default="fra", help="tatoeba: a three-letter code")
    args = parser.parse_args(argv)
    if args.corpus == "imdb":
        (x, y), (xt, yt) = load_imdb()
        print(f"IMDB: {len(x)} training reviews ({int(y.sum())} positive), {len(xt)} test reviews")
    else:
        pairs = load_tatoeba_pairs(args.language)
        print(f"Tatoeba, English-{args.language}: {len(pairs)} pairs, the first: {pairs[:3]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
