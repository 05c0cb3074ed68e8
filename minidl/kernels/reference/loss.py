"""Softmax cross-entropy, forward and backward: the loss of every classifier in the course.

Computed from the logits in one stable step (log-sum-exp shifted by the row's max), so no
probability is ever rounded to 0 and then logged.
"""

import numpy as np


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
