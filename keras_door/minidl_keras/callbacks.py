"""``keras.callbacks``: minidl's callbacks, which have Keras's names and arguments.

``Callback`` adds Keras's older hook names: ``on_batch_begin``/``on_batch_end`` are
``on_train_batch_begin``/``on_train_batch_end`` (overriding either works).

``ModelCheckpoint`` writes minidl's model file (an ``.npz`` archive, whatever the name:
``"best.keras"`` works) and ``load_model`` reads it back. It and ``CSVLogger`` are the door's
own (no chapter uses them), written on minidl's ``Callback``, ``improvement_sign`` and
``monitored``.
"""

import csv
import math
import os
import warnings
from typing import IO

from minidl.training import callbacks as _callbacks
from minidl.training.callbacks import History, improvement_sign, monitored
from minidl.training.callbacks import LearningRateScheduler as _MinidlScheduler

from .missing import KerasFeatureMissing

__all__ = [
    "Callback",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "CSVLogger",
    "ReduceLROnPlateau",
    "LambdaCallback",
    "TerminateOnNaN",
]


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.callbacks.{name} is not in minidl_keras; its callbacks are "
        f"{', '.join(__all__)} (a Callback subclass can do the rest: it sees "
        "self.model, and on_epoch_end receives the logs)"
    )


class Callback(_callbacks.Callback):
    """minidl's ``Callback`` with Keras's older names of the training-batch hooks and Keras's
    ``params`` (``{"verbose", "epochs", "steps"}`` of the ``fit`` that runs it; ``{}`` before)."""

    @property
    def params(self) -> dict:
        return self.__dict__.get("_params", {})

    @params.setter
    def params(self, value: dict) -> None:
        self.__dict__["_params"] = dict(value)

    def set_params(self, params: dict) -> None:
        """Keras's hook: ``fit`` hands each callback its ``params`` before training."""
        self.params = params

    def on_batch_begin(self, batch: int, logs=None): ...
    def on_batch_end(self, batch: int, logs=None): ...

    def on_train_batch_begin(self, batch: int, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs=None):
        self.on_batch_end(batch, logs)


class LearningRateScheduler(_MinidlScheduler):
    """minidl's ``LearningRateScheduler`` (``schedule(epoch)`` or ``schedule(epoch, lr)`` sets
    the rate at the start of each epoch), logging the rate as Keras 3 does: once, as
    ``"learning_rate"``, at the end of the epoch (minidl's own logs ``"lr"``)."""

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, None)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.lr)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more than
    ``min_delta`` for ``patience`` epochs (Keras 3's rule): then wait ``cooldown`` epochs before
    counting again; never below ``min_lr``. The rate is logged as ``"learning_rate"``."""

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau factor must be < 1, got {factor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"ReduceLROnPlateau mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.factor, self.patience, self.verbose = (
            monitor,
            float(factor),
            int(patience),
            verbose,
        )
        self.min_delta, self.cooldown, self.min_lr = float(min_delta), int(cooldown), float(min_lr)
        self.maximize = mode == "max" or (mode == "auto" and ("acc" in monitor or "auc" in monitor))
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.best = -math.inf if self.maximize else math.inf
        self.wait = self.cooldown_counter = 0

    def _improved(self, current) -> bool:
        if self.maximize:
            return current > self.best + self.min_delta
        return current < self.best - self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = optimizer.lr
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"ReduceLROnPlateau monitors {self.monitor!r}, which is not in the logs "
                f"({', '.join(sorted(logs))})",
                UserWarning,
                stacklevel=2,
            )
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and optimizer.lr > self.min_lr:
                optimizer.lr = max(optimizer.lr * self.factor, self.min_lr)
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {optimizer.lr}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class LambdaCallback(Callback):
    """Keras's ``LambdaCallback``: each hook given as a function (``on_epoch_end=lambda epoch,
    logs: ...``); the others do nothing. Keras's argument names: ``on_train_begin(logs)``,
    ``on_epoch_begin(epoch, logs)``, ``on_train_batch_end(batch, logs)``, ..."""

    HOOKS = (
        "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
        "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
        "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
        "on_predict_batch_begin", "on_predict_batch_end",
    )  # fmt: skip

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):  # fmt: skip
        given = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
            **kwargs,
        )
        for hook, fn in given.items():
            if hook not in self.HOOKS:
                raise TypeError(f"LambdaCallback got an unexpected keyword argument {hook!r}")
            if fn is not None:
                setattr(self, hook, fn)


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite (Keras's ``TerminateOnNaN``); with
    ``raise_error=True`` raise a ``RuntimeError`` there instead, as Keras does (the other
    callbacks' ``on_train_end`` then does not run)."""

    def __init__(self, raise_error: bool = False):
        self.raise_error = bool(raise_error)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.on_nonfinite_loss(batch, loss)
            self.model.stop_training = True

    def on_nonfinite_loss(self, batch: int, loss) -> None:
        """``fit`` hands this callback the batch whose loss is not finite (instead of stopping
        with its own error): a ``RuntimeError`` in Keras's words, or Keras's line, after which
        training stops."""
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training")


