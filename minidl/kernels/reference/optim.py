"""The optimizers' update rules, in place: SGD (momentum, Nesterov), Adam and AdamW, RMSprop, Adagrad.

PyTorch's documented rules, one elementwise update each, so results can be compared with it.
"""

import numpy as np


def sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay):
    """One SGD step, in place on ``param`` and ``velocity`` (PyTorch's rule, dampening 0).

    g = grad + weight_decay * param
    v = momentum * v + g                  (v starts at 0, so the first v is g)
    step = g + momentum * v if nesterov else v
    param -= lr * step
    """
    g = grad + weight_decay * param if weight_decay else grad
    if momentum:
        velocity *= momentum
        velocity += g
        g = g + momentum * velocity if nesterov else velocity
    param -= lr * g


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """One Adam (or AdamW) step, in place on ``param``, ``m`` and ``v`` (PyTorch's rule).

    decoupled (AdamW): param *= 1 - lr * weight_decay;  otherwise g = grad + weight_decay * param
    m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
    m_hat = m / (1 - beta1^step)         v_hat = v / (1 - beta2^step)      (step counts from 1)
    param -= lr * m_hat / (sqrt(v_hat) + eps)
    """
    g = grad
    if weight_decay and decoupled:
        param *= 1.0 - lr * weight_decay
    elif weight_decay:
        g = grad + weight_decay * param
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * g * g
    m_hat = m / (1.0 - beta1**step)
    v_hat = v / (1.0 - beta2**step)
    param -= lr * m_hat / (np.sqrt(v_hat) + eps)


def rmsprop_update(param, grad, square_avg, buffer, lr, alpha, eps, momentum, weight_decay):
    """One RMSprop step, in place on ``param``, ``square_avg`` and ``buffer`` (PyTorch's rule).

    g = grad + weight_decay * param
    s = alpha s + (1 - alpha) g^2          step = g / (sqrt(s) + eps)
    b = momentum b + step, step = b        (with momentum only; ``buffer`` is untouched without)
    param -= lr * step
    """
    g = grad + weight_decay * param if weight_decay else grad
    square_avg *= alpha
    square_avg += (1.0 - alpha) * g * g
    step = g / (np.sqrt(square_avg) + eps)
    if momentum:
        buffer *= momentum
        buffer += step
        step = buffer
    param -= lr * step


def adagrad_update(param, grad, total, lr, eps, weight_decay):
    """One Adagrad step, in place on ``param`` and ``total`` (PyTorch's rule, no lr decay).

    g = grad + weight_decay * param
    total += g^2                           (the sum of every past squared gradient)
    param -= lr * g / (sqrt(total) + eps)
    """
    g = grad + weight_decay * param if weight_decay else grad
    total += g * g
    param -= lr * g / (np.sqrt(total) + eps)
