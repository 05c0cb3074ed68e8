"""Fetch dataset files once, check them, and keep them in a cache directory.

Every file a downloader may fetch is listed in ``SHA256`` with the sum it must have; ``MIRRORS``
holds each dataset's addresses, tried in order. A file is used only after its sum matches,
whether it was downloaded or placed by hand. MedMNIST's authors publish MD5 sums only (in their
Zenodo record and in the ``medmnist`` package): an entry ``"md5:<hex>"`` is checked with MD5,
every other entry with SHA-256.

Files live in ``data_home() / <dataset> / <file>``, where ``data_home()`` is
``$MINIDL_DATA`` if set, else ``~/.cache/minidl``. A download is written to a temporary
file in the same folder and renamed into place only once its sum is right, so an
interrupted download never leaves a half file under the real name.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from urllib.request import Request, urlopen

__all__ = ["data_home", "fetch", "sha256_of", "DownloadError", "ChecksumError", "MIRRORS", "SHA256"]

MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
    "oxford_pets": (
        "https://thor.robots.ox.ac.uk/~vgg/data/pets/",
        "https://www.robots.ox.ac.uk/~vgg/data/pets/data/",
    ),
    "medmnist": ("https://zenodo.org/records/10519652/files/",),
}
# what follows a file's name in its address, where a server wants it
URL_SUFFIX = {"medmnist": "?download=1"}

SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "cifar10": {"cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"},
    "oxford_pets": {  # the sums TensorFlow Datasets publishes for these files
        "annotations.tar.gz": "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
        "images.tar.gz": "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
    },
    "medmnist": {
        "pneumoniamnist.npz": "md5:28209eda62fecd6e6a2d98b1501bb15f",
        "breastmnist.npz": "md5:750601b1f35ba3300ea97c75c52ff8f6",
    },
}

_NAMES = {"sha256": "SHA-256", "md5": "MD5"}
TIMEOUT_SECONDS = 60
_CHUNK = 1 << 20


class DownloadError(OSError):
    """A dataset file could not be downloaded (offline, server down, wrong sum)."""


class ChecksumError(ValueError):
    """A file's sum is not the one ``SHA256`` lists for it."""


def data_home() -> Path:
    """The cache root: ``$MINIDL_DATA`` if set, else ``~/.cache/minidl``."""
    configured = os.environ.get("MINIDL_DATA")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "minidl"


def sha256_of(path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    return _digest_of(path, "sha256")


def _digest_of(path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _split_sum(expected: str) -> tuple[str, str]:
    """A table entry -> (algorithm, hex): ``"md5:<hex>"`` is MD5, a bare hex string SHA-256."""
    algorithm, _, value = expected.rpartition(":")
    return (algorithm or "sha256"), value


def fetch(dataset: str, filenames=None) -> dict:
    """Make sure every file of ``dataset`` (a key of ``SHA256``: ``"mnist"``, ``"cifar10"``,
    ``"oxford_pets"``, ``"medmnist"``, or one a library added) is in the cache with the right
    sum, and return ``{filename: Path}`` of the verified files (``filenames``: the files
    wanted, by default all of the dataset's).

    A missing file is downloaded; a file already present is checked and, if its sum is wrong,
    reported with a ``ChecksumError``, never silently replaced (it may be one the user placed
    by hand). A ``DownloadError`` (a file could not be downloaded) lists every file to place
    by hand, with its sum, and the folder to put it in.
    """
    if dataset not in SHA256:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(SHA256)}")
    table = SHA256[dataset]
    filenames = list(table) if filenames is None else list(filenames)
    folder = data_home() / dataset
    paths = {}
    for name in filenames:
        path = folder / name
        if path.exists():
            _check_sum(path, table[name])
        else:
            _download_with_mirrors(dataset, name, path)
        paths[name] = path
    return paths


def _check_sum(path: Path, expected: str) -> None:
    """A cached file's sum against the table's entry ``expected``."""
    algorithm, expected = _split_sum(expected)
    actual = _digest_of(path, algorithm)
    if actual != expected:
        raise ChecksumError(
            f"{_NAMES[algorithm]} mismatch for the cached file {path}: expected {expected}, got {actual}. "
            f"The file is corrupt, truncated or not the file minidl expects. "
            f"Delete it and run again to download it afresh."
        )


def _download_with_mirrors(dataset: str, name: str, path: Path) -> None:
    """Try each mirror in turn; raise DownloadError with hand-placing advice if all fail."""
    failures = []
    for base in MIRRORS[dataset]:
        url = base + name + URL_SUFFIX.get(dataset, "")
        try:
            download(url, path, SHA256[dataset][name])
            return
        except (OSError, ChecksumError) as err:  # URLError and timeouts are OSErrors
            failures.append(f"  {url}: {err}")
    raise DownloadError(_hand_placing_message(dataset, name, failures))


def _hand_placing_message(dataset: str, name: str, failures) -> str:
    folder = data_home() / dataset
    wanted = "\n".join(
        f"  {f}  ({_NAMES[_split_sum(sha)[0]]} {_split_sum(sha)[1]}, from {MIRRORS[dataset][0] + f})"
        for f, sha in SHA256[dataset].items()
        if not (folder / f).exists()
    )
    return (
        f"could not download {name} for {dataset}:\n" + "\n".join(failures) + "\n"
        f"If this machine is offline, download these files elsewhere and place them, "
        f"unchanged and with these names, in {folder}/ (set $MINIDL_DATA to use another "
        f"folder than {data_home()}):\n{wanted}"
    )


def download(url: str, path, expected_sha256: str | None) -> Path:
    """Download ``url`` to ``path`` atomically, checking its SHA-256 on the way (its MD5 when
    ``expected_sha256`` is ``"md5:<hex>"``).

    ``expected_sha256=None`` checks nothing: for files re-published under one name, whose sum
    the caller records and checks itself (``tools/real_text.py``'s Tatoeba pairs).

    The bytes go to a temporary file next to ``path``; only when the sum matches is it
    renamed to ``path`` (``os.replace`` is atomic on one file system). On any failure
    the temporary file is removed and the error propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"minidl: downloading {url} -> {path}", file=sys.stderr)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        algorithm, expected = _split_sum(expected_sha256 or "")
        digest = hashlib.new(algorithm)
        request = Request(url, headers={"User-Agent": "minidl (dataset downloader)"})
        with os.fdopen(handle, "wb") as out, urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if expected_sha256 is not None and actual != expected:
            raise ChecksumError(
                f"{_NAMES[algorithm]} mismatch for the download of {url}: expected {expected}, got {actual}"
            )
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return path
