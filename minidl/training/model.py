"""``Sequential``: a stack of layers, trained with ``compile``/``fit`` or by hand.

With ``compile`` and ``fit``::

    model = Sequential([Dense(128, activation="relu"), Dense(10)])
    model.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, validation_data=(xv, yv))

PyTorch-style, the same training step written out::

    y = model.forward(xb, training=True)
    loss = loss_fn(y, yb)
    model.backward(loss_fn.backward())
    opt.step(model)
    model.zero_grad()

Forward runs the layers in order; backward runs them in reverse, each turning
``dL/d(output)`` into ``dL/d(input)`` -- the chain rule, one layer at a time.
"""

from __future__ import annotations

import os

import numpy as np

from .. import backend
from ..nn.layers.base import Layer
from ..nn.layers.checks import checked_shape
from . import saving
from .summary import summary_table
from .trainer import NonFiniteLossError, Trainer

__all__ = ["Sequential", "load_model", "NonFiniteLossError"]


class Sequential(Trainer):
    """Layers applied one after another.

    ``layers`` is exactly the list given (activations passed as ``activation=`` live inside
    their layer). With ``input_shape`` (without the batch axis) every layer is built at
    once; otherwise on the first forward.

    ``dtype`` is the floating-point type the weights are created in (float32 unless given;
    ``"float64"`` for gradient checks). ``fit``, ``evaluate``, ``predict`` and
    ``train_on_batch`` cast their inputs to the model's dtype, so float64 data
    or Python lists never turn a float32 model into a float64 one; ``forward`` (the by-hand
    path) takes arrays as they come.
    """

    def __init__(self, layers=None, input_shape=None, name: str | None = None, dtype=None):
        self.layers: list[Layer] = []
        self.name = name
        self.dtype = None if dtype is None else np.dtype(dtype).name
        if self.dtype is not None and not np.issubdtype(self.dtype, np.floating):
            raise ValueError(
                f"Sequential dtype must be a floating-point type such as 'float32' or "
                f"'float64', got {dtype!r}"
            )
        self.input_shape: tuple | None = None
        self.optimizer = self.loss = None
        self.metrics: list = []
        self.stop_training = False
        self.history = None
        self.device = "cpu"
        self.device_chosen = False  # True once to() chose the device; until then the first batch's is used
        self.epochs_completed = 0  # saved with the model; fit(initial_epoch=...) reads it
        for layer in layers or []:
            self.add(layer)
        if input_shape is not None:
            self.build(input_shape)

    # ------------------------------------------------------------------ structure
    def add(self, layer: Layer) -> None:
        """Append a layer (built at once if the model already knows its input shape).

        The input shape may also be given as ``input_shape=`` on the first layer. A
        ``Sequential`` added to a ``Sequential`` contributes its layers (shared, not
        copied: a frozen base stays frozen). After ``to(device)`` an added layer moves there (or, not built yet, will be built there).
        """
        if isinstance(layer, Sequential):
            if self.input_shape is None and not self.layers and layer.input_shape is not None:
                self.build(layer.input_shape)
            for inner in layer.layers:
                self.add(inner)
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential takes minidl layers, got {type(layer).__name__}; give the input "
                "shape as Sequential(..., input_shape=) or on the first layer (input_shape=)"
            )
        if any(layer is existing for existing in self.layers):
            raise ValueError(f"{layer.label} is already in this model; create a new layer instead")
        if layer.declared_input_shape is not None:
            if not self.layers:
                self.declare_input_shape(
                    layer.declared_input_shape, f"{layer.label}(input_shape={layer.declared_input_shape})"
                )
            elif self.input_shape is not None:
                _check_declared_shape(layer, self.output_shape_per_sample(), len(self.layers))
        if self.device_chosen:
            layer.to(self.device)
        if self.input_shape is not None and not layer.built:
            layer.build(self.output_shape_per_sample(), dtype=self._dtype())
        self.layers.append(layer)

    def declare_input_shape(self, shape, source: str) -> None:
        """Set the input shape from ``input_shape`` (the model's or a first layer's, named in
        ``source`` for the error); a clash with a known one is an error. ``add`` calls it; a
        subclass that counts the batch axis in ``input_shape`` overrides it."""
        known = self.sample_shape()
        if known is not None and tuple(known) != tuple(shape):
            raise ValueError(
                f"{source} disagrees with the model's input shape {known}; give the input shape once"
            )
        if self.input_shape is None:
            self.build(shape)

    def build(self, input_shape) -> None:
        """Build every layer for inputs of shape ``(N, *input_shape)``; ``None`` marks a
        free axis (``(None, 10)``: sequences of any length with 10 features)."""
        shape = checked_shape(input_shape, "Sequential")
        first = self.layers[0] if self.layers else None
        if first is not None and first.declared_input_shape not in (None, shape):
            raise ValueError(
                f"Sequential(input_shape={shape}) disagrees with "
                f"{first.label}(input_shape={first.declared_input_shape}); give it once"
            )
        self._check_image_layout(shape, "input_shape")
        self.input_shape = shape
        for i, layer in enumerate(self.layers):
            if i and layer.declared_input_shape is not None:
                _check_declared_shape(layer, shape, i)
            if not layer.built:
                layer.build(shape, dtype=self._dtype())
            shape = layer.output_shape_for(shape)

    def _check_image_layout(self, shape, what: str) -> None:
        """Refuse (H, W, C) images going into a channels-first image layer, with the fix.

        Only at the model's input, where such a mistake comes from: a per-sample shape whose
        last axis is at most 4 while both others are larger cannot be (C, H, W) images.
        """
        first = self.layers[0] if self.layers else None
        if first is None or "(N, C, H, W)" not in first.input_layout or len(shape) != 3 or None in shape:
            return
        if shape[2] <= 4 and shape[0] > 4 and shape[1] > 4:
            raise ValueError(
                f"the {what} (N, {', '.join(map(str, shape))}) looks channels-last (N, H, W, C) "
                f"with C = {shape[2]}, but {first.label} expects (N, C, H, W) (minidl's "
                "layout, as PyTorch's): transpose the images with x.transpose(0, 3, 1, 2)"
            )

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def trainable(self) -> bool:
        """Whether any layer trains. Setting it sets every layer's ``trainable``
        (``model.trainable = False`` freezes the whole model, e.g. a pretrained base)."""
        return any(layer.trainable for layer in self.layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self.layers:
            layer.trainable = bool(value)

    def output_shape_per_sample(self) -> tuple:
        """The last layer's per-sample output shape, from the model's (known) input shape."""
        shape = self.sample_shape()
        if shape is None:
            raise RuntimeError("Sequential: the output shape is asked before the input shape is known")
        for layer in self.layers:
            shape = layer.output_shape_for(shape)
        return shape

    def _dtype(self):
        """The weights' floating-point type: the first built weight's, else ``dtype`` (float32)."""
        for layer in self.layers:
            for p in layer.params.values():
                return p.dtype
        return np.dtype(self.dtype or np.float32)

    def as_input(self, x):
        """``x`` as the model takes it in ``fit``/``evaluate``/``predict``: an array of the
        model's dtype, except integer token ids for a first ``Embedding``."""
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            x = np.asarray(x)
        takes_ids = bool(self.layers) and getattr(self.layers[0], "takes_integer_ids", False)
        if takes_ids and x.dtype.kind in "iub":
            return x
        dtype = self._dtype()
        return x if x.dtype == dtype else x.astype(dtype)

    # ------------------------------------------------------------------ computing
    def forward(self, x, training: bool = False):
        """Run every layer in order; ``training`` switches Dropout and BatchNorm to training mode.

        A frozen BatchNorm stays in inference mode, so freezing a base with
        ``trainable = False`` keeps its running statistics too.
        """
        if not self.layers:
            raise ValueError("this Sequential model has no layers")
        if self.input_shape is None:
            if not hasattr(x, "shape"):
                x = np.asarray(x, dtype=np.float32)
            self._check_image_layout(tuple(x.shape[1:]), "input")
            self.input_shape = tuple(x.shape[1:])
            if not self.device_chosen:  # the layers are built where this batch is
                self.device = backend.device_of(x)
        for layer in self.layers:
            frozen_inference = not layer.trainable and layer.inference_when_frozen
            x = layer.forward(x, training=training and not frozen_inference)
        return x

    def __call__(self, x, training: bool = False):
        """``forward``; an input that records calls instead of computing them (a symbolic
        tensor, with a ``record_call`` method, as ``Layer.__call__`` also honours) records
        this whole model as one step."""
        if hasattr(x, "record_call"):
            return x.record_call(self, x)
        return self.forward(x, training=training)

    def backward(self, dy, input_grad: bool = True):
        """Run every layer's backward in reverse order; returns ``dL/d(input)``.

        With ``input_grad=False`` (a training step: nobody reads the gradient of the data)
        the result is None, and a first layer that has ``backward_params`` (Conv2D) fills its
        weight gradients only: for a first convolution that skips a matrix product and ``col2im``.
        """
        if not self.layers:
            return dy
        first, *rest = self.layers
        for layer in reversed(rest):
            dy = layer.backward(dy)
        if not input_grad and hasattr(first, "backward_params"):
            first.backward_params(dy)
            return None
        dx = first.backward(dy)
        return dx if input_grad else None

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def regularization_loss(self) -> float:
        """Sum of the weight penalties of all layers (added to the training loss)."""
        return sum(layer.regularization_loss() for layer in self.layers)

    # ------------------------------------------------------------------ inspection
    def count_params(self) -> tuple[int, int]:
        """``(trainable, non_trainable)`` numbers of scalars."""
        counts = [layer.count_params() for layer in self.layers]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def summary(self, print_fn=print) -> None:
        """Print a table of layers, output shapes and parameter counts (``summary.summary_table``).

        ``print_fn`` receives the whole table as one string (pass ``lines.append`` to keep
        it). It returns None, so a notebook cell ending in ``model.summary()``
        shows the table once.
        """
        print_fn(summary_table(self))

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list:
        """Copies of every array that defines the model: each layer's params, then its buffers."""
        return [backend.to_numpy(store[key]).copy() for _, _, store, key in saving.layer_slots(self.layers)]

    def set_weights(self, weights) -> None:
        """Assign arrays in the order ``get_weights`` returns them (copied in place)."""
        slots = saving.layer_slots(self.layers)
        if len(weights) != len(slots):
            raise ValueError(f"set_weights expected {len(slots)} arrays, got {len(weights)}")
        for (_, layer, store, key), w in zip(slots, weights):
            if tuple(np.shape(w)) != tuple(store[key].shape):
                raise ValueError(
                    f"set_weights: {layer.label}.{key} has shape {tuple(store[key].shape)}, "
                    f"got {tuple(np.shape(w))}"
                )
            store[key][...] = backend.to_device(np.asarray(w), self.device)

    def save_weights(self, path) -> None:
        """Write the arrays of ``get_weights`` (no architecture, no optimizer) to one ``.npz``
        file, atomically (``saving.write_weights``); ``load_weights`` puts them back into a
        model of the same layers. The file is an .npz archive whatever its name."""
        if not self.built:
            raise ValueError("save_weights needs a built model (give input_shape or run one batch first)")
        saving.write_weights(path, self.get_weights())

    def load_weights(self, path) -> None:
        """Assign the weights that ``save_weights`` wrote (checked array by array, as
        ``set_weights``); a whole model file is read with ``load_model`` instead."""
        weights = saving.read_weights(path)
        if not self.built:
            raise ValueError("load_weights needs a built model (give input_shape or run one batch first)")
        self.set_weights(weights)

    def to(self, device: str) -> Sequential:
        """Move every layer's arrays and the optimizer state to ``"cpu"`` or ``"gpu"``.

        The model remembers the device: layers not built yet are built there, and layers
        added later move there, so ``to("gpu")`` may come before the first batch.
        """
        device = backend.check_device(device)
        for layer in self.layers:
            layer.to(device)
        if self.optimizer is not None:
            self.optimizer.to(device)
        self.device, self.device_chosen = device, True
        return self

    def on_device(self, a):
        """``a`` (a batch, targets, weights) on the model's device (``to``), as ``fit`` moves each batch."""
        return (
            a if self.device == "cpu" and backend.device_of(a) == "cpu" else backend.to_device(a, self.device)
        )

    def astype(self, dtype) -> Sequential:
        for layer in self.layers:
            layer.astype(dtype)
        return self

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict:
        """The architecture as its file keeps it (JSON): name, input shape, data format, dtype
        and each layer's ``saving.layer_spec``; ``load_model`` makes the model again from it."""
        return {
            "name": self.name,
            "input_shape": self.sample_shape(),
            "dtype": self.dtype,
            "layers": [saving.layer_spec(layer) for layer in self.layers],
        }

    def save(self, path, include_optimizer: bool = True) -> None:
        """Write architecture (JSON), weights and training progress to one ``.npz`` file.

        With ``include_optimizer=True`` (the default) the file also holds what
        training needs to go on exactly where it stopped: the optimizer's state (step
        counts, moment and velocity buffers, its current learning rate), the number of
        epochs completed and minidl's random stream (the next shuffles and dropout masks).
        ``load_model`` restores all of it, so save -> load -> fit continues bit for bit as
        if training had never stopped. ``include_optimizer=False`` keeps only the
        architecture, weights and compile settings.

        The file is written atomically (``saving.write_model``): a failed save never leaves a
        half-written file nor destroys an earlier one.
        """
        if not self.built:
            raise ValueError("save needs a built model (give input_shape or run one batch first)")
        config, arrays = self.get_config(), saving.layer_arrays(self.layers)
        saving.write_model(
            path, config, arrays, model=self, layers=self.layers, include_optimizer=include_optimizer
        )


def load_model(path, compile: bool = True) -> Sequential:
    """Rebuild a model written by ``Sequential.save``: layers, weights and (if it was
    compiled and ``compile=True``) loss, optimizer and metrics.

    When the file holds the training state (``save(include_optimizer=True)``, the
    default), the optimizer continues from its saved step counts and moments, and the
    next ``fit`` continues minidl's random stream from where it was saved (unless
    ``minidl.seed`` is called in between), so resumed training is bit-identical.
    """
    from ..nn import layers as _register_all_layers  # noqa: F401  (fills LAYER_CLASSES)

    path = os.fspath(path)
    config, arrays = saving.model_config(saving.read_npz(path), path)
    layers = [saving.layer_from_spec(spec, path) for spec in config["layers"]]
    with saving.keeping_random_stream():  # building draws weights that the file's replace
        model = Sequential(
            layers, input_shape=config["input_shape"], name=config.get("name"), dtype=config.get("dtype")
        )
    for layer, spec in zip(model.layers, config["layers"]):
        saving.refreeze(layer, spec, path)
    saving.load_layer_arrays(model.layers, arrays, path)
    if compile:
        saving.restore_compiled(model, config, arrays, model.layers, path)
    return model


# ------------------------------------------------------------------ helpers
def _check_declared_shape(layer, incoming, position: int) -> None:
    """A later layer's ``input_shape=`` must match what reaches it (the model could not build otherwise)."""
    if tuple(layer.declared_input_shape) != tuple(incoming):
        raise ValueError(
            f"{layer.label} (layer {position} of the model) was given "
            f"input_shape={layer.declared_input_shape}, but the layers before it output "
            f"(None, {', '.join(map(str, incoming))}); input_shape belongs on the first "
            "layer only: remove it here"
        )
