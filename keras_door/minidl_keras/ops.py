"""``keras.ops``: NumPy-like functions that a custom layer's or a subclassed model's ``call``
trains through.

On NumPy arrays an op just computes (``ops.exp(np.zeros(3))``). On a ``KerasTensor`` it
records a node of the tape (``minidl_keras.graph``) holding an ``Operation``: the forward
function and its hand-written vector-Jacobian product, ``vjp(dy, y, *inputs) -> one
gradient per input``. Broadcasting is undone in backward: a gradient is summed over the
axes its input was broadcast along.

    matmul add subtract multiply divide negative power maximum minimum
    exp log sqrt square abs relu sigmoid tanh softmax
    log1p expm1 erf rsqrt sign floor ceil round softplus silu log_softmax logsumexp
    sum mean max min var std norm cumsum reshape transpose swapaxes flip
    concatenate stack expand_dims squeeze
    where clip one_hot take take_along_axis cast argmax argmin argsort sort top_k
    equal not_equal less less_equal greater greater_equal logical_and logical_or logical_not
    zeros_like ones_like zeros ones full eye array

Each is checked against finite differences in ``tests/keras/test_functional.py``.
"""

from __future__ import annotations

import builtins
import math
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
    "log1p",
    "expm1",
    "erf",
    "rsqrt",
    "sign",
    "floor",
    "ceil",
    "round",
    "softplus",
    "silu",
    "log_softmax",
    "logsumexp",
    "min",
    "var",
    "std",
    "norm",
    "cumsum",
    "swapaxes",
    "flip",
    "take_along_axis",
    "argmin",
    "argsort",
    "sort",
    "top_k",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "zeros_like",
    "ones_like",
    "convert_to_tensor",
    "convert_to_numpy",
    "shape",
    "arange",
    "zeros",
    "ones",
    "full",
    "eye",
    "array",
    "logical_and",
    "logical_or",
    "logical_not",
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


def _extreme(name: str, reduce, x, axis, keepdims: bool):
    """``max`` or ``min`` (``reduce``: ``np.max`` or ``np.min``) over ``axis``; the gradient is
    shared equally by the entries that reach the extreme."""

    def vjp(dy, y, x):
        hit = x == _keep(y, axis, keepdims, x.ndim)
        share = hit / hit.sum(axis=axis, keepdims=True)
        return (_keep(dy, axis, keepdims, x.ndim) * share,)

    config = {"axis": axis, "keepdims": keepdims}
    return _apply(name, lambda x: reduce(x, axis=axis, keepdims=keepdims), vjp, x, config=config)


