"""Chapter 1, linear models: gradients of a sample-weighted ridge regression and of a
class-weighted logistic regression; the weighted binary cross-entropy computed from the logits
without overflow; the largest learning rate at which gradient descent on the mean squared
error converges, for any data."""

import numpy as np

from ..judge.feedback import compare_outputs, rel_error
from ..judge.registry import Case, Contract, Exercise, declare_edges, function_exercise, register

CHAPTER = "01_linear_models"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---------------------------------------------------------------- linear regression
def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    """L = sum_i s_i (x_i w + b - y_i)^2 / sum_i s_i + lam |w|^2 (the bias not penalised):

    dL/dw = 2 X^T (s r) / sum(s) + 2 lam w, dL/db = 2 sum(s r) / sum(s), r the residual.
    """
    r = X @ w + b - y
    share = sample_weight / np.sum(sample_weight)
    return 2.0 * X.T @ (share * r) + 2.0 * lam * w, 2.0 * np.sum(share * r)


def _linreg_weights_per_sample_count(X, y, w, b, sample_weight, lam):
    r = X @ w + b - y
    share = sample_weight / X.shape[0]
    return 2.0 * X.T @ (share * r) + 2.0 * lam * w, 2.0 * np.sum(share * r)


def _linreg_bias_penalised(X, y, w, b, sample_weight, lam):
    dw, db = linear_regression_gradient(X, y, w, b, sample_weight, lam)
    return dw, db + 2.0 * lam * b


def _linreg_penalty_no_two(X, y, w, b, sample_weight, lam):
    dw, db = linear_regression_gradient(X, y, w, b, sample_weight, 0.0)
    return dw + lam * w, db


def _linreg_no_two(X, y, w, b, sample_weight, lam):
    dw, db = linear_regression_gradient(X, y, w, b, sample_weight, 0.0)
    return dw / 2.0 + 2.0 * lam * w, db / 2.0


def _linreg_weights_squared(X, y, w, b, sample_weight, lam):
    return linear_regression_gradient(X, y, w, b, sample_weight**2, lam)


def _linreg_cases(rng):
    cases = []
    for n, d, weights, lam in (
        (6, 3, "positive", 0.3),
        (11, 4, "some 0", 1.5),
        (7, 2, "positive", 0.0),
        (5, 3, "all 1", 0.0),
        (1, 3, "positive", 0.3),  # a single sample
    ):
        X = rng.standard_normal((n, d))
        if weights == "all 1":
            s = np.ones(n)
        else:
            s = rng.uniform(0.2, 3.0, n)
            if weights == "some 0":
                s[[1, 4]] = 0.0
        cases.append(
            Case(
                (X, rng.standard_normal(n), rng.standard_normal(d), float(rng.standard_normal()), s, lam),
                label=f"X of shape {(n, d)}, sample weights {weights}, lam={lam}",
            )
        )
    return cases


function_exercise(
    "linear_regression_gradient",
    CHAPTER,
    1,
    "linear_regression_gradient",
    "Gradient of a weighted, regularised squared error",
    _linreg_cases,
    linear_regression_gradient,
    ("dw", "db"),
    mistakes=(
        (
            "the weighted sum is divided by N, not by the sum of the weights: the loss is a "
            "weighted *mean*, unchanged when every weight is multiplied by the same number",
            _linreg_weights_per_sample_count,
        ),
        ("the bias is penalised too: the penalty is lam |w|^2, w only", _linreg_bias_penalised),
        ("the penalty's gradient lacks its 2: d(lam |w|^2)/dw = 2 lam w", _linreg_penalty_no_two),
        ("the factor 2 from the derivative of the square is missing", _linreg_no_two),
        (
            "each weight is squared: s_i multiplies the squared residual, so its gradient has s_i, not s_i^2",
            _linreg_weights_squared,
        ),
    ),
    factors=lambda X, y, w, b, sample_weight, lam: {
        "the batch size N": X.shape[0],
        "2": 2.0,
        "the sum of the weights": float(np.sum(sample_weight)),
    },
    forbids=("minidl.nn.losses.MeanSquaredError", "minidl.nn.layers.Dense", "minidl.nn.gradcheck"),
    dtypes=("float64", "number"),
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


def _logreg_cases(rng):
    cases = []
    for n, d, pos_weight, scale in (
        (8, 3, 3.0, 1.0),
        (13, 5, 0.5, 1.0),
        (6, 2, 1.0, 1.0),
        (1, 4, 2.0, 1.0),
        (6, 2, 2.0, 300.0),
    ):
        X = rng.standard_normal((n, d))
        X[: n // 2] *= scale  # half the rows: logits in the hundreds beside ordinary ones
        y = (rng.random(n) < 0.5).astype(np.float64)
        cases.append(
            Case(
                (X, y, rng.standard_normal(d), float(rng.standard_normal()), pos_weight),
                label=f"X of shape {(n, d)}, pos_weight={pos_weight}"
                + (", half the rows' features a few hundred: logits in the hundreds" if scale > 1 else ""),
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
    ),
    factors=lambda X, y, w, b, pw: {"the batch size N": X.shape[0]},
    forbids=("minidl.nn.losses.BinaryCrossentropy", "minidl.nn.layers.Dense", "minidl.nn.gradcheck"),
    dtypes=("float64", "number"),
)


# ---------------------------------------------------------------- the same loss, from the logits
def _softplus(t):
    """log(1 + e^t) = max(t, 0) + log(1 + e^-|t|): the log-sum-exp of 0 and t."""
    return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))


