"""Saving a functional or subclassed ``keras.Model`` in one ``.npz`` file, and loading it back
bit for bit.

The file holds a JSON description under ``"__minidl_keras_model__"`` and the weights as
``get_weights`` gives them (``weights/00000``, ...):

* a functional model: its inputs (shape, dtype, name), its distinct layers (class, config,
  trainable) and its nodes in topological order, each naming its layer and the tensors it
  reads (``["input", k]`` or ``["node", j]``); loading calls the same layers on new
  ``keras.Input``s in the same order, which rebuilds the same graph;
* a subclassed model: its class name, ``get_config()`` and the input shapes it was run on;
  loading makes ``cls.from_config(config)`` (``cls`` from ``custom_objects``), runs it once on
  zeros of those shapes (inference mode: no statistics move) and assigns the weights.

A custom layer is found in ``custom_objects`` (or among the classes defined in the process);
``keras.ops`` and ``Lambda`` nodes cannot be described and are refused with the way out.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .. import backend
from .._version import __version__
from ..nn.layers.base import LAYER_CLASSES, Layer
from ..training.saving import jsonable, read_npz, write_atomically
from .graph import KerasTensor

FORMAT, FORMAT_VERSION = "minidl.keras.Model", 1
KEY = "__minidl_keras_model__"

__all__ = ["save", "load", "KEY"]


def save(model, path) -> None:
    from .custom import Lambda
    from .ops import Operation

    if not model.built:
        raise ValueError("save needs a built model: run one batch through it first (model.predict(x[:1]))")
    spec = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "minidl_version": __version__,
        "name": model.name,
    }
    if model.graph is not None:
        spec["functional"] = _graph_spec(model, (Operation, Lambda))
    else:
        (graph,) = list(model._traces.values())[-1:]
        spec["subclassed"] = {
            "class": type(model).__name__,
            "config": jsonable(model.get_config()),
            "inputs": [{"shape": list(t.shape[1:]), "dtype": t.dtype} for t in graph.inputs],
        }
    if (
        model.loss is not None
        and hasattr(model.loss, "get_config")
        and type(model.loss).__name__ != "_OutputLosses"
    ):
        spec["compile"] = {
            "loss": {"class": type(model.loss).__name__, "config": jsonable(model.loss.get_config())},
            "optimizer": {
                "class": type(model.optimizer).__name__,
                "config": jsonable(model.optimizer.get_config()),
            },
            "metrics": [name for name, _ in model.metrics],
        }
    arrays = {f"weights/{i:05d}": w for i, w in enumerate(model.get_weights())}
    arrays[KEY] = np.array(json.dumps(spec))
    write_atomically(os.fspath(path), arrays)


def _graph_spec(model, unsaveable) -> dict:
    graph = model.graph
    refs = {id(t): ["input", k] for k, t in enumerate(graph.inputs)}
    layers: list[dict] = []  # each layer once: class, config, trainable
    index: dict[int, int] = {}  # id(layer) -> its place in layers
    nodes: list[dict] = []
    for j, node in enumerate(graph.nodes):
        layer = node.layer
        if isinstance(layer, unsaveable) or not isinstance(layer, Layer):
            raise NotImplementedError(
                f"saving a model with a {type(layer).__name__} node (keras.ops, Lambda or a nested model) "
                "is not in minidl.keras: write that step as a keras.layers.Layer subclass with get_config, "
                "or keep the weights with model.get_weights()"
            )
        if id(layer) not in index:
            index[id(layer)] = len(layers)
            layers.append({"class": type(layer).__name__, "config": jsonable(layer.get_config()),
                           "trainable": layer.trainable})  # fmt: skip
        if node.extra or len(node.outputs) > 1:
            raise NotImplementedError(
                f"saving a model whose {type(layer).__name__} is called with mask=/initial_state= or "
                "return_state=True is not in minidl.keras: keep the weights with model.get_weights() "
                "(or model.save_weights) and rebuild the model in code"
            )
        if any(id(t) not in refs for t in node.inputs):
            raise NotImplementedError("saving a model whose layers read constants is not in minidl.keras")
        nodes.append({"layer": index[id(layer)], "inputs": [refs[id(t)] for t in node.inputs],
                      "many": node.many, "training": node.training})  # fmt: skip
        refs[id(node.output)] = ["node", j]
    return {
        "inputs": [
            {"shape": list(t.shape[1:]), "batch": t.shape[0], "dtype": t.dtype, "name": t.name}
            for t in graph.inputs
        ],  # fmt: skip
        "input_names": model._input_names if model._input_names else None,
        "single_input": model._single_input,
        "layers": layers,
        "nodes": nodes,
        "outputs": [refs[id(t)] for t in graph.outputs],
        "output_names": model._output_names,
        "single_output": model._single_output,
        "outputs_as_dict": getattr(model, "_outputs_as_dict", False),
    }


def _layer_class(name, custom_objects):
    cls = (custom_objects or {}).get(name) or LAYER_CLASSES.get(name)
    if cls is None:
        raise ValueError(
            f"unknown layer class {name!r}: pass it in load_model(..., custom_objects={{{name!r}: cls}})"
        )
    return cls


def _make_layer(spec, custom_objects):
    cls = _layer_class(spec["class"], custom_objects)
    config = dict(spec["config"])
    layer = cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    layer.trainable = spec.get("trainable", True)
    return layer


def load(path, arrays, Input, Model, custom_objects=None, compile=True):
    """Rebuild the model in ``arrays`` (read from ``path``) with ``keras.Input`` and ``keras.Model``."""
    from ..nn import layers as _register  # noqa: F401  (fills LAYER_CLASSES)

    spec = json.loads(str(arrays.pop(KEY)))
    if spec.get("format") != FORMAT or spec.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path}: not a minidl.keras model file of version <= {FORMAT_VERSION}")
    stream = backend.rng().bit_generator
    state = stream.state  # building draws weights the file replaces: leave the seeded stream alone
    if "functional" in spec:
        f = spec["functional"]
        inputs = [Input(shape=tuple(i["shape"]), batch_size=i["batch"], dtype=i["dtype"], name=i["name"])
                  for i in f["inputs"]]  # fmt: skip
        layers = [_make_layer(s, custom_objects) for s in f["layers"]]
        made: list[KerasTensor] = []  # the tensor each node makes
        for n in f["nodes"]:
            args = [inputs[k] if kind == "input" else made[k] for kind, k in n["inputs"]]
            made.append(layers[n["layer"]](args if n["many"] else args[0], training=n["training"]))
        outputs = [inputs[k] if kind == "input" else made[k] for kind, k in f["outputs"]]
        model_inputs = (
            dict(zip(f["input_names"], inputs))
            if f["input_names"]
            else inputs[0]
            if f["single_input"]
            else inputs
        )
        model_outputs: dict[str, KerasTensor] | list[KerasTensor] | KerasTensor
        if f["outputs_as_dict"]:
            model_outputs = dict(zip(f["output_names"], outputs))
        else:
            model_outputs = outputs[0] if f["single_output"] else outputs
        model = Model(model_inputs, model_outputs, name=spec.get("name"))
    else:
        s = spec["subclassed"]
        cls = (custom_objects or {}).get(s["class"])
        if cls is None:
            raise ValueError(
                f"{path} holds a subclassed model {s['class']!r}: pass its class in "
                f"load_model(..., custom_objects={{{s['class']!r}: {s['class']}}})"
            )
        model = cls.from_config(dict(s["config"]))
        zeros = [np.zeros((1, *i["shape"]), dtype=i["dtype"]) for i in s["inputs"]]
        model.forward(zeros[0] if len(zeros) == 1 else zeros, training=False)
    stream.state = state
    weights = [arrays[k] for k in sorted(k for k in arrays if k.startswith("weights/"))]
    model.set_weights(weights)
    if compile and "compile" in spec:
        c = spec["compile"]
        model.compile(optimizer=c["optimizer"], loss=c["loss"], metrics=c["metrics"])
    return model


def read(path) -> dict:
    return read_npz(os.fspath(path))
