"""``keras.initializers``: Keras's initializer classes, as minidl's initializers by name.

``HeNormal()`` *is* the string ``"he_normal"`` (a ``str`` subclass), so a layer given
``kernel_initializer=keras.initializers.HeNormal()`` saves and loads like one given the name;
called as Keras calls it, ``HeNormal()(shape, dtype)``, it draws an array (fans as Keras
computes them). Differences: ``*Normal`` draws from the plain normal (Keras truncates at two
standard deviations); ``seed=`` is accepted, but the numbers come from minidl's seeded stream
(``minidl.seed`` / ``keras.utils.set_random_seed``).
"""

from __future__ import annotations

import numpy as np

from ..nn import initializers as _init
from .missing import KerasFeatureMissing

__all__ = [
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "Orthogonal", "Zeros", "Ones", "RandomNormal", "RandomUniform", "get",
]  # fmt: skip


class _Named(str):
    """An initializer that is its minidl name."""

    minidl_name = ""

    def __new__(cls, seed=None, **unsupported):
        if unsupported:
            raise KerasFeatureMissing(
                f"keras.initializers.{cls.__name__}({', '.join(sorted(unsupported))}=...) is not in "
                "minidl.keras; the closest minidl way: a function fn(shape, fan_in, fan_out, dtype) "
                "as kernel_initializer"
            )
        return super().__new__(cls, cls.minidl_name)

    def __call__(self, shape, fan_in=None, fan_out=None, dtype=None):
        shape = tuple(int(d) for d in shape)
        if fan_in is None:
            from .custom import _fans

            fan_in, fan_out = _fans(shape)
        return _init.get(str(self))(shape, fan_in, fan_out, dtype=np.dtype(dtype or "float32"))


def _initializer(keras_name, minidl_name, defaults=None):
    def check(cls, seed=None, **given):
        for key, value in given.items():
            if key not in (defaults or {}) or value != defaults[key]:
                return _Named.__new__(cls, seed, **{key: value})
        return _Named.__new__(cls, seed)

    attributes = {
        "minidl_name": minidl_name,
        "__doc__": f"Keras's ``{keras_name}``: minidl's ``{minidl_name!r}``.",
    }
    if defaults:
        attributes["__new__"] = check
    return type(keras_name, (_Named,), attributes)


GlorotUniform = _initializer("GlorotUniform", "glorot_uniform")
GlorotNormal = _initializer("GlorotNormal", "glorot_normal")
HeUniform = _initializer("HeUniform", "he_uniform")
HeNormal = _initializer("HeNormal", "he_normal")
LecunUniform = _initializer("LecunUniform", "lecun_uniform")
LecunNormal = _initializer("LecunNormal", "lecun_normal")
Orthogonal = _initializer("Orthogonal", "orthogonal", {"gain": 1.0})
Zeros = _initializer("Zeros", "zeros")
Ones = _initializer("Ones", "ones")
RandomNormal = _initializer("RandomNormal", "random_normal", {"mean": 0.0, "stddev": 0.05})
RandomUniform = _initializer("RandomUniform", "random_uniform", {"minval": -0.05, "maxval": 0.05})


def get(identifier):
    """A name (``"he_normal"``) or an initializer, as a layer takes it."""
    return _init.get(identifier)


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.initializers.{name} is not in minidl.keras; it has {', '.join(__all__[:-1])}, "
        "or a function fn(shape, fan_in, fan_out, dtype)"
    )
