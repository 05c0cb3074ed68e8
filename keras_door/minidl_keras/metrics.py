"""``keras.metrics``: Keras's metric objects, accumulated over an epoch.

Each is a ``Metric`` with Keras's API -- ``update_state(y_true, y_pred, sample_weight=None)``,
``result()``, ``reset_state()``, ``name``; calling it updates and returns the result -- and
minidl's (``minidl.training.metrics.Metric``: ``update(y_pred, y_true)``, ``result``, ``reset``),
which is what ``fit``/``evaluate`` feed batch by batch after resetting it at the start of each
epoch and evaluation. So ``compile(metrics=[keras.metrics.AUC()])`` logs ``"auc"`` over the
whole epoch, as Keras does, not a mean of per-batch AUCs.

* ``SparseCategoricalAccuracy``, ``CategoricalAccuracy``, ``BinaryAccuracy``,
  ``MeanAbsoluteError``, ``MeanSquaredError``: means over the samples (minidl's metric
  functions, accumulated by ``BatchMean``);
* ``SparseTopKCategoricalAccuracy``, ``TopKCategoricalAccuracy`` (``k=5``): the fraction of
  samples whose label scores at least the k-th largest score of its row (ties count);
* ``Precision``, ``Recall`` (``thresholds``, ``class_id``): counts of true and false positives
  and negatives over the epoch, ``tp / (tp + fp)`` and ``tp / (tp + fn)``;
* ``AUC`` (Keras's defaults: ``num_thresholds=200``, ``curve="ROC"``,
  ``summation_method="interpolation"``): the counts at each threshold, then the area under the
  curve by the trapezoid rule (ROC) or Davis & Goadrich's interpolation (PR), as Keras 3 computes it;
* ``RootMeanSquaredError``: ``sqrt(sum of squared errors / count)`` over the epoch.

A metric made without a name takes Keras's: its class name in snake case, ``_1``, ``_2``, ...
on later ones (``keras.backend.clear_session()`` starts the count again). The strings
``"auc"``, ``"precision"``, ``"recall"``, ``"root_mean_squared_error"``,
``"top_k_categorical_accuracy"``, ``"sparse_top_k_categorical_accuracy"`` (or the class names) in
``compile`` make one, named by the string.
"""

from __future__ import annotations

import re

import numpy as np

from minidl import backend
from minidl.training import metrics as _metrics

from .missing import KerasFeatureMissing
from .naming import auto_name

__all__ = [
    "Metric",
    "SparseCategoricalAccuracy",
    "CategoricalAccuracy",
    "BinaryAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "Precision",
    "Recall",
    "AUC",
    "Mean",
    "Sum",
    "get",
]

EPSILON = 1e-7  # Keras's backend.epsilon(): AUC's outer thresholds are -EPSILON and 1 + EPSILON


def _arrays(y_true, y_pred):
    """(y_true, y_pred) as float64 NumPy arrays of the prediction's shape (Keras lines up (N,)
    labels with (N, 1) outputs)."""
    y_pred = np.asarray(backend.to_numpy(y_pred), dtype=np.float64)
    y_true = np.asarray(backend.to_numpy(y_true), dtype=np.float64)
    if y_true.size != y_pred.size:
        raise ValueError(
            f"a metric expected y_true with one value per prediction, {y_pred.shape}, got shape {y_true.shape}"
        )
    return y_true.reshape(y_pred.shape), y_pred


def _weights(sample_weight, shape):
    """One weight per prediction: ones, or ``sample_weight`` (one per sample) broadcast."""
    if sample_weight is None:
        return np.ones(shape)
    w = np.asarray(backend.to_numpy(sample_weight), dtype=np.float64)
    return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)


def _ratio(a, b):
    """``a / b`` where ``b > 0``, else 0 (Keras's ``divide_no_nan``)."""
    b = np.asarray(b, dtype=np.float64)
    return np.where(b > 0, np.asarray(a) / np.where(b > 0, b, 1.0), 0.0)


