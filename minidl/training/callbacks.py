"""Callbacks: code that ``fit`` calls at the start and end of training, epochs and batches.

    History                  records every epoch's logs; ``fit`` returns it
    EarlyStopping            stops when a monitored value stops improving
    LearningRateScheduler    sets the optimizer's learning rate at the start of each epoch
    ProgressBar, EpochLogger what ``verbose=1`` and ``verbose=2`` show

A callback sees the model as ``self.model`` and can stop training by setting
``self.model.stop_training = True``. A callback that watches a logged value reads it with
``improvement_sign`` and ``monitored`` (``EarlyStopping``; a library's checkpoint callback).
"""

from __future__ import annotations

import inspect
import math
import sys
import time
from typing import IO, Any

import numpy as np


class Callback:
    """Base class: override any of the ``on_*`` hooks.

    ``fit`` calls the ``on_train_*``, ``on_epoch_*`` and ``on_train_batch_*`` hooks, and the
    ``on_test_*`` ones while it validates; ``evaluate(callbacks=...)`` calls ``on_test_*``,
    ``predict(callbacks=...)`` ``on_predict_*``. Per batch, ``Trainer.train_epoch`` calls
    ``on_train_batch_begin(batch, {})`` and ``on_train_batch_end(batch, logs)``, ``logs`` the
    epoch's running means so far (``{"loss": .., metric: ..}``); a subclass's epoch does the same.
    """

    # The Sequential that ``fit`` trains, set (by ``set_model``) before the first hook runs. Any:
    # naming its class here would import the model module, which imports this one.
    model: Any

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch: int, logs=None): ...
    def on_epoch_end(self, epoch: int, logs=None): ...
    def on_train_batch_begin(self, batch: int, logs=None): ...
    def on_train_batch_end(self, batch: int, logs=None): ...

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch: int, logs=None): ...
    def on_test_batch_end(self, batch: int, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch: int, logs=None): ...
    def on_predict_batch_end(self, batch: int, logs=None): ...


