"""Numba twins of ``reference/optim.py``: SGD, Adam(W), RMSprop and Adagrad updates, in place.

Each update is fused into one elementwise pass that reads the parameter, its gradient and its
state once and writes them once (NumPy would make several temporaries); arrays that are not
contiguous go to the reference, which handles any layout.
"""

import numpy as np
from numba import prange

from ..reference import optim as reference
from .loops import pick, threaded


# ============================================================ optimizer updates
def _all_contiguous(*arrays):
    return all(a.flags.c_contiguous for a in arrays)


def _run_flat(kernel, arrays, *scalars):
    """``kernel`` (threads by the size of ``arrays[0]``) on flat views of ``arrays``, then ``scalars``."""
    pick(kernel, kernel.serial, arrays[0].size)(*(a.reshape(-1) for a in arrays), *scalars)


@threaded()
def _sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay):
    # fused: weight decay, momentum and the step in one pass instead of four array expressions;
    # the scalars in param's precision (as NumPy's reference computes: 8 float32 lanes, not 4
    # float64 ones), and a loop of its own without momentum, the common case
    coef = np.empty(3, param.dtype)
    coef[0], coef[1], coef[2] = lr, momentum, weight_decay
    lr_t, momentum_t, decay_t = coef[0], coef[1], coef[2]
    if momentum == 0.0:
        for i in prange(param.size):
            param[i] -= lr_t * (grad[i] + decay_t * param[i])
        return
    for i in prange(param.size):
        g = grad[i] + decay_t * param[i]
        v = momentum_t * velocity[i] + g
        velocity[i] = v
        param[i] -= lr_t * (g + momentum_t * v if nesterov else v)


def sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay):
    """Numba twin of ``reference.sgd_update``: in place on ``param`` (and ``velocity`` with momentum)."""
    if not momentum:
        velocity = param  # never read or written without momentum; any array of the right type
    if not _all_contiguous(param, grad, velocity):
        return reference.sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay)
    scalars = float(lr), float(momentum), bool(nesterov), float(weight_decay or 0.0)
    _run_flat(_sgd_update, (param, grad, velocity), *scalars)


@threaded()
def _adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    # fused: eight array expressions of the reference become one pass over five arrays
    bias1 = 1.0 - beta1**step
    bias2 = 1.0 - beta2**step
    for i in prange(param.size):
        p = param[i]
        g = grad[i]
        if decoupled:
            p = p * (1.0 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m_i = beta1 * m[i] + (1.0 - beta1) * g
        v_i = beta2 * v[i] + (1.0 - beta2) * g * g
        m[i] = m_i
        v[i] = v_i
        param[i] = p - lr * (m_i / bias1) / (np.sqrt(v_i / bias2) + eps)


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """Numba twin of ``reference.adam_update``: in place on ``param``, ``m`` and ``v``."""
    if not _all_contiguous(param, grad, m, v):
        return reference.adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled)
    scalars = float(lr), float(beta1), float(beta2), float(eps), int(step), float(weight_decay or 0.0)
    _run_flat(_adam_update, (param, grad, m, v), *scalars, bool(decoupled))


@threaded()
def _rmsprop_update(param, grad, square_avg, buffer, lr, alpha, eps, momentum, weight_decay):
    # fused: one pass over four arrays instead of six array expressions; the scalars in param's
    # precision and the operations in the reference's order, so float32 results are the reference's
    coef = np.empty(6, param.dtype)
    coef[0], coef[1], coef[2], coef[3], coef[4], coef[5] = lr, alpha, 1.0 - alpha, eps, momentum, weight_decay
    lr_t, alpha_t, rest_t, eps_t, momentum_t, decay_t = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    for i in prange(param.size):
        g = grad[i] + decay_t * param[i] if weight_decay != 0.0 else grad[i]
        s = alpha_t * square_avg[i]
        s += rest_t * g * g
        square_avg[i] = s
        step = g / (np.sqrt(s) + eps_t)
        if momentum != 0.0:
            step = momentum_t * buffer[i] + step
            buffer[i] = step
        param[i] -= lr_t * step


def rmsprop_update(param, grad, square_avg, buffer, lr, alpha, eps, momentum, weight_decay):
    """Numba twin of ``reference.rmsprop_update``: in place on ``param``, ``square_avg`` (and ``buffer``)."""
    if not momentum:
        buffer = param  # never read or written without momentum
    if not _all_contiguous(param, grad, square_avg, buffer):
        return reference.rmsprop_update(
            param, grad, square_avg, buffer, lr, alpha, eps, momentum, weight_decay
        )
    scalars = float(lr), float(alpha), float(eps), float(momentum or 0.0), float(weight_decay or 0.0)
    _run_flat(_rmsprop_update, (param, grad, square_avg, buffer), *scalars)


@threaded()
def _adagrad_update(param, grad, total, lr, eps, weight_decay):
    coef = np.empty(3, param.dtype)  # the scalars in param's precision, as the reference computes
    coef[0], coef[1], coef[2] = lr, eps, weight_decay
    lr_t, eps_t, decay_t = coef[0], coef[1], coef[2]
    for i in prange(param.size):
        g = grad[i] + decay_t * param[i] if weight_decay != 0.0 else grad[i]
        s = total[i] + g * g
        total[i] = s
        param[i] -= lr_t * g / (np.sqrt(s) + eps_t)


def adagrad_update(param, grad, total, lr, eps, weight_decay):
    """Numba twin of ``reference.adagrad_update``: in place on ``param`` and ``total``."""
    if not _all_contiguous(param, grad, total):
        return reference.adagrad_update(param, grad, total, lr, eps, weight_decay)
    _run_flat(_adagrad_update, (param, grad, total), float(lr), float(eps), float(weight_decay or 0.0))
