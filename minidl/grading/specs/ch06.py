"""Chapter 6, batch normalization: forward and backward in training mode."""
import numpy as np

from ..registry import Case, function_exercise

CHAPTER = "06_batch_normalization"


def batchnorm_forward(x, gamma, beta, eps):
    """x (N, D): y = gamma * (x - mean) / sqrt(var + eps) + beta, statistics over the batch."""
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def _bn_forward_cases(rng):
    cases = []
    for n, d in ((6, 3), (9, 5)):
        cases.append(Case((rng.standard_normal((n, d)) * 3 + 1, rng.standard_normal(d),
                           rng.standard_normal(d), 1e-5), label=f"x of shape {(n, d)}"))
    cases.append(Case((rng.standard_normal((4, 2)) * 1e-3, np.ones(2), np.zeros(2), 0.1),
                      label="tiny inputs with eps=0.1 (where eps matters)"))
    return cases


function_exercise(
    "batchnorm_forward", CHAPTER, 1, "batchnorm_forward", "Batch normalization, forward",
    _bn_forward_cases, batchnorm_forward, ("y",),
    mistakes=(("the statistics are taken over the features (axis=1); batch norm uses the "
               "batch axis (axis=0)", lambda x, g, b, eps: g * (x - x.mean(1, keepdims=True))
               / np.sqrt(x.var(1, keepdims=True) + eps) + b),
              ("the variance is the unbiased one (ddof=1); normalisation uses the biased "
               "batch variance", lambda x, g, b, eps: g * (x - x.mean(0))
               / np.sqrt(x.var(0, ddof=1) + eps) + b),
              ("eps is added outside the square root: sqrt(var + eps)",
               lambda x, g, b, eps: g * (x - x.mean(0)) / (np.sqrt(x.var(0)) + eps) + b)))


def batchnorm_backward(dy, x, gamma, eps):
    """Gradients of batch norm in training mode. Returns (dx, dgamma, dbeta)."""
    n = x.shape[0]
    mean = x.mean(axis=0)
    inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - mean) * inv_std
    dx_hat = dy * gamma
    dx = inv_std / n * (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)


def _bn_constant_stats(dy, x, gamma, eps):
    dx, dgamma, dbeta = batchnorm_backward(dy, x, gamma, eps)
    return dy * gamma / np.sqrt(x.var(axis=0) + eps), dgamma, dbeta


def _bn_mean_only(dy, x, gamma, eps):
    dx, dgamma, dbeta = batchnorm_backward(dy, x, gamma, eps)
    g = dy * gamma / np.sqrt(x.var(axis=0) + eps)
    return g - g.mean(axis=0), dgamma, dbeta


def _bn_backward_cases(rng):
    cases = []
    for n, d in ((5, 3), (8, 4)):
        cases.append(Case((rng.standard_normal((n, d)), rng.standard_normal((n, d)) * 2 + 0.5,
                           rng.standard_normal(d), 1e-5), label=f"x of shape {(n, d)}"))
    return cases


function_exercise(
    "batchnorm_backward", CHAPTER, 3, "batchnorm_backward", "Batch normalization, backward",
    _bn_backward_cases, batchnorm_backward, ("dx", "dgamma", "dbeta"),
    mistakes=(("dx treats the batch mean and variance as constants; they depend on x too, "
               "which adds two terms (through the mean and through the variance)",
               _bn_constant_stats),
              ("dx accounts for the mean but not for the variance's dependence on x",
               _bn_mean_only)))


# ---------------------------------------------------------------- questions
# Graded like the code exercises; the answers and the explanations stay here, in the
# grader's process (see questions.py).
from ..questions import multiple_choice, number_question, shape_question  # noqa: E402

multiple_choice(
    "batchnorm_test_time", CHAPTER, 1, "What BatchNorm uses at test time",
    choices={"a": "the mean and variance of the test batch",
             "b": "the running averages of mean and variance collected during training",
             "c": "mean 0 and variance 1, the values the layer normalises to",
             "d": "the mean and variance of the whole test set"},
    answer="b",
    wrong={"a": "then a prediction would depend on the other samples in the batch, and a batch of "
                "one sample would normalise to zero",
           "c": "0 and 1 are where the running statistics *start*; the layer's input is not "
                "standardised, so using them would leave the input unnormalised",
           "d": "that uses test data to build the model (a leak), and is impossible when samples "
                "arrive one at a time"},
    explanation="running_mean / running_var, updated with momentum on every training batch, make "
                "inference deterministic and independent of the batch.")

shape_question(
    "batchnorm_gamma_shape", CHAPTER, 1, "The shape of gamma for images",
    shape=(16,), axes="one axis per parameter dimension",
    mistakes={(16, 5, 5): "that is one gamma per channel *and position*; BatchNorm for images "
                          "shares one scale per channel across N, H and W",
              (8, 16, 5, 5): "that is the shape of the input; the parameters do not depend on the "
                             "batch and are shared over N, H and W",
              (8,): "gamma does not depend on the batch: there is one per channel",
              (1, 16, 1, 1): "minidl keeps gamma as a flat (C,) vector (and reshapes it to "
                             "broadcast); the question asks for the stored shape",
              (5, 5): "gamma is per channel, not per position"},
    hint="the statistics are taken over N, H and W: what is left?",
    explanation="(16,): the mean and variance are over N, H, W, so one gamma and beta per channel.")
