"""``keras.ops``: NumPy-like functions that a custom layer's or a subclassed model's ``call``
trains through.

On NumPy arrays an op just computes (``ops.exp(np.zeros(3))``). On a ``KerasTensor`` it
records a node of the tape (``minidl_keras.graph``) holding an ``Operation``: the forward
function and its hand-written vector-Jacobian product, ``vjp(dy, y, *inputs) -> one
gradient per input``. Broadcasting is undone in backward: a gradient is summed over the
axes its input was broadcast along.

    matmul add subtract multiply divide negative power maximum minimum
    exp log sqrt square abs relu sigmoid tanh softmax
    sum mean max reshape transpose concatenate stack expand_dims squeeze
    where clip one_hot take cast argmax equal not_equal

Each is checked against finite differences in ``tests/keras/test_functional.py``.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from minidl import backend

from .graph import OPERATORS, is_symbolic, is_tracing, record, symbolic
from .missing import KerasFeatureMissing

__all__ = [
    "Operation",
    "matmul",
    "add",
    "subtract",
    "multiply",
    "divide",
    "negative",
    "power",
    "maximum",
    "minimum",
    "exp",
    "log",
    "sin",
    "cos",
    "sqrt",
    "square",
    "abs",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "sum",
    "mean",
    "max",
    "reshape",
    "transpose",
    "concatenate",
    "stack",
    "expand_dims",
    "squeeze",
    "where",
    "clip",
    "one_hot",
    "take",
    "cast",
    "argmax",
    "equal",
    "not_equal",
    "getitem",
    "convert_to_tensor",
    "convert_to_numpy",
    "shape",
    "arange",
]


class Operation:
    """One recorded op: ``forward(inputs) = compute(*inputs)``, ``backward(dy)`` the gradient
    of each input (``vjp``), summed back to the input's shape where it was broadcast.
    ``config`` holds the op's other arguments (``axis=``), what a saved model calls it with
    again: ``getattr(ops, name)(*inputs, **config)`` (``model_file``)."""

    trainable = True

    def __init__(self, name: str, compute, vjp, config: dict | None = None):
        self.name, self.compute, self.vjp = name, compute, vjp
        self.config = dict(config or {})
        self.cache: tuple[Any, Any] | None = None  # (inputs, output) of the last forward

    def forward(self, xs, training: bool = False):
        y = self.compute(*xs)
        self.cache = (xs, y)
        return y

    def backward(self, dy):
        if self.cache is None:
            raise RuntimeError(f"ops.{self.name}: backward called before forward")
        xs, y = self.cache
        grads = self.vjp(dy, y, *xs)
        return [None if g is None else _unbroadcast(g, np.shape(x)) for g, x in zip(grads, xs)]

    def __repr__(self) -> str:
        return f"ops.{self.name}"


def _unbroadcast(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, to get ``shape`` back."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g


def _apply(name, compute, vjp, *operands, config: dict | None = None):
    """Compute at once on arrays; record a node when any operand is a KerasTensor."""
    if builtins.any(is_symbolic(a) for a in operands):
        return record(Operation(name, compute, vjp, config), list(operands))
    return compute(*operands)


def _keep(dy, axis, keepdims, ndim):
    """``dy`` of a reduction with its reduced axes back (size 1), ready to broadcast."""
    if keepdims or axis is None:
        return dy if keepdims else np.reshape(dy, (1,) * ndim)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return np.expand_dims(dy, tuple(a % ndim for a in axes))


# ---------------------------------------------------------------------- arithmetic
def matmul(a, b):
    """``a @ b`` over the last two axes; da = dy b^T, db = a^T dy."""

    def vjp(dy, y, a, b):
        return dy @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ dy

    return _apply("matmul", np.matmul, vjp, a, b)


def add(a, b):
    return _apply("add", np.add, lambda dy, y, a, b: (dy, dy), a, b)


def subtract(a, b):
    return _apply("subtract", np.subtract, lambda dy, y, a, b: (dy, -dy), a, b)


def multiply(a, b):
    return _apply("multiply", np.multiply, lambda dy, y, a, b: (dy * b, dy * a), a, b)


def divide(a, b):
    return _apply("divide", np.divide, lambda dy, y, a, b: (dy / b, -dy * y / b), a, b)


def negative(x):
    return _apply("negative", np.negative, lambda dy, y, x: (-dy,), x)


def power(x, exponent):
    """``x ** exponent`` for a constant exponent (no gradient to the exponent)."""
    return _apply("power", np.power, lambda dy, y, x, p: (dy * p * np.power(x, p - 1), None), x, exponent)


def maximum(a, b):
    """Elementwise max; the gradient goes to ``a`` where ``a >= b``, else to ``b``."""
    return _apply("maximum", np.maximum, lambda dy, y, a, b: (dy * (a >= b), dy * (a < b)), a, b)


def minimum(a, b):
    return _apply("minimum", np.minimum, lambda dy, y, a, b: (dy * (a <= b), dy * (a > b)), a, b)


# ---------------------------------------------------------------------- elementwise functions
def exp(x):
    return _apply("exp", np.exp, lambda dy, y, x: (dy * y,), x)


def log(x):
    return _apply("log", np.log, lambda dy, y, x: (dy / x,), x)


def sin(x):
    return _apply("sin", np.sin, lambda dy, y, x: (dy * np.cos(x),), x)


def cos(x):
    return _apply("cos", np.cos, lambda dy, y, x: (-dy * np.sin(x),), x)


def sqrt(x):
    return _apply("sqrt", np.sqrt, lambda dy, y, x: (dy / (2 * y),), x)


def square(x):
    return _apply("square", np.square, lambda dy, y, x: (2 * x * dy,), x)


def abs(x):  # noqa: A001  (Keras's name)
    return _apply("abs", np.abs, lambda dy, y, x: (dy * np.sign(x),), x)


def relu(x):
    return _apply("relu", lambda x: np.maximum(x, 0), lambda dy, y, x: (dy * (x > 0),), x)


def sigmoid(x):
    def compute(x):
        return 0.5 * (1 + np.tanh(0.5 * x))  # 1 / (1 + exp(-x)) without overflow

    return _apply("sigmoid", compute, lambda dy, y, x: (dy * y * (1 - y),), x)


def tanh(x):
    return _apply("tanh", np.tanh, lambda dy, y, x: (dy * (1 - y * y),), x)


def softmax(x, axis: int = -1):
    """``exp(x) / sum(exp(x))`` along ``axis``; dx = y (dy - sum(dy y))."""

    def compute(x):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def vjp(dy, y, x):
        return (y * (dy - (dy * y).sum(axis=axis, keepdims=True)),)

    return _apply("softmax", compute, vjp, x, config={"axis": axis})


# ---------------------------------------------------------------------- reductions
def sum(x, axis=None, keepdims: bool = False):  # noqa: A001
    def vjp(dy, y, x):
        return (np.broadcast_to(_keep(dy, axis, keepdims, x.ndim), x.shape),)

    config = {"axis": axis, "keepdims": keepdims}
    return _apply("sum", lambda x: np.sum(x, axis=axis, keepdims=keepdims), vjp, x, config=config)


def mean(x, axis=None, keepdims: bool = False):
    def vjp(dy, y, x):
        count = x.size // np.size(y)  # how many entries each mean averaged
        return (np.broadcast_to(_keep(dy, axis, keepdims, x.ndim), x.shape) / count,)

    config = {"axis": axis, "keepdims": keepdims}
    return _apply("mean", lambda x: np.mean(x, axis=axis, keepdims=keepdims), vjp, x, config=config)


def max(x, axis=None, keepdims: bool = False):  # noqa: A001
    """The largest entry; its gradient is shared equally by the entries that reach it."""

    def vjp(dy, y, x):
        hit = x == _keep(y, axis, keepdims, x.ndim)
        share = hit / hit.sum(axis=axis, keepdims=True)
        return (_keep(dy, axis, keepdims, x.ndim) * share,)

    config = {"axis": axis, "keepdims": keepdims}
    return _apply("max", lambda x: np.max(x, axis=axis, keepdims=keepdims), vjp, x, config=config)


# ---------------------------------------------------------------------- shapes
def reshape(x, newshape):
    """Keras's ``reshape``: ``newshape`` includes the batch axis (``-1`` or ``None`` for it)."""
    target = tuple(-1 if d is None else d for d in newshape)
    return _same_entries("reshape", lambda x: np.reshape(x, target), x, newshape=newshape)


