"""A door layer's constructor arguments and ``get_config()`` keys as Keras spells them (issue #78).

Every door layer class is made through ``weights.KerasLayerType``, and its ``get_config`` is
``KerasLayerAPI.get_config``; both pass through this module, which reads one table per Keras
class name (``OPTIONS``):

* ``renamed``: minidl's argument -> Keras's (``eps`` -> ``epsilon``, ``stride`` -> ``strides``,
  ``alpha`` -> ``negative_slope``): ``get_config`` shows Keras's name, the constructor takes
  either;
* ``fixed``: Keras's options that minidl's layer always behaves as at Keras's default
  (``BatchNormalization(renorm=False)``, ``LSTM(unroll=False)``): accepted at that value and
  shown in ``get_config``; any other value is refused with a ``KerasFeatureMissing`` (a
  ``NotImplementedError``) that names the option and the closest way;
* ``hidden``: the keys Keras's ``get_config`` leaves out when they hold this value
  (``Dense``'s ``activity_regularizer=None``, ``lora_rank``: constructor options only);
* ``ignored``: hints about speed alone (``LSTM(use_cudnn=...)``), taken with any value;
* ``dropped``: minidl's arguments Keras has no key for, with the value the door makes the
  layer with (``BatchNormalization``'s ``unbiased_running_var=False``): left out of
  ``get_config`` and given back on construction;
* ``defaults``: Keras's defaults where minidl's differ in spelling alone (``padding="valid"``
  for 0, ``pool_size=(2, 2)`` for 2, ``output_padding=None`` for 0), or ``REQUIRED`` where
  Keras has none (``AveragePooling2D``'s ``pool_size``): the signature shows them (with the
  ``renamed`` names), and a required one left out is a ``TypeError``, as in Keras;
* ``to_keras``/``from_keras``: a conversion of the rest (``BatchNormalization``'s
  ``data_format`` is Keras's ``axis``).

Every layer's ``get_config`` also has Keras's ``name``, ``trainable`` and ``dtype`` (Keras's
``DTypePolicy``, float32); the constructor takes ``dtype`` as None, ``"float32"`` or that policy
and refuses another (the door's layers compute in the dtype of their data, float32).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .missing import KerasFeatureMissing

__all__ = [
    "REQUIRED",
    "keras_signature",
    "OPTIONS",
    "keras_config",
    "minidl_arguments",
    "FLOAT32_POLICY",
    "check_dtype",
]

FLOAT32_POLICY = {
    "module": "keras",
    "class_name": "DTypePolicy",
    "config": {"name": "float32"},
    "registered_name": None,
}

REQUIRED = inspect.Parameter.empty

_PENALTIES = "add the penalty in a custom keras.layers.Layer (add_weight(regularizer=)) or leave it None"
_CONSTRAINTS = "clip the weights in a callback after each batch, or leave it None"
_INIT = "set the weights after the first batch (layer.set_weights) instead"


def _same(value, default) -> bool:
    """Whether ``value`` is Keras's ``default``: an initializer by name, object or Keras's
    serialized dict; a window of ones for ``dilation_rate=1``; else equal, of a like kind."""
    if isinstance(default, str) and default not in ("auto", "nearest", "channels_last", "tanh", "sigmoid"):
        from .initializers import serialize

        def spelt(x):
            x = serialize(x)
            return (
                {k: v for k, v in x.get("config", {}).items() if k != "seed"} | {"class": x.get("class_name")}
                if isinstance(x, dict)
                else x
            )

        return spelt(value) == spelt(default)
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, (list, tuple)):
        return all(v == default for v in value)
    if default is None or isinstance(default, bool):
        if default is None and value is False:  # InputLayer(sparse=False): Keras's "not sparse"
            return True
        return value is default or (isinstance(value, (bool, np.bool_)) and bool(value) == default)
    try:
        return bool(value == default)
    except Exception:  # noqa: BLE001  (an array: never a default here)
        return False


def _fixed(names: str, default: Any, advice: str) -> dict[str, tuple[Any, str]]:
    return {name: (default, advice) for name in names.split()}


def _penalties(*weights: str) -> dict[str, tuple[Any, str]]:
    out = {}
    for weight in weights:
        out[f"{weight}_regularizer"] = (None, _PENALTIES)
    out["activity_regularizer"] = (None, _PENALTIES)
    for weight in weights:
        out[f"{weight}_constraint"] = (None, _CONSTRAINTS)
    return out


def _bn_to_keras(config: dict) -> dict:
    config["axis"] = 1 if config.pop("data_format", "channels_last") == "channels_first" else -1
    return config


def _bn_from_keras(kwargs: dict) -> dict:
    if "axis" in kwargs:
        axis = kwargs.pop("axis")
        if axis in (-1, 3):
            kwargs["data_format"] = "channels_last"
        elif axis == 1:
            kwargs["data_format"] = "channels_first"
        else:
            raise ValueError(
                f"BatchNormalization axis must be -1 (channels last) or 1 (channels first), got {axis!r}"
            )
    return kwargs


def _transpose_from_keras(kwargs: dict) -> dict:
    """Keras's ``padding="valid"`` with an ``output_padding``: the full output and that many more
    rows and columns at the bottom and right (bias only), which is minidl's ``padding=0`` with
    ``output_padding`` (PyTorch's rule)."""
    if kwargs.get("output_padding") is not None and kwargs.get("padding", "valid") == "valid":
        kwargs["padding"] = 0
    return kwargs


_RECURRENT_FIXED = {
    **_fixed("activation", "tanh", "write another cell in a keras.layers.Layer subclass"),
    **_fixed("use_bias", True, "its cell always has biases"),
    **_fixed("bias_initializer", "zeros", _INIT),
    **_fixed("stateful unroll", False, "the state starts at zeros for each batch (pass initial_state=)"),
    **_fixed("seed", None, "the dropout masks come from keras.utils.set_random_seed's stream"),
    **_penalties("kernel", "recurrent", "bias"),
    **_fixed("time_major", False, "give batches (N, T, D)"),
}
_GATED_FIXED = {**_RECURRENT_FIXED, **_fixed("recurrent_activation", "sigmoid", "write another cell")}
_RECURRENT: dict[str, Any] = {
    "fixed": _RECURRENT_FIXED,
    "hidden": {"time_major": False},
    "ignored": ("use_cudnn",),
}
_LSTM = {
    **_RECURRENT,
    "fixed": {**_GATED_FIXED, **_fixed("unit_forget_bias", True, "its forget-gate bias starts at 1")},
}
_GRU = {
    **_RECURRENT,
    "fixed": {**_GATED_FIXED, **_fixed("reset_after", True, "its cell is PyTorch's (reset_after=True)")},
}

_CONV = {
    "renamed": {"stride": "strides"},
    "defaults": {"padding": "valid"},
    "fixed": {
        **_fixed("dilation_rate", 1, "a dilated kernel is not in minidl_keras: use a larger kernel_size"),
        **_fixed("groups", 1, "use DepthwiseConv2D (groups = channels) or separate Conv layers"),
    },
}
_POOL = {"renamed": {"stride": "strides"}, "defaults": {"pool_size": REQUIRED}}
_POOL2D = {"renamed": {"stride": "strides"}, "defaults": {"pool_size": (2, 2)}}
_NORMALIZATION_WEIGHTS = {
    **_fixed("center scale", True, "it always learns gamma and beta"),
    **_fixed("beta_initializer", "zeros", _INIT),
    **_fixed("gamma_initializer", "ones", _INIT),
    **_penalties("beta", "gamma"),
}
del _NORMALIZATION_WEIGHTS["activity_regularizer"]

#: the tables by Keras's class name (see the module's docstring)
OPTIONS: dict[str, dict[str, Any]] = {
    "BatchNormalization": {
        "renamed": {"eps": "epsilon"},
        "dropped": {"unbiased_running_var": False},
        "to_keras": _bn_to_keras,
        "from_keras": _bn_from_keras,
        "fixed": {
            **_NORMALIZATION_WEIGHTS,
            **_fixed("moving_mean_initializer", "zeros", _INIT),
            **_fixed("moving_variance_initializer", "ones", _INIT),
            **_fixed("synchronized", False, "it trains on one device"),
            **_fixed("renorm", False, "batch renormalization is not in minidl_keras"),
            **_fixed("renorm_clipping", None, "batch renormalization is not in minidl_keras"),
            **_fixed("renorm_momentum", 0.99, "batch renormalization is not in minidl_keras"),
        },
    },
    "LayerNormalization": {
        "renamed": {"eps": "epsilon"},
        "fixed": {
            **_fixed("axis", -1, "it normalises the last axis (move the axis last with layers.Permute)"),
            **_NORMALIZATION_WEIGHTS,
            **_fixed("rms_scaling", False, "RMS normalisation is not in minidl_keras"),
        },
    },
    "LeakyReLU": {"renamed": {"alpha": "negative_slope"}},
    "ReLU": {
        "fixed": {
            **_fixed(
                "max_value", None, "clip with layers.Lambda(lambda x: keras.ops.minimum(x, m)) after it"
            ),
            **_fixed("negative_slope", 0.0, "use layers.LeakyReLU(negative_slope=...)"),
            **_fixed("threshold", 0.0, "shift the inputs with a layers.Lambda before it"),
        }
    },
    "Conv1D": _CONV,
    "Conv2D": {**_CONV, "defaults": {"strides": (1, 1), "padding": "valid"}},
    "Conv2DTranspose": {
        "renamed": {"stride": "strides"},
        "defaults": {"strides": (1, 1), "padding": "valid", "output_padding": None},
        "from_keras": _transpose_from_keras,
        "fixed": _fixed("dilation_rate", 1, "use a larger kernel_size"),
    },
    "DepthwiseConv2D": {
        "renamed": {"stride": "strides"},
        "defaults": {"strides": (1, 1), "dilation_rate": (1, 1)},
        "fixed": _penalties("depthwise", "bias"),
    },
    "SeparableConv2D": {
        "renamed": {"stride": "strides"},
        "defaults": {"strides": (1, 1), "dilation_rate": (1, 1)},
        "fixed": _penalties("depthwise", "pointwise", "bias"),
    },
    "MaxPooling1D": {"renamed": {"stride": "strides"}},
    "MaxPooling2D": _POOL2D,
    "AveragePooling1D": _POOL,
    "AveragePooling2D": _POOL,
    "GlobalAveragePooling1D": {"fixed": _fixed("keepdims", False, "add a layers.Reshape after it")},
    "GlobalAveragePooling2D": {"fixed": _fixed("keepdims", False, "add a layers.Reshape after it")},
    "Flatten": {"fixed": _fixed("data_format", "channels_last", "give channels-last inputs")},
    "ZeroPadding1D": {
        "fixed": _fixed("data_format", "channels_last", "give channels-last sequences (N, L, C)")
    },
    "UpSampling2D": {
        "defaults": {"size": (2, 2)},
        "fixed": _fixed(
            "interpolation", "nearest", "resize the images before the model for another interpolation"
        ),
    },
    "Embedding": {
        "fixed": {
            **_fixed("embeddings_initializer", "uniform", _INIT),
            **_penalties("embeddings"),
            **_fixed(
                "lora_rank lora_alpha quantization_config",
                None,
                "LoRA and quantization are not in minidl_keras",
            ),
            **_fixed("weights", None, "call layer.set_weights([...]) once the layer is built"),
        },
        "hidden": {"lora_rank": None, "lora_alpha": None, "weights": None},
    },
    "Dense": {
        "fixed": _fixed(
            "lora_rank lora_alpha quantization_config", None, "LoRA and quantization are not in minidl_keras"
        ),
        "hidden": {"lora_rank": None, "lora_alpha": None, "activity_regularizer": None},
    },
    "SimpleRNN": {**_RECURRENT, "hidden": {**_RECURRENT["hidden"], "seed": None}},
    "LSTM": _LSTM,
    "GRU": _GRU,
    "CategoryEncoding": {"dropped": {"sparse": False}},
    "Discretization": {
        "fixed": _fixed("sparse", False, "its outputs are dense arrays"),
        "hidden": {"trainable": True},
    },
    "SpatialDropout1D": {"hidden": {"trainable": True}},
    "SpatialDropout2D": {"hidden": {"trainable": True}},
    "MultiHeadAttention": {
        "fixed": {
            **_fixed("use_gate", False, "gated attention is not in minidl_keras"),
            **_fixed("sliding_window", None, "pass an attention_mask for a local window"),
        },
        "hidden": {"flash_attention": None},
    },
    "Bidirectional": {
        "fixed": _fixed("weights", None, "call layer.set_weights([...]) once the layer is built")
    },
    "InputLayer": {
        "fixed": {
            **_fixed("sparse ragged input_tensor", None, "the door's inputs are dense NumPy arrays"),
            **_fixed("optional", False, "every input of a minidl_keras model is required"),
        }
    },
}


def keras_name(cls: type) -> str | None:
    """The Keras class name whose table applies to ``cls`` (the first door class of a known
    name along its bases: a user's subclass of a door layer takes its table)."""
    for base in cls.__mro__:
        if base.__module__.startswith("minidl_keras.") and base.__name__ in OPTIONS:
            return base.__name__
    return None


def _table(cls: type) -> dict[str, Any]:
    name = keras_name(cls)
    return OPTIONS[name] if name else {}


def check_dtype(dtype, who: str):
    """None for Keras's float32 (None, ``"float32"``, ``np.float32``, the float32 policy); a
    ``KerasFeatureMissing`` for another dtype."""
    name = dtype
    if isinstance(dtype, dict):
        name = (dtype.get("config") or {}).get("name")
    elif hasattr(dtype, "name") and not isinstance(dtype, str) and not isinstance(dtype, type):
        name = dtype.name  # a DTypePolicy or np.dtype
    if name is None:
        return None
    try:
        if np.dtype(name) == np.float32:
            return None
    except TypeError:
        pass
    raise KerasFeatureMissing(
        f"keras.layers.{who}(dtype={dtype!r}) is not in minidl_keras: its layers compute in float32 "
        "(leave dtype unset or 'float32'); mixed precision and other dtypes are not in minidl_keras"
    )


def minidl_arguments(cls: type, kwargs: dict, takes: Callable[[str], bool]) -> dict:
    """Keras's constructor arguments of ``cls`` as its ``__init__`` takes them (see the module's
    docstring); ``takes(name)``: whether the ``__init__`` names that argument."""
    table = _table(cls)
    who = keras_name(cls) or cls.__name__
    kwargs = dict(kwargs)
    if "dtype" in kwargs and not takes("dtype"):
        check_dtype(kwargs.pop("dtype"), who)
    for minidl, keras in table.get("renamed", {}).items():
        if keras in kwargs and not takes(keras):
            if kwargs.get(minidl) is not None and minidl in kwargs:
                raise ValueError(f"{who}: give {keras} (Keras's name) or {minidl}, not both")
            kwargs[minidl] = kwargs.pop(keras)
    for option in table.get("ignored", ()):  # a hint about speed, not about the result
        kwargs.pop(option, None)
    for option, (default, advice) in table.get("fixed", {}).items():
        if option in kwargs and not takes(option):
            value = kwargs.pop(option)
            if not _same(value, default) and not (option == "data_format" and value is None):
                raise KerasFeatureMissing(
                    f"keras.layers.{who}({option}={value!r}) is not in minidl_keras: it always has "
                    f"{option}={default!r}; {advice}"
                )
    for name, default in table.get("defaults", {}).items():
        if default is None and name in kwargs and kwargs[name] is None:
            del kwargs[name]  # Keras's None is minidl's own default (output_padding)
    if "from_keras" in table:
        kwargs = table["from_keras"](kwargs)
    for minidl, value in table.get("dropped", {}).items():
        if takes(minidl):
            kwargs.setdefault(minidl, value)
    return kwargs


def keras_config(layer, config: dict) -> dict:
    """``config`` (the door's arguments of ``layer``) with Keras's keys: ``name``, ``trainable``
    and ``dtype`` first, as Keras's, then the layer's under Keras's names, then ``fixed``'s."""
    from .initializers import serialized_config

    table = _table(type(layer))
    out: dict[str, Any] = {
        "name": config.pop("name", getattr(layer, "name", None)),
        "trainable": bool(getattr(layer, "trainable", True)),
    }
    config.pop("trainable", None)
    if "dtype" not in config:
        out["dtype"] = dict(FLOAT32_POLICY, config={"name": "float32"})
    renamed = table.get("renamed", {})
    dropped = table.get("dropped", {})
    for key, value in config.items():
        if key not in dropped:
            out[renamed.get(key, key)] = value
    if "to_keras" in table:
        out = table["to_keras"](out)
    fixed = {k: default for k, (default, _) in table.get("fixed", {}).items() if k not in out}
    out.update(serialized_config(fixed))
    for key, value in table.get("hidden", {}).items():
        if key in out and _same(out[key], value):
            del out[key]
    return out


def keras_signature(cls: type, signature: inspect.Signature) -> inspect.Signature:
    """``signature`` (of ``cls``'s ``__init__``, without ``self``) with Keras's names and defaults
    (``renamed``, ``defaults``)."""
    table = _table(cls)
    renamed, defaults = table.get("renamed", {}), table.get("defaults", {})
    if not renamed and not defaults:
        return signature
    parameters = []
    for p in signature.parameters.values():
        p = p.replace(name=renamed.get(p.name, p.name))
        if p.name in defaults:
            p = p.replace(default=defaults[p.name])
        parameters.append(p)
    if any(p.default is REQUIRED for p in parameters if p.kind == p.POSITIONAL_OR_KEYWORD):
        first = next(i for i, p in enumerate(parameters) if p.default is REQUIRED)
        parameters[:first] = [p.replace(default=REQUIRED) if p.kind == p.POSITIONAL_OR_KEYWORD else p
                              for p in parameters[:first]]  # fmt: skip
    return signature.replace(parameters=parameters)


def check_required(cls: type, args: tuple, kwargs: dict) -> None:
    """A ``TypeError`` as Keras's where a ``REQUIRED`` argument (``defaults``) is not given."""
    table = _table(cls)
    names = list(inspect.signature(cls.__init__).parameters)[1:]  # type: ignore[misc]
    for name, default in table.get("defaults", {}).items():
        if (
            default is REQUIRED
            and name not in kwargs
            and (name not in names or names.index(name) >= len(args))
        ):
            raise TypeError(f"{keras_name(cls)}() missing 1 required positional argument: '{name}'")
