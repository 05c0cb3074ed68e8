"""Two-dimensional toy classification sets: small enough to plot, hard enough to need a network.

Each ``make_*`` returns ``(x, y)``: points ``x`` float32 (N, 2) and labels ``y`` int64
(N,), rows in random order (so any slice mixes the classes). Randomness comes from
``seed`` when given, else from minidl's generator (``minidl.seed(n)`` makes it repeat).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend

__all__ = ["make_spirals", "make_xor"]


def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed=None):
    """Interleaved spiral arms, one per class (the CS231n toy problem).

    Arm k has points at radius r in [0, 1] and angle
    ``theta = 4 (k + r) + noise * e`` (e standard normal), i.e.
    ``x = r (sin theta, cos theta)``. Classes get ``n_samples // n_classes`` points,
    the first ``n_samples % n_classes`` classes one more.
    """
    _check_count("n_samples", n_samples)
    _check_count("n_classes", n_classes, minimum=2)
    _check_noise(noise)
    rng = _generator(seed)
    points, labels = [], []
    for k, count in enumerate(_class_sizes(n_samples, n_classes)):
        radius = np.linspace(0.0, 1.0, count)
        angle = 4.0 * (k + radius) + noise * rng.standard_normal(count)
        points.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        labels.append(np.full(count, k))
    return _shuffled(np.concatenate(points), np.concatenate(labels), rng)


def make_xor(n_samples: int = 200, noise: float = 0.1, seed=None):
    """The XOR problem: points uniform in [-1, 1]^2, label 1 where exactly one coordinate is > 0.

    No single line separates the classes, which is why it needs a hidden layer. Labels
    come from the clean points; Gaussian noise of standard deviation ``noise`` is then
    added to the coordinates, so points near the axes can sit in the "wrong" quadrant.
    """
    _check_count("n_samples", n_samples)
    _check_noise(noise)
    rng = _generator(seed)
    clean = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (clean[:, 0] > 0) ^ (clean[:, 1] > 0)
    x = clean + noise * rng.standard_normal((n_samples, 2))
    return x.astype(np.float32), y.astype(np.int64)


# --------------------------------------------------------------------------- helpers
def _generator(seed) -> np.random.Generator:
    """``default_rng(seed)`` for an explicit seed, minidl's shared generator for None."""
    return backend.rng() if seed is None else np.random.default_rng(seed)


def _class_sizes(n_samples: int, n_classes: int):
    base, extra = divmod(n_samples, n_classes)
    return [base + (k < extra) for k in range(n_classes)]


def _shuffled(x, y, rng):
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order].astype(np.int64)


def _excluded(exclude, field: str, shape: tuple) -> set:
    """What a generator must not return again, as int64 bytes: the rows (M, *shape) of its result's
    ``field`` (``exclude`` a result, e.g. the training set) or of ``exclude`` itself; None: nothing."""
    if exclude is None:
        return set()
    rows = np.asarray(getattr(exclude, field, exclude))
    if rows.ndim != len(shape) + 1 or rows.shape[1:] != shape:
        raise ValueError(
            f"exclude must hold {field} of shape (M, {', '.join(map(str, shape))}), got shape {rows.shape}"
        )
    return {row.astype(np.int64).tobytes() for row in rows}


def _check_count(name: str, value, minimum: int = 1) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_noise(noise) -> None:
    if not isinstance(noise, numbers.Real) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
