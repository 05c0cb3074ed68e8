"""``keras.Input`` and ``keras.Model``: the functional API and subclassed models, on the tape
of ``minidl_keras.graph``.

Functional::

    inputs = keras.Input(shape=(32,))
    x = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10)(layers.Add()([x, layers.Dense(64)(inputs)]))
    model = keras.Model(inputs, outputs)          # the graph between them

Subclassed: ``call`` runs on KerasTensors with the shapes of the batch, so each call records
the same nodes (the graph is kept per input shape and ``training`` flag), and the graph runs
forward and backward as a functional model's does::

    class MLP(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = layers.Dense(64, activation="relu"), layers.Dense(10)

        def call(self, x):
            return self.out(self.hidden(x))

Training is ``Trainer``'s (``compile``, ``fit``, ``evaluate``, ``predict``, callbacks); several
inputs or outputs are passed as lists (or dicts by input name), and ``compile`` takes a loss
and metrics per output (a list, or a dict by output name) with ``loss_weights``.
"""

from __future__ import annotations

import copy
import functools
import inspect

import numpy as np

from minidl import backend
from minidl.nn.layers.base import Layer
from minidl.nn.layers.checks import checked_shape
from minidl.training import metrics as minidl_metrics
from minidl.training.data import yields_batches
from minidl.training.trainer import Trainer

from . import metrics as keras_metrics
from .custom import compiled_loss
from .fitting import KerasFit
from .graph import Graph, KerasTensor, dtype_name, is_symbolic, record
from .keras_api import KerasAbsent
from .masking import attach_to_loss_and_metrics
from .missing import KerasFeatureMissing
from .naming import name_layer, unique_name
from .weights import KerasLayerAPI, KerasWeights

__all__ = ["Input", "InputLayer", "Model"]


class InputLayer(KerasLayerAPI, Layer):
    """The entry of a functional model's ``layers`` for one ``keras.Input`` (no weights); as the
    first entry of a ``keras.Sequential`` it declares the per-sample input shape (not kept in
    ``layers``, as in Keras). ``batch_shape`` is ``(batch_size, *shape)``."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ValueError("InputLayer needs the per-sample shape, e.g. InputLayer(shape=(784,))")
        self.shape = checked_shape(shape, "InputLayer")
        self.batch_size = batch_size
        self.dtype = dtype_name(dtype or "float32")
        self.build(self.shape)

    @property
    def batch_shape(self) -> tuple:
        return (self.batch_size, *self.shape)

    def get_config(self) -> dict:
        """Keras's: ``batch_shape``, ``dtype``, ``sparse``, ``ragged``, ``name``, ``optional``
        (the door's inputs are dense and required: ``options``)."""
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": False, "ragged": False,
                "name": self.name, "optional": False}  # fmt: skip

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, **unsupported):
    """A symbolic input: ``Input(shape=(28, 28, 1))`` is a KerasTensor of shape
    ``(None, 28, 28, 1)`` (``batch_size`` fixes the first axis). ``dtype="int32"`` for token ids."""
    if unsupported:
        raise NotImplementedError(
            f"keras.Input({', '.join(sorted(unsupported))}=...) is not in minidl_keras: it takes "
            "shape, batch_size, dtype, name and batch_shape"
        )
    if batch_shape is not None:
        batch_size, shape = batch_shape[0], batch_shape[1:]
    if shape is None:
        raise ValueError("keras.Input needs the per-sample shape, e.g. keras.Input(shape=(784,))")
    shape = checked_shape(shape, "keras.Input")
    if name is None:
        name = unique_name("input_layer")
    tensor = KerasTensor((batch_size, *shape), dtype or "float32", name=name)
    tensor.input_layer = InputLayer(shape, dtype=tensor.dtype, name=name)
    tensor.input_layer.__dict__["_keras_output"] = tensor  # Keras's input_layer.output: this tensor
    return tensor


class _ShapeOnly:
    """The shape and dtype of a batch without its values: what ``Model.build`` records a
    subclassed model's graph for."""

    dtype = np.dtype("float32")

    def __init__(self, shape):
        self.shape = shape


