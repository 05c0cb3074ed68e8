"""Custom layers the Keras way: ``class MyLayer(keras.layers.Layer)`` with ``build``,
``add_weight``, ``call`` and ``get_config``; and ``layers.Lambda``.

A Keras custom layer has no ``backward``: it gets one from the tape. ``call`` runs on
KerasTensors (the input and the weights, which are leaves of the graph), so it records
``keras.ops`` nodes and calls of other layers; ``forward`` runs that small graph and
``backward`` runs it in reverse, writing the weights' gradients into ``grads``. The graph is
recorded once per input shape and ``training`` flag.

The minidl layers it holds as attributes (``self.proj = layers.Dense(8)``) are its
``sublayers()`` by attribute name (``Layer``'s "Layers that hold layers"): their arrays are
in its ``params`` / ``grads`` / ``buffers`` as ``"proj.W"``. A ``keras.Model`` held as an
attribute runs through the tape too; its layers are listed by ``leaf_layers()``.

    class Linear(keras.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros")

        def call(self, inputs):
            return keras.ops.matmul(inputs, self.w) + self.b
"""

from __future__ import annotations

import inspect

import numpy as np

from minidl import backend
from minidl.nn import initializers as minidl_initializers
from minidl.nn import regularizers as minidl_regularizers
from minidl.nn.layers.base import Layer as MinidlLayer
from minidl.nn.layers.sublayers import own_arrays
from minidl.nn.losses import Loss as MinidlLoss
from minidl.training.model import Sequential as MinidlSequential

from . import constraints as keras_constraints
from . import losses as keras_losses
from .graph import Graph, KerasTensor, is_symbolic, is_tracing, record, record_effect, tracing
from .missing import KerasFeatureMissing
from .weights import KerasLayerAPI, ParamCount

__all__ = ["Layer", "Lambda", "Variable", "TapedLoss", "compiled_loss"]


class Variable(KerasTensor):
    """A weight made by ``add_weight``: ``owner.params[key]`` (or ``buffers`` if not trainable),
    and a leaf of the graph whose gradient lands in ``owner.grads[key]``."""

    def __init__(self, owner, key, shape, dtype):
        super().__init__(shape, dtype, name=key)
        self.variable = (owner, key)

    def _store(self):
        owner, key = self.variable
        return owner.params if key in owner.params else owner.buffers

    def numpy(self):
        return backend.to_numpy(self._store()[self.name]).copy()

    def __array__(self, dtype=None, copy=None):
        """Its values (``np.asarray(layer.total)``, as Keras's ``Variable``), outside a ``call``
        being recorded; inside one it is symbolic (compute with ``keras.ops``)."""
        if is_tracing():
            return super().__array__()
        values = self.numpy()
        return values if dtype is None else values.astype(dtype)

    def assign(self, value) -> None:
        self._update(value, "assign", lambda old, new: new)

    def assign_add(self, value) -> None:
        self._update(value, "assign_add", lambda old, new: old + new)

    def assign_sub(self, value) -> None:
        self._update(value, "assign_sub", lambda old, new: old - new)

    def _update(self, value, what: str, rule) -> None:
        """Set the weight to ``rule(old, value)``: now for arrays; for a symbolic ``value``
        (inside ``call``) a node that does it each time the layer runs (``graph.tracing``)."""

        def compute(new):
            store = self._store()
            new = backend.to_device(np.asarray(backend.to_numpy(new)), backend.device_of(store[self.name]))
            store[self.name][...] = rule(store[self.name], new)
            return store[self.name]

        if not is_symbolic(value):
            compute(value)
            return
        from .ops import Operation

        update = Operation(what, compute, lambda dy, y, v: (None,))
        update.symbolic_output = lambda v: (self.shape, self.dtype)  # type: ignore[attr-defined]  # no probe run: it would update
        record_effect(record(update, [value]))

    def __repr__(self) -> str:
        return f"<Variable {self.name} shape={self.shape}>"


