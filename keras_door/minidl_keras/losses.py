"""``keras.losses``: minidl's losses, which have Keras's names and ``from_logits=False`` default.

One difference: called directly, a minidl loss takes ``loss(y_pred, y_true)`` (PyTorch's
order; Keras's is ``(y_true, y_pred)``) and then ``loss.backward()``. ``compile(loss=...)``
takes either a name or one of these objects, as Keras.

Keras's rules, as minidl's losses follow them: ``sample_weight`` divides by N, not by the sum
of the weights; probabilities are clipped to [1e-7, 1 - 1e-7] (``CategoricalCrossentropy``'s
rows normalised first); ``mse``/``mae`` average over every element. A model output that
carries a mask (a padded sequence) has its loss averaged over the real steps,
``masked_mean`` (``minidl_keras.masking`` sets it as the loss's ``_reduce``).
"""

import numpy as np

from minidl import backend
from minidl.nn.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    sample_weights,
)
from minidl.nn.losses import get as _get

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
]


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


mean_squared_error = mse = _per_sample(MeanSquaredError, "mean_squared_error")
mean_absolute_error = mae = _per_sample(MeanAbsoluteError, "mean_absolute_error")
huber = _per_sample(Huber, "huber")
binary_crossentropy = _per_sample(BinaryCrossentropy, "binary_crossentropy")
categorical_crossentropy = _per_sample(CategoricalCrossentropy, "categorical_crossentropy")
sparse_categorical_crossentropy = _per_sample(
    SparseCategoricalCrossentropy, "sparse_categorical_crossentropy"
)


def get(spec):
    """minidl's ``losses.get``, which also takes one of the loss functions above (its class)."""
    loss_class = getattr(spec, "loss_class", None)
    return loss_class() if loss_class is not None and callable(spec) else _get(spec)


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.losses.{name} is not in minidl_keras; its losses are "
        f"{', '.join(__all__[1:-1])} (or the names 'mse', 'mae', 'huber', 'binary_crossentropy', "
        "'categorical_crossentropy', 'sparse_categorical_crossentropy')"
    )


def masked_mean(mask_from, loss, losses, y_pred, sample_weight) -> float:
    """Keras's masked loss, ``loss._reduce`` of a model whose output carries a mask (``mask_from()``,
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
    loss._grad = loss._grad * (weights * scale).reshape(weights.shape + (1,) * (y_pred.ndim - mask.ndim))
    return float((per_position * weights.reshape(-1)).sum() / valid) if valid else 0.0
