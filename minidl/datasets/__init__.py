"""Data for the course: bundled MNIST, downloaders, synthetic sets, sequences and text.

Everything a notebook or test needs works offline:

* ``load_mnist()`` -- 5,000 MNIST digits bundled with minidl (4,000 train / 1,000 test,
  balanced), as float32 (N, 1, 28, 28) in [0, 1] with int64 labels.
* ``make_spirals``, ``make_moons``, ``make_circles``, ``make_xor`` -- 2-D toy problems.
* ``make_sine_sequences``, ``make_adding_problem``, ``load_sequential_mnist`` -- (N, T, D)
  sequence tasks for recurrent networks.
* ``load_text_corpus``, ``CharEncoder``, ``make_char_windows``, ``sample`` -- character-level
  language modelling on the standard library's docstrings.

The full sets -- ``load_mnist(subset="full")``, ``load_fashion_mnist()``,
``load_cifar10()`` -- are downloaded once into ``$MINIDL_DATA`` (default
``~/.cache/minidl``) and checked by SHA-256 (see ``minidl.datasets.download``).
"""
from .download import ChecksumError, DownloadError, data_home
from .formats import read_idx
from .images import (CIFAR10_CLASSES, FASHION_MNIST_CLASSES, load_cifar10,
                     load_fashion_mnist, load_mnist, load_sequential_mnist)
from .sequences import last_value_forecast, make_adding_problem, make_sine_sequences
from .synthetic import make_circles, make_moons, make_spirals, make_xor
from .text import CharEncoder, load_text_corpus, make_char_windows, sample

__all__ = [
    "load_mnist", "load_fashion_mnist", "load_cifar10", "load_sequential_mnist",
    "FASHION_MNIST_CLASSES", "CIFAR10_CLASSES",
    "make_spirals", "make_moons", "make_circles", "make_xor",
    "make_sine_sequences", "last_value_forecast", "make_adding_problem",
    "load_text_corpus", "CharEncoder", "make_char_windows", "sample",
    "read_idx", "data_home", "DownloadError", "ChecksumError",
]
