"""Keras's structure of ``model.get_config()`` and ``model.to_json()``.

A program reads what Keras writes::

    {"module": "keras", "class_name": "Sequential", "registered_name": None,
     "config": {"name": "tiny", "trainable": True,
                "layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {...}},
                           {"module": "keras.layers", "class_name": "Dense",
                            "config": {"name": "a", "units": 5, ...}}, ...]}}

Each layer's ``config`` is the door's ``layer.get_config()`` (Keras's argument names; an
initializer by its name, not Keras's nested dict) with its ``name`` and ``trainable``. The JSON
of ``to_json`` also holds, under ``"minidl_keras"``, the description ``model.save`` writes, which
``keras.models.model_from_json`` reads back (``model_file``).
"""

from __future__ import annotations

from .graph import dtype_name

__all__ = [
    "KERAS_CLASS_NAMES",
    "keras_class_name",
    "layer_entry",
    "sequential_config",
    "functional_config",
    "envelope",
]


#: minidl's classes (and the door's) by the name Keras gives them, filled in by ``minidl_keras.layers``
KERAS_CLASS_NAMES: dict[type, str] = {}


def keras_class_name(layer) -> str:
    """The name Keras gives ``layer``'s class (``BatchNormalization`` for minidl's ``BatchNorm``)."""
    shown = getattr(layer, "display_name", None)
    if shown:
        return shown
    cls = type(layer)
    if not cls.__module__.startswith(("minidl.", "minidl_keras.")):
        return cls.__name__  # a user's class: its own name, as Keras's registered name
    for base in cls.__mro__:  # the door's subclass of a minidl class: the name of the class behind
        if base in KERAS_CLASS_NAMES:
            return KERAS_CLASS_NAMES[base]
    return cls.__name__


def _input_entry(shape, dtype="float32", name="input_layer") -> dict:
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": [None, *shape], "dtype": dtype_name(dtype), "sparse": False, "name": name},
        "registered_name": None,
    }


def layer_entry(layer) -> dict:
    """One layer as Keras lists it among a model's layers."""
    if hasattr(layer, "shape") and keras_class_name(layer) == "InputLayer":
        return _input_entry(layer.shape, layer.dtype, layer.name or "input_layer")
    if hasattr(layer, "to_keras_config"):  # a nested model
        return layer.to_keras_config()
    config = dict(layer.get_config()) if hasattr(layer, "get_config") else {}
    config.setdefault("name", getattr(layer, "name", None))
    config.setdefault("trainable", bool(getattr(layer, "trainable", True)))
    module = "keras.layers" if type(layer).__module__.startswith(("minidl.", "minidl_keras.")) else None
    return {
        "module": module,
        "class_name": keras_class_name(layer),
        "config": config,
        "registered_name": None if module else type(layer).__name__,
    }


def sequential_config(model) -> dict:
    """Keras's ``Sequential.get_config()``: name, trainable, the layers (an ``InputLayer`` first
    once the input shape is known) and ``build_input_shape``."""
    shape = model.sample_shape()
    name = model.__dict__.get("_input_name") or "input_layer"
    dtype = model.__dict__.get("_input_dtype") or model.dtype or "float32"
    layers = [] if shape is None else [_input_entry(shape, dtype, name)]
    layers += [layer_entry(layer) for layer in model.layers]
    config = {"name": model.name or "sequential", "trainable": bool(model.trainable), "layers": layers}
    if shape is not None:
        config["build_input_shape"] = [None, *shape]
    return config


def functional_config(model) -> dict:
    """Keras's ``Functional.get_config()``: name, trainable, the layers, each with its ``name``,
    and the names of the input and output layers (``[name, 0, 0]``, Keras's triples)."""
    layers = []
    for layer in model.layers:
        entry = layer_entry(layer)
        entry["name"] = entry["config"].get("name")
        layers.append(entry)
    return {
        "name": model.name or "functional",
        "trainable": bool(model.trainable),
        "layers": layers,
        "input_layers": [[t.input_layer.name, 0, 0] for t in model.graph.inputs],
        "output_layers": [[name, 0, 0] for name in model.output_names],
    }


def envelope(class_name: str, config: dict, description: dict) -> dict:
    """What ``to_json`` writes: Keras's keys, and the door's own description beside them."""
    return {
        "module": "keras",
        "class_name": class_name,
        "config": config,
        "registered_name": None,
        "minidl_keras": description,
    }
