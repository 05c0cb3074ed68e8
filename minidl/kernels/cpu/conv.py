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
    # one task per row (c, i, j); padding zeroed by ranges computed once per row (no test per pixel);
    # unsigned flat offsets so the copy vectorises. At stride 1 with OW == W an image's row is its
    # plane moved by one offset: zeros, one long copy, zeros, then 0 where it wrapped around
    N, C, H, W = x.shape
    x_flat, cols_flat = x.reshape(-1), cols.reshape(-1)
    block, runs = cols.shape[1], sh == sw == 1 and OW == W
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


# The tiles of the kernels below order a tile's columns with its g images innermost: column
# (oh * OW + ow) * g + m, and the tile's images side by side in a plane (C, H, W * g). At stride 1
# a tap's output row is then one run of (ow_stop - ow_first) * g values (LeNet-5's conv2: 80, not
# 10, which is too short to vectorise); each dx still gets its taps in the reference's order.
@threaded()
def _interleave(a, n0, b, into, bias, inner):
    """b (C, g*P) <- a[n0 : n0 + g] (N, C, P) with the images innermost: b[c, p*g + m] = a[n0 + m,
    c, p]; not ``into``, the other way with bias[c] added, from b's images outermost (b[c, m*P + p],
    the whole batch's product) where not ``inner``."""
    C, P = a.shape[1], a.shape[2]
    g = b.shape[1] // P
    for c in prange(C):
        row = b[c]
        for m in range(g):
            image = a[n0 + m, c]
            if into:
                for p in range(P):
                    row[p * g + m] = image[p]
            elif inner:
                for p in range(P):
                    image[p] = row[p * g + m] + bias[c]
            else:
                for p in range(P):
                    image[p] = row[m * P + p] + bias[c]


@njit(cache=True)
def _tap_runs(plane, cols, kh, kw, sh, sw, ph, pw, OH, OW, fold):
    """cols (C*kh*kw, OH*OW*g) <- plane (C, H, W*g), im2col with the images innermost; ``fold``:
    plane = the sum of cols' taps (col2im). At stride sw > 1 a run is one position's g images."""
    C, H = plane.shape[0], plane.shape[1]
    g = cols.shape[1] // (OH * OW)
    W, zero = plane.shape[2] // g, plane.dtype.type(0)
    if fold:
        plane[:] = zero
    for c in range(C):
        for i in range(kh):
            oh_first, oh_stop = _valid_range(OH, i - ph, sh, H)
            for j in range(kw):
                ow_first, ow_stop = _valid_range(OW, j - pw, sw, W)
                row, first, stop, line = cols[(c * kh + i) * kw + j], ow_first * g, ow_stop * g, OW * g
                runs, run = (1, stop - first) if sw == 1 else (ow_stop - ow_first, g)
                if not fold:  # the rows in the padding
                    row[: oh_first * line], row[oh_stop * line :] = zero, zero
                for oh in range(oh_first, oh_stop):
                    image_row, out = plane[c, oh * sh + i - ph], oh * line
                    if not fold:  # the columns in the padding
                        row[out : out + first], row[out + stop : out + line] = zero, zero
                    for k in range(runs):
                        a, b = _u(((ow_first + k) * sw + j - pw) * g), _u(out + first + k * g)
                        if fold:
                            for t in range(run):
                                image_row[a + _u(t)] += row[b + _u(t)]
                        else:
                            for t in range(run):
                                row[b + _u(t)] = image_row[a + _u(t)]


@threaded()
def _col2im(cols, kh, kw, sh, sw, ph, pw, OH, OW, dx):
    # one task per image plane (n, c): planes are disjoint, so the scatter-add needs no atomics; each
    # task zeroes its plane of dx (in the threads, not a serial np.zeros), then adds offsets (i, j) in
    # the reference's order (bitwise equal: 0 + the same sums); unsigned flat offsets (vectorised).
    # With stride 1 and OW == W, one long add per offset, adding 0 where a column wrapped around
    # (``keep``: x + 0 == x, and a sum that starts at +0 is never -0)
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
#   of patch matrix, to stay in a core's L2 cache) is built, multiplied (the product straight into
#   the NCHW output) and in the backward folded back while still in cache: each tile a task of a
#   parallel kernel calling OpenBLAS (with none to call, the whole batch's products). With stride 1
#   dW and db need no patch matrix (``conv2d_weight_gradient_shifted``): the tiles serve dx alone.
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
_im2col_serial, _interleave_serial = _im2col.serial, _interleave.serial


