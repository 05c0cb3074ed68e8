"""The layer-level tape: what ``keras.Input``, ``keras.Model(inputs, outputs)``, subclassed
models and custom layers are made of.

Chapter 3's autodiff recorded every *scalar* operation; this tape records every *layer*.
A ``KerasTensor`` is a placeholder with a shape and a dtype but no values. Calling a layer
(or a ``keras.ops`` function) on KerasTensors computes nothing: it records a ``Node`` --
the layer, the tensors it read, the tensor it made -- and returns that new KerasTensor::

    inputs = keras.Input((784,))            # a KerasTensor, shape (None, 784), no node
    h = layers.Dense(64)(inputs)            # Node(Dense, [inputs]) -> h
    outputs = layers.Add()([h, inputs_b])   # a node may read several tensors

The nodes form a directed acyclic graph (DAG). ``Graph(inputs, outputs)`` puts them in a
topological order (every node after the nodes that made its inputs) and then

* ``forward`` runs the nodes in that order, each calling its layer's own ``forward``;
* ``backward`` runs them in reverse, each calling its layer's hand-written ``backward``
  (the chain rule one layer at a time, as ``Sequential`` does), and where a tensor fed
  several nodes (fan-out: a shared input, a skip connection) its gradients are **summed**
  -- the multivariate chain rule, exactly what chapter 3's ``Value`` did with ``+=``.

A layer called at several places (a shared layer) holds one ``cache``; the tape keeps each
call's cache (``Tape``) and puts it back before that call's backward, and the weight
gradients of the calls are summed.

Keyword tensors of a call (``lstm(x, initial_state=[h, c])``, ``gru(x, mask=m)``) are further
inputs of its node, so an encoder's states reach the decoder forward and their gradient
(``layer.initial_state_grad``) flows back; a layer with ``return_state`` makes a node of
several outputs. Keras's masks (``Embedding(mask_zero=True)``) are not tensors of the graph:
``forward`` passes them beside the values, node to node, by the rules of
``minidl_keras.masking``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import numpy as np

from minidl.nn.layers.sublayers import own_arrays

from . import layout
from .masking import call_layer

if TYPE_CHECKING:
    from minidl.nn.layers.base import Layer

__all__ = [
    "OPERATORS",
    "KerasTensor",
    "Node",
    "Graph",
    "Tape",
    "record",
    "remember_call",
    "symbolic",
    "is_symbolic",
    "tracing",
    "is_tracing",
    "record_effect",
]


class KerasTensor:
    """A symbolic tensor: ``shape`` (batch axis first, ``None`` where free), ``dtype``, the
    ``node`` that made it (``None`` for an input, a constant or a weight) -- and no values.

    Arithmetic (``a + b``, ``a * 2``, ``a @ w``, ``-a``) records ``keras.ops`` nodes. Asking
    for its values (``np.asarray``, ``float``) is an error that says how to compute instead.
    """

    # Set only on some tensors (read with ``hasattr``): a constant's ``value``, a weight's
    # ``variable`` (its layer and key), a ``keras.Input``'s ``input_layer``.
    value: np.ndarray
    variable: tuple[Layer, str]
    input_layer: Layer  # a keras.InputLayer

    def __init__(self, shape, dtype="float32", name=None, node=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype_name(dtype)
        self.name = name
        self.node = node

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def record_call(self, layer, x, **kwargs):
        """What a layer called on this tensor does (``Layer.__call__`` hands over to here)."""
        return record(layer, x, **kwargs)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is symbolic: it has a shape but no values until the model runs. Compute "
            "with layers or keras.ops functions (keras.ops.exp(x), not np.exp(x)), or call the "
            "model on NumPy arrays: model(x_array) or model.predict(x_array)"
        )

    def __float__(self):
        return self.__array__()

    __int__ = __bool__ = __float__

    # arithmetic records keras.ops nodes
    def _op(self, name, *operands):
        return OPERATORS[name](*operands)

    def __add__(self, other):
        return self._op("add", self, other)

    def __radd__(self, other):
        return self._op("add", other, self)

    def __sub__(self, other):
        return self._op("subtract", self, other)

    def __rsub__(self, other):
        return self._op("subtract", other, self)

    def __mul__(self, other):
        return self._op("multiply", self, other)

    def __rmul__(self, other):
        return self._op("multiply", other, self)

    def __truediv__(self, other):
        return self._op("divide", self, other)

    def __rtruediv__(self, other):
        return self._op("divide", other, self)

    def __matmul__(self, other):
        return self._op("matmul", self, other)

    def __rmatmul__(self, other):
        return self._op("matmul", other, self)

    def __neg__(self):
        return self._op("negative", self)

    def __pow__(self, exponent):
        return self._op("power", self, exponent)

    def __getitem__(self, index):
        return OPERATORS["getitem"](self, index)

    # comparisons record boolean keras.ops nodes (``ops.where(x > 0, x, 0)``); ``==`` stays
    # Python's identity, which the tape's dictionaries of tensors rely on
    def __lt__(self, other):
        return self._op("less", self, other)

    def __le__(self, other):
        return self._op("less_equal", self, other)

    def __gt__(self, other):
        return self._op("greater", self, other)

    def __ge__(self, other):
        return self._op("greater_equal", self, other)


# the ops behind a KerasTensor's operators, filled in by ``minidl_keras.ops`` (which imports this module)
OPERATORS: dict = {}

_TRACING = [0]  # how many custom-layer ``call``s are being recorded right now
_EFFECTS: list[list] = []  # per call being recorded: the tensors of its state updates


class tracing:
    """``with tracing() as effects:`` a custom layer's ``call`` is being recorded on
    KerasTensors. An op that makes a tensor from no input (``keras.ops.arange``) then returns a
    graph constant, so that a layer called on it (``self.pos_emb(positions)``) is recorded, not
    computed once; a weight's update (``self.total.assign_add(ops.sum(x, axis=0))``) is a node
    whose output no one reads, listed in ``effects``: the layer's graph runs it with its outputs."""

    def __enter__(self) -> list:
        _TRACING[0] += 1
        _EFFECTS.append([])
        return _EFFECTS[-1]

    def __exit__(self, *exc):
        _TRACING[0] -= 1
        _EFFECTS.pop()