def _fans(shape):
    """Keras's fan-in and fan-out: (in, out) for a matrix; a kernel (..., in, out) times its window."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    window = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return window * shape[-2], window * shape[-1]


class Layer(KerasLayerAPI, MinidlLayer):
    """Keras's ``keras.layers.Layer``: subclass it with ``build(input_shape)`` (optional),
    ``call(inputs[, training])`` and ``get_config()``."""

    def __init__(
        self, name=None, trainable=True, dtype=None, autocast=True, activity_regularizer=None, **kwargs
    ):
        if activity_regularizer is not None:
            raise KerasFeatureMissing(
                f"keras.layers.Layer(activity_regularizer={activity_regularizer!r}) is not in minidl_keras: "
                "add the penalty of a weight with add_weight(regularizer=...), or a Dense's activity_regularizer"
            )
        super().__init__(name=name, trainable=trainable, **kwargs)
        self.dtype = np.dtype(dtype or "float32").name
        self.autocast = bool(autocast)  # float32 layers: nothing to cast either way
        self._traces: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            cls.build = _keras_build(cls.__dict__["build"])  # type: ignore[method-assign]  # the subclass's own build, wrapped once at class creation

    def __setattr__(self, key, value):
        """Keep the layers assigned as attributes: a minidl layer is a sub-layer named ``key``
        (the first name it gets), the layers of a ``keras.Sequential`` are sub-layers
        ``key.0``, ``key.1``, ... (Keras's weight order: attribute by attribute), a
        ``keras.Model`` one of ``leaf_layers``' models."""
        held = self.__dict__.setdefault("_held", {})
        models = self.__dict__.setdefault("_held_models", [])
        if isinstance(value, MinidlSequential) and not hasattr(value, "leaf_layers"):
            if not any(value is stack for stack in held.values()):
                held[key] = value
        elif isinstance(value, MinidlLayer):
            if key in held or not any(value is layer for layer in held.values()):
                held[key] = value
        elif hasattr(value, "leaf_layers") and not any(value is m for m in models):
            models.append(value)
        object.__setattr__(self, key, value)

    def sublayers(self) -> dict[str, MinidlLayer]:
        """The minidl layers held as attributes, by attribute name, in the order assigned
        (a ``Sequential``'s as ``"<name>.<index>"``)."""
        layers: dict[str, MinidlLayer] = {}
        for key, held in self.__dict__.get("_held", {}).items():
            if isinstance(held, MinidlLayer):
                layers[key] = held
            else:
                layers.update((f"{key}.{i}", layer) for i, layer in enumerate(held.layers))
        return layers

    # ------------------------------------------------------------------ Keras's interface
    def build(self, input_shape, dtype=None) -> None:
        """Create the weights with ``add_weight``; ``input_shape`` has ``None`` for the batch axis."""

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs)")

    def add_weight(
        self,
        shape=(),
        initializer="glorot_uniform",
        dtype=None,
        trainable=True,
        name=None,
        regularizer=None,
        constraint=None,
        **kwargs,
    ):
        """A weight of ``shape`` drawn by ``initializer`` (a name, a ``keras.initializers``
        object or ``fn(shape, dtype)``). ``regularizer`` (``keras.regularizers``, or its name)
        adds its penalty of the weight to the loss and its gradient to the weight's;
        ``constraint`` (``keras.constraints``, or any ``fn(w) -> w``) is applied to a trainable
        weight after each optimizer step, as Keras does."""
        if kwargs:
            raise TypeError(
                f"add_weight got argument(s) minidl_keras does not have: {', '.join(sorted(kwargs))}"
            )
        shape = tuple(int(d) for d in shape)
        key = name or f"weight_{len(own_arrays(self.params)) + len(own_arrays(self.buffers))}"
        dtype = np.dtype(dtype or self.dtype)
        value = _initial_value(initializer, shape, dtype)
        if trainable:
            self.add_param(key, value)
        else:
            self.add_buffer(key, value)
        if regularizer is not None:
            self.__dict__.setdefault("_weight_regularizers", {})[key] = minidl_regularizers.get(regularizer)
        if constraint is not None:
            self.__dict__.setdefault("_weight_constraints", {})[key] = keras_constraints.get(constraint)
        return Variable(self, key, shape, dtype)

    def own_constraints(self) -> dict:
        return {k: fn for k, fn in self.__dict__.get("_weight_constraints", {}).items() if k in self.params}

    def regularization_loss(self) -> float:
        """The sub-layers' penalties and those of the weights made with ``regularizer=``."""
        total = super().regularization_loss()
        for key, regularizer in self.__dict__.get("_weight_regularizers", {}).items():
            store = self.params if key in own_arrays(self.params) else self.buffers
            total += regularizer.loss(store[key])
        return total

    def get_config(self) -> dict:
        """Keras's base config (name, trainable, dtype), which a subclass extends with its own
        arguments; a layer made with ``Layer``'s own arguments only (Keras's automatic config)
        also shows ``activity_regularizer`` and ``autocast``."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if type(self).__init__ is Layer.__init__:
            config = {"name": self.name, "activity_regularizer": None, **config, "autocast": self.autocast}
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ------------------------------------------------------------------ minidl's interface
    def _ensure_built(self, shape) -> None:
        if not self.built:
            self.build((None, *shape[1:]))
            self.input_shape, self.built = tuple(shape[1:]), True

    def _graph_for(self, x, training: bool) -> Graph:
        many = isinstance(x, (list, tuple))
        xs = list(x) if many else [x]
        key = (tuple((tuple(np.shape(a)[1:]), np.dtype(a.dtype).name) for a in xs), bool(training))
        if key not in self._traces:
            inputs = [KerasTensor((None, *np.shape(a)[1:]), a.dtype) for a in xs]
            kwargs = {"training": training} if "training" in inspect.signature(self.call).parameters else {}
            with tracing() as effects:
                output = self.call(inputs if many else inputs[0], **kwargs)
            if not is_symbolic(output):
                raise TypeError(
                    f"{type(self).__name__}.call must return one tensor computed with keras.ops or "
                    f"layers from its inputs, got {type(output).__name__}"
                )
            self._traces[key] = Graph(inputs, [output], effects)
        return self._traces[key]

    def forward(self, x, training: bool = False):
        xs = x if isinstance(x, (list, tuple)) else [x]
        if not hasattr(xs[0], "shape"):
            xs = [np.asarray(a, dtype=self.dtype) for a in xs]
            x = xs if isinstance(x, (list, tuple)) else xs[0]
        self._ensure_built(xs[0].shape)
        graph = self._graph_for(x, training)
        (y,), tape = graph.forward(xs, training)
        self.cache = (graph, tape, isinstance(x, (list, tuple)))
        return y

    def backward(self, dy):
        graph, tape, many = self.require_cache()
        dxs = graph.backward(tape, [dy])
        return dxs if many else dxs[0]

    def add_penalty_gradients(self) -> None:
        """The sub-layers' penalty gradients and those of the weights made with ``regularizer=``."""
        super().add_penalty_gradients()
        for key, regularizer in self.__dict__.get("_weight_regularizers", {}).items():
            if key in own_arrays(self.grads):
                self.grads[key] += regularizer.gradient(self.params[key])

    def symbolic_output(self, x):
        first = x[0] if isinstance(x, (list, tuple)) else x
        self._ensure_built(first.shape)
        kwargs = {"training": False} if "training" in inspect.signature(self.call).parameters else {}
        with tracing():
            out = self.call(x, **kwargs)
        return out.shape, out.dtype

    def leaf_layers(self) -> list:
        """This layer (its weights and its sub-layers') and the layers of each ``keras.Model``
        it holds (what the optimizer updates)."""
        leaves = [self]
        models = [
            model for _, layer in self.layers_within() for model in layer.__dict__.get("_held_models", [])
        ]
        for model in models:
            for leaf in model.leaf_layers():
                if not any(leaf is seen for seen in leaves):
                    leaves.append(leaf)
        return leaves

    def count_params(self):
        counts = [MinidlLayer.count_params(leaf) for leaf in self.leaf_layers()]  # sub-layers included
        return ParamCount(sum(c[0] for c in counts), sum(c[1] for c in counts))

    @property
    def weights(self) -> list:
        """Keras's ``layer.weights``: its own weights, then each sub-layer's (depth first)."""
        return [
            Variable(layer, k, v.shape, v.dtype)
            for _, layer in self.layers_within()
            for store in (own_arrays(layer.params), own_arrays(layer.buffers))
            for k, v in store.items()
        ]

    def output_shape_for(self, input_shape):
        x = KerasTensor((None, *input_shape))
        return self.symbolic_output(x)[0][1:]


