"""``keras.random``: random numbers with Keras's signatures, drawn from NumPy generators.

* ``SeedGenerator(seed=None)``: a stream of its own; each draw given it moves it on, so two
  draws differ and a program re-run with the same seed draws the same numbers.
* ``normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None)``,
  ``uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None)``,
  ``truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None)`` (redrawn beyond two
  standard deviations), ``randint(shape, minval, maxval, dtype="int32", seed=None)``,
  ``shuffle(x, axis=0, seed=None)``: ``seed`` an int (the same numbers at every call with it, as
  Keras), a ``SeedGenerator``, or None (minidl's global stream, which
  ``keras.utils.set_random_seed`` seeds).

The numbers are NumPy's, not those of Keras's backend: the same seed gives other values than
Keras gives (their distribution is the same).
"""

from __future__ import annotations

import numpy as np

from minidl import backend

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "shuffle"]


class SeedGenerator:
    """Keras's ``keras.random.SeedGenerator(seed=None)``: a random stream to pass as ``seed=``."""

    def __init__(self, seed=None, name=None, **kwargs):
        self.seed = seed
        self.name = name or "seed_generator"
        self.generator = np.random.default_rng(seed)

    def next(self):
        """A fresh seed drawn from this stream (what a draw given this generator uses)."""
        return int(self.generator.integers(0, 2**31 - 1))

    def get_config(self) -> dict:
        return {"seed": self.seed}


def _generator(seed) -> np.random.Generator:
    if seed is None:
        return backend.rng()
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise ValueError(f"seed must be an int, a keras.random.SeedGenerator or None, got {seed!r}")


def _shape(shape) -> tuple:
    return (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev^2), float32 unless ``dtype``."""
    values = _generator(seed).normal(mean, stddev, size=_shape(shape))
    return values.astype(dtype or "float32")


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples of U[minval, maxval), float32 unless ``dtype``."""
    values = _generator(seed).uniform(minval, maxval, size=_shape(shape))
    return values.astype(dtype or "float32")


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev^2) redrawn until within two standard deviations of the mean."""
    rng = _generator(seed)
    values = rng.standard_normal(_shape(shape))
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return (mean + stddev * values).astype(dtype or "float32")


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from [minval, maxval)."""
    return _generator(seed).integers(minval, maxval, size=_shape(shape)).astype(dtype)


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries along ``axis`` in a random order (a copy)."""
    x = np.asarray(backend.to_numpy(x))
    order = _generator(seed).permutation(x.shape[axis])
    return np.take(x, order, axis=axis)
