"""Numba twins of ``reference/attention.py``: the masked softmax of attention and its backward,
and the small products of its heads.

Rows of scores in parallel for large inputs, one pass each, float32's exp written out so that LLVM
vectorises it (measured: docs/performance.md, sections 6 and 16); the heads' products a thread each.
"""

import math

import numpy as np
from llvmlite import ir
from numba import get_num_threads, njit, prange, types
from numba.extending import intrinsic, overload

from .. import blas_pool
from ..reference import attention as reference
from .loops import SUM_MATH, _u, pick, threaded, threads_pay


# ============================================================ masked softmax (attention)
# One pass per row: its max over the kept keys, then exp, sum and 1 / sum. Numba cannot vectorise
# a call of exp (LLVM has no vector exp without Intel's SVML, which is not installed): a loop
# calling it spent 3.5-5 ns an element, against NumPy's SIMD exp's 0.5. So float32 takes exp
# written out as multiply-adds LLVM does vectorise (``_exp_f32``): x = n ln 2 + r with
# |r| <= ln 2 / 2, e^r by Cephes' polynomial (within 2 float32 ulp), 2^n as the bits of a float
# (exponent n + 127). float64 (the gradient checks') calls exp. Masked keys get exactly 0.
@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose 32 bits are the int32 ``bits``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@njit(inline="always", fastmath={"nsz", "contract"})
def _exp_f32(x):
    x = max(x, np.float32(-87.0))  # 2^n stays a normal float; e^-87 ~ 1.6e-38 counts as 0 in a sum
    n = np.floor(x * np.float32(1.44269504) + np.float32(0.5))  # x / ln 2, rounded
    r = x - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)  # ln 2 in two parts
    p = np.float32(1.9875691500e-4)
    for c in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
        p = p * r + np.float32(c)
    return (p * r * r + r + np.float32(1.0)) * _float32_from_bits((np.int32(n) + np.int32(127)) << 23)  # type: ignore[call-arg]


def _exp(x):
    """e^x for the softmax kernel (plain Python under NUMBA_DISABLE_JIT=1)."""
    return math.exp(x)