def is_tracing() -> bool:
    return _TRACING[0] > 0


def record_effect(tensor: KerasTensor) -> None:
    """Keep a state update recorded inside a custom layer's ``call`` (see ``tracing``)."""
    if not _EFFECTS:
        raise NotImplementedError(
            "a weight's assign/assign_add of a symbolic tensor outside a custom layer's call is not "
            "in minidl_keras: update it with arrays (variable.assign_add(values))"
        )
    _EFFECTS[-1].append(tensor)


def dtype_name(dtype) -> str:
    """Keras's name of a dtype: ``"float32"``, ``"int64"``, ... and ``"string"`` for text
    (``"string"``, ``"str"``, NumPy's unicode, bytes or object arrays)."""
    if dtype in ("string", "str", str):
        return "string"
    dtype = np.dtype(dtype)
    return "string" if dtype.kind in "USO" else dtype.name


def is_symbolic(x) -> bool:
    return isinstance(x, KerasTensor)


def symbolic(x) -> KerasTensor:
    """``x`` as a graph leaf: a KerasTensor as it is, anything else a constant."""
    if isinstance(x, KerasTensor):
        return x
    value = np.asarray(x)
    if value.dtype == np.float64 and not hasattr(x, "dtype"):
        value = value.astype(np.float32)  # a Python number does not make the model float64
    constant = KerasTensor(value.shape, value.dtype)
    constant.value = value
    return constant


