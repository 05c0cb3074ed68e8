"""Chapter 4, optimization: SGD with momentum, Adam, a bias-corrected average of the weights."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "04_optimization"


# ---------------------------------------------------------------- momentum
def sgd_momentum_update(w, dw, v, lr, momentum):
    """PyTorch's rule: v = momentum * v + dw;  w = w - lr * v. Returns (w, v)."""
    v = momentum * v + dw
    return w - lr * v, v


def _momentum_cases(rng):
    cases = []
    for shape, lr, mu in (((4, 3), 0.1, 0.9), ((6,), 0.05, 0.5)):
        cases.append(
            Case(
                (rng.standard_normal(shape), rng.standard_normal(shape), rng.standard_normal(shape), lr, mu),
                label=f"w of shape {shape}, lr={lr}, momentum={mu}",
            )
        )
    return cases


function_exercise(
    "sgd_momentum_update",
    CHAPTER,
    2,
    "sgd_momentum_update",
    "One step of SGD with momentum",
    _momentum_cases,
    sgd_momentum_update,
    ("w", "v"),
    mistakes=(
        (
            "w is updated with the old velocity: update v first, then w -= lr * v",
            lambda w, dw, v, lr, mu: (w - lr * v, mu * v + dw),
        ),
        (
            "this v is the 'classic' form v = momentum * v - lr * dw; this exercise keeps "
            "PyTorch's v = momentum * v + dw (the learning rate is applied to w only)",
            lambda w, dw, v, lr, mu: (w + (mu * v - lr * dw), mu * v - lr * dw),
        ),
    ),
)


# ---------------------------------------------------------------- Adam
def adam_update(w, dw, m, v, t, lr, beta1, beta2, eps):
    """One Adam step at step t (counting from 1). Returns (w, m, v)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_no_correction(w, dw, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * m / (np.sqrt(v) + eps), m, v


def _adam_eps_inside(w, dw, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps), m, v


def _adam_cases(rng):
    cases = []
    for shape, t, eps in (((3, 4), 1, 1e-8), ((5,), 7, 1e-8), ((2, 3), 3, 0.1)):
        m = np.zeros(shape) if t == 1 else rng.standard_normal(shape) * 0.1
        v = np.zeros(shape) if t == 1 else rng.random(shape) * 0.1
        cases.append(
            Case(
                (rng.standard_normal(shape), rng.standard_normal(shape), m, v, t, 1e-2, 0.9, 0.999, eps),
                label=f"step t={t}, eps={eps}",
            )
        )
    return cases


function_exercise(
    "adam_update",
    CHAPTER,
    3,
    "adam_update",
    "One step of Adam",
    _adam_cases,
    adam_update,
    ("w", "m", "v"),
    mistakes=(
        (
            "the bias correction is missing: divide m by (1 - beta1**t) and v by (1 - beta2**t)",
            _adam_no_correction,
        ),
        ("eps is inside the square root; Adam adds it after: sqrt(v_hat) + eps", _adam_eps_inside),
    ),
)


# ---------------------------------------------------------------- weight averaging
def ema_weights(average, w, decay, t):
    """An exponential moving average of the weights with Adam's bias correction.

    average = decay * average + (1 - decay) * w (started at 0); returns (average, average / (1 - decay**t))."""
    average = decay * average + (1 - decay) * w
    return average, average / (1 - decay**t)


def _ema_cases(rng):
    cases = []
    for shape, decay, t in (((3, 2), 0.9, 1), ((4,), 0.99, 5), ((2, 2), 0.5, 3)):
        average = np.zeros(shape) if t == 1 else rng.standard_normal(shape) * 0.1
        cases.append(
            Case((average, rng.standard_normal(shape), decay, t), label=f"step t={t}, decay={decay}")
        )
    return cases


function_exercise(
    "ema_weights",
    CHAPTER,
    2,
    "ema_weights",
    "A bias-corrected moving average of the weights",
    _ema_cases,
    ema_weights,
    ("average", "debiased"),
    mistakes=(
        (
            "the average is not debiased: divide by 1 - decay**t, as Adam does for m",
            lambda a, w, d, t: (d * a + (1 - d) * w,) * 2,
        ),
        (
            "the weights of the two terms are swapped: the *old* average keeps the weight "
            "decay, the new w gets 1 - decay",
            lambda a, w, d, t: ((1 - d) * a + d * w, ((1 - d) * a + d * w) / (1 - d**t)),
        ),
        (
            "the correction uses t - 1; at step t the average holds t terms: 1 - decay**t",
            lambda a, w, d, t: (d * a + (1 - d) * w, (d * a + (1 - d) * w) / (1 - d ** max(t - 1, 1e-9))),
        ),
    ),
)