def _same_entries(name, compute, x, **config):
    """An op that only lays the entries out anew: ``dx`` is ``dy`` in ``x``'s shape."""
    return _apply(name, compute, lambda dy, y, x: (dy.reshape(x.shape),), x, config=config)


def transpose(x, axes=None):
    def vjp(dy, y, x):
        return (np.transpose(dy, None if axes is None else np.argsort(axes)),)

    return _apply("transpose", lambda x: np.transpose(x, axes), vjp, x, config={"axes": axes})


def concatenate(xs, axis: int = 0):
    """Join along ``axis`` (Keras's default 0); dy is split back at the same places."""

    def vjp(dy, y, *xs):
        cuts = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return tuple(np.split(dy, cuts, axis=axis))

    return _apply("concatenate", lambda *xs: np.concatenate(xs, axis=axis), vjp, *xs, config={"axis": axis})


def stack(xs, axis: int = 0):
    def vjp(dy, y, *xs):
        return tuple(np.take(dy, i, axis=axis) for i in range(len(xs)))

    return _apply("stack", lambda *xs: np.stack(xs, axis=axis), vjp, *xs, config={"axis": axis})


def expand_dims(x, axis):
    return _same_entries("expand_dims", lambda x: np.expand_dims(x, axis), x, axis=axis)


def squeeze(x, axis=None):
    return _same_entries("squeeze", lambda x: np.squeeze(x, axis), x, axis=axis)


# ---------------------------------------------------------------------- selection
def where(condition, x1, x2):
    """``x1`` where ``condition``, else ``x2`` (no gradient to the condition)."""

    def vjp(dy, y, c, a, b):
        c = c.astype(bool)
        return None, dy * c, dy * ~c

    return _apply("where", lambda c, a, b: np.where(c, a, b), vjp, condition, x1, x2)