class MetricVariable:
    """A metric's state made by ``add_variable``/``add_weight`` (Keras's ``keras.Variable`` in a
    ``Metric``): a NumPy array with ``assign``, ``assign_add``, ``assign_sub``, ``numpy()``,
    ``value``, arithmetic and ``float()``; ``keras.ops`` computes on it as on an array."""

    __array_priority__ = 100  # ``array + variable`` asks the variable

    def __init__(self, value, name: str):
        self.initial = np.array(value)
        self.array = self.initial.copy()
        self.name = name

    def assign(self, value) -> None:
        self.array = np.broadcast_to(
            np.asarray(backend.to_numpy(value), dtype=self.array.dtype), self.array.shape
        ).copy()

    def assign_add(self, value) -> None:
        self.assign(self.array + np.asarray(backend.to_numpy(value)))

    def assign_sub(self, value) -> None:
        self.assign(self.array - np.asarray(backend.to_numpy(value)))

    def numpy(self):
        return self.array.copy()

    @property
    def value(self):
        return self.array

    shape = property(lambda self: tuple(self.array.shape))
    dtype = property(lambda self: self.array.dtype.name)

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)

    def __float__(self) -> float:
        return float(self.array)

    def __add__(self, other):
        return self.array + np.asarray(other)

    def __radd__(self, other):
        return np.asarray(other) + self.array

    def __sub__(self, other):
        return self.array - np.asarray(other)

    def __rsub__(self, other):
        return np.asarray(other) - self.array

    def __mul__(self, other):
        return self.array * np.asarray(other)

    def __rmul__(self, other):
        return np.asarray(other) * self.array

    def __truediv__(self, other):
        return self.array / np.asarray(other)

    def __rtruediv__(self, other):
        return np.asarray(other) / self.array

    def __neg__(self):
        return -self.array

    def __repr__(self) -> str:
        return f"<Variable path={self.name}, shape={self.shape}, dtype={self.dtype}, value={self.array}>"