class History(Callback):
    """``history.history`` maps each logged name to a list with one value per epoch:
    ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...]}``."""

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def improvement_sign(monitor: str, mode: str) -> int:
    """+1 if larger is better for ``monitor``, -1 if smaller is better (``mode="auto"``: larger
    for an accuracy or an AUC)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return 1 if mode == "max" else -1


def monitored(monitor: str, logs: dict, who: str) -> float:
    """The value of ``monitor`` in an epoch's ``logs``, else an error naming ``who`` and the logs."""
    if monitor not in logs:
        raise ValueError(
            f"{who} monitors {monitor!r}, which is not in the logs {sorted(logs)}; "
            "pass validation_data (or validation_split) to fit, or choose another monitor"
        )
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs.

    Counted this way: ``wait`` is the number of epochs since the last improvement, and
    training stops at the end of the epoch where ``wait >= patience``. With ``patience=2`` and
    the best value at epoch 0, epochs 1 and 2 do not improve and training stops after epoch 2;
    ``patience=0`` stops at the first epoch that does not improve.

    With ``restore_best_weights=True`` the weights of the best epoch are put back when
    training ends **for any reason** -- an early stop, the last epoch, or an error -- so the
    model you get is always the best one seen.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        verbose: int = 0,
    ):
        self.monitor, self.min_delta, self.patience = monitor, abs(float(min_delta)), int(patience)
        self.sign = improvement_sign(monitor, mode)
        self.restore_best_weights, self.verbose = restore_best_weights, verbose

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.best: float | None = None
        self.best_epoch: int = -1
        self.best_weights: list[np.ndarray] | None = None
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = monitored(self.monitor, logs or {}, "EarlyStopping")
        if self.best is None or self.sign * (value - self.best) > self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = [np.array(w, copy=True) for w in self.model.get_weights()]
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                print(
                    f"EarlyStopping: no improvement in {self.monitor} for {self.wait} epochs; "
                    f"stopped after epoch {epoch + 1} (best {self.best:.4f} at epoch {self.best_epoch + 1})"
                )

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            if self.verbose:
                print(f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1}")


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule``.

    ``schedule(epoch)`` or ``schedule(epoch, lr)`` returns the new rate;
    the schedules in ``minidl.nn.optim`` (``StepDecay``, ``ExponentialEpochDecay``,
    ``CosineEpochDecay``) fit. The rate used is logged as ``"lr"``.
    """

    def __init__(self, schedule, verbose: int = 0):
        self.schedule, self.verbose = schedule, verbose
        self._takes_lr = len(inspect.signature(schedule).parameters) >= 2

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = self.schedule(epoch, optimizer.lr) if self._takes_lr else self.schedule(epoch)
        if not (isinstance(lr, (int, float, np.floating)) and math.isfinite(lr) and lr > 0):
            raise ValueError(
                f"LearningRateScheduler: schedule returned {lr!r} for epoch {epoch}; "
                "expected a positive float"
            )
        optimizer.lr = float(lr)
        if logs is not None:
            logs["lr"] = optimizer.lr
        if self.verbose:
            print(f"epoch {epoch + 1}: learning rate {lr:.3g}")


def format_logs(logs: dict) -> str:
    """``loss: 0.4321 - accuracy: 0.8750``: logs as a progress line and ``evaluate(verbose=1)`` print them."""
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def _duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: a duration as a progress line shows it."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _in_jupyter() -> bool:
    """Whether the code runs in a Jupyter kernel (Lab, Notebook, nbval, nbconvert)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class ProgressBar(Callback):
    """``verbose=1``: one line per epoch that moves with every batch::

        Epoch 2/5  12/20 [############--------] loss: 0.4321 - accuracy: 0.8750 - 3s left

    and, when the epoch ends, its time and the epoch's logs (validation included)::

        Epoch 2/5  20/20 [####################] loss: 0.4012 - accuracy: 0.8812 - 7s (350 ms/batch)

    Plain text, no widget: in a Jupyter kernel (Lab, Notebook) the line is a display that is
    updated in place; in a terminal it is rewritten with ``\\r``; written to anything else (a
    file, a pipe, captured output) only the finished line of each epoch is printed. ``mode``
    forces one of ``"jupyter"``, ``"terminal"``, ``"lines"``. Redrawn at most every
    ``interval`` seconds (and always at an epoch's first and last batch), so printing never
    slows training down. ``steps``: the batches in an epoch (None when the data does not say:
    the count then goes without a total).
    """

    def __init__(
        self,
        epochs: int,
        steps: int | None,
        width: int = 20,
        interval: float = 0.2,
        mode: str = "auto",
        stream: IO[str] | None = None,
    ):
        if mode not in ("auto", "jupyter", "terminal", "lines"):
            raise ValueError(f"mode must be 'auto', 'jupyter', 'terminal' or 'lines', got {mode!r}")
        self.epochs, self.steps, self.width, self.interval = epochs, steps, width, interval
        self.mode, self.stream = mode, stream
        self.done = 0  # batches finished in the current epoch
        self._handle: Any = None  # the Jupyter display being updated
        self._open = False  # a terminal line written with \r and not yet ended

    def _out(self) -> IO[str]:
        return self.stream if self.stream is not None else sys.stdout

    def on_train_begin(self, logs=None):
        if self.mode == "auto":
            isatty = getattr(self._out(), "isatty", lambda: False)
            self.mode = "jupyter" if _in_jupyter() else "terminal" if isatty() else "lines"

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.done, self._handle = epoch, 0, None
        self._start = self._last_draw = time.perf_counter()
        self._draw(self.line({}), final=False)

    def line(self, logs: dict, finished: bool = False) -> str:
        """The progress line after ``self.done`` batches, with ``logs``."""
        count = f"{self.done}/{self.steps}" if self.steps else f"{self.done}"
        head = f"Epoch {self.epoch + 1}/{self.epochs}  {count}"
        if self.steps:
            filled = min(self.width, self.width * self.done // self.steps)
            head += f" [{'#' * filled}{'-' * (self.width - filled)}]"
        parts = [format_logs(logs)] if logs else []
        elapsed = time.perf_counter() - self._start
        if finished:
            each = elapsed / max(self.done, 1)
            per_batch = f" ({each * 1000:.0f} ms/batch)" if each < 1 else f" ({each:.1f} s/batch)"
            parts.append(f"{_duration(elapsed)}{per_batch}")
        elif self.steps and self.done:
            parts.append(f"{_duration(elapsed / self.done * (self.steps - self.done))} left")
        return " ".join([head, " - ".join(parts)]) if parts else head

    def on_train_batch_end(self, batch, logs=None):
        self.done = batch + 1
        now = time.perf_counter()
        if self.done == 1 or self.done == self.steps or now - self._last_draw >= self.interval:
            self._last_draw = now
            self._draw(self.line(logs or {}), final=False)

    def on_epoch_end(self, epoch, logs=None):
        self._draw(self.line(logs or {}, finished=True), final=True)

    def on_train_end(self, logs=None):
        if self._open:  # stopped mid-epoch (an error, an interrupt): end the line
            self._out().write("\n")
            self._open = False

    def _draw(self, text: str, final: bool) -> None:
        if self.mode == "jupyter":
            from IPython.display import display

            bundle = {"text/plain": text}
            if self._handle is None:
                self._handle = display(bundle, raw=True, display_id=True)
            else:
                self._handle.update(bundle, raw=True)
        elif self.mode == "terminal":
            out = self._out()
            out.write(f"\r{text}\x1b[K" + ("\n" if final else ""))
            out.flush()
            self._open = not final
        elif final:
            print(text, file=self._out(), flush=True)


class EpochLogger(Callback):
    """``verbose=2``: one line per epoch."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        print(f"Epoch {epoch + 1}/{self.epochs} - {format_logs(logs or {})}")
