"""Weights as Keras lays them out, for ``get_weights``/``set_weights`` (and the files of
``save_weights``) through this door, so arrays move between Keras and minidl unchanged.

minidl's kernels hold PyTorch's layout; Keras's differ for the convolutions only:

    Conv2D           minidl W (F, C, KH, KW)      Keras kernel (KH, KW, C, F)
    Conv2DTranspose  minidl W (C, F, KH, KW)      Keras kernel (KH, KW, F, C)
    Conv1D           minidl W (F, C, K)           Keras kernel (K, C, F)
    DepthwiseConv2D  minidl W (C, M, KH, KW)      Keras depthwise_kernel (KH, KW, C, M)
    SeparableConv2D  its sub-layers': a DepthwiseConv2D and a 1x1 Conv2D, whose kernel
                     (1, 1, C*M, F) is Keras's pointwise_kernel

    GRU              minidl Wx, Wh, bx, bh,        Keras kernel, recurrent_kernel, bias (2, 3H),
                     blocks [r | z | n]            blocks [z | r | h] (the same cell: reset_after)

so a GRU has three Keras weights, its bias the two of minidl's stacked (``GRU_BIAS``).

    MultiHeadAttention  minidl Wq (D, H*dk), bq (H*dk,), Wo (H*dv, D')
                     Keras query kernel (D, H, dk), bias (H, dk), output kernel (H, dv, D')
                     (the same numbers, reshaped: ``minidl_keras.attention``)

Every other weight (Dense's (in, out) kernel, biases, LSTM's blocks, batch-norm statistics)
is laid out alike.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from minidl.nn import layers as _L
from minidl.nn.layers.sublayers import own_arrays

from . import conv1d, separable
from . import layer_options as options
from .initializers import deserialized_config, serialized_config
from .keras_api import KerasAbsent

__all__ = [
    "KerasLayerAPI",
    "ParamCount",
    "to_keras",
    "from_keras",
    "Weight",
    "KerasWeights",
    "KerasNames",
    "as_keras_layer",
    "keras_class",
    "own_slots",
    "weights_of",
]

# the axes that turn minidl's W into Keras's kernel
_TO_KERAS = {
    _L.Conv2D: (2, 3, 1, 0),
    _L.Conv2DTranspose: (2, 3, 1, 0),
    conv1d.Conv1D: (2, 1, 0),
    separable.DepthwiseConv2D: (2, 3, 0, 1),
}


#: the key of a GRU's one Keras bias: minidl's ``bx`` and ``bh`` stacked, (2, 3H)
GRU_BIAS = ("bx", "bh")


def _axes(layer, key):
    if key != "W":
        return None
    return next((_TO_KERAS[cls] for cls in type(layer).__mro__ if cls in _TO_KERAS), None)


def _swap_gru_blocks(layer, array):
    """[r | z | n] <-> [z | r | n] along the last axis (its own inverse)."""
    H = layer.units
    return np.concatenate([array[..., H : 2 * H], array[..., :H], array[..., 2 * H :]], axis=-1)


def to_keras(layer, key, array):
    """``layer.params[key]`` (or a copy of it) in Keras's layout (a layer with its own rule,
    ``to_keras_layout``, as MultiHeadAttention's (D, H, dk) kernels, gives it)."""
    if hasattr(type(layer), "to_keras_layout"):
        return layer.to_keras_layout(key, array)
    if isinstance(layer, _L.GRU):
        return _swap_gru_blocks(layer, array)
    axes = _axes(layer, key)
    return array if axes is None else np.ascontiguousarray(np.transpose(array, axes))


def from_keras(layer, key, array):
    """A Keras-laid-out weight in minidl's layout for ``layer.params[key]``."""
    if hasattr(type(layer), "from_keras_layout"):
        return layer.from_keras_layout(key, array)
    if isinstance(layer, _L.GRU):
        return _swap_gru_blocks(layer, array)
    axes = _axes(layer, key)
    return array if axes is None else np.ascontiguousarray(np.transpose(array, np.argsort(axes)))