class Metric(_metrics.Metric):
    """Keras's metric API over minidl's ``Metric``: subclasses define ``update_state``,
    ``result`` and ``reset_state``; ``fit`` calls them through minidl's ``update(y_pred,
    y_true)`` / ``reset()`` (minidl's argument order).

    A user's subclass, as keras.io writes one, makes its state with ``self.add_variable(shape,
    initializer, dtype=None, aggregation="sum", name=None)`` (or ``add_weight``) after
    ``super().__init__(name=name, **kwargs)``; ``reset_state`` sets every such variable back to
    its initial value unless the subclass overrides it. The door's own metrics make their state
    in ``reset_state``, which their ``__init__`` calls."""

    def __init_subclass__(cls, **kwargs):
        """A subclass's ``result`` may return a variable or an array (Keras's tensors): the
        logs get a float (or an array for a vector result)."""
        super().__init_subclass__(**kwargs)
        result = cls.__dict__.get("result")
        if result is not None and not _door_defined(result):

            def as_logged(self, _result=result):
                value = np.asarray(backend.to_numpy(np.asarray(_result(self))))
                return float(value) if value.size == 1 else value

            as_logged.__doc__ = result.__doc__
            cls.result = as_logged  # type: ignore[method-assign]

    def __init__(self, name: str | None = None, dtype=None):
        self.name = name or auto_name(type(self).__name__)
        self.dtype = "float32" if dtype is None else np.dtype(dtype).name
        self.__dict__.setdefault("_variables", [])
        door_reset = next(
            (
                c.__dict__["reset_state"]
                for c in type(self).__mro__
                if _door_defined(c.__dict__.get("reset_state"))
            ),
            None,
        )
        if (
            door_reset is not None
        ):  # a door metric's state (a user's reset_state runs later, on its variables)
            door_reset(self)

    @property
    def variables(self) -> list:
        """The variables made by ``add_variable``/``add_weight``, in order."""
        return list(self.__dict__.get("_variables", []))

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """Keras's ``Metric.add_variable``: a ``MetricVariable`` of ``shape`` filled by ``initializer``
        (``"zeros"``, ``"ones"``, a number, or a function ``(shape, dtype)``)."""
        dtype = np.dtype(dtype or self.__dict__.get("dtype") or "float32")
        shape = (
            tuple(np.atleast_1d(shape).astype(int))
            if np.ndim(shape)
            else (() if shape == () else (int(shape),))
        )
        if isinstance(initializer, str) and initializer in ("zeros", "Zeros"):
            value = np.zeros(shape, dtype)
        elif isinstance(initializer, str) and initializer in ("ones", "Ones"):
            value = np.ones(shape, dtype)
        elif isinstance(initializer, (int, float)):
            value = np.full(shape, initializer, dtype)
        elif callable(initializer):
            value = np.asarray(backend.to_numpy(initializer(shape, dtype=dtype.name)), dtype)
        else:
            raise ValueError(
                f"{type(self).__name__}.add_variable: initializer {initializer!r} is not one minidl_keras's "
                "metrics take; give 'zeros', 'ones', a number or a function (shape, dtype) -> array"
            )
        variable = MetricVariable(value, name or f"variable_{len(self.variables)}")
        self.__dict__.setdefault("_variables", []).append(variable)
        return variable

    def add_weight(self, name=None, shape=(), initializer="zeros", dtype=None, aggregation="sum"):
        """Keras's older name of ``add_variable`` (``name`` first)."""
        return self.add_variable(
            shape=shape, initializer=initializer, dtype=dtype, aggregation=aggregation, name=name
        )

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update_state(y_true, y_pred)")

    def reset_state(self) -> None:
        """Every variable back to its initial value (Keras's default)."""
        for variable in self.variables:
            variable.assign(variable.initial)

    def update(self, y_pred, y_true) -> None:
        self.update_state(y_true, y_pred)

    def reset(self) -> None:
        self.reset_state()

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras's call: update with this batch, return the result so far."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.__dict__.get("dtype", "float32")}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _door_defined(method) -> bool:
    """Whether ``method`` is one of this module's (a door metric's ``reset_state`` makes its state)."""
    return getattr(method, "__module__", None) == __name__ and method is not Metric.reset_state


class _SampleMean(Metric):
    """A mean over samples, from one of minidl's per-batch metric functions (``BatchMean``)."""

    def _batch_mean(self, y_pred, y_true) -> float:
        raise NotImplementedError

    def reset_state(self) -> None:
        self.mean = _metrics.BatchMean(self._batch_mean, self.name)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if sample_weight is not None:
            raise NotImplementedError(
                f"{type(self).__name__}.update_state(sample_weight=...) is not in minidl_keras: it "
                "averages over samples unweighted (fit weighs the loss, not the metrics, as Keras's "
                "compile(metrics=...) does)"
            )
        self.mean.update(y_pred, y_true)

    def result(self) -> float:
        return self.mean.result()


class Mean(Metric):
    """Keras's ``Mean``: the (weighted) mean of every value given to ``update_state(values,
    sample_weight=None)`` since the last reset -- a loss tracker in a ``train_step``."""

    def __init__(self, name: str = "mean", dtype=None):
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        v = np.asarray(backend.to_numpy(values), dtype=np.float64)
        w = _weights(sample_weight, v.shape)
        self.total += float(np.sum(v * w))
        self.count += float(np.sum(w))

    def update(self, y_pred, y_true=None) -> None:
        self.update_state(y_pred)

    def __call__(self, values, sample_weight=None):  # type: ignore[override]
        self.update_state(values, sample_weight)
        return self.result()

    def result(self) -> float:
        return float(_ratio(self.total, self.count))


class Sum(Mean):
    """Keras's ``Sum``: the (weighted) sum of every value given since the last reset."""

    def __init__(self, name: str = "sum", dtype=None):
        super().__init__(name, dtype)

    def result(self) -> float:
        return self.total


