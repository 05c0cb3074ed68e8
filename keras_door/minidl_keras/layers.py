"""``keras.layers``: minidl's layers under Keras 3's names, signatures and defaults.

Layers whose Keras defaults are minidl's are minidl's classes themselves (``Dropout``,
``Flatten``, ...), or subclasses that add Keras's options (``LSTM``'s masks, dropout and
``return_state``: ``recurrent.py``). The others are made by a function of the Keras name that
fills in Keras's defaults and returns the minidl layer -- no second implementation:

* image and sequence layers (Conv2D, MaxPooling2D, Conv1D, ...) take Keras's ``data_format``
  (``keras.config.image_data_format()``, channels-last unless changed: ``layout.py`` turns
  the layout at their edges) and ``strides=``;
* ``BatchNormalization(momentum=0.99, epsilon=0.001, axis=-1)``;
* ``LayerNormalization(epsilon=0.001)``; ``LeakyReLU(negative_slope=0.3)``.

Their classes have Keras's names (``type(layer).__name__`` is ``"BatchNormalization"``,
``"MaxPooling2D"``) and save under minidl's (``MaxPool2D``, ``BatchNorm``).

Layers with Keras's own call or data (no minidl class of that name) live in their modules:
``MultiHeadAttention`` (chapter 13's, with Keras's call and weight layout) and ``Attention``
(``attention.py``), ``TextVectorization`` (``text.py``), ``Normalization``
(``normalization.py``), ``RandomFlip``, ``RandomTranslation``, ``RandomRotation``,
``RandomZoom``, ``RandomContrast`` (``augmentation.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from minidl import backend
from minidl.nn import layers as _L
from minidl.nn.layers.affine import AffineLayer

from . import conv1d, merging, noise, pooling, reshaping, separable
from .affine import KerasAffineOptions, with_keras_options
from .attention import Attention, MultiHeadAttention
from .augmentation import RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from .constraints import with_keras_constraints
from .custom import Lambda, Layer
from .elementwise import Activation, Rescaling
from .functional import Input, InputLayer
from .keras_config import KERAS_CLASS_NAMES
from .layout import channels_last_class, minidl_layout
from .masking import Masking
from .merging import *  # noqa: F403  (the names in merging.__all__)
from .missing import KerasFeatureMissing, feature_missing
from .naming import name_layer
from .noise import *  # noqa: F403  (the names in noise.__all__)
from .normalization import Normalization
from .pooling import GlobalMaxPooling1D, GlobalMaxPooling2D, ZeroPadding2D
from .preprocessing import CategoryEncoding, Discretization
from .recurrent import GRU, LSTM, SimpleRNN
from .reshaping import *  # noqa: F403  (the names in reshaping.__all__)
from .text import TextVectorization
from .weights import KerasNames, keras_names
from .wrappers import Bidirectional, TimeDistributed

__all__ = [
    "MultiHeadAttention",
    "Attention",
    "Normalization",
    "CategoryEncoding",
    "Discretization",
    "TextVectorization",
    "RandomFlip",
    "RandomTranslation",
    "RandomRotation",
    "RandomZoom",
    "RandomContrast",
    "Layer",
    "Lambda",
    "Input",
    *merging.__all__,  # Add, ..., Dot and add, ..., dot: listed once, in merging.py
    *noise.__all__,
    *reshaping.__all__,
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "ZeroPadding2D",
    "Bidirectional",
    "TimeDistributed",
    "Masking",
    "ELU",
    "InputLayer",
    "Dense",
    "Activation",
    "Dropout",
    "Flatten",
    "Reshape",
    "Embedding",
    "SimpleRNN",
    "LSTM",
    "GRU",
    "ReLU",
    "Softmax",
    "LeakyReLU",
    "Rescaling",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "UpSampling2D",
    "BatchNormalization",
    "LayerNormalization",
    "MaxPool1D",
    "MaxPool2D",
    "AvgPool1D",
    "AvgPool2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
]

# minidl's classes (their defaults are Keras's already) with Keras's Layer API
# (``KerasLayerAPI``: get_weights, input/output, ...), saved under minidl's names

# minidl's classes with Keras's names for their weights (``layer.kernel``, ``minidl_keras.weights``);
# they save as minidl's and a loaded model gets them back (``as_keras_layer``)
_KERNEL_AND_BIAS = {"kernel": ("params", "W"), "bias": ("params", "b")}


@keras_names(_L.Dense, **_KERNEL_AND_BIAS)
@with_keras_options
class Dense(KerasNames, KerasAffineOptions, _L.Dense, register=False):
    """Keras's ``Dense``: minidl's ``Dense`` with ``layer.kernel`` (in, units) and ``layer.bias``,
    and Keras's options minidl's lacks (``bias_initializer``, ``bias_regularizer``,
    ``activity_regularizer``, ``kernel_constraint``, ``bias_constraint``: ``minidl_keras.affine``)."""


def _with_keras_names(base: type, doc: str, **names: tuple[str, str]) -> type:
    """A subclass of minidl's ``base`` that adds Keras's ``names`` for its weights (as
    ``keras_names`` takes them) and, for an affine layer, Keras's options (``minidl_keras.affine``);
    it prints as ``base`` and saves as it."""
    affine = issubclass(base, AffineLayer)
    bases = (KerasNames, KerasAffineOptions, base) if affine else (KerasNames, base)
    cls = type(base.__name__, bases, {"__doc__": doc, "__module__": __name__}, register=False)
    return keras_names(base, **names)(with_keras_options(cls) if affine else cls)


_Conv1D = _with_keras_names(
    conv1d.Conv1D,
    "minidl's ``Conv1D`` with ``layer.kernel`` (K, C, F) and ``layer.bias``.",
    **_KERNEL_AND_BIAS,
)
_Conv2D = _with_keras_names(
    _L.Conv2D,
    "minidl's ``Conv2D`` with ``layer.kernel`` (KH, KW, C, F) and ``layer.bias``.",
    **_KERNEL_AND_BIAS,
)
_Conv2DTranspose = _with_keras_names(
    _L.Conv2DTranspose,
    "minidl's ``Conv2DTranspose`` with ``layer.kernel`` (KH, KW, F, C) and ``layer.bias``.",
    **_KERNEL_AND_BIAS,
)
_Embedding = _with_keras_names(
    _L.Embedding, "minidl's ``Embedding`` with ``layer.embeddings`` (V, D).", embeddings=("params", "W")
)
_BatchNorm = _with_keras_names(
    _L.BatchNorm,
    "minidl's ``BatchNorm`` with ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``.",
    gamma=("params", "gamma"),
    beta=("params", "beta"),
    moving_mean=("buffers", "running_mean"),
    moving_variance=("buffers", "running_var"),
)
_DepthwiseConv2D = _with_keras_names(
    separable.DepthwiseConv2D,
    "minidl's ``DepthwiseConv2D`` with ``layer.depthwise_kernel`` (KH, KW, C, M) and ``layer.bias``.",
    depthwise_kernel=("params", "W"),
    bias=("params", "b"),
)
_DepthwiseConv2D.keras_weights = {  # type: ignore[attr-defined]
    "kernel": ("params", "W"),  # Keras 3.15's name; depthwise_kernel, Keras's older one, stays
    **_DepthwiseConv2D.keras_weights,  # type: ignore[attr-defined]
}
_SeparableConv2D = _with_keras_names(
    separable.SeparableConv2D,
    "minidl's ``SeparableConv2D`` with ``depthwise_kernel`` (KH, KW, C, M), ``pointwise_kernel`` "
    "(1, 1, C*M, F) and ``bias``.",
    depthwise_kernel=("params", "depthwise.W"),
    pointwise_kernel=("params", "pointwise.W"),
    bias=("params", "pointwise.b"),
)
# in Keras's layout (``layout.py``); Keras's positional data_format follows the padding of
# DepthwiseConv2D (kernel_size, strides, padding, depth_multiplier, data_format) and
# SeparableConv2D (filters, kernel_size, strides, padding, data_format)
_Conv1D, _Conv2D, _Conv2DTranspose, _BatchNorm = (
    channels_last_class(c) for c in (_Conv1D, _Conv2D, _Conv2DTranspose, _BatchNorm)
)
_DepthwiseConv2D = channels_last_class(_DepthwiseConv2D, data_format_at=4)
_SeparableConv2D = channels_last_class(_SeparableConv2D, data_format_at=4)


def _keras_class_name(cls: type, keras_name: str) -> type:
    """Give the door's class ``cls`` Keras's name (``type(layer).__name__`` is
    ``"BatchNormalization"``, ``"GlobalAveragePooling1D"``, as programs test it); a minidl class
    keeps its own. The class still saves as minidl's class it extends (``register=False``)."""
    original = cls.__name__
    for door_class in cls.__mro__:  # the class and the door's classes under it of that name
        door = door_class.__module__.startswith("minidl_keras.") and not minidl_layout(door_class)
        if door and door_class.__name__ == original:
            door_class.__name__ = door_class.__qualname__ = keras_name
    return cls