def _keys(layer, store: str) -> list:
    """A layer's own weights in ``store``, as Keras counts them (a GRU's two biases are one)."""
    keys = list(own_arrays(getattr(layer, store)))
    if isinstance(layer, _L.GRU) and store == "params" and all(k in keys for k in GRU_BIAS):
        keys = [k for k in keys if k not in GRU_BIAS] + [GRU_BIAS]
    return keys


class Weight:
    """One weight of a model as Keras's ``model.weights`` lists it: ``numpy()`` (Keras's
    layout), ``shape``, ``name``, ``trainable``, ``assign(value)``. ``layer`` is the layer whose
    own array it is (a sub-layer's, for a layer that holds others); ``frozen``: a layer that
    holds it is frozen."""

    def __init__(self, layer, store: str, key: str, frozen: bool = False, keras_name: str | None = None):
        self.layer, self.store, self.key, self.frozen = layer, store, key, frozen
        self.keras_name = keras_name  # the name a layer holding ``layer`` gives it (SeparableConv2D's)

    def _array(self):
        """The minidl array (a GRU's bias: its two, stacked, as a copy)."""
        arrays = getattr(self.layer, self.store)
        if isinstance(self.key, tuple):
            from minidl import backend

            return backend.get_array_module(arrays[self.key[0]]).stack([arrays[k] for k in self.key])
        return arrays[self.key]

    def numpy(self):
        from minidl import backend

        return to_keras(self.layer, self.key, backend.to_numpy(self._array()).copy())

    def set(self, value, device=None) -> None:
        """Assign a Keras-laid-out ``value`` (shape checked), on ``device`` (the array's own)."""
        from minidl import backend

        value = from_keras(self.layer, self.key, np.asarray(value))
        target = self._array()
        if tuple(np.shape(value)) != tuple(target.shape):
            raise ValueError(
                f"set_weights: {self.layer.label}.{self.name} has shape {tuple(to_keras(self.layer, self.key, backend.to_numpy(target)).shape)}, "
                f"got {tuple(np.shape(to_keras(self.layer, self.key, value)))}"
            )
        value = backend.to_device(value, device or backend.device_of(target))
        arrays = getattr(self.layer, self.store)
        if isinstance(self.key, tuple):
            for k, part in zip(self.key, value):
                arrays[k][...] = part
        else:
            arrays[self.key][...] = value

    @property
    def shape(self) -> tuple:
        return tuple(self.numpy().shape)

    @property
    def name(self) -> str:
        """Keras's name of the weight (``kernel``, ``moving_mean``: the layer class's
        ``keras_weights``), else minidl's key."""
        if self.keras_name is not None:
            return self.keras_name
        if isinstance(self.key, tuple):
            return "bias"
        for keras_name, (store, key) in getattr(type(self.layer), "keras_weights", {}).items():
            if (store, key) == (self.store, self.key):
                return keras_name
        return self.key

    @property
    def path(self) -> str:
        return f"{self.layer.name or type(self.layer).__name__.lower()}/{self.name}"

    @property
    def trainable(self) -> bool:
        return self.store == "params" and bool(self.layer.trainable) and not self.frozen

    def assign(self, value) -> None:
        value = np.asarray(value)
        if tuple(value.shape) != self.shape:
            raise ValueError(f"{self.path}.assign expected shape {self.shape}, got {value.shape}")
        self.set(value)

    def assign_add(self, value) -> None:
        self.assign(self.numpy() + np.asarray(value))

    def assign_sub(self, value) -> None:
        self.assign(self.numpy() - np.asarray(value))

    def __array__(self, dtype=None, copy=None):
        return self.numpy() if dtype is None else self.numpy().astype(dtype)

    def __repr__(self) -> str:
        return f"<Weight path={self.path} shape={self.shape}>"


