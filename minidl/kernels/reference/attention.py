"""The masked softmax of attention, forward and backward, and attention's many small products."""

import numpy as np


# ============================================================ masked softmax (attention)
# The softmax inside attention: each row of scores (one query against every key) becomes a
# probability distribution over the keys that the query may see. ``keep`` says which those
# are (1 = may attend, 0 = masked out: a future position under a causal mask, or padding).
# Scores are (G, Tq, Tk) -- G = batch x heads, flattened -- and one mask serves several of
# them: ``keep`` is (Gm, Tq, Tk) with G a multiple of Gm, and group g reads keep[g // (G // Gm)]
# (Gm = 1: one causal mask for all; Gm = N with G = N * H: a padding mask per sample, shared
# by its H heads). Masked entries get probability exactly 0; a row with nothing to attend to
# gives all zeros (PyTorch would give NaN there).
def masked_softmax(scores, keep, scale):
    """Softmax over the last axis of ``scale * scores``, restricted to the kept entries.

        p_ij = keep_ij exp(s scores_ij - m_i) / sum_k keep_ik exp(s scores_ik - m_i),
        m_i = max over kept k of s scores_ik

    Parameters: scores (G, Tq, Tk) float; keep (Gm, Tq, Tk) bool or uint8, G % Gm == 0;
    scale float (1 / sqrt(d) in attention). Returns probs (G, Tq, Tk), same dtype as scores.
    """
    G, Tq, Tk = scores.shape
    Gm = keep.shape[0]
    kept = keep.astype(bool)[:, None]  # (Gm, 1, Tq, Tk)
    s = scores.reshape(Gm, G // Gm, Tq, Tk) * scores.dtype.type(scale)
    m = np.where(kept, s, -np.inf).max(axis=-1, keepdims=True)  # row max over kept keys
    m = np.where(np.isfinite(m), m, 0).astype(scores.dtype)  # a fully masked row: no max
    e = np.exp(np.where(kept, s - m, -np.inf))  # exp(-inf) = 0: masked out
    total = e.sum(axis=-1, keepdims=True)
    probs = e / np.where(total > 0, total, 1)
    return probs.reshape(G, Tq, Tk)


def masked_softmax_backward(probs, dprobs, scale):
    """Gradient of ``masked_softmax`` with respect to its scores.

    The softmax Jacobian is dp_j / dz_k = p_j ([j == k] - p_k); applied to dprobs without
    building it, and times ``scale`` for z = scale * scores:

        dscores_ik = scale * p_ik (dprobs_ik - sum_j dprobs_ij p_ij)

    Masked entries have p = 0, so their gradient is 0 with no mask needed.
    Parameters: probs, dprobs (G, Tq, Tk). Returns dscores (G, Tq, Tk).
    """
    inner = (dprobs * probs).sum(axis=-1, keepdims=True)
    return (probs * (dprobs - inner) * probs.dtype.type(scale)).astype(probs.dtype, copy=False)


# ============================================================ many small products
def batched_matmul(a, b, out=None):
    """c[g] = a[g] b[g] for every matrix g of a batch (attention's Q K^T and P V, one per head):
    a (..., M, K), b (..., K, N), any strides, batch shapes that broadcast -> c (..., M, N),
    written into ``out`` (any strides: heads merged in place, say) where it is given.
    NumPy's ``a @ b``: one BLAS call per matrix, one after another."""
    return np.matmul(a, b, out=out)


def linear_forward(x, weight, bias):
    """y = x W + b, a projection: x (R, K), weight (K, N), bias (N,) or None -> y (R, N); Dense,
    attention's projections, a recurrent layer's inputs. NumPy: the product, then b added in place."""
    y = x @ weight
    if bias is not None:
        y += bias
    return y


def weight_gradient(x, dy):
    """dW = x^T dy, a projection's weight gradient summed over its rows: x (R, A) its input, dy (R, B)
    its output's gradient -> (A, B); R long (a batch, N T positions, T N steps). NumPy: one product."""
    return x.T @ dy
