"""``keras.losses``: minidl's losses, which have Keras's names and ``from_logits=False`` default.

One difference: called directly, a minidl loss takes ``loss(y_pred, y_true)`` (PyTorch's
order; Keras's is ``(y_true, y_pred)``) and then ``loss.backward()``. ``compile(loss=...)``
takes either a name or one of these objects, as Keras.
"""

from minidl.nn.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    get,
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
