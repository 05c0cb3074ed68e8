"""``keras.initializers``: Keras 3's initializer classes, with their arguments and rules.

Each is a ``minidl.nn.initializers.Initializer`` (through this module's ``Initializer``, which
adds Keras's call): a layer of either door takes it as
``kernel_initializer=``/``bias_initializer=`` (it draws with the fans the layer gives, which
are Keras's), a custom layer's ``add_weight(initializer=)`` takes it, it is called as Keras
calls it, ``init(shape, dtype=None)`` (fans from ``shape`` as Keras computes them), and a
layer holding one saves it as ``{"class", "config"}`` and loads it back.

Keras's rules, kept: ``VarianceScaling`` and the named schemes (``GlorotNormal``,
``HeNormal``, ``LecunNormal``) draw from a normal truncated at two standard deviations with
the standard deviation divided by 0.8796 (so that the truncated draw has the variance the
scheme asks for), ``TruncatedNormal`` from the same truncation, ``fan`` at least 1; an
initializer draws the **same values at every call** (Keras's: "an initializer seeded with an
integer or None will produce the same random values across multiple calls"), so one object
given to two layers gives them the same weights. Difference: the numbers are NumPy's
(``numpy.random.default_rng(seed)``), not Keras's backend's; ``seed=None`` takes its seed
from minidl's stream when the initializer is made (``minidl.seed`` /
``keras.utils.set_random_seed`` make it repeatable). The strings (``"he_normal"``) remain
minidl's initializers (``minidl.nn.initializers``: plain normal, fresh values at each call).
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from minidl import backend
from minidl.nn import initializers as _init

from .missing import KerasFeatureMissing

__all__ = [
    "Initializer", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling",
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "Orthogonal", "Constant", "Zeros", "Ones", "Identity", "get", "serialize", "deserialize",
]  # fmt: skip


def fans(shape) -> tuple[int, int]:
    """Keras's fans of a weight of ``shape``: a vector's length twice; a matrix (in, out); a
    kernel (..., in, out) times its window (Keras's layout, channels before filters)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    window = math.prod(shape[:-2])
    return window * shape[-2], window * shape[-1]


def truncated_normal(std, shape, dtype, rng):
    """Draws from N(0, std^2) truncated to (-2 std, 2 std) with ``rng``: values outside are
    drawn again (so the standard deviation of the result is about 0.88 std)."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) >= 2.0
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) >= 2.0
    return (z * std).astype(dtype)


class Initializer(_init.Initializer):
    """Keras's initializer: called ``init(shape, fan_in, fan_out, dtype)`` as every minidl
    layer calls it, or ``init(shape, dtype=None)`` as Keras calls it (the fans then Keras's,
    ``fans(shape)``). A subclass defines ``draw(shape, fan_in, fan_out, dtype)``."""

    def __call__(self, shape, fan_in=None, fan_out=None, dtype=None):
        if (
            dtype is None
            and fan_out is None
            and fan_in is not None
            and not isinstance(fan_in, (int, np.integer))
        ):
            fan_in, dtype = None, fan_in  # Keras's positional order: init(shape, dtype)
        shape = tuple(int(d) for d in shape)
        if fan_in is None or fan_out is None:
            fan_in, fan_out = fans(shape)
        return self.draw(shape, fan_in, fan_out, np.dtype(dtype or "float32"))


class RandomInitializer(Initializer):
    """Keras's seeded initializers: ``seed`` an int, or None (a seed drawn from minidl's
    stream now); every call starts a generator from that seed, so it draws the same values."""

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"`seed` argument should be an integer or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._seed = self.seed if seed is not None else int(backend.rng().integers(2**31 - 1))

    def generator(self) -> np.random.Generator:
        return np.random.default_rng(self._seed)


class RandomNormal(RandomInitializer):
    """``N(mean, stddev^2)`` (Keras's defaults: mean 0, stddev 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def draw(self, shape, fan_in, fan_out, dtype):
        return (self.mean + self.stddev * self.generator().standard_normal(shape)).astype(dtype)


class TruncatedNormal(RandomInitializer):
    """``N(mean, stddev^2)`` with the values more than two ``stddev`` from the mean drawn again."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def draw(self, shape, fan_in, fan_out, dtype):
        z = truncated_normal(1.0, shape, np.float64, self.generator())
        return (self.mean + self.stddev * z).astype(dtype)


class RandomUniform(RandomInitializer):
    """``U(minval, maxval)`` (Keras's defaults: -0.05, 0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def draw(self, shape, fan_in, fan_out, dtype):
        return self.generator().uniform(self.minval, self.maxval, size=shape).astype(dtype)


class VarianceScaling(RandomInitializer):
    """``Var(W) = scale / n``, ``n = max(1, fan)`` the fan named by ``mode`` (``"fan_in"``,
    ``"fan_out"``, ``"fan_avg"``); ``distribution`` ``"truncated_normal"`` (``"normal"`` is
    its alias: std ``sqrt(scale / n) / 0.8796``, truncated at two of them),
    ``"untruncated_normal"`` or ``"uniform"`` (``U(-a, a)``, ``a = sqrt(3 scale / n)``)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, **axes):
        if any(value is not None for value in axes.values()):
            raise KerasFeatureMissing(
                f"keras.initializers.{type(self).__name__}(input_axes=, output_axes=) is not in "
                "minidl_keras: the fans come from the layer (Keras's for a standard kernel)"
            )
        if unknown := set(axes) - {"input_axes", "output_axes"}:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) {sorted(unknown)}")
        if not scale > 0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of fan_in, fan_out, fan_avg")
        distribution = distribution.lower()
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(
                f"Invalid `distribution` argument: {distribution}. Please use one of "
                "uniform, truncated_normal, untruncated_normal"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution
        super().__init__(seed)

    def get_config(self):
        return {**super().get_config(), "input_axes": None, "output_axes": None}

    def draw(self, shape, fan_in, fan_out, dtype):
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        rng = self.generator()
        if self.distribution == "truncated_normal":
            return truncated_normal(math.sqrt(scale) / 0.87962566103423978, shape, dtype, rng)
        if self.distribution == "untruncated_normal":
            return (math.sqrt(scale) * rng.standard_normal(shape)).astype(dtype)
        limit = math.sqrt(3.0 * scale)
        return rng.uniform(-limit, limit, size=shape).astype(dtype)


def _scheme(name, scale, mode, distribution, formula):
    """A named VarianceScaling (``GlorotUniform(seed=None)``): only ``seed`` is its own."""

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(
            self, scale, mode, distribution, seed, input_axes=input_axes, output_axes=output_axes
        )

    def get_config(self):
        return {"seed": self.seed, "input_axes": None, "output_axes": None}

    return type(
        name,
        (VarianceScaling,),
        {"__init__": __init__, "get_config": get_config, "__doc__": f"Keras's ``{name}``: {formula}."},
    )


GlorotUniform = _scheme(
    "GlorotUniform", 1.0, "fan_avg", "uniform", "U(-a, a), a = sqrt(6 / (fan_in + fan_out))"
)
GlorotNormal = _scheme(
    "GlorotNormal", 1.0, "fan_avg", "truncated_normal", "std sqrt(2 / (fan_in + fan_out)), truncated"
)
HeUniform = _scheme("HeUniform", 2.0, "fan_in", "uniform", "U(-a, a), a = sqrt(6 / fan_in)")
HeNormal = _scheme("HeNormal", 2.0, "fan_in", "truncated_normal", "std sqrt(2 / fan_in), truncated")
LecunUniform = _scheme("LecunUniform", 1.0, "fan_in", "uniform", "U(-a, a), a = sqrt(3 / fan_in)")
LecunNormal = _scheme("LecunNormal", 1.0, "fan_in", "truncated_normal", "std sqrt(1 / fan_in), truncated")


class Orthogonal(RandomInitializer):
    """``gain`` times a random orthogonal matrix (QR of a normal draw, signs of R's diagonal).
    Called as Keras calls it, the weight is a matrix of its last axis (the outputs) against the
    others, as in Keras; drawn by a minidl layer (which gives its fans), minidl's layouts put the
    outputs of a convolution kernel (F, C, KH, KW) first, so its F filters are the orthonormal
    set, the same matrix laid out another way."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, fan_in=None, fan_out=None, dtype=None):
        shape = tuple(int(d) for d in shape)
        if fan_out is None and len(shape) > 2:  # Keras's call on Keras's layout (..., outputs)
            dtype = fan_in if dtype is None else dtype
            outputs_first = self.draw((shape[-1], *shape[:-1]), None, None, np.dtype(dtype or "float32"))
            return np.ascontiguousarray(np.moveaxis(outputs_first, 0, -1))
        return super().__call__(shape, fan_in, fan_out, dtype)

    def draw(self, shape, fan_in, fan_out, dtype):
        if len(shape) < 2:
            raise ValueError(
                f"The tensor to initialize must be at least two-dimensional. Received: shape={shape} "
                f"of rank {len(shape)}."
            )
        return _init.orthogonal(shape, dtype=dtype, gain=self.gain, rng=self.generator())


class Constant(Initializer):
    """Every entry ``value``."""

    def __init__(self, value=0.0):
        self.value = value

    def draw(self, shape, fan_in, fan_out, dtype):
        return np.full(shape, self.value, dtype=dtype)


class Zeros(Initializer):
    """Every entry 0."""

    def draw(self, shape, fan_in, fan_out, dtype):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    """Every entry 1."""

    def draw(self, shape, fan_in, fan_out, dtype):
        return np.ones(shape, dtype=dtype)


class Identity(Initializer):
    """``gain`` times the identity matrix (a 2-D weight only)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def draw(self, shape, fan_in, fan_out, dtype):
        if len(shape) != 2:
            raise ValueError(
                f"Identity matrix initializer can only be used for 2D matrices. Received: shape={shape}"
            )
        return (self.gain * np.eye(*shape)).astype(dtype)


_BY_NAME = {
    **{cls.__name__: cls for cls in (
        RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal,
        HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal, Constant, Zeros, Ones, Identity)},
}  # fmt: skip


def get(identifier):
    """Keras's ``keras.initializers.get``: an ``Initializer`` passes through; a class name
    (``"HeNormal"``) gives that class with its defaults; Keras's serialized dict
    (``{"class_name", "config"}``) that initializer; a minidl name (``"he_normal"``) or a
    function gives minidl's initializer, as a layer takes it; ``{"class", "config"}`` a saved one."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if is_serialized(identifier):
        return deserialize(identifier)
    return _init.get(identifier)


#: minidl's initializer names (``minidl.nn.initializers.INITIALIZERS``) as Keras's class names
_CLASS_OF_NAME = {
    "glorot_uniform": "GlorotUniform",
    "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform",
    "he_normal": "HeNormal",
    "lecun_uniform": "LecunUniform",
    "lecun_normal": "LecunNormal",
    "orthogonal": "Orthogonal",
    "normal": "RandomNormal",
    "random_normal": "RandomNormal",
    "random_uniform": "RandomUniform",
    "zeros": "Zeros",
    "ones": "Ones",
}


def _envelope(class_name: str, config: dict) -> dict:
    return {
        "module": "keras.initializers",
        "class_name": class_name,
        "config": config,
        "registered_name": None,
    }


def _default_config(cls) -> dict:
    """The config of ``cls()`` without making one (a seedless one would draw from minidl's stream)."""
    init = cls.__init__
    if init is object.__init__:
        return {}
    return {
        name: p.default
        for name, p in inspect.signature(init).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def serialize(initializer):
    """Keras's ``keras.initializers.serialize``: ``{"module", "class_name", "config",
    "registered_name"}`` -- of one of this module's initializers, or of a minidl name
    (``"glorot_uniform"``: Keras's ``GlorotUniform`` with its defaults, as Keras's layers show
    the string they were given). Anything else (a function, minidl's own objects) as it is."""
    if isinstance(initializer, Initializer):
        return _envelope(type(initializer).__name__, initializer.get_config())
    if isinstance(initializer, str) and initializer in _CLASS_OF_NAME:
        name = _CLASS_OF_NAME[initializer]
        return _envelope(name, _default_config(_BY_NAME[name]))
    return initializer


def is_serialized(value) -> bool:
    """Whether ``value`` is Keras's serialized initializer (a dict with ``class_name``)."""
    return isinstance(value, dict) and "class_name" in value


def deserialize(config: dict) -> Initializer:
    """Keras's ``keras.initializers.deserialize``: the initializer ``serialize`` described."""
    cls = _BY_NAME.get(str(config.get("class_name")))
    if cls is None:
        raise ValueError(
            f"unknown initializer class {config.get('class_name')!r}; minidl_keras has {', '.join(sorted(_BY_NAME))}"
        )
    return cls.from_config(dict(config.get("config") or {}))


def serialized_config(config: dict) -> dict:
    """A layer's ``get_config()`` with each ``*_initializer`` entry as Keras shows it (``serialize``)."""
    return {key: serialize(value) if key.endswith("initializer") else value for key, value in config.items()}


def deserialized_config(config: dict) -> dict:
    """The inverse of ``serialized_config``: each Keras-serialized initializer made again."""
    return {
        key: deserialize(value) if key.endswith("initializer") and is_serialized(value) else value
        for key, value in config.items()
    }


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.initializers.{name} is not in minidl_keras; it has {', '.join(__all__[:-3])}, "
        "or a function fn(shape, fan_in, fan_out, dtype)"
    )
