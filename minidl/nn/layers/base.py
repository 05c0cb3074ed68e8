"""The ``Layer`` contract that every layer in minidl follows.

A layer is a function ``y = f(x; params)`` that also knows its derivative:

* ``forward(x, training)`` computes ``y`` and keeps in ``self.cache`` whatever
  ``backward`` will need;
* ``backward(dy)`` receives ``dL/dy`` (same shape as ``y``), writes ``dL/dparam`` into
  ``self.grads`` (same keys and shapes as ``self.params``) and returns ``dL/dx``.

Weights are created lazily: the first ``forward`` calls ``build`` with the input's shape
(without the batch axis), so ``Dense(128)`` needs no input size, where the data lives: on the
batch's device, or the one given to ``to()`` before. ``build`` draws them on the host
(``minidl.backend.rng()``: the same numbers on CPU and GPU); ``add_param`` moves them.

A new layer overrides ``build`` (if it has weights), ``compute_output_shape`` (if it changes
the shape), ``forward`` (starting with ``x = self.check_input(x)``) and ``backward``. Beside this
file: ``sublayers.py`` (layers that hold layers; moving, casting), ``registry.py`` (classes by
name, ``get_config``: saving), ``checks.py`` (argument and batch checks, their messages).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import numpy as np

from ... import backend
from .checks import ShapeChecks, check_batch, checked_shape
from .registry import SavedByName, constructor_arguments
from .sublayers import LayerTree, SubLayerArrays


class Layer(ShapeChecks, LayerTree, SavedByName):
    """Base class of all layers.

    Attributes
    ----------
    params, grads : dict[str, array]
        Learnable arrays (``{"W": (in, units), "b": (units,)}``) and ``dL/dparam`` for each,
        filled by ``backward``.
    buffers : dict[str, array]
        Saved but not learned by gradient descent (BatchNorm's running statistics).
    trainable : bool
        ``False`` freezes the layer: optimizers skip its params (gradients still flow
        through it to earlier layers), and ``summary`` counts them as non-trainable.
    device : str or None
        ``"cpu"`` or ``"gpu"``, set by ``to()`` or by the batch that built the layer.
    input_shape, declared_input_shape : tuple or None
        The per-sample shape the layer was built for; the ``input_shape=`` (or ``input_dim=``)
        given to the constructor. (``input_ndims``, ``input_layout``: ``checks.ShapeChecks``.)

    ``layer(x)`` runs ``forward(x, training)``, unless ``x`` (or its first entry) has a method
    ``record_call(layer, x, **kwargs)``, which then gets the call: a tracer's symbolic input
    (docs/ARCHITECTURE.md, "Extending minidl").
    """

    #: whether a frozen layer runs in inference mode inside a model (BatchNorm: its running statistics)
    inference_when_frozen = False

    def __init__(
        self, name: str | None = None, input_shape=None, input_dim=None, trainable: bool = True, **unknown
    ):
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(constructor_arguments(type(self)))}"
            )
        if input_dim is not None:
            if input_shape is not None:
                raise ValueError(f"{type(self).__name__}: give input_shape or input_dim, not both")
            input_shape = (input_dim,)
        self.name = name
        holds = type(self).sublayers is not Layer.sublayers  # then params etc. see the sub-layers'
        self.params: MutableMapping[str, Any] = SubLayerArrays(self, "params") if holds else {}
        self.grads: MutableMapping[str, Any] = SubLayerArrays(self, "grads") if holds else {}
        self.buffers: MutableMapping[str, Any] = SubLayerArrays(self, "buffers") if holds else {}
        self.trainable = bool(trainable)
        self.device: str | None = None
        self.built = False
        self.input_shape: tuple | None = None
        self.declared_input_shape = (
            None if input_shape is None else checked_shape(input_shape, type(self).__name__)
        )
        self.cache: Any = None  # what forward keeps for backward

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
        value = value if self.device is None else backend.to_device(value, self.device)
        self.params[name] = value
        self.grads[name] = backend.get_array_module(value).zeros_like(value)

    def add_buffer(self, name: str, value) -> None:
        """Register a saved but not learned array (running statistics) on the layer's device."""
        self.buffers[name] = value if self.device is None else backend.to_device(value, self.device)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Output shape (without the batch axis) for an input of ``input_shape``."""
        return tuple(input_shape)

    @property
    def output_shape(self) -> tuple | None:
        """Per-sample output shape once built."""
        return None if self.input_shape is None else tuple(self.compute_output_shape(self.input_shape))

    def output_shape_for(self, input_shape: tuple) -> tuple:
        """The per-sample output shape for inputs of ``input_shape`` (what ``Sequential`` and
        ``summary`` pass along; a layer that adapts another's inputs overrides it)."""
        return tuple(self.compute_output_shape(tuple(input_shape)))

    def check_input(self, x):
        """``x`` as an array this layer accepts, else a ``ValueError`` naming the expected layout
        and the shape received (``checks.check_batch``); builds the layer on first use."""
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            x = np.asarray(x, dtype=np.float32)
        was_built = self.built
        if not was_built and (self.input_ndims is None or x.ndim in self.input_ndims):
            if self.device is None:
                self.device = backend.device_of(x)  # weights are born where the data is
            self.build(
                tuple(x.shape[1:]), dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
            )
        check_batch(self, x, was_built)
        return x

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


def column_sums(x2):
    """Σ over the rows of x2 (R, C) -> (C,), a bias's gradient: as the product ones(R) x2, which
    BLAS splits over the cores where NumPy's ``sum`` takes one (the same sums, in another order)."""
    return backend.get_array_module(x2).ones(x2.shape[0], dtype=x2.dtype) @ x2
