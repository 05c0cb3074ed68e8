"""Metrics: numbers reported during training, not differentiated.

A metric is accumulated over the batches of an epoch (or of ``evaluate``) and read at the
end: a ``Metric`` object with ``reset()``, ``update(y_pred, y_true)`` after each batch and
``result()``. Most metrics are a function ``fn(y_pred, y_true) -> float`` that averages over
the samples of a batch (accuracy, mean errors): ``BatchMean`` accumulates
``sum_b n_b fn(batch b)`` and ``sum_b n_b``, whose ratio is the mean over every sample seen.
A metric that is not a mean over samples (precision, AUC, RMSE) keeps counts or sums of its
own and computes its result from them.

``"accuracy"`` means what fits the loss in use: argmax against integer
labels for sparse categorical cross-entropy, argmax against argmax for one-hot targets, and a
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


class Metric:
    """A number accumulated over batches: ``reset()``, ``update(y_pred, y_true)`` per batch,
    ``result()`` -> float at any point (of the batches since ``reset``)."""

    name = "metric"

    def reset(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define reset()")

    def update(self, y_pred, y_true) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update(y_pred, y_true)")

    def result(self) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define result()")


class BatchMean(Metric):
    """A per-batch mean ``fn(y_pred, y_true) -> float`` as a metric over many batches:

        result = sum_b n_b fn(batch b) / sum_b n_b        (n_b: the samples of batch b)

    the mean over every sample seen when ``fn`` is a mean over the samples of its batch."""

    def __init__(self, fn, name: str | None = None):
        self.fn = fn
        self.name: str = name if name is not None else str(getattr(fn, "__name__", "metric"))
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, y_pred, y_true) -> None:
        n = len(y_true)
        self.total += float(self.fn(y_pred, y_true)) * n
        self.count += n

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class Feeding(Metric):
    """A metric that feeds another, ``inner``, what its ``update`` chooses (one output of
    several, the real steps of a padded sequence); ``reset`` and ``result`` are the inner one's."""

    def __init__(self, metric):
        self.inner = accumulator(metric)
        self.name = self.inner.name

    def reset(self) -> None:
        self.inner.reset()

    def result(self) -> float:
        return self.inner.result()


def accumulator(metric) -> Metric:
    """``metric`` (a ``Metric``, or a per-batch function) as a ``Metric`` to feed one pass over
    the data: a ``Metric`` itself, a function wrapped in a ``BatchMean``."""
    return metric if isinstance(metric, Metric) else BatchMean(metric)


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
    """``(display_name, metric)`` for a metric name, a ``Metric`` or a function ``fn(y_pred, y_true)``;
    ``"accuracy"``/``"acc"`` follow ``loss``."""
    if isinstance(name, Metric):
        return name.name, name
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