class ParamCount(int):
    """A layer's ``count_params()`` as Keras gives it, one int (trainable and not), that also
    unpacks as minidl's pair ``(trainable, non_trainable)``, which minidl's models and
    ``summary`` read: ``n = layer.count_params()`` is 176 and ``t, f = layer.count_params()``
    is ``(176, 0)``."""

    pair: tuple[int, int]

    def __new__(cls, trainable: int, non_trainable: int):
        count = super().__new__(cls, int(trainable) + int(non_trainable))
        count.pair = (int(trainable), int(non_trainable))
        return count

    def __iter__(self):
        return iter(self.pair)

    def __getitem__(self, index):
        return self.pair[index]


class KerasLayerType(type):
    """The door layers' metaclass: a layer is made with Keras's serialized initializers read as
    Keras reads them (``Dense(kernel_initializer={"class_name": "GlorotUniform", ...})``, what
    ``get_config`` gives), so ``type(layer)(**layer.get_config())`` and a saved model's layers
    make the same layer again."""

    def __call__(cls, *args, **kwargs):
        if options.keras_name(cls) is not None or cls.__module__.startswith("minidl_keras."):
            takes = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
            options.check_required(cls, args, kwargs)
            kwargs = options.minidl_arguments(cls, kwargs, lambda name: name in takes)
        return super().__call__(*args, **deserialized_config(kwargs))

    @property
    def __signature__(cls) -> inspect.Signature:
        """The class's signature is its ``__init__``'s without ``self``, as without this
        metaclass (``inspect.signature(keras.layers.Conv2D)`` names ``data_format``)."""
        signature = inspect.signature(cls.__init__)  # type: ignore[misc]  # cls is a class here
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
        return options.keras_signature(cls, signature)  # Keras's names and defaults (strides=)


class KerasLayerAPI(KerasAbsent, metaclass=KerasLayerType):
    """Mixin of every door layer class (before minidl's ``Layer`` among its bases): what Keras's
    ``Layer`` has beyond minidl's -- ``get_weights``/``set_weights`` and ``weights``,
    ``trainable_weights``, ``non_trainable_weights`` (``Weight`` views in Keras's layout and
    order; ``[]`` for a layer without weights, as an ``InputLayer``), and ``input``/``output``,
    the ``KerasTensor``s of the layer's first call on symbolic tensors (a functional model, or
    a ``keras.Sequential`` that knows its input shape), as Keras's ``layer.output``."""

    def get_config(self) -> dict:
        """The layer's arguments (minidl's ``get_config``, which a saved model keeps) under
        Keras's keys (``layer_options.keras_config``: ``name``, ``trainable``, ``dtype``, ``epsilon``
        for ``eps``, Keras's options at their defaults), each initializer as Keras serializes it
        (``{"module": "keras.initializers", "class_name": "GlorotUniform", "config": {...},
        "registered_name": None}``), as Keras's layers show it."""
        config = serialized_config(super().get_config())  # type: ignore[misc]
        return config if self.__dict__.get("_minidl_view") else options.keras_config(self, config)

    def __repr__(self) -> str:
        """As minidl prints the layer: its own arguments (``get_config`` before Keras's keys are
        added); a layer with a ``get_config`` of its own, by that."""
        self.__dict__["_minidl_view"] = True
        try:
            config = self.get_config()
        finally:
            self.__dict__.pop("_minidl_view", None)
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in config.items() if k != 'name')})"

    @classmethod
    def from_config(cls, config: dict):
        """Keras's ``from_config``: the layer ``get_config`` described (Keras's serialized
        initializers made again, ``keras.initializers.deserialize``, by ``KerasLayerType``)."""
        return cls(**config)

    def get_weights(self) -> list:
        """Keras's ``layer.get_weights()``: copies of the layer's arrays in Keras's layout and
        order (a Dense's kernel (in, out) then bias)."""
        return [w.numpy() for w in weights_of([self])]

    def set_weights(self, weights) -> None:
        """Assign arrays laid out as ``get_weights`` returns them (shapes checked)."""
        slots = weights_of([self])
        if len(weights) != len(slots):
            raise ValueError(
                f"{type(self).__name__}.set_weights expected {len(slots)} arrays, got {len(weights)}"
            )
        for slot, w in zip(slots, weights):
            slot.assign(w)

    @property
    def weights(self) -> list:
        return weights_of([self])

    @property
    def trainable_weights(self) -> list:
        return [w for w in weights_of([self]) if w.trainable]

    @property
    def non_trainable_weights(self) -> list:
        return [w for w in weights_of([self]) if not w.trainable]

    # Keras 3's names for the same lists
    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def count_params(self) -> Any:  # a ParamCount: read as an int or as minidl's pair
        """Keras's one int, which also unpacks as minidl's ``(trainable, non_trainable)``."""
        return ParamCount(*super().count_params())  # type: ignore[misc]

    @property
    def output(self):
        """The tensor this layer made at its first symbolic call (Keras's ``layer.output``)."""
        return _symbolic_call(self, "_keras_output", "output")

    @property
    def input(self):
        """The tensor (or list of tensors) of this layer's first symbolic call."""
        return _symbolic_call(self, "_keras_input", "input")