class Node:
    """One call of ``layer`` on ``inputs`` (KerasTensors) that made ``outputs``.

    ``many``: the layer takes a list (``Add()([a, b])``), else one tensor. ``training``:
    what the call fixed (``Dropout(0.5)(x, training=True)``), ``None`` to follow the model.
    Keyword tensors of the call (``mask=m``, ``initial_state=[h, c]``) are further inputs,
    after the ``n_main`` first ones; ``extra`` lists them as ``(keyword, count, as_list)``.
    A layer with ``return_state`` makes several outputs (``[output, h, c]``); ``output`` is
    the first.
    ``options``: other keyword arguments the call fixed, passed to ``forward``
    (``MultiHeadAttention``'s ``use_causal_mask``).
    """

    made = 0  # nodes recorded so far: each node's serial number says when it was made
    output: KerasTensor  # set by ``record`` once the output's shape is known

    def __init__(self, layer, inputs, many: bool, training=None, options=None):
        self.layer, self.inputs, self.many, self.training = layer, list(inputs), many, training
        self.n_main = len(self.inputs)
        self.extra: list[tuple[str, int, bool]] = []
        self.options = dict(options or {})
        self._outputs: list | None = None
        Node.made += 1
        self.serial = Node.made

    @property
    def outputs(self) -> list:
        """Every output: ``[output]``, or ``[output, *states]`` for ``return_state``."""
        return [self.output] if self._outputs is None else self._outputs

    @outputs.setter
    def outputs(self, tensors) -> None:
        self._outputs = list(tensors)

    def add_keyword(self, key: str, value) -> None:
        """Record a keyword tensor (or list of them) of the call as further inputs."""
        as_list = isinstance(value, (list, tuple))
        tensors = [symbolic(v) for v in (value if as_list else [value])]
        self.inputs += tensors
        self.extra.append((key, len(tensors), as_list))

    def split(self, args: list):
        """The values of ``inputs`` as (main argument, keyword arguments)."""
        main = args[: self.n_main]
        keywords, at = {}, self.n_main
        for key, count, as_list in self.extra:
            keywords[key] = list(args[at : at + count]) if as_list else args[at]
            at += count
        return (main if self.many else main[0]), keywords

    def keyword_inputs(self, key: str) -> list:
        at = self.n_main
        for name, count, _ in self.extra:
            if name == key:
                return self.inputs[at : at + count]
            at += count
        return []


KEYWORDS = ("mask", "initial_state")  # the keyword tensors a layer call may record


def record(layer, x, training=None, **keywords):
    """Record ``layer(x)`` for symbolic ``x`` (a KerasTensor or a list of them): build the
    layer for the input's shape if needed, find the output's shape, return the output tensor
    (a list ``[output, *states]`` for a recurrent layer with ``return_state``)."""
    unsupported = sorted(k for k in keywords if k not in KEYWORDS)
    if unsupported:
        raise NotImplementedError(
            f"{_label(layer)} called with {', '.join(unsupported)}: minidl_keras records a layer "
            "call with its input(s), training=, mask= and initial_state= only"
        )
    if keywords.get("initial_state") is not None and not hasattr(layer, "initial_state_grad"):
        raise NotImplementedError(
            f"{_label(layer)} called with initial_state=: minidl_keras takes it on SimpleRNN, LSTM, "
            "GRU and Bidirectional"
        )
    many = isinstance(x, (list, tuple))
    inputs = [symbolic(t) for t in (x if many else [x])]
    node = Node(layer, inputs, many, training)
    for key in KEYWORDS:
        if keywords.get(key) is not None:
            node.add_keyword(key, keywords[key])
    if hasattr(layer, "symbolic_output"):  # a model or a custom layer finds its own
        shape, dtype = layer.symbolic_output(x if many else inputs[0])
    elif many or not hasattr(layer, "output_shape_for") or all(hasattr(t, "value") for t in inputs):
        shape, dtype = _probe(layer, inputs, many)  # (constant inputs have no batch axis)
    else:
        shape, dtype = _layer_output(layer, inputs[0])
    node.output = KerasTensor(shape, dtype, name=getattr(layer, "name", None), node=node)
    node.outputs = [node.output]
    if getattr(layer, "return_state", False):
        for _ in range(_state_count(layer)):
            node.outputs.append(KerasTensor((shape[0], _units(layer)), dtype, node=node))
    made = list(node.outputs) if len(node.outputs) > 1 else node.output
    remember_call(layer, x, made)
    return made