class _Columns:
    """Several arrays with the same samples, sliced together: a multi-input ``x`` or a
    multi-output ``y`` as ``fit``'s batching sees one array (``len``, ``[index]``)."""

    ndim = 1
    dtype = np.dtype(object)

    def __init__(self, arrays):
        self.arrays = list(arrays)
        sizes = {len(a) for a in self.arrays}
        if len(sizes) != 1:
            raise ValueError(
                f"all inputs (and all targets) need the same number of samples, got {sorted(sizes)}"
            )

    def __len__(self) -> int:
        return len(self.arrays[0])

    @property
    def shape(self):
        return (len(self),)

    def __getitem__(self, index):
        return _Columns([a[index] for a in self.arrays])


class Model(KerasFit, KerasWeights, KerasAbsent, Trainer):  # fit in Keras's order
    """A functional model (``Model(inputs, outputs)``) or, subclassed, a model whose ``call``
    says what it computes. It is also a layer: call it on a KerasTensor inside another model."""

    keras_kind = "Model"  # its row of keras_api.ABSENT

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"keras.Model got unexpected argument(s) {', '.join(sorted(kwargs))}")
        self.name = name
        self.device, self.device_chosen = "cpu", False
        self.optimizer = self.loss = None
        self.metrics: list = []
        self.stop_training = False
        self.history = None
        self.epochs_completed = 0
        self.cache = None
        self._traces: dict = {}
        self._input_names: list = []
        self._output_names: list = []
        if inputs is None and outputs is None:
            if type(self) is Model or type(self).call is Model.call:
                raise TypeError(
                    "keras.Model needs inputs and outputs (keras.Model(inputs, outputs)), or a "
                    "subclass that defines call(inputs)"
                )
            self.graph = None
            return
        self._input_names, flat_inputs = _flatten(inputs, "inputs")
        self._output_names, flat_outputs = _flatten(outputs, "outputs")
        self._outputs_as_dict = isinstance(outputs, dict)
        self._single_input = not isinstance(inputs, (list, tuple, dict))
        self._single_output = not isinstance(outputs, (list, tuple, dict))
        for t in flat_inputs:
            if not is_symbolic(t) or not hasattr(t, "input_layer"):
                raise TypeError(f"keras.Model inputs must come from keras.Input(...), got {t!r}")
        self.graph = Graph(flat_inputs, flat_outputs)
        for layer in self.layers:  # Keras's names ("dense", "dense_1", ...) for the unnamed ones
            if _is_layer(layer):
                name_layer(layer)
        if not self._output_names:
            self._output_names = [
                t.name or f"output_{i}" for i, t in enumerate(flat_outputs)
            ]  # Keras names outputs after their layers

    def __setattr__(self, key, value):
        """Keep the layers a subclass assigns (``self.dense = Dense(..)``), in order: its ``layers``."""
        if isinstance(value, (Layer, Model)) or hasattr(value, "leaf_layers"):
            if isinstance(value, Layer):
                name_layer(value)
            tracked = self.__dict__.setdefault("_tracked", [])
            if not any(value is t for t in tracked):
                tracked.append(value)
        object.__setattr__(self, key, value)

    def call(self, inputs, training=None):
        """What a subclass computes (records nodes on KerasTensors)."""
        raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs)")

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list:
        """Keras's ``model.layers``: an ``InputLayer`` per input then each layer once, in call
        order (functional); the layers assigned as attributes (subclassed). A nested model is
        one entry."""
        if self.graph is None:
            return list(self.__dict__.get("_tracked", []))
        inputs = [t.input_layer for t in self.graph.inputs]
        return inputs + [layer for layer in self.graph.layers() if _is_layer(layer)]

    def leaf_layers(self) -> list:
        """Every layer that holds weights, nested models opened (what the optimizer updates)."""
        leaves: list = []
        for layer in self.layers:
            for leaf in _leaves(layer):
                if not any(leaf is seen for seen in leaves):
                    leaves.append(leaf)
        return leaves

    @property
    def inputs(self):
        return None if self.graph is None else list(self.graph.inputs)

    @property
    def outputs(self):
        return None if self.graph is None else list(self.graph.outputs)

    @property
    def built(self) -> bool:
        return self.graph is not None or bool(self._traces)

    @property
    def dtype(self) -> str:
        """The weights' dtype (Keras's ``model.dtype``): float32 unless built otherwise."""
        for leaf in self.leaf_layers():
            for value in leaf.params.values():
                return value.dtype.name
        return "float32"

    def _symbolic_graph(self, what: str) -> Graph:
        if self.graph is not None:
            return self.graph
        if self._traces:
            return list(self._traces.values())[-1]
        raise AttributeError(
            f"{self.label} has no {what} yet: a subclassed model has one once it has run on a batch "
            "(or model.build((None, ...)))"
        )

    @property
    def input_shape(self):  # type: ignore[override]  # Trainer declares an attribute
        """Keras's ``model.input_shape``: ``(None, ...)``, a list of them for several inputs;
        ``None`` before a subclassed model has run."""
        if self.graph is None and not self._traces:
            return None
        shapes = [t.shape for t in self._symbolic_graph("input_shape").inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def sample_shape(self) -> None:
        """No one shape to check a batch against: the graph checks each input as it runs."""
        return None

    @property
    def output_shape(self):
        """Keras's ``model.output_shape``: ``(None, ...)``, a list of them for several outputs."""
        shapes = [t.shape for t in self._symbolic_graph("output_shape").outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self) -> list:
        graph = self._symbolic_graph("input_names")
        return self._input_names or [t.name for t in graph.inputs]

    @property
    def output_names(self) -> list:
        """Keras's ``model.output_names``: each output's name (its layer's, or the dict's key)."""
        graph = self._symbolic_graph("output_names")
        return self._output_names or [t.name or f"output_{i}" for i, t in enumerate(graph.outputs)]

    @property
    def input(self):
        """Keras's ``model.input``: the input tensor (a list of them for several)."""
        inputs = self._symbolic_graph("input").inputs
        return inputs[0] if len(inputs) == 1 else list(inputs)

    @property
    def output(self):
        """Keras's ``model.output``: the output tensor (a list of them for several)."""
        outputs = self._symbolic_graph("output").outputs
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def build(self, input_shape) -> None:
        """Keras's ``build(input_shape)`` (the batch axis first, ``(None, 4)``; a list of shapes
        for several inputs): a subclassed model records its graph for that shape, building its
        layers (nothing is computed). A functional model is built already."""
        if self.graph is not None:
            return
        shapes = input_shape if input_shape and isinstance(input_shape[0], (list, tuple)) else [input_shape]
        for shape in shapes:
            if shape is None or len(tuple(shape)) < 2:
                raise ValueError(
                    f"{self.label}.build takes Keras's input_shape, the batch axis first: "
                    f"model.build((None, 4)); got {input_shape!r}"
                )
        arrays = [_ShapeOnly(tuple(shape)) for shape in shapes]
        self._graph_for(arrays, False)

    @property
    def trainable(self) -> bool:
        return any(leaf.trainable for leaf in self.leaf_layers()) if self.leaf_layers() else True

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """``model.trainable = False`` freezes every layer inside, nested models and sub-layers too (Keras)."""
        for leaf in self.leaf_layers():
            for _, layer in leaf.layers_within():
                layer.trainable = bool(value)

    # ------------------------------------------------------------------ computing
    def _arrays(self, x) -> list:
        """The model's inputs as a list of arrays, from an array, a list or a dict by name."""
        if isinstance(x, _Columns):
            return x.arrays
        if isinstance(x, dict):
            if self.graph is None:
                raise ValueError(
                    f"a subclassed model ({type(self).__name__}) has no named inputs: pass an array or "
                    f"a list of arrays, not a dict with keys {sorted(x)}"
                )
            names = self._input_names or [t.name for t in self.graph.inputs]
            missing = [n for n in names if n not in x]
            if missing:
                raise ValueError(f"the inputs dict lacks {missing}; this model's inputs are {names}")
            return [x[n] for n in names]
        if isinstance(x, (list, tuple)) and (self.graph is None or len(self.graph.inputs) > 1):
            return list(x)
        return [x]

    def _graph_for(self, xs, training: bool) -> Graph:
        if self.graph is not None:
            return self.graph
        key = (tuple((tuple(x.shape)[1:], np.dtype(x.dtype).name) for x in xs), bool(training))
        if key not in self._traces:
            inputs = [
                KerasTensor((None, *tuple(x.shape)[1:]), x.dtype, name=f"input_{i}") for i, x in enumerate(xs)
            ]
            outputs = self._call_symbolic(inputs[0] if len(inputs) == 1 else inputs, training)
            flat = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
            self._single_output = not isinstance(outputs, (list, tuple))
            self._traces[key] = Graph(inputs, flat)
        return self._traces[key]

    def _call_symbolic(self, inputs, training):
        if "training" in inspect.signature(self.call).parameters:
            return self.call(inputs, training=training)
        return self.call(inputs)

    def forward(self, x, training: bool = False):
        """Run the graph on arrays; one output as an array, several as a list."""
        xs = [
            backend.to_device(np.asarray(a), "cpu") if not hasattr(a, "shape") else a for a in self._arrays(x)
        ]
        graph = self._graph_for(xs, training)
        ys, tape = graph.forward(xs, training)
        self.cache = (graph, tape)
        self.output_mask = tape.masks[0] if len(ys) == 1 else tape.masks  # Keras's, for the loss
        return ys[0] if len(ys) == 1 else ys

    def backward(self, dy, input_grad: bool = True):
        """Run the graph backward from ``dL/d(outputs)``; returns ``dL/d(inputs)``."""
        if self.cache is None:
            raise RuntimeError("Model.backward called before forward")
        graph, tape = self.cache
        dxs = graph.backward(tape, dy if len(graph.outputs) > 1 else [dy])
        return dxs[0] if len(dxs) == 1 else dxs

    def __call__(self, x, training=None, **keywords):
        first = x[0] if isinstance(x, (list, tuple)) and x else x
        if keywords:
            raise NotImplementedError(
                f"calling a model with {', '.join(sorted(keywords))}= is not in minidl_keras: pass "
                "masks and states to the layers inside its call"
            )
        if is_symbolic(first):
            return record(self, x)
        return self.forward(x, training=bool(training))

    def symbolic_output(self, x):
        """The output spec when this model is called on KerasTensors inside another model."""
        if self.graph is None:
            outputs = self._call_symbolic(x, False)
        else:
            for given, own in zip(x if isinstance(x, (list, tuple)) else [x], self.graph.inputs):
                if len(given.shape) != len(own.shape) or any(
                    g is not None and o is not None and g != o for g, o in zip(given.shape[1:], own.shape[1:])
                ):  # None (a free length) matches any size, as in Keras
                    raise ValueError(f"{self.label} takes inputs {own.shape}, got {given.shape}")
            outputs = self.graph.outputs
        if isinstance(outputs, (list, tuple)):
            if len(outputs) != 1:
                raise NotImplementedError(
                    f"{self.label} has {len(outputs)} outputs: minidl_keras calls a model inside "
                    "another model only when it has one output"
                )
            outputs = outputs[0]
        return outputs.shape, outputs.dtype

    @property
    def label(self) -> str:
        return self.name or type(self).__name__

    def zero_grad(self) -> None:
        for leaf in self.leaf_layers():
            leaf.zero_grad()

    def regularization_loss(self) -> float:
        return sum(leaf.regularization_loss() for leaf in self.leaf_layers())

    def on_device(self, a):
        if isinstance(a, _Columns):
            return _Columns([self.on_device(v) for v in a.arrays])
        if isinstance(a, (list, tuple)):
            return _Columns([self.on_device(v) for v in a])
        if self.device == "cpu" and backend.device_of(a) == "cpu":
            return a
        return backend.to_device(a, self.device)

    def as_input(self, x):
        """Inputs as ``fit`` feeds them: floats cast to float32, integer ids kept."""
        arrays = [np.asarray(a) if not hasattr(a, "dtype") else a for a in self._arrays(x)]
        arrays = [
            a.astype(np.float32) if a.dtype.kind == "f" and a.dtype != np.float32 else a for a in arrays
        ]
        return arrays[0] if len(arrays) == 1 else _Columns(arrays)

    def to(self, device: str) -> Model:
        device = backend.check_device(device)
        for leaf in self.leaf_layers():
            leaf.to(device)
        if self.optimizer is not None:
            self.optimizer.to(device)
        self.device, self.device_chosen = device, True
        return self

    # ------------------------------------------------------------------ training
    # Keras 3's signature: loss_weights third (minidl's Trainer.compile takes metrics by name)
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, **unsupported):
        """Keras's ``compile``: one loss, or one per output (list, or dict by output name),
        weighted by ``loss_weights``; metrics likewise (a flat list: the same for every output).
        A metric function is called as Keras calls it, ``fn(y_true, y_pred)``."""
        from . import optimizers as keras_optimizers

        for key in ("jit_compile", "run_eagerly", "auto_scale_loss"):  # change nothing here
            unsupported.pop(key, None)
        steps = unsupported.pop("steps_per_execution", 1)
        if steps != 1:
            raise KerasFeatureMissing(
                f"compile(steps_per_execution={steps!r}) is not in minidl_keras: it runs one batch per "
                "step; leave steps_per_execution at 1 (Keras's default)"
            )
        if unsupported:
            raise NotImplementedError(
                f"compile({', '.join(sorted(unsupported))}=...) is not in minidl_keras: it takes "
                "optimizer, loss, loss_weights and metrics"
            )
        self.optimizer = keras_optimizers.get(optimizer)
        if loss is None:  # Keras allows it: a train_step override computes its own losses
            self.loss = None  # (fit without such an override says compile needs a loss)
            self.metrics = _unique_names([_metric(m, None, None, "") for m in _as_list(metrics)])
            return
        names = self._output_names or ["output"]
        n = len(names)
        saved = isinstance(loss, dict) and "class" in loss  # a loss read from a model file
        if n == 1 and (saved or not isinstance(loss, (list, tuple, dict))):
            self.loss = compiled_loss(loss)
            self.metrics = [_metric(m, self.loss, None, "") for m in _as_list(metrics)]
        else:
            per_output = _per_output(loss, names, "loss")
            losses = [None if spec is None else compiled_loss(spec) for spec in per_output]
            weights = _per_output(1.0 if loss_weights is None else loss_weights, names, "loss_weights")
            self.loss = _OutputLosses(losses, [1.0 if w is None else float(w) for w in weights])
            # each output's own (unweighted) loss is logged as "<output>_loss", as Keras does
            self.metrics = [
                (f"{name}_loss", functools.partial(self.loss.recorded, i))
                for i, name in enumerate(names)
                if losses[i] is not None
            ]
            per_metrics = _per_output(metrics or [], names, "metrics", flat_is_shared=True)
            for i, (name, specs) in enumerate(zip(names, per_metrics)):
                for m in _as_list(specs):
                    self.metrics.append(_metric(m, losses[i], i, f"{name}_"))
        self.metrics = _unique_names(self.metrics)
        attach_to_loss_and_metrics(self)  # a masked sequence output: loss and metrics over real steps
        if self.device != "cpu":
            self.optimizer.to(self.device)

    def _pack(self, data):
        if data is None or isinstance(data, _Columns) or hasattr(data, "shape"):
            return data
        if isinstance(data, dict):
            return _Columns(self._arrays(data)) if self.graph is not None else data
        if isinstance(data, (list, tuple)) and data and all(hasattr(a, "shape") for a in data):
            return _Columns([np.asarray(a) for a in data])
        return data

    def _pack_y(self, y):
        if isinstance(y, dict):
            return _Columns([y[name] for name in self._output_names])
        return self._pack(y)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs in inference mode: an array, or a list of arrays for several outputs. A
        source of batches (a ``PyDataset``, a ``Sequence``, a generator) is read batch by batch."""
        if yields_batches(x):
            return self._predict_source(x, steps, callbacks)
        arrays = self._arrays(x)
        method = self._override("predict_step")
        if method is not None:
            return self._predict_by_step(method, arrays, batch_size, steps, callbacks)

        def run(x):
            ys = self.forward(self.as_input(x), training=False)
            return [backend.to_numpy(y) for y in (ys if isinstance(ys, list) else [ys])]

        chunks = self._predict_batches(arrays, batch_size, steps, callbacks, run)
        outputs = [np.concatenate(parts, axis=0) for parts in zip(*chunks)]
        return outputs[0] if len(outputs) == 1 else outputs

    # ------------------------------------------------------------------ inspection and weights
    def count_params(self) -> int:
        """The number of scalars in the weights, trainable or not (Keras returns one int)."""
        return sum(self._trainable_counts())

    def _trainable_counts(self):
        counts = [Layer.count_params(leaf) for leaf in self.leaf_layers()]  # each leaf's own weights
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def summary(self, print_fn=print) -> None:
        """A row per layer (name, type, output shape, parameters; and, for a model that is not
        one chain, Keras's "Connected to": each input as ``layer[0][i]``), then the totals with
        their sizes in bytes (``"Total params: 44 (176.00 B)"``), as Keras prints them."""
        graph = self.graph if self.graph is not None else next(reversed(self._traces.values()), None)
        shapes: dict[int, tuple] = {}
        inbound: dict[int, list[str]] = {}
        if graph is not None:
            shapes = {id(getattr(t, "input_layer", t)): t.shape for t in graph.inputs}
            shapes.update({id(node.layer): node.output.shape for node in graph.nodes})
            for node in graph.nodes:
                inbound.setdefault(id(node.layer), [_source(t) for t in node.inputs[: node.n_main]])
        chain = graph is None or _is_chain(graph)
        header = ("Layer (type)", "Output Shape", "Param #") + (() if chain else ("Connected to",))
        rows = [header]
        for layer in self.layers:
            name = getattr(layer, "name", None) or type(layer).__name__.lower()  # a nested model
            count = layer.count_params()
            count = count if isinstance(count, int) else sum(count)
            kind = getattr(layer, "display_name", type(layer).__name__)  # keras.Sequential's: Sequential
            row = (f"{name} ({kind})", str(shapes.get(id(layer), "?")), f"{count:,}")
            if not chain:
                row += (inbound.get(id(layer)) or ["-"],)  # type: ignore[assignment]
            rows.append(row)
        cells = [[c if isinstance(c, list) else [c] for c in r] for r in rows]
        widths = [max(len(line) for r in cells for line in r[c]) + 2 for c in range(len(header))]
        line = "=" * sum(widths)

        def text(row) -> list[str]:
            height = max(len(c) for c in row)
            lines = []
            for i in range(height):
                part = [c[i] if i < len(c) else "" for c in row]
                out = f"{part[0]:<{widths[0]}}{part[1]:<{widths[1]}}{part[2]:>{widths[2]}}"
                lines.append(out + (f"  {part[3]}" if len(part) > 3 else ""))
            return lines

        trainable, frozen = self._trainable_counts()
        size = np.dtype(self.dtype or "float32").itemsize
        table = [f'Model: "{self.name or "functional"}"', line, *text(cells[0]), line]
        table += [out for row in cells[1:] for out in text(row)] + [line]
        table += [
            f"Total params: {trainable + frozen:,} ({readable_size((trainable + frozen) * size)})",
            f"Trainable params: {trainable:,} ({readable_size(trainable * size)})",
            f"Non-trainable params: {frozen:,} ({readable_size(frozen * size)})",
        ]
        print_fn("\n".join(table))

    def _weight_layers(self) -> list:
        return self.leaf_layers()

    def save(self, filepath, include_optimizer: bool = True) -> None:
        """Write the model (its graph, or a subclass's class and config) and its weights to one
        ``.npz`` file (whatever the name); ``keras.models.load_model(path, custom_objects=...)``
        rebuilds it bit for bit (``minidl_keras.model_file``). With ``include_optimizer`` (the
        default, as Keras) the optimizer's moments and step counts, the epochs completed and
        the random stream are kept too: training resumes where it stopped."""
        from . import model_file

        model_file.save(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath) -> None:
        """Keras's ``save_weights``: the arrays of ``get_weights`` (no architecture, no
        optimizer) in one ``.npz`` file, whatever its name (``"m.weights.h5"`` works);
        ``load_weights`` puts them back into a model of the same layers."""
        from minidl.training import saving

        if not self.built:
            raise ValueError(f"{self.label}.save_weights needs a built model (run it on a batch first)")
        saving.write_weights(filepath, self.get_weights())

    def load_weights(self, filepath) -> None:
        """Assign the weights that ``save_weights`` wrote (checked array by array, as ``set_weights``)."""
        from minidl.training import saving

        weights = saving.read_weights(filepath)
        if not self.built:
            raise ValueError(f"{self.label}.load_weights needs a built model (run it on a batch first)")
        self.set_weights(weights)

    def to_json(self, **dumps_options) -> str:
        """Keras's ``to_json``: the architecture (no weights) as a JSON string in minidl_keras's
        own format (``model_file.to_json``); ``keras.models.model_from_json`` reads it back."""
        from . import model_file

        return model_file.to_json(self, **dumps_options)

    def get_config(self) -> dict:
        """A functional model's Keras structure (``keras_config.functional_config``: name, layers,
        input and output layers); a subclass's constructor arguments (those given by keyword;
        override for others)."""
        if type(self) is Model and self.graph is not None:
            from . import keras_config

            return keras_config.functional_config(self)
        return dict(self.__dict__.get("_init_config", {}))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    def __new__(cls, *args, **kwargs):
        model = super().__new__(cls)
        if cls is not Model and not args:
            object.__setattr__(model, "_init_config", dict(kwargs))
        return model


# ---------------------------------------------------------------------- helpers
def _is_layer(obj) -> bool:
    return isinstance(obj, (Layer, Model)) or hasattr(obj, "layers")


def _leaves(layer) -> list:
    if hasattr(layer, "leaf_layers"):
        return layer.leaf_layers()
    if hasattr(layer, "layers") and not isinstance(layer, Layer):  # a minidl Sequential
        return [leaf for inner in layer.layers for leaf in _leaves(inner)]
    return [layer] if isinstance(layer, Layer) else []


def _flatten(structure, what):
    """``(names, tensors)`` of a tensor, a list of them, or a dict by name."""
    if isinstance(structure, dict):
        return list(structure), list(structure.values())
    if isinstance(structure, (list, tuple)):
        return [], list(structure)
    if structure is None:
        raise ValueError(f"keras.Model needs {what}")
    return [], [structure]


def _as_list(specs) -> list:
    if specs is None:
        return []
    return [specs] if isinstance(specs, str) or callable(specs) else list(specs)


def _per_output(spec, names, what, flat_is_shared=False) -> list:
    """One entry per output from a dict by name, a list in output order, or one for all."""
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(f"compile {what} names {unknown}, but the outputs are {names}")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)) and not (
        flat_is_shared and not any(isinstance(s, (list, tuple, dict)) for s in spec)
    ):
        if len(spec) != len(names):
            raise ValueError(f"compile {what} has {len(spec)} entries for {len(names)} outputs {names}")
        return list(spec)
    return [spec] * len(names)


_MINIDL_METRICS = set(minidl_metrics.METRICS.values())


def _metric(spec, loss, output, prefix):
    """``(name, metric)`` as ``Trainer`` reads it (a ``Metric`` object, or a function
    ``fn(y_pred, y_true)`` that ``Tally`` averages over samples), for output number ``output``
    (None: the only one). A Keras metric object or string (``keras.metrics.AUC()``, ``"auc"``)
    accumulates over the epoch; a user's function is Keras's ``fn(y_true, y_pred)``, averaged."""
    metric = keras_metrics.get(spec)
    if metric is not None:
        name = metric.name
        if output is not None:
            metric = copy.deepcopy(metric)  # each output counts its own
    elif callable(spec) and spec not in _MINIDL_METRICS:
        user = spec
        name = getattr(user, "name", None) or getattr(user, "__name__", "metric")

        def metric(y_pred, y_true):
            return float(np.mean(backend.to_numpy(user(y_true, y_pred))))

    else:
        if loss is None:
            raise ValueError(f"a metric for output {prefix[:-1]!r} needs a loss on that output")
        name, metric = minidl_metrics.get(spec, loss)
        name = spec if isinstance(spec, str) else name  # Keras logs a metric under the string given
    if output is None:
        return name, metric
    return f"{prefix}{name}", _OnOutput(metric, output)


def _unique_names(metrics) -> list:
    """``(name, metric)`` pairs with Keras's names where two share one: the second ``"auc"`` is
    logged as ``"auc_1"``, the third ``"auc_2"``."""
    seen: dict = {}
    unique = []
    for name, metric in metrics:
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name] - 1}"
        else:
            seen[name] = 1
        unique.append((name, metric))
    return unique


class _OnOutput(keras_metrics.Feeding):
    """A metric of output ``i`` of a model with several: fed ``y_pred[i]`` and target column ``i``."""

    def __init__(self, metric, i):
        super().__init__(metric)
        self.i = i

    def update(self, y_pred, y_true) -> None:
        self.inner.update(y_pred[self.i], _column(y_true, self.i))


def _column(y, i):
    return y.arrays[i] if isinstance(y, _Columns) else y[i]


class _OutputLosses:
    """The loss of a model with several outputs: ``sum_i w_i loss_i(y_pred[i], y_true[i])``;
    ``backward`` gives each output its own ``w_i dloss_i/dy_pred``."""

    accuracy = None

    def __init__(self, losses, weights):
        self.losses, self.weights = losses, weights

    def __call__(self, y_pred, y_true, sample_weight=None) -> float:
        self.values = [
            None if loss is None else loss(y_pred[i], _column(y_true, i), sample_weight=sample_weight)
            for i, loss in enumerate(self.losses)
        ]
        return sum(w * v for w, v in zip(self.weights, self.values) if v is not None)

    def recorded(self, i, y_pred=None, y_true=None) -> float:
        """Output ``i``'s unweighted loss in the last call (what ``<output>_loss`` logs)."""
        return self.values[i]

    def backward(self):
        return [None if loss is None else w * loss.backward() for loss, w in zip(self.losses, self.weights)]

    def get_config(self) -> dict:
        return {"losses": [type(loss).__name__ for loss in self.losses], "weights": self.weights}


def readable_size(n_bytes: float) -> str:
    """Keras's size of the weights in a summary: ``176.00 B``, ``1.50 KB`` (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes < 1024:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def _source(tensor) -> str:
    """Keras's "Connected to" entry of ``tensor``: its layer's name, ``[0][i]`` (node 0, output i)."""
    node = getattr(tensor, "node", None)
    if node is None:
        layer = getattr(tensor, "input_layer", None)
        return f"{getattr(layer, 'name', None) or tensor.name}[0][0]"
    outputs = node.outputs if hasattr(node, "outputs") else [node.output]
    index = next((i for i, t in enumerate(outputs) if t is tensor), 0)
    return f"{getattr(node.layer, 'name', None)}[0][{index}]"


def _is_chain(graph) -> bool:
    """Whether the graph is one input through one layer after another (Keras's "sequential
    like" model, whose summary has no "Connected to" column)."""
    if len(graph.inputs) != 1:
        return False
    used: dict[int, int] = {}
    for node in graph.nodes:
        if node.n_main != 1:
            return False
        used[id(node.inputs[0])] = used.get(id(node.inputs[0]), 0) + 1
    return all(n == 1 for n in used.values())
