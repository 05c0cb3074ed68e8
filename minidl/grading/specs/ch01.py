"""Chapter 1, linear models: gradients of linear and logistic regression, softmax."""

import numpy as np

from ..registry import Case, function_exercise

CHAPTER = "01_linear_models"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---------------------------------------------------------------- linear regression
def linear_regression_gradient(X, y, w, b):
    """L = mean((X w + b - y)^2): dL/dw = 2/N X^T r, dL/db = 2/N sum(r), r the residual."""
    r = X @ w + b - y
    n = X.shape[0]
    return 2.0 / n * X.T @ r, 2.0 / n * np.sum(r)


def _linreg_no_two(X, y, w, b):
    r = X @ w + b - y
    return X.T @ r / X.shape[0], np.mean(r)


def _linreg_no_mean(X, y, w, b):
    r = X @ w + b - y
    return 2.0 * X.T @ r, 2.0 * np.sum(r)


def _linreg_cases(rng):
    cases = []
    for n, d in ((6, 3), (11, 4)):
        X = rng.standard_normal((n, d))
        cases.append(
            Case(
                (X, rng.standard_normal(n), rng.standard_normal(d), float(rng.standard_normal())),
                label=f"X of shape {(n, d)}",
            )
        )
    return cases


function_exercise(
    "linear_regression_gradient",
    CHAPTER,
    2,
    "linear_regression_gradient",
    "Gradient of the mean squared error of a linear model",
    _linreg_cases,
    linear_regression_gradient,
    ("dw", "db"),
    mistakes=(
        ("the factor 2 from the derivative of the square is missing", _linreg_no_two),
        ("the 1/N of the mean is missing: the loss is a mean over the batch", _linreg_no_mean),
    ),
    factors=lambda X, y, w, b: {"the batch size N": X.shape[0], "2": 2.0, "2N": 2.0 * X.shape[0]},
)


# ---------------------------------------------------------------- logistic regression
def logistic_regression_gradient(X, y, w, b, pos_weight):
    """Mean *weighted* binary cross-entropy of p = sigmoid(X w + b), positives weighted by
    pos_weight: L = -mean(pos_weight y log p + (1 - y) log(1 - p)). Returns (dL/dw, dL/db).

    dL/dz = p (pos_weight y + 1 - y) - pos_weight y, per sample, divided by N."""
    p = _sigmoid(X @ w + b)
    dz = (p * (pos_weight * y + 1 - y) - pos_weight * y) / X.shape[0]
    return X.T @ dz, np.sum(dz)


def _logreg_unweighted(X, y, w, b, pos_weight):
    return logistic_regression_gradient(X, y, w, b, 1.0)


def _logreg_scaled_error(X, y, w, b, pos_weight):
    p = _sigmoid(X @ w + b)
    dz = np.where(y == 1, pos_weight, 1.0) * (p - y) / X.shape[0]
    return X.T @ dz, np.sum(dz)


def _logreg_cases(rng):
    cases = []
    for n, d, pos_weight in ((8, 3, 3.0), (13, 5, 0.5), (6, 2, 1.0)):
        X = rng.standard_normal((n, d))
        y = (rng.random(n) < 0.5).astype(np.float64)
        cases.append(
            Case(
                (X, y, rng.standard_normal(d), float(rng.standard_normal()), pos_weight),
                label=f"X of shape {(n, d)}, pos_weight={pos_weight}",
            )
        )
    return cases


function_exercise(
    "logistic_regression_gradient",
    CHAPTER,
    2,
    "logistic_regression_gradient",
    "Gradient of a class-weighted binary cross-entropy",
    _logreg_cases,
    logistic_regression_gradient,
    ("dw", "db"),
    mistakes=(
        (
            "pos_weight is ignored: the positive samples' term of the loss is multiplied by it",
            _logreg_unweighted,
        ),
        (
            "the error p - y is scaled by the weight of the sample's class; that is right only "
            "where the weight multiplies the *whole* loss of a sample; here pos_weight "
            "multiplies -y log p alone, so dL/dz = p (pos_weight y + 1 - y) - pos_weight y",
            _logreg_scaled_error,
        ),
    ),
    factors=lambda X, y, w, b, pw: {"the batch size N": X.shape[0]},
)


# ---------------------------------------------------------------- softmax
def softmax(Z):
    """Row-wise softmax, stable for large logits (the row maximum is subtracted first)."""
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _softmax_columns(Z):
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _softmax_cases(rng):
    return [
        Case((rng.standard_normal((4, 3)),), label="small logits of shape (4, 3)"),
        Case((rng.standard_normal((5, 6)) * 3,), label="logits of shape (5, 6)"),
        Case(
            (rng.standard_normal((3, 4)) * 5 + 1000.0,),
            label="large logits around 1000 (exp overflows unless the maximum is subtracted)",
        ),
    ]


function_exercise(
    "softmax",
    CHAPTER,
    1,
    "softmax",
    "A numerically stable softmax",
    _softmax_cases,
    softmax,
    ("probs",),
    mistakes=(("normalised over the wrong axis: each row (axis=1) must sum to 1", _softmax_columns),),
)
