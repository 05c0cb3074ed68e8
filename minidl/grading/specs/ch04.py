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


# ---------------------------------------------------------------- questions
# Graded like the code exercises; the answers and the explanations stay here, in the
# grader's process (see questions.py).
from ..questions import multiple_choice, number_question, shape_question  # noqa: E402

number_question(
    "adam_bias_correction", CHAPTER, 1, "Adam's bias correction at step 1",
    value=10.0, tolerance=1e-3,
    mistakes=((0.1, "0.1 = 1 - beta1 is what the raw m_1 carries of g_1; the correction divides by it"),
              (0.9, "0.9 is beta1, the weight of the *previous* m, which is 0 at step 1"),
              (1.0, "without bias correction m_1 = 0.1 g_1 is ten times too small: the correction "
                    "is not 1 at step 1 (it tends to 1 as t grows)"),
              (1000.0, "1000 = 1 / (1 - beta2) corrects v, the second moment; the question is about m")),
    hint="write m_1 from m_0 = 0, then divide by (1 - beta1**t) with t = 1",
    explanation="m_1 = (1 - beta1) g_1 = 0.1 g_1 and m̂_1 = m_1 / (1 - beta1) = 10 m_1 = g_1.")

multiple_choice(
    "adam_sqrt_v", CHAPTER, 1, "Why Adam divides by sqrt(v)",
    choices={"a": "to make the gradient estimate unbiased",
             "b": "so that each parameter's step is about lr whatever the scale of its gradient",
             "c": "to decay the learning rate over the course of training",
             "d": "to add L2 regularization to every update"},
    answer="b",
    wrong={"a": "the bias correction (dividing by 1 - beta**t) removes the bias of starting m and "
                "v at zero; sqrt(v) plays another role",
           "c": "v tracks the recent squared gradients and can grow or shrink; Adam has no built-in "
                "schedule (use a LearningRateScheduler for that)",
           "d": "weight decay is a separate term (AdamW adds it outside the moments); dividing by "
                "sqrt(v) rescales the step, it does not pull the weights towards zero"},
    explanation="m / sqrt(v) is about ±1 for a steady gradient of any size, so steps are about lr "
                "in every coordinate: large gradients are damped, small ones amplified.")