@njit(parallel=True, cache=True)
def _tiles_forward(gemm_at, x, W2, bias, geometry, per_tile, y):
    kh, kw, sh, sw, ph, pw = geometry
    (N, C, H, W), (F, K), (OH, OW) = x.shape, W2.shape, y.shape[2:]
    inner = OW < W  # the images innermost (``_tap_runs``) where an output row is shorter than an image's
    for tile in prange((N + per_tile - 1) // per_tile):
        n0 = tile * per_tile
        g = min(per_tile, N - n0)
        cols, products = np.empty((K, g * OH * OW), x.dtype), np.empty((F, g * OH * OW), x.dtype)
        if inner:
            plane = np.empty((C, H, W * g), x.dtype)
            _interleave_serial(x.reshape(N, C, H * W), n0, plane.reshape(C, H * W * g), True, bias, True)
            _tap_runs(plane, cols, kh, kw, sh, sw, ph, pw, OH, OW, False)
        else:  # rows as long as the image's: im2col copies an image's tap in one run
            _im2col_serial(x[n0 : n0 + g], kh, kw, sh, sw, ph, pw, OH, OW, cols)
        blas_pool.matmul_rows(gemm_at, W2, 0, F, cols, products, products.shape[1])
        _interleave_serial(y.reshape(N, F, OH * OW), n0, products, False, bias, inner)


@njit(parallel=True, cache=True)
def _tiles_input_gradient(gemm_at, dy, W2_T, geometry, per_tile, dx):
    # dx tile by tile, the tile's images innermost, when dW and db came from the shifted products
    kh, kw, sh, sw, ph, pw = geometry
    (N, C, H, W), (K, F), (OH, OW) = dx.shape, W2_T.shape, dy.shape[2:]
    zeros = np.zeros(C, dx.dtype)
    for tile in prange((N + per_tile - 1) // per_tile):
        n0 = tile * per_tile
        g = min(per_tile, N - n0)
        plane, dy_tile = np.empty((C, H, W * g), dx.dtype), np.empty((F, g * OH * OW), dx.dtype)
        dcols = np.empty((K, g * OH * OW), dx.dtype)
        _interleave_serial(dy.reshape(N, F, OH * OW), n0, dy_tile, True, zeros, True)
        blas_pool.matmul_rows(gemm_at, W2_T, 0, K, dy_tile, dcols, dcols.shape[1])
        _tap_runs(plane, dcols, kh, kw, sh, sw, ph, pw, OH, OW, True)
        _interleave_serial(dx.reshape(N, C, H * W), n0, plane.reshape(C, H * W * g), False, zeros, True)


def conv2d_forward(x, weight, bias, sh, sw, ph, pw):
    """Numba twin of ``reference.conv2d_forward``, by ``conv2d_route``: tiles of images (a tile's
    patch matrix, one BLAS product, written into y as NCHW; returns (y, None)), or the whole
    batch's patch matrix in one product (returns (y, cols); the tiles route too where there is no
    OpenBLAS to call from the tiles' kernel)."""
    x, weight, dtype = _conv_operands(x, weight)
    (N, C, H, W), (F, _, kh, kw) = x.shape, weight.shape
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    W2 = weight.reshape(F, C * kh * kw)
    bias = np.zeros(F, dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    y = np.empty((N, F, OH, OW), dtype=dtype)
    route, gemm_at = conv2d_route(x.shape, weight.shape, sh, sw, ph, pw), blas_pool.gemm_address(dtype)
    if route == "whole" or not gemm_at:  # y = W2 @ cols + b, as NCHW
        cols = im2col(x, kh, kw, sh, sw, ph, pw)
        pick(_interleave, _interleave_serial, y.size)(y.reshape(N, F, -1), 0, W2 @ cols, False, bias, False)
        return y, cols
    per_tile = conv2d_tile(x.shape, weight.shape, sh, sw, ph, pw, dtype.itemsize)
    with blas_pool.one_thread():  # the tiles as the tasks of a kernel (no Python loop between them)
        _tiles_forward(gemm_at, x, W2, bias, (kh, kw, sh, sw, ph, pw), per_tile, y)
    return y, None


def conv2d_backward(dy, x, cols, weight, sh, sw, ph, pw, input_grad):
    """Numba twin of ``reference.conv2d_backward``, by ``conv2d_route``: tile by tile (at stride
    1 dW and db by ``conv2d_weight_gradient_shifted`` (rows shorter than ``SHIFTED_MIN_ROW``: by
    the whole batch's patch matrix), dx by ``_tiles_input_gradient``; otherwise each tile's patch
    matrix rebuilt from x, dW += dY_tile @ cols.T, dx folded back from W2.T @ dY_tile in cache), or
    in three whole products over ``cols``, the patch matrix the forward returned (built again when
    None; dropped after dW, before dcols is allocated), as stride 1's tiles with no OpenBLAS to call."""
    x, weight, dtype = _conv_operands(x, weight)
    dy = np.ascontiguousarray(dy, dtype=dtype)
    (N, C, H, W), (F, _, kh, kw) = x.shape, weight.shape
    shifted, gemm_at = sh == sw == 1, blas_pool.gemm_address(dtype)
    if conv2d_route(x.shape, weight.shape, sh, sw, ph, pw) == "whole" or (shifted and not gemm_at):
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
    K, (OH, OW) = C * kh * kw, dy.shape[2:]
    per_tile = conv2d_tile(x.shape, weight.shape, sh, sw, ph, pw, dtype.itemsize)
    W2_T = np.ascontiguousarray(weight.reshape(F, K).T)
    if shifted:  # dW and db with no patch matrix (but for short rows, or an x with an inf or a NaN)
        long_rows = OH * (W + 2 * pw) >= SHIFTED_MIN_ROW
        by = conv2d_weight_gradient_shifted if long_rows else _weight_gradient_by_cols
        dweight, dbias = by(dy, x, weight.shape, ph, pw)
        if not input_grad:
            return None, dweight, dbias
        dx = np.empty(x.shape, dtype=dtype)
        with blas_pool.one_thread():  # dx alone left: the tiles as the tasks of a kernel
            _tiles_input_gradient(gemm_at, dy, W2_T, (kh, kw, sh, sw, ph, pw), per_tile, dx)
        return dx, dweight, dbias
    # strided: a Python loop over the tiles, each tile's images innermost
    dweight, zeros = np.zeros((F, K), dtype=dtype), np.zeros(C, dtype)
    dx = np.empty(x.shape, dtype=dtype) if input_grad else None
    for n0 in range(0, N, per_tile):
        g = min(per_tile, N - n0)
        tile_cols, dy_tile = np.empty((K, g * OH * OW), dtype), np.empty((F, g * OH * OW), dtype)
        plane = np.empty((C, H, W * g), dtype)
        _interleave_serial(dy.reshape(N, F, OH * OW), n0, dy_tile, True, zeros, True)
        _interleave_serial(x.reshape(N, C, H * W), n0, plane.reshape(C, -1), True, zeros, True)
        _tap_runs(plane, tile_cols, kh, kw, sh, sw, ph, pw, OH, OW, False)
        dweight += dy_tile @ tile_cols.T
        if dx is not None:  # input_grad
            np.matmul(W2_T, dy_tile, out=tile_cols)  # the tile's dcols, in the cols buffer
            _tap_runs(plane, tile_cols, kh, kw, sh, sw, ph, pw, OH, OW, True)
            _interleave_serial(dx.reshape(N, C, H * W), n0, plane.reshape(C, -1), False, zeros, True)
    return dx, dweight.reshape(weight.shape), dy.sum(axis=(0, 2, 3), dtype=np.float64).astype(dtype)