def max(x, axis=None, keepdims: bool = False):  # noqa: A001
    """The largest entry; its gradient is shared equally by the entries that reach it."""
    return _extreme("max", np.max, x, axis, keepdims)


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
    """Index of the largest entry along ``axis``, int32 as Keras (no gradient)."""
    return _apply(
        "argmax",
        lambda x: np.argmax(x, axis=axis).astype(np.int32),
        lambda dy, y, x: (None,),
        x,
        config={"axis": axis},
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


def _made(values):
    """An array an op made from no input: a graph constant inside a custom layer's ``call``
    being recorded (as ``arange``), the array itself otherwise."""
    return symbolic(values) if is_tracing() else values


def zeros(shape, dtype="float32"):
    """``np.zeros`` (float32 by default, as Keras)."""
    return _made(np.zeros(shape, dtype=dtype))


def ones(shape, dtype="float32"):
    """``np.ones`` (float32 by default, as Keras)."""
    return _made(np.ones(shape, dtype=dtype))


def full(shape, fill_value, dtype=None):
    """``np.full``; float32 for a float fill, int32 for an int one, as Keras."""
    if dtype is None:
        dtype = (
            "int32"
            if isinstance(fill_value, (int, np.integer)) and not isinstance(fill_value, bool)
            else "float32"
        )
    return _made(np.full(shape, fill_value, dtype=dtype))


def eye(N, M=None, k=0, dtype="float32"):  # noqa: N803  (Keras's names)
    """``np.eye`` (float32 by default, as Keras)."""
    return _made(np.eye(N, M, k, dtype=dtype))


def array(x, dtype=None):
    """A NumPy array of ``x``: Python floats become float32 and ints int32, as Keras."""
    if is_symbolic(x):
        return x
    values = np.asarray(x, dtype=dtype)
    if dtype is None and values.dtype == np.float64:
        values = values.astype(np.float32)
    elif dtype is None and values.dtype == np.int64:
        values = values.astype(np.int32)
    return values


def logical_not(x):
    """``np.logical_not`` elementwise, booleans (no gradient)."""
    return _apply("logical_not", np.logical_not, lambda dy, y, x: (None,), x)


# ---------------------------------------------------------------------- more elementwise functions
def log1p(x):
    """``log(1 + x)``, exact for small ``x``; dx = dy / (1 + x)."""
    return _apply("log1p", np.log1p, lambda dy, y, x: (dy / (1 + x),), x)


def expm1(x):
    """``exp(x) - 1``, exact for small ``x``; dx = dy (y + 1)."""
    return _apply("expm1", np.expm1, lambda dy, y, x: (dy * (y + 1),), x)


_ERF = np.vectorize(math.erf, otypes=[np.float64])


def erf(x):
    """The error function ``2/sqrt(pi) int_0^x exp(-t^2) dt``; dx = dy 2/sqrt(pi) exp(-x^2)."""

    def compute(x):
        x = np.asarray(x)
        return _ERF(x).astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)

    return _apply("erf", compute, lambda dy, y, x: (dy * (2 / math.sqrt(math.pi)) * np.exp(-x * x),), x)


def rsqrt(x):
    """``1 / sqrt(x)``; dx = -dy y^3 / 2."""
    return _apply("rsqrt", lambda x: 1 / np.sqrt(x), lambda dy, y, x: (-0.5 * dy * y**3,), x)


