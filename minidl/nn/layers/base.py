"""The ``Layer`` contract that every layer in minidl follows.

A layer is a function ``y = f(x; params)`` that also knows its derivative:

* ``forward(x, training)`` computes ``y`` and keeps in ``self.cache`` whatever
  ``backward`` will need;
* ``backward(dy)`` receives ``dL/dy`` (same shape as ``y``), writes ``dL/dparam`` into
  ``self.grads`` (same keys and shapes as ``self.params``) and returns ``dL/dx``.

Weights are created lazily: the first ``forward`` calls ``build`` with the
input's shape (without the batch axis), so ``Dense(128)`` needs no input size. They are
created where the data lives (DeZero's rule): on the device of the batch that builds the
layer, or on the device given to ``to()`` before it was built. ``build`` draws the initial
values on the host (``minidl.backend.rng()``, so a seed gives the same numbers on CPU and
GPU) and ``add_param`` / ``add_buffer`` put them on the layer's device.

Writing a new layer means overriding ``build`` (if it has weights),
``compute_output_shape`` (if it changes the shape), ``forward`` and ``backward``;
``forward`` starts with ``x = self.check_input(x)``, which checks the rank and builds
the layer on first use.

A layer may hold other layers (``Residual``, ``TransformerBlock``): ``Layer``'s docstring
says how, under "Layers that hold layers".
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, MutableMapping
from typing import Any

import numpy as np

from ... import backend

# Every Layer subclass, by class name: how ``load_model`` turns saved JSON back into layers.
LAYER_CLASSES: dict[str, type] = {}


# The packages whose layer classes count as the library's own (not a user's): minidl, and any
# distribution built on it that says so with ``library_package`` (it then saves and loads its
# layers by class name, as minidl does).
LIBRARY_PACKAGES = {"minidl"}


def library_package(name: str) -> None:
    """Count the layer classes of package ``name`` as library classes, not a user's."""
    LIBRARY_PACKAGES.add(name)


def from_minidl(cls: type) -> bool:
    """Whether ``cls`` is one of the library's own classes (not a user's subclass)."""
    return cls.__module__.split(".")[0] in LIBRARY_PACKAGES


def _register_layer_class(cls: type) -> None:
    """Make ``cls`` known to ``load_model`` by its class name. A class defined outside minidl
    never takes the name of one of minidl's own: a user's layer called ``TransformerBlock``
    would otherwise make every saved minidl ``TransformerBlock`` load as the user's class.
    (Such a class is loaded by passing it to the loader.)"""
    known = LAYER_CLASSES.get(cls.__name__)
    if known is not None and from_minidl(known) and not from_minidl(cls):
        return
    LAYER_CLASSES[cls.__name__] = cls


# Layer.__init__'s arguments that are not part of a saved layer's config: the model saves
# its input shape, and each layer's ``trainable`` flag, itself.
_NOT_CONFIG = ("input_shape", "input_dim", "trainable")


def positive_int(value, what: str) -> int:
    """``value`` as an ``int`` if it is a positive integer (a bool is not), else a ``ValueError``
    that names ``what`` (``"Dense units"``) and the value received."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def fraction(value, what: str) -> float:
    """``value`` as a float in [0, 1) (a rate, a momentum), else a ``ValueError`` naming ``what``."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {value!r}")
    return float(value)


def positive(value, what: str) -> float:
    """``value`` as a float > 0 (an epsilon), else a ``ValueError`` naming ``what``."""
    if not value > 0:
        raise ValueError(f"{what} must be > 0, got {value!r}")
    return float(value)