def remember_call(layer, inputs, outputs) -> None:
    """Keep a layer's first symbolic call: Keras's ``layer.input`` and ``layer.output``
    (``minidl_keras.weights.KerasLayerAPI`` reads them; kept out of the layer's config)."""
    if hasattr(layer, "__dict__") and "_keras_output" not in layer.__dict__:
        layer.__dict__["_keras_input"], layer.__dict__["_keras_output"] = inputs, outputs


def _units(layer) -> int:
    return getattr(layer, "forward_layer", layer).units


def _state_count(layer) -> int:
    """How many states a recurrent layer with ``return_state`` returns (both directions')."""
    inner = getattr(layer, "forward_layer", None)
    return len(layer.state_names) if inner is None else 2 * len(inner.state_names)


def _label(layer) -> str:
    return getattr(layer, "label", None) or getattr(layer, "name", None) or type(layer).__name__


def _layer_output(layer, x: KerasTensor):
    """Build a minidl layer for ``x``'s per-sample shape (as ``Sequential`` does); its output spec."""
    per_sample = x.shape[1:]
    if hasattr(layer, "layers") and not hasattr(layer, "params"):  # a Sequential model
        built_for = (
            layer.sample_shape()
        )  # minidl's per-sample shape (a keras.Sequential's input_shape has the batch axis)
        if built_for is None:
            with getattr(layer, "_per_sample_shapes", contextlib.nullcontext)():
                layer.build(per_sample)
        elif tuple(built_for) != tuple(per_sample):
            raise ValueError(
                f"{_label(layer)} was built for inputs (None, {', '.join(map(str, built_for))}), got {x.shape}"
            )
        return (None, *layer.output_shape_per_sample()), "float32"
    if not layer.built:
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else "float32"
        layer.build(per_sample, dtype=np.dtype(dtype))
    elif layer.params and layer.input_mismatch(layout.inside(layer, per_sample)):
        built_for = ", ".join(map(str, layout.outside(layer, layer.input_shape)))
        raise ValueError(f"{layer.label} was built for inputs (None, {built_for}), got {x.shape}")
    if layer.params:  # the weights' type (an Embedding turns integer ids into floats)
        dtype = next(iter(layer.params.values())).dtype.name
    else:
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else "float32"
    return (None, *layer.output_shape_for(per_sample)), dtype


def _probe(layer, inputs, many):
    """The output spec of a layer or op that has no shape rule: run it on small arrays twice,
    free axes set to 2 and then 3; an axis whose size follows is free (``None``) in the output."""
    outputs = []
    for free in (2, 3):
        arrays = [_probe_array(t, free) for t in inputs]
        try:
            y = layer.forward(arrays if many else arrays[0], training=False)
        except Exception as err:  # a clear error naming the call, not a probe's internals
            shapes = ", ".join(str(t.shape) for t in inputs)
            raise ValueError(f"{_label(layer)} cannot take inputs of shape {shapes}: {err}") from err
        outputs.append(np.asarray(y))
    a, b = outputs
    if a.ndim != b.ndim:
        raise ValueError(f"{_label(layer)}: the output's rank depends on a free axis")
    shape = tuple(n if n == m else None for n, m in zip(a.shape, b.shape))
    return shape, a.dtype.name


def _probe_array(t: KerasTensor, free: int):
    if hasattr(t, "value"):
        return t.value
    shape = tuple(free if d is None else d for d in t.shape)
    return np.ones(shape, dtype=t.dtype)


