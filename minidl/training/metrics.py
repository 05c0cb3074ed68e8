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


# --------------------------------------------------------------------------- scores of a binary test
# A classifier that outputs a score s per case (a logit or a probability) and a label y in
# {0, 1} (1: the finding is there). Prediction first, as in every minidl metric (scikit-learn's
# functions take the labels first).
def _binary(y_score, y_true, name):
    s = np.asarray(backend.to_numpy(y_score), dtype=np.float64).ravel()
    y = np.asarray(backend.to_numpy(y_true)).ravel()
    if s.shape != y.shape:
        raise ValueError(f"{name}: expected as many scores as labels, got {s.size} and {y.size}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name}: labels must be 0 or 1, got values {np.unique(y)[:5]}")
    if not np.isfinite(s).all():
        raise ValueError(f"{name}: scores must be finite")
    return s, y.astype(bool)


def sensitivity_specificity(y_score, y_true, threshold: float) -> tuple[float, float]:
    """(sensitivity, specificity) of the test "positive when score >= threshold":

        sensitivity = TP / (TP + FN)  (the fraction of the positives found; recall)
        specificity = TN / (TN + FP)  (the fraction of the negatives cleared)

    NaN for a class the labels do not hold."""
    s, y = _binary(y_score, y_true, "sensitivity_specificity")
    called = s >= threshold
    sensitivity = float(called[y].mean()) if y.any() else float("nan")
    specificity = float((~called[~y]).mean()) if (~y).any() else float("nan")
    return sensitivity, specificity


def roc_curve(y_score, y_true):
    """The ROC curve: ``(fpr, tpr, thresholds)``, one point per distinct score.

    Sort the scores in decreasing order; at each distinct score t, calling every case with
    score >= t positive gives ``tpr = TP / P`` (sensitivity) and ``fpr = FP / N``
    (1 - specificity). Tied scores are passed together (one step, diagonal if the tie holds
    both classes). The curve starts at (0, 0) with threshold ``inf`` and ends at (1, 1).
    Both classes must be present.
    """
    s, y = _binary(y_score, y_true, "roc_curve")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"roc_curve needs both classes, got {n_pos} positives and {n_neg} negatives")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # the end of each run of equal scores
    tp = np.cumsum(y)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos], np.r_[np.inf, s[last_of_tie]]


def auc(x, y) -> float:
    """The area under a curve through the points (x, y), x in increasing order: the trapezoid rule."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"auc expects two 1-D arrays of one length >= 2, got {x.shape} and {y.shape}")
    if np.any(np.diff(x) < 0):
        raise ValueError("auc expects x in increasing order")
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def roc_auc(y_score, y_true) -> float:
    """The area under the ROC curve: the probability that a random positive scores above a
    random negative, a tie counting one half (the Mann-Whitney U statistic over P N)."""
    fpr, tpr, _ = roc_curve(y_score, y_true)
    return auc(fpr, tpr)


def reliability_curve(y_prob, y_true, n_bins: int = 10):
    """Calibration: ``(mean_predicted, fraction_positive, count)`` per bin of probability.

    The bins split [0, 1] into ``n_bins`` equal widths (a probability of exactly 1 falls in
    the last); for each bin, the mean of the predicted probabilities and the fraction of
    positives among its cases. Empty bins give NaN and a count of 0. A calibrated model's
    points lie on the diagonal.
    """
    p, y = _binary(y_prob, y_true, "reliability_curve")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("reliability_curve expects probabilities in [0, 1] (apply the sigmoid to logits)")
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(bins, weights=p, minlength=n_bins) / count
        fraction_positive = np.bincount(bins, weights=y, minlength=n_bins) / count
    return mean_predicted, fraction_positive, count


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


def accumulator(metric) -> Metric:
    """``metric`` (a ``Metric``, or a per-batch function) as a ``Metric`` to feed one pass over
    the data: a ``Metric`` itself, a function wrapped in a ``BatchMean``."""
    return metric if isinstance(metric, Metric) else BatchMean(metric)


METRICS = {f.__name__: f for f in (sparse_categorical_accuracy, categorical_accuracy, binary_accuracy)}
METRICS.update(mean_absolute_error=mean_absolute_error, mae=mean_absolute_error)
METRICS.update(mean_squared_error=mean_squared_error, mse=mean_squared_error)


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
        if kind == "binary_accuracy" and getattr(loss, "from_logits", False):
            return "accuracy", lambda y_pred, y_true: binary_accuracy(y_pred, y_true, threshold=0.0)
        return "accuracy", METRICS[kind]
    if name in METRICS:
        return name, METRICS[name]
    raise ValueError(f"unknown metric {name!r}; expected 'accuracy' or one of {sorted(METRICS)}")
