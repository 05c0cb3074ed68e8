"""``Sequential``: a stack of layers, trained Keras-style or by hand.

Keras-style::

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

import json
import os

import numpy as np

from .. import backend
from .._version import __version__
from ..nn.layers.base import LAYER_CLASSES, Layer, _checked_shape
from .saving import (
    FORMAT,
    FORMAT_VERSION,
    compile_config,
    layer_spec,
    read_npz,
    refreeze,
    restore_training_state,
    saved_class,
    saved_from,
    training_state,
    write_atomically,
)
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
    ``train_on_batch`` cast their inputs to the model's dtype, as Keras does, so float64 data
    or Python lists never turn a float32 model into a float64 one; ``forward`` (the by-hand
    path) takes arrays as they come.
    """

    def __init__(
        self,
        layers=None,
        input_shape=None,
        name: str | None = None,
        dtype=None,
    ):
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
        self._device_chosen = False  # set by to(); until then the first batch's device is used
        self.epochs_completed = 0  # saved with the model; fit(initial_epoch=...) reads it
        self._resume_rng = None  # (saved random state, generator at load) until fit uses it
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
                f"Sequential takes minidl layers, got {type(layer).__name__} (Keras's Input goes to "
                "minidl_keras.Sequential; minidl's Sequential takes input_shape=)"
            )
        if any(layer is existing for existing in self.layers):
            raise ValueError(f"{layer.label} is already in this model; create a new layer instead")
        if layer.declared_input_shape is not None:
            if not self.layers:
                self._declare_input_shape(
                    layer.declared_input_shape, f"{layer.label}(input_shape={layer.declared_input_shape})"
                )
            elif self.input_shape is not None:
                _check_declared_shape(layer, self._output_shape(), len(self.layers))
        if self._device_chosen:
            layer.to(self.device)
        if self.input_shape is not None and not layer.built:
            layer.build(self._output_shape(), dtype=self._dtype())
        self.layers.append(layer)

    def _declare_input_shape(self, shape, source: str) -> None:
        """Set the input shape from ``input_shape`` (the model's or a first layer's); a clash is an error."""
        if self.input_shape is not None and tuple(self.input_shape) != tuple(shape):
            raise ValueError(
                f"{source} disagrees with the model's input shape {self.input_shape}; "
                "give the input shape once"
            )
        if self.input_shape is None:
            self.build(shape)

    def build(self, input_shape) -> None:
        """Build every layer for inputs of shape ``(N, *input_shape)``; ``None`` marks a
        free axis (``(None, 10)``: sequences of any length with 10 features)."""
        shape = _checked_shape(input_shape, "Sequential")
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
        image_layer = self.layers[0] if self.layers else None
        if (
            image_layer is None
            or "(N, C, H, W)" not in image_layer.input_layout
            or len(shape) != 3
            or None in shape
        ):
            return
        if shape[2] <= 4 and shape[0] > 4 and shape[1] > 4:
            raise ValueError(
                f"the {what} (N, {', '.join(map(str, shape))}) looks channels-last (N, H, W, C) "
                f"with C = {shape[2]}, but {image_layer.label} expects (N, C, H, W) (minidl's "
                "layout, as PyTorch's): transpose the images with x.transpose(0, 3, 1, 2)"
            )

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def trainable(self) -> bool:
        """Whether any layer trains. Setting it sets every layer's ``trainable`` (Keras's
        ``model.trainable = False`` freezes the whole model, e.g. a pretrained base)."""
        return any(layer.trainable for layer in self.layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self.layers:
            layer.trainable = bool(value)

    def _output_shape(self) -> tuple:
        """The last layer's per-sample output shape, from the model's (known) input shape."""
        shape = self.input_shape
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

    def _as_input(self, x):
        """``x`` as the model takes it in ``fit``/``evaluate``/``predict``: an array of the
        model's dtype (Keras's cast), except integer token ids for a first ``Embedding``."""
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

        A frozen BatchNorm stays in inference mode (Keras's rule), so freezing a base with
        ``trainable = False`` keeps its running statistics too.
        """
        if not self.layers:
            raise ValueError("this Sequential model has no layers")
        if self.input_shape is None:
            if not hasattr(x, "shape"):
                x = np.asarray(x, dtype=np.float32)
            self._check_image_layout(tuple(x.shape[1:]), "input")
            self.input_shape = tuple(x.shape[1:])
            if not self._device_chosen:  # the layers are built where this batch is
                self.device = backend.device_of(x)
        for layer in self.layers:
            frozen_inference = not layer.trainable and layer.inference_when_frozen
            x = layer.forward(x, training=training and not frozen_inference)
        return x

    def __call__(self, x, training: bool = False):
        if hasattr(x, "record_call"):  # a KerasTensor: this model becomes one node of a keras.Model
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
        it). Like Keras's, it returns None, so a notebook cell ending in ``model.summary()``
        shows the table once.
        """
        print_fn(summary_table(self))

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list:
        """Copies of every array that defines the model: each layer's params, then its buffers."""
        return [
            backend.to_numpy(a).copy()
            for layer in self.layers
            for store in (layer.params, layer.buffers)
            for a in store.values()
        ]

    def set_weights(self, weights) -> None:
        """Assign arrays in the order ``get_weights`` returns them (copied in place)."""
        slots = [
            (layer, store, key)
            for layer in self.layers
            for store in (layer.params, layer.buffers)
            for key in store
        ]
        if len(weights) != len(slots):
            raise ValueError(f"set_weights expected {len(slots)} arrays, got {len(weights)}")
        for (layer, store, key), w in zip(slots, weights):
            if tuple(np.shape(w)) != tuple(store[key].shape):
                raise ValueError(
                    f"set_weights: {layer.label}.{key} has shape {tuple(store[key].shape)}, "
                    f"got {tuple(np.shape(w))}"
                )
            store[key][...] = backend.to_device(np.asarray(w), self.device)

    def save_weights(self, path) -> None:
        """Write the arrays of ``get_weights`` (no architecture, no optimizer) to one ``.npz``
        file, atomically; ``load_weights`` puts them back into a model of the same layers.
        Keras's names (``"model.weights.h5"``) work: the file is an .npz archive whatever its name."""
        if not self.built:
            raise ValueError("save_weights needs a built model (give input_shape or run one batch first)")
        arrays = {f"weights/{i:05d}": w for i, w in enumerate(self.get_weights())}
        arrays["__minidl_weights__"] = np.array(len(arrays))
        write_atomically(os.fspath(path), arrays)

    def load_weights(self, path) -> None:
        """Assign the weights that ``save_weights`` wrote (checked array by array, as
        ``set_weights``); a whole model file is read with ``load_model`` instead."""
        path = os.fspath(path)
        arrays = read_npz(path)
        if "__minidl_weights__" not in arrays:
            hint = (
                " it is a whole model: use load_model(path)"
                if "__minidl__" in arrays
                else " it was not written by model.save_weights"
            )
            raise ValueError(f"{path} holds no weights list;{hint}")
        if not self.built:
            raise ValueError(
                "load_weights needs a built model: give input_shape or run one batch through it first"
            )
        self.set_weights([arrays[k] for k in sorted(k for k in arrays if k.startswith("weights/"))])

    def to(self, device: str) -> "Sequential":
        """Move every layer's arrays and the optimizer state to ``"cpu"`` or ``"gpu"``.

        The model remembers the device: layers not built yet are built there, and layers
        added later move there, so ``to("gpu")`` may come before the first batch.
        """
        device = backend.check_device(device)
        for layer in self.layers:
            layer.to(device)
        if self.optimizer is not None:
            self.optimizer.to(device)
        self.device, self._device_chosen = device, True
        return self

    def _to_device(self, a):
        return (
            a if self.device == "cpu" and backend.device_of(a) == "cpu" else backend.to_device(a, self.device)
        )

    def astype(self, dtype) -> "Sequential":
        for layer in self.layers:
            layer.astype(dtype)
        return self

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict:
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "minidl_version": __version__,
            "name": self.name,
            "input_shape": self.input_shape,
            "dtype": self.dtype,
            "layers": [layer_spec(layer) for layer in self.layers],
        }
        if self.loss is not None:
            config["compile"] = compile_config(self)
        return config

    def save(self, path, include_optimizer: bool = True) -> None:
        """Write architecture (JSON), weights and training progress to one ``.npz`` file.

        With ``include_optimizer=True`` (the default, as Keras) the file also holds what
        training needs to go on exactly where it stopped: the optimizer's state (step
        counts, moment and velocity buffers, its current learning rate), the number of
        epochs completed and minidl's random stream (the next shuffles and dropout masks).
        ``load_model`` restores all of it, so save -> load -> fit continues bit for bit as
        if training had never stopped. ``include_optimizer=False`` keeps only the
        architecture, weights and compile settings.

        The file is written under a temporary name in the same folder and renamed over
        ``path`` only when complete, so a failed save never destroys an earlier file.
        """
        path = os.fspath(path)
        if not self.built:
            raise ValueError("save needs a built model (give input_shape or run one batch first)")
        config = self.get_config()
        arrays = {}
        for i, layer in enumerate(self.layers):
            for key, value in layer.params.items():
                arrays[f"layers/{i}/params/{key}"] = backend.to_numpy(value)
            for key, value in layer.buffers.items():
                arrays[f"layers/{i}/buffers/{key}"] = backend.to_numpy(value)
        if include_optimizer and self.optimizer is not None:
            config["training_state"], state = training_state(self, self.layers)
            arrays.update(state)
        arrays["__minidl__"] = np.array(json.dumps(config))
        write_atomically(path, arrays)


def load_model(path, compile: bool = True, *, make_layer=None, model_class: type | None = None) -> Sequential:
    """Rebuild a model written by ``Sequential.save``: layers, weights and (if it was
    compiled and ``compile=True``) loss, optimizer and metrics. ``make_layer(spec)`` turns a
    saved layer (``{"class", "config", "trainable"}``) into a layer, if given (``minidl_keras``
    passes one that finds custom classes and ``Lambda`` functions in its ``custom_objects``).
    ``model_class`` (a subclass of ``Sequential``: ``minidl_keras``'s, whose ``compile`` knows
    Keras's metric names) is the class of the model made, ``Sequential`` by default.

    When the file holds the training state (``save(include_optimizer=True)``, the
    default), the optimizer continues from its saved step counts and moments, and the
    next ``fit`` continues minidl's random stream from where it was saved (unless
    ``minidl.seed`` is called in between), so resumed training is bit-identical.
    """
    from ..nn import layers as _register_all_layers  # noqa: F401  (fills LAYER_CLASSES)

    path = os.fspath(path)
    arrays = read_npz(path)
    if "__minidl__" not in arrays:
        raise ValueError(
            f"{path} is an .npz file but not a minidl model (no '__minidl__' entry; "
            f"found {sorted(arrays)[:5]})"
        )
    try:
        config = json.loads(str(arrays.pop("__minidl__")))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: the model description is corrupt ({err})") from None
    if config.get("format") != FORMAT or config.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path}: expected format {FORMAT} version <= {FORMAT_VERSION}, got "
            f"{config.get('format')} version {config.get('format_version')}"
        )

    layers = [
        _layer_from_spec(spec, path) if make_layer is None else make_layer(spec) for spec in config["layers"]
    ]
    # Building draws initial weights that the saved ones replace at once; loading must not
    # move the seeded stream, or the layers a reader builds next would change with it.
    stream = backend.rng().bit_generator
    state = stream.state
    model = (model_class or Sequential)(
        layers,
        input_shape=config["input_shape"],
        name=config.get("name"),
        dtype=config.get("dtype"),
    )
    stream.state = state
    for i, (layer, spec) in enumerate(zip(model.layers, config["layers"])):
        refreeze(layer, spec, path)
        for kind, store in (("params", layer.params), ("buffers", layer.buffers)):
            for key in store:
                name = f"layers/{i}/{kind}/{key}"
                if name not in arrays:
                    raise ValueError(f"{path}: missing array {name} for {layer.label}")
                if arrays[name].shape != store[key].shape:
                    raise ValueError(
                        f"{path}: {name} has shape {arrays[name].shape}, "
                        f"{layer.label} expects {store[key].shape}"
                    )
                store[key] = arrays[name].copy()
    if compile and "compile" in config:
        c = config["compile"]
        model.compile(optimizer=c["optimizer"], loss=c["loss"], metrics=c["metrics"])
        if "training_state" in config:
            restore_training_state(model, model.layers, config["training_state"], arrays, path)
    return model


# ------------------------------------------------------------------ helpers
def _layer_from_spec(spec: dict, path) -> Layer:
    """A saved layer (``{"class", "config", "trainable"}``) made again, by class name."""
    cls = saved_class(spec)
    if cls is None:
        raise ValueError(
            f"{path}: unknown layer type {spec['class']!r}{saved_from(spec)} "
            f"(known: {sorted(LAYER_CLASSES)}; a class of your own is known once defined, "
            "under a name minidl's classes do not use)"
        )
    layer_config = dict(spec["config"])
    if layer_config.get("data_format") == "channels_first":
        del layer_config["data_format"]  # files of minidl 0.1 name the one layout image layers have
    layer = cls(**layer_config)
    layer.trainable = spec.get("trainable", True)
    return layer


def _check_declared_shape(layer, incoming, position: int) -> None:
    """A later layer's ``input_shape=`` must match what reaches it (Keras would not build otherwise)."""
    if tuple(layer.declared_input_shape) != tuple(incoming):
        raise ValueError(
            f"{layer.label} (layer {position} of the model) was given "
            f"input_shape={layer.declared_input_shape}, but the layers before it output "
            f"(None, {', '.join(map(str, incoming))}); input_shape belongs on the first "
            "layer only: remove it here"
        )
