"""Numba twins of ``reference/conv.py``: im2col, col2im and a whole convolution layer.

im2col and col2im are copy kernels over flat unsigned offsets (vectorised); the products stay
in BLAS, by one of two routes chosen by shape (``conv2d_route``): tiles of a few images whose patch
matrix stays in cache, or the whole batch's patch matrix, kept for the backward. The tunables:
``CONV_TILE_BYTES``, ``CONV_TILE_MAX_FILTERS(_STRIDED)`` (docs/performance.md, sections 2 and 16).
"""

import numpy as np
from numba import njit, prange

from .. import blas_pool, common
from ..common import conv_output_length
from .loops import SUM_MATH, _u, pick, threaded


@njit(cache=True, inline="always")
def _valid_range(count, offset, stride, size):
    """The positions o in [0, count) with 0 <= o * stride + offset < size, as (first, stop)."""
    first = 0 if offset >= 0 else min(count, (-offset + stride - 1) // stride)
    stop = (size - 1 - offset) // stride + 1 if size - 1 - offset >= 0 else 0
    return first, max(first, min(count, stop))


@njit(cache=True, inline="always")
def _flat_range(first, stop, OW, shift, size):
    """The flat positions m in [first * OW, stop * OW) whose source m + shift lies in [0, size)."""
    lo = min(max(first * OW, -shift), stop * OW)  # (never past the block: its zeros stop there)
    return lo, max(lo, min(stop * OW, size - shift))


@threaded()
def _im2col(x, kh, kw, sh, sw, ph, pw, OH, OW, cols):
    # one task per row (c, i, j); padding zeroed by ranges computed once per row (no test per
    # pixel); unsigned flat offsets so the copy vectorises. At stride 1 with W columns of cols an
    # output row (OW == W, or the tiles' wide rows: OW of W used) an image's row is its plane moved
    # by one offset: zeros, one long copy, zeros, then 0 where it wrapped around from the next row
    N, C, H, W = x.shape
    x_flat, cols_flat = x.reshape(-1), cols.reshape(-1)
    block, runs = cols.shape[1], sh == sw == 1 and cols.shape[1] == N * OH * W
    for row in prange(C * kh * kw):
        c, i, j = row // (kh * kw), (row // kw) % kh, row % kw
        h_first, h_stop = _valid_range(OH, i - ph, sh, H)
        w_first, w_stop = _valid_range(OW, j - pw, sw, W)
        shift = (i - ph) * W + j - pw
        for n in range(N):
            if runs:  # each element written once: zeros, the run, zeros; 0 where it wrapped around
                out, (lo, hi) = _u(row * block + n * OH * W), _flat_range(h_first, h_stop, W, shift, H * W)
                source = _u((n * C + c) * H * W + shift + lo)
                for m in range(lo):
                    cols_flat[out + _u(m)] = 0
                for m in range(hi, OH * W):
                    cols_flat[out + _u(m)] = 0
                for t in range(hi - lo):
                    cols_flat[out + _u(lo + t)] = x_flat[source + _u(t)]
                for oh in range(h_first, h_stop):
                    for ow in range(w_first):
                        cols_flat[out + _u(oh * W + ow)] = 0
                    for ow in range(w_stop, OW):
                        cols_flat[out + _u(oh * W + ow)] = 0
                continue
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


def im2col(x, kh, kw, sh, sw, ph, pw):
    """Numba twin of ``reference.im2col``: cols (C*kh*kw, N*OH*OW)."""
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    cols = np.empty((C * kh * kw, N * OH * OW), dtype=x.dtype)
    pick(_im2col, _im2col.serial, cols.size)(x, kh, kw, sh, sw, ph, pw, OH, OW, cols)
    return cols


@threaded()
def _col2im(cols, kh, kw, sh, sw, ph, pw, OH, OW, dx):
    # one task per image plane (n, c): planes are disjoint, so the scatter-add needs no
    # atomics; each task first zeroes its plane of dx (in the threads, not a serial np.zeros
    # before them), then adds offsets (i, j) in the reference's order (bitwise equal: 0 + the
    # same sums); unsigned flat offsets so the inner add vectorises. With stride 1 and OW == W,
    # one long add per offset, adding 0 where a column wrapped around (``keep``: x + 0 == x, and
    # a sum that starts at +0 is never -0)
    N, C, H, W = dx.shape
    cols_flat, dx_flat = cols.reshape(-1), dx.reshape(-1)
    block, same_width = N * OH * OW, sh == sw == 1 and OW == W
    zero = dx.dtype.type(0)
    keep = np.zeros((kw, OH * OW), np.uint8)  # keep[j, m]: column m % OW lies in the image
    for j in range(kw):
        ow_first, ow_stop = _valid_range(OW, j - pw, sw, W)
        for m in range(OH * OW):
            keep[j, m] = ow_first <= m % OW < ow_stop
    for plane in prange(N * C):
        n, c = plane // C, plane % C
        start = _u(plane * H * W)
        for t in range(H * W):
            dx_flat[start + _u(t)] = zero
        for i in range(kh):
            oh_first, oh_stop = _valid_range(OH, i - ph, sh, H)
            for j in range(kw):
                row = (c * kh + i) * kw + j
                if same_width:
                    shift = (i - ph) * W + j - pw
                    lo, hi = _flat_range(oh_first, oh_stop, OW, shift, H * W)
                    target, source = start + _u(shift + lo), _u(row * block + n * OH * OW + lo)
                    keep_j = keep[j, lo:hi]
                    for t in range(hi - lo):
                        value = cols_flat[source + _u(t)]
                        dx_flat[target + _u(t)] += value if keep_j[t] else zero
                    continue
                ow_first, ow_stop = _valid_range(OW, j - pw, sw, W)
                for oh in range(oh_first, oh_stop):
                    target = _u(((n * C + c) * H + oh * sh + i - ph) * W + ow_first * sw + j - pw)
                    source = _u(row * block + (n * OH + oh) * OW + ow_first)
                    for t in range(ow_stop - ow_first):
                        dx_flat[target + _u(t * sw)] += cols_flat[source + _u(t)]


def col2im(cols, x_shape, kh, kw, sh, sw, ph, pw):
    """Numba twin of ``reference.col2im``: dx (N, C, H, W)."""
    N, C, H, W = (int(d) for d in x_shape)
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    dx = np.empty((N, C, H, W), dtype=cols.dtype)  # zeroed plane by plane by the kernel
    pick(_col2im, _col2im.serial, cols.size)(np.ascontiguousarray(cols), kh, kw, sh, sw, ph, pw, OH, OW, dx)
    return dx


# ============================================================ convolution (a whole layer)
# ``conv2d_forward`` / ``conv2d_backward`` do the products of ``reference.conv2d_forward``
# (W2 @ cols, dY2 @ cols.T, W2.T @ dY2) in BLAS, by one of two routes (``conv2d_route``, measured):
# * "tiles": the patch matrix is never built whole. With few filters each of its elements is used
#   in only 2 F flops per product (LeNet-5's first layer: 5 MB, 25 times the images), so the time
#   goes to streaming it through memory. Instead a TILE of a few images (about ``CONV_TILE_BYTES``
#   of patch matrix, to stay in a core's L2 cache) is built by the same im2col, multiplied (the
#   product straight into the NCHW output) and in the backward folded back by col2im while still
#   in cache: each tile a task of a parallel kernel with buffers of its own (a Python loop reusing
#   one where there is no OpenBLAS to call from the kernel). With stride 1 dW and db need no patch
#   matrix (``conv2d_weight_gradient_shifted``): the tiles serve dx alone. cols returned: None.
# * "whole": with more filters the products have the arithmetic to hide that traffic, and one
#   large product per quantity is what BLAS's threads share best; the batch's patch matrix is
#   built once and kept for the backward (which builds it again only when given None).
CONV_TILE_BYTES = 512 * 1024
CONV_TILE_MAX_FILTERS = 32  # "tiles" for F <= this many filters at stride 1 (the rule: conv2d_route)
CONV_TILE_MAX_FILTERS_STRIDED = 8  # and at other strides


def conv2d_route(x_shape, weight_shape, sh, sw, ph, pw) -> str:
    """``"tiles"`` or ``"whole"``: how ``conv2d_forward``/``_backward`` run this shape: tiles for at
    most ``CONV_TILE_MAX_FILTERS`` filters at stride 1 (dW by the shifted products) and
    ``CONV_TILE_MAX_FILTERS_STRIDED`` at other strides (the tiles' backward rebuilds their patch
    matrices), else the whole batch (``python -m bench.conv_tiles``; docs/performance.md, 16)."""
    most = CONV_TILE_MAX_FILTERS if sh == sw == 1 else CONV_TILE_MAX_FILTERS_STRIDED
    return "tiles" if weight_shape[0] <= most else "whole"


def conv2d_tile(x_shape, weight_shape, sh, sw, ph, pw, itemsize=4) -> int:
    """Images per tile of the "tiles" route: as many as ``CONV_TILE_BYTES`` of patch matrix
    hold (at least 1, at most N), lowered to a divisor of N where one is at least half that, so
    the tiles are equal and the threads share them evenly: 64 images of 78 KB make 16 tiles of
    4, not 10 of 6 and one of 4 (on 2 threads 36 images against 28; docs/performance.md, 21)."""
    N, C, H, W = x_shape
    _, _, kh, kw = weight_shape
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    per_image = C * kh * kw * OH * OW * itemsize
    most = max(1, min(N, CONV_TILE_BYTES // max(per_image, 1)))
    return next((g for g in range(most, (most - 1) // 2, -1) if N % g == 0), most)


def _tile_buffer(rows, per_tile, P, dtype):
    """A flat buffer for every tile's (rows, g*P) matrix, and its view for g images (a prefix)."""
    flat = np.empty(rows * per_tile * P, dtype=dtype)
    return lambda g: flat[: rows * g * P].reshape(rows, g * P)


@threaded()
def _scatter_output(products, bias, n0, y, width):
    # products (F, g*OH*width) of a tile (or of the whole batch) -> y[n0 : n0 + g] (N, F, OH, OW)
    # with the bias added: one task per image; rows ``width`` wide (im2col's), OW of them kept
    _, F, OH, OW = y.shape
    P = OH * OW
    g = products.shape[1] // (OH * width)
    y_flat = y.reshape(y.shape[0], F, P)
    rows, run = (1, P) if width == OW else (OH, OW)  # one long row where none is unused
    for m in prange(g):
        for f in range(F):
            row, out = products[f, m * OH * width : (m + 1) * OH * width], y_flat[n0 + m, f]
            b = bias[f]
            for r in range(rows):
                for t in range(run):
                    out[r * run + t] = row[r * width + t] + b


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
# vectorised along m. A zero of wide times an inf of x would put a NaN where the reference has
# none: the copy of x sums 0 x (NaN for an inf or a NaN), and a non-finite x gets its dW from
# the patch matrix instead (no serial pass over x to check it first).
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


@njit(fastmath=set(SUM_MATH), cache=True)
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
                for t in range(4):
                    out[f + q, r + t] += sums[q][t]
    for f in range(F4, F):
        for r in range(0, R4, 4):
            sums = _shifted_dot_1x4(wide, f, xp, offsets, r, L, zero)
            for t in range(4):
                out[f, r + t] += sums[t]
    for f in range(F):
        for r in range(R4, R):
            s = zero
            for m in range(L):
                s += wide[f, m] * xp[offsets[r] + _u(m)]
            out[f, r] += s


SHIFTED_IMAGES_PER_PART = 8  # images summed into one partial dW (the same with or without threads)
# Short rows (OH * Wp, each image's dot products) leave the 4x4 tiles little to do: from 128 the shifted
# products, below it the batch's patch matrix (1 and 2 threads, section 21: 3 x 3 images 1.24 ms / 0.22)
SHIFTED_MIN_ROW = 128


@threaded(fastmath=set(SUM_MATH))
def _conv2d_weight_gradient_shifted(dy, x, ph, pw, offsets, dweight_parts, dbias_parts, checks):
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
        x_flat, wide_flat, zero = x.reshape(-1), wide.reshape(-1), x.dtype.type(0)
        check = zero
        for n in range(part * per, min(N, (part + 1) * per)):
            for c in range(C):  # the image into the padded layout (its border stays zero)
                for h in range(H):
                    target = _u((c * Hp + h + ph) * Wp + pw)
                    source = _u(((n * C + c) * H + h) * W)
                    for w in range(W):
                        value = x_flat[source + _u(w)]
                        xp[target + _u(w)] = value
                        check += value * zero  # 0, or NaN where x is inf or NaN
            for f in range(F):  # dy into the wide layout, and its sum for db
                total = 0.0
                for oh in range(OH):
                    for ow in range(OW):
                        value = dy[n, f, oh, ow]
                        wide_flat[_u(f * L + oh * Wp + ow)] = value
                        total += value
                dbias_parts[part, f] += total
            _shifted_products(wide, xp, offsets, dweight_parts[part])
        checks[part] = check


def conv2d_weight_gradient_shifted(dy, x, weight_shape, ph, pw):
    """(dweight, dbias) of a stride-1 convolution by shifted dot products (see above); for an x
    with an inf or a NaN, by the patch matrix."""
    N, C, H, W = x.shape
    F, _, kh, kw = weight_shape
    Hp, Wp = H + 2 * ph, W + 2 * pw
    offsets = ((np.arange(C)[:, None, None] * Hp + np.arange(kh)[:, None]) * Wp + np.arange(kw)).reshape(-1)
    parts = -(-N // SHIFTED_IMAGES_PER_PART)
    dweight_parts = np.zeros((parts, F, C * kh * kw), dtype=x.dtype)
    dbias_parts, checks = np.zeros((parts, F)), np.zeros(parts, dtype=x.dtype)
    kernel = pick(_conv2d_weight_gradient_shifted, _conv2d_weight_gradient_shifted.serial, dy.size)
    kernel(dy, x, ph, pw, offsets.astype(np.uint64), dweight_parts, dbias_parts, checks)
    if not np.isfinite(checks).all():
        return _weight_gradient_by_cols(dy, x, weight_shape, ph, pw)
    return dweight_parts.sum(axis=0).reshape(weight_shape), dbias_parts.sum(axis=0).astype(x.dtype)


def _weight_gradient_by_cols(dy, x, weight_shape, ph, pw):
    """(dweight, dbias) of a stride-1 convolution by the whole batch's patch matrix."""
    F, _, kh, kw = weight_shape
    dy2d = dy.transpose(1, 0, 2, 3).reshape(F, -1)
    return common.conv2d_weight_gradient_by_cols(im2col(x, kh, kw, 1, 1, ph, pw), dy2d, weight_shape)


# The tiles as the tasks of a parallel loop: the loop's steps below, products by ``blas_pool.gemm``.
_im2col_serial, _col2im_serial, _scatter_serial = _im2col.serial, _col2im.serial, _scatter_output.serial


@njit(parallel=True, cache=True)
def _tiles_forward(gemm_at, x, W2, bias, geometry, per_tile, y):
    kh, kw, sh, sw, ph, pw = geometry
    N, (F, K), (OH, OW) = x.shape[0], W2.shape, y.shape[2:]
    width = x.shape[3] if sh == sw == 1 and OW < x.shape[3] else OW  # one run an image row (section 31)
    for tile in prange((N + per_tile - 1) // per_tile):
        n0 = tile * per_tile
        g = min(per_tile, N - n0)
        cols, products = np.empty((K, g * OH * width), x.dtype), np.empty((F, g * OH * width), x.dtype)
        _im2col_serial(x[n0 : n0 + g], kh, kw, sh, sw, ph, pw, OH, OW, cols)
        blas_pool.matmul_rows(gemm_at, W2, 0, F, cols, products, products.shape[1])
        _scatter_serial(products, bias, n0, y, width)


@njit(parallel=True, cache=True)
def _tiles_input_gradient(gemm_at, dy, W2_T, geometry, per_tile, dx):
    # dx tile by tile, as the backward's loop does it when dW and db came from the shifted products
    kh, kw, sh, sw, ph, pw = geometry
    N, (K, F), (OH, OW) = dy.shape[0], W2_T.shape, dy.shape[2:]
    for tile in prange((N + per_tile - 1) // per_tile):
        n0 = tile * per_tile
        g = min(per_tile, N - n0)
        dy_tile, dcols = np.empty((F, g * OH * OW), dy.dtype), np.empty((K, g * OH * OW), dy.dtype)
        _gather_gradient(dy, n0, dy_tile, np.zeros(F))  # (db: the shifted products' own)
        blas_pool.matmul_rows(gemm_at, W2_T, 0, K, dy_tile, dcols, dcols.shape[1])
        _col2im_serial(dcols, kh, kw, sh, sw, ph, pw, OH, OW, dx[n0 : n0 + g])


def conv2d_forward(x, weight, bias, sh, sw, ph, pw):
    """Numba twin of ``reference.conv2d_forward``, by ``conv2d_route``: tiles of images (im2col
    of a tile into a buffer reused by every tile, one BLAS product, written into y as NCHW;
    returns (y, None)), or the whole batch's patch matrix in one product (returns (y, cols))."""
    x, weight, dtype = _conv_operands(x, weight)
    N, C, H, W = x.shape
    F, _, kh, kw = weight.shape
    K = C * kh * kw
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    W2 = weight.reshape(F, K)
    bias = np.zeros(F, dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    y = np.empty((N, F, OH, OW), dtype=dtype)
    if conv2d_route(x.shape, weight.shape, sh, sw, ph, pw) == "whole":  # y = W2 @ cols + b, as NCHW
        cols = im2col(x, kh, kw, sh, sw, ph, pw)
        pick(_scatter_output, _scatter_output.serial, y.size)(W2 @ cols, bias, 0, y, OW)
        return y, cols
    per_tile = conv2d_tile(x.shape, weight.shape, sh, sw, ph, pw, dtype.itemsize)
    gemm_at = blas_pool.gemm_address(dtype)
    if gemm_at:  # the tiles as the tasks of a kernel (on one thread too: no Python loop between them)
        with blas_pool.one_thread():
            _tiles_forward(gemm_at, x, W2, bias, (kh, kw, sh, sw, ph, pw), per_tile, y)
        return y, None
    cols_of, products_of = (_tile_buffer(rows, per_tile, OH * OW, dtype) for rows in (K, F))
    for n0 in range(0, N, per_tile):
        g = min(per_tile, N - n0)
        cols, products = cols_of(g), products_of(g)
        _im2col.serial(x[n0 : n0 + g], kh, kw, sh, sw, ph, pw, OH, OW, cols)
        np.matmul(W2, cols, out=products)
        _scatter_output.serial(products, bias, n0, y, OW)
    return y, None


def conv2d_backward(dy, x, cols, weight, sh, sw, ph, pw, input_grad):
    """Numba twin of ``reference.conv2d_backward``, by ``conv2d_route``: tile by tile (with
    stride 1, dW and db by ``conv2d_weight_gradient_shifted``, no patch matrix (for rows of at
    least ``SHIFTED_MIN_ROW``; shorter, by the whole batch's patch matrix); otherwise the
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
    shifted = sh == 1 and sw == 1
    if shifted:  # dW and db with no patch matrix (but for short rows, or an x with an inf or a NaN)
        by = (
            conv2d_weight_gradient_shifted
            if OH * (W + 2 * pw) >= SHIFTED_MIN_ROW
            else _weight_gradient_by_cols
        )
        dweight, dbias = by(dy, x, weight.shape, ph, pw)
        if not input_grad:
            return None, dweight, dbias
    per_tile = conv2d_tile(x.shape, weight.shape, sh, sw, ph, pw, dtype.itemsize)
    W2_T = np.ascontiguousarray(weight.reshape(F, K).T)
    dx = np.empty(x.shape, dtype=dtype) if input_grad else None
    gemm_at = blas_pool.gemm_address(dtype)
    if shifted and gemm_at:  # dx alone left: the tiles as the tasks of a kernel
        with blas_pool.one_thread():
            _tiles_input_gradient(gemm_at, dy, W2_T, (kh, kw, sh, sw, ph, pw), per_tile, dx)
        return dx, dweight, dbias
    cols_of, dy_tile_of = (_tile_buffer(rows, per_tile, OH * OW, dtype) for rows in (K, F))
    dweight_tiles = np.zeros((F, K), dtype=dtype)
    dbias_tiles = np.zeros(F)  # float64 sums
    for n0 in range(0, N, per_tile):
        g = min(per_tile, N - n0)
        tile_cols, dy_tile = cols_of(g), dy_tile_of(g)
        _gather_gradient(dy, n0, dy_tile, dbias_tiles)
        if not shifted:
            _im2col.serial(x[n0 : n0 + g], kh, kw, sh, sw, ph, pw, OH, OW, tile_cols)
            if n0 == 0:
                np.matmul(dy_tile, tile_cols.T, out=dweight_tiles)
            else:
                dweight_tiles += dy_tile @ tile_cols.T
        if dx is not None:  # input_grad
            np.matmul(W2_T, dy_tile, out=tile_cols)  # the tile's dcols, in the cols buffer
            _col2im.serial(tile_cols, kh, kw, sh, sw, ph, pw, OH, OW, dx[n0 : n0 + g])  # zeroes, then adds
    if shifted:
        return dx, dweight, dbias
    return dx, dweight_tiles.reshape(weight.shape), dbias_tiles.astype(dtype)