class _LayerName:
    """A Keras layer name whose layer is made by a function: ``Conv2D(32, 3)`` calls ``make``,
    which returns a ``layer_class`` (``minidl.nn.layers.Conv2D``) with this namespace's defaults."""

    def __init__(
        self, make: Callable[..., _L.Layer], layer_class: type[_L.Layer], name: str, doc: str | None
    ):
        self.make = make
        self.layer_class = layer_class
        self.__name__ = self.__qualname__ = name
        self.__doc__ = doc
        self.__wrapped__ = make  # inspect.signature and help() show make's arguments

    def __call__(self, *args, **kwargs) -> _L.Layer:
        return name_layer(self.make(*args, **kwargs), self.__name__)  # Keras's name, as it is made

    def __instancecheck__(self, obj) -> bool:
        """``isinstance(layer, layers.BatchNormalization)``: a layer of minidl's class behind
        this name (``minidl.nn.layers.BatchNorm``), as Keras's fine-tuning examples test."""
        return isinstance(obj, self.layer_class)

    def __subclasscheck__(self, cls) -> bool:
        return isinstance(cls, type) and issubclass(cls, self.layer_class)

    def __mro_entries__(self, bases):
        raise NotImplementedError(
            f"class ...(keras.layers.{self.__name__}) is not in minidl_keras: "
            f"keras.layers.{self.__name__} makes a minidl.nn.layers.{self.layer_class.__name__} with "
            f"Keras's defaults; subclass minidl.nn.layers.{self.layer_class.__name__} (its forward and "
            "backward), or keras.layers.Layer holding one"
        )

    def __repr__(self) -> str:
        return f"<keras.layers.{self.__name__}: makes a minidl.nn.layers.{self.layer_class.__name__}>"


