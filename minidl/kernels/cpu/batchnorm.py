"""Numba twins of ``reference/batchnorm.py``: batch normalization, forward and backward.

Channels in parallel, each channel's statistics as long sums that may be reordered
(``SUM_MATH``, vectorised); with many channels and short rows (a Dense layer's (N, D)) a
second layout walks blocks of features instead, so each pass reads memory in order.
"""

import numpy as np
from numba import njit, prange

from .loops import SUM_MATH, pick, threaded

# ============================================================ batch normalization
# (the statistics are long sums, hence ``SUM_MATH``: see its note in ``loops.py``)


@threaded(fastmath=set(SUM_MATH))
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


_FEATURE_BLOCK = 64


@njit(cache=True)
def _features_forward_block(x, gamma, beta, eps, y, mean, var, c0, c1):
    # columns c0:c1 of (N, D) features, walked row by row, accumulating the block in float64
    # vectors (contiguous, vectorised); one pass for both statistics, shifted by the first row as
    # in the image kernel above. Rows as slices and a width of its own: indexed x[n, c0 + k], the
    # loops ran half as fast; inlined in the ``prange`` body, 2.6 times slower.
    N, width = x.shape[0], c1 - c0
    shift = x[0, c0:c1].astype(np.float64)
    total, squares = np.zeros(width), np.zeros(width)
    for n in range(N):
        row = x[n, c0:c1]
        for k in range(width):
            d = row[k] - shift[k]
            total[k] += d
            squares[k] += d * d
    offset = total / N
    sigma2 = np.maximum(squares / N - offset * offset, 0.0)
    mu = shift + offset
    scale = gamma[c0:c1] / np.sqrt(sigma2 + eps)
    scale_t, shift_t = scale.astype(y.dtype), (beta[c0:c1] - mu * scale).astype(y.dtype)
    for n in range(N):
        row, out = x[n, c0:c1], y[n, c0:c1]
        for k in range(width):
            out[k] = row[k] * scale_t[k] + shift_t[k]
    mean[c0:c1] = mu
    var[c0:c1] = sigma2


@threaded()
def _batchnorm_forward_features(x, gamma, beta, eps, y, mean, var):
    # (N, D) features: a channel is a strided column, so each task takes a block of columns
    D = x.shape[1]
    for block in prange((D + _FEATURE_BLOCK - 1) // _FEATURE_BLOCK):
        c0 = block * _FEATURE_BLOCK
        c1 = min(D, c0 + _FEATURE_BLOCK)
        _features_forward_block(x, gamma, beta, eps, y, mean, var, c0, c1)


def batchnorm_forward(x, gamma, beta, eps):
    """Numba twin of ``reference.batchnorm_forward``: y (N, C, L), mean (C,), var (C,)."""
    x = np.ascontiguousarray(x)
    C = x.shape[1]
    y = np.empty_like(x)
    mean, var = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
    gamma, beta = np.ascontiguousarray(gamma), np.ascontiguousarray(beta)
    if x.shape[2] == 1:
        kernel = pick(_batchnorm_forward_features, _batchnorm_forward_features.serial, x.size)
        kernel(x[:, :, 0], gamma, beta, float(eps), y[:, :, 0], mean, var)
    else:
        pick(_batchnorm_forward, _batchnorm_forward.serial, x.size)(x, gamma, beta, float(eps), y, mean, var)
    return y, mean, var


@threaded(fastmath=set(SUM_MATH))
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


@njit(cache=True)
def _features_backward_block(dy, x, gamma, mean, var, eps, dx, dgamma, dbeta, c0, c1):
    # columns c0:c1, walked row by row as in the forward; the two sums as the image kernel's, and
    # dx = a dy + b x + d per column (coefficients in x's precision)
    N, width = x.shape[0], c1 - c0
    inv_std = 1.0 / np.sqrt(var[c0:c1].astype(np.float64) + eps)
    mu = mean[c0:c1].astype(np.float64)
    sum_dy, sum_dy_x = np.zeros(width), np.zeros(width)
    for n in range(N):
        g_row, x_row = dy[n, c0:c1], x[n, c0:c1]
        for k in range(width):
            sum_dy[k] += g_row[k]
            sum_dy_x[k] += g_row[k] * (x_row[k] - mu[k])
    sum_dy_xhat = sum_dy_x * inv_std
    coef = gamma[c0:c1] * inv_std / N  # dx = coef (N dy - sum_dy - (x - mu) inv_std sum_dy_xhat)
    slope = -coef * inv_std * sum_dy_xhat
    a_t, b_t = (coef * N).astype(dx.dtype), slope.astype(dx.dtype)
    d_t = (-coef * sum_dy - slope * mu).astype(dx.dtype)
    for n in range(N):
        g_row, x_row, out = dy[n, c0:c1], x[n, c0:c1], dx[n, c0:c1]
        for k in range(width):
            out[k] = a_t[k] * g_row[k] + b_t[k] * x_row[k] + d_t[k]
    dgamma[c0:c1] = sum_dy_xhat
    dbeta[c0:c1] = sum_dy


@threaded()
def _batchnorm_backward_features(dy, x, gamma, mean, var, eps, dx, dgamma, dbeta):
    # (N, D) features: blocks of columns, as in the forward
    D = x.shape[1]
    for block in prange((D + _FEATURE_BLOCK - 1) // _FEATURE_BLOCK):
        c0 = block * _FEATURE_BLOCK
        c1 = min(D, c0 + _FEATURE_BLOCK)
        _features_backward_block(dy, x, gamma, mean, var, eps, dx, dgamma, dbeta, c0, c1)


def batchnorm_backward(dy, x, gamma, mean, var, eps):
    """Numba twin of ``reference.batchnorm_backward``: dx (N, C, L), dgamma (C,), dbeta (C,)."""
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    C = x.shape[1]
    dx = np.empty_like(x)
    dgamma, dbeta = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
    gamma = np.ascontiguousarray(gamma)
    if x.shape[2] == 1:
        kernel = pick(_batchnorm_backward_features, _batchnorm_backward_features.serial, x.size)
        kernel(dy[:, :, 0], x[:, :, 0], gamma, mean, var, float(eps), dx[:, :, 0], dgamma, dbeta)
    else:
        kernel = pick(_batchnorm_backward, _batchnorm_backward.serial, x.size)
        kernel(dy, x, gamma, mean, var, float(eps), dx, dgamma, dbeta)
    return dx, dgamma, dbeta
