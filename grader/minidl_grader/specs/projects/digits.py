"""Digits that moved: the hidden split is the second half of the bundled MNIST test images
(the validation split is the first half), each shifted, dimmed and noised afresh from the
grading seed (``minidl.exercises.projects.shifted_digits``)."""

from __future__ import annotations

import numpy as np

from minidl import datasets
from minidl.exercises.projects import shifted_digits


def hidden(seed: int):
    _, (x_test, y_test) = datasets.load_mnist()
    half = len(x_test) // 2
    rng = np.random.default_rng([seed, 1])
    return shifted_digits(x_test[half:], rng), y_test[half:]
