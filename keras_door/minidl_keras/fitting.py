"""Keras's ``fit``/``evaluate``/``train_on_batch`` signatures over minidl's ``Trainer``: what
``keras.Sequential`` and ``keras.Model`` share.

The loop itself is ``Trainer``'s (``minidl.training.trainer``); this mixin only takes the
arguments in Keras's order -- ``fit(x, y, batch_size, epochs, ...)``; minidl's own ``fit``
takes everything after ``x, y`` by name -- and lets the model pack what it is given first, through
one hook: ``_pack(x)`` and ``_pack_y(y)`` (a ``keras.Model`` with several inputs or outputs
turns lists and dicts of arrays into one sliceable column set; a ``Sequential`` takes arrays
as they are).
"""

from __future__ import annotations

import math
import types
import warnings

import numpy as np

from minidl import backend
from minidl.training import trainer as _trainer
from minidl.training.data import DataLoader, yields_batches

__all__ = ["KerasFit", "BatchStream", "unpack_x_y_sample_weight"]

#: the step methods a Keras model may override; fit, evaluate and predict call them
STEPS = ("train_step", "test_step", "predict_step")

#: other frameworks with an autograd of their own: a step written with theirs cannot train here
FOREIGN = ("torch", "tensorflow", "jax", "jaxlib")

MINIDL_WAY = (
    "write the step with minidl's own operations: y_pred = self(x, training=True); "
    "loss = self.compute_loss(x, y, y_pred); self.backward(self.loss.backward()); "
    "self.optimizer.step(self); return self.compute_metrics(x, y, y_pred) "
    "(docs/keras.md, 'Overriding train_step'), or call super().train_step(data)"
)


