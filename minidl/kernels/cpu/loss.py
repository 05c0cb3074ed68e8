"""Numba twin of ``reference/loss.py``: softmax cross-entropy, forward and backward.

One row of logits per sample, rows in parallel (for large batches), each row in one pass
over its K classes: max, sum of exp, loss and probabilities without a temporary array.
"""

import numpy as np
from numba import prange

from .loops import pick, threaded


# ============================================================ softmax cross-entropy
@threaded()
def _softmax_cross_entropy(logits, labels, losses, probs):
    # one row per thread: each row is a max, an exp-sum and a normalisation, all in cache
    for n in prange(logits.shape[0]):
        row_max = logits[n, 0]
        for k in range(1, logits.shape[1]):
            row_max = max(row_max, logits[n, k])
        sum_exp = 0.0
        for k in range(logits.shape[1]):
            e = np.exp(logits[n, k] - row_max)
            probs[n, k] = e
            sum_exp += e
        for k in range(logits.shape[1]):
            probs[n, k] = probs[n, k] / sum_exp
        losses[n] = np.log(sum_exp) - (logits[n, labels[n]] - row_max)


def softmax_cross_entropy(logits, labels):
    """Numba twin of ``reference.softmax_cross_entropy``: rows in parallel, one pass each."""
    logits = np.ascontiguousarray(logits)
    losses = np.empty(logits.shape[0], dtype=logits.dtype)
    probs = np.empty_like(logits)
    kernel = pick(_softmax_cross_entropy, _softmax_cross_entropy.serial, logits.size)
    kernel(logits, np.ascontiguousarray(labels, dtype=np.int64), losses, probs)
    return losses, probs


@threaded()
def _softmax_cross_entropy_backward(probs, labels, scale, dlogits):
    # fused "scale, then subtract at the label": one write per element instead of two passes
    for n in prange(probs.shape[0]):
        for k in range(probs.shape[1]):
            dlogits[n, k] = probs[n, k] * scale
        dlogits[n, labels[n]] -= scale


def softmax_cross_entropy_backward(probs, labels, scale):
    """Numba twin of ``reference.softmax_cross_entropy_backward``."""
    probs = np.ascontiguousarray(probs)
    dlogits = np.empty_like(probs)
    kernel = pick(_softmax_cross_entropy_backward, _softmax_cross_entropy_backward.serial, probs.size)
    kernel(probs, np.ascontiguousarray(labels, dtype=np.int64), probs.dtype.type(scale), dlogits)
    return dlogits