def _embedding(input_dim, output_dim, mask_zero: bool = False, **kwargs) -> _L.Embedding:
    """Keras's ``Embedding``: ``minidl.nn.layers.Embedding``; with ``mask_zero=True`` id 0 is
    padding and the layers after it get Keras's mask (``minidl_keras.masking``)."""
    return _Embedding(input_dim, output_dim, mask_zero=mask_zero, **kwargs)


Embedding = _LayerName(_embedding, _L.Embedding, "Embedding", _embedding.__doc__)
_Dropout, Flatten, Reshape, ReLU, Softmax, ELU = (
    _with_keras_names(base, base.__doc__ or "")
    for base in (_L.Dropout, _L.Flatten, _L.Reshape, _L.ReLU, _L.Softmax, _L.ELU)
)


@keras_names(_L.Dropout)
class Dropout(_Dropout, register=False):  # type: ignore[valid-type,misc,call-arg]
    """Keras's ``Dropout(rate, noise_shape=None, seed=None)``: minidl's ``Dropout``; with
    ``seed`` its masks come from a generator of its own (``np.random.default_rng(seed)``), so
    they repeat from run to run whatever else draws random numbers, as Keras's seeded layer's
    do (NumPy's numbers, not Keras's). ``noise_shape`` other than None is refused."""

    def __init__(self, rate, noise_shape=None, seed=None, name=None, **kwargs):
        if noise_shape is not None:
            raise KerasFeatureMissing(
                f"keras.layers.Dropout(noise_shape={noise_shape!r}) is not in minidl_keras: it drops each "
                "value on its own; SpatialDropout1D/2D drop whole channels"
            )
        super().__init__(rate, name=name, **kwargs)
        self.noise_shape, self.seed = None, seed
        self.generator = None if seed is None else np.random.default_rng(seed)

    def forward(self, x, training=False):
        if self.generator is None or not training or self.rate == 0.0:
            return super().forward(x, training)
        x = self.check_input(x)
        uniform = backend.to_device(self.generator.random(x.shape, dtype=np.float32), backend.device_of(x))
        y, self.cache = backend.kernels_for(x).dropout_forward(x, uniform, self.rate)
        return y


