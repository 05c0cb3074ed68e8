"""CUDA launcher of ``reference/attention.py``: the masked softmax (``cuda/masked_softmax.cu``);
the small products are CuPy's.

One thread per row of scores, forward and backward: rows are short (the keys of one query).
"""

from __future__ import annotations

import numpy as np

from .launch import contiguous, int32s, launch, real_array


# ============================================================ masked softmax (attention)
def masked_softmax(scores, keep, scale):
    """Softmax of ``scale * scores`` over the kept keys; see ``reference.masked_softmax``.

    scores (G, Tq, Tk) float, keep (Gm, Tq, Tk) bool or uint8 with G % Gm == 0 -> probs (G, Tq, Tk).
    """
    xp, scores = contiguous(scores)
    keep = xp.ascontiguousarray(keep).astype(np.uint8, copy=False)
    G, Tq, Tk = scores.shape
    if keep.shape[1:] != (Tq, Tk) or keep.shape[0] == 0 or G % keep.shape[0]:
        raise ValueError(
            f"masked_softmax: keep must be (Gm, {Tq}, {Tk}) with {G} a multiple of Gm, "
            f"got {tuple(keep.shape)}"
        )
    probs = xp.empty_like(scores)
    args = (scores, keep, probs, scores.dtype.type(scale), *int32s(G, keep.shape[0], Tq, Tk))
    launch("masked_softmax.cu", "masked_softmax_forward", G * Tq if scores.size else 0, args)
    return probs


def masked_softmax_backward(probs, dprobs, scale):
    """dscores of ``masked_softmax``: probs, dprobs (G, Tq, Tk) -> (G, Tq, Tk)."""
    xp, probs = contiguous(probs)
    dprobs = real_array(xp, dprobs, probs.dtype)
    dscores = xp.empty_like(probs)
    rows = probs.size // probs.shape[-1] if probs.size else 0
    args = (probs, dprobs, dscores, probs.dtype.type(scale), np.int64(rows), np.int32(probs.shape[-1]))
    launch("masked_softmax.cu", "masked_softmax_backward", rows, args)
    return dscores


def batched_matmul(a, b, out=None):
    """c[g] = a[g] b[g]; see ``reference.batched_matmul`` (CuPy's batched product)."""
    if out is None:
        return a @ b
    out[...] = a @ b  # a strided ``out`` as NumPy takes it
    return out


def linear_forward(x, weight, bias):
    """y = x W + b; see ``reference.linear_forward`` (cuBLAS's product)."""
    return x @ weight if bias is None else x @ weight + bias


def weight_gradient(x, dy):
    """dW = x^T dy; see ``reference.weight_gradient`` (cuBLAS's product)."""
    return x.T @ dy
