"""Weight initialisers: how the first weights are drawn.

A layer's output variance is ``fan_in * Var(W) * Var(x)``; the schemes below choose
``Var(W)`` so that signals (and gradients) keep their scale from layer to layer.

    glorot_uniform   U(-a, a), a = sqrt(6 / (fan_in + fan_out))      (tanh / sigmoid / linear)
    glorot_normal    N(0, 2 / (fan_in + fan_out))
    he_uniform       U(-a, a), a = sqrt(6 / fan_in)                  (ReLU halves the variance)
    he_normal        N(0, 2 / fan_in)
    normal           N(0, 0.05^2)  (Keras's RandomNormal default)
    zeros, ones

Every initialiser is called as ``init(shape, fan_in, fan_out, dtype)`` and draws from
``minidl.backend.rng()``, so ``minidl.seed`` makes it repeatable.
"""
import numpy as np

from .. import backend


def glorot_uniform(shape, fan_in, fan_out, dtype=np.float32):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return backend.rng().uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, fan_in, fan_out, dtype=np.float32):
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (backend.rng().standard_normal(shape) * std).astype(dtype)


def he_uniform(shape, fan_in, fan_out, dtype=np.float32):
    limit = np.sqrt(6.0 / fan_in)
    return backend.rng().uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, fan_in, fan_out, dtype=np.float32):
    std = np.sqrt(2.0 / fan_in)
    return (backend.rng().standard_normal(shape) * std).astype(dtype)


def normal(shape, fan_in, fan_out, dtype=np.float32, std=0.05):
    return (backend.rng().standard_normal(shape) * std).astype(dtype)


def zeros(shape, fan_in=None, fan_out=None, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def ones(shape, fan_in=None, fan_out=None, dtype=np.float32):
    return np.ones(shape, dtype=dtype)


INITIALIZERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal,
                                         normal, zeros, ones)}


def get(name_or_fn):
    """Look an initialiser up by name (``"he_normal"``), or pass a callable through."""
    if callable(name_or_fn):
        return name_or_fn
    try:
        return INITIALIZERS[name_or_fn]
    except (KeyError, TypeError):
        raise ValueError(f"unknown initializer {name_or_fn!r}; "
                         f"expected one of {sorted(INITIALIZERS)} or a callable") from None