class SparseCategoricalAccuracy(_SampleMean):
    """Argmax of the prediction against integer labels."""

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)

    def _batch_mean(self, y_pred, y_true):
        return _metrics.sparse_categorical_accuracy(y_pred, y_true)


class CategoricalAccuracy(_SampleMean):
    """Argmax of the prediction against the argmax of one-hot targets."""

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(name, dtype)

    def _batch_mean(self, y_pred, y_true):
        return _metrics.categorical_accuracy(y_pred, y_true)


class BinaryAccuracy(_SampleMean):
    """Outputs on the right side of ``threshold`` (0.5 for probabilities)."""

    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name, dtype)

    def _batch_mean(self, y_pred, y_true):
        return _metrics.binary_accuracy(y_pred, y_true, self.threshold)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


def _in_top_k(scores, labels, k: int) -> float:
    """Fraction of rows whose label's score is among the ``k`` largest: ``scores[label]`` at
    least the k-th largest score of its row (a tie with the k-th counts, as Keras's ``in_top_k``)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    scores = np.asarray(backend.to_numpy(scores))
    labels = np.asarray(backend.to_numpy(labels)).reshape(scores.shape[:-1]).astype(np.int64)
    kth_largest = -np.sort(-scores, axis=-1)[..., min(k, scores.shape[-1]) - 1]
    label_scores = np.take_along_axis(scores, labels[..., None], axis=-1)[..., 0]
    return float((label_scores >= kth_largest).mean())


class SparseTopKCategoricalAccuracy(_SampleMean):
    """Integer labels among the ``k`` (5) highest scores of their row."""

    def __init__(
        self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False
    ):
        if from_sorted_ids:
            raise KerasFeatureMissing(
                "keras.metrics.SparseTopKCategoricalAccuracy(from_sorted_ids=True) is not in "
                "minidl_keras: give it the scores (N, K), not the ids of the top classes"
            )
        self.k = k
        super().__init__(name, dtype)

    def _batch_mean(self, y_pred, y_true):
        return _in_top_k(y_pred, y_true, self.k)

    def get_config(self) -> dict:
        return {**super().get_config(), "k": self.k}


class TopKCategoricalAccuracy(_SampleMean):
    """The one-hot target's class among the ``k`` (5) highest scores of its row."""

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        self.k = k
        super().__init__(name, dtype)

    def _batch_mean(self, y_pred, y_true):
        return _in_top_k(y_pred, np.asarray(backend.to_numpy(y_true)).argmax(axis=-1), self.k)

    def get_config(self) -> dict:
        return {**super().get_config(), "k": self.k}


class MeanAbsoluteError(_SampleMean):
    def __init__(self, name: str = "mean_absolute_error", dtype=None):
        super().__init__(name, dtype)

    def _batch_mean(self, y_pred, y_true):
        return _metrics.mean_absolute_error(y_pred, y_true)


