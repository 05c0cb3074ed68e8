"""Chapter 4, optimization: SGD with momentum, Adam, gradient clipping."""
import numpy as np

from ..registry import Case, function_exercise

CHAPTER = "04_optimization"


# ---------------------------------------------------------------- momentum
def sgd_momentum_update(w, dw, v, lr, momentum):
    """PyTorch's rule: v = momentum * v + dw;  w = w - lr * v. Returns (w, v)."""
    v = momentum * v + dw
    return w - lr * v, v


def _momentum_cases(rng):
    cases = []
    for shape, lr, mu in (((4, 3), 0.1, 0.9), ((6,), 0.05, 0.5)):
        cases.append(Case((rng.standard_normal(shape), rng.standard_normal(shape),
                           rng.standard_normal(shape), lr, mu), label=f"w of shape {shape}, "
                          f"lr={lr}, momentum={mu}"))
    return cases


function_exercise(
    "sgd_momentum_update", CHAPTER, 2, "sgd_momentum_update", "One step of SGD with momentum",
    _momentum_cases, sgd_momentum_update, ("w", "v"),
    mistakes=(("w is updated with the old velocity: update v first, then w -= lr * v",
               lambda w, dw, v, lr, mu: (w - lr * v, mu * v + dw)),
              ("this v is the 'classic' form v = momentum * v - lr * dw; this exercise keeps "
               "PyTorch's v = momentum * v + dw (the learning rate is applied to w only)",
               lambda w, dw, v, lr, mu: (w + (mu * v - lr * dw), mu * v - lr * dw))))


# ---------------------------------------------------------------- Adam
def adam_update(w, dw, m, v, t, lr, beta1, beta2, eps):
    """One Adam step at step t (counting from 1). Returns (w, m, v)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_no_correction(w, dw, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw ** 2
    return w - lr * m / (np.sqrt(v) + eps), m, v


def _adam_eps_inside(w, dw, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw ** 2
    return w - lr * (m / (1 - beta1 ** t)) / np.sqrt(v / (1 - beta2 ** t) + eps), m, v


def _adam_cases(rng):
    cases = []
    for shape, t, eps in (((3, 4), 1, 1e-8), ((5,), 7, 1e-8), ((2, 3), 3, 0.1)):
        m = np.zeros(shape) if t == 1 else rng.standard_normal(shape) * 0.1
        v = np.zeros(shape) if t == 1 else rng.random(shape) * 0.1
        cases.append(Case((rng.standard_normal(shape), rng.standard_normal(shape), m, v, t,
                           1e-2, 0.9, 0.999, eps), label=f"step t={t}, eps={eps}"))
    return cases


function_exercise(
    "adam_update", CHAPTER, 3, "adam_update", "One step of Adam", _adam_cases, adam_update,
    ("w", "m", "v"),
    mistakes=(("the bias correction is missing: divide m by (1 - beta1**t) and v by "
               "(1 - beta2**t)", _adam_no_correction),
              ("eps is inside the square root; Adam adds it after: sqrt(v_hat) + eps",
               _adam_eps_inside)))


# ---------------------------------------------------------------- clipping
def clip_by_global_norm(grads, max_norm):
    """Scale every gradient by max_norm / ||all grads|| when that norm exceeds max_norm."""
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    return [g * scale for g in grads]


def _clip_each(grads, max_norm):
    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads]


def _clip_always(grads, max_norm):
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * max_norm / total for g in grads]


def _clip_cases(rng):
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4), rng.standard_normal((2, 2))]
    small = [g * 0.01 for g in grads]
    return [Case((grads, 1.0), label="3 gradients with a global norm above max_norm=1.0"),
            Case((small, 1.0), label="3 gradients with a global norm below max_norm=1.0")]


function_exercise(
    "clip_by_global_norm", CHAPTER, 1, "clip_by_global_norm", "Gradient clipping by global norm",
    _clip_cases, clip_by_global_norm, ("grads[0]", "grads[1]", "grads[2]"),
    mistakes=(("each gradient is clipped on its own; the norm is over all gradients together",
               _clip_each),
              ("gradients below the limit must be left unchanged (scale = min(1, max_norm / norm))",
               _clip_always)))
