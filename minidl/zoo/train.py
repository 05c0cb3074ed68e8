"""The data the zoo's models were trained on: ``digits_subset`` picks some digits of MNIST.

The training script itself is a tool of the repository, not part of the installed library:
``python tools/zoo_train.py NAME`` retrains a zoo model from a fixed seed and rewrites its
weights file (``minidl.zoo.describe(NAME)`` says so for each model).
"""

from __future__ import annotations

import numpy as np


def digits_subset(x, y, classes):
    """The samples of ``x, y`` whose label is in ``classes``, relabelled 0..len(classes)-1 in that order."""
    classes = list(classes)
    keep = np.isin(y, classes)
    relabel = np.full(int(max(classes)) + 1, -1, dtype=np.int64)
    relabel[classes] = np.arange(len(classes))
    return x[keep], relabel[y[keep]]


if __name__ == "__main__":  # the script that lived here: say where it went
    raise SystemExit("python -m minidl.zoo.train moved to the repository: python tools/zoo_train.py NAME")
