"""``keras.constraints``: ``MaxNorm``, ``NonNeg``, ``UnitNorm``, ``MinMaxNorm`` (and Keras's
lower-case names ``max_norm``, ...) -- minidl's (``minidl.nn.constraints``, Keras 3's formulas).

A layer of this door hands its kernel to the constraint in Keras's layout (a Conv2D's
(KH, KW, C, F), so ``MaxNorm(axis=[0, 1, 2])`` bounds each filter, as in Keras) and takes the
result back in minidl's (``minidl.keras.weights.KerasNames.constraint_of``); the optimizer
applies it after each step, as Keras's does.
"""

from ..nn.constraints import Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm, get

__all__ = [
    "Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm",
    "max_norm", "min_max_norm", "non_neg", "unit_norm", "get",
]  # fmt: skip

max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm
