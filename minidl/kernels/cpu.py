"""Numba versions of ``reference.py``: same names, same signatures, same results.

Each kernel says in one line why it is shaped as it is. ``NUMBA_DISABLE_JIT=1`` turns
every kernel back into plain Python for debugging.
"""

import math
import types as _pytypes

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from . import common, reference
from .common import conv_output_length, pool_output_length

# ============================================================ one thread or all of them
# Every loop nest below that is written with ``prange`` is compiled twice: with threads
# (``parallel=True``) and without (``_serial`` twin, where prange runs as range). Waking a
# thread pool costs tens of microseconds, and on a machine with few cores the pool must
# also win the cores back from OpenBLAS, whose threads keep spinning for a while after every
# matrix product: on a 2-core machine a LeNet-5 step was slower with parallel kernels than
# with serial ones (measured: see docs/performance.md). So a kernel uses threads only when
# its array has at least PARALLEL_MIN_ELEMENTS elements (about 8 MB of float32), where the
# split pays for itself.
PARALLEL_MIN_ELEMENTS = 1 << 21


def serial_twin(kernel):
    """The same loop nest as ``kernel`` compiled without threads (under its own cache name)."""
    py_func = getattr(kernel, "py_func", kernel)  # plain function under NUMBA_DISABLE_JIT
    twin = _pytypes.FunctionType(
        py_func.__code__,
        py_func.__globals__,
        py_func.__name__ + "_serial",
        py_func.__defaults__,
        py_func.__closure__,
    )
    twin.__qualname__ = py_func.__qualname__ + "_serial"
    options = {
        k: v for k, v in getattr(kernel, "targetoptions", {}).items() if k in ("fastmath", "error_model")
    }  # the twin keeps the kernel's math flags
    return njit(cache=True, **options)(twin)


def threads_pay(elements: int) -> bool:
    """Whether a kernel over ``elements`` array elements should run its parallel version."""
    return elements >= PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1


def _pick(kernel, serial, elements):
    return kernel if threads_pay(elements) else serial


# ============================================================ softmax cross-entropy
@njit(parallel=True, cache=True)
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


_softmax_cross_entropy_serial = serial_twin(_softmax_cross_entropy)


def softmax_cross_entropy(logits, labels):
    """Numba twin of ``reference.softmax_cross_entropy``: rows in parallel, one pass each."""
    logits = np.ascontiguousarray(logits)
    losses = np.empty(logits.shape[0], dtype=logits.dtype)
    probs = np.empty_like(logits)
    kernel = _pick(_softmax_cross_entropy, _softmax_cross_entropy_serial, logits.size)
    kernel(logits, np.ascontiguousarray(labels, dtype=np.int64), losses, probs)
    return losses, probs


@njit(parallel=True, cache=True)
def _softmax_cross_entropy_backward(probs, labels, scale, dlogits):
    # fused "scale, then subtract at the label": one write per element instead of two passes
    for n in prange(probs.shape[0]):
        for k in range(probs.shape[1]):
            dlogits[n, k] = probs[n, k] * scale
        dlogits[n, labels[n]] -= scale


_softmax_cross_entropy_backward_serial = serial_twin(_softmax_cross_entropy_backward)


def softmax_cross_entropy_backward(probs, labels, scale):
    """Numba twin of ``reference.softmax_cross_entropy_backward``."""
    probs = np.ascontiguousarray(probs)
    dlogits = np.empty_like(probs)
    kernel = _pick(_softmax_cross_entropy_backward, _softmax_cross_entropy_backward_serial, probs.size)
    kernel(probs, np.ascontiguousarray(labels, dtype=np.int64), probs.dtype.type(scale), dlogits)
    return dlogits


# ============================================================ dropout
@njit(parallel=True, cache=True)
def _dropout_forward(x, uniform, rate, keep_scale, y, mask):
    # flat parallel loop: mask and output written in the same pass over memory
    for i in prange(x.size):
        m = keep_scale if uniform[i] >= rate else keep_scale * 0
        mask[i] = m
        y[i] = x[i] * m


_dropout_forward_serial = serial_twin(_dropout_forward)


def dropout_forward(x, uniform, rate):
    """Numba twin of ``reference.dropout_forward`` (mask = 0 or 1/(1-rate), y = x * mask)."""
    x = np.ascontiguousarray(x)
    keep_scale = x.dtype.type(1.0) / x.dtype.type(1.0 - rate)
    y, mask = np.empty_like(x), np.empty_like(x)
    kernel = _pick(_dropout_forward, _dropout_forward_serial, x.size)
    kernel(
        x.reshape(-1),
        np.ascontiguousarray(uniform).reshape(-1),
        rate,
        keep_scale,
        y.reshape(-1),
        mask.reshape(-1),
    )
    return y, mask


@njit(parallel=True, cache=True)
def _multiply(a, b, out):
    for i in prange(a.size):
        out[i] = a[i] * b[i]


_multiply_serial = serial_twin(_multiply)


def dropout_backward(dy, mask):
    """Numba twin of ``reference.dropout_backward`` (dx = dy * mask)."""
    dy, mask = np.ascontiguousarray(dy), np.ascontiguousarray(mask)
    dx = np.empty_like(dy)
    kernel = _pick(_multiply, _multiply_serial, dy.size)
    kernel(dy.reshape(-1), mask.reshape(-1), dx.reshape(-1))
    return dx


# ============================================================ optimizer updates
def _all_contiguous(*arrays):
    return all(a.flags.c_contiguous for a in arrays)


@njit(parallel=True, cache=True)
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


_sgd_update_serial = serial_twin(_sgd_update)


def sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay):
    """Numba twin of ``reference.sgd_update``: in place on ``param`` (and ``velocity`` with momentum)."""
    if not momentum:
        velocity = param  # never read or written without momentum; any array of the right type
    if not _all_contiguous(param, grad, velocity):
        return reference.sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay)
    kernel = _pick(_sgd_update, _sgd_update_serial, param.size)
    kernel(
        param.reshape(-1),
        grad.reshape(-1),
        velocity.reshape(-1),
        float(lr),
        float(momentum),
        bool(nesterov),
        float(weight_decay or 0.0),
    )


@njit(parallel=True, cache=True)
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


_adam_update_serial = serial_twin(_adam_update)


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """Numba twin of ``reference.adam_update``: in place on ``param``, ``m`` and ``v``."""
    if not _all_contiguous(param, grad, m, v):
        return reference.adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled)
    kernel = _pick(_adam_update, _adam_update_serial, param.size)
    kernel(
        param.reshape(-1),
        grad.reshape(-1),
        m.reshape(-1),
        v.reshape(-1),
        float(lr),
        float(beta1),
        float(beta2),
        float(eps),
        int(step),
        float(weight_decay or 0.0),
        bool(decoupled),
    )


@njit(parallel=True, cache=True)
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


_rmsprop_update_serial = serial_twin(_rmsprop_update)


def rmsprop_update(param, grad, square_avg, buffer, lr, alpha, eps, momentum, weight_decay):
    """Numba twin of ``reference.rmsprop_update``: in place on ``param``, ``square_avg`` (and ``buffer``)."""
    if not momentum:
        buffer = param  # never read or written without momentum
    if not _all_contiguous(param, grad, square_avg, buffer):
        return reference.rmsprop_update(
            param, grad, square_avg, buffer, lr, alpha, eps, momentum, weight_decay
        )
    kernel = _pick(_rmsprop_update, _rmsprop_update_serial, param.size)
    kernel(
        param.reshape(-1),
        grad.reshape(-1),
        square_avg.reshape(-1),
        buffer.reshape(-1),
        float(lr),
        float(alpha),
        float(eps),
        float(momentum or 0.0),
        float(weight_decay or 0.0),
    )