def _checked_shape(shape, who: str):
    """A per-sample shape as a tuple of ints (``None`` allowed: a free axis, e.g. time)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(
            f"{who} input_shape must be a tuple of sizes without the batch axis, "
            f"e.g. (28, 28, 1) or (None, 10), got {shape!r}"
        ) from None
    if not all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0) for d in dims
    ):
        raise ValueError(
            f"{who} input_shape must hold positive integers (or None for a free axis), "
            f"without the batch axis, got {shape!r}"
        )
    return tuple(None if d is None else int(d) for d in dims)


class SubLayerArrays(MutableMapping):
    """One of ``params`` / ``grads`` / ``buffers`` of a layer that holds others: its own
    arrays (keys without a dot), then each sub-layer's under ``"<sub-layer>.<key>"``.

    A view, not a copy: reading gives the sub-layer's array itself, and assigning an entry
    assigns it in the dict that holds it (what ``to``, ``astype`` and ``load_model`` do), so
    the holder and its sub-layers never drift apart. A new key without a dot is the holder's
    own (``add_param``); entries cannot be deleted.
    """

    def __init__(self, owner: Layer, store: str):
        self.owner, self.store = owner, store
        self.own: dict = {}

    def _holder(self, key: str):
        """(the dict that holds ``key``, the key there), or a KeyError naming what exists."""
        if key in self.own:
            return self.own, key
        for name, layer in self.owner.sublayers().items():
            inner = getattr(layer, self.store)
            if key.startswith(name + ".") and key[len(name) + 1 :] in inner:
                return inner, key[len(name) + 1 :]
        raise KeyError(f"{self.owner.label} has no {self.store[:-1]} {key!r}; it has {list(self)}")

    def __getitem__(self, key: str):
        inner, inner_key = self._holder(key)
        return inner[inner_key]

    def __setitem__(self, key: str, value) -> None:
        try:
            inner, inner_key = self._holder(key)
        except KeyError:
            if "." in key:
                raise
            inner, inner_key = self.own, key
        inner[inner_key] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"cannot delete {key!r}: {self.owner.label}'s {self.store} are its layers' arrays")

    def __iter__(self) -> Iterator[str]:
        yield from self.own
        for name, layer in self.owner.sublayers().items():
            for key in getattr(layer, self.store):
                yield f"{name}.{key}"

    def __len__(self) -> int:
        return len(self.own) + sum(
            len(getattr(layer, self.store)) for layer in self.owner.sublayers().values()
        )

    def __repr__(self) -> str:
        return repr(dict(self))


def _own(store) -> dict:
    """A layer's own arrays in ``store``: all of them, or those of a ``SubLayerArrays`` that
    are not its sub-layers'."""
    return store.own if isinstance(store, SubLayerArrays) else store