_LayerNorm, _LeakyReLU = (
    _with_keras_names(base, base.__doc__ or "") for base in (_L.LayerNorm, _L.LeakyReLU)
)
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D


def _channels_last_by_default(cls: type[_L.Layer], keras_name: str) -> _LayerName:
    """The door's ``cls`` (``layout.channels_last_class``), whose ``data_format`` defaults to
    this namespace's setting (channels-last)."""

    @functools.wraps(cls, assigned=("__doc__",), updated=())
    def make(*args, data_format=None, **kwargs):
        kwargs = with_keras_constraints(kwargs)  # Keras's "max_norm", ...: minidl's layers know class names
        if data_format is not None:
            kwargs["data_format"] = data_format
        return cls(*args, **kwargs)

    doc = (
        f"Keras's ``{keras_name}``: a ``{_minidl_class(cls).__module__}.{cls.__name__}`` (with Keras's weight names "
        f"where it has weights) whose ``data_format`` "
        f"defaults to ``keras.config.image_data_format()`` (channels-last).\n\n" + (cls.__doc__ or "")
    )
    return _LayerName(make, _minidl_class(_keras_class_name(cls, keras_name)), keras_name, doc)


def _minidl_class(cls: type) -> type:
    """minidl's class under a door's class (``_Conv2D`` -> ``minidl.nn.layers.Conv2D``)."""
    return next(c for c in cls.__mro__ if minidl_layout(c))


Conv1D = _channels_last_by_default(_Conv1D, "Conv1D")
Conv2D = _channels_last_by_default(_Conv2D, "Conv2D")
Conv2DTranspose = _channels_last_by_default(_Conv2DTranspose, "Conv2DTranspose")
DepthwiseConv2D = _channels_last_by_default(_DepthwiseConv2D, "DepthwiseConv2D")
SeparableConv2D = _channels_last_by_default(_SeparableConv2D, "SeparableConv2D")
MaxPooling1D = MaxPool1D = _channels_last_by_default(pooling.MaxPool1D, "MaxPooling1D")
MaxPooling2D = MaxPool2D = _channels_last_by_default(pooling.MaxPool2D, "MaxPooling2D")
AveragePooling1D = AvgPool1D = _channels_last_by_default(pooling.AvgPool1D, "AveragePooling1D")
AveragePooling2D = AvgPool2D = _channels_last_by_default(pooling.AvgPool2D, "AveragePooling2D")
GlobalAveragePooling1D = GlobalAvgPool1D = _channels_last_by_default(
    pooling.GlobalAvgPool1D, "GlobalAveragePooling1D"
)
GlobalAveragePooling2D = GlobalAvgPool2D = _channels_last_by_default(
    pooling.GlobalAvgPool2D, "GlobalAveragePooling2D"
)
UpSampling2D = _channels_last_by_default(pooling.UpSampling2D, "UpSampling2D")


