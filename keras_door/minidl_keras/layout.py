"""Keras's channels-last layout at the door: (N, H, W, C) images and (N, L, C) sequences.

minidl's image and sequence layers take (N, C, H, W) and (N, C, L) only, the layout of the
kernels (and PyTorch's). ``channels_last_class(Conv2D)`` makes the door's class for one of
them: a subclass that takes Keras's ``data_format`` (``None``: ``keras.config.image_data_format()``,
channels-last unless changed) and Keras's ``strides=``, and that with ``"channels_last"``

* transposes the input (N, H, W, C) -> (N, C, H, W) on the way in, runs minidl's ``forward``,
  and transposes the output back (a 2-D output such as GlobalAvgPool2D's (N, C) passes as it
  is); ``backward`` (and Conv2D's ``backward_params``) do the same to the gradient;
* takes and gives per-sample shapes as (H, W, C) (``build``, ``output_shape``,
  ``output_shape_for``), while ``input_shape`` stays the layer's own (C, H, W);
* runs a ``softmax`` activation along the channels, Keras's last axis.

The weights keep minidl's layout ((F, C, KH, KW) for a Conv2D); ``minidl_keras.weights``
gives Keras's. The class prints and saves under minidl's name with ``data_format`` in its
configuration, and a file loads back into the door's class (``door_class``).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from minidl import backend
from minidl.nn.layers.activations import Softmax
from minidl.nn.layers.base import Layer

from . import config
from .weights import KerasLayerAPI

__all__ = ["DATA_FORMATS", "check_data_format", "channels_last_class", "door_class", "inside", "outside"]

DATA_FORMATS = ("channels_first", "channels_last")

#: minidl's class -> the door's class made from it (``door_class``): channels-last here, Keras's
#: recurrent options in ``recurrent.py``
DOOR_CLASSES: dict[type, type] = {}


_LAYER_ARGUMENTS = ("input_shape", "input_dim", "trainable")


def check_data_format(data_format, who: str):
    """``data_format`` if it is None, ``"channels_first"`` or ``"channels_last"``, else a clear error."""
    if data_format is not None and data_format not in DATA_FORMATS:
        raise ValueError(
            f"{who} data_format must be 'channels_first' (N, C, H, W) or "
            f"'channels_last' (N, H, W, C), got {data_format!r}"
        )
    return data_format


def _moved_first(x, rank: int):
    """(N, ..., C) -> (N, C, ...) for a batch of ``rank`` axes; any other batch unchanged."""
    if x is None or x.ndim != rank:
        return x
    return backend.get_array_module(x).ascontiguousarray(np.moveaxis(x, -1, 1))


def _moved_last(y, rank: int):
    """(N, C, ...) -> (N, ..., C) for a batch of ``rank`` axes; any other batch unchanged."""
    if y is None or y.ndim != rank:
        return y
    return backend.get_array_module(y).ascontiguousarray(np.moveaxis(y, 1, -1))


class ChannelsLast(KerasLayerAPI, Layer, register=False):
    """The mixin ``channels_last_class`` puts before minidl's class (see the module's docstring)."""

    data_format = "channels_last"
    #: the spatial axes of the layer's input: 2 for images, 1 for sequences
    spatial_rank = 2

    def _take_data_format(self, data_format) -> None:
        self.data_format = check_data_format(data_format, type(self).__name__) or config.image_data_format()
        if self.channels_last:
            self.input_layout = self.input_layout.replace("(N, C, H, W)", "(N, H, W, C)").replace(
                "(N, C, L)", "(N, L, C)"
            )
            activation = getattr(self, "activation_layer", None)
            if isinstance(activation, Softmax):
                activation.axis = 1  # the channels: the output's last axis outside

    @property
    def channels_last(self) -> bool:
        return self.data_format == "channels_last"

    def get_config(self) -> dict:
        """The layer's arguments; a sequence layer's window as Keras shows it, a 1-tuple
        (``kernel_size=(3,)``; minidl's 1-D layers take either)."""
        config = super().get_config()
        if self.spatial_rank == 1:
            for key in ("kernel_size", "pool_size"):
                if isinstance(config.get(key), (int, np.integer)):
                    config[key] = (int(config[key]),)
        return config

    def inside(self, shape) -> tuple:
        """A per-sample shape as minidl's layer takes it: (H, W, C) -> (C, H, W) when channels-last."""
        shape = tuple(shape)
        if self.channels_last and len(shape) == self.spatial_rank + 1:
            return (shape[-1], *shape[:-1])
        return shape

    def outside(self, shape) -> tuple:
        """The inverse of ``inside``: (C, H, W) -> (H, W, C) when channels-last."""
        shape = tuple(shape)
        if self.channels_last and len(shape) == self.spatial_rank + 1:
            return (*shape[1:], shape[0])
        return shape

    # ------------------------------------------------------------------ shapes
    def build(self, input_shape, dtype=np.float32):
        super().build(self.inside(input_shape), dtype)

    @property
    def output_shape(self):
        shape = super().output_shape
        return None if shape is None else self.outside(shape)

    def output_shape_for(self, input_shape):
        return self.outside(super().output_shape_for(self.inside(input_shape)))

    def shape_hint(self, shape) -> str:
        if not self.channels_last:
            return super().shape_hint(shape)  # type: ignore[misc]
        if len(shape) != 3 or None in shape or not min(shape[1:]) <= 4 < max(shape[1:]):
            return ""
        return (
            "; an image this thin usually means channels-first images (N, C, H, W) fed to a "
            "channels-last layer: use data_format='channels_first' or x.transpose(0, 2, 3, 1)"
        )

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False, **kwargs):
        if not self.channels_last:
            return super().forward(x, training, **kwargs)
        if not hasattr(x, "ndim"):
            x = np.asarray(x, dtype=np.float32)
        if not self.built:
            self.check_input(x)  # checks the rank, builds from the per-sample (H, W, C)
        elif self.params and self.input_mismatch(self.inside(x.shape[1:])):
            raise ValueError(
                f"{self.label} was built for inputs (N, "
                f"{', '.join(map(str, self.outside(self.input_shape)))}), got shape "
                f"{tuple(x.shape)}{self._swapped_hint(tuple(x.shape))}"
            )
        rank = self.spatial_rank + 2
        return _moved_last(super().forward(_moved_first(x, rank), training, **kwargs), rank)

    def _swapped_hint(self, got: tuple) -> str:
        built = self.input_shape or ()
        if len(got) == 4 and len(built) == 3 and tuple(got[1:]) == tuple(built):
            return (
                "; the images look channels-first (N, C, H, W): use data_format='channels_first' "
                "or x.transpose(0, 2, 3, 1)"
            )
        return ""

    def backward(self, dy):
        if not self.channels_last:
            return super().backward(dy)
        rank = self.spatial_rank + 2
        return _moved_last(super().backward(_moved_first(dy, rank)), rank)


