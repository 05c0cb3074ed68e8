"""Readers for the two file formats the downloaders bring home.

**IDX** (MNIST, Fashion-MNIST), usually gzip-compressed. A file is::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then        d sizes, each a big-endian uint32
    then        the elements, row-major, big-endian

so MNIST's training images are ``00 00 08 03 | 60000 28 28 | 47,040,000 bytes``.

**CIFAR-10 python batches**: each ``data_batch_k`` / ``test_batch`` is a pickled dict
with ``b"data"`` (10000, 3072) uint8 -- per image 1024 red, 1024 green, 1024 blue
values, each a row-major 32 x 32 plane -- and ``b"labels"``, a list of 10000 ints in
0..9. Unpickling can run arbitrary code, so ``parse_cifar_batch`` must only be given
bytes whose SHA-256 has been checked (the loader reads them from the verified archive).
"""

from __future__ import annotations

import gzip
import io
import pickle
import zlib

import numpy as np

__all__ = ["read_idx", "parse_idx", "parse_cifar_batch"]

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path, expect_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed if it starts with the gzip magic bytes).

    Parameters
    ----------
    path : file path.
    expect_ndim : if given, the number of dimensions the file must declare
        (3 for image files (N, rows, cols), 1 for label files (N,)).

    Returns
    -------
    ndarray of the declared shape, in native byte order (uint8 for MNIST).

    Raises
    ------
    ValueError naming the file when the gzip stream, the magic number, the
    dimensions or the data length are wrong.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(
                f"{path}: corrupt gzip stream ({err}); delete the file and download it again"
            ) from None
    return parse_idx(raw, name=str(path), expect_ndim=expect_ndim)


def parse_idx(raw: bytes, name: str = "<bytes>", expect_ndim: int | None = None) -> np.ndarray:
    """Decode the (uncompressed) bytes of an IDX file; see ``read_idx``."""
    if len(raw) < 4:
        raise ValueError(f"{name}: not an IDX file (only {len(raw)} bytes)")
    zero0, zero1, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or type_code not in IDX_TYPES:
        raise ValueError(
            f"{name}: bad IDX magic number {raw[:4].hex()}; expected 0000 then a "
            f"type code in {[hex(c) for c in IDX_TYPES]} then the number of dims"
        )
    if expect_ndim is not None and ndim != expect_ndim:
        raise ValueError(
            f"{name}: expected an IDX file with {expect_ndim} dimensions, the header declares {ndim}"
        )
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise ValueError(f"{name}: IDX header declares {ndim} dims but the file ends early")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[type_code])
    expected_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual_bytes = len(raw) - header_end
    if actual_bytes != expected_bytes:
        raise ValueError(
            f"{name}: IDX header declares shape {shape} ({expected_bytes} data "
            f"bytes) but the file holds {actual_bytes}; it is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_end).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _tar_member(tar, member, archive: str) -> bytes:
    """The bytes of ``member`` (a ``TarInfo`` or a name) of the open ``tar``; a ValueError naming
    the ``archive`` (what it was taken for) when it has no regular file of that name."""
    try:
        stream = tar.extractfile(member)
    except KeyError:  # no member of that name
        stream = None
    if stream is None:
        raise ValueError(f"{archive}: no file {getattr(member, 'name', member)!r}")
    return stream.read()


def parse_cifar_batch(raw: bytes, name: str = "<bytes>"):
    """Decode one pickled CIFAR-10 batch. Only call on checksum-verified bytes.

    Returns
    -------
    images : (N, 3, 32, 32) uint8, channels red, green, blue.
    labels : (N,) int64 in 0..9.
    """
    try:
        batch = pickle.load(io.BytesIO(raw), encoding="bytes")
    except Exception as err:  # pickle raises many types on bad input
        raise ValueError(f"{name}: not a readable CIFAR-10 pickle batch ({err!r})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{name}: expected a dict with keys b'data' and b'labels', got {keys}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{name}: expected b'data' of shape (N, 3072) uint8, got shape {data.shape} {data.dtype}"
        )
    if labels.shape != (data.shape[0],):
        raise ValueError(f"{name}: {data.shape[0]} images but labels of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{name}: labels must be in 0..9, got range {labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels
