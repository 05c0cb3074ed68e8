"""``keras.losses``: Keras's loss classes and functions, in Keras's order, over minidl's losses.

Called directly, a loss takes ``loss(y_true, y_pred, sample_weight=None)`` as Keras's does
(minidl's own losses, ``minidl.nn.losses``, take ``(y_pred, y_true)``, PyTorch's order); each
class here holds the minidl loss that computes it (``library_loss``), and after a call
``loss.backward()`` is ``dL/dy_pred``, minidl's gradient. ``compile(loss=...)`` takes a name, a
class, a loss function or one of these objects, as Keras; the model trains with the minidl loss
behind it (``model.loss`` is that minidl loss, which the training loop calls as minidl does).
``get_config()`` and ``serialize`` give Keras's keys.

Keras's rules, as minidl's losses follow them: ``sample_weight`` divides by N, not by the sum
of the weights; probabilities are clipped to [1e-7, 1 - 1e-7] (``CategoricalCrossentropy``'s
rows normalised first); ``mse``/``mae`` average over every element. A model output that
carries a mask (a padded sequence) has its loss averaged over the real steps,
``masked_mean`` (``minidl_keras.masking`` sets it with the loss's ``set_reduction``).
"""

import numpy as np

from minidl import backend
from minidl.nn import losses as _losses
from minidl.nn.losses import sample_weights

from .missing import KerasFeatureMissing

__all__ = [
    "Loss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "mse",
    "mae",
    "get",
    "serialize",
    "deserialize",
]

#: Keras's ``reduction`` default, the only one the door has (the mean over the batch)
REDUCTION = "sum_over_batch_size"


