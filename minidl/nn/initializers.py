"""Weight initialisers: how the first weights are drawn.

A layer ``y = x W`` with ``fan_in`` inputs of variance ``Var(x)`` and independent zero-mean
weights has ``Var(y) = fan_in * Var(W) * E[x^2]``. Choosing ``Var(W)`` so that this
product stays the same from layer to layer (and its mirror image, ``fan_out * Var(W)``,
for the gradients going back) gives every scheme below; chapter 8 derives them.

    variance_scaling   Var(W) = scale / n, n = fan_in, fan_out or their mean
    glorot_uniform     U(-a, a), a = sqrt(6 / (fan_in + fan_out))      (tanh / sigmoid / linear)
    glorot_normal      N(0, 2 / (fan_in + fan_out))
    he_uniform         U(-a, a), a = sqrt(6 / fan_in)                  (ReLU halves E[x^2])
    he_normal          N(0, 2 / fan_in)
    lecun_uniform      U(-a, a), a = sqrt(3 / fan_in)                  (SELU; linear forward pass)
    lecun_normal       N(0, 1 / fan_in)
    orthogonal         a random matrix with orthonormal rows or columns, times ``gain``
    random_normal      N(0, 0.05^2)   (``normal`` is the same)
    random_uniform     U(-0.05, 0.05)
    zeros, ones

A layer takes one by name (``Dense(64, kernel_initializer="he_normal")``; He is PyTorch's
``kaiming``, Glorot its ``xavier``). The ``*_normal`` schemes draw from the plain normal, as
PyTorch's ``kaiming_normal_`` and ``xavier_normal_`` do.

Every initialiser is called as ``init(shape, fan_in, fan_out, dtype)`` and draws from
``minidl.backend.rng()``, so ``minidl.seed`` makes it repeatable. An initialiser with
arguments is an ``Initializer`` object: it keeps its arguments (``get_config``), so a layer
holding one saves as ``{"class", "config"}`` and ``get`` makes it again from that
(``Initializer.classes`` holds every subclass, wherever it is defined).
"""

import math

import numpy as np

from .. import backend
from .configurable import Configurable, made_again


def variance_scaling(scale=1.0, mode="fan_in", distribution="normal"):
    """An initialiser with ``Var(W) = scale / n``, ``n`` the fan named by ``mode``.

    ``mode``: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"`` (``(fan_in + fan_out) / 2``);
    ``distribution``: ``"normal"`` (std ``sqrt(scale / n)``) or ``"uniform"``
    (``U(-a, a)`` with ``a = sqrt(3 scale / n)``, which has the same variance).
    ``variance_scaling(2.0, "fan_in")`` is He, ``variance_scaling(1.0, "fan_avg")`` Glorot.
    """
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"variance_scaling mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"variance_scaling distribution must be 'normal' or 'uniform', got {distribution!r}")
    if not scale > 0:
        raise ValueError(f"variance_scaling scale must be positive, got {scale!r}")

    def init(shape, fan_in, fan_out, dtype=np.float32):
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if distribution == "normal":
            return _normal(math.sqrt(scale / n), shape, dtype)
        return _uniform(math.sqrt(3.0 * scale / n), shape, dtype)

    init.__name__ = f"variance_scaling(scale={scale}, mode={mode!r}, distribution={distribution!r})"
    return init


def _uniform(limit, shape, dtype):
    """Draws from U(-limit, limit)."""
    return backend.rng().uniform(-limit, limit, size=shape).astype(dtype)


def _normal(std, shape, dtype):
    """Draws from N(0, std^2)."""
    return (backend.rng().standard_normal(shape) * std).astype(dtype)