def clip(x, x_min, x_max):
    """``x`` limited to [x_min, x_max]; the gradient passes where ``x`` was inside."""

    def vjp(dy, y, x):
        return (dy * ((x >= x_min) & (x <= x_max)),)

    return _apply("clip", lambda x: np.clip(x, x_min, x_max), vjp, x, config={"x_min": x_min, "x_max": x_max})


def one_hot(x, num_classes: int, dtype="float32"):
    """Integer labels (...) -> (..., num_classes) rows of zeros with a one (no gradient)."""

    def compute(x):
        return (np.asarray(x)[..., None] == np.arange(num_classes)).astype(dtype)

    config = {"num_classes": num_classes, "dtype": np.dtype(dtype).name}
    return _apply("one_hot", compute, lambda dy, y, x: (None,), x, config=config)


def take(x, indices, axis=None):
    """Entries of ``x`` at ``indices`` (flattened ``x`` when ``axis`` is None); repeated
    indices add their gradients (an embedding lookup is ``take(table, ids, axis=0)``)."""

    def compute(x, indices):
        return np.take(x, np.asarray(indices).astype(np.int64), axis=axis)

    def vjp(dy, y, x, indices):
        dx = np.zeros(x.size if axis is None else x.shape, dtype=dy.dtype)
        ids = np.asarray(indices).astype(np.int64)
        if axis is None:
            np.add.at(dx, ids.reshape(-1), dy.reshape(-1))
            return dx.reshape(x.shape), None
        moved = np.moveaxis(dx, axis, 0)  # a view: adding into it fills dx
        dy_moved = np.moveaxis(dy, tuple(range(axis, axis + ids.ndim)), tuple(range(ids.ndim)))
        np.add.at(moved, ids, dy_moved)
        return dx, None

    return _apply("take", compute, vjp, x, indices, config={"axis": axis})


def getitem(x, index):
    """``x[index]`` (what ``tensor[...]`` records); the gradient lands where the entries came from."""

    def vjp(dy, y, x):
        dx = np.zeros_like(x, dtype=dy.dtype)
        np.add.at(dx, index, dy)
        return (dx,)

    return _apply("getitem", lambda x: x[index], vjp, x, config={"index": index})


def argmax(x, axis=-1):
    """Index of the largest entry along ``axis`` (no gradient)."""
    return _apply(
        "argmax", lambda x: np.argmax(x, axis=axis), lambda dy, y, x: (None,), x, config={"axis": axis}
    )


def equal(x1, x2):
    """``x1 == x2`` elementwise, booleans (no gradient): ``ops.not_equal(ids, 0)`` is a mask."""
    return _apply("equal", lambda a, b: np.equal(a, b), lambda dy, y, a, b: (None, None), x1, x2)


def not_equal(x1, x2):
    """``x1 != x2`` elementwise, booleans (no gradient)."""
    return _apply("not_equal", lambda a, b: np.not_equal(a, b), lambda dy, y, a, b: (None, None), x1, x2)


def cast(x, dtype):
    """``x`` as ``dtype``; the gradient passes through (to a floating-point ``x``)."""

    def vjp(dy, y, x):
        return (dy.astype(x.dtype) if np.issubdtype(x.dtype, np.floating) else None,)

    return _apply(
        "cast", lambda x: np.asarray(x).astype(dtype), vjp, x, config={"dtype": np.dtype(dtype).name}
    )


def convert_to_tensor(x, dtype=None):
    """A NumPy array (minidl's tensors are NumPy arrays)."""
    return x if is_symbolic(x) else np.asarray(x, dtype=dtype)


def convert_to_numpy(x):
    """A NumPy array of a tensor's values (a GPU array is copied to the host)."""
    if is_symbolic(x):
        raise ValueError("ops.convert_to_numpy needs values, not a symbolic KerasTensor")
    return backend.to_numpy(x)


def shape(x):
    return tuple(x.shape)


def arange(start, stop=None, step=1, dtype=None):
    """``np.arange`` (integers by default, as Keras). Inside a custom layer's ``call`` being
    recorded it is a graph constant, so that a layer applied to it (a position embedding:
    ``self.pos_emb(ops.arange(0, maxlen))``) is recorded and trains."""
    if dtype is None:
        dtype = (
            "int32" if all(isinstance(a, (int, np.integer)) for a in (start, stop or 0, step)) else "float32"
        )
    values = np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(start, dtype=dtype)
    return symbolic(values) if is_tracing() else values


OPERATORS.update(
    add=add,
    subtract=subtract,
    multiply=multiply,
    divide=divide,
    matmul=matmul,
    negative=negative,
    power=power,
    getitem=getitem,
)


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.ops.{name} is not in minidl_keras; its ops are {', '.join(__all__[1:])}. "
        "The closest minidl way: a keras.layers.Layer subclass (or a minidl.nn.layers.Layer with "
        "its own forward and backward)"
    )