def _batch_normalization(
    axis=-1, momentum: float = 0.99, epsilon: float = 0.001, center: bool = True, scale: bool = True, **kwargs
) -> _L.BatchNorm:
    """Keras's ``BatchNormalization``: a ``minidl.nn.layers.BatchNorm`` with Keras's defaults
    (momentum 0.99, epsilon 0.001). ``axis=-1`` (the channels last) or ``axis=1`` (first)
    sets the ``data_format`` of image inputs; (N, D) features normalise over N either way.
    Keras's ``momentum`` means minidl's: ``running = momentum * running + (1 - momentum) * batch``,
    and the moving variance follows the biased batch variance, as Keras's does.
    """
    if axis in (-1, 3):
        data_format = "channels_last"
    elif axis == 1:
        data_format = "channels_first"
    else:
        raise ValueError(
            f"BatchNormalization axis must be -1 (channels last) or 1 (channels first), got {axis!r}"
        )
    if not (center and scale):
        raise ValueError(
            "BatchNormalization: minidl's BatchNorm always learns gamma and beta (center=True, scale=True)"
        )
    return _BatchNorm(
        momentum=momentum, eps=epsilon, data_format=data_format, unbiased_running_var=False, **kwargs
    )


_keras_class_name(_BatchNorm, "BatchNormalization")
BatchNormalization = _LayerName(
    _batch_normalization, _L.BatchNorm, "BatchNormalization", _batch_normalization.__doc__
)


def _layer_normalization(axis=-1, epsilon: float = 0.001, **kwargs) -> _L.LayerNorm:
    """Keras's ``LayerNormalization``: a ``minidl.nn.layers.LayerNorm`` over the last axis with
    Keras's epsilon 0.001."""
    if axis != -1:
        raise ValueError(f"LayerNormalization normalises the last axis only (axis=-1), got axis={axis!r}")
    return _LayerNorm(eps=epsilon, **kwargs)


_keras_class_name(_LayerNorm, "LayerNormalization")
LayerNormalization = _LayerName(
    _layer_normalization, _L.LayerNorm, "LayerNormalization", _layer_normalization.__doc__
)


def _leaky_relu(negative_slope: float = 0.3, **kwargs) -> _L.LeakyReLU:
    """Keras's ``LeakyReLU`` (slope 0.3 below zero by default; minidl's and PyTorch's is 0.01)."""
    if "alpha" in kwargs:  # Keras 2's name
        negative_slope = kwargs.pop("alpha")
    return _LeakyReLU(alpha=negative_slope, **kwargs)


_keras_class_name(_LeakyReLU, "LeakyReLU")
LeakyReLU = _LayerName(_leaky_relu, _L.LeakyReLU, "LeakyReLU", _leaky_relu.__doc__)


for _name in __all__:  # Keras's class names (the long ones come before aliases: MaxPool2D)
    _made = globals().get(_name)
    _class = getattr(_made, "layer_class", _made)
    if isinstance(_class, type):
        KERAS_CLASS_NAMES.setdefault(_class, _name)

_ABSENT = {
    "AdditiveAttention": "chapter 'attention' writes dot-product attention by hand; "
    "keras.layers.Attention (score_mode='dot') and MultiHeadAttention are here",
    "RandomBrightness": "RandomFlip, RandomTranslation, RandomRotation, RandomZoom and RandomContrast "
    "are here; or augment the NumPy arrays before fit (minidl.training.augmentation)",
}


def __getattr__(name: str):
    raise feature_missing(
        f"keras.layers.{name}", _ABSENT.get(name, f"its layers are {', '.join(sorted(__all__))}")
    )