@njit(parallel=True, cache=True)
def _adagrad_update(param, grad, total, lr, eps, weight_decay):
    coef = np.empty(3, param.dtype)  # the scalars in param's precision, as the reference computes
    coef[0], coef[1], coef[2] = lr, eps, weight_decay
    lr_t, eps_t, decay_t = coef[0], coef[1], coef[2]
    for i in prange(param.size):
        g = grad[i] + decay_t * param[i] if weight_decay != 0.0 else grad[i]
        s = total[i] + g * g
        total[i] = s
        param[i] -= lr_t * g / (np.sqrt(s) + eps_t)


_adagrad_update_serial = serial_twin(_adagrad_update)


def adagrad_update(param, grad, total, lr, eps, weight_decay):
    """Numba twin of ``reference.adagrad_update``: in place on ``param`` and ``total``."""
    if not _all_contiguous(param, grad, total):
        return reference.adagrad_update(param, grad, total, lr, eps, weight_decay)
    kernel = _pick(_adagrad_update, _adagrad_update_serial, param.size)
    kernel(
        param.reshape(-1),
        grad.reshape(-1),
        total.reshape(-1),
        float(lr),
        float(eps),
        float(weight_decay or 0.0),
    )


# ============================================================ convolution (im2col / col2im)
@njit(cache=True, inline="always")
def _valid_range(count, offset, stride, size):
    """The positions o in [0, count) with 0 <= o * stride + offset < size, as (first, stop)."""
    first = 0 if offset >= 0 else (-offset + stride - 1) // stride
    stop = (size - 1 - offset) // stride + 1 if size - 1 - offset >= 0 else 0
    return first, max(first, min(count, stop))


# Long sums (a channel's batch-norm statistics, a row of attention scores, a convolution's
# shifted dot products) are reductions: without permission to reorder them, each addition
# waits for the previous one (4 cycles), and a pass costs about 1 ns per element. With
# ``reassoc`` LLVM keeps several vector accumulators instead; the order of the additions then
# differs from the reference's, at rounding. NaN and inf still propagate.
_SUM_MATH = frozenset({"nsz", "contract", "reassoc"})  # (Numba takes a set: set(_SUM_MATH))


# Index arithmetic note for the copy kernels below: Numba checks every signed index for
# "negative means from the end" (a branch per element), which keeps LLVM from vectorising
# the inner loops. Flat 1-D views indexed by unsigned offsets (``_u``) skip that check; the
# ranges computed by ``_valid_range`` guarantee the offsets are in bounds (measured: see
# docs/performance.md).
_u = np.uint64


@njit(parallel=True, cache=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, OH, OW, cols):
    # one task per row (c, i, j); padding zeroed by ranges computed once per row (no test
    # per pixel); unsigned flat offsets so the inner copy vectorises
    N, C, H, W = x.shape
    x_flat, cols_flat = x.reshape(-1), cols.reshape(-1)
    block = N * OH * OW
    for row in prange(C * kh * kw):
        c, i, j = row // (kh * kw), (row // kw) % kh, row % kw
        h_first, h_stop = _valid_range(OH, i - ph, sh, H)
        w_first, w_stop = _valid_range(OW, j - pw, sw, W)
        for n in range(N):
            for oh in range(OH):
                out = _u(row * block + (n * OH + oh) * OW)
                if oh < h_first or oh >= h_stop:  # the window row lies in the padding
                    for ow in range(OW):
                        cols_flat[out + _u(ow)] = 0
                    continue
                for ow in range(w_first):
                    cols_flat[out + _u(ow)] = 0
                source = _u(((n * C + c) * H + oh * sh + i - ph) * W + w_first * sw + j - pw)
                first = out + _u(w_first)
                for t in range(w_stop - w_first):
                    cols_flat[first + _u(t)] = x_flat[source + _u(t * sw)]
                for ow in range(w_stop, OW):
                    cols_flat[out + _u(ow)] = 0


_im2col_serial = serial_twin(_im2col)


def im2col(x, kh, kw, sh, sw, ph, pw):
    """Numba twin of ``reference.im2col``: cols (C*kh*kw, N*OH*OW)."""
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    cols = np.empty((C * kh * kw, N * OH * OW), dtype=x.dtype)
    kernel = _pick(_im2col, _im2col_serial, cols.size)
    kernel(x, kh, kw, sh, sw, ph, pw, OH, OW, cols)
    return cols


@njit(parallel=True, cache=True)
def _col2im(cols, kh, kw, sh, sw, ph, pw, OH, OW, dx):
    # one task per image plane (n, c): planes are disjoint, so the scatter-add needs no
    # atomics; offsets (i, j) run in the reference's order (bitwise equal); unsigned flat
    # offsets so the inner add vectorises
    N, C, H, W = dx.shape
    cols_flat, dx_flat = cols.reshape(-1), dx.reshape(-1)
    block = N * OH * OW
    for plane in prange(N * C):
        n, c = plane // C, plane % C
        for i in range(kh):
            oh_first, oh_stop = _valid_range(OH, i - ph, sh, H)
            for j in range(kw):
                row = (c * kh + i) * kw + j
                ow_first, ow_stop = _valid_range(OW, j - pw, sw, W)
                for oh in range(oh_first, oh_stop):
                    target = _u(((n * C + c) * H + oh * sh + i - ph) * W + ow_first * sw + j - pw)
                    source = _u(row * block + (n * OH + oh) * OW + ow_first)
                    for t in range(ow_stop - ow_first):
                        dx_flat[target + _u(t * sw)] += cols_flat[source + _u(t)]


_col2im_serial = serial_twin(_col2im)


def col2im(cols, x_shape, kh, kw, sh, sw, ph, pw):
    """Numba twin of ``reference.col2im``: dx (N, C, H, W)."""
    N, C, H, W = (int(d) for d in x_shape)
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    dx = np.zeros((N, C, H, W), dtype=cols.dtype)
    kernel = _pick(_col2im, _col2im_serial, cols.size)
    kernel(np.ascontiguousarray(cols), kh, kw, sh, sw, ph, pw, OH, OW, dx)
    return dx


# ============================================================ convolution (a whole layer)
# ``conv2d_forward`` / ``conv2d_backward`` do the products of ``reference.conv2d_forward``
# (W2 @ cols, dY2 @ cols.T, W2.T @ dY2) in BLAS, by one of two routes chosen by shape
# (``conv2d_route``, measured):
#
# * "tiles": the patch matrix is never built whole. For a one-channel 5x5 convolution it is
#   25 times the images (5 MB for LeNet-5's first layer on a batch of 64), and with few
#   filters each of its elements is used in only 2 F flops by each product: the products are
#   thin and the time goes to streaming the patch matrix through memory -- im2col writes it,
#   the forward product reads it, the dW product reads it again, dcols is as large again for
#   col2im. Instead a TILE of a few images at a time (about ``CONV_TILE_BYTES`` of patch
#   matrix, sized to stay in a core's L2 cache) is built by the same im2col kernel, multiplied,
#   and in the backward folded back by col2im while still in cache, in buffers allocated once
#   per call and reused from tile to tile. A tile's product is written straight into the NCHW
#   output (no transposed copy of y), and dy's tile is gathered as (F, g*OH*OW) in one pass
#   that also sums db. With stride 1 the backward needs no patch matrix at all for dW and db
#   (``conv2d_weight_gradient_shifted``, below); the tiles then serve dx alone. The forward
#   returns None for cols: the backward has nothing to reuse.
# * "whole": with more filters the products have the arithmetic to hide that traffic, and
#   one large product per quantity is what BLAS's threads share best; the patch matrix of
#   the batch is built once, returned by the forward for the layer's cache and handed back
#   to the backward (which builds it again only when given None).
CONV_TILE_BYTES = 512 * 1024
CONV_TILE_MAX_FILTERS = 8  # "tiles" for F <= this many filters (the rule: see conv2d_route)


