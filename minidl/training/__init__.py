"""Training a network: ``Sequential`` and what its loop uses.

    model.py        Sequential (compile, fit, evaluate, predict, summary, save, to(device)),
                    load_model
    callbacks.py    History, EarlyStopping, ModelCheckpoint, LearningRateScheduler, progress bar
    data.py         DataLoader, splits, one_hot, standardize
    augment.py      data augmentation: RandomShift, RandomCrop, RandomFlip, GaussianNoise, Compose
    metrics.py      accuracy and friends, by name

Above ``nn`` (layers, losses, optimizers); below ``gallery``, ``zoo``, ``bench``, ``grading``.
"""
from . import augment, callbacks, data, metrics
from .model import NonFiniteLossError, Sequential, load_model

__all__ = ["augment", "callbacks", "data", "metrics", "Sequential", "load_model", "NonFiniteLossError"]
