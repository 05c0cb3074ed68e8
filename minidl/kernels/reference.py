"""NumPy reference kernels: the ground truth, written to be read.

Every function here has a twin with the same name and signature in ``cpu.py`` (Numba)
and ``gpu.py`` (CUDA). The tests feed all tiers the same random inputs and require the
same outputs, so this file is the specification of what the fast tiers compute.

Conventions: images are NCHW, sequences (N, T, D); "in place" arguments are updated and
also documented as such; no function here allocates more than its outputs need.
"""
import numpy as np


# ============================================================ softmax cross-entropy
def softmax_cross_entropy(logits, labels):
    """Per-sample cross-entropy of softmax(logits) against integer labels, fused and stable.

    loss_i = -log softmax(z_i)[y_i] = log sum_k exp(z_ik - m_i) - (z_iy - m_i),  m_i = max_k z_ik

    Subtracting the row maximum keeps ``exp`` from overflowing; taking the log of the
    sum directly (log-sum-exp) avoids ``log(0)`` when a probability underflows.

    Parameters: logits (N, K) float, labels (N,) int in [0, K).
    Returns: losses (N,) and probs (N, K) = softmax(logits), kept for the backward.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    probs = exp / sum_exp
    rows = np.arange(logits.shape[0])
    losses = np.log(sum_exp[:, 0]) - shifted[rows, labels]
    return losses, probs


def softmax_cross_entropy_backward(probs, labels, scale):
    """Gradient of ``scale * sum_i loss_i`` with respect to the logits.

    d loss_i / d z_ik = softmax(z_i)_k - [k == y_i]

    Parameters: probs (N, K) from the forward, labels (N,) int, scale float
    (``1 / N`` for a mean over the batch). Returns dlogits (N, K).
    """
    dlogits = probs * scale
    dlogits[np.arange(probs.shape[0]), labels] -= scale
    return dlogits


# ============================================================ dropout
def dropout_forward(x, uniform, rate):
    """Inverted dropout: zero each element with probability ``rate``, scale the rest by 1/(1-rate).

    Scaling at training time keeps E[y] = x, so inference needs no change at all.

    Parameters: x (any shape), uniform (same shape, U[0, 1) draws), rate in [0, 1).
    Returns: y (like x) and mask (like x): 0 or 1/(1-rate), so that y = x * mask.
    """
    mask = (uniform >= rate).astype(x.dtype) / x.dtype.type(1.0 - rate)
    return x * mask, mask


def dropout_backward(dy, mask):
    """dL/dx = dL/dy * mask: dropped elements pass no gradient, kept ones are scaled alike."""
    return dy * mask


# ============================================================ optimizer updates
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
    m_hat = m / (1.0 - beta1 ** step)
    v_hat = v / (1.0 - beta2 ** step)
    param -= lr * m_hat / (np.sqrt(v_hat) + eps)


# ============================================================ convolution (im2col / col2im)


# ============================================================ pooling


# ============================================================ batch normalization


# ============================================================ recurrent cells