def _backward_params(self, dy) -> None:
    """minidl's ``backward_params`` (the weights' gradients only), given dy in the layer's format."""
    first = _moved_first(dy, self.spatial_rank + 2) if self.channels_last else dy
    super(ChannelsLast, self).backward_params(first)


#: the door's own layers in minidl's layout (Conv1D and its pools, the depthwise convolutions: no
#: chapter uses them, so they live in the door, not in minidl); treated as minidl's classes are
MINIDL_LAYOUT_MODULES = ("minidl_keras.conv1d", "minidl_keras.separable")


def minidl_layout(cls: type) -> bool:
    """Whether ``cls`` is a layer class in minidl's layout, not a door's twin of one: minidl's
    own, or a class of ``MINIDL_LAYOUT_MODULES``."""
    return cls.__module__.split(".")[0] == "minidl" or cls.__module__ in MINIDL_LAYOUT_MODULES


def channels_last_class(base: type, data_format_at: int | None = None) -> type:
    """The door's class for minidl's image or sequence layer ``base`` (``ChannelsLast`` first).

    Its constructor is ``base``'s with Keras's ``data_format`` (keyword-only, or the positional
    argument at ``data_format_at``, where Keras's order has it) and Keras's ``strides=`` for
    ``stride``; its signature (what ``get_config``, ``help`` and error messages read) says so.
    """

    def __init__(self, *args, data_format=None, **kwargs) -> None:
        if data_format_at is not None and len(args) > data_format_at:
            data_format, args = args[data_format_at], args[:data_format_at] + args[data_format_at + 1 :]
        if "strides" in kwargs:
            if kwargs.get("stride") not in (None, 1):
                raise ValueError(f"{type(self).__name__}: give stride or strides (Keras's name), not both")
            kwargs["stride"] = kwargs.pop("strides")
        base.__init__(self, *args, **kwargs)  # type: ignore[misc]
        self._take_data_format(data_format)

    signature = inspect.signature(base.__init__)  # type: ignore[misc]
    parameters = [  # (``Layer``'s own arguments, not a layer's configuration, pass in ``**kwargs``)
        p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD and p.name not in _LAYER_ARGUMENTS
    ]
    given = inspect.Parameter("data_format", inspect.Parameter.KEYWORD_ONLY, default=None)
    if data_format_at is not None:  # after ``self``
        given = given.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
        parameters.insert(data_format_at + 1, given)
    else:
        parameters.insert(
            next((i for i, p in enumerate(parameters) if p.kind == p.KEYWORD_ONLY), len(parameters)), given
        )
    parameters += [p for p in signature.parameters.values() if p.kind == p.VAR_KEYWORD]
    __init__.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]

    namespace: dict[str, Any] = {
        "__init__": __init__,
        "__doc__": base.__doc__,
        "__module__": __name__,
        "spatial_rank": 1 if base.__name__.endswith("1D") else 2,
    }
    if hasattr(base, "backward_params"):
        namespace["backward_params"] = _backward_params
    cls = type(base.__name__, (ChannelsLast, base), namespace, register=False)
    if base.__module__.split(".")[0] in ("minidl", "minidl_keras"):  # a user's class (a test's) is
        home = next(c for c in base.__mro__ if minidl_layout(c))  # no door for
        DOOR_CLASSES.setdefault(home, cls)  # minidl's: it would claim minidl's base Layer itself
    return cls


def door_class(cls: type, config: dict) -> type:
    """The class a saved layer entry is made again with: the door's class for one of minidl's
    (``DOOR_CLASSES``: the channels-last image layers, the recurrent layers) saved with arguments
    minidl's does not take (``data_format``, ``dropout``, ...: saved by this door), else ``cls``.
    ``cls`` may be minidl's class or the door's class over it that only adds Keras's names."""
    door = next((DOOR_CLASSES[c] for c in cls.__mro__ if c in DOOR_CLASSES), None)
    if door is None or issubclass(cls, ChannelsLast):
        return cls
    takes = inspect.signature(cls).parameters
    return door if any(key not in takes for key in config) else cls


def inside(layer, shape) -> tuple:
    """``shape`` as ``layer``'s own code takes it (``ChannelsLast.inside``; unchanged for another layer)."""
    return layer.inside(shape) if isinstance(layer, ChannelsLast) else tuple(shape)


def outside(layer, shape) -> tuple:
    """The inverse of ``inside``."""
    return layer.outside(shape) if isinstance(layer, ChannelsLast) else tuple(shape)
