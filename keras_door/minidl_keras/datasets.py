"""``keras.datasets``: ``mnist.load_data()`` from minidl's bundled subset, offline.

Keras's format: ``(x_train, y_train), (x_test, y_test)`` with uint8 images (N, 28, 28) and
uint8 labels. The bundled subset has 4,000 training and 1,000 test images (400 and 100 of
each digit), not Keras's 60,000 / 10,000: the full set is
``minidl.datasets.load_mnist(subset="full")`` (downloaded once). ``cifar10`` goes through
minidl's downloader (``minidl.datasets.load_cifar10``); ``fashion_mnist`` (which no chapter
uses) is the door's, through the same verified cache (``minidl.datasets.download.fetch``, its
files' sums registered below); the other Keras datasets are not in minidl and say how to get them.
"""

from __future__ import annotations

import numpy as np

from minidl import datasets as _datasets
from minidl.datasets import download as _download

__all__ = [
    "mnist",
    "fashion_mnist",
    "cifar10",
    "cifar100",
    "imdb",
    "reuters",
    "boston_housing",
    "california_housing",
]


def _as_uint8_images(x):
    """minidl's float32 (N, C, H, W) in [0, 1] back to Keras's uint8 (N, H, W) or (N, H, W, C)."""
    images = np.rint(x * 255).astype(np.uint8).transpose(0, 2, 3, 1)
    return images[..., 0] if images.shape[-1] == 1 else images


class _Dataset:
    """One ``keras.datasets.<name>`` module: ``load_data()``."""

    def __init__(self, name: str, load=None, how: str = ""):
        self.__name__, self._load, self._how = name, load, how

    def load_data(self, *args, **kwargs):
        if self._load is None:
            raise NotImplementedError(
                f"keras.datasets.{self.__name__} is not in minidl (it bundles no "
                f"copy and has no downloader for it): {self._how}"
            )
        return self._load()

    def __repr__(self):
        return f"<keras.datasets.{self.__name__} (minidl)>"


def _mnist():
    (x, y), (xt, yt) = _datasets.load_mnist()
    return ((_as_uint8_images(x), y.astype(np.uint8)), (_as_uint8_images(xt), yt.astype(np.uint8)))


def _downloaded(loader):
    def load():
        (x, y), (xt, yt) = loader()
        return ((_as_uint8_images(x), y.astype(np.uint8)), (_as_uint8_images(xt), yt.astype(np.uint8)))

    return load


# Zalando's Fashion-MNIST (60,000 / 10,000 grey 28 x 28 clothing images, 10 classes), fetched
# into minidl's cache folder fashion_mnist/ and checked by SHA-256 like minidl's own sets
_download.MIRRORS.setdefault(
    "fashion_mnist",
    (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
)
_download.SHA256.setdefault(
    "fashion_mnist",
    {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
)


def _fashion_mnist():
    paths = _download.fetch("fashion_mnist")
    return tuple(
        (
            _datasets.read_idx(paths[f"{split}-images-idx3-ubyte.gz"], expect_ndim=3),
            _datasets.read_idx(paths[f"{split}-labels-idx1-ubyte.gz"], expect_ndim=1).astype(np.uint8),
        )
        for split in ("train", "t10k")
    )


def _cifar10():
    (x, y), (xt, yt) = _downloaded(_datasets.load_cifar10)()
    return (x, y[:, None]), (xt, yt[:, None])  # Keras's labels are (N, 1)


_ELSEWHERE = (
    "download it with Keras or TensorFlow Datasets on a machine that has them, save the "
    "arrays with np.savez, and load them with np.load"
)
mnist = _Dataset("mnist", _mnist)
fashion_mnist = _Dataset("fashion_mnist", _fashion_mnist)
cifar10 = _Dataset("cifar10", _cifar10)
cifar100 = _Dataset("cifar100", how=_ELSEWHERE)
imdb = _Dataset("imdb", how=_ELSEWHERE + "; minidl.datasets.load_text_corpus gives offline text")
reuters = _Dataset("reuters", how=_ELSEWHERE)
boston_housing = _Dataset("boston_housing", how=_ELSEWHERE)
california_housing = _Dataset("california_housing", how=_ELSEWHERE)
