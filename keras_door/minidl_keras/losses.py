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

from minidl import backend
from minidl.nn.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    get,
    sample_weights,
)

from .missing import KerasFeatureMissing

__all__ = [
    "Loss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "get",
]


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
