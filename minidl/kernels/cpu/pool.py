"""Numba twins of ``reference/pool.py``: max and average pooling, forward and backward.

One loop nest per kernel, planes (N*C) in parallel for large inputs, the general ones over flat
unsigned offsets; 2x2 stride-2 max pooling has unrolled kernels (docs/performance.md, sections 5,
27 and 30), threaded on one thread too (``one_thread_too``); the argmax in bytes (section 29)."""

import sys

import numpy as np
from numba import get_num_threads, njit, prange

from .. import blas_pool
from ..common import pool_output_length
from .loops import _u, pick, threaded


# ============================================================ pooling
@threaded()
def _max_pool_forward(x, kh, kw, sh, sw, y, argmax):
    # one task per plane (n, c); a strict ">" in row-major order keeps the first maximum;
    # unsigned flat offsets (see ``loops.py``)
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


@njit(inline="always")
def _first_maximum_2x2(x3, plane, oh, left):
    # the window at column ``left`` (unsigned): the general kernel's strict ">" in row-major order
    best, best_at = x3[plane, 2 * oh, left], 0
    value = x3[plane, 2 * oh, left + _u(1)]
    if value > best:
        best, best_at = value, 1
    value = x3[plane, 2 * oh + 1, left]
    if value > best:
        best, best_at = value, 2
    value = x3[plane, 2 * oh + 1, left + _u(1)]
    if value > best:
        best, best_at = value, 3
    return best, best_at


@threaded()
def _max_pool_forward_2x2(x, y, argmax):
    # the 2x2 window with stride 2 unrolled into selects LLVM vectorises, 8 windows a vector, by
    # (plane, row, column) (no gathers, section 27). Windows past a row's last whole 8 ran one by
    # one (half the time on rows of 14): its last 8 run as a vector, written twice (section 30)
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    x3, y3, argmax3 = x.reshape(N * C, H, W), y.reshape(N * C, OH, OW), argmax.reshape(N * C, OH, OW)
    whole, last = (OW - OW % 8, OW - 8) if OW > 8 and OW % 8 else (OW, OW)
    for plane in prange(N * C):
        for oh in range(OH):
            for ow in range(whole):
                y3[plane, oh, ow], argmax3[plane, oh, ow] = _first_maximum_2x2(x3, plane, oh, _u(2 * ow))
            for ow in range(_u(last), _u(OW)):  # unsigned: no wraparound test to stop LLVM
                y3[plane, oh, ow], argmax3[plane, oh, ow] = _first_maximum_2x2(x3, plane, oh, ow + ow)


# The 2x2 forward's serial twin runs slower than its threaded kernel on one thread (64 x 6 x 28 x
# 28: 214 against 61 us: LLVM vectorises the nest parfors outlines better; the backward's twin is
# as fast), and a one-thread region starts in under a microsecond: both threaded from 2^12.
ONE_THREAD_KERNEL_MIN = 1 << 12


def one_thread_too(kernel, elements):
    """``pick``'s choice between ``kernel`` and its twin, but the kernel on one thread too from
    ``ONE_THREAD_KERNEL_MIN`` elements (one loop nest: the same results). ``pick`` is asked in
    every case: chapter 10 lists the step's choices by recording its calls."""
    choice = pick(kernel, kernel.serial, elements)
    one_thread = get_num_threads() == 1 and not blas_pool.forked()  # a forked child: no region at all
    return kernel if one_thread and elements >= ONE_THREAD_KERNEL_MIN else choice


def max_pool_forward(x, kh, kw, sh, sw):
    """Numba twin of ``reference.max_pool_forward``: y and argmax (N, C, OH, OW), uint8 to 256 cells."""
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    OH, OW = pool_output_length(H, kh, sh), pool_output_length(W, kw, sw)
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.empty((N, C, OH, OW), dtype=np.uint8 if kh * kw <= 256 else np.int64)
    if (kh, kw, sh, sw) == (2, 2, 2, 2):
        one_thread_too(_max_pool_forward_2x2, x.size)(x, y, argmax)
    else:
        pick(_max_pool_forward, _max_pool_forward.serial, x.size)(x, kh, kw, sh, sw, y, argmax)
    return y, argmax