class Loss:
    """Keras's loss base: ``loss(y_true, y_pred, sample_weight=None)``, the mean loss of the
    batch (a float). A subclass names the minidl loss that computes it (``library_class``),
    Keras's default ``name`` and the options it passes on (``options``: Keras's argument names,
    minidl's being the same); Keras's options the door keeps at their defaults
    (``fixed``: ``label_smoothing=0``, ``axis=-1``, ...) are refused at any other value."""

    library_class: type = _losses.Loss
    default_name = "loss"
    options: tuple[str, ...] = ()
    fixed: dict = {}

    def __init__(self, name=None, reduction=REDUCTION, dtype=None, **options):
        who = type(self).__name__
        if reduction != REDUCTION:
            raise KerasFeatureMissing(
                f"keras.losses.{who}(reduction={reduction!r}) is not in minidl_keras: its losses "
                f"take the mean over the batch (reduction={REDUCTION!r})"
            )
        for key, default in type(self).fixed.items():
            value = options.pop(key, default)
            if value != default:
                raise KerasFeatureMissing(
                    f"keras.losses.{who}({key}={value!r}) is not in minidl_keras: it keeps {key}={default!r}"
                )
        unknown = set(options) - set(type(self).options)
        if unknown:
            raise TypeError(f"{who} got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
        self.name = name or type(self).default_name
        self.reduction = reduction
        self.dtype = dtype
        # a user's subclass computes with its own ``call``; compile differentiates it on the tape
        base = type(self).library_class is _losses.Loss  # Keras's Loss itself: call() is the subclass's
        self.library_loss = None if self.is_custom or base else type(self).library_class(**options)

    @property
    def is_custom(self) -> bool:
        """Whether this is a user's loss with its own ``call`` (Keras's way to write a loss)."""
        return type(self).call is not Loss.call

    def call(self, y_true, y_pred):
        """Each sample's loss (a user's subclass defines it in ``keras.ops``)."""
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred)")

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        if self.library_loss is None:
            y_pred = np.asarray(backend.to_numpy(y_pred), dtype=np.float32)
            y_true = np.asarray(backend.to_numpy(y_true), dtype=np.float32)
            losses = np.asarray(backend.to_numpy(np.asarray(self.call(y_true, y_pred))), dtype=np.float64)
            if sample_weight is None:
                return float(losses.mean())
            w = np.asarray(sample_weight, dtype=np.float64).reshape((-1,) + (1,) * (losses.ndim - 1))
            return float((losses * w).mean())
        return self.library_loss(y_pred, y_true, sample_weight=sample_weight)

    def backward(self):
        """``dL/dy_pred`` of the last call (minidl's gradient, for a step written by hand)."""
        if self.library_loss is None:
            raise KerasFeatureMissing(
                f"{type(self).__name__}.backward(): a loss written in keras.ops has its gradient when "
                "compile(loss=...) trains with it, not after a call of its own"
            )
        return self.library_loss.backward()

    def get_config(self) -> dict:
        config = {"name": self.name, "reduction": self.reduction}
        if self.library_loss is None:
            return config
        config.update({key: getattr(self.library_loss, key) for key in type(self).options})
        config.update(type(self).fixed)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class MeanSquaredError(Loss):
    """Keras's ``MeanSquaredError``: ``mean((y_true - y_pred)^2)``."""

    library_class = _losses.MeanSquaredError
    default_name = "mean_squared_error"

    def __init__(self, reduction=REDUCTION, name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class AbsoluteErrorLoss(_losses.Loss):
    """The minidl loss behind Keras's mean absolute error (minidl's chapters have none):
    ``mean(|y_pred - y_true|)`` over every element, gradient ``sign(y_pred - y_true) / size``
    (0 where they are equal, as PyTorch takes it). Registered in ``minidl.nn.losses.LOSSES``
    as ``"mae"``, so a saved model compiled with it loads again."""

    accuracy = None
    symmetric = True

    def compute(self, y_pred, y_true):
        y_true = _losses.targets_like(y_pred, y_true, "MeanAbsoluteError")
        diff = y_pred - y_true
        xp = backend.get_array_module(diff)
        return xp.abs(diff), xp.sign(diff) / diff.size


_losses.LOSSES.update(mae=AbsoluteErrorLoss, mean_absolute_error=AbsoluteErrorLoss)


class MeanAbsoluteError(Loss):
    """Keras's ``MeanAbsoluteError``: ``mean(|y_true - y_pred|)``."""

    library_class = AbsoluteErrorLoss
    default_name = "mean_absolute_error"

    def __init__(self, reduction=REDUCTION, name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Huber(Loss):
    """Keras's ``Huber(delta=1.0)``."""

    library_class = _losses.Huber
    default_name = "huber_loss"
    options = ("delta",)

    def __init__(self, delta=1.0, reduction=REDUCTION, name="huber_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype, delta=delta)

    def get_config(self) -> dict:  # Keras's Huber keeps no delta in its config
        return {"name": self.name, "reduction": self.reduction}


class BinaryCrossentropy(Loss):
    """Keras's ``BinaryCrossentropy(from_logits=False)``."""

    library_class = _losses.BinaryCrossentropy
    default_name = "binary_crossentropy"
    options = ("from_logits",)
    fixed = {"label_smoothing": 0.0, "axis": -1}

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=REDUCTION,
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalCrossentropy(Loss):
    """Keras's ``CategoricalCrossentropy(from_logits=False)``."""

    library_class = _losses.CategoricalCrossentropy
    default_name = "categorical_crossentropy"
    options = ("from_logits",)
    fixed = {"label_smoothing": 0.0, "axis": -1}

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=REDUCTION,
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(Loss):
    """Keras's ``SparseCategoricalCrossentropy(from_logits=False)``."""

    library_class = _losses.SparseCategoricalCrossentropy
    default_name = "sparse_categorical_crossentropy"
    options = ("from_logits",)
    fixed = {"ignore_class": None}

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction=REDUCTION,
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        if axis != -1:
            raise KerasFeatureMissing(
                f"keras.losses.SparseCategoricalCrossentropy(axis={axis!r}) is not in minidl_keras: "
                "the classes are on the last axis"
            )
        super().__init__(
            name=name, reduction=reduction, dtype=dtype, from_logits=from_logits, ignore_class=ignore_class
        )


def _per_sample(loss_class, name: str):
    """Keras's loss function ``name(y_true, y_pred)``: the loss of each sample (the mean over
    the last axis), computed by minidl's ``loss_class`` (no gradient); ``compile(loss=fn)``
    trains with ``loss_class`` itself."""

    def fn(y_true, y_pred, **options):
        y_pred = np.asarray(backend.to_numpy(y_pred), dtype=np.float32)
        y_true = np.asarray(backend.to_numpy(y_true))
        losses, _ = loss_class(**options).compute(y_pred, y_true)
        losses = np.asarray(backend.to_numpy(losses))
        if losses.ndim == y_pred.ndim and losses.ndim > 1:
            losses = losses.reshape(*y_pred.shape[:-1], -1).mean(axis=-1)
        return losses.astype(np.float32)

    fn.__name__ = fn.__qualname__ = name
    fn.loss_class = loss_class  # type: ignore[attr-defined]
    return fn


mean_squared_error = mse = _per_sample(_losses.MeanSquaredError, "mean_squared_error")
mean_absolute_error = mae = _per_sample(AbsoluteErrorLoss, "mean_absolute_error")
huber = _per_sample(_losses.Huber, "huber")
binary_crossentropy = _per_sample(_losses.BinaryCrossentropy, "binary_crossentropy")
categorical_crossentropy = _per_sample(_losses.CategoricalCrossentropy, "categorical_crossentropy")
sparse_categorical_crossentropy = _per_sample(
    _losses.SparseCategoricalCrossentropy, "sparse_categorical_crossentropy"
)

_CLASSES = {
    cls.__name__: cls
    for cls in (
        MeanSquaredError,
        MeanAbsoluteError,
        Huber,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
    )
}
_FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        mean_squared_error,
        mean_absolute_error,
        huber,
        binary_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
    )
}
_FUNCTIONS.update({"mse": mean_squared_error, "mae": mean_absolute_error})


def get(identifier):
    """Keras's ``keras.losses.get``: a name gives Keras's loss function (``"mae"`` ->
    ``mean_absolute_error``), a class name (``"Huber"``) or Keras's serialized dict a loss
    object, a loss object or function passes through."""
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]
    if isinstance(identifier, str) and identifier in _CLASSES:
        return _CLASSES[identifier]()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return deserialize(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def compiled(spec) -> _losses.Loss:
    """The minidl loss a model trains with for what ``compile(loss=spec)`` was given: a name, one
    of this module's objects (the minidl loss behind it) or functions (its minidl class), a
    minidl loss, or a saved ``{"class", "config"}`` (``minidl.nn.losses.get``)."""
    if isinstance(spec, Loss) and spec.library_loss is not None:
        return spec.library_loss
    if isinstance(spec, type) and issubclass(spec, Loss):
        made = spec().library_loss
        if made is not None:
            return made
    loss_class = getattr(spec, "loss_class", None)
    if loss_class is not None and callable(spec):
        return loss_class()
    if isinstance(spec, dict) and "class_name" in spec:
        return deserialize(spec).library_loss
    if isinstance(spec, (str, dict, _losses.Loss)):  # a name, a saved loss, a minidl loss
        try:
            return _losses.get(spec)
        except (ValueError, KeyError, TypeError):
            pass
    raise ValueError(
        f"Could not interpret loss identifier: {spec!r}; compile(loss=...) takes a name ('mse', "
        "'sparse_categorical_crossentropy', ...), a keras.losses object or class, or a function "
        "(y_true, y_pred) written in keras.ops"
    )


def serialize(loss) -> dict:
    """Keras's ``keras.losses.serialize`` of a loss object."""
    return {
        "module": "keras.losses",
        "class_name": type(loss).__name__,
        "config": loss.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict):
    """Keras's ``keras.losses.deserialize``: the loss ``serialize`` described."""
    cls = _CLASSES.get(str(config.get("class_name")))
    if cls is None:
        raise ValueError(
            f"unknown loss class {config.get('class_name')!r}; minidl_keras has {sorted(_CLASSES)}"
        )
    return cls.from_config(dict(config.get("config", {})))


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.losses.{name} is not in minidl_keras; its losses are "
        f"{', '.join(__all__[1:-3])} (or the names 'mse', 'mae', 'huber', 'binary_crossentropy', "
        "'categorical_crossentropy', 'sparse_categorical_crossentropy')"
    )


