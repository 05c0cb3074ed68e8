"""Tests for minidl.datasets.medical: the MedMNIST reader and downloader (offline, on small
.npz files written in the real layout) and the generated scans."""

import hashlib
import io

import numpy as np
import pytest

from minidl import datasets
from minidl.datasets import download, medical


# =========================================================================== MedMNIST, offline
def medmnist_npz_bytes(sizes=(7, 3, 4), labels_2d=True, seed=0):
    """A .npz in MedMNIST's layout: uint8 images (N, 28, 28), uint8 labels (N, 1)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 2, (n, 1) if labels_2d else (n,), dtype=np.uint8)
        arrays[f"{split}_labels"] = labels
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue(), arrays


def place_md5(folder, name, content, monkeypatch):
    """Put a MedMNIST file in the cache and make the table expect its MD5, as the real entries do."""
    (folder / "medmnist").mkdir(exist_ok=True)
    (folder / "medmnist" / name).write_bytes(content)
    monkeypatch.setitem(download.SHA256["medmnist"], name, "md5:" + hashlib.md5(content).hexdigest())


@pytest.mark.parametrize("name", ["pneumoniamnist", "breastmnist"])
def test_medmnist_loads_three_splits_from_verified_cache(offline_cache, monkeypatch, name):
    folder, calls = offline_cache
    content, arrays = medmnist_npz_bytes()
    place_md5(folder, f"{name}.npz", content, monkeypatch)
    (x, y), (xv, yv), (xt, yt) = datasets.load_medmnist(name)
    assert calls == []
    assert x.shape == (7, 1, 28, 28) and xv.shape == (3, 1, 28, 28) and xt.shape == (4, 1, 28, 28)
    assert x.dtype == np.float32 and y.dtype == yv.dtype == yt.dtype == np.int64 and y.shape == (7,)
    np.testing.assert_allclose(xv[:, 0] * 255, arrays["val_images"], atol=1e-4)
    np.testing.assert_array_equal(yt, arrays["test_labels"].ravel())
    (xf, _), _, _ = datasets.load_medmnist(name, flatten=True)
    assert xf.shape == (7, 784)
    assert len(datasets.MEDMNIST_CLASSES[name]) == 2


def test_medmnist_real_entries_are_the_published_md5_sums():
    table = download.SHA256["medmnist"]
    assert table["pneumoniamnist.npz"] == "md5:28209eda62fecd6e6a2d98b1501bb15f"
    assert table["breastmnist.npz"] == "md5:750601b1f35ba3300ea97c75c52ff8f6"


def test_medmnist_wrong_sum_and_offline_message(offline_cache, monkeypatch):
    folder, calls = offline_cache
    with pytest.raises(datasets.DownloadError) as info:
        datasets.load_medmnist()
    message = str(info.value)
    url = download.MIRRORS["medmnist"][0] + "pneumoniamnist.npz?download=1"
    assert calls == [url] and url in message
    assert str(folder / "medmnist") in message and "MD5 28209eda62fecd6e6a2d98b1501bb15f" in message
    # a file placed by hand with other bytes is reported, never used
    content, _ = medmnist_npz_bytes()
    (folder / "medmnist" / "pneumoniamnist.npz").write_bytes(content)
    with pytest.raises(datasets.ChecksumError, match="MD5 mismatch .*expected 28209eda"):
        datasets.load_medmnist()


def test_md5_entry_is_checked_on_download(offline_cache, monkeypatch):
    folder, _ = offline_cache
    content, _ = medmnist_npz_bytes(seed=3)
    monkeypatch.setattr(download, "urlopen", lambda request, timeout: io.BytesIO(content))
    monkeypatch.setitem(
        download.SHA256["medmnist"], "breastmnist.npz", "md5:" + hashlib.md5(content).hexdigest()
    )
    (x, _), _, _ = datasets.load_medmnist("breastmnist")
    assert x.shape == (7, 1, 28, 28) and (folder / "medmnist" / "breastmnist.npz").read_bytes() == content
    (folder / "medmnist" / "breastmnist.npz").unlink()
    monkeypatch.setitem(download.SHA256["medmnist"], "breastmnist.npz", "md5:" + "0" * 32)
    with pytest.raises(datasets.DownloadError, match="MD5 mismatch"):
        datasets.load_medmnist("breastmnist")
    assert list((folder / "medmnist").iterdir()) == []


def test_read_medmnist_npz_layouts_and_errors(tmp_path):
    content, arrays = medmnist_npz_bytes(labels_2d=False)
    (tmp_path / "a.npz").write_bytes(content)
    (_, y), _, _ = medical.read_medmnist_npz(tmp_path / "a.npz")
    np.testing.assert_array_equal(y, arrays["train_labels"])
    arrays["val_images"] = arrays["val_images"].astype(np.float32)
    np.savez(tmp_path / "b.npz", **arrays)
    with pytest.raises(ValueError, match="expected uint8 val_images"):
        medical.read_medmnist_npz(tmp_path / "b.npz")
    with pytest.raises(ValueError, match="name must be one of"):
        datasets.load_medmnist("chestmnist")


# =========================================================================== generated scans
def test_scans_shapes_prevalence_and_seed():
    scans = datasets.make_scans(200, positive_rate=0.15, seed=4)
    assert scans.images.shape == (200, 1, 28, 28) and scans.images.dtype == np.float32
    assert scans.labels.dtype == np.int64 and scans.labels.sum() == 30
    assert 0.0 <= scans.images.min() and scans.images.max() <= 1.0
    assert scans.layouts.shape == (200, 9) and (scans.layouts[:, -1] == scans.labels).all()
    assert (scans.layouts[scans.labels == 0, 6:8] == -1).all()
    again = datasets.make_scans(200, positive_rate=0.15, seed=4)
    np.testing.assert_array_equal(scans.images, again.images)
    assert not np.array_equal(scans.images, datasets.make_scans(200, positive_rate=0.15, seed=5).images)
    assert datasets.make_scans(16, size=16).images.shape == (16, 1, 16, 16)


def test_scans_finding_is_faint_but_there():
    """The positives differ from the negatives by a small spot, not by their overall brightness."""
    scans = datasets.make_scans(600, positive_rate=0.5, noise=0.0, seed=1)
    pos, neg = scans.images[scans.labels == 1], scans.images[scans.labels == 0]
    assert abs(pos.mean() - neg.mean()) < 0.02
    # the brightest pixel at the finding's centre stands above the organ around it
    fy, fx = scans.layouts[scans.labels == 1, 6], scans.layouts[scans.labels == 1, 7]
    centre = pos[np.arange(len(pos)), 0, fy, fx]
    ring = pos[np.arange(len(pos)), 0, fy, np.clip(fx + 5, 0, 27)]
    assert np.median(centre - ring) > 0.05


def test_scans_held_out_share_no_layout_with_training():
    train = datasets.make_scans(2000, seed=0)
    test = datasets.make_scans(1000, seed=0, exclude=train)  # same seed: the worst case
    seen = {row.tobytes() for row in train.layouts}
    assert not any(row.tobytes() in seen for row in test.layouts)
    assert len({row.tobytes() for row in train.layouts}) == 2000  # none repeats within a set
    trained_images = {image.tobytes() for image in train.images}
    assert not any(image.tobytes() in trained_images for image in test.images)
    # layouts as an array work too
    val = datasets.make_scans(100, seed=3, exclude=np.vstack([train.layouts, test.layouts]))
    assert not any(row.tobytes() in seen for row in val.layouts)


def test_scans_errors():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        datasets.make_scans(0)
    with pytest.raises(ValueError, match="positive_rate"):
        datasets.make_scans(5, positive_rate=1.5)
    with pytest.raises(ValueError, match=r"exclude must hold layouts of shape \(M, 9\), got shape \(3, 4\)"):
        datasets.make_scans(5, exclude=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="at least 16"):
        datasets.make_scans(5, size=12)
