"""Chapter 5, regularization: inverted dropout and the L2 penalty."""
import numpy as np

from ..registry import Case, function_exercise

CHAPTER = "05_regularization"


def inverted_dropout(x, u, rate):
    """Keep x where u >= rate, scaled by 1 / (1 - rate). Returns (y, mask) with y = x * mask."""
    mask = (u >= rate) / (1.0 - rate)
    return x * mask, mask


def _dropout_cases(rng):
    cases = []
    for shape, rate in (((4, 6), 0.5), ((3, 2, 5), 0.2)):
        cases.append(Case((rng.standard_normal(shape), rng.random(shape), rate),
                          label=f"x of shape {shape}, rate={rate}"))
    return cases


function_exercise(
    "inverted_dropout", CHAPTER, 2, "inverted_dropout", "Inverted dropout",
    _dropout_cases, inverted_dropout, ("y", "mask"),
    mistakes=(("the kept values are not scaled by 1 / (1 - rate): that is plain dropout, which "
               "would need a rescaling at test time",
               lambda x, u, rate: (x * (u >= rate), (u >= rate) * 1.0)),
              ("elements are kept with probability rate; rate is the probability to DROP "
               "(keep where u >= rate)",
               lambda x, u, rate: (x * (u < rate) / (1 - rate), (u < rate) / (1 - rate))),
              ("the kept values are multiplied by (1 - rate) instead of divided",
               lambda x, u, rate: (x * (u >= rate) * (1 - rate), (u >= rate) * (1 - rate)))))


def l2_penalty(W, lam):
    """Keras's L2: penalty = lam * sum(W**2), gradient 2 * lam * W. Returns (penalty, dW)."""
    return lam * np.sum(W ** 2), 2.0 * lam * W


def _l2_cases(rng):
    return [Case((rng.standard_normal((4, 3)), 0.01), label="W of shape (4, 3), lam=0.01"),
            Case((rng.standard_normal((2, 3, 2)), 0.5), label="W of shape (2, 3, 2), lam=0.5")]


function_exercise(
    "l2_penalty", CHAPTER, 1, "l2_penalty", "The L2 penalty and its gradient",
    _l2_cases, l2_penalty, ("penalty", "dW"),
    mistakes=(("the factor 2 from differentiating W**2 is missing", lambda W, lam: (
        lam * np.sum(W ** 2), lam * W)),),
    factors=lambda W, lam: {"2": 2.0})
