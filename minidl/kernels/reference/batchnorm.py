"""Batch normalization over (N, C, L): the batch statistics and the backward in its compact form.

The backward is the three-term formula dx = gamma / (M sigma) (M dy - sum dy - x_hat sum dy x_hat),
derived in the batch-norm chapter.
"""

import numpy as np


def batchnorm_forward(x, gamma, beta, eps):
    """Normalize each channel over the batch (and the pixels), then scale and shift.

    mean_c = mean over n, l of x[n, c, l]      var_c = mean of (x - mean_c)^2   (biased)
    x_hat = (x - mean_c) / sqrt(var_c + eps)   y = gamma_c x_hat + beta_c

    Parameters: x (N, C, L) -- a (N, D) batch as (N, D, 1), an image batch (N, C, H, W)
    as (N, C, H*W); gamma, beta (C,); eps float.
    Returns y (N, C, L), mean (C,) and var (C,) (the biased batch variance).
    """
    mean = x.mean(axis=(0, 2))
    var = ((x - mean[:, None]) ** 2).mean(axis=(0, 2))
    x_hat = (x - mean[:, None]) / np.sqrt(var[:, None] + eps)
    y = gamma[:, None] * x_hat + beta[:, None]
    return y, mean, var


def batchnorm_backward(dy, x, gamma, mean, var, eps):
    """Gradients of batch normalization in training mode (batch statistics depend on x).

    With M = N * L values per channel, sigma = sqrt(var + eps):
    dbeta_c = sum dy            dgamma_c = sum dy * x_hat
    dx = gamma_c / (M sigma_c) * (M dy - dbeta_c - x_hat dgamma_c)
    (the last two terms are the gradient flowing through the mean and the variance).

    Parameters: dy, x (N, C, L); gamma, mean, var (C,) from the forward; eps float.
    Returns dx (N, C, L), dgamma (C,), dbeta (C,).
    """
    M = x.shape[0] * x.shape[2]
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean[:, None]) * inv_std[:, None]
    dbeta = dy.sum(axis=(0, 2))
    dgamma = (dy * x_hat).sum(axis=(0, 2))
    dx = (gamma * inv_std / M)[:, None] * (M * dy - dbeta[:, None] - x_hat * dgamma[:, None])
    return dx.astype(x.dtype, copy=False), dgamma, dbeta
