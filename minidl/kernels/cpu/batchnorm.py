"""Numba twins of ``reference/batchnorm.py``: batch normalization, forward and backward.

Channels in parallel, each channel's statistics as long sums that may be reordered
(``SUM_MATH``, vectorised); with many channels and short rows (a Dense layer's (N, D)) a
second layout walks blocks of features instead, so each pass reads memory in order.
"""

import numpy as np
from numba import prange

from .loops import SUM_MATH, pick, threaded

# The (N, D) kernels' threaded build measured slower than serial at (256, 512) on any pool
# (forward 53 -> 80 us on 2 cores): they keep threads for 2^20 elements and more.
_FEATURES_MIN_ELEMENTS = 1 << 20


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


@threaded()
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


def batchnorm_forward(x, gamma, beta, eps):
    """Numba twin of ``reference.batchnorm_forward``: y (N, C, L), mean (C,), var (C,)."""
    x = np.ascontiguousarray(x)
    C = x.shape[1]
    y = np.empty_like(x)
    mean, var = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
    gamma, beta = np.ascontiguousarray(gamma), np.ascontiguousarray(beta)
    if x.shape[2] == 1:
        features = x.size if x.size >= _FEATURES_MIN_ELEMENTS else 0
        kernel = pick(_batchnorm_forward_features, _batchnorm_forward_features.serial, features)
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


@threaded()
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


def batchnorm_backward(dy, x, gamma, mean, var, eps):
    """Numba twin of ``reference.batchnorm_backward``: dx (N, C, L), dgamma (C,), dbeta (C,)."""
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    C = x.shape[1]
    dx = np.empty_like(x)
    dgamma, dbeta = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
    gamma = np.ascontiguousarray(gamma)
    if x.shape[2] == 1:
        features = x.size if x.size >= _FEATURES_MIN_ELEMENTS else 0
        kernel = pick(_batchnorm_backward_features, _batchnorm_backward_features.serial, features)
        kernel(dy[:, :, 0], x[:, :, 0], gamma, mean, var, float(eps), dx[:, :, 0], dgamma, dbeta)
    else:
        kernel = pick(_batchnorm_backward, _batchnorm_backward.serial, x.size)
        kernel(dy, x, gamma, mean, var, float(eps), dx, dgamma, dbeta)
    return dx, dgamma, dbeta
