"""``keras.callbacks``: minidl's callbacks, which have Keras's names and arguments.

``ModelCheckpoint`` writes minidl's model file (an ``.npz`` archive, whatever the name:
``"best.keras"`` works) and ``load_model`` reads it back.
"""

from ..training.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
)
from .missing import KerasFeatureMissing

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "CSVLogger"]


def __getattr__(name: str):
    raise KerasFeatureMissing(
        f"keras.callbacks.{name} is not in minidl.keras; its callbacks are "
        f"{', '.join(__all__)} (a Callback subclass can do the rest: it sees "
        "self.model, and on_epoch_end receives the logs)"
    )