# ---------------------------------------------------------------------- the graph
class Tape:
    """What one forward pass left for its backward: each node's saved caches (and the masks
    of the outputs, Keras's, for the loss)."""

    def __init__(self):
        self.saved: dict[int, list] = {}
        self.masks: list = []


class Graph:
    """The DAG between ``inputs`` and ``outputs`` (lists of KerasTensors), in topological order.

    Leaves that are not inputs are constants (``.value``) or weights (``.variable``: a
    custom layer's ``add_weight``, whose gradient goes to that layer's ``grads``).
    """

    def __init__(self, inputs, outputs, effects=()):
        self.inputs, self.outputs = list(inputs), list(outputs)
        self.nodes = topological_order(self.outputs + list(effects))  # effects: state updates, run too
        given = {id(t) for t in self.inputs}
        for node in self.nodes:
            for t in node.inputs:
                if (
                    t.node is None
                    and id(t) not in given
                    and not hasattr(t, "value")
                    and not hasattr(t, "variable")
                ):
                    raise ValueError(
                        f"the outputs depend on {t!r}, which is not among the model's inputs "
                        f"{[i.name for i in self.inputs]}: pass it in keras.Model(inputs=[...])"
                    )

    def layers(self) -> list:
        """The distinct layers of the nodes, in the order of their first call."""
        seen, layers = set(), []
        for node in self.nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                layers.append(node.layer)
        return layers

    def forward(self, xs, training: bool = False):
        """Run the nodes in topological order; returns ``(outputs, tape)``."""
        if len(xs) != len(self.inputs):
            raise ValueError(f"this graph takes {len(self.inputs)} input(s), got {len(xs)}")
        values = {id(t): x for t, x in zip(self.inputs, xs)}
        masks: dict[int, object] = {}  # Keras's masks, made and passed on by masking.call_layer
        tape = Tape()
        for node in self.nodes:
            args = [_value(t, values) for t in node.inputs]
            layer = node.layer
            mode = training if node.training is None else bool(node.training)
            if not getattr(layer, "trainable", True) and getattr(layer, "inference_when_frozen", False):
                mode = False  # a frozen BatchNorm runs in inference mode (Keras's rule)
            x, keywords = node.split(args)
            mask: Any
            if node.options:  # a call that fixed options (MultiHeadAttention's use_causal_mask)
                y, mask = layer.forward(x, training=mode, **node.options), None
            else:
                arrived = [masks.get(id(t)) for t in node.inputs[: node.n_main]]
                y, mask = call_layer(layer, x, arrived if node.many else arrived[0], mode, keywords)
            ys, ms = (y, mask) if len(node.outputs) > 1 else ([y], [mask])
            for t, value, m in zip(node.outputs, ys, ms):
                values[id(t)] = value
                if m is not None:
                    masks[id(t)] = m
            tape.saved[id(node)] = save_caches(layer)
        tape.masks = [masks.get(id(t)) for t in self.outputs]
        return [values[id(t)] for t in self.outputs], tape

    def backward(self, tape: Tape, dys):
        """Run the nodes' backward in reverse order from ``dL/d(output)`` (``dys``, one per
        output; ``None`` for an output the loss does not read). Returns ``dL/d(input)`` per
        input (``None`` where nothing flows, e.g. integer ids)."""
        grads: dict[int, object] = {}
        for t, dy in zip(self.outputs, dys):
            _accumulate(grads, t, dy)
        done: set[int] = set()  # layers whose grads already hold a call's gradient
        for node in reversed(self.nodes):
            dy = [grads.pop(id(t), None) for t in node.outputs]
            if all(g is None for g in dy):
                continue
            restore_caches(tape.saved[id(node)])
            layer = node.layer
            earlier = weight_gradients(layer) if id(layer) in done else []
            dx = layer.backward(dy if len(node.outputs) > 1 else dy[0])
            for store, copies in earlier:  # a shared layer: this call's gradients add to the others'
                for key, g in copies.items():
                    store[key] += g
            done.add(id(layer))
            for t, g in zip(node.inputs[: node.n_main], dx if node.many else [dx]):
                if g is not None:
                    _accumulate(grads, t, g)
            states = node.keyword_inputs("initial_state")  # an encoder's states feed this decoder
            if states:
                state_grads = layer.initial_state_grad
                state_grads = list(state_grads) if isinstance(state_grads, (list, tuple)) else [state_grads]
                for t, g in zip(states, state_grads):
                    _accumulate(grads, t, g)
        for node in self.nodes:  # weights read by ops: their gradient is their layer's
            for t in node.inputs:
                if hasattr(t, "variable") and id(t) in grads:
                    owner, key = t.variable
                    g = grads.pop(id(t))
                    if key in owner.grads:  # not for a non-trainable weight (a buffer)
                        owner.grads[key][...] = g
        return [grads.get(id(t)) for t in self.inputs]