def _symbolic_call(layer, key: str, what: str):
    value = layer.__dict__.get(key)
    if value is None:
        raise AttributeError(no_symbolic_call(layer, what))
    return value


def no_symbolic_call(layer, what: str) -> str:
    return (
        f"{getattr(layer, 'label', type(layer).__name__)} has no {what}: it has not been called on "
        "symbolic tensors. Keras's layer.output exists once the layer is called on a keras.Input "
        "(a functional model, or a keras.Sequential that starts with keras.Input(shape) or is built)"
    )


class KerasNames(KerasLayerAPI):
    """Mixin of the door's layers (``keras.layers.Dense`` is ``KerasNames`` + minidl's ``Dense``):
    Keras's attribute names for a layer's weights, ``layer.kernel``, ``layer.bias``, ... as
    ``Weight`` views in Keras's layout (``numpy()``, ``shape``, ``assign``). ``keras_weights``
    maps each name to ``(store, key)``: ``{"kernel": ("params", "W"), "bias": ("params", "b")}``,
    a sub-layer's as ``"<sub-layer>.<key>"`` (``("params", "pointwise.W")``). A built layer
    without the weight (``use_bias=False``) gives None, as Keras."""

    keras_weights: dict[str, tuple[str, str]] = {}

    def __getattr__(self, name: str):
        spec = type(self).keras_weights.get(name)
        if spec is None:  # Keras's other names (KerasAbsent)
            return super().__getattr__(name)
        store, key = spec
        if not self.__dict__.get("built", False):
            raise AttributeError(
                f"{type(self).__name__}.{name} exists once the layer is built: call it on a batch, "
                "or build it (layer.build(input_shape))"
            )
        path, _, key = key.rpartition(".")
        owner = dict(self.layers_within())[path]
        return Weight(owner, store, key) if key in getattr(owner, store) else None

    def constraint_of(self, key: str):
        """The layer's constraint on ``params[key]`` applied in Keras's layout (a Conv2D's kernel
        as (KH, KW, C, F), so ``axis`` means what it means in Keras), the result put back in
        minidl's."""
        constraint = super().constraint_of(key)  # type: ignore[misc]
        axes = _axes(self, key)
        if constraint is None or axes is None:
            return constraint
        back = tuple(int(i) for i in np.argsort(axes))
        return lambda w: constraint(w.transpose(axes)).transpose(back)


#: minidl's class -> the door's class with Keras's names (filled by ``keras_names``)
_KERAS_CLASSES: dict[type, type] = {}


