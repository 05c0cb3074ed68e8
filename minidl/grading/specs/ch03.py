"""Chapter 3, backpropagation: dense backward, softmax cross-entropy backward, numerical gradient."""

import numpy as np

from ..feedback import compare_outputs, rel_error
from ..probes import cubic, log_sum_exp
from ..registry import Case, Exercise, function_exercise, register

CHAPTER = "03_backpropagation"


# ---------------------------------------------------------------- dense backward
def dense_backward(dy, x, W):
    """y = x W + b. dy (N, M), x (N, D), W (D, M) -> dx (N, D), dW (D, M), db (M,)."""
    return dy @ W.T, x.T @ dy, dy.sum(axis=0)


def _dense_backward_cases(rng):
    return [
        Case(
            (rng.standard_normal((n, m)), rng.standard_normal((n, d)), rng.standard_normal((d, m))),
            label=f"x {(n, d)}, W {(d, m)}",
        )
        for n, d, m in ((5, 4, 3), (7, 2, 6))
    ]


function_exercise(
    "dense_backward",
    CHAPTER,
    2,
    "dense_backward",
    "Backward pass of a dense layer",
    _dense_backward_cases,
    dense_backward,
    ("dx", "dW", "db"),
    mistakes=(
        (
            "dW is divided by the batch size, but dy already carries the 1/N of a mean loss",
            lambda dy, x, W: (dy @ W.T, x.T @ dy / x.shape[0], dy.sum(axis=0)),
        ),
        (
            "db is a mean over the batch; it must be the sum dy.sum(axis=0)",
            lambda dy, x, W: (dy @ W.T, x.T @ dy, dy.mean(axis=0)),
        ),
    ),
    factors=lambda dy, x, W: {"the batch size N": x.shape[0]},
)


# ---------------------------------------------------------------- softmax cross-entropy
def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy_backward(logits, labels, smoothing):
    """Gradient of the mean cross-entropy against *smoothed* targets
    t = (1 - smoothing) onehot(y) + smoothing / K:  (softmax(z) - t) / N."""
    n, k = logits.shape
    target = np.full((n, k), smoothing / k)
    target[np.arange(n), labels] += 1.0 - smoothing
    return (_softmax(logits) - target) / n


def _sce_no_mean(logits, labels, smoothing):
    return softmax_cross_entropy_backward(logits, labels, smoothing) * logits.shape[0]


def _sce_no_onehot(logits, labels, smoothing):
    return _softmax(logits) / logits.shape[0]


def _sce_unsmoothed(logits, labels, smoothing):
    return softmax_cross_entropy_backward(logits, labels, 0.0)


def _sce_wrong_spread(logits, labels, smoothing):
    """smoothing / (K - 1) on the wrong classes only (another convention, not Keras's)."""
    n, k = logits.shape
    target = np.full((n, k), smoothing / (k - 1))
    target[np.arange(n), labels] = 1.0 - smoothing
    return (_softmax(logits) - target) / n


def _sce_cases(rng):
    cases = []
    for n, k, smoothing in ((6, 4, 0.1), (3, 7, 0.3), (4, 5, 0.0)):
        cases.append(
            Case(
                (rng.standard_normal((n, k)) * 2, rng.integers(0, k, n), smoothing),
                label=f"logits of shape {(n, k)}, smoothing={smoothing}",
            )
        )
    return cases


function_exercise(
    "softmax_cross_entropy_backward",
    CHAPTER,
    2,
    "softmax_cross_entropy_backward",
    "Gradient of the label-smoothed softmax cross-entropy with respect to the logits",
    _sce_cases,
    softmax_cross_entropy_backward,
    ("dlogits",),
    mistakes=(
        ("the 1/N of the batch mean is missing: the loss is averaged over the N samples", _sce_no_mean),
        (
            "the target is not subtracted: the gradient is softmax(z) minus the smoothed target",
            _sce_no_onehot,
        ),
        (
            "the smoothing is ignored: the target puts smoothing / K on every class and "
            "1 - smoothing more on the true one",
            _sce_unsmoothed,
        ),
        (
            "the smoothing mass is spread over the K - 1 wrong classes; here (as in Keras's "
            "label_smoothing) every one of the K classes gets smoothing / K",
            _sce_wrong_spread,
        ),
    ),
    factors=lambda logits, labels, smoothing: {"the batch size N": logits.shape[0]},
)


# ---------------------------------------------------------------- numerical gradient
# The test functions (inputs) are in probes.py, which the grading process is given.
def _cubic_grad(x):
    return 3.0 * x**2 - 2.0


def _log_sum_exp_grad(x):
    e = np.exp(x - x.max())
    return e / e.sum()


_FUNCTIONS = {cubic: _cubic_grad, log_sum_exp: _log_sum_exp_grad}


def _forward_difference(f, x, eps=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old
        grad[i] = (up - f(x)) / eps
    return grad


def _numgrad_cases(rng):
    return [
        Case((cubic, rng.standard_normal(5)), label="f(x) = sum(x**3 - 2x), x of shape (5,)"),
        Case((log_sum_exp, rng.standard_normal((3, 4))), label="f(x) = log(sum(exp(x))), x of shape (3, 4)"),
    ]


def _judge_numgrad(case, got):
    f, x = case.args
    if not isinstance(got, dict) or "out" not in got:
        return "the grader could not read the result"
    x_after = got["args_after"][0] if got.get("args_after") else x
    analytic = _FUNCTIONS[f](x)
    problem = compare_outputs(got["out"], analytic, ("grad",), tolerance=1e-6)
    if problem:
        forward = _forward_difference(f, x.copy())
        g = got["out"]
        if isinstance(g, np.ndarray) and g.shape == x.shape and rel_error(g, forward) < 1e-6:
            problem += (
                "\n    hint: this is the one-sided difference (f(x+h) - f(x)) / h; the "
                "central difference (f(x+h) - f(x-h)) / (2h) is far more accurate"
            )
        return problem
    if not isinstance(x_after, np.ndarray) or x_after.shape != x.shape or rel_error(x_after, x) > 1e-12:
        return (
            "the gradient is right, but x was left changed after the call: restore "
            "x[i] to its original value after each perturbation"
        )
    return None


register(
    Exercise(
        name="numerical_gradient",
        chapter=CHAPTER,
        points=2,
        entries=("numerical_gradient",),
        title="A numerical gradient by central differences",
        make_cases=_numgrad_cases,
        judge=_judge_numgrad,
        probe="call_and_inputs",
    )
)