def _flat(name, fn):
    """An op whose gradient is zero almost everywhere (a step function): none flows back."""

    def op(x):
        return _apply(name, fn, lambda dy, y, x: (np.zeros_like(dy),), x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``np.{fn.__name__}`` elementwise (its gradient is 0 almost everywhere)."
    return op


sign = _flat("sign", np.sign)
floor = _flat("floor", np.floor)
ceil = _flat("ceil", np.ceil)


def round(x, decimals: int = 0):  # noqa: A001  (Keras's name)
    """``x`` rounded (half to even, as NumPy and Keras); no gradient flows back."""
    return _apply(
        "round",
        lambda x: np.round(x, decimals),
        lambda dy, y, x: (np.zeros_like(dy),),
        x,
        config={"decimals": decimals},
    )


def softplus(x):
    """``log(1 + exp(x))`` without overflow; dx = dy sigmoid(x)."""

    def compute(x):
        return np.logaddexp(0, x)

    return _apply("softplus", compute, lambda dy, y, x: (dy * 0.5 * (1 + np.tanh(0.5 * x)),), x)


def silu(x):
    """``x sigmoid(x)`` (swish); dx = dy (s + x s (1 - s)), s = sigmoid(x)."""

    def vjp(dy, y, x):
        s = 0.5 * (1 + np.tanh(0.5 * x))
        return (dy * (s + x * s * (1 - s)),)

    return _apply("silu", lambda x: x * 0.5 * (1 + np.tanh(0.5 * x)), vjp, x)


def log_softmax(x, axis: int = -1):
    """``x - logsumexp(x)`` along ``axis``; dx = dy - softmax(x) sum(dy)."""

    def compute(x):
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def vjp(dy, y, x):
        return (dy - np.exp(y) * dy.sum(axis=axis, keepdims=True),)

    return _apply("log_softmax", compute, vjp, x, config={"axis": axis})


def logsumexp(x, axis=None, keepdims: bool = False):
    """``log(sum(exp(x)))`` over ``axis`` without overflow; dx = dy softmax(x)."""

    def compute(x):
        top = np.max(x, axis=axis, keepdims=True)
        out = np.log(np.exp(x - top).sum(axis=axis, keepdims=True)) + top
        return out if keepdims else np.squeeze(out, axis=axis)

    def vjp(dy, y, x):
        kept = _keep(y, axis, keepdims, x.ndim)
        return (_keep(dy, axis, keepdims, x.ndim) * np.exp(x - kept),)

    return _apply("logsumexp", compute, vjp, x, config={"axis": axis, "keepdims": keepdims})


# ---------------------------------------------------------------------- more reductions
def min(x, axis=None, keepdims: bool = False):  # noqa: A001
    """The smallest entry; its gradient is shared equally by the entries that reach it."""
    return _extreme("min", np.min, x, axis, keepdims)


def var(x, axis=None, keepdims: bool = False):
    """The biased variance ``mean((x - mean(x))^2)`` (Keras's); dx = dy 2 (x - mean) / n."""

    def vjp(dy, y, x):
        count = x.size // np.size(y)
        centred = x - np.mean(x, axis=axis, keepdims=True)
        return (_keep(dy, axis, keepdims, x.ndim) * 2 * centred / count,)

    config = {"axis": axis, "keepdims": keepdims}
    return _apply("var", lambda x: np.var(x, axis=axis, keepdims=keepdims), vjp, x, config=config)


def std(x, axis=None, keepdims: bool = False):
    """``sqrt(var(x))`` (biased, as Keras); dx = dy (x - mean) / (n std)."""

    def vjp(dy, y, x):
        count = x.size // np.size(y)
        centred = x - np.mean(x, axis=axis, keepdims=True)
        return (_keep(dy, axis, keepdims, x.ndim) * centred / (count * _keep(y, axis, keepdims, x.ndim)),)

    config = {"axis": axis, "keepdims": keepdims}
    return _apply("std", lambda x: np.std(x, axis=axis, keepdims=keepdims), vjp, x, config=config)


def norm(x, ord=None, axis=None, keepdims: bool = False):  # noqa: A002  (Keras's name)
    """The Euclidean norm ``sqrt(sum(x^2))`` over ``axis`` (all entries when None: Frobenius
    for a matrix), or with ``ord=1`` over a vector axis ``sum(|x|)``. dx = dy x / norm
    (``ord=1``: dy sign(x)). Other orders raise."""
    if (
        ord not in (None, 2, "fro", 1)
        or (ord == 1 and not isinstance(axis, int))
        or (ord == 2 and not isinstance(axis, int))
    ):
        raise KerasFeatureMissing(
            f"keras.ops.norm(ord={ord!r}, axis={axis!r}) is not in minidl_keras: it has the Euclidean "
            "norm (ord=None, or 2 over one axis, 'fro') and ord=1 over one axis"
        )
    if ord == 1:

        def compute(x):
            return np.sum(np.abs(x), axis=axis, keepdims=keepdims)

        def vjp(dy, y, x):
            return (_keep(dy, axis, keepdims, x.ndim) * np.sign(x),)

    else:

        def compute(x):
            return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))

        def vjp(dy, y, x):
            return (_keep(dy, axis, keepdims, x.ndim) * x / _keep(y, axis, keepdims, x.ndim),)

    return _apply("norm", compute, vjp, x, config={"ord": ord, "axis": axis, "keepdims": keepdims})


def cumsum(x, axis=None):
    """Running sums along ``axis`` (of the flattened ``x`` when None); dx = the running sums of
    ``dy`` taken from the end."""

    def compute(x):
        return np.cumsum(x, axis=axis)

    def vjp(dy, y, x):
        if axis is None:
            return (np.flip(np.cumsum(np.flip(dy))).reshape(x.shape),)
        return (np.flip(np.cumsum(np.flip(dy, axis), axis=axis), axis),)

    return _apply("cumsum", compute, vjp, x, config={"axis": axis})


# ---------------------------------------------------------------------- more shapes and selection
def swapaxes(x, axis1, axis2):
    """``x`` with two axes exchanged; dx = dy with them exchanged back."""
    return _apply(
        "swapaxes",
        lambda x: np.swapaxes(x, axis1, axis2),
        lambda dy, y, x: (np.swapaxes(dy, axis1, axis2),),
        x,
        config={"axis1": axis1, "axis2": axis2},
    )


