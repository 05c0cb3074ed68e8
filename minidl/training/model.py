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

import inspect
import json
import math
import os
import tempfile
import warnings
import zipfile

import numpy as np

from .. import backend
from .._version import __version__
from ..nn import losses as losses_module, optim
from ..nn.layers.base import LAYER_CLASSES, Layer, _checked_shape, check_data_format
from ..nn.layers.keras import Input
from . import metrics as metrics_module
from .callbacks import Callback, EpochLogger, History, ProgressBar
from .data import BatchStream, DataLoader, yields_batches

FORMAT = "minidl.Sequential"
FORMAT_VERSION = 1


class NonFiniteLossError(FloatingPointError):
    """Raised by ``fit`` when the loss becomes NaN or infinite; ``.history`` keeps the epochs so far."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class Sequential:
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

    def __init__(self, layers=None, input_shape=None, name: str | None = None,
                 data_format: str | None = None, dtype=None):
        self.layers: list[Layer] = []
        self.name = name
        self.dtype = None if dtype is None else np.dtype(dtype).name
        if self.dtype is not None and not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"Sequential dtype must be a floating-point type such as 'float32' or "
                             f"'float64', got {dtype!r}")
        self.input_shape = None
        self.data_format = check_data_format(data_format, "Sequential")
        self.optimizer = self.loss = None
        self.metrics: list = []
        self.stop_training = False
        self.history = None
        self.device = "cpu"
        self._device_chosen = False        # set by to(); until then the first batch's device is used
        self.epochs_completed = 0          # saved with the model; fit(initial_epoch=...) reads it
        self._resume_rng = None            # (saved random state, generator at load) until fit uses it
        for layer in layers or []:
            self.add(layer)
        if input_shape is not None:
            self.build(input_shape)

    # ------------------------------------------------------------------ structure
    def add(self, layer: Layer) -> None:
        """Append a layer (built at once if the model already knows its input shape).

        Keras's ways of giving the input shape work here: ``Input(shape)`` as the first
        entry (it is not kept in ``layers``), or ``input_shape=`` on the first layer. A
        ``Sequential`` added to a ``Sequential`` contributes its layers (shared, not
        copied: a frozen base stays frozen). With ``Sequential(data_format=...)`` every
        image layer created without its own ``data_format`` gets the model's. After
        ``to(device)`` an added layer moves there (or, not built yet, will be built there).
        """
        if isinstance(layer, Sequential):
            if self.input_shape is None and not self.layers and layer.input_shape is not None:
                self.build(layer.input_shape)
            for inner in layer.layers:
                self.add(inner)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes minidl layers, got {type(layer).__name__}")
        if any(layer is existing for existing in self.layers):
            raise ValueError(f"{layer.label} is already in this model; create a new layer instead")
        if isinstance(layer, Input):
            if self.layers:
                raise ValueError(f"Input({layer.shape}) must come first: this model already has "
                                 f"{len(self.layers)} layer(s); pass the shape to the first layer")
            self._declare_input_shape(layer.shape, f"Input(shape={layer.shape})")
            return
        if (self.data_format is not None and hasattr(layer, "data_format")
                and not getattr(layer, "data_format_given", True) and not layer.built):
            layer.data_format = self.data_format
        if layer.declared_input_shape is not None:
            if not self.layers:
                self._declare_input_shape(layer.declared_input_shape,
                                          f"{layer.label}(input_shape={layer.declared_input_shape})")
            elif self.input_shape is not None:
                _check_declared_shape(layer, self._output_shape(), len(self.layers))
        if self._device_chosen:
            layer.to(self.device)
        if self.input_shape is not None and not layer.built:
            layer.build(self._output_shape(), dtype=self._dtype())
        self.layers.append(layer)

    def _declare_input_shape(self, shape, source: str) -> None:
        """Set the input shape from ``Input`` / a first layer's ``input_shape``; a clash is an error."""
        if self.input_shape is not None and tuple(self.input_shape) != tuple(shape):
            raise ValueError(f"{source} disagrees with the model's input shape {self.input_shape}; "
                             "give the input shape once")
        if self.input_shape is None:
            self.build(shape)

    def build(self, input_shape) -> None:
        """Build every layer for inputs of shape ``(N, *input_shape)``; ``None`` marks a
        free axis (``(None, 10)``: sequences of any length with 10 features)."""
        shape = _checked_shape(input_shape, "Sequential")
        first = self.layers[0] if self.layers else None
        if first is not None and first.declared_input_shape not in (None, shape):
            raise ValueError(f"Sequential(input_shape={shape}) disagrees with "
                             f"{first.label}(input_shape={first.declared_input_shape}); give it once")
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
        image_layer = next((layer for layer in self.layers if hasattr(layer, "data_format")), None)
        if (image_layer is None or image_layer is not self.layers[0] or image_layer.channels_last
                or len(shape) != 3 or None in shape):
            return
        if shape[2] <= 4 and shape[0] > 4 and shape[1] > 4:
            raise ValueError(
                f"the {what} (N, {', '.join(map(str, shape))}) looks channels-last (N, H, W, C) "
                f"with C = {shape[2]}, but {image_layer.label} expects (N, C, H, W) (minidl's "
                "default, as PyTorch). Either use data_format='channels_last' (on the layers, as "
                "Sequential(..., data_format='channels_last'), or once with "
                "minidl.layers.set_image_data_format('channels_last')), or transpose the images "
                "with x.transpose(0, 3, 1, 2)")

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

    def _output_shape(self):
        shape = self.input_shape
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
            if not self._device_chosen:             # the layers are built where this batch is
                self.device = backend.device_of(x)
        for layer in self.layers:
            frozen_inference = not layer.trainable and layer.inference_when_frozen
            x = layer.forward(x, training=training and not frozen_inference)
        return x

    __call__ = forward

    def backward(self, dy, input_grad: bool = True):
        """Run every layer's backward in reverse order; returns ``dL/d(input)``.

        With ``input_grad=False`` (a training step: nobody reads the gradient of the data)
        a first layer that has ``backward_params`` (Dense, Conv2D) fills its weight
        gradients only, and the result is None: for a first convolution that skips a
        matrix product and ``col2im``.
        """
        if not self.layers:
            return dy
        first, *rest = self.layers
        for layer in reversed(rest):
            dy = layer.backward(dy)
        if not input_grad and hasattr(first, "backward_params"):
            first.backward_params(dy)
            return None
        return first.backward(dy)

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def regularization_loss(self) -> float:
        """Sum of the weight penalties of all layers (added to the training loss)."""
        return sum(layer.regularization_loss() for layer in self.layers)

    # ------------------------------------------------------------------ Keras-style training
    def compile(self, optimizer="adam", loss=None, metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics to report (names or objects)."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='sparse_categorical_crossentropy'")
        self.optimizer = optim.get(optimizer)
        self.loss = losses_module.get(loss)
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]                     # metrics="accuracy" means ["accuracy"]
        self.metrics = [metrics_module.get(m, self.loss) for m in (metrics or [])]
        if self.device != "cpu":
            self.optimizer.to(self.device)

    def _require_compiled(self, what: str):
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=...) before {what}")

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None) -> float:
        """One gradient step on one batch; returns the loss (including weight penalties).
        ``sample_weight`` and ``class_weight`` as in ``fit``."""
        self._require_compiled("train_on_batch")
        weights = _sample_weights(y, sample_weight, class_weight, "train_on_batch")
        loss, _ = self._train_step(self._to_device(self._as_input(x)), self._to_device(y),
                                   None if weights is None else self._to_device(weights))
        return loss

    def _train_step(self, x, y, sample_weight=None):
        y_pred = self.forward(x, training=True)
        loss = self.loss(y_pred, y, sample_weight=sample_weight) + self.regularization_loss()
        self.backward(self.loss.backward(), input_grad=False)
        self.optimizer.step(self)
        return loss, y_pred

    def fit(self, x, y=None, epochs: int = 1, batch_size: int | None = None, verbose=1,
            validation_data=None, validation_split: float = 0.0, shuffle: bool = True,
            callbacks=None, initial_epoch: int = 0, class_weight=None, sample_weight=None,
            steps_per_epoch: int | None = None, validation_steps: int | None = None,
            augment=None) -> History:
        """Train for ``epochs`` passes over ``(x, y)``; returns the ``History``.

        ``x`` is an array of samples (with targets ``y``), or a source of batches that
        yields ``(x, y)`` or ``(x, y, sample_weight)`` itself -- a generator, a ``DataLoader``,
        a Keras ``PyDataset``-like object (``__getitem__`` + ``__len__``) -- with no ``y``;
        ``steps_per_epoch`` batches make an epoch (required for a generator that loops forever).

        ``initial_epoch`` (Keras's meaning) numbers the epochs from there: ``fit(epochs=10,
        initial_epoch=model.epochs_completed)`` resumes a loaded model's schedule and
        progress display and runs the remaining epochs.

        ``class_weight`` (``{class: weight}``) and ``sample_weight`` (one weight per sample)
        weigh each sample's loss as Keras does (``mean_n w_n loss_n``; both given: their
        product). ``validation_split`` holds out the *last* fraction of ``x, y`` (before
        shuffling, as Keras does). ``verbose``: 0 silent, 1 (or ``"auto"``) a progress bar,
        2 one line per epoch. ``batch_size`` defaults to 32. A NaN or infinite loss stops
        training with ``NonFiniteLossError`` naming the epoch and batch; ``model.history``
        keeps the epochs completed so far.
        ``augment`` (a ``minidl.augment`` transform, or any callable ``x_batch -> x_batch``)
        changes every training batch as it is drawn; validation data is never augmented.
        """
        self._require_compiled("fit")
        _check_epochs(epochs, initial_epoch)
        batch_size = 32 if batch_size is None else batch_size
        verbose = 1 if verbose == "auto" else verbose
        if validation_data is not None and validation_split:
            raise ValueError("pass validation_data or validation_split, not both")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        if yields_batches(x):
            if y is not None or sample_weight is not None or validation_split:
                raise ValueError(f"fit: x is a {type(x).__name__} that yields the batches (x, y) "
                                 "itself; give no y, sample_weight or validation_split with it")
            loader = BatchStream(x, steps_per_epoch, "fit")
        else:
            x, y = _check_xy(x, y, "fit", self.input_shape)
            weights = _sample_weights(y, sample_weight, class_weight, "fit")
            if validation_split:
                split = int(len(x) * (1.0 - validation_split))
                if split == 0 or split == len(x):
                    raise ValueError(f"validation_split={validation_split} leaves no training or no "
                                     f"validation samples out of {len(x)}")
                x, validation_data, y = x[:split], (x[split:], y[split:]), y[:split]
                weights = None if weights is None else weights[:split]
            loader = DataLoader(x, y, batch_size=batch_size, shuffle=shuffle, sample_weight=weights,
                                transform=augment)
            if steps_per_epoch is not None:
                loader = BatchStream(loader, steps_per_epoch, "fit")
            class_weight = None                 # folded into the weights
        if validation_data is not None:
            validation_data = _validation_source(validation_data, validation_steps)

        history = History()
        callbacks = [history] + list(callbacks or [])
        if verbose == 1:
            callbacks.append(ProgressBar(epochs, _steps(loader)))
        elif verbose == 2:
            callbacks.append(EpochLogger(epochs))
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be minidl.callbacks.Callback objects, got {type(cb).__name__}")
            cb.set_model(self)
        self.history, self.stop_training = history, False
        self._continue_saved_random_stream()

        for cb in callbacks:
            cb.on_train_begin()
        try:
            for epoch in range(initial_epoch, epochs):
                logs = {}
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, logs)
                logs.update(self._train_epoch(loader, epoch, callbacks, class_weight))
                if validation_data is not None:
                    val = self._evaluate(validation_data, batch_size)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                self.epochs_completed += 1
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        finally:
            for cb in callbacks:
                cb.on_train_end()
        return history

    def _continue_saved_random_stream(self) -> None:
        """On the first ``fit`` after ``load_model``, put minidl's generator back where it was
        when the model was saved, so shuffling and dropout go on as without the interruption.
        Skipped when the reader called ``minidl.seed`` after loading (their choice wins)."""
        if self._resume_rng is None:
            return
        saved_state, generator_at_load = self._resume_rng
        self._resume_rng = None
        if backend.rng() is generator_at_load:
            generator_at_load.bit_generator.state = saved_state

    def _train_epoch(self, loader, epoch, callbacks, class_weight=None) -> dict:
        totals = {"loss": 0.0, **{name: 0.0 for name, _ in self.metrics}}
        seen = 0
        for batch, (xb, yb, *wb) in enumerate(loader):
            wb = _sample_weights(yb, wb[0] if wb else None, class_weight, "fit")
            xb, yb = self._to_device(self._as_input(xb)), self._to_device(yb)
            loss, y_pred = self._train_step(xb, yb, None if wb is None else self._to_device(wb))
            if not math.isfinite(loss):
                of = f" of {_steps(loader)}" if _steps(loader) is not None else ""
                raise NonFiniteLossError(
                    f"the loss became {loss} at epoch {epoch + 1}, batch {batch + 1}{of}; "
                    "training stopped. The History so far is in model.history. Usual causes: a "
                    "learning rate that is too high, unscaled inputs, or NaN values in the data.",
                    self.history)
            n = len(xb)
            seen += n
            totals["loss"] += loss * n
            for name, fn in self.metrics:
                totals[name] += fn(y_pred, yb) * n
            running = {k: v / seen for k, v in totals.items()}
            for cb in callbacks:
                cb.on_batch_end(batch, running)
        return {k: v / seen for k, v in totals.items()}

    def evaluate(self, x, y=None, batch_size: int | None = None, verbose=0, sample_weight=None,
                 steps: int | None = None, return_dict: bool = False):
        """Loss (with weight penalties) and metrics over ``(x, y)`` in inference mode.

        Returns what Keras returns: the loss (a float) when the model has no metrics, the
        list ``[loss, *metrics]`` in ``compile``'s order when it has (``loss, acc =
        model.evaluate(x, y)``), and ``{"loss": .., "accuracy": ..}`` with
        ``return_dict=True``. ``x`` may be a source of batches as in ``fit`` (then no ``y``;
        ``steps`` caps the batches read). ``sample_weight`` weighs the loss as in ``fit``.
        """
        self._require_compiled("evaluate")
        if yields_batches(x):
            if y is not None or sample_weight is not None:
                raise ValueError(f"evaluate: x is a {type(x).__name__} that yields the batches (x, y) "
                                 "itself; give no y or sample_weight with it")
            data = BatchStream(x, steps, "evaluate")
        else:
            data = (x, y) if sample_weight is None else (x, y, sample_weight)
        results = self._evaluate(data, 32 if batch_size is None else batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
        if return_dict:
            return results
        values = list(results.values())
        return values[0] if len(values) == 1 else values

    def _evaluate(self, data, batch_size: int) -> dict:
        """``{"loss": .., metric: ..}`` over ``data``: a tuple ``(x, y)`` or ``(x, y, w)`` of
        arrays, or a ``BatchStream``. Means over samples (weighted loss as ``fit``'s)."""
        if isinstance(data, BatchStream):
            batches = data
        else:
            x, y, *w = data
            x, y = _check_xy(x, y, "evaluate", self.input_shape)
            _warn_if_not_finite(x, "evaluate")
            w = _sample_weights(y, w[0] if w else None, None, "evaluate")
            batches = DataLoader(x, y, batch_size=batch_size, sample_weight=w)
        totals = {"loss": 0.0, **{name: 0.0 for name, _ in self.metrics}}
        seen = 0
        for xb, yb, *wb in batches:
            y_pred = self.forward(self._to_device(self._as_input(xb)), training=False)
            yb = self._to_device(yb)
            wb = self._to_device(np.asarray(wb[0])) if wb else None
            n = len(yb)
            totals["loss"] += self.loss(y_pred, yb, sample_weight=wb) * n
            for name, fn in self.metrics:
                totals[name] += fn(y_pred, yb) * n
            seen += n
        results = {k: v / seen for k, v in totals.items()}
        results["loss"] += self.regularization_loss()
        return results

    def predict(self, x, batch_size: int | None = None, verbose=0):
        """Outputs for ``x`` in inference mode, as a NumPy array (inputs cast as in ``fit``)."""
        x = _as_batch(x, "predict", self.input_shape)
        _warn_if_not_finite(x, "predict")
        loader = DataLoader(x, batch_size=32 if batch_size is None else batch_size)
        outputs = [backend.to_numpy(self.forward(self._to_device(self._as_input(xb)), training=False))
                   for xb in loader]
        return np.concatenate(outputs, axis=0)

    # ------------------------------------------------------------------ inspection
    def count_params(self) -> tuple[int, int]:
        """``(trainable, non_trainable)`` numbers of scalars."""
        counts = [layer.count_params() for layer in self.layers]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def summary(self, print_fn=print) -> None:
        """Print a table of layers, output shapes and parameter counts.

        ``print_fn`` receives the whole table as one string (pass ``lines.append`` to keep
        it). Like Keras's, it returns None, so a notebook cell ending in ``model.summary()``
        shows the table once.
        """
        if not self.built:
            raise ValueError("summary needs a built model: pass input_shape=... to Sequential, "
                             "call model.build(input_shape), or run one batch through it first")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape_for(shape)
            label = f"{layer.name or type(layer).__name__.lower() + f'_{i}'} ({type(layer).__name__})"
            if not layer.trainable:
                label += " [frozen]"
            rows.append((label, str((None,) + tuple(shape)), f"{sum(layer.count_params()):,}"))
        widths = [max(len(r[c]) for r in rows) + 2 for c in range(3)]
        line = "=" * sum(widths)

        def fmt(r):
            return f"{r[0]:<{widths[0]}}{r[1]:<{widths[1]}}{r[2]:>{widths[2]}}"

        trainable, frozen = self.count_params()
        text = "\n".join([f'Model: "{self.name or "sequential"}"', line, fmt(rows[0]), line,
                          *[fmt(r) for r in rows[1:]], line,
                          f"Total params: {trainable + frozen:,}", f"Trainable params: {trainable:,}",
                          f"Non-trainable params: {frozen:,}"])
        print_fn(text)

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list:
        """Copies of every array that defines the model: each layer's params, then its buffers."""
        return [backend.to_numpy(a).copy() for layer in self.layers
                for store in (layer.params, layer.buffers) for a in store.values()]

    def set_weights(self, weights) -> None:
        """Assign arrays in the order ``get_weights`` returns them (copied in place)."""
        slots = [(layer, store, key) for layer in self.layers
                 for store in (layer.params, layer.buffers) for key in store]
        if len(weights) != len(slots):
            raise ValueError(f"set_weights expected {len(slots)} arrays, got {len(weights)}")
        for (layer, store, key), w in zip(slots, weights):
            if tuple(np.shape(w)) != tuple(store[key].shape):
                raise ValueError(f"set_weights: {layer.label}.{key} has shape {tuple(store[key].shape)}, "
                                 f"got {tuple(np.shape(w))}")
            store[key][...] = backend.to_device(np.asarray(w), self.device)

    def save_weights(self, path) -> None:
        """Write the arrays of ``get_weights`` (no architecture, no optimizer) to one ``.npz``
        file, atomically; ``load_weights`` puts them back into a model of the same layers.
        Keras's names (``"model.weights.h5"``) work: the file is an .npz archive whatever its name."""
        if not self.built:
            raise ValueError("save_weights needs a built model (give input_shape or run one batch first)")
        arrays = {f"weights/{i:05d}": w for i, w in enumerate(self.get_weights())}
        arrays["__minidl_weights__"] = np.array(len(arrays))
        _write_atomically(os.fspath(path), arrays)

    def load_weights(self, path) -> None:
        """Assign the weights that ``save_weights`` wrote (checked array by array, as
        ``set_weights``); a whole model file is read with ``load_model`` instead."""
        path = os.fspath(path)
        arrays = _read_npz(path)
        if "__minidl_weights__" not in arrays:
            hint = (" it is a whole model: use load_model(path)" if "__minidl__" in arrays
                    else " it was not written by model.save_weights")
            raise ValueError(f"{path} holds no weights list;{hint}")
        if not self.built:
            raise ValueError("load_weights needs a built model: give input_shape (or Input) or run "
                             "one batch through it first")
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
        return a if self.device == "cpu" and backend.device_of(a) == "cpu" else backend.to_device(a, self.device)

    def astype(self, dtype) -> "Sequential":
        for layer in self.layers:
            layer.astype(dtype)
        return self

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict:
        config = {"format": FORMAT, "format_version": FORMAT_VERSION, "minidl_version": __version__,
                  "name": self.name, "input_shape": self.input_shape, "data_format": self.data_format,
                  "dtype": self.dtype,
                  "layers": [{"class": type(layer).__name__, "config": _jsonable(layer.get_config()),
                              "trainable": layer.trainable} for layer in self.layers]}
        if self.loss is not None:
            config["compile"] = {
                "loss": {"class": type(self.loss).__name__, "config": _jsonable(self.loss.get_config())},
                "optimizer": {"class": type(self.optimizer).__name__,
                              "config": _jsonable(self.optimizer.get_config())},
                "metrics": [name for name, _ in self.metrics]}
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
            info, state = self.optimizer.get_state(self.layers)
            config["training_state"] = {"optimizer": info, "epochs_completed": self.epochs_completed,
                                        "rng": backend.rng().bit_generator.state}
            arrays.update({f"optimizer/{name}": value for name, value in state.items()})
        arrays["__minidl__"] = np.array(json.dumps(config))
        _write_atomically(path, arrays)


def _write_atomically(path: str, arrays: dict) -> None:
    """``np.savez`` to a temporary file next to ``path``, then rename it over ``path``.

    Errors name ``path`` (never the temporary file) and leave an existing ``path`` intact.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save the model to {path}: the folder {directory} does not "
                                f"exist; create it first (os.makedirs({directory!r}, exist_ok=True))")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save the model to {path}: it is a folder; give a file "
                                "name such as model.npz")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except OSError as err:
        reason = err.strerror or str(err)
        raise type(err)(err.errno, f"cannot save the model to {path}: {reason}; an earlier file "
                                   "there, if any, is unchanged") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def _file_mode(path: str) -> int:
    """The permissions a plain ``open(path, "w")`` would give: an existing file's own, else
    0o666 less the umask (``mkstemp`` creates 0o600, private whatever the umask)."""
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


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
    arrays = _read_npz(path)
    if "__minidl__" not in arrays:
        raise ValueError(f"{path} is an .npz file but not a minidl model (no '__minidl__' entry; "
                         f"found {sorted(arrays)[:5]})")
    try:
        config = json.loads(str(arrays.pop("__minidl__")))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: the model description is corrupt ({err})") from None
    if config.get("format") != FORMAT or config.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path}: expected format {FORMAT} version <= {FORMAT_VERSION}, got "
                         f"{config.get('format')} version {config.get('format_version')}")

    layers = []
    for spec in config["layers"]:
        cls = LAYER_CLASSES.get(spec["class"])
        if cls is None:
            raise ValueError(f"{path}: unknown layer type {spec['class']!r} (known: {sorted(LAYER_CLASSES)})")
        layer_config = dict(spec["config"])
        if "data_format" in inspect.signature(cls.__init__).parameters:
            # files written before data_format existed hold channels-first image layers
            layer_config.setdefault("data_format", "channels_first")
        layer = cls(**layer_config)
        layer.trainable = spec.get("trainable", True)
        layers.append(layer)
    # Building draws initial weights that the saved ones replace at once; loading must not
    # move the seeded stream, or the layers a reader builds next would change with it.
    stream = backend.rng().bit_generator
    state = stream.state
    model = Sequential(layers, input_shape=config["input_shape"], name=config.get("name"),
                       data_format=config.get("data_format"), dtype=config.get("dtype"))
    stream.state = state
    for i, layer in enumerate(model.layers):
        for kind, store in (("params", layer.params), ("buffers", layer.buffers)):
            for key in store:
                name = f"layers/{i}/{kind}/{key}"
                if name not in arrays:
                    raise ValueError(f"{path}: missing array {name} for {layer.label}")
                if arrays[name].shape != store[key].shape:
                    raise ValueError(f"{path}: {name} has shape {arrays[name].shape}, "
                                     f"{layer.label} expects {store[key].shape}")
                store[key] = arrays[name].copy()
    if compile and "compile" in config:
        c = config["compile"]
        model.compile(optimizer=c["optimizer"], loss=c["loss"], metrics=c["metrics"])
        training = config.get("training_state")
        if training is not None:
            prefix = "optimizer/"
            state = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            try:
                model.optimizer.set_state(model.layers, training["optimizer"], state)
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from None
            model.epochs_completed = int(training.get("epochs_completed", 0))
            model._resume_rng = (training["rng"], backend.rng())
    return model


def _read_npz(path: str) -> dict:
    """Every array of the ``.npz`` file at ``path``, or an error that says what the file is."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder; a minidl model is one .npz file written by "
                                "model.save (a Keras SavedModel folder cannot be read)")
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        where = ("" if os.path.isdir(folder) else f" (the folder {folder} does not exist)")
        raise FileNotFoundError(f"no model file at {path}{where}; expected a file written by "
                                "model.save(path)")
    with open(path, "rb") as f:
        head = f.read(6)
    if head == b"\x93NUMPY":
        raise ValueError(f"{path} is a single NumPy array (.npy), not a model; load it with "
                         "np.load, or save models with model.save('model.npz')")
    if not head.startswith(b"PK"):
        raise ValueError(f"{path} is not a readable .npz file: a minidl model is a zip archive "
                         f"written by model.save, but this file starts with {head!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path} is not a readable .npz file ({type(err).__name__}: the archive "
                         "is damaged, truncated, or holds Python objects); expected a model written by model.save") from None


