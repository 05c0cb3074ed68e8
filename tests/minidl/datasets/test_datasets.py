"""Tests for minidl.datasets: bundled MNIST, downloaders (offline), synthetic, sequences, text."""

import gzip
import hashlib
import io
import pickle
import string
import tarfile

import numpy as np
import pytest

import minidl
from minidl import datasets
from minidl.datasets import download, images
from minidl.datasets.formats import parse_cifar_batch, parse_idx, read_idx


# =========================================================================== bundled MNIST
def test_bundled_mnist_shapes_dtypes_ranges():
    (x, y), (xt, yt) = datasets.load_mnist()
    assert x.shape == (4000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28)
    assert x.dtype == xt.dtype == np.float32
    assert y.shape == (4000,) and yt.shape == (1000,)
    assert y.dtype == yt.dtype == np.int64
    assert 0.0 <= x.min() and x.max() == 1.0 and xt.max() == 1.0
    # ink covers roughly an eighth of an MNIST image
    assert 0.08 < x.mean() < 0.2


def test_bundled_mnist_split_is_balanced_and_disjoint():
    (x, y), (xt, yt) = datasets.load_mnist()
    assert np.bincount(y, minlength=10).tolist() == [400] * 10
    assert np.bincount(yt, minlength=10).tolist() == [100] * 10
    train = {row.tobytes() for row in (x * 255).round().astype(np.uint8)}
    test = {row.tobytes() for row in (xt * 255).round().astype(np.uint8)}
    assert len(train) == 4000 and len(test) == 1000 and not train & test
    # shuffled: the first 100 training labels are not all one digit
    assert len(set(y[:100].tolist())) == 10


def test_bundled_mnist_flatten_matches_images():
    (x, y), (xt, yt) = datasets.load_mnist()
    (xf, yf), (xtf, ytf) = datasets.load_mnist(flatten=True)
    assert xf.shape == (4000, 784) and xtf.shape == (1000, 784)
    np.testing.assert_array_equal(xf, x.reshape(4000, 784))
    np.testing.assert_array_equal(yf, y)


def test_bundled_mnist_is_deterministic_and_cache_cannot_be_corrupted():
    (x1, y1), _ = datasets.load_mnist()
    first_pixels, first_labels = x1.copy(), y1.copy()
    x1[:] = -5.0  # a caller scribbling on its arrays...
    y1[:] = 7
    (x2, y2), _ = datasets.load_mnist()
    np.testing.assert_array_equal(x2, first_pixels)  # ...does not reach the next caller
    np.testing.assert_array_equal(y2, first_labels)


def test_load_mnist_rejects_unknown_subset():
    with pytest.raises(ValueError, match="'5k'.*'full'.*got 'big'"):
        datasets.load_mnist(subset="big")


def test_sequential_mnist_is_rows_as_time_steps():
    (x, y), (xt, yt) = datasets.load_sequential_mnist()
    (img, label), _ = datasets.load_mnist()
    assert x.shape == (4000, 28, 28) and xt.shape == (1000, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x[5, 13], img[5, 0, 13])  # step 13 is pixel row 13
    np.testing.assert_array_equal(y, label)


