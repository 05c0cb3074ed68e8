"""``keras.datasets``: ``mnist.load_data()`` from minidl's bundled subset, offline.

Keras's format: ``(x_train, y_train), (x_test, y_test)`` with uint8 images (N, 28, 28) and
uint8 labels. The bundled subset has 4,000 training and 1,000 test images (400 and 100 of
each digit), not Keras's 60,000 / 10,000: the full set is
``minidl.datasets.load_mnist(subset="full")`` (downloaded once). ``fashion_mnist`` and
``cifar10`` go through minidl's downloaders (``minidl.datasets.load_fashion_mnist``,
``load_cifar10``); the other Keras datasets are not in minidl and say how to get them.
"""

from __future__ import annotations

import numpy as np

from minidl import datasets as _datasets

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


def _cifar10():
    (x, y), (xt, yt) = _downloaded(_datasets.load_cifar10)()
    return (x, y[:, None]), (xt, yt[:, None])  # Keras's labels are (N, 1)


_ELSEWHERE = (
    "download it with Keras or TensorFlow Datasets on a machine that has them, save the "
    "arrays with np.savez, and load them with np.load"
)
mnist = _Dataset("mnist", _mnist)
fashion_mnist = _Dataset("fashion_mnist", _downloaded(_datasets.load_fashion_mnist))
cifar10 = _Dataset("cifar10", _cifar10)
cifar100 = _Dataset("cifar100", how=_ELSEWHERE)
imdb = _Dataset("imdb", how=_ELSEWHERE + "; minidl.datasets.load_text_corpus gives offline text")
reuters = _Dataset("reuters", how=_ELSEWHERE)
boston_housing = _Dataset("boston_housing", how=_ELSEWHERE)
california_housing = _Dataset("california_housing", how=_ELSEWHERE)
