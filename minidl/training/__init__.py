"""Training a network: ``Sequential`` and what its loop uses.

    model.py        Sequential: layers in order, forward/backward, weights, devices, save;
                    load_model
    trainer.py      what Sequential inherits for training: compile, fit, evaluate, predict
    saving.py       the model file (.npz), the one place it is written (atomically) and read
    summary.py      the table model.summary() prints
    callbacks.py    History, EarlyStopping, LearningRateScheduler, progress bar
    data.py         DataLoader, one_hot, standardize
    augment.py      data augmentation: RandomShift, RandomCrop, RandomFlip, GaussianNoise, Compose
    metrics.py      accuracy and friends, by name

Above ``nn`` (layers, losses, optimizers); below ``gallery``, ``zoo``, ``bench``.
"""

from . import augment, callbacks, data, metrics
from .model import NonFiniteLossError, Sequential, load_model

__all__ = ["augment", "callbacks", "data", "metrics", "Sequential", "load_model", "NonFiniteLossError"]
