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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..nn.layers.base import _own

if TYPE_CHECKING:
    from ..nn.layers.base import Layer

__all__ = [
    "OPERATORS",
    "KerasTensor",
    "Node",
    "Graph",
    "Tape",
    "record",
    "symbolic",
    "is_symbolic",
    "tracing",
    "is_tracing",
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


# the ops behind a KerasTensor's operators, filled in by ``minidl.keras.ops`` (which imports this module)
OPERATORS: dict = {}

_TRACING = [0]  # how many custom-layer ``call``s are being recorded right now


class tracing:
    """``with tracing():`` a custom layer's ``call`` is being recorded on KerasTensors. An op
    that makes a tensor from no input (``keras.ops.arange``) then returns a graph constant,
    so that a layer called on it (``self.pos_emb(positions)``) is recorded, not computed once."""

    def __enter__(self):
        _TRACING[0] += 1

    def __exit__(self, *exc):
        _TRACING[0] -= 1


def is_tracing() -> bool:
    return _TRACING[0] > 0


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
    """One call of ``layer`` on ``inputs`` (KerasTensors) that made ``output``.

    ``many``: the layer takes a list (``Add()([a, b])``), else one tensor. ``training``:
    what the call fixed (``Dropout(0.5)(x, training=True)``), ``None`` to follow the model.
    ``options``: other keyword arguments the call fixed, passed to ``forward``
    (``MultiHeadAttention``'s ``use_causal_mask``).
    """

    made = 0  # nodes recorded so far: each node's serial number says when it was made
    output: KerasTensor  # set by ``record`` once the output's shape is known

    def __init__(self, layer, inputs, many: bool, training=None, options=None):
        self.layer, self.inputs, self.many, self.training = layer, list(inputs), many, training
        self.options = dict(options or {})
        Node.made += 1
        self.serial = Node.made


def record(layer, x, training=None, **unsupported):
    """Record ``layer(x)`` for symbolic ``x`` (a KerasTensor or a list of them): build the
    layer for the input's shape if needed, find the output's shape, return the output tensor."""
    if unsupported:
        raise NotImplementedError(
            f"{_label(layer)} called with {', '.join(sorted(unsupported))}: minidl.keras records "
            "a layer call with its input(s) and training= only (no mask=, initial_state=, ...)"
        )
    many = isinstance(x, (list, tuple))
    inputs = [symbolic(t) for t in (x if many else [x])]
    node = Node(layer, inputs, many, training)
    if hasattr(layer, "symbolic_output"):  # a model or a custom layer finds its own
        shape, dtype = layer.symbolic_output(x if many else inputs[0])
    elif many or not hasattr(layer, "output_shape_for") or all(hasattr(t, "value") for t in inputs):
        shape, dtype = _probe(layer, inputs, many)  # (constant inputs have no batch axis)
    else:
        shape, dtype = _layer_output(layer, inputs[0])
    node.output = KerasTensor(shape, dtype, name=getattr(layer, "name", None), node=node)
    return node.output


def _label(layer) -> str:
    return getattr(layer, "label", None) or getattr(layer, "name", None) or type(layer).__name__


def _layer_output(layer, x: KerasTensor):
    """Build a minidl layer for ``x``'s per-sample shape (as ``Sequential`` does); its output spec."""
    per_sample = x.shape[1:]
    if hasattr(layer, "layers") and not hasattr(layer, "params"):  # a Sequential model
        if layer.input_shape is None:
            layer.build(per_sample)
        elif tuple(layer.input_shape) != tuple(per_sample):
            raise ValueError(f"{_label(layer)} was built for inputs {layer.input_shape}, got {x.shape}")
        return (None, *layer._output_shape()), "float32"
    if not layer.built:
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else "float32"
        layer.build(per_sample, dtype=np.dtype(dtype))
    elif layer.params and layer._input_mismatch(tuple(layer.kernel_layout(per_sample))):
        built_for = ", ".join(map(str, layer.user_layout(layer.input_shape)))
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
    """What one forward pass left for its backward: each node's saved caches."""

    def __init__(self):
        self.saved: dict[int, list] = {}


class Graph:
    """The DAG between ``inputs`` and ``outputs`` (lists of KerasTensors), in topological order.

    Leaves that are not inputs are constants (``.value``) or weights (``.variable``: a
    custom layer's ``add_weight``, whose gradient goes to that layer's ``grads``).
    """

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = list(inputs), list(outputs)
        self.nodes = topological_order(self.outputs)
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
        tape = Tape()
        for node in self.nodes:
            args = [_value(t, values) for t in node.inputs]
            layer = node.layer
            mode = training if node.training is None else bool(node.training)
            if not getattr(layer, "trainable", True) and getattr(layer, "inference_when_frozen", False):
                mode = False  # a frozen BatchNorm runs in inference mode (Keras's rule)
            values[id(node.output)] = layer.forward(
                args if node.many else args[0], training=mode, **node.options
            )
            tape.saved[id(node)] = save_caches(layer)
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
            dy = grads.pop(id(node.output), None)
            if dy is None:
                continue
            restore_caches(tape.saved[id(node)])
            layer = node.layer
            earlier = weight_gradients(layer) if id(layer) in done else []
            dx = layer.backward(dy)
            for store, copies in earlier:  # a shared layer: this call's gradients add to the others'
                for key, g in copies.items():
                    store[key] += g
            done.add(id(layer))
            for t, g in zip(node.inputs, dx if node.many else [dx]):
                if g is not None:
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
        (_own(part.grads), {k: g.copy() for k, g in _own(part.grads).items()})
        for part in _parts(layer)
        if getattr(part, "grads", None)
    ]


def restore_caches(saved: list) -> None:
    for part, cache in saved:
        part.cache = cache