@overload(_exp)
def _exp_typed(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _exp_f32(x)
    return lambda x: math.exp(x)


@threaded(fastmath=set(SUM_MATH))
def _masked_softmax(scores, keep, scale, probs):
    G, Tq, Tk = scores.shape
    per_mask = G // keep.shape[0]
    scores_flat, keep_flat, probs_flat = scores.reshape(-1), keep.reshape(-1), probs.reshape(-1)
    zero = probs.dtype.type(0)
    for row in prange(G * Tq):
        g, i = row // Tq, row % Tq
        start = _u(row * Tk)
        mask_start = _u(((g // per_mask) * Tq + i) * Tk)
        m = probs.dtype.type(-np.inf)
        for j in range(Tk):
            if keep_flat[mask_start + _u(j)]:
                m = max(m, scale * scores_flat[start + _u(j)])
        for j in range(Tk):
            e = _exp(scale * scores_flat[start + _u(j)] - m)
            probs_flat[start + _u(j)] = e if keep_flat[mask_start + _u(j)] != 0 else zero
        total = zero
        for j in range(Tk):  # its own loop: vectorised alike with and without threads
            total += probs_flat[start + _u(j)]
        if total > 0:  # a row with every key masked stays 0
            inverse = probs.dtype.type(1.0 / total)  # one division per row, in probs' precision
            for j in range(Tk):
                probs_flat[start + _u(j)] *= inverse


def masked_softmax(scores, keep, scale):
    """Numba twin of ``reference.masked_softmax``: one pass per row (rows in parallel)."""
    scores = np.ascontiguousarray(scores)
    keep = (
        np.ascontiguousarray(keep).view(np.uint8)
        if keep.dtype == np.bool_
        else np.ascontiguousarray(keep, dtype=np.uint8)
    )
    probs = np.empty_like(scores)
    pick(_masked_softmax, _masked_softmax.serial, scores.size)(scores, keep, scores.dtype.type(scale), probs)
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
# Attention's products, one per head and sample (T x d by d x T), are too small for OpenBLAS to
# split (m n k <= 2^18 stays on one thread) and NumPy calls them in turn: here threads share them
# (on one thread too: Q K^T's copied heads made the loop faster than NumPy's, 321 vs 465 us).
BATCH_MAX_MNK = 1 << 18  # m n k of the products that get one thread each (OpenBLAS's threshold)


@njit(parallel=True, cache=True)
def _each_product(gemm_at, a, b, c, trans_a, trans_b, lda, ldb):
    # c[i, j] = a[i, j] b[i, j] for (B1, B2, ., .) arrays, a read transposed where its columns
    # are contiguous (trans_a), c's rows contiguous; leading dimensions in elements. A b whose
    # columns are contiguous (K^T) is copied into rows first, by its task: OpenBLAS's AVX-512
    # "direct" sgemm takes only untransposed b (Q K^T on 2 threads: 228 -> 119 us for 128 heads)
    B1, B2, M, N = c.shape
    K, ldc, zero = a.shape[3], c.strides[2] // c.itemsize, c.dtype.type(0)
    for g in prange(B1 * B2):
        i, j = g // B2, g % B2
        top_a = a.ctypes.data + (i * a.strides[0] + j * a.strides[1])
        top_c = c.ctypes.data + (i * c.strides[0] + j * c.strides[1])
        b_rows = np.ascontiguousarray(b[i, j]) if trans_b else b[i, j]
        ld = N if trans_b else ldb
        blas_pool.gemm(gemm_at, trans_a, 0, M, N, K, top_a, lda, b_rows.ctypes.data, ld, zero, top_c, ldc)  # type: ignore[call-arg]


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


def batched_matmul(a, b, out=None):
    """Numba twin of ``reference.batched_matmul``: the small products on threads of their own."""
    (M, K), N = a.shape[-2:], b.shape[-1]
    gemm_at = blas_pool.gemm_address(a.dtype) if a.dtype == b.dtype and a.ndim in (3, 4) else 0
    small = b.shape[:-1] == a.shape[:-2] + (K,) and 0 < M * N * K <= BATCH_MAX_MNK and a.size > 0
    size, shape = a.itemsize, a.shape[:-1] + (N,)  # an ``out`` written in place: rows contiguous
    rows = out is None or (out.shape == shape and out.dtype == a.dtype and out.strides[-1] == size)
    rows = rows and (out is None or out.strides[-2] >= N * size)
    if not (gemm_at and small and rows):
        return np.matmul(a, b, out=out)
    (a, trans_a, lda), (b, trans_b, ldb) = _as_rows(a), _as_rows(b)
    c = np.empty(shape, dtype=a.dtype) if out is None else out
    a4, b4, c4 = (x if x.ndim == 4 else x[None] for x in (a, b, c))
    with blas_pool.one_thread():
        _each_product(gemm_at, a4, b4, c4, trans_a, trans_b, lda, ldb)
    return c


# ============================================================ projections: y = x W + b
# NumPy adds b on one core to rows the others wrote (2048 x 384, 2 threads: 0.78 ms, the product 0.57);
# here each thread adds it to its block of rows while they are in its cache: 0.62 (performance.md, 18).
@njit(parallel=True, cache=True)
def _blocks_of_rows(gemm_at, x, weight, bias, y, blocks):
    R, N = y.shape
    for block in prange(blocks):
        lo, hi = block * R // blocks, (block + 1) * R // blocks
        blas_pool.matmul_rows(gemm_at, x, lo, hi, weight, y, N)
        for r in range(lo, hi):
            for j in range(N):
                y[r, j] += bias[j]


def linear_forward(x, weight, bias):
    """Numba twin of ``reference.linear_forward``: with threads, a block of rows per thread, its
    product and its bias; else (and for what does not fit the kernel) NumPy's, BLAS's own threads."""
    fits = x.ndim == weight.ndim == 2 and x.shape[1] == len(weight) and bias is not None
    fits = fits and bias.shape == weight.shape[1:] and x.dtype == weight.dtype == bias.dtype
    if not (fits and threads_pay(len(x) * bias.size) and blas_pool.gemm_address(x.dtype)):
        return reference.linear_forward(x, weight, bias)
    y = np.empty((len(x), bias.size), x.dtype)
    with blas_pool.one_thread():
        x, weight = np.ascontiguousarray(x), np.ascontiguousarray(weight)
        _blocks_of_rows(blas_pool.gemm_address(x.dtype), x, weight, bias, y, get_num_threads())
    return y


# ============================================================ weight gradients: dW = x^T dy
# OpenBLAS splits a product's result over its threads, never its sum: a small dW over many rows splits
# badly (128 x 128 over 2048 rows: 0.47 ms, 0.34 on two threads). Here each thread sums a block of rows
# into a dW of its own, then they are added (0.24 ms); up to 2^14 elements of dW a thread, above which
# OpenBLAS's split does as well (128 x 384: 0.68 ms against 0.74; docs/performance.md, section 18).
SPLIT_MAX_SHARE = 1 << 14


@njit(parallel=True, cache=True)
def _sum_over_blocks(gemm_at, left, right, parts, out, wide):
    # parts[p] = left_p^T right_p over block p of the rows (dy^T x, (B, A), where dy is ``wide``)
    R, m = left.shape
    n, size, zero = right.shape[1], left.itemsize, left.dtype.type(0)
    for p in prange(len(parts)):
        lo, hi = p * R // len(parts), (p + 1) * R // len(parts)
        top_left, top_right = left.ctypes.data + lo * m * size, right.ctypes.data + lo * n * size
        blas_pool.gemm(gemm_at, 1, 0, m, n, hi - lo, top_left, m, top_right, n, zero, parts[p].ctypes.data, n)  # type: ignore[call-arg]
    for a in prange(out.shape[0]):
        for b in range(out.shape[1]):
            total = parts[0, b, a] if wide else parts[0, a, b]
            for p in range(1, len(parts)):
                total += parts[p, b, a] if wide else parts[p, a, b]
            out[a, b] = total


def weight_gradient(x, dy):
    """Numba twin of ``reference.weight_gradient``: with threads, rows enough (at least A, B and 128
    a thread) and a small dW, a block of rows per thread; else one product, in the faster order."""
    wide, threads = dy.shape[-1] > x.shape[-1], get_num_threads()
    fits = x.ndim == dy.ndim == 2 and len(x) == len(dy) and x.dtype == dy.dtype
    fits = fits and len(x) >= max(x.shape[1], dy.shape[1], 128 * threads) and threads_pay(x.size + dy.size)
    fits = fits and x.shape[1] * dy.shape[1] <= SPLIT_MAX_SHARE * threads
    if not (fits and blas_pool.gemm_address(x.dtype)):
        return (dy.T @ x).T if wide else x.T @ dy
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    out = np.empty((x.shape[1], dy.shape[1]), x.dtype)
    parts = np.empty((threads,) + (out.shape[::-1] if wide else out.shape), x.dtype)
    with blas_pool.one_thread():
        _sum_over_blocks(blas_pool.gemm_address(x.dtype), *((dy, x) if wide else (x, dy)), parts, out, wide)
    return out