class Layer:
    """Base class of all layers.

    Attributes
    ----------
    params : dict[str, array]
        Learnable arrays, e.g. ``{"W": (in, units), "b": (units,)}``.
    grads : dict[str, array]
        ``dL/dparam`` for each entry of ``params``, filled by ``backward``.
    buffers : dict[str, array]
        State that is saved with the model but not learned by gradient descent
        (BatchNorm's running statistics).
    trainable : bool
        ``False`` freezes the layer: optimizers skip its params (gradients still flow
        through it to earlier layers), and ``summary`` counts them as non-trainable.
    device : str or None
        ``"cpu"`` or ``"gpu"``: where the layer's arrays live, set by ``to()`` or by the
        batch that built the layer; ``None`` until then (the first batch decides).
    input_shape : tuple or None
        The per-sample shape the layer was built for ((C, H, W) for an image layer).
    declared_input_shape : tuple or None
        The ``input_shape=`` (or ``input_dim=``) given to the constructor: on a model's
        first layer it means what ``Sequential(..., input_shape=)`` means.
    input_ndims : tuple[int, ...] or None
        The input ranks (batch axis included) the layer accepts; ``None`` accepts any.
    input_layout : str
        How the accepted input is described in error messages, e.g. ``"(N, C, H, W)"``.

    Layers that hold layers
    -----------------------
    A layer built from others (``Residual``, ``TransformerBlock``, a layer of your own)
    names them in ``sublayers()``, a dict ``{name: layer}``::

        def sublayers(self):
            return {"fc1": self.fc1, "fc2": self.fc2}

    Its ``params``, ``grads`` and ``buffers`` are then ``SubLayerArrays``: its own arrays
    (``add_param`` works as anywhere), then every sub-layer's under ``"<name>.<key>"``
    (PyTorch's ``state_dict`` names) -- the very arrays, read through at each access. So
    everything that walks a layer's arrays (an optimizer, ``save`` / ``load_model``,
    ``zero_grad``, ``astype``, a gradient check) sees the sub-layers' with no code of its
    own, and ``to(device)``, ``count_params`` (``summary``) and ``regularization_loss``
    recurse into them. ``trainable = False`` on the holder freezes all of it; on a
    sub-layer, that sub-layer alone (``trainable_keys`` leaves its arrays out). The
    holder's ``build`` builds the sub-layers (on its ``device``), and its ``forward`` and
    ``backward`` call theirs in its own order. (An ``activation=`` argument is a function
    with no arrays applied inside the layer, not a sub-layer.)

    ``sublayers()`` is read at each access, so it may name layers made after ``__init__``
    (in ``build``, or assigned as attributes) and may be computed from lists (``UNet``'s
    ``"enc.0.0"``, ``Residual``'s ``"block.1"``). ``layers_within()`` walks the tree depth
    first, ``(path, layer)``, for code that needs each array's own layer.

    Symbolic inputs
    ---------------
    Calling a layer, ``layer(x)``, runs ``forward(x, training)``, unless ``x`` (or the first of
    a list of inputs) has a method ``record_call(layer, x, **kwargs)``: then the call is handed
    to it and its result returned. That is the hook for a tracer, a placeholder tensor that
    records which layers are applied to it to build a graph instead of computing (a
    functional API built on minidl's layers); minidl's own arrays have no such method.
    """

    input_ndims: tuple[int, ...] | None = None
    input_layout = "(N, ...)"

    def __init_subclass__(cls, register: bool = True, **kwargs):
        super().__init_subclass__(**kwargs)
        if register:  # ``register=False``: a door's subclass that adds names only, saved as its base
            _register_layer_class(cls)

    #: whether a frozen layer runs in inference mode inside a model (BatchNorm: its running statistics)
    inference_when_frozen = False
    #: a penalty on the weight matrix ``W``, added to the loss by ``regularization_loss``
    kernel_regularizer = None

    def __init__(
        self, name: str | None = None, input_shape=None, input_dim=None, trainable: bool = True, **unknown
    ):
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) "
                f"{', '.join(sorted(unknown))}; it takes "
                f"{', '.join(_constructor_arguments(type(self)))}"
            )
        if input_dim is not None:
            if input_shape is not None:
                raise ValueError(f"{type(self).__name__}: give input_shape or input_dim, not both")
            input_shape = (input_dim,)
        self.name = name
        holds_layers = type(self).sublayers is not Layer.sublayers
        self.params: MutableMapping[str, Any] = SubLayerArrays(self, "params") if holds_layers else {}
        self.grads: MutableMapping[str, Any] = SubLayerArrays(self, "grads") if holds_layers else {}
        self.buffers: MutableMapping[str, Any] = SubLayerArrays(self, "buffers") if holds_layers else {}
        self.trainable = bool(trainable)
        self.device: str | None = None
        self.built = False
        self.input_shape: tuple | None = None
        self.declared_input_shape = (
            None if input_shape is None else _checked_shape(input_shape, type(self).__name__)
        )
        self.cache: Any = None  # what forward keeps for backward

    # ------------------------------------------------------------------ sub-layers
    def sublayers(self) -> dict[str, Layer]:
        """The layers this one holds, by name: ``{}`` for a layer of its own arrays only.

        A layer built from others overrides this (see "Layers that hold layers" in the class
        docstring); its ``params`` / ``grads`` / ``buffers`` then include the sub-layers'."""
        return {}

    def layers_within(self, path: str = "") -> Iterator[tuple[str, Layer]]:
        """``(path, layer)`` for this layer (``path``, ``""`` at the top) and then, depth first,
        every layer it holds (``"fc1"``, ``"block.0.fc1"``): each layer's own arrays are
        ``_own(layer.params)``, so a walk over them visits every array once."""
        yield path, self
        for name, layer in self.sublayers().items():
            yield from layer.layers_within(f"{path}.{name}" if path else name)

    # ------------------------------------------------------------------ building
    def build(self, input_shape: tuple, dtype=np.float32) -> None:
        """Create the weights for inputs of shape ``(N, *input_shape)``.

        Subclasses with weights override this, call ``super().build(input_shape, dtype)``
        first and create their arrays with ``add_param``. ``input_shape`` may hold ``None``
        for a free axis (a sequence's length).
        """
        self.input_shape = tuple(None if d is None else int(d) for d in input_shape)
        self.built = True

    def add_param(self, name: str, value) -> None:
        """Register a learnable array (moved to the layer's device) and a zero gradient like it."""
        value = self._on_device(value)
        self.params[name] = value
        self.grads[name] = backend.get_array_module(value).zeros_like(value)

    def add_buffer(self, name: str, value) -> None:
        """Register a saved but not learned array (running statistics) on the layer's device."""
        self.buffers[name] = self._on_device(value)

    def _on_device(self, value):
        """``value`` on ``self.device``; unchanged while the layer has no device yet."""
        return value if self.device is None else backend.to_device(value, self.device)

    @property
    def built_input_shape(self) -> tuple:
        """``input_shape`` of a built layer (what its weights were made for)."""
        if self.input_shape is None:
            raise RuntimeError(f"{self.label} is not built yet: call it on a batch or build it first")
        return self.input_shape

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Output shape (without the batch axis) for an input of ``input_shape``."""
        return tuple(input_shape)

    @property
    def output_shape(self) -> tuple | None:
        """Per-sample output shape once built."""
        if self.input_shape is None:
            return None
        return tuple(self.compute_output_shape(self.input_shape))

    def output_shape_for(self, input_shape: tuple) -> tuple:
        """The per-sample output shape for inputs of ``input_shape`` (what ``Sequential`` and
        ``summary`` pass along; a layer that adapts another's inputs overrides it)."""
        return tuple(self.compute_output_shape(tuple(input_shape)))

    def _mismatch_hint(self, got: tuple) -> str:
        """A hint added to the error for a batch a built layer cannot take (image layers': conv.py)."""
        return ""

    def check_input(self, x):
        """Check that ``x`` is a batch this layer accepts; build the layer on first use.

        Raises ``ValueError`` naming the expected layout and the shape received.
        """
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            x = np.asarray(x, dtype=np.float32)
        if self.input_ndims is not None and x.ndim not in self.input_ndims:
            raise ValueError(
                f"{self.label} expected input {self.input_layout}, "
                f"got shape {tuple(x.shape)}{_batch_axis_hint(self, x)}"
            )
        if not self.built:
            if self.device is None:
                self.device = backend.device_of(x)  # weights are born where the data is
            dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
            self.build(tuple(x.shape[1:]), dtype=dtype)
        elif self.params and self._input_mismatch(tuple(x.shape[1:])):
            got = tuple(x.shape)
            raise ValueError(
                f"{self.label} was built for inputs (N, {_dims(self.built_input_shape)}), "
                f"got shape {got}{self._mismatch_hint(got)}"
            )
        if self.params:
            weights_on = backend.device_of(next(iter(self.params.values())))
            input_on = backend.device_of(x)
            if weights_on != input_on:
                raise ValueError(
                    f"{self.label} has its weights on the {weights_on.upper()} but got an "
                    f"input on the {input_on.upper()}; move one of them "
                    f"(model.to('{input_on}') or minidl.backend.to_device(x, '{weights_on}'))"
                )
        return x

    def _input_mismatch(self, shape: tuple) -> bool:
        """Whether a built layer with weights cannot take inputs of ``shape``.

        By default the last axis must match (what a weight matrix fixes);
        layers whose weights fix other axes override this.
        """
        return shape[-1:] != tuple(self.input_shape or ())[-1:]

    # ------------------------------------------------------------------ computing
    def forward(self, x, training: bool = False):
        """``y = f(x)``; keep what ``backward`` needs in ``self.cache``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dy):
        """Given ``dL/dy``, fill ``self.grads`` and return ``dL/dx``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x, training: bool | None = None, **kwargs):
        first = x[0] if isinstance(x, (list, tuple)) and x else x
        if hasattr(first, "record_call"):  # a tracer's symbolic input: record, not compute (see above)
            return first.record_call(self, x, training=training, **kwargs)
        return self.forward(x, training=bool(training), **kwargs)

    def require_cache(self):
        """The cache of the last forward pass, or a clear error if there was none."""
        if self.cache is None:
            raise RuntimeError(
                f"{self.label}.backward called before forward (or after a forward with no cache)"
            )
        return self.cache

    def zero_grad(self) -> None:
        """Set every gradient to zero (they are overwritten by backward anyway)."""
        for g in self.grads.values():
            g[...] = 0

    def regularization_loss(self) -> float:
        """The penalty this layer (and the layers it holds) adds to the loss: its
        ``kernel_regularizer`` on ``W``, 0 without one.

        (Dense, Conv1D, Conv2D and Conv2DTranspose take ``kernel_regularizer=``; a layer with
        other penalties overrides this and ``add_penalty_gradients``.)
        """
        inner = sum((layer.regularization_loss() for layer in self.sublayers().values()), 0.0)
        if self.kernel_regularizer is None or not self.built:
            return inner
        return inner + self.kernel_regularizer.loss(self.params["W"])

    def add_penalty_gradients(self) -> None:
        """Add the gradient of ``regularization_loss()`` to ``grads``.

        A penalty on the weights is part of the loss, not of the layer's function, so
        ``backward`` leaves it out (it shows the layer's math alone) and the optimizer's
        ``step`` calls this first: ``dL/dW = (the data's gradient) + penalty'(W)``.
        """
        for layer in self.sublayers().values():
            layer.add_penalty_gradients()
        if self.kernel_regularizer is not None and self.built:
            self.grads["W"] += self.kernel_regularizer.gradient(self.params["W"])

    def own_constraints(self) -> dict:
        """``{key: fn}``: the constraints on this layer's own ``params`` (``minidl.nn.constraints``,
        or any function ``w -> w``), which the optimizer applies after each step; none here."""
        return {}

    def constraint_of(self, key: str):
        """The constraint on ``params[key]`` or None; a sub-layer's key ``"<name>.<key>"`` asks it."""
        for name, layer in self.sublayers().items():
            if key.startswith(name + "."):
                return layer.constraint_of(key[len(name) + 1 :])
        return self.own_constraints().get(key)

    # ------------------------------------------------------------------ bookkeeping
    @property
    def label(self) -> str:
        return self.name or type(self).__name__

    def count_params(self) -> tuple[int, int]:
        """``(trainable, non_trainable)`` numbers of scalars, buffers counted as non-trainable
        (and a frozen sub-layer's params)."""
        trainable = sum(int(p.size) for p in _own(self.params).values())
        frozen = sum(int(b.size) for b in _own(self.buffers).values())
        for layer in self.sublayers().values():
            inner_trainable, inner_frozen = layer.count_params()
            trainable, frozen = trainable + inner_trainable, frozen + inner_frozen
        return (trainable, frozen) if self.trainable else (0, trainable + frozen)

    def trainable_keys(self) -> list[str]:
        """The keys of ``params`` an optimizer updates: none when the layer is frozen, else all
        but those of frozen sub-layers."""
        if not self.trainable:
            return []
        keys = list(_own(self.params))
        for name, layer in self.sublayers().items():
            keys += [f"{name}.{key}" for key in layer.trainable_keys()]
        return keys

    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (used by ``save``).

        Read from the attributes named like the ``__init__`` parameters, so a layer
        that stores its arguments under their own names needs no code here.
        """
        config = {}
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or name == "self":
                continue
            if type(self).__init__ is Layer.__init__ and name in _NOT_CONFIG:
                continue
            config[name] = getattr(self, name)
        return config

    def map_arrays(self, fn) -> None:
        """Replace every param, grad and buffer ``a`` by ``fn(a)`` (device moves, casts)."""
        for store in (self.params, self.grads, self.buffers):
            for key in store:
                store[key] = fn(store[key])

    def to(self, device: str) -> Layer:
        """Move params, grads and buffers to ``"cpu"`` or ``"gpu"``; a layer not built yet
        will create them there."""
        device = backend.check_device(device)
        for layer in self.sublayers().values():
            layer.to(device)
        self.map_arrays(lambda a: backend.to_device(a, device))  # (the sub-layers' are there already)
        self.device = device
        self.cache = None
        return self

    def astype(self, dtype) -> Layer:
        """Cast params, grads and buffers to ``dtype`` (float64 for gradient checks)."""
        self.map_arrays(lambda a: a.astype(dtype))
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _dims(shape) -> str:
    return ", ".join(str(d) for d in shape)


def _batch_axis_hint(layer, x) -> str:
    """A hint when ``x`` is one sample without its batch axis (one axis short)."""
    if layer.input_ndims is not None and x.ndim + 1 in layer.input_ndims:
        return "; if this is a single sample, add a batch axis: x[None] (or x.reshape(1, *x.shape))"
    return ""


def _constructor_arguments(cls) -> list[str]:
    names = [
        name
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return names + [n for n in ("input_shape", "input_dim", "trainable") if n not in names]
