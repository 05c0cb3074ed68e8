"""What the door adds to minidl's model file (``minidl.training.saving``, the one place a file
is written and read): the description of a functional or subclassed ``keras.Model``, so that
``load_model`` gives it back bit for bit, ready to train on where it stopped.

Such a model's file is written by ``saving.write_model`` under the key
``"__minidl_keras_model__"``: this module's JSON description, the weights as ``get_weights``
gives them (``weights/00000``, ...) and the constants the graph reads (``constants/0``, ...);
``saving`` adds the compile settings and the training state, as for a ``Sequential``:

* a functional model: its inputs (shape, dtype, name), the distinct things its nodes call, in
  order -- a layer (class, config, trainable), a ``keras.ops`` function (name and arguments:
  ``{"op": "sum", "config": {"axis": 1, ...}}``) or a nested model (described the same way,
  recursively) -- and its nodes in topological order, each naming what it calls and the
  tensors it reads (``["input", k]``, ``["node", j]`` or ``["constant", c]``); loading calls
  the same things on new ``keras.Input``s in the same order, which rebuilds the same graph;
* a subclassed model: its class name, ``get_config()`` and the input shapes it was run on;
  loading makes ``cls.from_config(config)`` (``cls`` from ``custom_objects``), runs it once on
  zeros of those shapes (inference mode: no statistics move) and assigns the weights;
* a ``keras.Sequential`` inside a model: its layers, as ``Sequential.get_config`` gives them.

A ``keras.Sequential`` alone is saved as minidl's ``Sequential`` is; ``load`` reads both kinds.

A custom layer is found in ``custom_objects`` (or among the classes defined in the process, by
name and module: ``saving.saved_class``), a
``Lambda``'s function by name (``Lambda.get_config``). The training state is
``minidl.training.saving``'s, as ``Sequential.save`` keeps it: the optimizer's moments and step
counts, the epochs completed and the random stream, so save -> load -> fit goes on as if
training had never stopped.
"""

from __future__ import annotations

import inspect
import json
import os

import numpy as np

from minidl.nn.layers.base import Layer
from minidl.training import saving
from minidl.training.saving import jsonable

from .graph import KerasTensor
from .layout import door_class
from .weights import as_keras_layer, keras_class

FORMAT, FORMAT_VERSION = "minidl.keras.Model", 2
KEY = "__minidl_keras_model__"

__all__ = ["save", "load", "make_layer", "KEY", "to_json", "from_json"]