def flip(x, axis=None):
    """``x`` reversed along ``axis`` (every axis when None); dx = dy reversed the same way."""
    return _apply(
        "flip", lambda x: np.flip(x, axis), lambda dy, y, x: (np.flip(dy, axis),), x, config={"axis": axis}
    )


def take_along_axis(x, indices, axis=None):
    """``np.take_along_axis``: for each position, the entry of ``x`` at ``indices`` along
    ``axis``; repeated indices add their gradients."""

    def compute(x, indices):
        return np.take_along_axis(x, np.asarray(indices).astype(np.int64), axis=axis)

    def vjp(dy, y, x, indices):
        dx = np.zeros_like(x, dtype=dy.dtype)
        ids = np.asarray(indices).astype(np.int64)
        grid = list(np.ix_(*[np.arange(n) for n in ids.shape]))
        grid[axis % x.ndim] = ids
        np.add.at(dx, tuple(grid), dy)
        return dx, None

    return _apply("take_along_axis", compute, vjp, x, indices, config={"axis": axis})


def argmin(x, axis=-1):
    """Index of the smallest entry along ``axis``, int32 as Keras (no gradient)."""
    return _apply(
        "argmin",
        lambda x: np.argmin(x, axis=axis).astype(np.int32),
        lambda dy, y, x: (None,),
        x,
        config={"axis": axis},
    )


def argsort(x, axis=-1):
    """The indices that sort ``x`` along ``axis``, int32 as Keras (stable; no gradient)."""
    return _apply(
        "argsort",
        lambda x: np.argsort(x, axis=axis, kind="stable").astype(np.int32),
        lambda dy, y, x: (None,),
        x,
        config={"axis": axis},
    )


def sort(x, axis=-1):
    """``x`` sorted along ``axis``; each entry's gradient goes back to where it came from."""
    return take_along_axis(x, argsort(x, axis=axis), axis=axis)


def top_k(x, k, sorted: bool = True):  # noqa: A002  (Keras's name)
    """``(values, indices)`` of the ``k`` largest entries along the last axis, largest first
    (ties: the first index first); the values' gradient goes back to where they came from."""
    if not sorted:
        raise KerasFeatureMissing(
            "keras.ops.top_k(sorted=False) is not in minidl_keras: the k entries come sorted"
        )
    indices = cast(
        getitem(argsort(negative(x), axis=-1), (Ellipsis, slice(0, int(k)))), "int64"
    )  # Keras's dtype
    return take_along_axis(x, indices, axis=-1), indices


def _compare(name, fn):
    def op(x1, x2):
        return _apply(name, fn, lambda dy, y, a, b: (None, None), x1, x2)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``np.{fn.__name__}(x1, x2)`` elementwise, booleans (no gradient)."
    return op


logical_and, logical_or = _compare("logical_and", np.logical_and), _compare("logical_or", np.logical_or)
less, less_equal = _compare("less", np.less), _compare("less_equal", np.less_equal)
greater, greater_equal = _compare("greater", np.greater), _compare("greater_equal", np.greater_equal)


def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape (no gradient)."""
    return _apply(
        "zeros_like",
        lambda x: np.zeros_like(x, dtype=dtype),
        lambda dy, y, x: (None,),
        x,
        config={"dtype": dtype},
    )


def ones_like(x, dtype=None):
    """Ones of ``x``'s shape (no gradient)."""
    return _apply(
        "ones_like",
        lambda x: np.ones_like(x, dtype=dtype),
        lambda dy, y, x: (None,),
        x,
        config={"dtype": dtype},
    )


OPERATORS.update(
    add=add,
    subtract=subtract,
    multiply=multiply,
    divide=divide,
    matmul=matmul,
    negative=negative,
    power=power,
    getitem=getitem,
    less=less,
    less_equal=less_equal,
    greater=greater,
    greater_equal=greater_equal,
)


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.ops.{name} is not in minidl_keras; its ops are {', '.join(__all__[1:])}. "
        "The closest minidl way: a keras.layers.Layer subclass (or a minidl.nn.layers.Layer with "
        "its own forward and backward)"
    )