# =========================================================================== file formats
def idx_bytes(array: np.ndarray) -> bytes:
    """An uncompressed IDX file holding a uint8 array, as the format specifies."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def cifar_batch_bytes(images_nchw: np.ndarray, labels) -> bytes:
    """A pickled CIFAR-10 python batch (bytes keys, as the real files have)."""
    batch = {
        b"batch_label": b"testing batch",
        b"labels": list(map(int, labels)),
        b"data": images_nchw.reshape(len(images_nchw), -1).astype(np.uint8),
        b"filenames": [b"img%d.png" % i for i in range(len(labels))],
    }
    return pickle.dumps(batch, protocol=2)


def test_parse_idx_round_trip_and_big_endian_dims():
    rng = np.random.default_rng(0)
    images_u8 = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    raw = idx_bytes(images_u8)
    assert raw[:4] == b"\x00\x00\x08\x03" and raw[4:8] == b"\x00\x00\x00\x03"
    np.testing.assert_array_equal(parse_idx(raw, expect_ndim=3), images_u8)


def test_parse_idx_other_element_type():
    values = np.array([[1, -2], [300, 4]], dtype=">i4")
    raw = bytes([0, 0, 0x0C, 2]) + np.array([2, 2], dtype=">u4").tobytes() + values.tobytes()
    out = parse_idx(raw)
    assert out.dtype == np.int32 and out.tolist() == [[1, -2], [300, 4]]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x02" + b"ab", "bad IDX magic"),
        (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x02" + b"ab", "bad IDX magic"),
        (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x05" + b"ab", r"shape \(5,\).*holds 2"),
        (b"\x00\x00\x08\x03" + b"\x00\x00", "ends early"),
        (b"\x00\x00", "not an IDX file"),
    ],
)
def test_parse_idx_rejects_corrupt_files(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_idx(raw, name="bad.idx")


def test_read_idx_checks_dims_and_gzip(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(4))))
    assert read_idx(path, expect_ndim=1).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="3 dimensions, the header declares 1"):
        read_idx(path, expect_ndim=3)
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(path.read_bytes()[:-6])
    with pytest.raises(ValueError, match="truncated.gz: corrupt gzip"):
        read_idx(truncated)


def test_parse_cifar_batch_layout_and_errors():
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
    out_images, out_labels = parse_cifar_batch(cifar_batch_bytes(imgs, [3, 0, 9, 1]))
    np.testing.assert_array_equal(out_images, imgs)
    assert out_labels.dtype == np.int64 and out_labels.tolist() == [3, 0, 9, 1]
    # in the file each row is 1024 red values, then green, then blue
    row = imgs[2].reshape(-1)
    np.testing.assert_array_equal(row[1024:2048], imgs[2, 1].ravel())
    with pytest.raises(ValueError, match=r"\(N, 3072\) uint8, got shape \(2, 10\)"):
        parse_cifar_batch(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ValueError, match="labels must be in 0..9"):
        parse_cifar_batch(cifar_batch_bytes(imgs, [3, 0, 10, 1]))
    with pytest.raises(ValueError, match="not a readable CIFAR-10 pickle"):
        parse_cifar_batch(b"definitely not a pickle")


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


@pytest.mark.parametrize(
    "loader, dataset",
    [
        (lambda **kw: datasets.load_mnist(subset="full", **kw), "mnist"),
        (datasets.load_fashion_mnist, "fashion_mnist"),
    ],
)
def test_idx_datasets_load_from_verified_cache(offline_cache, monkeypatch, loader, dataset):
    folder, calls = offline_cache
    arrays = write_idx_dataset(folder, dataset, monkeypatch)
    (x, y), (xt, yt) = loader()
    assert calls == []
    assert x.shape == (6, 1, 28, 28) and xt.shape == (4, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0] * 255, arrays["train-images-idx3-ubyte.gz"], atol=1e-4)
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte.gz"])
    assert y.dtype == np.int64
    (xf, _), _ = loader(flatten=True)
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
        datasets.load_fashion_mnist()
    message = str(info.value)
    first = download.MIRRORS["fashion_mnist"][0] + "train-images-idx3-ubyte.gz"
    assert first in calls and first in message
    assert "network disabled in tests" in message
    assert str(folder / "fashion_mnist") in message
    for name, sha in download.SHA256["fashion_mnist"].items():
        assert name in message and sha in message
    assert not list((folder / "fashion_mnist").glob("*.part"))  # no half file left


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


# =========================================================================== synthetic sets
SYNTHETIC = [datasets.make_spirals, datasets.make_moons, datasets.make_circles, datasets.make_xor]


@pytest.mark.parametrize("make", SYNTHETIC)
def test_synthetic_shapes_types_and_seed(make):
    x, y = make(n_samples=101, seed=4)
    assert x.shape == (101, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    assert y.shape == (101,) and y.dtype == np.int64
    x2, y2 = make(n_samples=101, seed=4)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = make(n_samples=101, seed=5)
    assert not np.array_equal(x, x3)


@pytest.mark.parametrize("make", SYNTHETIC)
def test_synthetic_uses_minidl_seed_when_seed_is_none(make):
    minidl.seed(11)
    first = make()
    second = make()  # the shared generator moved on
    minidl.seed(11)
    again = make()
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], second[0])


def test_spirals_classes_and_balance():
    x, y = datasets.make_spirals(n_samples=301, n_classes=4, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [76, 75, 75, 75]
    assert np.linalg.norm(x, axis=1).max() <= 1.0 + 1e-6


def test_moons_and_circles_geometry_without_noise():
    x, y = datasets.make_circles(n_samples=50, noise=0.0, factor=0.3, seed=0)
    radius = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(radius[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, rtol=1e-6)
    x, y = datasets.make_moons(n_samples=40, noise=0.0, seed=0)
    np.testing.assert_allclose(np.linalg.norm(x[y == 0], axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(x[y == 1] - [1.0, 0.5], axis=1), 1.0, rtol=1e-6)


def test_xor_labels_follow_quadrants_without_noise():
    x, y = datasets.make_xor(n_samples=500, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (x[:, 0] > 0) ^ (x[:, 1] > 0))
    assert 0.4 < y.mean() < 0.6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_samples=0), "n_samples must be an integer >= 1, got 0"),
        (dict(n_samples=10.5), "n_samples must be an integer"),
        (dict(noise=-0.1), "noise must be a finite number >= 0, got -0.1"),
        (dict(n_classes=1), "n_classes must be an integer >= 2"),
    ],
)
def test_synthetic_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.make_spirals(**kwargs)


# =========================================================================== sequences
def test_adding_problem_target_is_sum_of_marked_values():
    x, y = datasets.make_adding_problem(n=64, length=20, seed=0)
    assert x.shape == (64, 20, 2) and y.shape == (64, 1)
    assert x.dtype == y.dtype == np.float32
    markers = x[..., 1]
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :10].sum(axis=1) == 1).all()  # one mark in each half
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(y[:, 0], (x[..., 0] * markers).sum(axis=1))
    assert ((0 <= x[..., 0]) & (x[..., 0] < 1)).all()


def test_adding_problem_mean_baseline_scores_about_one_sixth():
    _, y = datasets.make_adding_problem(n=4000, length=10, seed=1)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.015


def test_sine_sequences_shapes_and_baseline():
    x, y = datasets.make_sine_sequences(n_series=400, length=30, noise=0.05, seed=0)
    assert x.shape == (400, 30, 1) and y.shape == (400, 1) and x.dtype == np.float32
    naive = datasets.last_value_forecast(x)
    np.testing.assert_array_equal(naive, x[:, -1, :])
    naive_mse = np.mean((naive - y) ** 2)
    # the naive forecast is better than guessing the mean but far from the noise floor...
    assert 0.05**2 < naive_mse < np.var(y)
    # ...and a linear model on the last 10 values beats it: the data is predictable
    lags = x[:, -10:, 0]
    design = np.column_stack([lags, np.ones(len(lags))])
    coef, *_ = np.linalg.lstsq(design, y[:, 0], rcond=None)
    linear_mse = np.mean((design @ coef - y[:, 0]) ** 2)
    assert linear_mse < naive_mse / 2


def test_sine_sequences_deterministic_and_validated():
    a = datasets.make_sine_sequences(n_series=5, length=8, seed=3)
    b = datasets.make_sine_sequences(n_series=5, length=8, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="period_range"):
        datasets.make_sine_sequences(period_range=(20, 10))
    with pytest.raises(ValueError, match=r"expected sequences \(N, T, D\), got shape \(3, 4\)"):
        datasets.last_value_forecast(np.zeros((3, 4)))


@pytest.mark.parametrize("length", [40, 50])  # chapter 11's series, examples/rnn_sine.py's
def test_test_series_share_no_example_with_training(length):
    # the sets are drawn from two seeds, as chapter 11 draws them: continuous values, so no
    # held-out series (or adding-problem input) equals a training one, and none repeats
    def rows(x, y):
        return {a.tobytes() + b.tobytes() for a, b in zip(x, y)}

    train = rows(*datasets.make_sine_sequences(n_series=1000, length=length, noise=0.05, seed=1))
    test = rows(*datasets.make_sine_sequences(n_series=500, length=length, noise=0.05, seed=2))
    assert len(train) == 1000 and len(test) == 500 and not train & test
    train = rows(*datasets.make_adding_problem(n=1000, length=length, seed=1))
    test = rows(*datasets.make_adding_problem(n=500, length=length, seed=2))
    assert len(train) == 1000 and len(test) == 500 and not train & test


# =========================================================================== text
def test_text_corpus_is_deterministic_printable_ascii():
    text = datasets.load_text_corpus(max_chars=20_000)
    assert len(text) == 20_000
    assert set(text) <= set(string.printable) - set("\t\r\x0b\x0c")
    assert "\n\n\n" not in text
    assert datasets.load_text_corpus(max_chars=20_000) == text
    assert datasets.load_text_corpus(max_chars=5_000) == text[:5_000]
    assert text.count(" ") > len(text) / 10  # prose, not noise
    with pytest.raises(ValueError, match="max_chars"):
        datasets.load_text_corpus(max_chars=0)


def test_char_encoder_round_trip():
    text = datasets.load_text_corpus(max_chars=5_000)
    encoder = datasets.CharEncoder(text)
    ids = encoder.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert ids.min() == 0 and ids.max() == encoder.vocab_size - 1
    assert encoder.decode(ids) == text
    assert list(encoder.chars) == sorted(set(text))


def test_char_encoder_unknown_characters():
    strict = datasets.CharEncoder("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\) not in the vocabulary: 'xz'"):
        strict.encode("axbz")
    lenient = datasets.CharEncoder("abc", unknown="?")
    assert lenient.vocab_size == 4
    assert lenient.decode(lenient.encode("axbz")) == "a?b?"
    with pytest.raises(ValueError, match=r"ids must be in 0..3, got values from 0 to 9"):
        lenient.decode([0, 9])
    with pytest.raises(RuntimeError, match="not fitted"):
        datasets.CharEncoder().encode("a")


def test_make_char_windows_targets_are_next_characters():
    ids = np.arange(23)
    inputs, targets = datasets.make_char_windows(ids, window=5)
    assert inputs.shape == targets.shape == (4, 5) and inputs.dtype == np.int64
    assert inputs[1].tolist() == [5, 6, 7, 8, 9] and targets[1].tolist() == [6, 7, 8, 9, 10]
    np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])
    overlapping, _ = datasets.make_char_windows(ids, window=5, stride=2)
    assert overlapping.shape == ((23 - 1 - 5) // 2 + 1, 5)
    with pytest.raises(ValueError, match="at least window \\+ 1 = 6 ids"):
        datasets.make_char_windows(np.arange(5), window=5)


class FavouriteCharModel:
    """A stand-in for a trained model: logits that favour one id, and a log of inputs."""

    def __init__(self, vocab_size, favourite, margin=5.0):
        self.vocab_size, self.favourite, self.margin = vocab_size, favourite, margin
        self.seen = []

    def predict(self, x):
        self.seen.append(np.array(x))
        logits = np.zeros((x.shape[0], x.shape[1], self.vocab_size))
        logits[..., self.favourite] = self.margin
        return logits


def test_sample_follows_the_model_and_respects_window():
    encoder = datasets.CharEncoder("abcde ")
    model = FavouriteCharModel(encoder.vocab_size, favourite=encoder.char_to_id["e"])
    text = datasets.sample(model, encoder, "ab", length=12, temperature=0.05, window=4, seed=0)
    assert text == "ab" + "e" * 12
    assert [s.shape for s in model.seen[:4]] == [(1, 2), (1, 3), (1, 4), (1, 4)]
    assert all(s.dtype == np.int64 for s in model.seen)


def test_sample_temperature_flattens_the_distribution():
    encoder = datasets.CharEncoder("abcdefghij")
    model = FavouriteCharModel(encoder.vocab_size, favourite=0, margin=2.0)
    cold = datasets.sample(model, encoder, "a", length=300, temperature=0.2, seed=1)
    hot = datasets.sample(model, encoder, "a", length=300, temperature=5.0, seed=1)
    assert cold[1:].count("a") > 290  # p(a) = 1 / (1 + 9 e^-10) ~ 0.9996
    assert hot[1:].count("a") < 100  # p(a) = e^.4 / (e^.4 + 9) ~ 0.14
    again = datasets.sample(model, encoder, "a", length=300, temperature=5.0, seed=1)
    assert again == hot


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan")])
def test_sample_rejects_non_positive_temperature(temperature):
    encoder = datasets.CharEncoder("ab")
    model = FavouriteCharModel(2, favourite=0)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        datasets.sample(model, encoder, "a", length=3, temperature=temperature)


def test_sample_rejects_wrong_logit_shape():
    encoder = datasets.CharEncoder("abc")
    model = FavouriteCharModel(5, favourite=0)  # vocabulary of the wrong size
    with pytest.raises(ValueError, match=r"logits \(1, 1, 3\) or \(1, 3\).*got shape \(1, 1, 5\)"):
        datasets.sample(model, encoder, "a", length=1)
