"""CUDA launcher of ``reference/loss.py``: softmax cross-entropy (``cuda/softmax_cross_entropy.cu``).

A team of threads per row (about K of them, up to 256): the row's max and sum of exp are tree
reductions in shared memory; the backward is one thread per element.
"""

from __future__ import annotations

import numpy as np

from .launch import blocks_for, contiguous, get_kernel, int32s, launch

SOFTMAX_THREADS = 256  # must equal BLOCK in softmax_cross_entropy.cu


def softmax_threads_per_row(k: int) -> int:
    """Threads that share one row of K logits: the power of two >= K, at most SOFTMAX_THREADS."""
    threads = 1
    while threads < min(k, SOFTMAX_THREADS):
        threads *= 2
    return threads


def softmax_cross_entropy(logits, labels):
    """Per-sample cross-entropy of softmax(logits); see ``reference.softmax_cross_entropy``.

    logits (N, K) float, labels (N,) int -> losses (N,), probs (N, K).
    """
    xp, logits = contiguous(logits)
    labels = xp.ascontiguousarray(labels, dtype=np.int64)
    n, k = logits.shape
    losses = xp.empty(n, dtype=logits.dtype)
    probs = xp.empty_like(logits)
    if n and k:
        per_row = softmax_threads_per_row(k)
        rows_per_block = SOFTMAX_THREADS // per_row
        kernel = get_kernel("softmax_cross_entropy.cu", "softmax_cross_entropy_forward", logits)
        args = (logits, labels, losses, probs, *int32s(n, k, per_row))
        kernel(blocks_for(n, rows_per_block), (SOFTMAX_THREADS,), args)
    return losses, probs


def softmax_cross_entropy_backward(probs, labels, scale):
    """Gradient of ``scale * sum_i loss_i`` w.r.t. the logits: probs (N, K), labels (N,) -> (N, K)."""
    xp, probs = contiguous(probs)
    labels = xp.ascontiguousarray(labels, dtype=np.int64)
    n, k = probs.shape
    dlogits = xp.empty_like(probs)
    args = (probs, labels, dlogits, probs.dtype.type(scale), *int32s(n, k))
    launch("softmax_cross_entropy.cu", "softmax_cross_entropy_backward", probs.size, args)
    return dlogits
