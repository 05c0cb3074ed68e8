"""The network's parts: layers, losses, optimizers, initializers, regularizers, constraints,
gradient checks.

    layers/         each layer a forward and a hand-written backward
    losses.py       loss(y_pred, y_true) -> float, then loss.backward() -> dL/dy_pred
    optim.py        SGD, RMSprop, Adagrad, Adam, AdamW: opt.step(model)
    initializers.py glorot_uniform, he_normal, ...
    regularizers.py L1, L2 weight penalties
    constraints.py  MaxNorm: applied after each optimizer step
    gradcheck.py    numerical gradients and the float64 check every layer passes
    preference.py   sequence log-probability, SFT's masked loss, Bradley-Terry and DPO losses

Above ``kernels`` and ``backend``; below ``training`` (which knows these, never the reverse).
"""

from . import constraints, gradcheck, initializers, layers, losses, optim, preference, regularizers

__all__ = ["constraints", "gradcheck", "initializers", "layers", "losses", "optim", "preference"]
__all__ += ["regularizers"]