class Initializer(Configurable):
    """An initialiser with arguments, called ``init(shape, fan_in, fan_out, dtype)`` as every
    minidl layer calls it. A subclass defines ``draw(shape, fan_in, fan_out, dtype)`` and
    keeps its constructor's arguments under their own names (that is its ``get_config``); it
    is found again by class name when a saved layer is made again (``get``)."""

    classes: dict[str, "type[Initializer]"] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Initializer.classes[cls.__name__] = cls

    def __call__(self, shape, fan_in, fan_out, dtype=np.float32):
        return self.draw(tuple(int(d) for d in shape), fan_in, fan_out, np.dtype(dtype))

    def draw(self, shape: tuple, fan_in: int, fan_out: int, dtype):
        raise NotImplementedError


def glorot_uniform(shape, fan_in, fan_out, dtype=np.float32):
    return _uniform(np.sqrt(6.0 / (fan_in + fan_out)), shape, dtype)


def glorot_normal(shape, fan_in, fan_out, dtype=np.float32):
    return _normal(np.sqrt(2.0 / (fan_in + fan_out)), shape, dtype)


def he_uniform(shape, fan_in, fan_out, dtype=np.float32):
    return _uniform(np.sqrt(6.0 / fan_in), shape, dtype)


def he_normal(shape, fan_in, fan_out, dtype=np.float32):
    return _normal(np.sqrt(2.0 / fan_in), shape, dtype)


def lecun_uniform(shape, fan_in, fan_out, dtype=np.float32):
    return _uniform(np.sqrt(3.0 / fan_in), shape, dtype)


def lecun_normal(shape, fan_in, fan_out, dtype=np.float32):
    return _normal(np.sqrt(1.0 / fan_in), shape, dtype)


def orthogonal(shape, fan_in=None, fan_out=None, dtype=np.float32, gain=1.0, rng=None):
    """``gain`` times a random matrix with orthonormal rows or columns (Saxe et al., 2014).

    A shape with more than two axes is treated as the matrix (shape[0], prod(shape[1:])),
    as PyTorch's ``orthogonal_`` does: for a convolution's W (F, C, KH, KW) the F filters
    are orthonormal when F <= C*KH*KW. ``x @ Q`` keeps the length of ``x`` when Q has
    orthonormal rows, so a stack of such layers neither shrinks nor grows a linear signal.
    ``rng`` (a NumPy ``Generator``) draws instead of minidl's stream.
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal needs a shape with at least 2 axes, got {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    a = (backend.rng() if rng is None else rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the result uniformly distributed over orthogonal matrices
    q = q if rows >= cols else q.T
    return np.ascontiguousarray((gain * q).reshape(shape), dtype=dtype)


def normal(shape, fan_in, fan_out, dtype=np.float32, std=0.05):
    return _normal(std, shape, dtype)


def random_uniform(shape, fan_in, fan_out, dtype=np.float32, limit=0.05):
    return _uniform(limit, shape, dtype)


def zeros(shape, fan_in=None, fan_out=None, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def ones(shape, fan_in=None, fan_out=None, dtype=np.float32):
    return np.ones(shape, dtype=dtype)


random_normal = normal

#: every initialiser by the name a layer takes (``kernel_initializer="he_normal"``)
_SCHEMES = (glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal)
INITIALIZERS = {f.__name__: f for f in (*_SCHEMES, orthogonal, normal, random_uniform, zeros, ones)}
INITIALIZERS["random_normal"] = random_normal


def get(name_or_fn):
    """Look an initialiser up by name (``"he_normal"``), make a saved
    ``Initializer`` again from ``{"class", "config"}``, or pass a callable through."""
    if callable(name_or_fn):
        return name_or_fn
    if isinstance(name_or_fn, dict) and name_or_fn.get("class") is not None:
        return made_again(name_or_fn, Initializer.classes, "initializer")
    try:
        return INITIALIZERS[name_or_fn]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown initializer {name_or_fn!r}; expected one of {sorted(INITIALIZERS)} or a callable"
        ) from None


def from_saved(spec):
    """What a layer keeps of its ``kernel_initializer=`` argument: a saved ``{"class",
    "config"}`` made an ``Initializer`` again, anything else (a name, a callable) as given."""
    return get(spec) if isinstance(spec, dict) else spec