# ---------------------------------------------------------------------- saving
def save(model, path, include_optimizer: bool = True) -> None:
    """Write ``model`` (built) to ``path``: description, weights, constants and training state."""
    if not model.built:
        raise ValueError("save needs a built model: run one batch through it first (model.predict(x[:1]))")
    constants: list = []
    description = {"model": describe(model, constants)}
    arrays = {f"weights/{i:05d}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"constants/{i}": value for i, value in enumerate(constants)})
    saved_loss = model.loss is not None and type(model.loss).__name__ != "_OutputLosses"
    saving.write_model(
        path,
        description,
        arrays,
        key=KEY,
        format=FORMAT,
        version=FORMAT_VERSION,
        model=model if saved_loss else None,  # a loss per output is not kept: compile again
        layers=model.leaf_layers(),
        include_optimizer=include_optimizer,
    )


def describe(model, constants: list) -> dict:
    """A model as JSON: ``{"functional": ...}``, ``{"subclassed": ...}`` or ``{"sequential": ...}``
    (a ``keras.Sequential``); ``constants`` collects the arrays its graph reads."""
    if not hasattr(model, "graph"):  # a keras.Sequential (minidl's Sequential underneath)
        config = model.minidl_config()
        keep = ("name", "input_shape", "dtype", "layers")
        return {"sequential": {k: config[k] for k in keep}}
    if model.graph is not None:
        return {"functional": _graph_spec(model, constants), "name": model.name}
    if not model._traces:
        raise ValueError(f"save needs a built model: call {model.label} on a batch first")
    graph = list(model._traces.values())[-1]
    inputs = [{"shape": list(t.shape[1:]), "dtype": t.dtype} for t in graph.inputs]
    if hasattr(model, "stack"):  # keras.Sequential([base, layers.Dense(10)]): a model among its layers
        entries = [saving.layer_spec(e) if isinstance(e, Layer) else {"model": describe(e, constants)}
                   for e in model.stack]  # fmt: skip
        return {"stack": {"entries": entries, "inputs": inputs}, "name": model.name}
    return {
        "subclassed": {
            "class": type(model).__name__,
            "config": jsonable(model.get_config()),
            "inputs": inputs,
        },
        "name": model.name,
    }


def _graph_spec(model, constants: list) -> dict:
    from .ops import Operation

    graph = model.graph
    refs = {id(t): ["input", k] for k, t in enumerate(graph.inputs)}
    calls: list[dict] = []  # each layer, op or nested model once
    index: dict[int, int] = {}  # id(what a node calls) -> its place in calls
    nodes: list[dict] = []
    for j, node in enumerate(graph.nodes):
        called = node.layer
        if id(called) not in index:
            index[id(called)] = len(calls)
            if isinstance(called, Operation):
                calls.append({"op": called.name, "config": _op_config(called)})
            elif isinstance(called, Layer):
                calls.append(saving.layer_spec(called))
            else:
                calls.append({"model": describe(called, constants)})
        if node.extra or len(node.outputs) > 1:
            raise NotImplementedError(
                f"saving a model whose {type(called).__name__} is called with mask=/initial_state= or "
                "return_state=True is not in minidl_keras: keep the weights with model.get_weights() "
                "(or model.save_weights) and rebuild the model in code"
            )
        for t in node.inputs:
            if id(t) not in refs and hasattr(t, "value"):
                refs[id(t)] = ["constant", len(constants)]
                constants.append(np.asarray(t.value))
            elif id(t) not in refs:
                raise NotImplementedError(
                    f"saving a model whose graph reads {t!r} (a layer's weight outside that layer) is not "
                    "in minidl_keras: read the weight inside a keras.layers.Layer subclass"
                )
        nodes.append({"call": index[id(called)], "inputs": [refs[id(t)] for t in node.inputs],
                      "many": node.many, "training": node.training})  # fmt: skip
        if node.options:  # what the call fixed besides its inputs (MultiHeadAttention's use_causal_mask)
            nodes[-1]["options"] = dict(node.options)
        refs[id(node.output)] = ["node", j]
    return {
        "inputs": [
            {"shape": list(t.shape[1:]), "batch": t.shape[0], "dtype": t.dtype, "name": t.name}
            for t in graph.inputs
        ],  # fmt: skip
        "input_names": model._input_names if model._input_names else None,
        "single_input": model._single_input,
        "calls": calls,
        "nodes": nodes,
        "outputs": [refs[id(t)] for t in graph.outputs],
        "output_names": model._output_names,
        "single_output": model._single_output,
        "outputs_as_dict": getattr(model, "_outputs_as_dict", False),
    }


def _op_config(op) -> dict:
    config = dict(op.config)
    if op.name == "getitem":
        config["index"] = _index_spec(config["index"])
    try:
        return jsonable(config)
    except TypeError:
        raise NotImplementedError(
            f"saving ops.{op.name} with {op.config} is not in minidl_keras (an argument that is not a "
            "number, a string or a list of them): compute it inside a keras.layers.Layer subclass"
        ) from None


def _index_spec(index) -> dict:
    """``tensor[index]``'s index as JSON: ints, slices, ``...`` and ``None`` (a new axis)."""
    items: list[dict | str | int | None] = []
    for item in index if isinstance(index, tuple) else (index,):
        if isinstance(item, slice):
            items.append(
                {"slice": [None if v is None else int(v) for v in (item.start, item.stop, item.step)]}
            )
        elif item is Ellipsis or item is None:
            items.append("..." if item is Ellipsis else None)
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            items.append(int(item))
        else:
            raise NotImplementedError(
                f"saving tensor[{index!r}] is not in minidl_keras: index with ints, slices, ... and None, "
                "or use keras.ops.take"
            )
    return {"tuple": isinstance(index, tuple), "items": items}


def _index_from_spec(spec: dict):
    items = tuple(
        slice(*item["slice"]) if isinstance(item, dict) else Ellipsis if item == "..." else item
        for item in spec["items"]
    )
    return items if spec["tuple"] else items[0]


# ---------------------------------------------------------------------- loading
def load(path, kinds, custom_objects=None, compile=True):
    """Rebuild the model in the file at ``path`` -- a ``keras.Model`` (this module's description)
    or a ``Sequential`` (minidl's, made a ``keras.Sequential``) -- with its weights and, when the
    file holds them, its compile settings and training state. ``kinds`` holds the classes it is
    rebuilt with (``Input``, ``Model``, ``ModelStack``, ``Sequential``: ``keras.models`` passes
    them, as this module sits below it)."""
    from minidl.nn import layers as _register  # noqa: F401  (fills LAYER_CLASSES)

    path = os.fspath(path)
    arrays = saving.read_npz(path)
    if KEY not in arrays:  # minidl's Sequential format
        config, arrays = saving.model_config(arrays, path)
        with saving.keeping_random_stream():  # building draws weights the file replaces
            model = rebuild({"sequential": config}, kinds, custom_objects, [], path)
        saving.load_layer_arrays(model.layers, arrays, path)
        if compile:
            saving.restore_compiled(model, config, arrays, model.layers, path)
        return model
    spec, arrays = saving.model_config(arrays, path, key=KEY, format=FORMAT, version=FORMAT_VERSION)
    if spec.get("format_version") == 1:  # version 1 kept the model's description at the top
        spec["model"] = spec
    constants = [arrays[f"constants/{i}"] for i in range(sum(k.startswith("constants/") for k in arrays))]
    with saving.keeping_random_stream():
        model = rebuild(spec["model"], kinds, custom_objects, constants, path)
    model.set_weights(saving.weights_list(arrays))
    if compile:
        saving.restore_compiled(model, spec, arrays, model.leaf_layers(), path)
    return model


def to_json(model, **dumps_options) -> str:
    """``model.to_json()``: Keras's structure (``keras_config``) and, under ``"minidl_keras"``,
    the description ``save`` writes (no weights), with the constants its graph reads as lists."""
    from . import keras_config

    constants: list = []
    description = describe(model, constants)
    stored = [{"dtype": np.asarray(c).dtype.str, "shape": list(np.shape(c)), "values": np.asarray(c).ravel().tolist()}
              for c in constants]  # fmt: skip
    text = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": description, "constants": stored}
    if "sequential" in description:
        kind, config = "Sequential", model.get_config()
    elif "functional" in description:
        kind, config = "Functional", model.get_config()
    else:
        kind, config = type(model).__name__, model.get_config()
    return json.dumps(keras_config.envelope(kind, config, text), **dumps_options)


def from_json(text: str, kinds, custom_objects=None):
    """``keras.models.model_from_json``: the model ``to_json`` described, with new weights."""
    spec = json.loads(text)
    if isinstance(spec, dict) and isinstance(spec.get("minidl_keras"), dict):
        spec = spec["minidl_keras"]
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ValueError(
            "model_from_json reads the JSON of minidl_keras's model.to_json(); this text is not one "
            f"(format {spec.get('format') if isinstance(spec, dict) else None!r}, expected {FORMAT!r}). "
            "Keras's own JSON names Keras's classes and layouts: rebuild the model with the door's "
            "layers and move the weights with get_weights/set_weights"
        )
    constants = [
        np.asarray(c["values"], dtype=np.dtype(c["dtype"])).reshape(c["shape"]) for c in spec["constants"]
    ]
    return rebuild(spec["model"], kinds, custom_objects, constants, "the JSON")


def rebuild(spec: dict, kinds, custom_objects, constants: list, path: str):
    """The model ``describe`` described, built (weights drawn afresh: ``load`` assigns them)."""
    Input, Model, ModelStack, Sequential = kinds.Input, kinds.Model, kinds.ModelStack, kinds.Sequential
    if "sequential" in spec:
        s = spec["sequential"]
        layers = [make_layer(layer, custom_objects) for layer in s["layers"]]
        model = Sequential(layers, input_shape=s["input_shape"], name=s.get("name"), dtype=s.get("dtype"))
        for layer, layer_spec in zip(layers, s["layers"]):
            saving.refreeze(layer, layer_spec, path)
        return model
    if "subclassed" in spec or "stack" in spec:
        s = spec.get("subclassed") or spec["stack"]
        entries = []
        if "stack" in spec:
            entries = [rebuild(e["model"], kinds, custom_objects, constants, path) if "model" in e
                       else make_layer(e, custom_objects) for e in s["entries"]]  # fmt: skip
            model = ModelStack(entries, name=spec.get("name"))
        elif s["class"] in (custom_objects or {}):
            model = custom_objects[s["class"]].from_config(dict(s["config"]))
        else:
            raise ValueError(
                f"{path} holds a subclassed model {s['class']!r}: pass its class in "
                f"load_model(..., custom_objects={{{s['class']!r}: {s['class']}}})"
            )
        zeros = [np.zeros((1, *i["shape"]), dtype=i["dtype"]) for i in s["inputs"]]
        model.forward(zeros[0] if len(zeros) == 1 else zeros, training=False)
        for entry, entry_spec in zip(entries, s.get("entries", ())):
            if isinstance(entry, Layer):
                saving.refreeze(entry, entry_spec, path)
        return model
    f = spec["functional"]
    inputs = [Input(shape=tuple(i["shape"]), batch_size=i["batch"], dtype=i["dtype"], name=i["name"])
              for i in f["inputs"]]  # fmt: skip
    calls = [
        c if "op" in c else rebuild(c["model"], kinds, custom_objects, constants, path) if "model" in c
        else make_layer(c, custom_objects)
        for c in f.get("calls", f.get("layers"))  # "layers" in version 1
    ]  # fmt: skip
    made: list[KerasTensor] = []  # the tensor each node makes
    sources = {"input": inputs, "node": made, "constant": constants}
    for n in f["nodes"]:
        args = [sources[kind][k] for kind, k in n["inputs"]]
        called = calls[n.get("call", n.get("layer"))]
        if isinstance(called, dict):
            made.append(_call_op(called["op"], args, called["config"]))
        elif n.get("options"):
            made.append(called.record_node(args, n["training"], n["options"]))
        else:
            made.append(called(args if n["many"] else args[0], training=n["training"]))
    for called, call_spec in zip(calls, f.get("calls", f.get("layers"))):
        if isinstance(called, Layer):  # built by the calls above: its sub-layers exist now
            saving.refreeze(called, call_spec, path)
    outputs = [sources[kind][k] for kind, k in f["outputs"]]
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
    return Model(model_inputs, model_outputs, name=spec.get("name"))


def _call_op(name: str, args: list, config: dict):
    """Record ``ops.<name>`` again on the rebuilt tensors, with its saved arguments."""
    from . import ops

    config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    if name == "getitem":
        return ops.getitem(args[0], _index_from_spec(config["index"]))
    if name in ("concatenate", "stack"):
        return getattr(ops, name)(args, **config)
    return getattr(ops, name)(*args, **config)


def make_layer(spec, custom_objects):
    """A saved layer made again: its class from ``custom_objects`` or by name, through
    ``from_config`` where it has one (a ``Lambda`` finds its function there)."""
    cls = (custom_objects or {}).get(spec["class"])
    if cls is None:  # minidl's class, as the door's (which may take Keras's options: Dense)
        cls = keras_class(saving.saved_class(spec))
    if cls is None:
        raise ValueError(
            f"unknown layer class {spec['class']!r}{saving.saved_from(spec)}: pass it in "
            f"load_model(..., custom_objects={{{spec['class']!r}: cls}})"
        )
    config = dict(spec["config"])
    cls = door_class(cls, config)  # a channels-last Conv2D, ...: the door's class
    if not hasattr(cls, "from_config"):
        layer = cls(**config)
    elif "custom_objects" in inspect.signature(cls.from_config).parameters:
        layer = cls.from_config(config, custom_objects=custom_objects)
    else:
        layer = cls.from_config(config)
    layer.trainable = spec.get("trainable", True)
    if isinstance(layer, Layer):
        for _, inner in layer.layers_within():
            as_keras_layer(inner)  # Keras's weight names (layer.kernel) on the loaded layers
    return layer