def topological_order(outputs) -> list[Node]:
    """Every node the outputs depend on, each after the nodes that made its inputs
    (a depth-first search that appends a node once all its parents are in: chapter 3's order)."""
    order: list[Node] = []
    seen: set[int] = set()

    def visit(tensor):
        node = tensor.node
        if node is None or id(node) in seen:
            return
        seen.add(id(node))
        for parent in node.inputs:
            visit(parent)
        order.append(node)

    for t in outputs:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"a model's outputs must be KerasTensors made from its inputs, got {t!r}")
        visit(t)
    return keras_order(order, outputs)


def keras_order(order: list[Node], outputs) -> list[Node]:
    """The same nodes in the order Keras lists them (and so ``model.layers`` and the weights):
    by depth -- the longest path to an output -- deepest first, then in the order they were
    made. Still topological: a node is deeper than every node that reads its output."""
    depth = {id(node): 0 for node in order}
    for node in reversed(order):  # children before parents
        for parent in node.inputs:
            if parent.node is not None:
                depth[id(parent.node)] = max(depth[id(parent.node)], depth[id(node)] + 1)
    return sorted(order, key=lambda node: (-depth[id(node)], node.serial))


def _value(t: KerasTensor, values: dict):
    if id(t) in values:
        return values[id(t)]
    if hasattr(t, "variable"):
        owner, key = t.variable
        return owner.params[key] if key in owner.params else owner.buffers[key]
    return t.value


def _accumulate(grads: dict, t: KerasTensor, g) -> None:
    """Fan-out: a tensor read by several nodes gets the sum of their gradients."""
    if g is None:
        return
    grads[id(t)] = g if id(t) not in grads else grads[id(t)] + g


# ---------------------------------------------------------------------- caches of shared layers
def _parts(layer, seen=None):
    """``layer`` and every object inside it that keeps a ``cache`` (activation sub-layers,
    the layers of a nested model), each once."""
    seen = set() if seen is None else seen
    if id(layer) in seen:
        return
    seen.add(id(layer))
    if hasattr(layer, "cache") or hasattr(layer, "grads"):
        yield layer
    for value in vars(layer).values():
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if hasattr(item, "forward") and hasattr(item, "backward") and not isinstance(item, type):
                yield from _parts(item, seen)


def save_caches(layer) -> list:
    return [(part, part.cache) for part in _parts(layer) if hasattr(part, "cache")]


def weight_gradients(layer) -> list:
    """Copies of the weight gradients inside ``layer``, as ``(grads dict, copies)`` pairs."""
    return [  # each part's own (a sub-layer's are its own part's: counted once)
        (own_arrays(part.grads), {k: g.copy() for k, g in own_arrays(part.grads).items()})
        for part in _parts(layer)
        if getattr(part, "grads", None)
    ]


def restore_caches(saved: list) -> None:
    for part, cache in saved:
        part.cache = cache