def unpack_x_y_sample_weight(data):
    """Keras's ``keras.utils.unpack_x_y_sample_weight``: ``(x, y, sample_weight)`` from a step's
    ``data`` -- a tuple ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``, or ``x`` alone."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(
        f"a step's data is (x,), (x, y) or (x, y, sample_weight), got a tuple of {len(data)} entries"
    )


def foreign_names(fn) -> list:
    """The names ``fn``'s code reads (nested functions included) that belong to another
    framework: a module ``torch``, ``tensorflow`` or ``jax`` (under any alias, ``tf``), or an
    object imported from one (``from torch import no_grad``)."""
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    scope = dict(getattr(fn, "__globals__", {}))
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            scope[name] = cell.cell_contents
        except ValueError:  # an empty cell
            pass
    found = set()

    def visit(code):
        for name in (*code.co_names, *code.co_freevars):
            if name in FOREIGN:  # import torch inside the function
                found.add(name)
                continue
            obj = scope.get(name)
            module = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)
            if isinstance(module, str) and module.split(".")[0] in FOREIGN:
                found.add(name)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                visit(const)

    visit(code)
    return sorted(found)


class _NoTargets:
    """The targets of ``fit(x)`` without ``y`` for a ``train_step`` that needs none (keras.io's
    GAN): as many "samples" as ``x``, sliced as ``fit`` slices ``y``; the step receives ``x``
    alone, as Keras gives it."""

    ndim = 1
    dtype = np.dtype(object)

    def __init__(self, n: int):
        self.n = int(n)

    def __len__(self) -> int:
        return self.n

    @property
    def shape(self) -> tuple:
        return (self.n,)

    def __getitem__(self, index):
        return _NoTargets(len(range(self.n)[index]) if isinstance(index, slice) else len(index))


class _Running:
    """The logs a step returns: the loss averaged over the samples so far (``compute_loss``
    adds each batch's) and the compiled metrics accumulated over the batches
    (``compute_metrics``); reset at the start of each epoch and of each ``evaluate``, as
    Keras resets its metrics."""

    def __init__(self, metrics):
        self.tally = _trainer.Tally(metrics)

    def add_loss(self, loss: float, n: int) -> None:
        self.tally.loss_total += float(loss) * n
        self.tally.seen += n

    def update(self, y_pred, y_true) -> None:
        for _, meter in self.tally.meters:
            meter.update(y_pred, y_true)

    def logs(self) -> dict:
        loss = {"loss": self.tally.loss_total / self.tally.seen} if self.tally.seen else {}
        return {**loss, **{name: m.result() for name, m in self.tally.meters}}


class _LossTracker:
    """Keras's loss tracker inside a step override (a ``keras.metrics.Mean`` named ``"loss"``):
    the mean of the values given to ``update_state`` since the epoch or ``evaluate`` began."""

    name = "loss"

    def __init__(self):
        self.reset_state()

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update_state(self, values, sample_weight=None) -> None:
        v = np.asarray(backend.to_numpy(values), dtype=np.float64)
        w = (
            np.ones_like(v)
            if sample_weight is None
            else np.broadcast_to(np.asarray(backend.to_numpy(sample_weight), dtype=np.float64), v.shape)
        )
        self.total += float(np.sum(v * w))
        self.count += float(np.sum(w))

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return "<Mean name=loss>"


class _CompileMetrics:
    """Keras's ``compile_metrics`` inside a step override: ``update_state(y, y_pred)`` updates
    the compiled metrics (as ``compute_metrics``), ``result()`` is their dict, which the logs
    flatten (``{"loss": ..., "compile_metrics": {"mae": ...}}`` logs ``loss`` and ``mae``)."""

    name = "compile_metrics"

    def __init__(self, model):
        self.model = model

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self.model._running_logs().update(backend.to_numpy(y_pred), backend.to_numpy(y_true))

    def result(self) -> dict:
        logs = self.model._running_logs().logs()
        logs.pop("loss", None)
        return logs

    def reset_state(self) -> None:
        self.model._reset_running()

    def __repr__(self) -> str:
        return "<CompileMetrics name=compile_metrics>"


def _as_logs(logs, who: str) -> dict:
    """A step's returned dict with Python floats (arrays of one value become floats)."""
    if logs is None:
        return {}
    if not isinstance(logs, dict):
        raise TypeError(f"{who} must return a dict of logs, e.g. {{'loss': ...}}, got {type(logs).__name__}")
    out = {}
    for key, value in logs.items():
        if hasattr(value, "result") and callable(value.result):  # a metric object
            value = value.result()
        if isinstance(value, dict):  # Keras's "compile_metrics": its metrics, each by name
            out.update(_as_logs(value, who))
            continue
        array = backend.to_numpy(value) if hasattr(value, "shape") else value
        out[key] = float(np.asarray(array)) if np.size(array) == 1 else array
    return out


def _optimizer_steps(model) -> int:
    """How many updates the optimizers the model holds (``optimizer``, a GAN's two) have made."""
    return sum(
        int(getattr(value, "iterations", 0))
        for value in vars(model).values()
        if hasattr(value, "step") and hasattr(value, "iterations")
    )


def _first_array(x):
    """The first array of ``x`` (an array, or a list or dict of arrays, one per input)."""
    if isinstance(x, dict):
        return next(iter(x.values()))
    if isinstance(x, (list, tuple)):
        return x[0]
    return x


class BatchStream:
    """Batches ``(x, y)`` or ``(x, y, sample_weight)`` read from a source that yields them, as
    Keras's ``fit``/``evaluate`` read it; minidl's ``fit`` reads the stream as any source of
    batches (each ``iter()`` one epoch, ``len()`` its batches: docs/ARCHITECTURE.md,
    "Extending minidl").

    * an object with ``__getitem__`` and ``__len__`` (a batch sequence, a ``PyDataset``): batch
      ``i`` of an epoch is ``source[i]``, ``len(source)`` batches per epoch, then
      ``source.on_epoch_end()`` if it has one;
    * a re-iterable object (a ``DataLoader``): a fresh ``iter(source)`` every epoch;
    * a generator or other iterator: read on from where the last epoch stopped, so one that
      loops forever (``while True: ... yield``) needs ``steps_per_epoch``.

    ``steps_per_epoch`` caps the batches of an epoch. ``stream.steps`` is the number of
    batches an epoch has, ``None`` while unknown (an iterator without ``steps_per_epoch``:
    then ``len(stream)`` is a ``TypeError``, as for any object without a length).
    """

    def __init__(self, source, steps_per_epoch=None, who: str = "fit"):
        if steps_per_epoch is not None and (
            isinstance(steps_per_epoch, bool)
            or not isinstance(steps_per_epoch, (int, np.integer))
            or steps_per_epoch <= 0
        ):
            raise ValueError(f"{who}: steps_per_epoch must be a positive integer, got {steps_per_epoch!r}")
        self.source, self.who = source, who
        self.steps: int | None = None if steps_per_epoch is None else int(steps_per_epoch)
        self.indexed = hasattr(source, "__getitem__") and hasattr(source, "__len__")
        self.iterator = iter(source) if hasattr(source, "__next__") else None
        if self.indexed and self.steps is None:
            self.steps = len(source)
        self.epochs_read = 0

    def __len__(self) -> int:
        if self.steps is None:
            raise TypeError(f"{self.who}: the batches of an epoch are unknown (an iterator without steps)")
        return self.steps

    def __iter__(self):
        if self.indexed:
            assert self.steps is not None  # len(source) at the least, set in __init__
            batches = (self.source[i] for i in range(self.steps))
        else:
            batches = self.iterator if self.iterator is not None else iter(self.source)
        count = 0
        for batch in batches:
            yield self.checked(batch)
            count += 1
            if self.steps is not None and count == self.steps:
                break
        if count == 0:
            raise ValueError(self.ran_out_message())
        if self.steps is not None and count < self.steps:
            raise ValueError(
                f"{self.who}: the data ran out after {count} of steps_per_epoch="
                f"{self.steps} batches; {self.ran_out_message()}"
            )
        if hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()
        self.epochs_read += 1

    def ran_out_message(self) -> str:
        """Why an epoch read no batch, and what to do."""
        if self.epochs_read:
            return (
                f"{self.who}: the generator gave no more batches after epoch {self.epochs_read}; "
                "a generator is read only once: make it loop forever (while True: ... yield "
                "x, y) and give steps_per_epoch=, or pass a PyDataset / DataLoader"
            )
        return (
            f"{self.who}: the data source gave no batches (a generator already read to its end? "
            "a generator is read only once: make a new one, or make it loop forever and give "
            "steps_per_epoch=)"
        )

    def checked(self, batch):
        """``batch`` as a tuple ``(x, y)`` or ``(x, y, w)``, else an error naming what came."""
        if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
            return tuple(batch)
        raise ValueError(
            f"{self.who}: each batch must be a tuple (x, y) or (x, y, sample_weight), "
            f"got {type(batch).__name__}"
            f"{f' of {len(batch)} items' if isinstance(batch, (tuple, list)) else ''}; "
            "for an autoencoder yield (x, x)"
        )


class KerasFit:
    """Mixin before ``Trainer`` in a Keras model's bases (``class Model(KerasFit, ..., Trainer)``).

    ``train_step``, ``test_step`` and ``predict_step`` are Keras's: a subclass that overrides
    one has it called by ``fit`` (and ``train_on_batch``), ``evaluate`` (and fit's
    validation) and ``predict`` once per batch, with ``data`` a tuple ``(x, y)`` or
    ``(x, y, sample_weight)`` (``(x,)`` for ``predict_step``); ``super().train_step(data)`` is
    the door's own step. An override must compute with minidl (its layers' backward); one
    that names another framework's autograd (torch, tensorflow, jax) is refused with an error
    naming it, since it would see no graph to differentiate."""

    def _pack(self, data):
        """``x`` (or a validation ``x``) as ``Trainer`` slices it; unchanged by default."""
        return data

    def _pack_y(self, y):
        """``y`` as ``Trainer`` slices it; ``_pack``'s by default."""
        return self._pack(y)

    # Keras 3's positional order (x, y, batch_size, epochs); minidl's Trainer.fit takes them by name
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
        **minidl_options,
    ):
        """Keras's ``fit``, its positional arguments in Keras's order (x, y, batch_size, epochs, ...);
        ``minidl_options`` are minidl's own (``augment=``). ``validation_batch_size`` (default:
        ``batch_size``) batches the validation data; with ``validation_freq=n`` the validation
        runs after every n-th epoch only (epochs n, 2n, ...), so ``val_*`` has one entry per
        validation, as in Keras."""
        unknown = set(minidl_options) - {"augment"}
        if unknown:
            raise TypeError(
                f"fit() got unexpected keyword argument(s) {', '.join(sorted(unknown))}; Keras's fit takes "
                "x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle, "
                "class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps, "
                "validation_batch_size, validation_freq"
            )
        if not isinstance(validation_freq, int) or isinstance(validation_freq, bool) or validation_freq < 1:
            raise ValueError(
                f"validation_freq must be a positive int (every n-th epoch), got {validation_freq!r}"
            )
        self.__dict__["_validation_plan"] = (validation_batch_size, validation_freq)
        try:
            return self._fit(
                x,
                y,
                batch_size,
                epochs,
                verbose,
                callbacks,
                validation_split,
                validation_data,
                shuffle,
                class_weight,
                sample_weight,
                initial_epoch,
                steps_per_epoch,
                validation_steps,
                minidl_options,
            )
        finally:
            self.__dict__.pop("_validation_plan", None)

    def _fit(
        self,
        x,
        y,
        batch_size,
        epochs,
        verbose,
        callbacks,
        validation_split,
        validation_data,
        shuffle,
        class_weight,
        sample_weight,
        initial_epoch,
        steps_per_epoch,
        validation_steps,
        minidl_options,
    ):
        if isinstance(validation_data, (tuple, list)):
            xv, yv, *wv = validation_data
            validation_data = (self._pack(xv), self._pack_y(yv), *wv)
        if y is None and x is not None and not yields_batches(x) and self._override("train_step"):
            y = _NoTargets(len(_first_array(x)))  # the step gets x alone, as in Keras
        params = {
            "verbose": 1 if verbose == "auto" else verbose,
            "epochs": epochs,
            "steps": _steps_per_epoch(x, batch_size, validation_split, steps_per_epoch),
        }
        for cb in callbacks or []:  # Keras's callback.params
            if hasattr(cb, "set_params"):
                cb.set_params(params)
            else:  # one of minidl's own callbacks
                cb.params = dict(params)
        try:
            history = self._fit_on(x, y, batch_size, epochs, verbose, callbacks, validation_split,
                                   validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                                   steps_per_epoch, validation_steps, minidl_options)  # fmt: skip
        except _trainer.NonFiniteLossError as error:
            history = _terminated_on_nan(error, callbacks)
        history.params = params  # Keras's History has the params of its fit
        return history

    def _fit_on(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
                minidl_options):  # fmt: skip
        x, y = self._pack(x), self._pack_y(y)
        if yields_batches(validation_data):
            validation_data = BatchStream(validation_data, validation_steps, "validation_data")
        if yields_batches(x):
            x = BatchStream(x, steps_per_epoch, "fit")
        elif steps_per_epoch is not None:  # arrays: minidl's batches, steps_per_epoch of them an epoch
            x, y = _trainer.check_xy(x, y, "fit", self.sample_shape())  # type: ignore[attr-defined]
            weights = _trainer.per_sample_weights(y, sample_weight, class_weight, "fit")
            if validation_split:  # the last fraction, as minidl's fit holds it out
                split = int(len(x) * (1.0 - validation_split))
                x, validation_data, y = x[:split], (x[split:], y[split:]), y[:split]
                weights = None if weights is None else weights[:split]
            augment = minidl_options.pop("augment", None)
            loader = DataLoader(x, y, batch_size or 32, shuffle, sample_weight=weights, transform=augment)
            x, y, validation_split, sample_weight, class_weight = (
                BatchStream(loader, steps_per_epoch),
                None,
                0,
                None,
                None,
            )
        return super().fit(  # type: ignore[misc]
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            class_weight=class_weight,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
            **minidl_options,
        )

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """Keras's ``evaluate``, its arguments in Keras's order: the loss, ``[loss, *metrics]``
        with metrics, or a dict with ``return_dict=True``; ``steps`` caps the batches read
        from a source of batches (a generator, a ``PyDataset``)."""
        x = self._pack(x)
        return super().evaluate(  # type: ignore[misc]
            BatchStream(x, steps, "evaluate") if yields_batches(x) else x,
            self._pack_y(y),
            batch_size,
            0 if verbose == "auto" else verbose,
            sample_weight,
            return_dict=return_dict,
            callbacks=callbacks,
        )

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch. Returns what Keras 3 returns: the loss when the model
        has no metrics, ``[loss, *metrics]`` when it has, a dict with ``return_dict=True`` --
        the metrics of this batch's predictions before the step (Keras resets them each call)."""
        method = self._override("train_step")
        if method is not None:  # Keras: the metrics reset, one step, its logs
            self.require_compiled("train_on_batch")
            self._reset_running()
            x, y = self._pack(x), self._pack_y(y)
            weights = _trainer.per_sample_weights(y, sample_weight, class_weight, "train_on_batch")
            xb, yb = self.on_device(self.as_input(x)), self.on_device(y)  # type: ignore[attr-defined]
            data = self._step_data(xb, yb, None if weights is None else self.on_device(weights))  # type: ignore[attr-defined]
            logs = _as_logs(self._run_step("train_step", method, data), "train_step")
            values = list(logs.values())
            return logs if return_dict else (values[0] if len(values) == 1 else values)
        if not self.metrics and not return_dict:
            return super().train_on_batch(self._pack(x), self._pack_y(y), sample_weight, class_weight)  # type: ignore[misc]
        self.require_compiled("train_on_batch")
        x, y = self._pack(x), self._pack_y(y)
        weights = _trainer.per_sample_weights(y, sample_weight, class_weight, "train_on_batch")
        xb, yb = self.on_device(self.as_input(x)), self.on_device(y)  # type: ignore[attr-defined]
        loss, y_pred = self.train_batch(xb, yb, None if weights is None else self.on_device(weights))  # type: ignore[attr-defined]
        tally = _trainer.Tally(self.metrics)
        tally.add(loss, 1, y_pred, yb)
        logs = tally.logs()
        return logs if return_dict else list(logs.values())

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """``evaluate`` on one batch, as one batch: the loss, ``[loss, *metrics]`` or a dict."""
        n = len(_trainer.as_batch(_first_array(x), "test_on_batch"))
        return self.evaluate(
            x, y, batch_size=n, verbose=0, sample_weight=sample_weight, return_dict=return_dict
        )

    def predict_on_batch(self, x):
        """``predict`` on one batch, as one batch."""
        n = len(_trainer.as_batch(_first_array(x), "predict_on_batch"))
        return self.predict(x, batch_size=n, verbose=0)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ Keras's steps
    def _override(self, step: str):
        """The subclass's ``step`` method (bound) when it overrides the door's, else None;
        refused when it calls another framework's autograd."""
        if getattr(type(self), step) is getattr(KerasFit, step):
            return None
        method = getattr(self, step)
        names = foreign_names(method)
        if names:
            from .missing import KerasFeatureMissing

            raise KerasFeatureMissing(
                f"{type(self).__name__}.{step} (an override) uses {', '.join(names)}: another "
                "framework's autograd sees no graph in minidl_keras, whose layers compute with "
                "NumPy and differentiate with their own backward, so that step would not train "
                f"(or would train wrong). {MINIDL_WAY[0].upper()}{MINIDL_WAY[1:]}"
            )
        return method

    def _run_step(self, step: str, method, data):
        """Call the override ``method`` on ``data``; an ``AttributeError`` or ``TypeError``
        inside it is raised again with its name and the minidl way (a tensor's ``.backward()``
        or ``.grad`` is another framework's autograd)."""
        pairs = self.metrics  # type: ignore[has-type]
        self.metrics = self._step_metrics()  # Keras's objects while the step runs (``_StepMetric``)
        try:
            return method(data)
        except (AttributeError, TypeError) as err:
            raise type(err)(
                f"{err} -- raised inside {type(self).__name__}.{step} (an override called by "
                f"minidl_keras). If the step uses another framework's autograd (loss.backward() on "
                f"a tensor, v.value.grad, tape.gradient), that is not here: {MINIDL_WAY}"
            ) from err
        finally:
            self.metrics = pairs

    def _step_metrics(self) -> list:
        """What ``self.metrics`` is inside a step override, as in Keras: a loss tracker
        (``keras.metrics.Mean(name="loss")``) and ``"compile_metrics"``, whose
        ``update_state(y, y_pred)`` feeds the compiled metrics and whose ``result()`` is their
        dict; both start afresh with each epoch and each ``evaluate``."""
        made = self.__dict__.get("_step_metric_objects")
        if made is None:
            made = self.__dict__["_step_metric_objects"] = [_LossTracker(), _CompileMetrics(self)]
        return list(made)

    def require_compiled(self, what: str) -> None:
        """``Trainer``'s check, which a step override that computes its own losses (keras.io's
        GAN: ``super().compile()`` with no loss, two optimizers of its own) does not need."""
        step = {"fit": "train_step", "train_on_batch": "train_step", "evaluate": "test_step"}.get(what)
        if step is not None and self._override(step) is not None:
            return
        if self.loss is None:  # type: ignore[attr-defined]
            raise RuntimeError(
                f"{what} needs a loss: compile(optimizer=..., loss=...), or override train_step "
                "(and test_step) to compute the losses yourself"
            )
        super().require_compiled(what)  # type: ignore[misc]

    def _running_logs(self) -> _Running:
        running = self.__dict__.get("_running")
        if running is None:
            running = self.__dict__["_running"] = _Running(self.metrics)
        return running

    def _reset_running(self) -> None:
        self.__dict__["_running"] = _Running(self.metrics)
        self.__dict__["_step_metric_objects"] = None

    def _step_data(self, x, y, weights):
        """What a step receives: ``(x, y)`` or ``(x, y, sample_weight)``, several inputs or
        outputs as lists of arrays."""
        unpack = lambda a: list(a.arrays) if hasattr(a, "arrays") else a  # noqa: E731
        data = (unpack(x), unpack(y))
        return data if weights is None else (*data, weights)

    def train_epoch(self, loader, epoch, callbacks, class_weight=None) -> dict:
        """``Trainer``'s epoch, or one that calls the subclass's ``train_step`` per batch (its
        returned logs are the batch's; the last batch's are the epoch's, as in Keras)."""
        method = self._override("train_step")
        if method is None:
            return super().train_epoch(loader, epoch, callbacks, class_weight)  # type: ignore[misc]
        self._reset_running()
        logs: dict = {}
        for batch, (xb, yb, *wb) in enumerate(loader):
            for cb in callbacks:
                cb.on_train_batch_begin(batch, {})
            xb = self.on_device(self.as_input(xb))  # type: ignore[attr-defined]
            if isinstance(yb, _NoTargets):  # fit(x) without y: the step gets x alone
                data = list(xb.arrays) if hasattr(xb, "arrays") else xb
            else:
                weights = _trainer.per_sample_weights(yb, wb[0] if wb else None, class_weight, "fit")
                yb = self.on_device(yb)  # type: ignore[attr-defined]
                if weights is not None:
                    weights = self.on_device(weights)  # type: ignore[attr-defined]
                data = self._step_data(xb, yb, weights)
            before = _optimizer_steps(self)
            logs = _as_logs(self._run_step("train_step", method, data), "train_step")
            if batch == 0 and _optimizer_steps(self) == before and self.trainable_weights:  # type: ignore[attr-defined]
                warnings.warn(
                    f"{type(self).__name__}.train_step ran without an optimizer step: no weight "
                    f"changed. {MINIDL_WAY[0].upper()}{MINIDL_WAY[1:]}",
                    UserWarning,
                    stacklevel=4,
                )
            loss = logs.get("loss")
            if isinstance(loss, float) and not math.isfinite(loss):
                raise _trainer.NonFiniteLossError(
                    f"the loss became {loss} at epoch {epoch + 1}, batch {batch + 1} "
                    f"({type(self).__name__}.train_step); training stopped. The History so far is "
                    "in model.history.",
                    self.history,  # type: ignore[attr-defined]
                )
            for cb in callbacks:
                cb.on_train_batch_end(batch, dict(logs))
        return logs

    def evaluate_batches(self, data, batch_size: int, callbacks=()) -> dict:
        """``Trainer``'s evaluation, or one that calls the subclass's ``test_step`` per batch;
        inside ``fit``, with its ``validation_batch_size`` and only on the epochs its
        ``validation_freq`` names (else no logs: no ``val_*`` entry that epoch)."""
        plan = self.__dict__.get("_validation_plan")
        if plan is not None:
            validation_batch_size, every = plan
            if (int(getattr(self, "epochs_completed", 0)) + 1) % every:
                return {}
            batch_size = validation_batch_size or batch_size
        return self._evaluate_batches(data, batch_size, callbacks)

    def _evaluate_batches(self, data, batch_size: int, callbacks=()) -> dict:
        method = self._override("test_step")
        if method is None:
            return super().evaluate_batches(data, batch_size, callbacks)  # type: ignore[misc]
        if not isinstance(data, (tuple, list)):  # a source of batches
            batches = data
        else:
            x, y, *w = data
            x, y = _trainer.check_xy(x, y, "evaluate", self.sample_shape())  # type: ignore[attr-defined]
            w = _trainer.per_sample_weights(y, w[0] if w else None, None, "evaluate")
            batches = DataLoader(x, y, batch_size=batch_size, sample_weight=w)
        self._reset_running()
        logs: dict = {}
        for batch, (xb, yb, *wb) in enumerate(batches):
            for cb in callbacks:
                cb.on_test_batch_begin(batch, {})
            xb, yb = self.on_device(self.as_input(xb)), self.on_device(yb)  # type: ignore[attr-defined]
            weights = self.on_device(np.asarray(wb[0])) if wb else None  # type: ignore[attr-defined]
            logs = _as_logs(
                self._run_step("test_step", method, self._step_data(xb, yb, weights)), "test_step"
            )
            for cb in callbacks:
                cb.on_test_batch_end(batch, dict(logs))
        return logs

    def _predict_source(self, source, steps, callbacks):
        """``predict`` over a source of batches (a ``PyDataset``, a ``Sequence``, a generator):
        one batch at a time, ``len(source)`` batches (at most ``steps``), never the whole
        source at once. A batch is ``x`` or a tuple whose first entry is ``x``."""
        method = self._override("predict_step")
        callbacks = _trainer.with_model(callbacks, self)
        if hasattr(source, "__getitem__") and hasattr(source, "__len__"):
            count = len(source) if steps is None else min(int(steps), len(source))
            batches = (source[i] for i in range(count))
        else:
            iterator = iter(source)
            batches = (next(iterator) for _ in range(int(steps))) if steps is not None else iterator
        for cb in callbacks:
            cb.on_predict_begin()
        chunks: list = []
        for batch, data in enumerate(batches):
            for cb in callbacks:
                cb.on_predict_batch_begin(batch, {})
            x = data[0] if isinstance(data, tuple) else data
            if method is not None:
                out = self._run_step("predict_step", method, (x,))
            else:
                out = self.predict_step((x,))
            chunks.append(out)
            for cb in callbacks:
                cb.on_predict_batch_end(batch, {"outputs": out})
        for cb in callbacks:
            cb.on_predict_end()
        if not chunks:
            raise ValueError(f"predict: {type(source).__name__} gave no batches")
        return _join(chunks)

    def _predict_batches(self, arrays, batch_size, steps, callbacks, run) -> list:
        """The outputs of ``run(x)`` for each batch ``x`` of ``arrays`` (the inputs, one array per
        model input, all of length n), batch by batch, with the predict callbacks around each;
        at most ``steps`` batches. ``x`` is one array, or a list for several inputs."""
        n = len(arrays[0])
        size = 32 if batch_size is None else batch_size
        callbacks = _trainer.with_model(callbacks, self)
        for cb in callbacks:
            cb.on_predict_begin()
        chunks: list = []
        for batch, start in enumerate(range(0, n, size)):
            if steps is not None and batch == steps:
                break
            for cb in callbacks:
                cb.on_predict_batch_begin(batch, {})
            part = [a[start : start + size] for a in arrays]
            chunks.append(run(part if len(part) > 1 else part[0]))
            for cb in callbacks:
                cb.on_predict_batch_end(batch, {"outputs": chunks[-1]})
        for cb in callbacks:
            cb.on_predict_end()
        return chunks

    def _predict_by_step(self, method, arrays, batch_size, steps, callbacks):
        """``predict`` through the subclass's ``predict_step``, batch by batch: its outputs (an
        array, a list or a dict of arrays) joined along the batch axis."""
        chunks = self._predict_batches(
            arrays, batch_size, steps, callbacks, lambda x: self._run_step("predict_step", method, (x,))
        )
        return _join(chunks)

    def train_step(self, data):
        """Keras's ``train_step``: one gradient step on ``data`` = ``(x, y)`` or ``(x, y,
        sample_weight)``; returns the logs so far this epoch (``{"loss": .., metric: ..}``).
        The door's own (``Trainer``'s step); a subclass may override it and call it with
        ``super().train_step(data)``."""
        self.require_compiled("train_step")
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        x = self.on_device(self.as_input(self._pack(x)))  # type: ignore[attr-defined]
        y = self.on_device(self._pack_y(y))  # type: ignore[attr-defined]
        loss, y_pred = self.train_batch(x, y, sample_weight)  # type: ignore[attr-defined]
        running = self._running_logs()
        running.add_loss(loss, len(_first_array(y_pred)))
        running.update(y_pred, y)
        return running.logs()

    def test_step(self, data):
        """Keras's ``test_step``: the loss and metrics of ``data`` in inference mode, added to
        this ``evaluate``'s running logs, which it returns."""
        self.require_compiled("test_step")
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self.forward(self.on_device(self.as_input(self._pack(x))), training=False)  # type: ignore[attr-defined]
        self.compute_loss(x, y, y_pred, sample_weight, training=False)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """Keras's ``predict_step``: the model's outputs for ``data`` = ``(x,)`` in inference
        mode (an array, or a list of arrays for several outputs)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        y = self.forward(self.on_device(self.as_input(self._pack(x))), training=False)  # type: ignore[attr-defined]
        return [backend.to_numpy(a) for a in y] if isinstance(y, list) else backend.to_numpy(y)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras's ``compute_loss``: the compiled loss of ``y_pred`` against ``y`` plus the
        weight penalties, a float; afterwards ``self.loss.backward()`` is ``dL/dy_pred`` (what
        ``self.backward`` takes). Where Keras's step adds the loss to its loss tracker after
        calling this, the door's adds it here: the ``"loss"`` of ``compute_metrics``."""
        self.require_compiled("compute_loss")
        y = self.on_device(self._pack_y(y))  # type: ignore[attr-defined]
        if sample_weight is not None:
            sample_weight = self.on_device(np.asarray(sample_weight))  # type: ignore[attr-defined]
        loss = self.loss(y_pred, y, sample_weight=sample_weight) + self.regularization_loss()  # type: ignore[attr-defined]
        self._running_logs().add_loss(loss, len(_first_array(y_pred)))
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Keras's ``compute_metrics``: the compiled metrics updated with this batch; returns
        the logs so far (the running loss of ``compute_loss`` and each metric)."""
        running = self._running_logs()
        running.update(y_pred, self.on_device(self._pack_y(y)))  # type: ignore[attr-defined]
        return running.logs()

    def reset_metrics(self) -> None:
        """Keras's ``reset_metrics``: ``fit``'s epochs, ``evaluate`` and ``train_on_batch``
        each start their metrics afresh; this resets the running logs a step override reads."""
        self._reset_running()

    @property
    def losses(self) -> list:
        """Keras's ``model.losses``: the penalties of the weight and activity regularizers, one
        float per layer that has any (``[]`` without regularizers); their sum joins ``fit``'s loss."""
        leaves = self.leaf_layers() if hasattr(self, "leaf_layers") else list(getattr(self, "layers", []))
        penalties = [
            float(leaf.regularization_loss()) for leaf in leaves if hasattr(leaf, "regularization_loss")
        ]
        return [p for p in penalties if p != 0.0]

    @property
    def run_eagerly(self) -> bool:
        """Keras's ``run_eagerly``: the door always runs step by step in Python (True); setting
        it (or ``compile(run_eagerly=...)``) changes nothing."""
        return True

    @run_eagerly.setter
    def run_eagerly(self, value) -> None:
        pass

    @property
    def metrics_names(self) -> list:
        """Keras 3's: ``["loss"]``, ``"compile_metrics"`` when ``compile`` was given metrics
        (their results are the logs' other keys, in ``evaluate``'s order), then each output's
        ``"<output>_loss"`` of a model of several outputs."""
        outputs = list(getattr(self, "output_names", None) or [])
        per_output = {f"{name}_loss" for name in outputs} if len(outputs) > 1 else set()
        names = [name for name, _ in self.metrics]
        compiled = ["compile_metrics"] if any(name not in per_output for name in names) else []
        return ["loss"] + compiled + [name for name in names if name in per_output]

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at ``index`` of ``layers``)."""
        layers = self.layers  # type: ignore[attr-defined]
        if index is not None:
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        raise ValueError(
            f"no layer named {name!r}; the layers are {[getattr(x, 'name', None) for x in layers]}"
        )


def _steps_per_epoch(x, batch_size, validation_split, steps_per_epoch):
    """The batches of one epoch of ``fit`` (Keras's ``params["steps"]``; None while unknown)."""
    if steps_per_epoch is not None:
        return int(steps_per_epoch)
    if yields_batches(x):
        return len(x) if hasattr(x, "__len__") else None
    first = _first_array(x)
    if first is None or not hasattr(first, "__len__"):
        return None
    n = len(first)
    if validation_split:
        n = int(n * (1.0 - validation_split))
    return math.ceil(n / (32 if batch_size is None else batch_size))


def _join(chunks):
    """Per-batch outputs (arrays, lists or dicts of arrays) joined along the batch axis."""
    first = chunks[0]
    if isinstance(first, dict):
        return {k: _join([c[k] for c in chunks]) for k in first}
    if isinstance(first, (list, tuple)):
        return [_join([c[i] for c in chunks]) for i in range(len(first))]
    return np.concatenate(
        [backend.to_numpy(np.asarray(c) if not hasattr(c, "shape") else c) for c in chunks], axis=0
    )


def _terminated_on_nan(error, callbacks):
    """A NaN or infinite loss stops minidl's ``fit`` with an error; a callback that takes it
    (``on_nonfinite_loss(batch, loss)``: Keras's ``TerminateOnNaN``) decides instead: it raises,
    or training stops there and ``fit`` returns the History of the epochs before."""
    import re

    watcher = next((cb for cb in callbacks or [] if hasattr(cb, "on_nonfinite_loss")), None)
    if watcher is None:
        raise error
    found = re.search(r"the loss became (\S+) at epoch \d+, batch (\d+)", str(error))
    loss, batch = (found.group(1), int(found.group(2)) - 1) if found else ("nan", 0)
    watcher.on_nonfinite_loss(batch, loss)
    return error.history
