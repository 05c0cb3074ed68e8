"""``keras.utils``: ``to_categorical``, ``pad_sequences``, ``set_random_seed``, ``PyDataset``."""

from __future__ import annotations

import numpy as np

from minidl.backend import seed
from minidl.training.data import one_hot

__all__ = ["to_categorical", "pad_sequences", "set_random_seed", "PyDataset", "Sequence"]


def to_categorical(y, num_classes: int | None = None, dtype="float64"):
    """Integer labels (N,) (or (N, 1), as Keras accepts) -> one-hot rows (N, num_classes),
    float64 as Keras 3 returns them (``dtype=`` picks another; ``fit`` casts inputs to float32).

    Keras's name for ``minidl.training.data.one_hot``; ``num_classes`` defaults to ``max(y) + 1``.
    """
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # Keras accepts whole-number floats as labels
    return one_hot(y, num_classes, dtype=np.dtype(dtype))


def set_random_seed(seed_value: int) -> None:
    """Keras's name for ``minidl.seed``: weights, dropout, shuffling and NumPy's global generator."""
    seed(seed_value)


def pad_sequences(
    sequences,
    maxlen: int | None = None,
    dtype="int32",
    padding: str = "pre",
    truncating: str = "pre",
    value=0.0,
):
    """Lists of token ids of different lengths -> one array (N, maxlen), as Keras.

    Shorter sequences are filled with ``value`` before them (``padding="pre"``, Keras's
    default) or after (``"post"``); longer ones lose their start (``truncating="pre"``) or
    their end (``"post"``). ``maxlen`` defaults to the longest sequence.
    """
    for what, choice in (("padding", padding), ("truncating", truncating)):
        if choice not in ("pre", "post"):
            raise ValueError(f"pad_sequences {what} must be 'pre' or 'post', got {choice!r}")
    rows = [np.asarray(s) for s in sequences]
    if any(r.ndim != 1 for r in rows):
        raise ValueError(
            "pad_sequences expects a list of 1-D sequences (lists of ids); got one of "
            f"shape {next(r.shape for r in rows if r.ndim != 1)}"
        )
    if maxlen is None:
        maxlen = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), maxlen), value, dtype=dtype)
    for i, r in enumerate(rows):
        r = (r[-maxlen:] if truncating == "pre" else r[:maxlen]) if maxlen else r[:0]
        if len(r):
            if padding == "pre":
                out[i, maxlen - len(r) :] = r
            else:
                out[i, : len(r)] = r
    return out


class PyDataset:
    """Keras's ``PyDataset``: subclass it with ``__len__`` (batches per epoch) and
    ``__getitem__(i)`` returning batch ``i`` as ``(x, y)`` or ``(x, y, sample_weight)``, and
    pass it to ``fit`` as ``x``. ``on_epoch_end`` runs after every epoch (reshuffle there).
    ``workers`` and ``use_multiprocessing`` are accepted and ignored: minidl reads batches in
    order, in the training process."""

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        self.workers, self.use_multiprocessing, self.max_queue_size = (
            workers,
            use_multiprocessing,
            max_queue_size,
        )

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (batches per epoch)")

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__ (batch number index)")

    def on_epoch_end(self) -> None:
        """Called after every epoch; override to reshuffle."""


Sequence = PyDataset  # Keras 2's name