class MeanSquaredError(_SampleMean):
    def __init__(self, name: str = "mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def _batch_mean(self, y_pred, y_true):
        return _metrics.mean_squared_error(y_pred, y_true)


class RootMeanSquaredError(Metric):
    """``sqrt(mean of (y_pred - y_true)^2)`` over every sample of the epoch (not a mean of
    per-batch roots): each sample's mean squared error is summed (weighted by ``sample_weight``),
    and the result is ``sqrt(total / count)``."""

    def __init__(self, name: str = "root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _arrays(y_true, y_pred)
        per_sample = ((y_pred - y_true) ** 2).reshape(len(y_pred), -1).mean(axis=1)
        w = _weights(sample_weight, per_sample.shape)
        self.total += float((w * per_sample).sum())
        self.count += float(w.sum())

    def result(self) -> float:
        return float(np.sqrt(_ratio(self.total, self.count)))


class _Confusion(Metric):
    """Counts over the epoch of true/false positives/negatives at each of ``thresholds``: a
    prediction is positive at threshold t when it is above t, a label when it is not 0. All
    outputs count alike (Keras flattens them), or only column ``class_id``."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        if top_k is not None:
            raise KerasFeatureMissing(
                f"keras.metrics.{type(self).__name__}(top_k=...) is not in minidl_keras. The closest "
                "minidl way: class_id=k for one class, or thresholds on the scores"
            )
        self.init_thresholds = thresholds  # as given (Keras's config)
        self.single = thresholds is None or np.isscalar(thresholds)
        self.thresholds = np.atleast_1d(np.asarray(0.5 if thresholds is None else thresholds, np.float64))
        self.class_id = class_id
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        zeros = np.zeros(len(self.thresholds))
        self.tp, self.fp, self.tn, self.fn = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()

    def _prepare(self, y_true, y_pred, sample_weight):
        y_true, y_pred = _arrays(y_true, y_pred)
        w = _weights(sample_weight, y_pred.shape)
        if self.class_id is not None:
            y_true, y_pred, w = y_true[..., self.class_id], y_pred[..., self.class_id], w[..., self.class_id]
        return y_true.ravel() != 0, y_pred.ravel(), w.ravel()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        label, score, w = self._prepare(y_true, y_pred, sample_weight)
        above = score[None, :] > self.thresholds[:, None]  # (thresholds, predictions)
        self.tp += (above * (label * w)).sum(axis=1)
        self.fp += (above * (~label * w)).sum(axis=1)
        self.fn += (~above * (label * w)).sum(axis=1)
        self.tn += (~above * (~label * w)).sum(axis=1)

    def _value(self, ratio):
        return float(ratio[0]) if self.single else [float(v) for v in ratio]

    def get_config(self) -> dict:
        """Keras's keys: ``thresholds`` as given, ``top_k`` (None: others are refused), ``class_id``."""
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": None,
            "class_id": self.class_id,
        }


class Precision(_Confusion):
    """``tp / (tp + fp)`` over the epoch at ``thresholds`` (0.5 by default; a list gives a list)."""

    def result(self):
        return self._value(_ratio(self.tp, self.tp + self.fp))


class Recall(_Confusion):
    """``tp / (tp + fn)`` over the epoch at ``thresholds`` (0.5 by default; a list gives a list)."""

    def result(self):
        return self._value(_ratio(self.tp, self.tp + self.fn))


class AUC(_Confusion):
    """The area under the ROC (or precision-recall) curve, from counts at ``num_thresholds``
    thresholds accumulated over the epoch, as Keras 3 computes it.

    Thresholds: ``-EPSILON``, ``i / (num_thresholds - 1)`` for i = 1 .. num_thresholds - 2, and
    ``1 + EPSILON`` (or the sorted ``thresholds`` given between those two); predictions are
    clipped to [0, 1] (``from_logits=True``: a sigmoid first). With the rates at thresholds
    t_0 < t_1 < ...:

        ROC   x = fp / (fp + tn), y = tp / (tp + fn);  area = sum_i (x_i - x_{i+1}) h_i
        PR    x = recall, y = precision

    where ``h_i`` is ``(y_i + y_{i+1}) / 2`` (``summation_method="interpolation"``), their
    minimum (``"minoring"``) or maximum (``"majoring"``). PR with "interpolation" follows
    Davis & Goadrich (2006), precision interpolated along the predicted positives (Keras's
    ``interpolate_pr_auc``).
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label: bool = False,
        num_labels=None,
        label_weights=None,
        from_logits: bool = False,
    ):
        if multi_label or num_labels is not None or label_weights is not None:
            raise KerasFeatureMissing(
                "keras.metrics.AUC(multi_label=True, num_labels=, label_weights=) is not in minidl_keras: "
                "it pools every output into one curve. The closest minidl way: one AUC per output "
                "column (class_id is not an AUC argument: slice the outputs in a model with one output each)"
            )
        self.curve, self.summation_method = curve.upper(), summation_method.lower()
        if self.curve not in ("ROC", "PR"):
            raise KerasFeatureMissing(
                f"keras.metrics.AUC(curve={curve!r}) is not in minidl_keras: use 'ROC' or 'PR'"
            )
        if self.summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(
                f"AUC summation_method must be 'interpolation', 'minoring' or 'majoring', got {summation_method!r}"
            )
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC num_thresholds must be an integer > 1, got {num_thresholds!r}")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = len(inner) + 2
        self.from_logits = from_logits
        super().__init__(thresholds=[-EPSILON, *inner, 1 + EPSILON], name=name, dtype=dtype)
        self.single = False
        self.init_thresholds = None if thresholds is None else inner

    def get_config(self) -> dict:
        """Keras's keys (``multi_label``, ``num_labels``, ``label_weights`` at their defaults: the
        others are refused); ``thresholds`` only when given, as Keras's."""
        config = {
            "name": self.name,
            "dtype": self.__dict__.get("dtype", "float32"),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": False,
            "num_labels": None,
            "label_weights": None,
            "from_logits": self.from_logits,
        }
        if self.init_thresholds is not None:
            config["thresholds"] = list(self.init_thresholds)
        return config

    def _prepare(self, y_true, y_pred, sample_weight):
        label, score, w = super()._prepare(y_true, y_pred, sample_weight)
        if self.from_logits:
            score = 1 / (1 + np.exp(-score))
        return label, np.clip(score, 0.0, 1.0), w

    def result(self) -> float:
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr_auc()
        recall = _ratio(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _ratio(fp, fp + tn), recall
        else:
            x, y = recall, _ratio(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(((x[:-1] - x[1:]) * heights).sum())

    def _interpolated_pr_auc(self) -> float:
        """Between two thresholds, TP and P = TP + FP vary linearly; precision = TP / P is
        integrated over recall in closed form (Davis & Goadrich 2006; Keras's formula)."""
        tp, fp, fn = self.tp, self.fp, self.fn
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _ratio(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        p_ratio = np.where(both, _ratio(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = _ratio(slope * (dtp + intercept * np.log(p_ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return float(increments.sum())


#: Keras's metric strings that name one of these classes (``compile(metrics=["auc"])``)
BY_NAME = {
    **{
        cls.__name__: cls
        for cls in (
            AUC,
            Precision,
            Recall,
            RootMeanSquaredError,
            TopKCategoricalAccuracy,
            SparseTopKCategoricalAccuracy,
        )
    },
    "auc": AUC,
    "precision": Precision,
    "recall": Recall,
    "root_mean_squared_error": RootMeanSquaredError,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
}


class Feeding(_metrics.Metric):
    """A metric that feeds another, ``inner`` (minidl's ``accumulator`` of it), what its
    ``update`` chooses (one output of several, the real steps of a padded sequence); ``reset``
    and ``result`` are the inner one's."""

    def __init__(self, metric):
        self.inner = _metrics.accumulator(metric)
        self.name = self.inner.name

    def reset(self) -> None:
        self.inner.reset()

    def result(self) -> float:
        return self.inner.result()


def get(identifier):
    """A metric object for a ``Metric``, or for one of ``BY_NAME``'s strings (named by the string,
    as Keras's ``compile`` names it); None for what minidl's own names cover ("accuracy", "mae")."""
    if isinstance(identifier, _metrics.Metric):
        return identifier
    if isinstance(identifier, str):
        base = re.sub(r"_\d+$", "", identifier)  # "auc_1": a second AUC's name, read back from a file
        if base in BY_NAME:
            return BY_NAME[base](name=identifier)
    return None


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.metrics.{name} is not in minidl_keras; its metrics are "
        f"{', '.join(__all__[1:-1])} (or a function fn(y_true, y_pred) -> per-sample values)"
    )
