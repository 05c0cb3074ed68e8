"""Chapter 6, normalization: GroupNorm forward and backward, BatchNorm folded into a Dense."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "06_batch_normalization"


def groupnorm_forward(x, gamma, beta, groups, eps):
    """GroupNorm of x (N, C): the C features split into ``groups`` blocks of C // groups;
    each sample's block is standardised on its own, then y = gamma * x_hat + beta."""
    n, c = x.shape
    xg = x.reshape(n, groups, c // groups)
    x_hat = (xg - xg.mean(axis=2, keepdims=True)) / np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    return gamma * x_hat.reshape(n, c) + beta


def groupnorm_backward(dy, x, gamma, groups, eps):
    """Gradients of GroupNorm: (dx, dgamma, dbeta). Per (sample, group) block of m
    features: dx = (m dx_hat - sum dx_hat - x_hat sum(dx_hat x_hat)) / (m sigma)."""
    n, c = x.shape
    m = c // groups
    xg = x.reshape(n, groups, m)
    sigma = np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    x_hat = (xg - xg.mean(axis=2, keepdims=True)) / sigma
    g = (dy * gamma).reshape(n, groups, m)
    dx = (m * g - g.sum(axis=2, keepdims=True) - x_hat * (g * x_hat).sum(axis=2, keepdims=True)) / (m * sigma)
    return dx.reshape(n, c), (dy * x_hat.reshape(n, c)).sum(axis=0), dy.sum(axis=0)


def _gn_over_batch(dy, x, gamma, groups, eps):
    """The batch-norm backward (statistics over the batch axis) -- the chapter's layer."""
    sigma = np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - x.mean(axis=0)) / sigma
    g, m = dy * gamma, x.shape[0]
    dx = (m * g - g.sum(axis=0) - x_hat * (g * x_hat).sum(axis=0)) / (m * sigma)
    return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)


def _gn_constant_stats(dy, x, gamma, groups, eps):
    n, c = x.shape
    xg = x.reshape(n, groups, c // groups)
    sigma = np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    x_hat = ((xg - xg.mean(axis=2, keepdims=True)) / sigma).reshape(n, c)
    return (
        ((dy * gamma).reshape(n, groups, -1) / sigma).reshape(n, c),
        (dy * x_hat).sum(axis=0),
        dy.sum(axis=0),
    )


def _gn_cases(rng, backward):
    cases = []
    for n, c, groups in ((4, 6, 2), (3, 8, 4), (2, 6, 1)):
        x = rng.standard_normal((n, c)) * 2 + 1
        args = (x, 1 + 0.5 * rng.standard_normal(c), 0.5 * rng.standard_normal(c), groups, 1e-5)
        if backward:
            args = (rng.standard_normal((n, c)), x, args[1], groups, 1e-5)
        cases.append(Case(args, label=f"x of shape {(n, c)} in {groups} group(s)"))
    return cases


function_exercise(
    "groupnorm_forward",
    CHAPTER,
    1,
    "groupnorm_forward",
    "Group normalization, forward",
    lambda rng: _gn_cases(rng, False),
    groupnorm_forward,
    ("y",),
    mistakes=(
        (
            "the statistics are over the batch axis (that is BatchNorm); GroupNorm takes "
            "them over each sample's group of features",
            lambda x, gamma, beta, groups, eps: (
                gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta
            ),
        ),
        (
            "the statistics are over all of a sample's features (that is LayerNorm, one "
            "group); split the features into `groups` blocks first",
            lambda x, gamma, beta, groups, eps: (
                gamma * (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + eps)
                + beta
            ),
        ),
    ),
)

function_exercise(
    "groupnorm_backward",
    CHAPTER,
    3,
    "groupnorm_backward",
    "Group normalization, backward",
    lambda rng: _gn_cases(rng, True),
    groupnorm_backward,
    ("dx", "dgamma", "dbeta"),
    mistakes=(
        (
            "this is the batch-norm backward: the mean and variance of GroupNorm are over "
            "each sample's group, so the sums in dx run over the group's features",
            _gn_over_batch,
        ),
        (
            "the mean and the variance depend on x too: dx has two more terms than gamma * dy / sigma",
            _gn_constant_stats,
        ),
    ),
)


# ---------------------------------------------------------------- folding into a Dense
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    """W' (D, M), b' (M,) such that x W' + b' = BatchNorm_inference(x W + b)."""
    scale = gamma / np.sqrt(running_var + eps)
    return W * scale, (b - running_mean) * scale + beta


def _fold_cases(rng):
    cases = []
    for d, m in ((3, 4), (5, 2)):
        cases.append(
            Case(
                (
                    rng.standard_normal((d, m)),
                    rng.standard_normal(m),
                    1 + 0.3 * rng.standard_normal(m),
                    rng.standard_normal(m),
                    rng.standard_normal(m),
                    0.5 + rng.random(m),
                    1e-3,
                ),
                label=f"W of shape {(d, m)}",
            )
        )
    return cases


function_exercise(
    "fold_batchnorm",
    CHAPTER,
    2,
    "fold_batchnorm",
    "Fold an inference-mode BatchNorm into the Dense before it",
    _fold_cases,
    fold_batchnorm,
    ("W_folded", "b_folded"),
    mistakes=(
        (
            "the old bias b is shifted by the mean but not scaled: b' = (b - mean) * scale + beta",
            lambda W, b, g, be, mu, var, eps: (W * g / np.sqrt(var + eps), b - mu + be),
        ),
        (
            "the scale divides by the variance; BatchNorm divides by the standard deviation sqrt(var + eps)",
            lambda W, b, g, be, mu, var, eps: (W * g / (var + eps), (b - mu) * g / (var + eps) + be),
        ),
    ),
)