def _keras_build(user_build):
    """A subclass's ``build(input_shape)`` as both doors call it: Keras's (batch axis included,
    ``None``) from ``call``, minidl's (per-sample shape, ``dtype=``) from ``Sequential``."""

    def build(self, input_shape, dtype=None):
        if self.built:
            return
        shape = tuple(input_shape) if dtype is None else (None, *input_shape)
        user_build(self, shape)
        self.input_shape, self.built = shape[1:], True

    build.__doc__ = user_build.__doc__
    return build


def _initial_value(initializer, shape, dtype):
    if callable(initializer) and not isinstance(initializer, str):
        try:
            return np.asarray(initializer(shape, dtype=dtype), dtype=dtype)
        except TypeError:
            pass
    if isinstance(initializer, str) and initializer in ("random_normal", "RandomNormal"):
        return (backend.rng().standard_normal(shape) * 0.05).astype(dtype)
    if isinstance(initializer, str) and initializer in ("random_uniform", "RandomUniform"):
        return backend.rng().uniform(-0.05, 0.05, size=shape).astype(dtype)
    fn = minidl_initializers.get(initializer)
    fan_in, fan_out = _fans(shape)
    return np.asarray(fn(shape, fan_in, fan_out, dtype=dtype), dtype=dtype)


class Lambda(Layer):
    """``Lambda(function)``: a layer that computes ``function(inputs)`` with ``keras.ops``
    (recorded like a custom layer's ``call``, so it trains).

    Saved by the function's name (``get_config``), found again in ``load_model``'s
    ``custom_objects`` (or, for ``keras.ops`` and minidl's functions, where they live). A
    Python ``lambda`` (or a function defined inside another) has no name to find it by, so a
    model holding one cannot be saved: Keras stores its bytecode and refuses to load it unless
    ``safe_mode=False`` (running code from a file); minidl stores no code at all.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not callable(function):
            raise TypeError(f"Lambda needs a function, got {function!r}")
        if mask is not None:
            raise KerasFeatureMissing(
                f"keras.layers.Lambda(mask={mask!r}) is not in minidl_keras: give the mask to the layer "
                "that reads it (layers.Masking before it, or mask= in the call of an LSTM)"
            )
        self.function = function
        self.arguments = dict(arguments or {})

    def call(self, inputs, training=None):
        """``function(inputs, **arguments)``, as Keras's ``Lambda`` calls it."""
        return self.function(inputs, **self.arguments)

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.function, '__name__', 'function')})"

    def get_config(self) -> dict:
        fn = self.function
        qualname = getattr(fn, "__qualname__", "")
        if not qualname or "<lambda>" in qualname or "<locals>" in qualname:
            raise ValueError(
                f"{self.label} holds {qualname or repr(fn)}, which cannot be saved: minidl keeps a "
                "Lambda's function by name and stores no code (Keras stores a lambda's bytecode and "
                "refuses to load it unless load_model(safe_mode=False)). Define it at the top of a "
                "module, def my_fn(x): ..., use Lambda(my_fn) and load with "
                "custom_objects={'my_fn': my_fn}; or write the step as a keras.layers.Layer subclass"
            )
        function = {"module": fn.__module__, "name": qualname}
        base = {k: v for k, v in super().get_config().items() if k in ("name", "trainable", "dtype")}
        return {**base, "function": function, "arguments": self.arguments}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["function"] = _saved_function(config["function"], custom_objects)
        return cls(**config)