def weighted_bce_with_logits(z, y, pos_weight):
    """Per-sample -(pos_weight y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), exact for any z.

    log sigmoid(z) = -softplus(-z) and log(1 - sigmoid(z)) = -softplus(z), so
    loss = pos_weight y softplus(-z) + (1 - y) softplus(z), each term to full relative precision
    (the shorter (1 - y) z + (pos_weight y + 1 - y) softplus(-z) cancels: it rounds the tiny loss
    softplus(z) of a confident right negative, z << 0, to 0). z, y (N,) -> losses (N,)."""
    return pos_weight * y * _softplus(-z) + (1.0 - y) * _softplus(z)


def _bce_chapter_eps(z, y, pos_weight):
    p = _sigmoid(z)
    return -(pos_weight * y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))


_BCE_MISTAKES = (
    (
        "pos_weight is ignored: it multiplies the term of the positive samples, -y log sigmoid(z)",
        lambda z, y, pw: weighted_bce_with_logits(z, y, 1.0),
    ),
    (
        "pos_weight multiplies the negatives' term -(1 - y) log(1 - sigmoid(z)); it belongs to "
        "the positives' term -y log sigmoid(z)",
        lambda z, y, pw: y * _softplus(-z) + pw * (1 - y) * _softplus(z),
    ),
    (
        "the two terms are swapped: a sample with y = 1 pays -log sigmoid(z), which is small "
        "when z is large and positive",
        lambda z, y, pw: weighted_bce_with_logits(-z, y, pw),
    ),
    (
        "this is the chapter's log(p + 1e-12): the epsilon keeps the loss finite but caps it "
        "near -log(1e-12) = 27.6, while a sample with z = -800 and y = 1 costs 800 pos_weight",
        _bce_chapter_eps,
    ),
)

_OVERFLOW_HINT = (
    "log(sigmoid(z)) is log(0) = -inf once sigmoid(z) rounds to 0, log(1 - sigmoid(z)) once "
    "sigmoid(z) rounds to 1 (in float64 already near z = 37), and 0 * log(0) is NaN: write log sigmoid(z) = -softplus(-z) and "
    "log(1 - sigmoid(z)) = -softplus(z) with softplus(t) = log(1 + e^t) = max(t, 0) + "
    "log1p(exp(-|t|)), so that exp never sees a large positive number"
)
_CLIP_HINT = (
    "the losses are right where |z| < 25 and wrong only where |z| is large: clipping p, or "
    "log(p + eps), caps the loss of a confidently wrong sample at about -log(eps); rewrite "
    "the logs with softplus, which is exact for every z"
)


def _public_bce(case):
    """What minidl's public data records of a case (and what the judge compares)."""
    z, y, pos_weight = case.args
    return {
        "expected": weighted_bce_with_logits(z, y, pos_weight),
        "mistakes": [(hint, fn(z, y, pos_weight)) for hint, fn in _BCE_MISTAKES],
        "factors": {},
    }


def _judge_bce(case, got):
    z = case.args[0]
    known = _public_bce(case)
    expected = known["expected"]
    message = compare_outputs(got, expected, ("losses",), known["mistakes"])
    if message is None or "hint:" in message:
        return message
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return message
    if g.shape != expected.shape:
        return message
    if not np.all(np.isfinite(g)):
        return message + f"\n    hint: {_OVERFLOW_HINT}"
    large = np.abs(z) >= 25
    if large.any() and (~large).any() and rel_error(g[~large], expected[~large]) <= 1e-6:
        return message + f"\n    hint: {_CLIP_HINT}"
    return message


