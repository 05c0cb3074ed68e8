"""Sentence pairs: the generated language pair, and the Tatoeba reader and downloader."""

import hashlib
import io
import zipfile

import pytest

from minidl import datasets
from minidl.datasets import download, translation

# Three lines in the real format of the ManyThings files (English, French, attribution).
REAL_LINES = (
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)\n"
    "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #509819 (Aiji)\n"
    "Run!\tCours\u202f!\tCC-BY 2.0 (France) Attribution: tatoeba.org #906328 (papabear) & #906331 (sacredceltic)\n"
)


def manythings_zip(text: str, member: str = "fra.txt") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, text.encode("utf-8"))
        archive.writestr("_about.txt", "Tatoeba sentence pairs, CC BY 2.0 FR")
    return buffer.getvalue()


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


def test_load_tatoeba_pairs_reads_a_placed_file_and_checks_its_sum(offline_cache):
    folder, calls = offline_cache
    content = manythings_zip(REAL_LINES)
    (folder / "manythings").mkdir()
    (folder / "manythings" / "fra-eng.zip").write_bytes(content)
    with pytest.raises(download.ChecksumError):
        datasets.load_tatoeba_pairs("fra", sha256="0" * 64)
    pairs = datasets.load_tatoeba_pairs("fra", sha256=hashlib.sha256(content).hexdigest())
    assert pairs[0] == ("Go.", "Va !") and len(pairs) == 3 and calls == []
    # the sum is recorded; a file changed afterwards is refused
    recorded = (folder / "manythings" / "fra-eng.zip.sha256").read_text().strip()
    assert recorded == hashlib.sha256(content).hexdigest()
    (folder / "manythings" / "fra-eng.zip").write_bytes(manythings_zip(REAL_LINES[:40]))
    with pytest.raises(download.ChecksumError, match="fra-eng.zip"):
        datasets.load_tatoeba_pairs("fra")


def test_load_tatoeba_pairs_downloads_once(offline_cache, monkeypatch):
    folder, _ = offline_cache
    content, calls = manythings_zip(REAL_LINES), []

    def serve(request, *args, **kwargs):
        calls.append(request.full_url)
        return io.BytesIO(content)

    monkeypatch.setattr(download, "urlopen", serve)
    assert len(datasets.load_tatoeba_pairs("fra")) == 3
    assert len(datasets.load_tatoeba_pairs("fra")) == 3
    assert calls == [translation.TATOEBA_URL + "fra-eng.zip"]
    assert (folder / "manythings" / "fra-eng.zip").read_bytes() == content


def test_load_tatoeba_pairs_offline_says_where_to_place_the_file(offline_cache):
    folder, calls = offline_cache
    with pytest.raises(datasets.DownloadError) as error:
        datasets.load_tatoeba_pairs("deu")
    message = str(error.value)
    assert "deu-eng.zip" in message and str(folder / "manythings") in message
    calls.clear()
    with pytest.raises(datasets.DownloadError):
        datasets.load_tatoeba_pairs("deu", download_missing=False)
    assert calls == []  # no network tried
    with pytest.raises(ValueError):
        datasets.load_tatoeba_pairs("french")


def test_an_archive_without_the_language_file_is_refused(offline_cache):
    folder, _ = offline_cache
    (folder / "manythings").mkdir()
    (folder / "manythings" / "spa-eng.zip").write_bytes(manythings_zip(REAL_LINES, member="fra.txt"))
    with pytest.raises(ValueError, match="spa.txt"):
        datasets.load_tatoeba_pairs("spa")
