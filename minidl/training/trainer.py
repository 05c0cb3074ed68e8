"""Training a model with ``compile``, ``fit``, ``evaluate``, ``predict``, ``train_on_batch``.

``Trainer`` is what ``Sequential`` inherits for training: the loop over epochs and batches, callbacks, validation, sample and class
weights, and the checks that turn bad input into a clear error. It relies on the model's
``forward``, ``backward``, ``zero_grad``, ``regularization_loss``, ``layers`` and device.
The same step written by hand (PyTorch-style) is in ``Sequential``'s docstring.

The extension API (docs/ARCHITECTURE.md, "Extending minidl"): a subclass may override the
per-batch step ``train_batch``, the per-epoch loops ``train_epoch`` and ``evaluate_batches``,
``sample_shape`` and ``require_compiled``; it reuses the checks ``as_batch``, ``check_xy``,
``per_sample_weights``, ``with_model`` and the model's ``as_input``/``on_device``.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import backend
from ..nn import losses as losses_module
from ..nn import optim
from . import metrics as metrics_module
from .callbacks import Callback, EpochLogger, History, ProgressBar, format_logs
from .data import DataLoader, yields_batches

if TYPE_CHECKING:
    from ..nn.layers.base import Layer

__all__ = ["Trainer", "NonFiniteLossError", "Tally", "as_batch", "check_xy", "per_sample_weights"]
__all__ += ["with_model"]


class NonFiniteLossError(FloatingPointError):
    """Raised by ``fit`` when the loss becomes NaN or infinite; ``.history`` keeps the epochs so far."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class Trainer:
    """compile / fit / evaluate / predict / train_on_batch for a model of layers."""

    # what the model provides (``Sequential``), declared for the type checker
    input_shape: tuple | None
    device: str
    optimizer: Any
    loss: Any
    metrics: list
    history: Any
    epochs_completed: int
    _resume_rng: Any = None  # (saved random state, generator at load): set by load_model

    def sample_shape(self) -> tuple | None:
        """The shape of one sample (no batch axis) that inputs are checked against: minidl's
        ``input_shape``, None while unknown. A subclass whose ``input_shape`` includes the batch
        axis returns the per-sample shape here."""
        return self.input_shape

    if TYPE_CHECKING:

        @property
        def layers(self) -> list[Layer]: ...  # an attribute of Sequential, a property elsewhere
        def forward(self, x, training: bool = False) -> Any: ...
        def backward(self, dy, input_grad: bool = True) -> Any: ...
        def zero_grad(self) -> None: ...
        def regularization_loss(self) -> float: ...
        def on_device(self, a) -> Any: ...  # ``a`` on the model's device
        def as_input(self, x) -> Any: ...  # ``x`` cast as the model takes it (its dtype)

    def compile(self, optimizer="adam", loss=None, *, metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics to report (names or objects);
        ``metrics`` is given by name."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='sparse_categorical_crossentropy'")
        self.optimizer = optim.get(optimizer)
        self.loss = losses_module.get(loss)
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]  # metrics="accuracy" means ["accuracy"]
        self.metrics = [metrics_module.get(m, self.loss) for m in (metrics or [])]
        if self.device != "cpu":
            self.optimizer.to(self.device)

    def require_compiled(self, what: str) -> None:
        """A ``RuntimeError`` naming ``what`` (``"fit"``) unless ``compile`` chose an optimizer
        and a loss. A subclass whose steps need no compiled loss overrides it."""
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=...) before {what}")

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None) -> float:
        """One gradient step on one batch; returns the loss (including weight penalties).
        ``sample_weight`` and ``class_weight`` as in ``fit``."""
        self.require_compiled("train_on_batch")
        weights = per_sample_weights(y, sample_weight, class_weight, "train_on_batch")
        loss, _ = self.train_batch(
            self.on_device(self.as_input(x)),
            self.on_device(y),
            None if weights is None else self.on_device(weights),
        )
        return loss

    def train_batch(self, x, y, sample_weight=None) -> tuple[float, Any]:
        """One gradient step on a batch already on the model's device (``as_input``,
        ``on_device``); returns ``(loss, y_pred)``, the loss with the weight penalties.
        ``fit``'s epochs and ``train_on_batch`` call it: override it to change the step."""
        y_pred = self.forward(x, training=True)
        loss = self.loss(y_pred, y, sample_weight=sample_weight) + self.regularization_loss()
        self.backward(self.loss.backward(), input_grad=False)
        self.optimizer.step(self)
        return loss, y_pred

    def fit(
        self,
        x,
        y=None,
        *,
        epochs: int = 1,
        batch_size: int | None = None,
        verbose=1,
        validation_data=None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        callbacks=None,
        initial_epoch: int = 0,
        class_weight=None,
        sample_weight=None,
        augment=None,
    ) -> History:
        """Train for ``epochs`` passes over ``(x, y)``; returns the ``History``.

        Everything after ``x`` and ``y`` is given by name (``fit(x, y, 64, 5)`` would leave
        the reader guessing which number is which).

        ``x`` is an array of samples (with targets ``y``), or a source of batches that
        yields ``(x, y)`` or ``(x, y, sample_weight)`` itself, with no ``y``: a ``DataLoader``,
        or any object that each ``iter()`` runs through one epoch, its ``len()`` (if any) the
        batches of an epoch (a generator is read once: a library built on minidl wraps one in
        such an object, with a number of steps per epoch: docs/ARCHITECTURE.md, "Extending minidl").

        ``initial_epoch`` numbers the epochs from there: ``fit(epochs=10,
        initial_epoch=model.epochs_completed)`` resumes a loaded model's schedule and
        progress display and runs the remaining epochs.

        ``class_weight`` (``{class: weight}``) and ``sample_weight`` (one weight per sample)
        weigh each sample's loss (``mean_n w_n loss_n``; both given: their product).
        ``validation_split`` holds out the *last* fraction of ``x, y`` (before shuffling). ``verbose``: 0 silent, 1 (or ``"auto"``) a progress bar,
        2 one line per epoch. ``batch_size`` defaults to 32. A NaN or infinite loss stops
        training with ``NonFiniteLossError`` naming the epoch and batch; ``model.history``
        keeps the epochs completed so far.
        ``augment`` (a ``minidl.training.augment`` transform, or any callable ``x_batch -> x_batch``)
        changes every training batch as it is drawn; validation data is never augmented.
        """
        self.require_compiled("fit")
        _check_epochs(epochs, initial_epoch)
        batch_size = 32 if batch_size is None else batch_size
        verbose = 1 if verbose == "auto" else verbose
        if validation_data is not None and validation_split:
            raise ValueError("pass validation_data or validation_split, not both")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        if yields_batches(x):
            loader: Any = _batch_source(
                x, "fit", y=y, sample_weight=sample_weight, validation_split=validation_split or None
            )
        else:
            x, y = check_xy(x, y, "fit", self.sample_shape())
            weights = per_sample_weights(y, sample_weight, class_weight, "fit")
            if validation_split:
                split = int(len(x) * (1.0 - validation_split))
                if split == 0 or split == len(x):
                    raise ValueError(
                        f"validation_split={validation_split} leaves no training or no "
                        f"validation samples out of {len(x)}"
                    )
                x, validation_data, y = x[:split], (x[split:], y[split:]), y[:split]
                weights = None if weights is None else weights[:split]
            loader = DataLoader(
                x, y, batch_size=batch_size, shuffle=shuffle, sample_weight=weights, transform=augment
            )
            class_weight = None  # folded into the weights
        if validation_data is not None:
            validation_data = _validation_source(validation_data)

        history = History()
        callbacks = list(callbacks or []) + [history]  # last: it records what the others logged
        if verbose == 1:
            callbacks.append(ProgressBar(epochs, _steps(loader)))
        elif verbose == 2:
            callbacks.append(EpochLogger(epochs))
        callbacks = with_model(callbacks, self)
        self.history, self.stop_training = history, False
        self._continue_saved_random_stream()

        _run_hook(callbacks, "on_train_begin")
        try:
            for epoch in range(initial_epoch, epochs):
                logs: dict = {}
                _run_hook(callbacks, "on_epoch_begin", epoch, logs)
                logs.update(self.train_epoch(loader, epoch, callbacks, class_weight))
                if validation_data is not None:
                    val = self._test(validation_data, batch_size, callbacks)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                self.epochs_completed += 1
                _run_hook(callbacks, "on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
        finally:
            _run_hook(callbacks, "on_train_end")
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

    def train_epoch(self, loader, epoch: int, callbacks, class_weight=None) -> dict:
        """One pass of ``fit`` over ``loader`` (batches ``(x, y)`` or ``(x, y, w)``): for each
        batch ``on_train_batch_begin``, ``train_batch``, ``on_train_batch_end(batch, logs)``
        with the running logs; returns the epoch's logs ``{"loss": .., metric: ..}``."""
        tally = Tally(self.metrics)
        for batch, (xb, yb, *wb) in enumerate(loader):
            _run_hook(callbacks, "on_train_batch_begin", batch, {})
            wb = per_sample_weights(yb, wb[0] if wb else None, class_weight, "fit")
            xb, yb = self.on_device(self.as_input(xb)), self.on_device(yb)
            loss, y_pred = self.train_batch(xb, yb, None if wb is None else self.on_device(wb))
            if not math.isfinite(loss):
                of = f" of {_steps(loader)}" if _steps(loader) is not None else ""
                raise NonFiniteLossError(
                    f"the loss became {loss} at epoch {epoch + 1}, batch {batch + 1}{of}; "
                    "training stopped. The History so far is in model.history. Usual causes: a "
                    "learning rate that is too high, unscaled inputs, or NaN values in the data.",
                    self.history,
                )
            tally.add(loss, len(xb), y_pred, yb)
            running = tally.logs()
            _run_hook(callbacks, "on_train_batch_end", batch, running)
        if not tally.seen:
            raise ValueError(
                f"fit: the data gave no batches in epoch {epoch + 1} (a generator is read only once: "
                "pass a DataLoader, or an object whose iter() starts each epoch afresh)"
            )
        return tally.logs()

    def evaluate(
        self,
        x,
        y=None,
        batch_size: int | None = None,
        verbose=0,
        sample_weight=None,
        *,
        return_dict: bool = False,
        callbacks=None,
    ):
        """Loss (with weight penalties) and metrics over ``(x, y)`` in inference mode.

        Returns the loss (a float) when the model has no metrics, the
        list ``[loss, *metrics]`` in ``compile``'s order when it has (``loss, acc =
        model.evaluate(x, y)``), and ``{"loss": .., "accuracy": ..}`` with
        ``return_dict=True``. ``x`` may be a source of batches as in ``fit`` (then no ``y``).
        ``sample_weight`` weighs the loss as in ``fit``. ``callbacks`` get the ``on_test_*`` hooks.
        """
        self.require_compiled("evaluate")
        if yields_batches(x):
            data = _batch_source(x, "evaluate", y=y, sample_weight=sample_weight)
        else:
            data = (x, y) if sample_weight is None else (x, y, sample_weight)
        results = self._test(data, 32 if batch_size is None else batch_size, with_model(callbacks, self))
        if verbose:
            print(format_logs(results))
        if return_dict:
            return results
        values = list(results.values())
        return values[0] if len(values) == 1 else values

    def _test(self, data, batch_size: int, callbacks) -> dict:
        """``evaluate_batches`` between the callbacks' ``on_test_begin`` and ``on_test_end``."""
        _run_hook(callbacks, "on_test_begin")
        results = self.evaluate_batches(data, batch_size, callbacks)
        _run_hook(callbacks, "on_test_end", dict(results))
        return results

    def evaluate_batches(self, data, batch_size: int, callbacks=()) -> dict:
        """``{"loss": .., metric: ..}`` over ``data`` in inference mode, ``evaluate``'s and
        ``fit``'s validation: a tuple ``(x, y)`` or ``(x, y, w)`` of arrays, or a source of batches;
        means over samples (weighted loss as ``fit``'s), ``on_test_batch_*`` around each batch."""
        if not isinstance(data, (tuple, list)):
            batches = data
        else:
            x, y, *w = data
            x, y = check_xy(x, y, "evaluate", self.sample_shape())
            _warn_if_not_finite(x, "evaluate")
            w = per_sample_weights(y, w[0] if w else None, None, "evaluate")
            batches = DataLoader(x, y, batch_size=batch_size, sample_weight=w)
        tally = Tally(self.metrics)
        for batch, (xb, yb, *wb) in enumerate(batches):
            _run_hook(callbacks, "on_test_batch_begin", batch, {})
            y_pred = self.forward(self.on_device(self.as_input(xb)), training=False)
            yb = self.on_device(yb)
            wb = self.on_device(np.asarray(wb[0])) if wb else None
            # the penalties with each batch's loss: an output penalty (activity_regularizer) is the batch's
            loss = self.loss(y_pred, yb, sample_weight=wb) + self.regularization_loss()
            tally.add(loss, len(yb), y_pred, yb)
            _run_hook(callbacks, "on_test_batch_end", batch, tally.logs())
        return tally.logs()

    def predict(self, x, batch_size: int | None = None, verbose=0, *, callbacks=None):
        """Outputs for ``x`` in inference mode, as a NumPy array (inputs cast as in ``fit``);
        ``callbacks`` get the ``on_predict_*`` hooks."""
        x = as_batch(x, "predict", self.sample_shape())
        _warn_if_not_finite(x, "predict")
        loader = DataLoader(x, batch_size=32 if batch_size is None else batch_size)
        callbacks = with_model(callbacks, self)
        _run_hook(callbacks, "on_predict_begin")
        outputs = []
        for batch, xb in enumerate(loader):
            _run_hook(callbacks, "on_predict_batch_begin", batch, {})
            outputs.append(backend.to_numpy(self.forward(self.on_device(self.as_input(xb)), training=False)))
            _run_hook(callbacks, "on_predict_batch_end", batch, {"outputs": outputs[-1]})
        _run_hook(callbacks, "on_predict_end")
        return np.concatenate(outputs, axis=0)


class Tally:
    """The logs of one pass over data (an epoch of ``fit``, an ``evaluate``): the loss averaged
    over the samples, and each of ``metrics`` (``(name, metric)`` pairs, as ``compile`` keeps
    them) accumulated over the batches by its ``metrics.accumulator``, reset at the start."""

    def __init__(self, metrics):
        self.loss_total, self.seen = 0.0, 0
        self.meters = [(name, metrics_module.accumulator(metric)) for name, metric in metrics]
        for _, meter in self.meters:
            meter.reset()

    def add(self, loss: float, n: int, y_pred, y_true) -> None:
        """One batch of ``n`` samples whose mean loss is ``loss``."""
        self.loss_total += loss * n
        self.seen += n
        for _, meter in self.meters:
            meter.update(y_pred, y_true)

    def logs(self) -> dict:
        """``{"loss": .., name: ..}`` over the batches so far."""
        return {"loss": self.loss_total / self.seen, **{name: m.result() for name, m in self.meters}}


def _run_hook(callbacks, hook: str, *args) -> None:
    """Call every callback's ``hook`` (``"on_epoch_end"``) with ``args``, in the list's order."""
    for cb in callbacks:
        getattr(cb, hook)(*args)


def with_model(callbacks, model) -> list:
    """``callbacks`` (None or a list of ``Callback``) as a list, each told its model
    (``set_model``); anything else is a ``TypeError``."""
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(
                f"callbacks must be minidl.training.callbacks.Callback objects, got {type(cb).__name__}"
            )
        cb.set_model(model)
    return callbacks


def as_batch(x, who: str, input_shape=None):
    """``x`` as an array with a batch axis, else a ``ValueError`` naming ``who`` (``"predict"``):
    a scalar, an empty array, or one sample of ``input_shape`` without its batch axis."""
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{who} expected a batch of samples (N, ...), got a scalar")
    if input_shape is not None and x.ndim == len(input_shape) and _fits(x.shape, input_shape):
        raise ValueError(
            f"{who} expected a batch (N, {', '.join(map(str, input_shape))}), got "
            f"shape {tuple(x.shape)}: one sample without its batch axis. Add a batch "
            "axis: x[None] (or x.reshape(1, *x.shape))"
        )
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
        warnings.warn(
            f"{who}: x holds {int(bad.sum())} NaN or infinite value(s) in {samples} of "
            f"{len(x)} samples; their outputs will be NaN. Clean the data first, e.g. "
            "x = np.nan_to_num(x) or drop those rows with np.isfinite(x).all(axis=...)",
            UserWarning,
            stacklevel=3,
        )


def _check_epochs(epochs, initial_epoch) -> None:
    """``epochs`` a whole number above ``initial_epoch`` (the last epoch's number)."""
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(
                f"fit: {name} must be a whole number of passes over the data, e.g. "
                f"{name}=5, got {value!r} ({type(value).__name__})"
            )
    if initial_epoch < 0:
        raise ValueError(f"fit: initial_epoch must be >= 0, got {initial_epoch}")
    if epochs <= initial_epoch:
        start = f" above initial_epoch={initial_epoch}" if initial_epoch else " of at least 1"
        raise ValueError(
            f"fit: epochs={epochs} trains nothing; give a number of epochs{start} "
            f"(epochs is the number of the last epoch)"
        )


def per_sample_weights(y, sample_weight, class_weight, who: str):
    """One weight per sample (an (N,) float array) from ``sample_weight`` and/or
    ``class_weight`` ``{class: weight}`` (their product when both), or None without either.

    The class of a sample is its label: an integer, the argmax of a one-hot row, or a 0/1
    binary target (rounded).
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
            raise ValueError(
                f"{who}: sample_weight must hold one weight per sample, shape ({n},); got shape {sw.shape}"
            )
        weights *= sw
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise TypeError(
                f"{who}: class_weight must be a dict {{class: weight}}, e.g. {{0: 1.0, 1: 5.0}}; "
                f"got {type(class_weight).__name__}"
            )
        labels = np.asarray(backend.to_numpy(y))
        if labels.ndim >= 2 and labels.shape[-1] > 1:
            labels = labels.argmax(axis=-1)
        labels = np.rint(labels.reshape(n, -1)[:, 0]).astype(np.int64)
        missing = sorted(set(np.unique(labels).tolist()) - set(int(k) for k in class_weight))
        if missing:
            raise ValueError(
                f"{who}: class_weight has no weight for class(es) {missing}; give one "
                f"for every class, got {sorted(class_weight)}"
            )
        table = {int(k): float(v) for k, v in class_weight.items()}
        weights *= np.array([table[int(c)] for c in labels])
    return weights


def _steps(loader):
    """Batches per epoch of a source of batches: its ``len()``, None when it has none."""
    try:
        return len(loader)
    except TypeError:
        return None


def _batch_source(x, who: str, **given):
    """``x``, a source of batches (``_iterable``), when none of ``given`` (``y=...``: what only
    arrays of samples come with) is set; else a ``ValueError`` naming ``who``."""
    if any(value is not None for value in given.values()):
        raise ValueError(
            f"{who}: x is a {type(x).__name__} that yields the batches (x, y) "
            f"itself; give no {', '.join(given)} with it"
        )
    return _iterable(x, who)


def _iterable(source, who: str):
    """``source``, a source of batches that ``iter()`` runs through an epoch, else a ``TypeError``."""
    if not hasattr(source, "__iter__"):
        raise TypeError(
            f"{who}: expected a source of batches with an __iter__ over one epoch, got a "
            f"{type(source).__name__} that has none (batches by index only)"
        )
    return source


def _validation_source(validation_data):
    """``validation_data`` as ``evaluate_batches`` takes it: ``(x, y)``, ``(x, y, w)`` or a batch source."""
    if yields_batches(validation_data):
        return _iterable(validation_data, "validation_data")
    if not (isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3)):
        raise ValueError(
            "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
            f"sample_weight_val), got {type(validation_data).__name__}"
        )
    x, y, *w = validation_data
    x, y = check_xy(x, y, "validation_data")
    return (x, y, *w)


def check_xy(x, y, who: str, input_shape=None):
    """``(x, y)`` as arrays with the same number of samples (``as_batch`` on ``x``), else a
    ``ValueError`` naming ``who``."""
    x = as_batch(x, who, input_shape)
    if y is None:
        raise ValueError(f"{who} needs targets y (for an autoencoder, pass y=x)")
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    if len(y) != len(x):
        raise ValueError(f"{who}: x and y must have the same number of samples, got {len(x)} and {len(y)}")
    return x, y
