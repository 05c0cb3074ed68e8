"""The Oxford-IIIT Pet loader on small archives the test writes in the dataset's real layout (JPEG photographs, trimap PNGs, VOC head boxes, the two lists), placed in a temporary cache with their checksums; the network is disabled throughout."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest

from minidl import datasets
from minidl.datasets import download

PIL = pytest.importorskip("PIL.Image")


# =========================================================================== Oxford-IIIT Pet, offline
def _png(array) -> bytes:
    out = io.BytesIO()
    PIL.fromarray(np.asarray(array, np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _jpeg(array) -> bytes:
    out = io.BytesIO()
    PIL.fromarray(np.asarray(array, np.uint8)).save(out, format="JPEG", quality=95)
    return out.getvalue()


def _voc(box) -> bytes:
    x1, y1, x2, y2 = box
    return (
        "<annotation><filename>x.jpg</filename><object><name>cat</name><pose>Frontal</pose>"
        f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>"
        "</object></annotation>"
    ).encode()


def _tar(files: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_pet_archives(folder, monkeypatch):
    """Three pets (two in trainval, one with a head box; one in test), 40 x 60 pixels."""
    rng = np.random.default_rng(0)
    names = {"Abyssinian_1": (1, 1), "beagle_7": (11, 2), "Persian_3": (24, 1)}
    trimaps, photos = {}, {}
    for k, name in enumerate(names):
        trimap = np.full((40, 60), 2)
        trimap[10:30, 20 + k : 45] = 1
        trimap[10:14, 20 + k : 45] = 3
        trimaps[name] = trimap
        photos[name] = rng.integers(0, 256, (40, 60, 3))
    header = "#Image CLASS-ID SPECIES BREED ID\n"
    annotations = {
        "annotations/trainval.txt": (header + "Abyssinian_1 1 1 1\nbeagle_7 11 2 3\n").encode(),
        "annotations/test.txt": (header + "Persian_3 24 1 8\n").encode(),
        "annotations/xmls/Abyssinian_1.xml": _voc((21, 11, 40, 30)),
        "annotations/trimaps/._Abyssinian_1.png": b"AppleDouble junk",  # as in the real archive
    }
    annotations.update({f"annotations/trimaps/{n}.png": _png(t) for n, t in trimaps.items()})
    images = {f"images/{n}.jpg": _jpeg(p) for n, p in photos.items()}
    images["images/Abyssinian_1.mat"] = b"not an image"  # the real archive holds a few .mat files
    for name, data in (("annotations.tar.gz", _tar(annotations)), ("images.tar.gz", _tar(images))):
        (folder / "oxford_pets").mkdir(exist_ok=True)
        (folder / "oxford_pets" / name).write_bytes(data)
        monkeypatch.setitem(download.SHA256["oxford_pets"], name, hashlib.sha256(data).hexdigest())
    return trimaps, photos


def test_pets_load_from_verified_archives(offline_cache, monkeypatch):
    folder, calls = offline_cache
    trimaps, photos = write_pet_archives(folder, monkeypatch)
    pets = datasets.load_oxford_pets("trainval", size=20)
    assert calls == []
    assert pets.names == ["Abyssinian_1", "beagle_7"]
    assert pets.images.shape == (2, 3, 20, 20) and pets.images.dtype == np.float32
    assert pets.masks.shape == (2, 20, 20) and pets.masks.dtype == np.int64
    np.testing.assert_array_equal(pets.species, [0, 1])
    np.testing.assert_array_equal(pets.breeds, [0, 10])
    # trimap 1 (pet) -> 1, 2 (background) -> 0, 3 (border) -> 2, resized by nearest neighbour
    expected = np.choose(trimaps["Abyssinian_1"] - 1, (1, 0, 2))
    rows, cols = (np.arange(20) * 40) // 20, (np.arange(20) * 60) // 20
    assert set(np.unique(pets.masks[0]).tolist()) == {0, 1, 2}
    assert (pets.masks[0] == expected[np.ix_(rows, cols)]).mean() > 0.9
    # the head box (xmin 21 .. xmax 40, ymin 11 .. ymax 30, 1-based inclusive) scaled to 20 x 20
    np.testing.assert_allclose(
        pets.boxes[0], (20 * 20 / 60, 10 * 20 / 40, 40 * 20 / 60, 30 * 20 / 40), rtol=1e-6
    )
    assert np.isnan(pets.boxes[1]).all()
    # the photograph, bilinearly resized: close to the mean of the block it covers
    full = PIL.fromarray(photos["beagle_7"].astype(np.uint8)).resize((20, 20), PIL.BILINEAR)
    np.testing.assert_allclose(pets.images[1], np.asarray(full).transpose(2, 0, 1) / 255, atol=0.2)
    test = datasets.load_oxford_pets("test", size=8)
    assert test.names == ["Persian_3"] and test.images.shape == (1, 3, 8, 8)
    assert len(datasets.load_oxford_pets("trainval", size=8, limit=1).names) == 1


def test_pets_offline_message_names_both_files(offline_cache):
    folder, calls = offline_cache
    with pytest.raises(datasets.DownloadError) as info:
        datasets.load_oxford_pets()
    message = str(info.value)
    assert download.MIRRORS["oxford_pets"][0] + "annotations.tar.gz" in calls
    for name, sha in download.SHA256["oxford_pets"].items():
        assert name in message and sha in message
    assert str(folder / "oxford_pets") in message


def test_pets_wrong_sum_and_bad_arguments(offline_cache, monkeypatch):
    folder, _ = offline_cache
    write_pet_archives(folder, monkeypatch)
    with pytest.raises(ValueError, match="split must be one of"):
        datasets.load_oxford_pets("val")
    monkeypatch.setitem(download.SHA256["oxford_pets"], "images.tar.gz", "0" * 64)
    with pytest.raises(datasets.ChecksumError, match="images.tar.gz"):
        datasets.load_oxford_pets()


def test_pets_trimap_with_foreign_values_is_refused(offline_cache, monkeypatch):
    folder, _ = offline_cache
    write_pet_archives(folder, monkeypatch)
    bad = _tar(
        {
            "annotations/trainval.txt": b"Abyssinian_1 1 1 1\n",
            "annotations/test.txt": b"",
            "annotations/trimaps/Abyssinian_1.png": _png(np.full((40, 60), 7)),
        }
    )
    (folder / "oxford_pets" / "annotations.tar.gz").write_bytes(bad)
    monkeypatch.setitem(download.SHA256["oxford_pets"], "annotations.tar.gz", hashlib.sha256(bad).hexdigest())
    with pytest.raises(ValueError, match="values 1, 2, 3"):
        datasets.load_oxford_pets()
