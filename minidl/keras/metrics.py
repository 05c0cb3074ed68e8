"""``keras.metrics``: Keras's metric classes as minidl's metric functions.

``compile(metrics=[keras.metrics.SparseCategoricalAccuracy()])`` logs
``"sparse_categorical_accuracy"`` as Keras does; the strings (``"accuracy"``, ``"mae"``,
...) work as well. Each call returns ``fn(y_pred, y_true) -> float`` averaged over the
batch (``minidl.training.metrics``); there are no stateful metric objects.
"""

from collections.abc import Callable
from typing import Any

from ..training import metrics as _metrics
from .missing import KerasFeatureMissing

__all__ = [
    "SparseCategoricalAccuracy",
    "CategoricalAccuracy",
    "BinaryAccuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
]


class _NamedMetric:
    """One of minidl's metric functions under a Keras name: ``metric(y_pred, y_true) -> float``."""

    minidl_metric = True  # called (y_pred, y_true), minidl's order, not a user's function

    def __init__(self, fn: Callable[[Any, Any], float], name: str):
        self.fn = fn
        self.__name__ = self.__qualname__ = name
        self.__doc__ = fn.__doc__

    def __call__(self, y_pred, y_true) -> float:
        return self.fn(y_pred, y_true)

    def __repr__(self) -> str:
        return f"<metric {self.__name__}>"


def _named(fn: Callable[[Any, Any], float], name: str) -> _NamedMetric:
    return _NamedMetric(fn, name)


def SparseCategoricalAccuracy(name: str = "sparse_categorical_accuracy"):
    """Argmax of the prediction against integer labels."""
    return _named(_metrics.sparse_categorical_accuracy, name)


def CategoricalAccuracy(name: str = "categorical_accuracy"):
    """Argmax of the prediction against the argmax of one-hot targets."""
    return _named(_metrics.categorical_accuracy, name)


def BinaryAccuracy(name: str = "binary_accuracy", threshold: float = 0.5):
    """Outputs on the right side of ``threshold`` (0.5 for probabilities)."""
    return _named(lambda y_pred, y_true: _metrics.binary_accuracy(y_pred, y_true, threshold), name)


def MeanAbsoluteError(name: str = "mean_absolute_error"):
    return _named(_metrics.mean_absolute_error, name)


def MeanSquaredError(name: str = "mean_squared_error"):
    return _named(_metrics.mean_squared_error, name)


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.metrics.{name} is not in minidl.keras; its metrics are "
        f"{', '.join(__all__)} (or a function fn(y_pred, y_true) -> float)"
    )
