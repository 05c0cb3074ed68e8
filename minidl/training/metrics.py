"""Metrics: numbers reported during training, not differentiated.

Each metric is ``fn(y_pred, y_true) -> float`` averaged over the batch. ``"accuracy"``
means what Keras makes it mean for the loss in use: argmax against integer labels for
sparse categorical cross-entropy, argmax against argmax for one-hot targets, and a
threshold for binary outputs (0.5 on probabilities, 0 on logits).
"""

import numpy as np

from .. import backend


def sparse_categorical_accuracy(y_pred, y_true) -> float:
    """Fraction of samples whose highest score is the integer label: (..., K) vs (...)."""
    labels = np.asarray(backend.to_numpy(y_true)).reshape(np.shape(y_pred)[:-1])
    return float((backend.to_numpy(y_pred).argmax(axis=-1) == labels).mean())


def categorical_accuracy(y_pred, y_true) -> float:
    """Fraction of samples whose highest score matches the one-hot target's: (..., K) vs (..., K)."""
    y_pred, y_true = backend.to_numpy(y_pred), np.asarray(backend.to_numpy(y_true))
    return float((y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).mean())


def binary_accuracy(y_pred, y_true, threshold: float = 0.5) -> float:
    """Fraction of outputs on the right side of ``threshold``."""
    y_pred, y_true = backend.to_numpy(y_pred), np.asarray(backend.to_numpy(y_true))
    return float(((y_pred > threshold) == (y_true.reshape(y_pred.shape) > 0.5)).mean())


def mean_absolute_error(y_pred, y_true) -> float:
    y_pred, y_true = backend.to_numpy(y_pred), np.asarray(backend.to_numpy(y_true))
    return float(np.abs(y_pred - y_true.reshape(y_pred.shape)).mean())


def mean_squared_error(y_pred, y_true) -> float:
    y_pred, y_true = backend.to_numpy(y_pred), np.asarray(backend.to_numpy(y_true))
    return float(((y_pred - y_true.reshape(y_pred.shape)) ** 2).mean())


METRICS = {
    f.__name__: f
    for f in (
        sparse_categorical_accuracy,
        categorical_accuracy,
        binary_accuracy,
        mean_absolute_error,
        mean_squared_error,
    )
}
METRICS.update(mae=mean_absolute_error, mse=mean_squared_error)


def get(name, loss=None):
    """``(display_name, fn)`` for a metric name or callable; ``"accuracy"``/``"acc"`` follow ``loss``."""
    if callable(name):
        return getattr(name, "__name__", "metric"), name
    if name in ("accuracy", "acc"):
        kind = getattr(loss, "accuracy", None)
        if kind is None:
            raise ValueError(
                f"'accuracy' is not defined for the loss {type(loss).__name__}; "
                "use 'mae' or 'mse' for regression"
            )
        fn = METRICS[kind]
        if kind == "binary_accuracy" and getattr(loss, "from_logits", False):
            return "accuracy", lambda y_pred, y_true: binary_accuracy(y_pred, y_true, threshold=0.0)
        return "accuracy", fn
    if name in METRICS:
        return name, METRICS[name]
    raise ValueError(f"unknown metric {name!r}; expected 'accuracy' or one of {sorted(METRICS)}")