def conv2d_route(x_shape, weight_shape, sh, sw, ph, pw) -> str:
    """``"tiles"`` or ``"whole"``: how ``conv2d_forward``/``_backward`` run this shape.

    The rule: tiles when the layer has at most ``CONV_TILE_MAX_FILTERS`` filters (thin,
    memory-bound products), else the whole batch's patch matrix. With one BLAS thread the
    tiles win or tie on every shape of the course; with two, the many small products of the
    tiles cost a thread hand-over each, and only the thin one-channel layers still gain --
    by a third or more. The rule follows the two-thread case, the way ``python -m minidl
    bench`` runs. Measured with ``python -m minidl.bench.conv_tiles``: see docs/performance.md.
    """
    return "tiles" if weight_shape[0] <= CONV_TILE_MAX_FILTERS else "whole"


def conv2d_tile(x_shape, weight_shape, sh, sw, ph, pw, itemsize=4) -> int:
    """Images per tile of the "tiles" route: as many as ``CONV_TILE_BYTES`` of patch matrix
    hold (at least 1, at most N)."""
    N, C, H, W = x_shape
    _, _, kh, kw = weight_shape
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    per_image = C * kh * kw * OH * OW * itemsize
    return max(1, min(N, CONV_TILE_BYTES // max(per_image, 1)))


def _tile_buffer(rows, per_tile, P, dtype):
    """A flat buffer for (rows, g*P) matrices of every tile of up to ``per_tile`` images, and
    the view of it for a tile of g images (a contiguous prefix, so the products can write it)."""
    flat = np.empty(rows * per_tile * P, dtype=dtype)
    return lambda g: flat[: rows * g * P].reshape(rows, g * P)


@njit(cache=True)
def _scatter_output(products, bias, n0, y):
    # products (F, g*OH*OW) of a tile -> y[n0 : n0 + g] (N, F, OH, OW) with the bias added
    _, F, OH, OW = y.shape
    P = OH * OW
    g = products.shape[1] // P
    y_flat = y.reshape(y.shape[0], F, P)
    for m in range(g):
        for f in range(F):
            row, out = products[f, m * P : (m + 1) * P], y_flat[n0 + m, f]
            b = bias[f]
            for p in range(P):
                out[p] = row[p] + b


@njit(cache=True)
def _gather_gradient(dy, n0, tile, dbias):
    # dy[n0 : n0 + g] (N, F, OH, OW) -> tile (F, g*OH*OW); dbias (float64) += each channel's sum
    N, F = dy.shape[0], dy.shape[1]
    P = dy.shape[2] * dy.shape[3]
    g = tile.shape[1] // P
    dy_flat = dy.reshape(N, F, P)
    for f in range(F):
        total = 0.0
        for m in range(g):
            source, target = dy_flat[n0 + m, f], tile[f, m * P : (m + 1) * P]
            for p in range(P):
                value = source[p]
                target[p] = value
                total += value
        dbias[f] += total


def _conv_operands(x, weight):
    dtype = np.result_type(x.dtype, weight.dtype)
    return np.ascontiguousarray(x, dtype=dtype), np.ascontiguousarray(weight, dtype=dtype), dtype


# The weight gradient of a stride-1 convolution without a patch matrix. Lay each image out
# padded, flat, and dy "wide": dy[n, f, oh, ow] at oh * Wp + ow of a row of the padded width
# Wp, zeros at ow >= OW. Then for a tap (c, i, j) at offset o = (c * Hp + i) * Wp + j,
#
#     dW[f, (c, i, j)] = sum over m < OH * Wp of wide[f, m] * x_padded[o + m]
#
# (the zeros of wide cancel the positions past the row's end): one long dot product per
# (filter, tap) over two contiguous arrays, which a 4x4 register tile computes 16 at a time,
# vectorised along m. A non-finite x is sent to the patch-matrix route instead, since a zero
# of wide times an inf of x would put a NaN where the reference has none.
@njit(inline="always", cache=True)
def _shifted_dot_4x4(wide, f, xp, offsets, r, L, zero):
    """Sums over m < L of wide[f + q, m] xp[offsets[r + t] + m] for q, t < 4 (16 sums)."""
    a0_, a1_, a2_, a3_ = wide[f], wide[f + 1], wide[f + 2], wide[f + 3]
    o0, o1, o2, o3 = offsets[r], offsets[r + 1], offsets[r + 2], offsets[r + 3]
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
    for m in range(L):
        um = _u(m)
        a0, a1, a2, a3 = a0_[m], a1_[m], a2_[m], a3_[m]
        w0, w1, w2, w3 = xp[o0 + um], xp[o1 + um], xp[o2 + um], xp[o3 + um]
        s00, s01, s02, s03 = s00 + a0 * w0, s01 + a0 * w1, s02 + a0 * w2, s03 + a0 * w3
        s10, s11, s12, s13 = s10 + a1 * w0, s11 + a1 * w1, s12 + a1 * w2, s13 + a1 * w3
        s20, s21, s22, s23 = s20 + a2 * w0, s21 + a2 * w1, s22 + a2 * w2, s23 + a2 * w3
        s30, s31, s32, s33 = s30 + a3 * w0, s31 + a3 * w1, s32 + a3 * w2, s33 + a3 * w3
    return (s00, s01, s02, s03), (s10, s11, s12, s13), (s20, s21, s22, s23), (s30, s31, s32, s33)


@njit(inline="always", cache=True)
def _shifted_dot_1x4(wide, f, xp, offsets, r, L, zero):
    """Sums over m < L of wide[f, m] xp[offsets[r + t] + m] for t < 4."""
    a_ = wide[f]
    o0, o1, o2, o3 = offsets[r], offsets[r + 1], offsets[r + 2], offsets[r + 3]
    s0 = s1 = s2 = s3 = zero
    for m in range(L):
        um = _u(m)
        a = a_[m]
        s0, s1 = s0 + a * xp[o0 + um], s1 + a * xp[o1 + um]
        s2, s3 = s2 + a * xp[o2 + um], s3 + a * xp[o3 + um]
    return s0, s1, s2, s3


@njit(fastmath=set(_SUM_MATH), cache=True)
def _shifted_products(wide, xp, offsets, out):
    """out[f, r] += sum over m of wide[f, m] xp[offsets[r] + m]: 4x4 tiles, then 1x4, then one sum."""
    F, L = wide.shape
    R = offsets.shape[0]
    F4, R4 = F - F % 4, R - R % 4
    zero = wide.dtype.type(0)  # (a literal 0.0 would be float64 and widen every sum)
    for f in range(0, F4, 4):
        for r in range(0, R4, 4):
            sums = _shifted_dot_4x4(wide, f, xp, offsets, r, L, zero)
            for q in range(4):
                out[f + q, r], out[f + q, r + 1] = out[f + q, r] + sums[q][0], out[f + q, r + 1] + sums[q][1]
                out[f + q, r + 2], out[f + q, r + 3] = (
                    out[f + q, r + 2] + sums[q][2],
                    out[f + q, r + 3] + sums[q][3],
                )
    for f in range(F4, F):
        for r in range(0, R4, 4):
            s0, s1, s2, s3 = _shifted_dot_1x4(wide, f, xp, offsets, r, L, zero)
            out[f, r], out[f, r + 1], out[f, r + 2], out[f, r + 3] = (
                out[f, r] + s0,
                out[f, r + 1] + s1,
                out[f, r + 2] + s2,
                out[f, r + 3] + s3,
            )
    for f in range(F):
        for r in range(R4, R):
            s = zero
            for m in range(L):
                s += wide[f, m] * xp[offsets[r] + _u(m)]
            out[f, r] += s


SHIFTED_IMAGES_PER_PART = 8  # images summed into one partial dW (the same with or without threads)


@njit(parallel=True, fastmath=set(_SUM_MATH), cache=True)
def _conv2d_weight_gradient_shifted(dy, x, ph, pw, offsets, dweight_parts, dbias_parts):
    # one part of SHIFTED_IMAGES_PER_PART images per task, each with its own partial dW and db
    # (summed by the caller in part order, so threads change no bit); the padded image and
    # wide dy live in buffers reused from image to image
    N, C, H, W = x.shape
    F, OH, OW = dy.shape[1], dy.shape[2], dy.shape[3]
    kw = W + 2 * pw - OW + 1
    Hp, Wp = H + 2 * ph, W + 2 * pw
    L = OH * Wp
    per = SHIFTED_IMAGES_PER_PART
    for part in prange(dweight_parts.shape[0]):
        xp = np.zeros(C * Hp * Wp + kw, dtype=x.dtype)  # + kw: the last tap's reach past the end
        wide = np.zeros((F, L), dtype=x.dtype)
        x_flat, wide_flat = x.reshape(-1), wide.reshape(-1)
        for n in range(part * per, min(N, (part + 1) * per)):
            for c in range(C):  # the image into the padded layout (its border stays zero)
                for h in range(H):
                    target = _u((c * Hp + h + ph) * Wp + pw)
                    source = _u(((n * C + c) * H + h) * W)
                    for w in range(W):
                        xp[target + _u(w)] = x_flat[source + _u(w)]
            for f in range(F):  # dy into the wide layout, and its sum for db
                total = 0.0
                for oh in range(OH):
                    for ow in range(OW):
                        value = dy[n, f, oh, ow]
                        wide_flat[_u(f * L + oh * Wp + ow)] = value
                        total += value
                dbias_parts[part, f] += total
            _shifted_products(wide, xp, offsets, dweight_parts[part])


_conv2d_weight_gradient_shifted_serial = serial_twin(_conv2d_weight_gradient_shifted)


def conv2d_weight_gradient_shifted(dy, x, weight_shape, ph, pw):
    """(dweight, dbias) of a stride-1 convolution by shifted dot products (see above)."""
    N, C, H, W = x.shape
    F, _, kh, kw = weight_shape
    Hp, Wp = H + 2 * ph, W + 2 * pw
    c, i, j = np.meshgrid(np.arange(C), np.arange(kh), np.arange(kw), indexing="ij")
    offsets = ((c * Hp + i) * Wp + j).reshape(-1).astype(np.uint64)
    parts = -(-N // SHIFTED_IMAGES_PER_PART)
    dweight_parts = np.zeros((parts, F, C * kh * kw), dtype=x.dtype)
    dbias_parts = np.zeros((parts, F))
    kernel = _pick(_conv2d_weight_gradient_shifted, _conv2d_weight_gradient_shifted_serial, dy.size)
    kernel(dy, x, ph, pw, offsets, dweight_parts, dbias_parts)
    return dweight_parts.sum(axis=0).reshape(weight_shape), dbias_parts.sum(axis=0).astype(x.dtype)


def conv2d_forward(x, weight, bias, sh, sw, ph, pw):
    """Numba twin of ``reference.conv2d_forward``, by ``conv2d_route``: tiles of images (im2col
    of a tile into a buffer reused by every tile, one BLAS product, written into y as NCHW;
    returns (y, None)), or the whole batch's patch matrix in one product (returns (y, cols))."""
    x, weight, dtype = _conv_operands(x, weight)
    if conv2d_route(x.shape, weight.shape, sh, sw, ph, pw) == "whole":
        return common.conv2d_forward_by_im2col(im2col, x, weight, bias, sh, sw, ph, pw)
    N, C, H, W = x.shape
    F, _, kh, kw = weight.shape
    K = C * kh * kw
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    W2 = weight.reshape(F, K)
    per_tile = conv2d_tile(x.shape, weight.shape, sh, sw, ph, pw, dtype.itemsize)
    cols_of, products_of = (_tile_buffer(rows, per_tile, OH * OW, dtype) for rows in (K, F))
    bias = np.zeros(F, dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    y = np.empty((N, F, OH, OW), dtype=dtype)
    for n0 in range(0, N, per_tile):
        g = min(per_tile, N - n0)
        cols, products = cols_of(g), products_of(g)
        _im2col_serial(x[n0 : n0 + g], kh, kw, sh, sw, ph, pw, OH, OW, cols)
        np.matmul(W2, cols, out=products)
        _scatter_output(products, bias, n0, y)
    return y, None


def conv2d_backward(dy, x, cols, weight, sh, sw, ph, pw, input_grad):
    """Numba twin of ``reference.conv2d_backward``, by ``conv2d_route``: tile by tile (with
    stride 1, dW and db by ``conv2d_weight_gradient_shifted``, no patch matrix; otherwise the
    tile's patch matrix rebuilt from x and dW += dY_tile @ cols.T; with ``input_grad``
    dcols = W2.T @ dY_tile folded back by col2im while still in cache; ``cols`` is not
    needed), or in three whole products over ``cols``, the patch matrix the forward returned
    (built again from x when None; dropped after dW, before dcols is allocated)."""
    x, weight, dtype = _conv_operands(x, weight)
    dy = np.ascontiguousarray(dy, dtype=dtype)
    N, C, H, W = x.shape
    F, _, kh, kw = weight.shape
    if conv2d_route(x.shape, weight.shape, sh, sw, ph, pw) == "whole":
        dy2d = dy.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*OH*OW), one copy
        if cols is None:
            cols = im2col(x, kh, kw, sh, sw, ph, pw)
        dweight, dbias = common.conv2d_weight_gradient_by_cols(np.asarray(cols, dtype), dy2d, weight.shape)
        # a layer hands cols over (its cache lets go of them): freed here, before dcols, as large
        del cols
        if not input_grad:
            return None, dweight, dbias
        dx = common.conv2d_input_gradient_by_col2im(col2im, dy2d, weight, x.shape, sh, sw, ph, pw)
        return dx, dweight, dbias
    K = C * kh * kw
    OH, OW = dy.shape[2], dy.shape[3]
    shifted = sh == 1 and sw == 1 and bool(np.isfinite(x).all())
    if shifted:  # dW and db with no patch matrix at all
        dweight, dbias = conv2d_weight_gradient_shifted(dy, x, weight.shape, ph, pw)
        if not input_grad:
            return None, dweight, dbias
    per_tile = conv2d_tile(x.shape, weight.shape, sh, sw, ph, pw, dtype.itemsize)
    cols_of, dy_tile_of = (_tile_buffer(rows, per_tile, OH * OW, dtype) for rows in (K, F))
    W2_T = np.ascontiguousarray(weight.reshape(F, K).T)
    dweight_tiles = np.zeros((F, K), dtype=dtype)
    dbias_tiles = np.zeros(F)  # float64 sums
    dx = np.empty(x.shape, dtype=dtype) if input_grad else None
    for n0 in range(0, N, per_tile):
        g = min(per_tile, N - n0)
        tile_cols, dy_tile = cols_of(g), dy_tile_of(g)
        _gather_gradient(dy, n0, dy_tile, dbias_tiles)
        if not shifted:
            _im2col_serial(x[n0 : n0 + g], kh, kw, sh, sw, ph, pw, OH, OW, tile_cols)
            if n0 == 0:
                np.matmul(dy_tile, tile_cols.T, out=dweight_tiles)
            else:
                dweight_tiles += dy_tile @ tile_cols.T
        if dx is not None:  # input_grad
            np.matmul(W2_T, dy_tile, out=tile_cols)  # the tile's dcols, in the cols buffer
            dx_tile = dx[n0 : n0 + g]
            dx_tile[...] = 0
            _col2im_serial(tile_cols, kh, kw, sh, sw, ph, pw, OH, OW, dx_tile)
    if shifted:
        return dx, dweight, dbias
    return dx, dweight_tiles.reshape(weight.shape), dbias_tiles.astype(dtype)


# ============================================================ pooling
@njit(parallel=True, cache=True)
def _max_pool_forward(x, kh, kw, sh, sw, y, argmax):
    # one task per plane (n, c); a strict ">" in row-major order keeps the first maximum;
    # unsigned flat offsets (see the note above _im2col)
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    x_flat, y_flat, argmax_flat = x.reshape(-1), y.reshape(-1), argmax.reshape(-1)
    for plane in prange(N * C):
        for oh in range(OH):
            out = _u((plane * OH + oh) * OW)
            top = _u((plane * H + oh * sh) * W)
            for ow in range(OW):
                corner = top + _u(ow * sw)
                best = x_flat[corner]
                best_at = 0
                for i in range(kh):
                    for j in range(kw):
                        value = x_flat[corner + _u(i * W + j)]
                        if value > best:
                            best = value
                            best_at = i * kw + j
                y_flat[out + _u(ow)] = best
                argmax_flat[out + _u(ow)] = best_at


_max_pool_forward_serial = serial_twin(_max_pool_forward)


@njit(parallel=True, cache=True)
def _max_pool_forward_2x2(x, y, argmax):
    # the common 2x2 window with stride 2, unrolled: the four candidates of a window are
    # compared in row-major order with the same strict ">" as the general kernel (same
    # results, ties and NaN included), without the inner loops and their index arithmetic,
    # so the comparisons become selects that LLVM vectorises (measured: docs/performance.md)
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    x_flat, y_flat, argmax_flat = x.reshape(-1), y.reshape(-1), argmax.reshape(-1)
    for plane in prange(N * C):
        for oh in range(OH):
            out = _u((plane * OH + oh) * OW)
            top = _u((plane * H + 2 * oh) * W)
            bottom = top + _u(W)
            for ow in range(OW):
                best, best_at = x_flat[top + _u(2 * ow)], 0
                value = x_flat[top + _u(2 * ow + 1)]
                if value > best:
                    best, best_at = value, 1
                value = x_flat[bottom + _u(2 * ow)]
                if value > best:
                    best, best_at = value, 2
                value = x_flat[bottom + _u(2 * ow + 1)]
                if value > best:
                    best, best_at = value, 3
                y_flat[out + _u(ow)] = best
                argmax_flat[out + _u(ow)] = best_at


_max_pool_forward_2x2_serial = serial_twin(_max_pool_forward_2x2)


def max_pool_forward(x, kh, kw, sh, sw):
    """Numba twin of ``reference.max_pool_forward``: y and argmax (N, C, OH, OW)."""
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    OH, OW = pool_output_length(H, kh, sh), pool_output_length(W, kw, sw)
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.empty((N, C, OH, OW), dtype=np.int64)
    if (kh, kw, sh, sw) == (2, 2, 2, 2):
        kernel = _pick(_max_pool_forward_2x2, _max_pool_forward_2x2_serial, x.size)
        kernel(x, y, argmax)
    else:
        kernel = _pick(_max_pool_forward, _max_pool_forward_serial, x.size)
        kernel(x, kh, kw, sh, sw, y, argmax)
    return y, argmax


@njit(parallel=True, cache=True)
def _max_pool_backward(dy, argmax, kw, sh, sw, dx):
    # one task per plane; windows visited last-to-first so that a pixel shared by
    # several windows adds their gradients in the reference's order (bitwise equal);
    # unsigned flat offsets (see the note above _im2col)
    N, C, OH, OW = dy.shape
    H, W = dx.shape[2], dx.shape[3]
    dy_flat, argmax_flat, dx_flat = dy.reshape(-1), argmax.reshape(-1), dx.reshape(-1)
    for plane in prange(N * C):
        for oh in range(OH - 1, -1, -1):
            out = _u((plane * OH + oh) * OW)
            top = _u((plane * H + oh * sh) * W)
            for ow in range(OW - 1, -1, -1):
                at = argmax_flat[out + _u(ow)]
                dx_flat[top + _u(ow * sw + (at // kw) * W + at % kw)] += dy_flat[out + _u(ow)]


_max_pool_backward_serial = serial_twin(_max_pool_backward)


@njit(parallel=True, cache=True)
def _max_pool_backward_2x2(dy, argmax, dx):
    # the 2x2 window with stride 2: windows do not overlap, so every pixel of dx is written
    # once, row by row, instead of zeroing dx and scattering with a division of each argmax by
    # kw (measured: see docs/performance.md). "zero + g" is the reference's
    # 0 + dy, bit for bit (-0.0 becomes +0.0); a last row or column no window covers gets zeros.
    N, C, OH, OW = dy.shape
    H, W = dx.shape[2], dx.shape[3]
    dy_flat, argmax_flat, dx_flat = dy.reshape(-1), argmax.reshape(-1), dx.reshape(-1)
    zero = dx.dtype.type(0)
    for plane in prange(N * C):
        for oh in range(OH):
            out = _u((plane * OH + oh) * OW)
            for i in range(2):  # the window's top row, then its bottom row
                row = _u((plane * H + 2 * oh + i) * W)
                for w in range(2 * OW):
                    at = argmax_flat[out + _u(w >> 1)]
                    g = dy_flat[out + _u(w >> 1)]
                    dx_flat[row + _u(w)] = zero + g if at == 2 * i + (w & 1) else zero
                for w in range(2 * OW, W):
                    dx_flat[row + _u(w)] = zero
        for h in range(2 * OH, H):
            row = _u((plane * H + h) * W)
            for w in range(W):
                dx_flat[row + _u(w)] = zero


_max_pool_backward_2x2_serial = serial_twin(_max_pool_backward_2x2)


def max_pool_backward(dy, argmax, x_shape, kh, kw, sh, sw):
    """Numba twin of ``reference.max_pool_backward``: dx (N, C, H, W)."""
    dy, argmax = np.ascontiguousarray(dy), np.ascontiguousarray(argmax)
    shape = tuple(int(d) for d in x_shape)
    if (kh, kw, sh, sw) == (2, 2, 2, 2):
        dx = np.empty(shape, dtype=dy.dtype)
        _pick(_max_pool_backward_2x2, _max_pool_backward_2x2_serial, dx.size)(dy, argmax, dx)
        return dx
    dx = np.zeros(shape, dtype=dy.dtype)
    kernel = _pick(_max_pool_backward, _max_pool_backward_serial, dx.size)
    kernel(dy, argmax, kw, sh, sw, dx)
    return dx


@njit(parallel=True, cache=True)
def _avg_pool_forward(x, kh, kw, sh, sw, divisor, y):
    # one task per plane; sums in row-major order in the input's precision, as the reference;
    # unsigned flat offsets (see the note above _im2col)
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    x_flat, y_flat = x.reshape(-1), y.reshape(-1)
    for plane in prange(N * C):
        for oh in range(OH):
            out = _u((plane * OH + oh) * OW)
            top = _u((plane * H + oh * sh) * W)
            for ow in range(OW):
                corner = top + _u(ow * sw)
                total = x_flat[corner]
                for i in range(kh):
                    for j in range(kw):
                        if i or j:
                            total += x_flat[corner + _u(i * W + j)]
                y_flat[out + _u(ow)] = total / divisor


_avg_pool_forward_serial = serial_twin(_avg_pool_forward)


def avg_pool_forward(x, kh, kw, sh, sw):
    """Numba twin of ``reference.avg_pool_forward``: y (N, C, OH, OW)."""
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    OH, OW = pool_output_length(H, kh, sh), pool_output_length(W, kw, sw)
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    kernel = _pick(_avg_pool_forward, _avg_pool_forward_serial, x.size)
    kernel(x, kh, kw, sh, sw, x.dtype.type(kh * kw), y)
    return y


@njit(parallel=True, cache=True)
def _avg_pool_backward(dy, kh, kw, sh, sw, divisor, dx):
    # one task per plane; windows last-to-first to add in the reference's order;
    # unsigned flat offsets (see the note above _im2col)
    N, C, OH, OW = dy.shape
    H, W = dx.shape[2], dx.shape[3]
    dy_flat, dx_flat = dy.reshape(-1), dx.reshape(-1)
    for plane in prange(N * C):
        for oh in range(OH - 1, -1, -1):
            out = _u((plane * OH + oh) * OW)
            top = _u((plane * H + oh * sh) * W)
            for ow in range(OW - 1, -1, -1):
                share = dy_flat[out + _u(ow)] / divisor
                corner = top + _u(ow * sw)
                for i in range(kh):
                    for j in range(kw):
                        dx_flat[corner + _u(i * W + j)] += share


_avg_pool_backward_serial = serial_twin(_avg_pool_backward)


def avg_pool_backward(dy, x_shape, kh, kw, sh, sw):
    """Numba twin of ``reference.avg_pool_backward``: dx (N, C, H, W)."""
    dx = np.zeros(tuple(int(d) for d in x_shape), dtype=dy.dtype)
    kernel = _pick(_avg_pool_backward, _avg_pool_backward_serial, dx.size)
    kernel(np.ascontiguousarray(dy), kh, kw, sh, sw, dy.dtype.type(kh * kw), dx)
    return dx


# ============================================================ batch normalization
# (the statistics are long sums, hence ``_SUM_MATH``: see its note above)


@njit(parallel=True, fastmath=set(_SUM_MATH), cache=True)
def _batchnorm_forward(x, gamma, beta, eps, y, mean, var):
    # one thread per channel; ONE pass for both statistics (float64 sums of x - x[0, c, 0] and
    # of its square: shifted by a sample of the channel, so a large mean cancels nothing), one
    # pass writing y with the per-channel affine map in x's precision (8 float32 lanes)
    N, C, L = x.shape
    count = N * L
    for c in prange(C):
        shift = np.float64(x[0, c, 0])
        total = 0.0
        squares = 0.0
        for n in range(N):
            row = x[n, c]
            for l in range(L):
                d = row[l] - shift
                total += d
                squares += d * d
        offset = total / count
        sigma2 = max(squares / count - offset * offset, 0.0)
        mu = shift + offset
        scale = gamma[c] / np.sqrt(sigma2 + eps)
        coef = np.empty(2, y.dtype)
        coef[0], coef[1] = scale, beta[c] - mu * scale
        scale_t, shift_t = coef[0], coef[1]
        for n in range(N):
            row, out = x[n, c], y[n, c]
            for l in range(L):
                out[l] = row[l] * scale_t + shift_t
        mean[c] = mu
        var[c] = sigma2


_batchnorm_forward_serial = serial_twin(_batchnorm_forward)


_FEATURE_BLOCK = 64


@njit(parallel=True, cache=True)
def _batchnorm_forward_features(x, gamma, beta, eps, y, mean, var):
    # (N, D) features: a channel is a strided column, so each task takes a block of columns
    # and walks the rows, accumulating the block in float64 vectors (contiguous, vectorised);
    # one pass for both statistics, shifted by the first row as in the image kernel above
    N, D = x.shape
    for block in prange((D + _FEATURE_BLOCK - 1) // _FEATURE_BLOCK):
        c0 = block * _FEATURE_BLOCK
        width = min(D, c0 + _FEATURE_BLOCK) - c0
        shift = x[0, c0 : c0 + width].astype(np.float64)
        total = np.zeros(width)
        squares = np.zeros(width)
        for n in range(N):
            for k in range(width):
                d = x[n, c0 + k] - shift[k]
                total[k] += d
                squares[k] += d * d
        offset = total / N
        sigma2 = np.maximum(squares / N - offset * offset, 0.0)
        mu = shift + offset
        scale = gamma[c0 : c0 + width] / np.sqrt(sigma2 + eps)
        scale_t = scale.astype(y.dtype)
        shift_t = (beta[c0 : c0 + width] - mu * scale).astype(y.dtype)
        for n in range(N):
            for k in range(width):
                y[n, c0 + k] = x[n, c0 + k] * scale_t[k] + shift_t[k]
        mean[c0 : c0 + width] = mu
        var[c0 : c0 + width] = sigma2


_batchnorm_forward_features_serial = serial_twin(_batchnorm_forward_features)


def batchnorm_forward(x, gamma, beta, eps):
    """Numba twin of ``reference.batchnorm_forward``: y (N, C, L), mean (C,), var (C,)."""
    x = np.ascontiguousarray(x)
    C = x.shape[1]
    y = np.empty_like(x)
    mean, var = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
    gamma, beta = np.ascontiguousarray(gamma), np.ascontiguousarray(beta)
    if x.shape[2] == 1:
        kernel = _pick(_batchnorm_forward_features, _batchnorm_forward_features_serial, x.size)
        kernel(x[:, :, 0], gamma, beta, float(eps), y[:, :, 0], mean, var)
    else:
        kernel = _pick(_batchnorm_forward, _batchnorm_forward_serial, x.size)
        kernel(x, gamma, beta, float(eps), y, mean, var)
    return y, mean, var


@njit(parallel=True, fastmath=set(_SUM_MATH), cache=True)
def _batchnorm_backward(dy, x, gamma, mean, var, eps, dx, dgamma, dbeta):
    # one thread per channel: one pass for the two float64 sums (sum dy and sum dy (x - mu),
    # x_hat's scale taken out of the loop), one pass writing dx, which is affine in dy and x
    # per channel: dx = a dy + b x + d (coefficients in x's precision, 8 float32 lanes)
    N, C, L = x.shape
    count = N * L
    for c in prange(C):
        inv_std = 1.0 / np.sqrt(var[c] + eps)
        mu = np.float64(mean[c])
        sum_dy = 0.0
        sum_dy_x = 0.0
        for n in range(N):
            g_row, x_row = dy[n, c], x[n, c]
            for l in range(L):
                g = np.float64(g_row[l])
                sum_dy += g
                sum_dy_x += g * (x_row[l] - mu)
        sum_dy_xhat = sum_dy_x * inv_std
        k = gamma[c] * inv_std / count
        # k (count dy - sum_dy - (x - mu) inv_std sum_dy_xhat)
        b = -k * inv_std * sum_dy_xhat
        coef = np.empty(3, dx.dtype)
        coef[0], coef[1], coef[2] = k * count, b, -k * sum_dy - b * mu
        a_t, b_t, d_t = coef[0], coef[1], coef[2]
        for n in range(N):
            g_row, x_row, out = dy[n, c], x[n, c], dx[n, c]
            for l in range(L):
                out[l] = a_t * g_row[l] + b_t * x_row[l] + d_t
        dgamma[c] = sum_dy_xhat
        dbeta[c] = sum_dy


_batchnorm_backward_serial = serial_twin(_batchnorm_backward)


@njit(parallel=True, cache=True)
def _batchnorm_backward_features(dy, x, gamma, mean, var, eps, dx, dgamma, dbeta):
    # (N, D) features: blocks of columns walked row by row, as in the forward
    N, D = x.shape
    for block in prange((D + _FEATURE_BLOCK - 1) // _FEATURE_BLOCK):
        c0 = block * _FEATURE_BLOCK
        width = min(D, c0 + _FEATURE_BLOCK) - c0
        inv_std = 1.0 / np.sqrt(var[c0 : c0 + width].astype(np.float64) + eps)
        mu = mean[c0 : c0 + width].astype(np.float64)
        sum_dy = np.zeros(width)
        sum_dy_xhat = np.zeros(width)
        for n in range(N):
            for k in range(width):
                g = dy[n, c0 + k]
                sum_dy[k] += g
                sum_dy_xhat[k] += g * (x[n, c0 + k] - mu[k]) * inv_std[k]
        scale = gamma[c0 : c0 + width] * inv_std / N
        for n in range(N):
            for k in range(width):
                x_hat = (x[n, c0 + k] - mu[k]) * inv_std[k]
                dx[n, c0 + k] = scale[k] * (N * dy[n, c0 + k] - sum_dy[k] - x_hat * sum_dy_xhat[k])
        dgamma[c0 : c0 + width] = sum_dy_xhat
        dbeta[c0 : c0 + width] = sum_dy


_batchnorm_backward_features_serial = serial_twin(_batchnorm_backward_features)


def batchnorm_backward(dy, x, gamma, mean, var, eps):
    """Numba twin of ``reference.batchnorm_backward``: dx (N, C, L), dgamma (C,), dbeta (C,)."""
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    C = x.shape[1]
    dx = np.empty_like(x)
    dgamma, dbeta = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
    gamma = np.ascontiguousarray(gamma)
    if x.shape[2] == 1:
        kernel = _pick(_batchnorm_backward_features, _batchnorm_backward_features_serial, x.size)
        kernel(dy[:, :, 0], x[:, :, 0], gamma, mean, var, float(eps), dx[:, :, 0], dgamma, dbeta)
    else:
        kernel = _pick(_batchnorm_backward, _batchnorm_backward_serial, x.size)
        kernel(dy, x, gamma, mean, var, float(eps), dx, dgamma, dbeta)
    return dx, dgamma, dbeta


# ============================================================ recurrent cells
# Serial, one row of the batch at a time: per step there are only N*H units (~10 µs of
# work) and OpenBLAS's threads, still spinning after the step's matrix product, hold the
# other cores; a parallel loop here fights them and loses by orders of magnitude. Each row
# goes through a small helper on 1-D rows, which LLVM vectorises behind a runtime check
# that outputs and inputs do not overlap (an output passed as its own input, where the
# docstring allows it, is still right but takes the scalar path, several times slower; the layers
# never do it). Numba has no vector math library here,
# so float32 tanh/sigmoid use a rational approximation (accurate to a few float32 ulp)
# made of multiply-adds and one division, which vectorises; float64 uses math.tanh/exp.
# ``gate_tanh``/``gate_sigmoid`` pick one of the two by type at compile time (overload).
_TANH_CLAMP = np.float32(7.90531110763549805)  # beyond this tanh(x) rounds to ±1 in float32
_TANH_P = tuple(
    np.float32(v)
    for v in (
        4.89352455891786e-03,
        6.37261928875436e-04,
        1.48572235717979e-05,
        5.12229709037114e-08,
        -8.60467152213735e-11,
        2.00018790482477e-13,
        -2.76076847742355e-16,
    )
)
_TANH_Q = tuple(
    np.float32(v)
    for v in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06)
)
_P1, _P3, _P5, _P7, _P9, _P11, _P13 = _TANH_P
_Q0, _Q2, _Q4, _Q6 = _TANH_Q
_HALF32 = np.float32(0.5)
_GATE_MATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})  # fastmath without no-NaN/no-inf


@njit(inline="always", cache=True)
def _tanh_f32(x):
    # odd rational approximation p(x)/q(x) (Eigen's float tanh); NaN passes through the clamp
    x = _TANH_CLAMP if x > _TANH_CLAMP else x
    x = -_TANH_CLAMP if x < -_TANH_CLAMP else x
    x2 = x * x
    p = x2 * _P13 + _P11
    p = x2 * p + _P9
    p = x2 * p + _P7
    p = x2 * p + _P5
    p = x2 * p + _P3
    p = x2 * p + _P1
    q = x2 * _Q6 + _Q4
    q = x2 * q + _Q2
    q = x2 * q + _Q0
    return x * p / q


@njit(inline="always", cache=True)
def _sigmoid_f32(x):
    return _HALF32 + _HALF32 * _tanh_f32(_HALF32 * x)  # σ(x) = (1 + tanh(x/2)) / 2


def gate_tanh(x):
    """tanh for the cell kernels (plain Python under NUMBA_DISABLE_JIT=1)."""
    return math.tanh(x)


def gate_sigmoid(x):
    """σ for the cell kernels (plain Python under NUMBA_DISABLE_JIT=1)."""
    return 1.0 / (1.0 + math.exp(-x))


def _is_float32(x):
    return isinstance(x, types.Float) and x.bitwidth == 32


@overload(gate_tanh)
def _gate_tanh_typed(x):
    if _is_float32(x):
        return lambda x: _tanh_f32(x)
    return lambda x: math.tanh(x)


@overload(gate_sigmoid)
def _gate_sigmoid_typed(x):
    if _is_float32(x):
        return lambda x: _sigmoid_f32(x)
    return lambda x: 1.0 / (1.0 + math.exp(-x))


@njit(fastmath=set(_GATE_MATH), error_model="numpy", cache=True)
def _lstm_forward_row(xw, hw, b, c_prev, gates, c, h):
    H = c_prev.shape[0]
    for j in range(H):
        i = gate_sigmoid(xw[j] + hw[j] + b[j])
        f = gate_sigmoid(xw[H + j] + hw[H + j] + b[H + j])
        g = gate_tanh(xw[2 * H + j] + hw[2 * H + j] + b[2 * H + j])
        o = gate_sigmoid(xw[3 * H + j] + hw[3 * H + j] + b[3 * H + j])
        c_new = f * c_prev[j] + i * g
        c[j] = c_new
        h[j] = o * gate_tanh(c_new)
        gates[j], gates[H + j], gates[2 * H + j], gates[3 * H + j] = i, f, g, o


@njit(cache=True)
def _lstm_forward(xw, hw, b, c_prev, gates, c, h):
    for n in range(c_prev.shape[0]):
        _lstm_forward_row(xw[n], hw[n], b, c_prev[n], gates[n], c[n], h[n])


def lstm_cell_forward(xw, hw, b, c_prev, gates, c, h):
    """Numba twin of ``reference.lstm_cell_forward``: one fused pass over each row's gates."""
    _lstm_forward(xw, hw, b, c_prev, gates, c, h)
    return gates, c, h


@njit(fastmath=set(_GATE_MATH), error_model="numpy", cache=True)
def _lstm_backward_row(dh, dc_next, gates, c_prev, c, da, dc_prev):
    H = c_prev.shape[0]
    for j in range(H):
        i, f, g, o = gates[j], gates[H + j], gates[2 * H + j], gates[3 * H + j]
        tanh_c = gate_tanh(c[j])
        dc = dc_next[j] + dh[j] * o * (1 - tanh_c * tanh_c)
        da[j] = dc * g * i * (1 - i)
        da[H + j] = dc * c_prev[j] * f * (1 - f)
        da[2 * H + j] = dc * i * (1 - g * g)
        da[3 * H + j] = dh[j] * tanh_c * o * (1 - o)
        dc_prev[j] = dc * f


@njit(cache=True)
def _lstm_backward(dh, dc_next, gates, c_prev, c, da, dc_prev):
    for n in range(c_prev.shape[0]):
        _lstm_backward_row(dh[n], dc_next[n], gates[n], c_prev[n], c[n], da[n], dc_prev[n])


def lstm_cell_backward(dh, dc_next, gates, c_prev, c, da, dc_prev):
    """Numba twin of ``reference.lstm_cell_backward`` (tanh(c) recomputed, not stored)."""
    _lstm_backward(dh, dc_next, gates, c_prev, c, da, dc_prev)
    return da, dc_prev


@njit(fastmath=set(_GATE_MATH), error_model="numpy", cache=True)
def _gru_forward_row(xw, hw, bx, bh, h_prev, gates, hn, h):
    H = h_prev.shape[0]
    for j in range(H):
        r = gate_sigmoid(xw[j] + bx[j] + hw[j] + bh[j])
        z = gate_sigmoid(xw[H + j] + bx[H + j] + hw[H + j] + bh[H + j])
        hn_j = hw[2 * H + j] + bh[2 * H + j]
        n = gate_tanh(xw[2 * H + j] + bx[2 * H + j] + r * hn_j)
        hn[j] = hn_j
        h[j] = (1 - z) * n + z * h_prev[j]
        gates[j], gates[H + j], gates[2 * H + j] = r, z, n


@njit(cache=True)
def _gru_forward(xw, hw, bx, bh, h_prev, gates, hn, h):
    for n in range(h_prev.shape[0]):
        _gru_forward_row(xw[n], hw[n], bx, bh, h_prev[n], gates[n], hn[n], h[n])


def gru_cell_forward(xw, hw, bx, bh, h_prev, gates, hn, h):
    """Numba twin of ``reference.gru_cell_forward``: one fused pass over each row's gates."""
    _gru_forward(xw, hw, bx, bh, h_prev, gates, hn, h)
    return gates, hn, h


@njit(fastmath=set(_GATE_MATH), error_model="numpy", cache=True)
def _gru_backward_row(dh, gates, hn, h_prev, dxw, dhw, dh_prev):
    H = h_prev.shape[0]
    for j in range(H):
        r, z, n = gates[j], gates[H + j], gates[2 * H + j]
        d = dh[j]
        da_n = d * (1 - z) * (1 - n * n)
        da_z = d * (h_prev[j] - n) * z * (1 - z)
        da_r = da_n * hn[j] * r * (1 - r)
        dxw[j], dxw[H + j], dxw[2 * H + j] = da_r, da_z, da_n
        dhw[j], dhw[H + j], dhw[2 * H + j] = da_r, da_z, da_n * r
        dh_prev[j] = d * z


@njit(cache=True)
def _gru_backward(dh, gates, hn, h_prev, dxw, dhw, dh_prev):
    for n in range(h_prev.shape[0]):
        _gru_backward_row(dh[n], gates[n], hn[n], h_prev[n], dxw[n], dhw[n], dh_prev[n])


def gru_cell_backward(dh, gates, hn, h_prev, dxw, dhw, dh_prev):
    """Numba twin of ``reference.gru_cell_backward``: one pass, both gradient blocks at once."""
    _gru_backward(dh, gates, hn, h_prev, dxw, dhw, dh_prev)
    return dxw, dhw, dh_prev


# ============================================================ masked softmax (attention)
# Three passes over the scores instead of one: Numba cannot vectorise exp (LLVM has no vector
# exp without Intel's SVML, which is not installed), so one loop that calls exp per element is
# several times slower than NumPy's SIMD exp. So the exponentials are left to NumPy, between
# two Numba passes that LLVM does vectorise: the shifted, scaled scores with -inf at the
# masked keys, then the row sums and one multiplication per element by 1 / sum.
# exp(-inf) = 0 makes the masked entries exactly 0. (Measured: see docs/performance.md.)
@njit(parallel=True, cache=True)
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


_masked_softmax_shift_serial = serial_twin(_masked_softmax_shift)


@njit(parallel=True, fastmath=set(_SUM_MATH), cache=True)
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


_normalise_rows_serial = serial_twin(_normalise_rows)


def masked_softmax(scores, keep, scale):
    """Numba twin of ``reference.masked_softmax``: shift, NumPy's exp, normalise (rows in parallel)."""
    scores = np.ascontiguousarray(scores)
    keep = (
        np.ascontiguousarray(keep).view(np.uint8)
        if keep.dtype == np.bool_
        else np.ascontiguousarray(keep, dtype=np.uint8)
    )
    probs = np.empty_like(scores)
    _pick(_masked_softmax_shift, _masked_softmax_shift_serial, scores.size)(
        scores, keep, scores.dtype.type(scale), probs
    )
    np.exp(probs, out=probs)
    _pick(_normalise_rows, _normalise_rows_serial, probs.size)(probs, scores.shape[-1])
    return probs


@njit(parallel=True, fastmath=set(_SUM_MATH), cache=True)
def _masked_softmax_backward(probs, dprobs, scale, dscores):
    # one row per iteration: the Jacobian-vector product needs the row's sum of dp * p first;
    # unsigned flat offsets (see the note above _im2col) so both loops vectorise
    G, Tq, Tk = probs.shape
    p_flat, dp_flat, ds_flat = probs.reshape(-1), dprobs.reshape(-1), dscores.reshape(-1)
    for row in prange(G * Tq):
        start = _u(row * Tk)
        inner = 0.0
        for j in range(Tk):
            inner += dp_flat[start + _u(j)] * p_flat[start + _u(j)]
        for j in range(Tk):
            ds_flat[start + _u(j)] = scale * p_flat[start + _u(j)] * (dp_flat[start + _u(j)] - inner)


_masked_softmax_backward_serial = serial_twin(_masked_softmax_backward)


def masked_softmax_backward(probs, dprobs, scale):
    """Numba twin of ``reference.masked_softmax_backward``."""
    probs, dprobs = np.ascontiguousarray(probs), np.ascontiguousarray(dprobs, dtype=probs.dtype)
    dscores = np.empty_like(probs)
    kernel = _pick(_masked_softmax_backward, _masked_softmax_backward_serial, probs.size)
    kernel(probs, dprobs, probs.dtype.type(scale), dscores)
    return dscores


# ============================================================ recurrent sequences
# The loop over time stays in Python (each step is a BLAS product and one fused cell kernel
# above); the loops are shared with the CUDA tier's fallback in ``common.py``.
def lstm_forward_sequence(xw, Wh, b, gates, cells, hs):
    """Numba twin of ``reference.lstm_forward_sequence``: a product and a fused cell per step."""
    return common.lstm_steps(lstm_cell_forward, xw, Wh, b, gates, cells, hs)


def lstm_backward_sequence(dy, Wh_T, gates, cells, da, dh0, dc0):
    """Numba twin of ``reference.lstm_backward_sequence``."""
    return common.lstm_steps_backward(lstm_cell_backward, dy, Wh_T, gates, cells, da, dh0, dc0)


def gru_forward_sequence(xw, Wh, bx, bh, gates, hn, hs):
    """Numba twin of ``reference.gru_forward_sequence``: a product and a fused cell per step."""
    return common.gru_steps(gru_cell_forward, xw, Wh, bx, bh, gates, hn, hs)


def gru_backward_sequence(dy, Wh_T, gates, hn, hs, dxw, dhw, dh0):
    """Numba twin of ``reference.gru_backward_sequence``."""
    return common.gru_steps_backward(gru_cell_backward, dy, Wh_T, gates, hn, hs, dxw, dhw, dh0)
