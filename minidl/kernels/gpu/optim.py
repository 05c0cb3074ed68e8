"""CUDA launchers of ``reference/optim.py``: the optimizers' updates (``cuda/optim.cu``).

Each update is one fused elementwise kernel, in place on the parameter and its state.
"""

from __future__ import annotations

import numpy as np

from ..common import get_array_module as _array_module
from .launch import check_in_place, launch, real_array


def _fused_update(name, param, grad, state, scalars):
    """Launch ``optim.cu``'s kernel ``name``: one thread per entry of ``param``, updating it
    and the optimizer's ``state`` arrays in place. ``scalars`` follow the arrays in the
    kernel's argument order: a float becomes the parameter's precision (``real_t``), a bool
    an ``int`` flag; the element count comes last."""
    xp = _array_module(param)
    check_in_place(name, {"param": param, **state}, param)
    grad = real_array(xp, grad, param.dtype)
    real = param.dtype.type
    scalar_args = tuple(np.int32(v) if isinstance(v, bool) else real(v) for v in scalars)
    launch("optim.cu", name, param.size, (param, grad, *state.values(), *scalar_args, np.int64(param.size)))


def sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay):
    """One fused SGD step, in place on ``param`` and ``velocity`` (see ``reference.sgd_update``)."""
    scalars = (lr, momentum, bool(nesterov), weight_decay)
    _fused_update("sgd_update", param, grad, {"velocity": velocity}, scalars)


def rmsprop_update(param, grad, square_avg, buffer, lr, alpha, eps, momentum, weight_decay):
    """One fused RMSprop step, in place on ``param``, ``square_avg``, ``buffer`` (see ``reference.rmsprop_update``)."""
    state = {"square_avg": square_avg, "buffer": buffer}
    _fused_update("rmsprop_update", param, grad, state, (lr, alpha, eps, momentum, weight_decay))


def adagrad_update(param, grad, total, lr, eps, weight_decay):
    """One fused Adagrad step, in place on ``param`` and ``total`` (see ``reference.adagrad_update``)."""
    _fused_update("adagrad_update", param, grad, {"total": total}, (lr, eps, weight_decay))


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """One fused Adam / AdamW step, in place on ``param``, ``m`` and ``v`` (see ``reference.adam_update``)."""
    scalars = (lr, beta1, beta2, eps, 1.0 - beta1**step, 1.0 - beta2**step, weight_decay, bool(decoupled))
    _fused_update("adam_update", param, grad, {"m": m, "v": v}, scalars)