class EarlyStopping(_callbacks.EarlyStopping):
    """minidl's ``EarlyStopping`` with Keras's signature and its ``baseline`` and
    ``start_from_epoch``: epochs before ``start_from_epoch`` are not watched; with a
    ``baseline``, an epoch that improves on the best but not on the baseline does not reset the
    count of epochs without improvement (Keras 3's rule, which then stops only at an epoch that
    does not improve on the best)."""

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, min_delta, patience, mode, restore_best_weights, verbose)
        self.baseline, self.start_from_epoch = baseline, int(start_from_epoch)

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        value = (logs or {}).get(self.monitor)
        if self.baseline is None or value is None:
            super().on_epoch_end(epoch, logs)  # minidl's rule (the same as Keras's without a baseline)
            return

        def improves(reference) -> bool:
            return reference is None or self.sign * (value - reference) > self.min_delta

        self.wait += 1
        if improves(self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = [w.copy() for w in self.model.get_weights()]
            if improves(self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True


class ModelCheckpoint(Callback):
    """Save the model after each epoch to ``filepath`` (may contain ``{epoch}`` and log
    names, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.keras"``); with ``save_best_only`` only
    when ``monitor`` improves, on ``initial_value_threshold`` too when one is given.

    Each file holds the optimizer's state and the random stream too (``include_optimizer``,
    as ``model.save``), so ``load_model(checkpoint)`` followed by ``fit`` resumes training
    exactly; every write is atomic (an interrupted save leaves the previous checkpoint).
    ``save_weights_only=True`` writes ``model.save_weights`` instead (read back with
    ``model.load_weights``). ``save_freq="epoch"`` (an integer, a save every so many batches,
    is refused)."""

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
        include_optimizer=True,
    ):
        if save_freq != "epoch":
            raise KerasFeatureMissing(
                f"keras.callbacks.ModelCheckpoint(save_freq={save_freq!r}) is not in minidl_keras: it "
                "saves at the end of each epoch (save_freq='epoch'); save every n batches from a "
                "Callback's on_train_batch_end with self.model.save(...)"
            )
        self.filepath, self.monitor, self.save_best_only = os.fspath(filepath), monitor, save_best_only
        self.include_optimizer, self.save_weights_only = include_optimizer, save_weights_only
        self.sign, self.verbose, self.save_freq = improvement_sign(monitor, mode), verbose, save_freq
        self.initial_value_threshold = self.best = initial_value_threshold

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = monitored(self.monitor, logs, "ModelCheckpoint")
            if self.best is not None and self.sign * (value - self.best) <= 0:
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path, include_optimizer=self.include_optimizer)
        if self.verbose:
            print(f"ModelCheckpoint: saved {path}")


class CSVLogger(Callback):
    """Write one CSV row per epoch (``epoch`` then the logs), flushed as it goes."""

    def __init__(self, filename, separator: str = ",", append: bool = False):
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.file: IO[str] | None = None
        self.writer: csv.DictWriter | None = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer, self.has_header = None, exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.file is None:
            raise RuntimeError("CSVLogger: on_epoch_end before on_train_begin (fit calls them in order)")
        if self.writer is None:
            self.writer = csv.DictWriter(
                self.file,
                fieldnames=["epoch"] + sorted(logs),
                delimiter=self.separator,
                extrasaction="ignore",
                restval="",
            )
            if not self.has_header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **logs})
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None
