"""Image classification sets: MNIST (bundled 5k subset or full), CIFAR-10.

Every loader returns ``((x_train, y_train), (x_test, y_test))`` with images
as float32 in [0, 1] in NCHW layout and labels as int64. The arrays are fresh copies on
every call: changing them in place cannot affect a later call.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from .download import data_home, fetch
from .formats import _tar_member, parse_cifar_batch, read_idx

__all__ = ["load_mnist", "load_cifar10", "load_sequential_mnist", "CIFAR10_CLASSES"]

BUNDLED_MNIST = Path(__file__).with_name("data") / "mnist_5k.npz"

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"

# Decoded uint8 arrays, keyed by where they came from. Kept as uint8 (a quarter of the
# float32 size); every loader converts, which also hands the caller a private copy.
_decoded: dict = {}


# --------------------------------------------------------------------------- public loaders
def load_mnist(flatten: bool = False, subset: str = "5k"):
    """Handwritten digits 0-9 (LeCun, Cortes and Burges).

    Parameters
    ----------
    flatten : False gives images (N, 1, 28, 28); True gives rows (N, 784).
    subset : ``"5k"`` (default) -- the 5,000 images bundled with minidl, split once and
        for all into 4,000 train and 1,000 test images, stratified: **exactly 400 images
        of every digit in train and 100 in test** (see ``datasets/data/README.md``).
        Needs no network and loads in milliseconds.
        ``"full"`` -- the official 60,000 / 10,000 split, downloaded once into the cache
        (``$MINIDL_DATA`` or ``~/.cache/minidl``, folder ``mnist/``) and checked by SHA-256.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test)) : images float32 in [0, 1], labels int64 in 0..9.

    >>> (x, y), (xt, yt) = load_mnist()
    >>> x.shape, xt.shape, y.dtype
    ((4000, 1, 28, 28), (1000, 1, 28, 28), dtype('int64'))
    """
    if subset == "5k":
        raw = _cached("mnist-5k", _read_bundled_mnist)
    elif subset == "full":
        raw = _cached(("mnist", _folder_key("mnist")), lambda: _read_idx_dataset("mnist"))
    else:
        raise ValueError(f"subset must be '5k' (bundled) or 'full' (download), got {subset!r}")
    return _to_float(raw, flatten)


def load_cifar10(flatten: bool = False):
    """CIFAR-10 (Krizhevsky, 2009): 50,000 / 10,000 colour 32 x 32 images, 10 classes.

    Downloads ``cifar-10-python.tar.gz`` (163 MiB) once into the cache (folder
    ``cifar10/``), checks its SHA-256, and reads the pickled batches straight out of the
    verified archive (nothing is unpacked to disk). Class names: ``CIFAR10_CLASSES``.
    The decoded arrays are not kept in memory between calls (they are 180 MB); each call
    re-reads the archive, which takes a few seconds.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test)) : images float32 in [0, 1] of shape
    (N, 3, 32, 32) (channels red, green, blue), or (N, 3072) with ``flatten=True``;
    labels int64 in 0..9.
    """
    archive = fetch("cifar10")["cifar-10-python.tar.gz"]
    return _to_float(_read_cifar_archive(archive), flatten)


def load_sequential_mnist(subset: str = "5k"):
    """MNIST read row by row: each image is a sequence of 28 time steps of 28 pixels.

    The classic test of a recurrent network's memory: the label is only known after
    the last row. Same images and split as ``load_mnist(subset=subset)``.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test)) : x float32 (N, 28, 28) = (N, T, D), in [0, 1];
    y int64 (N,).
    """
    (x_train, y_train), (x_test, y_test) = load_mnist(subset=subset)
    return (x_train[:, 0], y_train), (x_test[:, 0], y_test)


# --------------------------------------------------------------------------- helpers
def _cached(key, read):
    if key not in _decoded:
        _decoded[key] = read()
    return _decoded[key]


def _folder_key(dataset: str) -> str:
    """Cache key part: the folder the files come from (so a new $MINIDL_DATA re-reads)."""
    return str(data_home() / dataset)


def _to_float(raw, flatten: bool):
    """Each split (x, y) of uint8 arrays -> float32 images in [0, 1] (new) and int64 labels (copies)."""

    def images(x):
        x = x.astype(np.float32) / np.float32(255)
        if x.ndim == 3:  # grey images (N, H, W) -> (N, 1, H, W)
            x = x[:, None]
        return x.reshape(len(x), -1) if flatten else x

    return tuple((images(x), y.astype(np.int64)) for x, y in raw)


def _read_bundled_mnist():
    with np.load(BUNDLED_MNIST) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_idx_dataset(dataset: str):
    """Read the four IDX files of MNIST from the verified cache."""
    paths = fetch(dataset)
    return tuple(_read_idx_split(paths[images], paths[labels]) for images, labels in IDX_FILES.values())


def _read_idx_split(images_path, labels_path):
    images = read_idx(images_path, expect_ndim=3)
    labels = read_idx(labels_path, expect_ndim=1)
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{labels_path} holds {labels.shape[0]} labels but {images_path} holds {images.shape[0]} images"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be in 0..9, got max {labels.max()}")
    return images, labels


def _read_cifar_archive(archive):
    """Read the six pickled batches from the (already verified) CIFAR-10 tar.gz."""
    with tarfile.open(archive, "r:gz") as tar:

        def batch(name):
            member = f"{CIFAR_FOLDER}/{name}"
            raw = _tar_member(tar, member, f"{archive} (not the CIFAR-10 python archive?)")
            return parse_cifar_batch(raw, name=member)

        train = [batch(name) for name in CIFAR_TRAIN_BATCHES]
        test = batch(CIFAR_TEST_BATCH)
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return (x_train, y_train), test
