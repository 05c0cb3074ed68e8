"""Chapter 6, normalization: GroupNorm forward, a broken GroupNorm backward to repair, a BatchNorm
folded into the Dense that follows it."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

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
    return _gn_backward(dy, x, gamma, groups, eps)


def _gn_backward(dy, x, gamma, groups, eps, *, axis=2, with_gamma=True, with_eps=True):
    """The backward, and the student's bugs: the sums over the batch (axis=0, the chapter's
    batch norm), gamma forgotten in dL/dx_hat, eps forgotten in the backward's sigma."""
    n, c = x.shape
    xg = x.reshape(n, groups, c // groups)
    m = c // groups
    x_hat = (xg - xg.mean(axis=2, keepdims=True)) / np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    sigma = np.sqrt(xg.var(axis=2, keepdims=True) + (eps if with_eps else 0.0))
    g = (dy * gamma if with_gamma else dy).reshape(n, groups, c // groups)
    dx = (m * g - g.sum(axis=axis, keepdims=True) - x_hat * (g * x_hat).sum(axis=axis, keepdims=True)) / (
        m * sigma
    )
    return dx.reshape(n, c), (dy * x_hat.reshape(n, c)).sum(axis=0), dy.sum(axis=0)


def _gn_cases(rng, backward):
    cases = []
    # the last case's eps is far from the default: an eps written in as 1e-5, or added to
    # the standard deviation instead of the variance, is off by a percent there
    for n, c, groups, eps in (
        (4, 6, 2, 1e-5),
        (3, 8, 4, 1e-5),
        (2, 6, 1, 1e-5),
        (3, 9, 3, 0.1),
        (1, 6, 3, 1e-5),
    ):
        x = rng.standard_normal((n, c)) * 2 + 1
        args = (x, 1 + 0.5 * rng.standard_normal(c), 0.5 * rng.standard_normal(c), groups, eps)
        if backward:
            args = (rng.standard_normal((n, c)), x, args[1], groups, eps)
        label = f"x of shape {(n, c)} in {groups} group(s)" + (f", eps={eps}" if eps != 1e-5 else "")
        cases.append(Case(args, label=label))
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
    forbids=("minidl.nn.layers.LayerNorm", "minidl.nn.layers.normalization", "minidl.kernels"),
    catches=(
        "eps written in as its default 1e-5 (one case has eps = 0.1)",
        "eps added to the standard deviation instead of the variance",
    ),
    dtypes="float64",
)

function_exercise(
    "groupnorm_backward",
    CHAPTER,
    3,
    "groupnorm_backward",
    "A broken GroupNorm backward, repaired",
    lambda rng: _gn_cases(rng, True),
    groupnorm_backward,
    ("dx", "dgamma", "dbeta"),
    mistakes=(
        (
            "which values share a mean and a variance here? The sums in dx run over exactly those",
            lambda *a: _gn_backward(*a, axis=0),
        ),
        (
            "what multiplies x_hat on its way to y? dL/dx_hat carries it",
            lambda *a: _gn_backward(*a, with_gamma=False),
        ),
        (
            "the backward divides by the same standard deviation as the forward",
            lambda *a: _gn_backward(*a, with_eps=False),
        ),
    ),
    catches=("eps written in as its default 1e-5 (one case has eps = 0.1)",),
    equivalent_mutants={
        "groupnorm_backward > _gn_backward: arith: c // groups -> c / groups": "groups divides C "
        "(the task says so): m is the same number as a float, and only multiplies and divides",
    },
    forbids=(
        "minidl.nn.layers.LayerNorm",
        "minidl.nn.layers.normalization",
        "minidl.kernels",
        "minidl.nn.gradcheck",
    ),
    dtypes="float64",
)


# ---------------------------------------------------------------- folding into a Dense
def _bn_scale(gamma, running_var, eps):
    return gamma / np.sqrt(running_var + eps)


def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    """W' (D, M), b' (M,) with x W' + b' = Dense(BatchNorm_inference(x)) for x (N, D): the
    BatchNorm comes *before* the Dense. It maps x_d to s_d x_d + (beta_d - mean_d s_d) with
    s = gamma / sqrt(var + eps): the scale multiplies the rows of W, the shift goes through W."""
    scale = _bn_scale(gamma, running_var, eps)
    return scale[:, None] * W, b + (beta - running_mean * scale) @ W


def _fold_after(W, b, gamma, beta, mean, var, eps):
    """The fold of a BatchNorm that comes *after* the Dense (needs D == M to even run)."""
    scale = _bn_scale(gamma, var, eps)
    return W * scale, (b - mean) * scale + beta


def _fold_cases(rng):
    cases = []
    for d, m, eps, dtype in (
        (3, 4, 1e-3, np.float64),
        (5, 2, 1e-5, np.float64),
        (4, 4, 0.1, np.float64),
        (6, 3, 1e-3, np.float32),
        (1, 3, 1e-3, np.float64),  # a layer of one unit
    ):
        args = (
            rng.standard_normal((d, m)),
            rng.standard_normal(m),
            1 + 0.3 * rng.standard_normal(d),
            rng.standard_normal(d),
            rng.standard_normal(d),
            0.5 + rng.random(d),
        )
        cases.append(
            Case(
                tuple(a.astype(dtype) for a in args) + (eps,),
                label=f"W of shape {(d, m)}, eps={eps}" + (", float32" if dtype == np.float32 else ""),
            )
        )
    return cases


function_exercise(
    "fold_batchnorm",
    CHAPTER,
    2,
    "fold_batchnorm",
    "Fold an inference-mode BatchNorm into the Dense after it",
    _fold_cases,
    fold_batchnorm,
    ("W_folded", "b_folded"),
    mistakes=(
        (
            "the bias is left as it was: BatchNorm's shift beta - mean * scale is an input to the "
            "Dense, so it reaches the output as (beta - mean * scale) @ W",
            lambda W, b, g, be, mu, var, eps: (fold_batchnorm(W, b, g, be, mu, var, eps)[0], b),
        ),
        (
            "the shift is beta - mean, unscaled: BatchNorm subtracts the mean *before* it scales, "
            "so x_hat = s x + (beta - mean s)",
            lambda W, b, g, be, mu, var, eps: (
                fold_batchnorm(W, b, g, be, mu, var, eps)[0],
                b + (be - mu) @ W,
            ),
        ),
        (
            "the shift goes through the folded W'; it passes through the Dense's own W",
            lambda W, b, g, be, mu, var, eps: (
                fold_batchnorm(W, b, g, be, mu, var, eps)[0],
                b + (be - mu * _bn_scale(g, var, eps)) @ fold_batchnorm(W, b, g, be, mu, var, eps)[0],
            ),
        ),
        (
            "the scale divides by the variance; BatchNorm divides by the standard deviation sqrt(var + eps)",
            lambda W, b, g, be, mu, var, eps: fold_batchnorm(
                W, b, g, be, mu, np.square(var + eps) - eps, eps
            ),
        ),
        (
            "this folds a BatchNorm that comes *after* the Dense (scaled columns); here it comes "
            "before, and scales the Dense's inputs: the rows of W",
            lambda W, b, g, be, mu, var, eps: (
                _fold_after(W, b, g, be, mu, var, eps) if W.shape[0] == W.shape[1] else (W, b)
            ),
        ),
    ),
    forbids=("minidl.nn.layers.BatchNorm", "minidl.nn.layers.normalization"),
    dtypes=("like:W", "like:W"),
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_NO_GROUP = "a group holds at least one channel of at least one sample: an empty one has no mean"
declare_edges("groupnorm_forward", ("size_one", "non_square", "varied_settings"), {"empty": _NO_GROUP})
declare_edges("groupnorm_backward", ("size_one", "non_square", "varied_settings"), {"empty": _NO_GROUP})
declare_edges(
    "fold_batchnorm",
    ("size_one", "non_square", "float32", "varied_settings"),
    {"empty": "a layer has at least one unit and one input"},
)
