"""The ``Layer`` contract that every layer in minidl follows.

A layer is a function ``y = f(x; params)`` that also knows its derivative:

* ``forward(x, training)`` computes ``y`` and keeps in ``self.cache`` whatever
  ``backward`` will need;
* ``backward(dy)`` receives ``dL/dy`` (same shape as ``y``), writes ``dL/dparam`` into
  ``self.grads`` (same keys and shapes as ``self.params``) and returns ``dL/dx``.

Weights are created lazily, as in Keras: the first ``forward`` calls ``build`` with the
input's shape (without the batch axis), so ``Dense(128)`` needs no input size.

Writing a new layer means overriding ``build`` (if it has weights),
``compute_output_shape`` (if it changes the shape), ``forward`` and ``backward``;
``forward`` starts with ``x = self.check_input(x)``, which checks the rank and builds
the layer on first use.
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import backend

# Every Layer subclass, by class name: how ``load_model`` turns saved JSON back into layers.
LAYER_CLASSES: dict[str, type] = {}


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
        through it to earlier layers).
    input_ndims : tuple[int, ...] or None
        The input ranks (batch axis included) the layer accepts; ``None`` accepts any.
    input_layout : str
        How the accepted input is described in error messages, e.g. ``"(N, C, H, W)"``.
    """

    input_ndims: tuple[int, ...] | None = None
    input_layout = "(N, ...)"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        LAYER_CLASSES[cls.__name__] = cls

    def __init__(self, name: str | None = None):
        self.name = name
        self.params: dict = {}
        self.grads: dict = {}
        self.buffers: dict = {}
        self.trainable = True
        self.built = False
        self.input_shape: tuple | None = None
        self.cache = None

    # ------------------------------------------------------------------ building
    def build(self, input_shape: tuple, dtype=np.float32) -> None:
        """Create the weights for inputs of shape ``(N, *input_shape)``.

        Subclasses with weights override this, call ``super().build(input_shape, dtype)``
        first and create their arrays with ``add_param``.
        """
        self.input_shape = tuple(int(d) for d in input_shape)
        self.built = True

    def add_param(self, name: str, value) -> None:
        """Register a learnable array and a zero gradient of the same shape."""
        self.params[name] = value
        self.grads[name] = backend.get_array_module(value).zeros_like(value)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Output shape (without the batch axis) for an input of ``input_shape``."""
        return tuple(input_shape)

    @property
    def output_shape(self) -> tuple | None:
        return None if self.input_shape is None else self.compute_output_shape(self.input_shape)

    def check_input(self, x):
        """Check that ``x`` is a batch this layer accepts; build the layer on first use.

        Raises ``ValueError`` naming the expected layout and the shape received.
        """
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            x = np.asarray(x, dtype=np.float32)
        if self.input_ndims is not None and x.ndim not in self.input_ndims:
            raise ValueError(f"{self.label} expected input {self.input_layout}, "
                             f"got shape {tuple(x.shape)}")
        if not self.built:
            dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
            self.build(tuple(x.shape[1:]), dtype=dtype)
        elif self.params and self._input_mismatch(tuple(x.shape[1:])):
            raise ValueError(f"{self.label} was built for inputs (N, {_dims(self.input_shape)}), "
                             f"got shape {tuple(x.shape)}")
        if self.params:
            weights_on = backend.device_of(next(iter(self.params.values())))
            input_on = backend.device_of(x)
            if weights_on != input_on:
                raise ValueError(f"{self.label} has its weights on the {weights_on.upper()} but got an "
                                 f"input on the {input_on.upper()}; move one of them "
                                 f"(model.to('{input_on}') or minidl.backend.to_device(x, '{weights_on}'))")
        return x

    def _input_mismatch(self, shape: tuple) -> bool:
        """Whether a built layer with weights cannot take inputs of ``shape``.

        By default the last axis must match (what a weight matrix fixes);
        layers whose weights fix other axes override this.
        """
        return shape[-1:] != self.input_shape[-1:]

    # ------------------------------------------------------------------ computing
    def forward(self, x, training: bool = False):
        """``y = f(x)``; keep what ``backward`` needs in ``self.cache``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dy):
        """Given ``dL/dy``, fill ``self.grads`` and return ``dL/dx``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x, training: bool = False):
        return self.forward(x, training=training)

    def require_cache(self):
        """The cache of the last forward pass, or a clear error if there was none."""
        if self.cache is None:
            raise RuntimeError(f"{self.label}.backward called before forward "
                               "(or after a forward with no cache)")
        return self.cache

    def zero_grad(self) -> None:
        """Set every gradient to zero (they are overwritten by backward anyway)."""
        for g in self.grads.values():
            g[...] = 0

    def regularization_loss(self) -> float:
        """The penalty this layer adds to the loss (weight regularizers); 0 by default."""
        return 0.0

    # ------------------------------------------------------------------ bookkeeping
    @property
    def label(self) -> str:
        return self.name or type(self).__name__

    def count_params(self) -> tuple[int, int]:
        """``(trainable, non_trainable)`` numbers of scalars, buffers counted as non-trainable."""
        n_params = sum(int(p.size) for p in self.params.values())
        n_buffers = sum(int(b.size) for b in self.buffers.values())
        return (n_params, n_buffers) if self.trainable else (0, n_params + n_buffers)

    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (used by ``save``).

        Read from the attributes named like the ``__init__`` parameters, so a layer
        that stores its arguments under their own names needs no code here.
        """
        config = {}
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            config[name] = getattr(self, name)
        return config

    def map_arrays(self, fn) -> None:
        """Replace every param, grad and buffer ``a`` by ``fn(a)`` (device moves, casts)."""
        for store in (self.params, self.grads, self.buffers):
            for key in store:
                store[key] = fn(store[key])

    def to(self, device: str) -> "Layer":
        """Move params, grads and buffers to ``"cpu"`` or ``"gpu"``."""
        self.map_arrays(lambda a: backend.to_device(a, device))
        self.cache = None
        return self

    def astype(self, dtype) -> "Layer":
        """Cast params, grads and buffers to ``dtype`` (float64 for gradient checks)."""
        self.map_arrays(lambda a: a.astype(dtype))
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _dims(shape) -> str:
    return ", ".join(str(d) for d in shape)