def _bce_cases(rng):
    cases = []
    for n, pos_weight in ((9, 3.0), (6, 0.5)):
        y = (np.arange(n) % 2).astype(np.float64)
        rng.shuffle(y)
        cases.append(
            Case(
                (rng.standard_normal(n) * 3, y, pos_weight),
                label=f"{n} samples with logits of a few units, pos_weight={pos_weight}",
            )
        )
    z = np.array([-800.0, 800.0, -800.0, 800.0, -40.0, 40.0, -40.0, 40.0, 0.0, 1.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    cases.append(
        Case(
            (z, y, 2.0),
            label="logits of +-40 and +-800, confidently right and confidently wrong, pos_weight=2",
        )
    )
    return cases


register(
    Exercise(
        name="weighted_bce_with_logits",
        chapter=CHAPTER,
        points=1,
        entries=("weighted_bce_with_logits",),
        title="The class-weighted binary cross-entropy from the logits, for any logit",
        make_cases=_bce_cases,
        judge=_judge_bce,
        public=_public_bce,
        outputs=("losses",),
        contract=Contract(("float64",)),
        forbids=("minidl.nn.losses.BinaryCrossentropy",),
        catches=tuple(hint for hint, _ in _BCE_MISTAKES)
        + ("log(sigmoid(z)) written directly: -inf or NaN for |z| of 40 and 800",),
    )
)


# ---------------------------------------------------------------- the learning-rate limit
def _mse_hessian(X):
    """The Hessian of mean((X w + b - y)^2) in (w, b): 2/N [X 1]^T [X 1] (it does not depend on y)."""
    design = np.column_stack([X, np.ones(len(X))])
    return 2.0 / len(X) * design.T @ design


def max_stable_learning_rate(X):
    """The largest learning rate below which full-batch gradient descent on the MSE of a
    linear model (weights w and a bias b) converges from any start: 2 / lam_max, lam_max the
    largest eigenvalue of the Hessian 2/N [X 1]^T [X 1]."""
    return float(2.0 / np.linalg.eigvalsh(_mse_hessian(X))[-1])


def _limit_without_bias(X):
    return float(2.0 / np.linalg.eigvalsh(2.0 / len(X) * X.T @ X)[-1])


def _limit_cases(rng):
    area = rng.uniform(20, 120, size=(50, 1))
    standard = rng.standard_normal((40, 1))
    standard = (standard - standard.mean()) / standard.std()
    mixed = rng.standard_normal((30, 3)) @ np.array([[1.0, 0.8, 0.0], [0.0, 0.6, 0.0], [0.0, 0.0, 3.0]]) + 2.0
    return [
        Case((area,), label="one raw feature, floor areas of 20 to 120 m^2 (the chapter's canyon)"),
        Case((standard,), label="one standardised feature (mean 0, standard deviation 1)"),
        Case((mixed,), label="3 correlated features of different scales, none centred"),
        Case((rng.standard_normal((6, 4)),), label="6 samples of 4 features"),
        Case((np.array([[3.0, -1.0]]),), label="a single sample"),
    ]


function_exercise(
    "max_stable_learning_rate",
    CHAPTER,
    1,
    "max_stable_learning_rate",
    "The largest learning rate at which gradient descent converges",
    _limit_cases,
    max_stable_learning_rate,
    ("lr",),
    mistakes=(
        (
            "the bias is left out: b is a parameter too, and its column of ones couples with the "
            "features' means (an uncentred feature makes the canyon steeper still)",
            _limit_without_bias,
        ),
        (
            "this is 1 / lam_max: gradient descent multiplies the error along an eigenvector by "
            "1 - lr lam, which stays inside (-1, 1) up to lr = 2 / lam",
            lambda X: max_stable_learning_rate(X) / 2,
        ),
        (
            "the factor 2 of the square is missing from the Hessian: d^2/dw^2 of mean(r^2) is 2/N X^T X",
            lambda X: 2 * max_stable_learning_rate(X),
        ),
        (
            "the largest diagonal entry of the Hessian is not its largest eigenvalue: correlated "
            "features (and the bias with an uncentred feature) add up along a shared direction",
            lambda X: float(2.0 / np.max(np.diag(_mse_hessian(X)))),
        ),
    ),
    factors=lambda X: {"2": 2.0, "the batch size N": X.shape[0]},
    forbids=("minidl.nn.optim", "minidl.nn.losses.MeanSquaredError"),
    catches=("the standardised feature: the answer is exactly 1, the chapter's limit",),
    dtypes=("number",),
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "linear_regression_gradient",
    ("size_one", "non_square", "varied_settings"),
    {"empty": "the loss is a weighted mean over the samples: with none, sum(s) = 0 and it has no value"},
)
declare_edges(
    "logistic_regression_gradient",
    ("size_one", "non_square", "extreme_magnitude", "varied_settings"),
    {"empty": "the loss is a mean over the samples: with none it has no value"},
)
declare_edges(
    "weighted_bce_with_logits",
    ("extreme_magnitude", "varied_settings"),
    {
        "ties": "the only comparison is softplus's max(t, 0), which is continuous: no tie to break",
        "empty": "the losses are per sample, each from its own logit: no length is special",
        "size_one": "the losses are per sample, each from its own logit: no length is special",
    },
)
declare_edges(
    "max_stable_learning_rate",
    ("size_one", "non_square"),
    {"empty": "with no samples the Hessian 2/N [X 1]^T [X 1] has no value (N = 0)"},
)
