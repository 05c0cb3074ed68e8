"""tools/real_text.py: the real text no chapter trains on (IMDB's reviews, Tatoeba's pairs),
read from files placed in minidl's cache or served by a stand-in network, never the real one."""

import hashlib
import importlib.util
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from minidl.datasets import download

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("real_text", ROOT / "tools" / "real_text.py")
real_text = importlib.util.module_from_spec(spec)
spec.loader.exec_module(real_text)


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


def imdb_archive(reviews) -> bytes:
    """A .tar.gz in the layout of aclImdb_v1.tar.gz: {(split, label, name): text}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for (split, label, name), text in reviews.items():
            raw = text.encode("utf-8")
            info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        for extra in ("aclImdb/imdb.vocab", "aclImdb/train/unsup/0_0.txt", "aclImdb/train/urls_pos.txt"):
            info = tarfile.TarInfo(extra)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return buffer.getvalue()


def test_load_imdb_reads_the_verified_archive(offline_cache, monkeypatch):
    content = imdb_archive(
        {
            ("train", "pos", "0_9.txt"): "Great film.<br />Loved it.",
            ("train", "neg", "1_2.txt"): "Dull.",
            ("train", "neg", "0_1.txt"): "Awful.",
            ("test", "pos", "3_8.txt"): "Fine, fine.",
            ("test", "neg", "2_3.txt"): "Too long.",
        }
    )
    folder, _ = offline_cache
    (folder / "imdb").mkdir()
    (folder / "imdb" / "aclImdb_v1.tar.gz").write_bytes(content)
    monkeypatch.setitem(download.SHA256["imdb"], "aclImdb_v1.tar.gz", hashlib.sha256(content).hexdigest())
    (x, y), (xt, yt) = real_text.load_imdb()
    assert x == ["Great film. Loved it.", "Awful.", "Dull."] and y.tolist() == [1, 0, 0]
    assert xt == ["Fine, fine.", "Too long."] and yt.tolist() == [1, 0] and yt.dtype == np.int64


def test_load_imdb_offline_names_the_file_its_sum_and_the_folder(offline_cache):
    folder, _ = offline_cache
    with pytest.raises(download.DownloadError) as err:
        real_text.load_imdb()
    message = str(err.value)
    assert "aclImdb_v1.tar.gz" in message and download.SHA256["imdb"]["aclImdb_v1.tar.gz"] in message
    assert str(folder / "imdb") in message


def test_imdb_archive_with_wrong_layout_is_refused(tmp_path):
    path = tmp_path / "other.tar.gz"
    path.write_bytes(imdb_archive({("train", "pos", "0_9.txt"): "only train"}))
    with pytest.raises(ValueError, match="aclImdb/test"):
        real_text.read_imdb_archive(path)


def test_load_tatoeba_pairs_reads_a_placed_file_and_checks_its_sum(offline_cache):
    folder, calls = offline_cache
    content = manythings_zip(REAL_LINES)
    (folder / "manythings").mkdir()
    (folder / "manythings" / "fra-eng.zip").write_bytes(content)
    with pytest.raises(download.ChecksumError):
        real_text.load_tatoeba_pairs("fra", sha256="0" * 64)
    pairs = real_text.load_tatoeba_pairs("fra", sha256=hashlib.sha256(content).hexdigest())
    assert pairs[0] == ("Go.", "Va !") and len(pairs) == 3 and calls == []
    # the sum is recorded; a file changed afterwards is refused
    recorded = (folder / "manythings" / "fra-eng.zip.sha256").read_text().strip()
    assert recorded == hashlib.sha256(content).hexdigest()
    (folder / "manythings" / "fra-eng.zip").write_bytes(manythings_zip(REAL_LINES[:40]))
    with pytest.raises(download.ChecksumError, match="fra-eng.zip"):
        real_text.load_tatoeba_pairs("fra")


def test_load_tatoeba_pairs_downloads_once(offline_cache, monkeypatch):
    folder, _ = offline_cache
    content, calls = manythings_zip(REAL_LINES), []

    def serve(request, *args, **kwargs):
        calls.append(request.full_url)
        return io.BytesIO(content)

    monkeypatch.setattr(download, "urlopen", serve)
    assert len(real_text.load_tatoeba_pairs("fra")) == 3
    assert len(real_text.load_tatoeba_pairs("fra")) == 3
    assert calls == [real_text.TATOEBA_URL + "fra-eng.zip"]
    assert (folder / "manythings" / "fra-eng.zip").read_bytes() == content


def test_load_tatoeba_pairs_offline_says_where_to_place_the_file(offline_cache):
    folder, calls = offline_cache
    with pytest.raises(download.DownloadError) as error:
        real_text.load_tatoeba_pairs("deu")
    message = str(error.value)
    assert "deu-eng.zip" in message and str(folder / "manythings") in message
    calls.clear()
    with pytest.raises(download.DownloadError):
        real_text.load_tatoeba_pairs("deu", download_missing=False)
    assert calls == []  # no network tried
    with pytest.raises(ValueError):
        real_text.load_tatoeba_pairs("french")


def test_an_archive_without_the_language_file_is_refused(offline_cache):
    folder, _ = offline_cache
    (folder / "manythings").mkdir()
    (folder / "manythings" / "spa-eng.zip").write_bytes(manythings_zip(REAL_LINES, member="fra.txt"))
    with pytest.raises(ValueError, match="spa.txt"):
        real_text.load_tatoeba_pairs("spa")


def test_the_command_line_reads_a_placed_corpus(offline_cache, capsys):
    folder, calls = offline_cache
    (folder / "manythings").mkdir()
    (folder / "manythings" / "deu-eng.zip").write_bytes(manythings_zip(REAL_LINES, member="deu.txt"))
    assert real_text.main(["tatoeba", "deu"]) == 0
    assert "English-deu: 3 pairs" in capsys.readouterr().out and calls == []
    with pytest.raises(download.DownloadError):
        real_text.main(["imdb"])