def keras_names(base: type, **names: tuple[str, str]):
    """Class decorator: the door's layer ``cls`` (a subclass of ``base``) with ``names``
    (``kernel=("params", "W")``); ``as_keras_layer`` turns a loaded ``base`` into it."""

    def decorate(cls):
        cls.keras_weights = dict(names)
        _KERAS_CLASSES[base] = cls
        return cls

    return decorate


def keras_class(cls):
    """The door's class for minidl's ``cls`` (``Dense`` -> ``keras.layers.Dense``), else ``cls``."""
    return _KERAS_CLASSES.get(cls, cls)


def as_keras_layer(layer):
    """A layer of minidl's class (as a file loads it) as the door's class of that name, which
    adds only Keras's weight names; any other layer unchanged."""
    cls = _KERAS_CLASSES.get(type(layer))
    if cls is not None:
        layer.__class__ = cls
    return layer


def own_slots(layers) -> list:
    """``(layer, store, key, frozen)`` for every weight of ``layers`` in ``get_weights`` order:
    each layer's own params, then its own buffers, then each of its sub-layers' the same way
    (``Layer.layers_within``; Keras's order); ``layer`` is the one whose own array it is."""
    slots = []
    for top in layers:
        for path, layer in top.layers_within():
            frozen = not top.trainable or any(
                not above.trainable for name, above in top.layers_within() if _holds(name, path)
            )
            for store in ("params", "buffers"):
                slots += [(layer, store, key, frozen) for key in _keys(layer, store)]
    return slots


def _holds(outer: str, inner: str) -> bool:
    """Whether the layer at path ``outer`` holds the one at ``inner`` (both under one top layer)."""
    return outer != inner and (outer == "" or inner.startswith(outer + "."))


def weights_of(layers) -> list:
    """Every weight of ``layers`` in ``get_weights`` order (``own_slots``), a sub-layer's named
    as the layer holding it names it in its ``keras_weights`` (``("params", "pointwise.W")``:
    ``pointwise_kernel``)."""
    held: dict[tuple[int, str, str], str] = {}
    for top in layers:
        names = {spec: name for name, spec in getattr(type(top), "keras_weights", {}).items()}
        for path, layer in top.layers_within():
            if path:
                for store in ("params", "buffers"):
                    for key in _keys(layer, store):
                        name = names.get((store, f"{path}.{key}"))
                        if name is not None and isinstance(key, str):
                            held[(id(layer), store, key)] = name
    return [
        Weight(layer, store, key, frozen, held.get((id(layer), store, key)) if isinstance(key, str) else None)
        for layer, store, key, frozen in own_slots(layers)
    ]


class KerasWeights:
    """``weights`` / ``trainable_weights`` / ``non_trainable_weights`` for a model with ``_weight_layers()``."""

    def _weight_layers(self) -> list:
        """The layers whose arrays are the model's weights, in ``get_weights`` order."""
        raise NotImplementedError(f"{type(self).__name__} must define _weight_layers()")

    @property
    def weights(self) -> list:
        return weights_of(self._weight_layers())

    @property
    def trainable_weights(self) -> list:
        return [w for w in self.weights if w.trainable]

    @property
    def non_trainable_weights(self) -> list:
        return [w for w in self.weights if not w.trainable]

    # Keras 3's names for the same lists
    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list:
        """Copies of every weight array as Keras lays them out (a Conv2D kernel (KH, KW, C, F), a
        GRU's three arrays), in Keras's order (``own_slots``: a layer's own weights, then its
        sub-layers')."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Assign weights laid out as Keras's ``get_weights`` returns them (shapes checked)."""
        slots = self.weights
        if len(weights) != len(slots):
            raise ValueError(f"set_weights expected {len(slots)} arrays, got {len(weights)}")
        for slot, w in zip(slots, weights):
            slot.set(w, self.device)  # type: ignore[attr-defined]  # the model's device