def masked_mean(mask_from, loss, losses, y_pred, sample_weight) -> float:
    """Keras's masked loss, the ``set_reduction`` of a model's loss whose output carries a mask (``mask_from()``,
    (N, T) or None: then ``loss.mean``): the mean over the real positions of a sequence output
    (N, T, ...), each sample's positions weighted by its ``sample_weight``:

        L = sum_{n,t} w_n m_nt l_nt / sum_{n,t} m_nt      (0 when no position is real)

    ``l_nt`` the loss of position (n, t) (averaged over its last axis, as Keras's losses);
    the gradient is the plain mean's scaled by ``w_n m_nt (N T) / sum m``."""
    mask = mask_from()
    if mask is None:
        return loss.mean(losses, y_pred, sample_weight)
    xp = backend.get_array_module(y_pred)
    who = type(loss).__name__
    if tuple(mask.shape) != tuple(y_pred.shape[: mask.ndim]):
        raise ValueError(
            f"{who}: the output's mask has shape {tuple(mask.shape)}, which does not lead the "
            f"prediction's shape {tuple(y_pred.shape)}"
        )
    weights = xp.asarray(mask, dtype=y_pred.dtype)
    if sample_weight is not None:
        w = sample_weights(sample_weight, y_pred, who)
        weights = weights * w.reshape((-1,) + (1,) * (weights.ndim - 1))
    valid = float(xp.asarray(mask).sum())
    scale = 0.0 if valid == 0 else mask.size / valid
    per_position = losses.reshape(mask.size, -1).mean(axis=1)
    loss.scale_grad((weights * scale).reshape(weights.shape + (1,) * (y_pred.ndim - mask.ndim)))
    return float((per_position * weights.reshape(-1)).sum() / valid) if valid else 0.0