# ------------------------------------------------------------------ helpers
def _check_declared_shape(layer, incoming, position: int) -> None:
    """A later layer's ``input_shape=`` must match what reaches it (Keras would not build otherwise)."""
    if tuple(layer.declared_input_shape) != tuple(incoming):
        raise ValueError(f"{layer.label} (layer {position} of the model) was given "
                         f"input_shape={layer.declared_input_shape}, but the layers before it output "
                         f"(None, {', '.join(map(str, incoming))}); input_shape belongs on the first "
                         "layer only: remove it here")


def _jsonable(value):
    """Turn a layer/loss config into JSON: tuples to lists, objects to {"class", "config"}."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "get_config"):
        return {"class": type(value).__name__, "config": _jsonable(value.get_config())}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a configuration value of type {type(value).__name__}: {value!r}")


def _as_batch(x, who, input_shape=None):
    """``x`` as an array with a batch axis; one sample without it is a clear error."""
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{who} expected a batch of samples (N, ...), got a scalar")
    if input_shape is not None and x.ndim == len(input_shape) and _fits(x.shape, input_shape):
        raise ValueError(f"{who} expected a batch (N, {', '.join(map(str, input_shape))}), got "
                         f"shape {tuple(x.shape)}: one sample without its batch axis. Add a batch "
                         "axis: x[None] (or x.reshape(1, *x.shape))")
    if len(x) == 0:
        raise ValueError(f"{who} got an empty dataset (0 samples)")
    return x


def _fits(shape, input_shape) -> bool:
    return all(want is None or want == got for got, want in zip(shape, input_shape))


def _warn_if_not_finite(x, who) -> None:
    """Warn (once per call) when floating-point inputs hold NaN or infinite values."""
    if not np.issubdtype(x.dtype, np.floating):
        return
    xp = backend.get_array_module(x)
    bad = ~xp.isfinite(x)
    if bool(bad.any()):
        samples = int(bad.reshape(len(x), -1).any(axis=1).sum())
        warnings.warn(f"{who}: x holds {int(bad.sum())} NaN or infinite value(s) in {samples} of "
                      f"{len(x)} samples; their outputs will be NaN. Clean the data first, e.g. "
                      "x = np.nan_to_num(x) or drop those rows with np.isfinite(x).all(axis=...)",
                      UserWarning, stacklevel=3)


def _check_epochs(epochs, initial_epoch) -> None:
    """``epochs`` a whole number above ``initial_epoch`` (Keras's meaning: the last epoch's number)."""
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"fit: {name} must be a whole number of passes over the data, e.g. "
                            f"{name}=5, got {value!r} ({type(value).__name__})")
    if initial_epoch < 0:
        raise ValueError(f"fit: initial_epoch must be >= 0, got {initial_epoch}")
    if epochs <= initial_epoch:
        start = f" above initial_epoch={initial_epoch}" if initial_epoch else " of at least 1"
        raise ValueError(f"fit: epochs={epochs} trains nothing; give a number of epochs{start} "
                         f"(epochs is the number of the last epoch, as in Keras)")


def _sample_weights(y, sample_weight, class_weight, who):
    """One weight per sample (an (N,) float array) from ``sample_weight`` and/or
    ``class_weight`` ``{class: weight}`` (their product when both), or None without either.

    The class of a sample is its label: an integer, the argmax of a one-hot row, or a 0/1
    binary target (rounded), as Keras reads it.
    """
    if sample_weight is None and class_weight is None:
        return None
    n = len(y)
    weights = np.ones(n, dtype=np.float64)
    if sample_weight is not None:
        sw = np.asarray(backend.to_numpy(sample_weight), dtype=np.float64)
        if sw.ndim == 2 and sw.shape[1] == 1:
            sw = sw[:, 0]
        if sw.shape != (n,):
            raise ValueError(f"{who}: sample_weight must hold one weight per sample, shape ({n},); "
                             f"got shape {sw.shape}")
        weights *= sw
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise TypeError(f"{who}: class_weight must be a dict {{class: weight}}, e.g. {{0: 1.0, 1: 5.0}}; "
                            f"got {type(class_weight).__name__}")
        labels = np.asarray(backend.to_numpy(y))
        if labels.ndim >= 2 and labels.shape[-1] > 1:
            labels = labels.argmax(axis=-1)
        labels = np.rint(labels.reshape(n, -1)[:, 0]).astype(np.int64)
        missing = sorted(set(np.unique(labels).tolist()) - set(int(k) for k in class_weight))
        if missing:
            raise ValueError(f"{who}: class_weight has no weight for class(es) {missing}; give one "
                             f"for every class, got {sorted(class_weight)}")
        table = {int(k): float(v) for k, v in class_weight.items()}
        weights *= np.array([table[int(c)] for c in labels])
    return weights


def _steps(loader):
    """Batches per epoch of a ``DataLoader`` or a ``BatchStream`` (None while unknown)."""
    return loader.steps if isinstance(loader, BatchStream) else len(loader)


def _validation_source(validation_data, validation_steps):
    """``validation_data`` as ``_evaluate`` takes it: ``(x, y)``, ``(x, y, w)`` or a batch source."""
    if yields_batches(validation_data):
        return BatchStream(validation_data, validation_steps, "validation_data")
    if not (isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3)):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                         f"sample_weight_val), got {type(validation_data).__name__}")
    x, y, *w = validation_data
    x, y = _check_xy(x, y, "validation_data")
    return (x, y, *w)


def _check_xy(x, y, who, input_shape=None):
    x = _as_batch(x, who, input_shape)
    if y is None:
        raise ValueError(f"{who} needs targets y (for an autoencoder, pass y=x)")
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    if len(y) != len(x):
        raise ValueError(f"{who}: x and y must have the same number of samples, got {len(x)} and {len(y)}")
    return x, y