@threaded()
def _max_pool_backward(dy, argmax, kw, sh, sw, dx):
    # one task per plane; windows visited last-to-first so that a pixel shared by
    # several windows adds their gradients in the reference's order (bitwise equal);
    # unsigned flat offsets (see ``loops.py``)
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


@threaded()
def _max_pool_backward_2x2(dy_bits, argmax, dx_words):
    # the 2x2 window with stride 2 on float32 of an even width: windows do not overlap, so every
    # pixel of dx is written once, and a window's two pixels of a row are one 64-bit word of dx.
    # dx_words (planes, H, W / 2) is dx's memory and dy_bits (planes, OH, OW) dy's, read as
    # integers; a word holds dy's bits in the half the argmax names (the left pixel is the low
    # half: little-endian) and zeros in the other. One store per window and row, contiguous, on
    # every instruction set: a loop over dx's columns reading window w >> 1 compiled to gathers
    # on AVX-512; forms without it ran 2.5-3.6x slower on AVX2 (docs/performance.md, section 27).
    # A zero of either sign is written +0.0, the reference's 0 + dy; a last row no window covers
    # gets zeros.
    planes, OH, OW = argmax.shape
    zero = np.uint64(0)
    for plane in prange(planes):
        for oh in range(OH):
            for i in range(2):  # the window's top row, then its bottom row
                for ow in range(OW):
                    bits = dy_bits[plane, oh, ow]
                    g = np.uint64(bits) if bits & np.uint32(0x7FFFFFFF) else zero
                    at = argmax[plane, oh, ow]
                    left, right = (g if at == 2 * i else zero), (g if at == 2 * i + 1 else zero)
                    dx_words[plane, 2 * oh + i, ow] = left | (right << np.uint64(32))
        for h in range(2 * OH, dx_words.shape[1]):
            for ow in range(OW):
                dx_words[plane, h, ow] = zero


def max_pool_backward(dy, argmax, x_shape, kh, kw, sh, sw):
    """Numba twin of ``reference.max_pool_backward``: dx (N, C, H, W)."""
    dy, argmax = np.ascontiguousarray(dy), np.ascontiguousarray(argmax)
    shape = tuple(int(d) for d in x_shape)
    N, C, OH, OW = dy.shape
    words = (kh, kw, sh, sw) == (2, 2, 2, 2) and dy.dtype == np.float32 and shape[3] % 2 == 0
    if words and sys.byteorder == "little":  # dx's rows as words of two pixels (the kernel above)
        dx, planes = np.empty(shape, dtype=dy.dtype), (N * C, OH, OW)
        dx_words = dx.reshape(N * C, shape[2], shape[3]).view(np.uint64)
        kernel = one_thread_too(_max_pool_backward_2x2, dx.size)
        kernel(dy.reshape(planes).view(np.uint32), argmax.reshape(planes), dx_words)
        return dx
    dx = np.zeros(shape, dtype=dy.dtype)
    pick(_max_pool_backward, _max_pool_backward.serial, dx.size)(dy, argmax, kw, sh, sw, dx)
    return dx


@threaded()
def _avg_pool_forward(x, kh, kw, sh, sw, divisor, y):
    # one task per plane; sums in row-major order in the input's precision, as the reference;
    # unsigned flat offsets (see ``loops.py``)
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


def avg_pool_forward(x, kh, kw, sh, sw):
    """Numba twin of ``reference.avg_pool_forward``: y (N, C, OH, OW)."""
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    OH, OW = pool_output_length(H, kh, sh), pool_output_length(W, kw, sw)
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    pick(_avg_pool_forward, _avg_pool_forward.serial, x.size)(x, kh, kw, sh, sw, x.dtype.type(kh * kw), y)
    return y


@threaded()
def _avg_pool_backward(dy, kh, kw, sh, sw, divisor, dx):
    # one task per plane; windows last-to-first to add in the reference's order;
    # unsigned flat offsets (see ``loops.py``)
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


def avg_pool_backward(dy, x_shape, kh, kw, sh, sw):
    """Numba twin of ``reference.avg_pool_backward``: dx (N, C, H, W)."""
    dx = np.zeros(tuple(int(d) for d in x_shape), dtype=dy.dtype)
    kernel = pick(_avg_pool_backward, _avg_pool_backward.serial, dx.size)
    kernel(np.ascontiguousarray(dy), kh, kw, sh, sw, dy.dtype.type(kh * kw), dx)
    return dx
