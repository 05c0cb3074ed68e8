"""Numba twins of ``reference/attention.py``: the masked softmax of attention and its backward.

Rows of scores in parallel for large inputs; the exponentials are left to NumPy (SIMD exp)
between two Numba passes that LLVM vectorises (measured: docs/performance.md, section 6).
"""

import numba
import numpy as np
from numba import njit, prange

from .. import blas_pool
from .loops import SUM_MATH, _u, pick, threaded


# ============================================================ masked softmax (attention)
# Three passes over the scores instead of one: Numba cannot vectorise exp (LLVM has no vector
# exp without Intel's SVML, which is not installed), so one loop that calls exp per element is
# several times slower than NumPy's SIMD exp. So the exponentials are left to NumPy, between
# two Numba passes that LLVM does vectorise: the shifted, scaled scores with -inf at the
# masked keys, then the row sums and one multiplication per element by 1 / sum.
# exp(-inf) = 0 makes the masked entries exactly 0. (Measured: see docs/performance.md.)
@threaded()
def _masked_softmax_shift(scores, keep, scale, z):
    # z = scale * scores - (row max over kept keys), -inf where masked (and on a row with no key)
    G, Tq, Tk = scores.shape
    per_mask = G // keep.shape[0]
    scores_flat, keep_flat, z_flat = scores.reshape(-1), keep.reshape(-1), z.reshape(-1)
    minus_inf = z.dtype.type(-np.inf)
    for row in prange(G * Tq):
        g, i = row // Tq, row % Tq
        start = _u(row * Tk)
        mask_start = _u(((g // per_mask) * Tq + i) * Tk)
        m = minus_inf
        for j in range(Tk):
            if keep_flat[mask_start + _u(j)]:
                m = max(m, scale * scores_flat[start + _u(j)])
        for j in range(Tk):
            kept = keep_flat[mask_start + _u(j)] != 0
            z_flat[start + _u(j)] = scale * scores_flat[start + _u(j)] - m if kept else minus_inf


@threaded(fastmath=set(SUM_MATH))
def _normalise_rows(e, Tk):
    # each row of Tk numbers times 1 / its sum (a row of zeros, every key masked, stays 0)
    e_flat = e.reshape(-1)
    for row in prange(e_flat.size // Tk):
        start = _u(row * Tk)
        total = 0.0
        for j in range(Tk):
            total += e_flat[start + _u(j)]
        if total > 0:
            inverse = e_flat.dtype.type(1.0 / total)  # one division per row, in e's precision
            for j in range(Tk):
                e_flat[start + _u(j)] *= inverse


def masked_softmax(scores, keep, scale):
    """Numba twin of ``reference.masked_softmax``: shift, NumPy's exp, normalise (rows in parallel)."""
    scores = np.ascontiguousarray(scores)
    keep = (
        np.ascontiguousarray(keep).view(np.uint8)
        if keep.dtype == np.bool_
        else np.ascontiguousarray(keep, dtype=np.uint8)
    )
    probs = np.empty_like(scores)
    kernel = pick(_masked_softmax_shift, _masked_softmax_shift.serial, scores.size)
    kernel(scores, keep, scores.dtype.type(scale), probs)
    np.exp(probs, out=probs)
    pick(_normalise_rows, _normalise_rows.serial, probs.size)(probs, scores.shape[-1])
    return probs


@threaded(fastmath=set(SUM_MATH))
def _masked_softmax_backward(probs, dprobs, scale, dscores):
    # one row per iteration: the Jacobian-vector product needs the row's sum of dp * p first;
    # unsigned flat offsets (see ``loops.py``) so both loops vectorise
    G, Tq, Tk = probs.shape
    p_flat, dp_flat, ds_flat = probs.reshape(-1), dprobs.reshape(-1), dscores.reshape(-1)
    for row in prange(G * Tq):
        start = _u(row * Tk)
        inner = 0.0
        for j in range(Tk):
            inner += dp_flat[start + _u(j)] * p_flat[start + _u(j)]
        for j in range(Tk):
            ds_flat[start + _u(j)] = scale * p_flat[start + _u(j)] * (dp_flat[start + _u(j)] - inner)


def masked_softmax_backward(probs, dprobs, scale):
    """Numba twin of ``reference.masked_softmax_backward``."""
    probs, dprobs = np.ascontiguousarray(probs), np.ascontiguousarray(dprobs, dtype=probs.dtype)
    dscores = np.empty_like(probs)
    kernel = pick(_masked_softmax_backward, _masked_softmax_backward.serial, probs.size)
    kernel(probs, dprobs, probs.dtype.type(scale), dscores)
    return dscores


# ============================================================ many small products
# Attention's products are one small matrix per head and sample (T x d by d x T): too small for
# OpenBLAS to split (it keeps a product of m n k <= 2^18 on one thread), and NumPy calls them one
# after another. Here the threads take the products in turn, each one OpenBLAS's ``gemm``.
BATCH_MAX_MNK = 1 << 18  # m n k of the products that get one thread each (OpenBLAS's threshold)


@njit(parallel=True, cache=True)
def _each_product(gemm_at, a, b, c, trans_a, trans_b, lda, ldb):
    # c[i, j] = a[i, j] b[i, j] for (B1, B2, ., .) arrays, a matrix read transposed where its
    # columns are contiguous (trans_*); leading dimensions in elements
    B1, B2, M, N = c.shape
    K = a.shape[3]
    size = c.itemsize
    for g in prange(B1 * B2):
        i, j = g // B2, g % B2
        top_a = a.ctypes.data + (i * a.strides[0] + j * a.strides[1])
        top_b = b.ctypes.data + (i * b.strides[0] + j * b.strides[1])
        top_c = c.ctypes.data + (i * B2 + j) * M * N * size
        zero = c.dtype.type(0)
        blas_pool.gemm(gemm_at, trans_a, trans_b, M, N, K, top_a, lda, top_b, ldb, zero, top_c, N)  # type: ignore[call-arg]


def _as_rows(x):
    """(x, transposed, leading dimension) for BLAS: the matrices of x (..., R, C) with rows or
    columns contiguous, x copied where neither."""
    size = x.itemsize
    if x.strides[-1] == size and x.strides[-2] >= max(1, x.shape[-1]) * size:
        return x, 0, x.strides[-2] // size
    if x.strides[-2] == size and x.strides[-1] >= max(1, x.shape[-2]) * size:
        return x, 1, x.strides[-1] // size
    x = np.ascontiguousarray(x)
    return x, 0, x.shape[-1]


def batched_matmul(a, b):
    """Numba twin of ``reference.batched_matmul``: the small products on threads of their own."""
    *batch, M, K = a.shape
    N = b.shape[-1]
    gemm_at = blas_pool.gemm_address(a.dtype) if a.dtype == b.dtype else 0
    if (
        not gemm_at
        or a.ndim not in (3, 4)
        or tuple(b.shape[:-2]) != tuple(batch)
        or b.shape[-2] != K
        or M * N * K > BATCH_MAX_MNK
        or numba.get_num_threads() < 2
        or 0 in a.shape + b.shape
    ):
        return np.matmul(a, b)
    (a, trans_a, lda), (b, trans_b, ldb) = _as_rows(a), _as_rows(b)
    a4, b4 = (a, b) if a.ndim == 4 else (a[None], b[None])
    c = np.empty(a4.shape[:2] + (M, N), dtype=a.dtype)
    with blas_pool.one_thread():
        _each_product(gemm_at, a4, b4, c, trans_a, trans_b, lda, ldb)
    return c.reshape(tuple(batch) + (M, N))
