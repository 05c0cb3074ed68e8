"""The file formats: IDX (gzip, big-endian dimensions, element types) and CIFAR-10 python batches."""

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest

from minidl.datasets.formats import _tar_member, parse_cifar_batch, parse_idx, read_idx


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


def test_tar_member_reads_a_file_and_names_the_archive_otherwise():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("folder/a.bin")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
        directory = tarfile.TarInfo("folder/sub")
        directory.type = tarfile.DIRTYPE
        tar.addfile(directory)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        assert _tar_member(tar, "folder/a.bin", "x.tar") == b"abc"
        assert _tar_member(tar, tar.getmember("folder/a.bin"), "x.tar") == b"abc"
        with pytest.raises(ValueError, match=r"x.tar \(not it\?\): no file 'folder/missing'"):
            _tar_member(tar, "folder/missing", "x.tar (not it?)")
        with pytest.raises(ValueError, match="x.tar: no file 'folder/sub'"):
            _tar_member(tar, tar.getmember("folder/sub"), "x.tar")