def _saved_function(spec: dict, custom_objects):
    """The function a ``Lambda`` was saved with: from ``custom_objects`` by name, or a
    ``keras.ops`` or minidl function from its module. Nothing else is imported (no code a
    file names runs on its own)."""
    import importlib

    name, module = spec["name"], spec["module"]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module.split(".")[0] in ("minidl", "minidl_keras"):
        found: object = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part, None)
        if callable(found):
            return found
    raise ValueError(
        f"the model's Lambda calls {module}.{name}: pass it in "
        f"load_model(..., custom_objects={{{name!r}: {name}}})"
    )


class TapedLoss(MinidlLoss):
    """A loss written as Keras users write one -- a function ``fn(y_true, y_pred)`` or a
    ``keras.losses.Loss`` subclass's ``call`` -- in ``keras.ops``, as a minidl loss
    ``compile(loss=...)`` trains with. Its gradient comes from the tape, as a custom layer's:
    ``fn`` runs once per target and prediction shape on two KerasTensors and records its ops;
    each batch runs that graph forward (the losses ``l``, each sample's or one) and backward
    from ``dl = 1 / l.size`` (the gradient of their mean, Keras's ``"sum_over_batch_size"``),
    which gives ``dL/dy_pred``. ``y_true`` is cast to the prediction's dtype, as Keras does."""

    symmetric = True  # no guess at a swapped order: the user's function says which is which

    def __init__(self, fn, name: str):
        super().__init__()
        self._fn, self._name = fn, name
        self._traces: dict[tuple, Graph] = {}

    def compute(self, y_pred, y_true):
        xp = backend.get_array_module(y_pred)
        y_true = xp.asarray(y_true).astype(y_pred.dtype)
        key = (tuple(y_true.shape[1:]), tuple(y_pred.shape[1:]), np.dtype(y_pred.dtype).name)
        if key not in self._traces:
            inputs = [KerasTensor((None, *shape), y_pred.dtype) for shape in key[:2]]
            with tracing() as effects:
                output = self._fn(*inputs)
            if not is_symbolic(output):
                raise TypeError(
                    f"the loss {self._name!r} must return a tensor computed with keras.ops from y_true "
                    f"and y_pred (each sample's loss), got {type(output).__name__}"
                )
            self._traces[key] = Graph(inputs, [output], effects)
        graph = self._traces[key]
        (losses,), tape = graph.forward([y_true, y_pred], False)
        losses = xp.asarray(losses)
        _, grad = graph.backward(tape, [xp.full(losses.shape, 1.0 / losses.size, dtype=y_pred.dtype)])
        return losses, grad

    def get_config(self) -> dict:
        return {"name": self._name}

    def __repr__(self) -> str:
        return f"<loss {self._name} (keras.ops, differentiated on the tape)>"


def compiled_loss(spec):
    """What ``compile(loss=spec)`` trains with: a user's ``keras.losses.Loss`` subclass (its
    ``call``) or a plain function ``(y_true, y_pred)`` as a ``TapedLoss``; anything else as
    ``keras.losses.compiled`` makes it (Keras's names, classes and functions)."""
    if (
        isinstance(spec, type)
        and issubclass(spec, keras_losses.Loss)
        and spec.call is not keras_losses.Loss.call
    ):
        spec = spec()
    if isinstance(spec, keras_losses.Loss) and spec.library_loss is None:
        return TapedLoss(spec.call, spec.name)
    plain_function = (
        callable(spec)
        and not isinstance(spec, (type, MinidlLoss, keras_losses.Loss))
        and getattr(spec, "loss_class", None) is None
    )
    if plain_function:
        return TapedLoss(spec, getattr(spec, "__name__", type(spec).__name__))
    return keras_losses.compiled(spec)
