"""Downloads, offline: the verified cache, checksums, atomic writes and the data folder."""

import gzip
import hashlib
import io
import tarfile

import numpy as np
import pytest

from minidl import datasets
from minidl.datasets import download, images
from tests.minidl.datasets.test_formats import cifar_batch_bytes, idx_bytes


# =========================================================================== downloaders, offline
def place(folder, dataset, name, content: bytes, monkeypatch):
    """Put a file in the cache and make the checksum table expect it."""
    (folder / dataset).mkdir(exist_ok=True)
    (folder / dataset / name).write_bytes(content)
    monkeypatch.setitem(download.SHA256[dataset], name, hashlib.sha256(content).hexdigest())


def write_idx_dataset(folder, dataset, monkeypatch, n_train=6, n_test=4):
    rng = np.random.default_rng(2)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test),
    }
    for name, array in arrays.items():
        place(folder, dataset, name, gzip.compress(idx_bytes(array)), monkeypatch)
    return arrays


def write_cifar_archive(folder, monkeypatch, per_batch=3):
    rng = np.random.default_rng(3)
    buffer, content = io.BytesIO(), {}
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in images.CIFAR_TRAIN_BATCHES + (images.CIFAR_TEST_BATCH,):
            imgs = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
            labels = rng.integers(0, 10, per_batch)
            content[name] = (imgs, labels)
            raw = cifar_batch_bytes(imgs, labels)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    place(folder, "cifar10", "cifar-10-python.tar.gz", buffer.getvalue(), monkeypatch)
    return content


def test_full_mnist_loads_from_verified_cache(offline_cache, monkeypatch):
    folder, calls = offline_cache
    arrays = write_idx_dataset(folder, "mnist", monkeypatch)
    (x, y), (xt, yt) = datasets.load_mnist(subset="full")
    assert calls == []
    assert x.shape == (6, 1, 28, 28) and xt.shape == (4, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0] * 255, arrays["train-images-idx3-ubyte.gz"], atol=1e-4)
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte.gz"])
    assert y.dtype == np.int64
    (xf, _), _ = datasets.load_mnist(subset="full", flatten=True)
    assert xf.shape == (6, 784)


def test_cifar10_loads_from_verified_archive(offline_cache, monkeypatch):
    folder, calls = offline_cache
    content = write_cifar_archive(folder, monkeypatch)
    (x, y), (xt, yt) = datasets.load_cifar10()
    assert calls == []
    assert x.shape == (15, 3, 32, 32) and xt.shape == (3, 3, 32, 32) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x[3:6] * 255, content["data_batch_2"][0], atol=1e-4)
    np.testing.assert_array_equal(y[12:], content["data_batch_5"][1])
    np.testing.assert_array_equal(yt, content["test_batch"][1])
    (xf, _), _ = datasets.load_cifar10(flatten=True)
    assert xf.shape == (15, 3072)


def test_offline_error_names_url_files_and_folder(offline_cache):
    folder, calls = offline_cache
    with pytest.raises(datasets.DownloadError) as info:
        datasets.load_mnist(subset="full")
    message = str(info.value)
    first = download.MIRRORS["mnist"][0] + "train-images-idx3-ubyte.gz"
    assert first in calls and first in message
    assert "network disabled in tests" in message
    assert str(folder / "mnist") in message
    for name, sha in download.SHA256["mnist"].items():
        assert name in message and sha in message
    assert not list((folder / "mnist").glob("*.part"))  # no half file left


def test_cached_file_with_wrong_sum_is_reported(offline_cache, monkeypatch):
    folder, _ = offline_cache
    write_idx_dataset(folder, "mnist", monkeypatch)
    monkeypatch.setitem(download.SHA256["mnist"], "t10k-labels-idx1-ubyte.gz", "0" * 64)
    with pytest.raises(datasets.ChecksumError, match="SHA-256 mismatch .*t10k-labels.* expected 0{64}"):
        datasets.load_mnist(subset="full")


def test_download_writes_atomically_after_checking_the_sum(offline_cache, monkeypatch):
    folder, _ = offline_cache
    payload = b"pretend archive bytes" * 1000
    good_sum = hashlib.sha256(payload).hexdigest()
    served = []

    def fake_urlopen(request, timeout):
        served.append(request.full_url)
        return io.BytesIO(payload)

    monkeypatch.setattr(download, "urlopen", fake_urlopen)
    monkeypatch.setitem(download.SHA256["cifar10"], "cifar-10-python.tar.gz", good_sum)
    paths = download.fetch("cifar10")
    target = folder / "cifar10" / "cifar-10-python.tar.gz"
    assert paths == {"cifar-10-python.tar.gz": target} and target.read_bytes() == payload
    assert served == [download.MIRRORS["cifar10"][0] + "cifar-10-python.tar.gz"]

    # a download whose bytes are wrong never appears under the real name
    target.unlink()
    monkeypatch.setitem(download.SHA256["cifar10"], "cifar-10-python.tar.gz", "f" * 64)
    with pytest.raises(datasets.DownloadError, match=f"expected f{{64}}, got {good_sum}"):
        download.fetch("cifar10")
    assert list((folder / "cifar10").iterdir()) == []


def test_data_home_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "elsewhere"))
    assert datasets.data_home() == tmp_path / "elsewhere"
    monkeypatch.delenv("MINIDL_DATA")
    assert datasets.data_home().parts[-2:] == (".cache", "minidl")
