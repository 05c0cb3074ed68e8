"""The usual wrong answers to the graded exercises, and right answers written differently.

``WRONG`` and ``RIGHT`` are lists of ``(exercise, what it does, source)``; the source is an
exercise cell as a student would write it, run after ``SETUP`` (the imports of the
solutions' setup cells). ``tests/grader/specs/test_wrong_answers.py`` requires every wrong answer to score
below full marks and every right one full marks.
"""

from __future__ import annotations

SETUP = "import numpy as np\n"

WRONG: list[tuple[str, str, str]] = []
RIGHT: list[tuple[str, str, str]] = []


def wrong(name: str, label: str, source: str) -> None:
    WRONG.append((name, label, source))


def right(name: str, label: str, source: str) -> None:
    RIGHT.append((name, label, source))


def wrong_variants(name: str, template: str, right_slots: dict, table: tuple) -> None:
    """One wrong answer per ``(label, slots)`` of ``table``: the template filled as the right
    answer fills it (``right_slots``) but for the slots the mistake changes."""
    for label, slots in table:
        wrong(name, label, template.format(**{**right_slots, **slots}))


def wrong_with_line(name: str, label: str, template: str, right_slots: dict, line: str) -> None:
    """A wrong answer: the template's right answer with ``line`` as its first statement (an
    argument overwritten by the chapter's value, an input changed in place)."""
    head, body = template.format(**right_slots).split(":\n", 1)
    wrong(name, label, f"{head}:\n    {line}\n{body}")


# ------------------------------------------------------------------ 01 linear models
# (an independent TA's answers, written from the task alone)
MAX_LR = """
def max_stable_learning_rate(X):
    A = {A}
    H = {scale} * A.T @ A
    return 2.0 / {lam}
"""
MAX_LR_RIGHT = dict(
    A="np.hstack([X, np.ones((len(X), 1))])", scale="2.0 / len(X)", lam="np.linalg.eigvalsh(H)[-1]"
)
wrong_variants(
    "max_stable_learning_rate",
    MAX_LR,
    MAX_LR_RIGHT,
    (
        ("the bias column of zeros (np.zeros for np.ones)", dict(A="np.hstack([X, np.zeros((len(X), 1))])")),
        ("the smallest eigenvalue (eigvalsh sorts ascending: [0])", dict(lam="np.linalg.eigvalsh(H)[0]")),
        ("N - 1 in the Hessian, as in a covariance", dict(scale="2.0 / max(len(X) - 1, 1)")),
        ("the trace of the Hessian for its largest eigenvalue", dict(lam="np.trace(H)")),
        ("the Hessian without the factor 2 of the square", dict(scale="1.0 / len(X)")),
        (
            "X centred and the bias taken as its own direction",
            dict(A="X - X.mean(0)", lam="max(np.linalg.eigvalsh(H)[-1], 2.0)"),
        ),
    ),
)
right(
    "max_stable_learning_rate",
    "the largest eigenvalue of the (N, N) Gram matrix X X^T + 1",
    """
def max_stable_learning_rate(X):
    return len(X) / np.linalg.eigvalsh(X @ X.T + 1.0)[-1]
""",
)
LINREG = """
def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    r = {r}
    s = {s}
    return 2 * X.T @ (s * r) / {total} + {penalty}, 2 * {db}
"""
LINREG_RIGHT = dict(
    r="X @ w + b - y", s="sample_weight", total="s.sum()", penalty="2 * lam * w", db="(s * r).sum() / s.sum()"
)
wrong_variants(
    "linear_regression_gradient",
    LINREG,
    LINREG_RIGHT,
    (
        ("the residual y - y_hat (the sign flipped)", dict(r="y - (X @ w + b)")),
        ("the weighted sum divided by N, not by the sum of the weights", dict(total="len(y)")),
        (
            "the sample weights ignored in dw",
            dict(s="np.ones_like(sample_weight)", db="(sample_weight * r).sum() / sample_weight.sum()"),
        ),
        ("the penalty's gradient without its 2", dict(penalty="lam * w")),
        ("the penalty as lam |w| (its gradient lam sign(w))", dict(penalty="lam * np.sign(w)")),
        ("db from the first sample's residual only", dict(db="r[0]")),
        ("db unweighted: the plain mean of the residuals", dict(db="r.mean()")),
    ),
)
wrong_with_line(
    "linear_regression_gradient",
    "the weights normalised in place (sample_weight /= its sum)",
    LINREG,
    LINREG_RIGHT,
    "sample_weight /= sample_weight.sum()",
)
LOGREG = """
def logistic_regression_gradient(X, y, w, b, pos_weight):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    dz = {dz}
    return X.T @ dz / len(y), dz.mean()
"""
wrong_variants(
    "logistic_regression_gradient",
    LOGREG,
    dict(dz="p * (1 - y) - pos_weight * y * (1 - p)"),
    (
        ("the weight on the target only: p - pos_weight y", dict(dz="p - pos_weight * y")),
        ("the weight on the negatives' term", dict(dz="y * (p - 1) + pos_weight * (1 - y) * p")),
        ("the weight multiplies the gradient of every sample", dict(dz="pos_weight * (p - y)")),
    ),
)
right(
    "logistic_regression_gradient",
    "p (1 - y) - w+ y (1 - p)",
    LOGREG.format(dz="p * (1 - y) - pos_weight * y * (1 - p)"),
)
right(
    "logistic_regression_gradient",
    "(p - y) scaled by 1 + (w+ - 1) y",
    LOGREG.format(dz="(p - y) * (1 + (pos_weight - 1) * y)"),
)
WBCE = """
def weighted_bce_with_logits(z, y, pos_weight):
    with np.errstate(over="ignore"):
        sp = lambda t: {sp}
        return {loss}
"""
WBCE_RIGHT = dict(
    sp="np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))", loss="pos_weight * y * sp(-z) + (1 - y) * sp(z)"
)
wrong_variants(
    "weighted_bce_with_logits",
    WBCE,
    WBCE_RIGHT,
    (
        ("the chapter's log(p + 1e-12): capped near 27.6", dict(sp="-np.log(1 / (1 + np.exp(t)) + 1e-12)")),
        ("softplus as log1p(exp(t)): inf for large t", dict(sp="np.log1p(np.exp(t))")),
        ("the weight on the negatives", dict(loss="y * sp(-z) + pos_weight * (1 - y) * sp(z)")),
    ),
)
right("weighted_bce_with_logits", "max(t, 0) + log1p(exp(-|t|))", WBCE.format(**WBCE_RIGHT))
right(
    "weighted_bce_with_logits",
    "log(1 - sigmoid(z)) = log sigmoid(z) - z",
    """
def weighted_bce_with_logits(z, y, pos_weight):
    log_sig = -(np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z))))
    return -(pos_weight * y * log_sig + (1 - y) * (log_sig - z))
""",
)

# ------------------------------------------------------------------ 02 neural networks
wrong(
    "parity_by_hand",
    "weights 1e-6 away from exact",
    """
def parity_by_hand(n):
    w2 = np.array([1.0] + [2.0 * (-1) ** k for k in range(1, n)])
    return np.ones((n, n)), -np.arange(n) * (1 + 1e-6), w2, 0.0
""",
)
wrong(
    "parity_by_hand",
    "XOR's two units for every n",
    """
def parity_by_hand(n):
    W1 = np.ones((n, 2))
    return W1, np.array([0.0, -1.0]), np.array([1.0, -2.0]), 0.0
""",
)
wrong(
    "parity_by_hand",
    "every later unit turns the slope by -2 (right up to two bits on)",
    """
def parity_by_hand(n):
    w2 = np.full(n, -2.0)
    w2[0] = 1.0
    return np.ones((n, n)), -np.arange(n, dtype=float), w2, 0.0
""",
)
right(
    "parity_by_hand",
    "every hidden unit scaled by 2 and its output weight halved",
    """
def parity_by_hand(n):
    k = np.arange(n)
    w2 = np.where(k % 2 == 1, -1.0, 1.0)
    w2[0] = 0.5
    return np.full((n, n), 2.0), -2.0 * k, w2, 0
""",
)
right(
    "relu_interpolant_weights",
    "slope changes written in a loop",
    """
def relu_interpolant_weights(knots, values):
    k = len(knots)
    w = np.zeros(k)
    previous = 0.0
    for i in range(k):
        slope = (values[i + 1] - values[i]) / (knots[i + 1] - knots[i]) if i < k - 1 else 0.0
        w[i] = slope - previous
        previous = slope
    return w, values[0]
""",
)
wrong(
    "relu_interpolant_weights",
    "the slopes as weights",
    """
def relu_interpolant_weights(knots, values):
    slopes = np.diff(values) / np.diff(knots)
    return np.append(slopes, 0.0), values[0]
""",
)
wrong(
    "relu_interpolant_weights",
    "no bias: the line starts at 0 instead of values[0]",
    """
def relu_interpolant_weights(knots, values):
    slopes = np.concatenate([[0.0], np.diff(values) / np.diff(knots), [0.0]])
    return np.diff(slopes), 0.0
""",
)

# an independent TA's answers, written from the task alone
RELU_INTERP = """
def relu_interpolant_weights(knots, values):
    b = float(values[0])
    {shift}slopes = np.concatenate([[0.0], np.diff(values) / np.diff(knots), [0.0]])
    return {w}, {b}
"""
RELU_INTERP_RIGHT = dict(shift="", w="np.diff(slopes)", b="b")
wrong_variants(
    "relu_interpolant_weights",
    RELU_INTERP,
    RELU_INTERP_RIGHT,
    (
        ("slope changes shifted by one unit", dict(w="np.diff(slopes[1:], append=0.0)")),
        ("the bias at the last knot", dict(b="values[-1]")),
        ("the values shifted to start at 0 in place", dict(shift="values -= b\n    ")),
    ),
)
right(
    "relu_interpolant_weights",
    "a (K+1) x (K+1) linear system: the K knots and a zero slope after the last",
    """
def relu_interpolant_weights(knots, values):
    K = len(knots)
    M = np.zeros((K + 1, K + 1))
    M[:K, :K] = np.maximum(knots[:, None] - knots[None, :], 0.0)
    M[:K, K] = 1.0
    M[K, :K] = 1.0
    sol = np.linalg.solve(M, np.append(values, 0.0))
    return sol[:K], sol[K]
""",
)
PARITY = """
def parity_by_hand(n):
    w2 = 2.0 * (-1.0) ** np.arange(n)
    w2[0] = {w0}
    return {W1}, {b1} - np.arange(n, dtype=float), w2, {b2}
"""
wrong_variants(
    "parity_by_hand",
    PARITY,
    dict(w0="1.0", W1="np.ones((n, n))", b1="0.0", b2="0.0"),
    (
        ("the first output weight 2 like the others", dict(w0="2.0")),
        ("bends at 1..n instead of 0..n-1", dict(b1="-1.0")),
        ("W1 the identity: each unit sees one bit, not the count", dict(W1="np.eye(n)")),
        ("bends at the half-integers", dict(b1="0.5", b2="-0.5")),
    ),
)
right(
    "parity_by_hand",
    "integer arrays, built in a loop",
    """
def parity_by_hand(n):
    W1 = np.ones((n, n), dtype=int)
    b1 = np.zeros(n, dtype=int)
    w2 = np.zeros(n, dtype=int)
    sign = 1
    for k in range(n):
        b1[k] = -k
        w2[k] = 1 if k == 0 else 2 * sign
        sign = -sign
    return W1, b1, w2, 0
""",
)
right(
    "parity_by_hand",
    "the output weights as the changes of the slopes 1, -1, 1, ...",
    """
def parity_by_hand(n):
    slopes = (-1.0) ** np.arange(n)
    return np.ones((n, n)), -1.0 * np.arange(n), np.diff(slopes, prepend=0.0), 0.0
""",
)

# ------------------------------------------------------------------ 03 backpropagation
wrong(
    "directional_gradient_check",
    "one array for both perturbations, never moved back to x",
    """
def directional_gradient_check(f, x, grad, directions, h=1e-5):
    numeric = np.zeros(len(directions))
    shifted = x.copy()
    for k, d in enumerate(directions):
        shifted += h * d
        f_plus = f(shifted)
        shifted -= 2 * h * d
        numeric[k] = (f_plus - f(shifted)) / (2 * h)
    return numeric, directions.reshape(len(directions), -1) @ grad.reshape(-1)
""",
)
wrong(
    "directional_gradient_check",
    "x + h d stored in an array that x - h d then overwrites",
    """
def directional_gradient_check(f, x, grad, directions, h=1e-5):
    numeric = np.zeros(len(directions))
    for k, d in enumerate(directions):
        xp = x
        xp += h * d
        xm = x
        xm -= h * d
        numeric[k] = (f(xp) - f(xm)) / (2 * h)
    return numeric, directions.reshape(len(directions), -1) @ grad.reshape(-1)
""",
)
right(
    "directional_gradient_check",
    "new arrays x + h d and x - h d",
    """
def directional_gradient_check(f, x, grad, directions, h=1e-5):
    numeric = np.array([(f(x + h * d) - f(x - h * d)) / (2 * h) for d in directions])
    return numeric, np.array([np.sum(grad * d) for d in directions])
""",
)

# an independent TA's answers, written from the task alone
WEIGHT_NORM = """
def weight_norm_backward(dy, x, v, g):
    norm = np.linalg.norm(v, axis={axis}, keepdims=True)
    u = v / norm
    dW = x.T @ dy
    dg = (u * dW).sum(axis=0)
    return {dx}, {dv}, dg, dy.sum(axis=0)
"""
wrong_variants(
    "weight_norm_backward",
    WEIGHT_NORM,
    dict(axis="0", dv="g / norm * (dW - u * dg)", dx="dy @ (g * u).T"),
    (
        ("the norm of each row of v, not each column", dict(axis="1")),
        ("dv without the projection: g / ||v|| dW", dict(dv="g / norm * dW")),
        ("dx through v instead of W", dict(dx="dy @ v.T")),
    ),
)
right(
    "weight_norm_backward",
    "one column at a time",
    """
def weight_norm_backward(dy, x, v, g):
    D, H = v.shape
    dW = x.T @ dy
    W = np.empty_like(v)
    dv = np.empty_like(v)
    dg = np.empty(H)
    for j in range(H):
        n = np.sqrt(v[:, j] @ v[:, j])
        W[:, j] = g[j] * v[:, j] / n
        dg[j] = dW[:, j] @ v[:, j] / n
        dv[:, j] = g[j] / n * dW[:, j] - g[j] * dg[j] * v[:, j] / n**2
    return dy @ W.T, dv, dg, dy.sum(axis=0)
""",
)
SMOOTHED_CE = """
def softmax_cross_entropy_backward(logits, labels, smoothing):
    N, K = logits.shape
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    t = np.full((N, K), {off})
    t[np.arange(N), labels] {on}
    return (p - t) / {n}
"""
wrong_variants(
    "softmax_cross_entropy_backward",
    SMOOTHED_CE,
    dict(off="smoothing / K", on="+= 1.0 - smoothing", n="N"),
    (
        ("the one-hot not scaled by 1 - smoothing", dict(on="+= 1.0")),
        (
            "smoothing spread over the K - 1 other classes",
            dict(off="smoothing / (K - 1)", on="= 1.0 - smoothing"),
        ),
        ("the sum over the batch, not the mean", dict(n="1.0")),
    ),
)
right(
    "softmax_cross_entropy_backward",
    "log-softmax, then p - (1 - eps) onehot - eps / K",
    """
def softmax_cross_entropy_backward(logits, labels, smoothing):
    N, K = logits.shape
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))
    onehot = np.eye(K)[labels]
    return (p - (1 - smoothing) * onehot - smoothing / K) / N
""",
)
DIRECTIONAL = """
def directional_gradient_check(f, x, grad, directions, h=1e-5):
    x0 = x.copy()
    numeric, analytic = [], []
    for d in directions:
        x += h * d
        fp = f(x)
        x -= {back} * h * d
        fm = f(x)
        {restore}numeric.append((fp - fm) / ({back} * h))
        analytic.append(np.vdot(grad, d){unit})
    {end}return np.array(numeric), np.array(analytic)
"""
wrong_variants(
    "directional_gradient_check",
    DIRECTIONAL,
    dict(back="2", restore="x += h * d\n        ", unit="", end=""),
    (
        (
            "x 'restored' by rebinding the name to a copy (the caller's x stays moved)",
            dict(restore="", end="x = x0\n    "),
        ),
        ("a forward difference (f(x + h d) - f(x)) / h", dict(back="1", restore="")),
        ("the analytic derivative along the unit direction d / |d|", dict(unit=" / np.linalg.norm(d)")),
    ),
)
right(
    "directional_gradient_check",
    "moved by +h d, -2h d, +h d in place; the analytic ones by one tensordot",
    """
def directional_gradient_check(f, x, grad, directions, h=1e-5):
    numeric = np.empty(len(directions))
    for k, d in enumerate(directions):
        x += h * d
        fp = f(x)
        x -= 2 * h * d
        fm = f(x)
        x += h * d
        numeric[k] = (fp - fm) / (2 * h)
    return numeric, np.tensordot(np.asarray(directions), grad, axes=np.ndim(grad))
""",
)

# ------------------------------------------------------------------ 04 optimization
right(
    "momentum_convergence_rate",
    "the spectral radius of the 2 x 2 map, by np.linalg.eigvals",
    """
def momentum_convergence_rate(A, lr, momentum):
    rate = 0.0
    for lam in np.linalg.eigvalsh(A):
        step = np.array([[1 + momentum - lr * lam, -momentum], [1.0, 0.0]])
        rate = max(rate, np.abs(np.linalg.eigvals(step)).max())
    return rate
""",
)
_MOMENTUM_ROOTS = """
def momentum_convergence_rate(A, lr, momentum):
    lams = np.linalg.eigvalsh(A)
    return max(np.abs(np.roots([1.0, -(1 + momentum - lr * lam), momentum])).max() for lam in lams)
"""
right("momentum_convergence_rate", "the roots by np.roots", _MOMENTUM_ROOTS)
wrong(
    "momentum_convergence_rate",
    "the smaller root of each direction",
    _MOMENTUM_ROOTS.replace(".max() for", ".min() for"),
)
wrong(
    "momentum_convergence_rate",
    "gradient descent's rate, momentum ignored",
    """
def momentum_convergence_rate(A, lr, momentum):
    return np.abs(1 - lr * np.linalg.eigvalsh(A)).max()
""",
)
wrong(
    "momentum_convergence_rate",
    "the diagonal of A taken for its eigenvalues",
    """
def momentum_convergence_rate(A, lr, momentum):
    trace = 1 + momentum - lr * np.diag(A)
    disc = trace**2 - 4 * momentum
    return np.where(disc >= 0, (np.abs(trace) + np.sqrt(np.abs(disc))) / 2, np.sqrt(momentum)).max()
""",
)
wrong(
    "momentum_convergence_rate",
    "only the largest eigenvalue",
    _MOMENTUM_ROOTS.replace("np.linalg.eigvalsh(A)", "np.linalg.eigvalsh(A)[-1:]"),
)

# an independent TA's answers, written from the task alone
ADAMW = """
def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    g = {g}
    m_new = beta1 * m + (1 - beta1) * g
    v_new = beta2 * v + (1 - beta2) * g * g
    m_hat = m_new / (1 - beta1 ** {step})
    v_hat = v_new / (1 - beta2 ** {step})
    return {decay} - lr * m_hat / ({den}), m_new, v_new
"""
ADAMW_RIGHT = dict(g="dw", step="(t + 1)", den="np.sqrt(v_hat) + eps", decay="w * (1 - lr * weight_decay)")
wrong_variants(
    "adamw_update",
    ADAMW,
    ADAMW_RIGHT,
    (
        (
            "the student's version as given, but for the arrays changed in place",
            dict(g="dw + weight_decay * w", step="t", den="np.sqrt(v_hat + eps)", decay="w"),
        ),
        ("the decay through the gradient (Adam's L2)", dict(g="dw + weight_decay * w", decay="w")),
        ("L2 through the gradient and the decoupled decay too", dict(g="dw + weight_decay * w")),
        ("the bias correction at t, the steps already taken", dict(step="t")),
        ("the bias correction at t + 2", dict(step="(t + 2)")),
        ("eps inside the square root", dict(den="np.sqrt(v_hat + eps)")),
        ("the weights shrunk by weight_decay, without lr", dict(decay="w * (1 - weight_decay)")),
        ("the decay forgotten", dict(decay="w")),
        ("the uncorrected v under the root", dict(den="np.sqrt(v_new) + eps")),
    ),
)
wrong(
    "adamw_update",
    "the moments updated in place (the student's bug 2 alone)",
    """
def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * dw**2
    m_hat = m / (1 - beta1 ** (t + 1))
    v_hat = v / (1 - beta2 ** (t + 1))
    return w * (1 - lr * weight_decay) - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
""",
)
wrong(
    "adamw_update",
    "the updated weights decayed, not those before the step",
    """
def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    step = (m / (1 - beta1 ** (t + 1))) / (np.sqrt(v / (1 - beta2 ** (t + 1))) + eps)
    return (w - lr * step) * (1 - lr * weight_decay), m, v
""",
)
right(
    "adamw_update",
    "the student's code repaired on copies, decay by subtraction",
    """
def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    m, v = m.copy(), v.copy()
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * dw**2
    n = t + 1
    m_hat = m / (1 - beta1**n)
    v_hat = v / (1 - beta2**n)
    decayed = w - lr * weight_decay * w
    return decayed - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
""",
)
right(
    "adamw_update",
    "the corrections folded into the step size and eps, PyTorch's way",
    """
def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    m2 = beta1 * m + (1 - beta1) * dw
    v2 = beta2 * v + (1 - beta2) * np.square(dw)
    c1, c2 = 1 - beta1 ** (t + 1), np.sqrt(1 - beta2 ** (t + 1))
    w2 = w * (1 - lr * weight_decay)
    return w2 - (lr * c2 / c1) * m2 / (np.sqrt(v2) + eps * c2), m2, v2
""",
)
LARGEST_STEP = """
def adam_largest_step(t, beta1, beta2):
    total = sum(({r}) ** k for k in range({n}))
    ratio = (1 - beta1) * np.sqrt(total / (1 - beta2)){correction}
    history = np.array([(beta1 / beta2) ** {lag} for s in range(1, t + 1)], dtype=float)
    return float(ratio), history
"""
LARGEST_STEP_RIGHT = dict(
    r="beta1 * beta1 / beta2",
    n="t",
    correction=" * np.sqrt(1 - beta2**t) / (1 - beta1**t)",
    lag="(t - s)",
)
wrong_variants(
    "adam_largest_step",
    LARGEST_STEP,
    LARGEST_STEP_RIGHT,
    (
        ("no bias correction", dict(correction="")),
        ("only the first moment's correction", dict(correction=" / (1 - beta1**t)")),
        ("the corrections inverted", dict(correction=" * (1 - beta1**t) / np.sqrt(1 - beta2**t)")),
        ("t + 1 terms in the sum", dict(n="t + 1")),
        ("t - 1 terms in the sum", dict(n="t - 1")),
        ("the ratio beta1 / beta2 in the sum", dict(r="beta1 / beta2")),
        ("the ratio beta1**2 / beta2**2 in the sum", dict(r="(beta1 / beta2) ** 2")),
        ("the gradients in reverse order", dict(lag="(s - 1)")),
        ("the gradients' ratio squared, as in the sum", dict(lag="(t - s) * 2")),
    ),
)
wrong(
    "adam_largest_step",
    "the geometric series summed by its closed form (0 / 0 where beta1**2 == beta2)",
    """
def adam_largest_step(t, beta1, beta2):
    r = np.float64(beta1) ** 2 / beta2
    total = (1 - r**t) / (1 - r)
    ratio = (1 - beta1) / (1 - beta1**t) * np.sqrt((1 - beta2**t) / (1 - beta2) * total)
    return float(ratio), (beta1 / beta2) ** np.arange(t - 1, -1, -1.0)
""",
)
wrong(
    "adam_largest_step",
    "Kingma & Ba's bound and a constant gradient",
    """
def adam_largest_step(t, beta1, beta2):
    return max(1.0, (1 - beta1) / np.sqrt(1 - beta2)), np.ones(t)
""",
)
wrong(
    "adam_largest_step",
    "the limit as t grows, whatever t",
    """
def adam_largest_step(t, beta1, beta2):
    ratio = (1 - beta1) / np.sqrt((1 - beta2) * (1 - beta1**2 / beta2))
    return float(ratio), (beta1 / beta2) ** np.arange(t - 1, -1, -1.0)
""",
)
right(
    "adam_largest_step",
    "the bound by running Adam on the maximising sequence",
    """
def adam_largest_step(t, beta1, beta2):
    g = np.array([(beta1 / beta2) ** (t - s) for s in range(1, t + 1)])
    m = v = 0.0
    for x in g:
        m = beta1 * m + (1 - beta1) * x
        v = beta2 * v + (1 - beta2) * x * x
    return float((m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t))), g
""",
)
right(
    "adam_largest_step",
    "the closed form of the series, with its ratio-1 case apart",
    """
def adam_largest_step(t, beta1, beta2):
    r = beta1 * beta1 / beta2
    total = float(t) if r == 1 else (1 - r**t) / (1 - r)
    scale = np.sqrt((1 - beta2**t) / (1 - beta2)) * (1 - beta1) / (1 - beta1**t)
    return float(scale * np.sqrt(total)), np.power(beta1 / beta2, np.arange(t)[::-1])
""",
)
EMA = """
def ema_weights(snapshots, decay):
    out = np.empty(snapshots.shape)
    avg = np.zeros(snapshots.shape[1:])
    for t in range(len(snapshots)):
        avg = {update}
        out[t] = avg / {correction}
    return out
"""
wrong_variants(
    "ema_weights",
    EMA,
    dict(update="decay * avg + (1 - decay) * snapshots[t]", correction="(1 - decay ** (t + 1))"),
    (
        (
            "the correction (1 - d) / (1 - d)^t instead of 1 - d^t",
            dict(correction="((1 - decay) ** (t + 1) / (1 - decay) ** t)"),
        ),
        (
            "the correction one step late, 1 - d^(t+1) for step t + 1",
            dict(correction="(1 - decay ** (t + 2))"),
        ),
        (
            "decay and 1 - decay swapped",
            dict(
                update="(1 - decay) * avg + decay * snapshots[t]", correction="(1 - (1 - decay) ** (t + 1))"
            ),
        ),
        (
            "the average started at the first snapshot, no correction",
            dict(
                update="snapshots[0] if t == 0 else decay * avg + (1 - decay) * snapshots[t]",
                correction="1.0",
            ),
        ),
    ),
)
wrong(
    "ema_weights",
    "the averages written into the snapshots",
    """
def ema_weights(snapshots, decay):
    avg = np.zeros(snapshots.shape[1:])
    for t in range(len(snapshots)):
        avg = decay * avg + (1 - decay) * snapshots[t]
        snapshots[t] = avg / (1 - decay ** (t + 1))
    return snapshots.copy()
""",
)
right(
    "ema_weights",
    "each average as the normalised weighted sum of d^(t-s) w_s, by tensordot",
    """
def ema_weights(snapshots, decay):
    T = len(snapshots)
    t = np.arange(T)
    weights = np.tril(decay ** (t[:, None] - t[None, :]).clip(min=0))
    weights /= weights.sum(axis=1, keepdims=True) if T else 1.0
    return np.tensordot(weights, snapshots, axes=(1, 0))
""",
)
MOMENTUM_RATE = """
def momentum_convergence_rate(A, lr, momentum):
    rate = 0.0
    for lam in np.linalg.eigvalsh(A):
        roots = np.roots([1.0, {b}, {c}])
        rate = {agg}(rate, {size}) if {first} else {size}
    return float(rate)
"""
wrong_variants(
    "momentum_convergence_rate",
    MOMENTUM_RATE,
    dict(b="-(1.0 + momentum - lr * lam)", c="momentum", agg="max", size="np.abs(roots).max()", first="rate"),
    (
        ("the sign of e_(t-1) flipped in the recurrence", dict(c="-momentum")),
        (
            "Nesterov's recurrence for PyTorch's plain momentum",
            dict(b="-(1.0 + momentum) * (1.0 - lr * lam)", c="momentum * (1.0 - lr * lam)"),
        ),
        ("the largest real part of the roots, not their modulus", dict(size="np.abs(roots.real).max()")),
        (
            "the step scaled by 1 - momentum (an EMA of the gradients)",
            dict(b="-(1.0 + momentum - (1.0 - momentum) * lr * lam)"),
        ),
        ("the smallest rate over the eigenvalues", dict(agg="min")),
    ),
)
right(
    "momentum_convergence_rate",
    "the spectral radius of the whole (2D, 2D) map of (e_t, e_t-1)",
    """
def momentum_convergence_rate(A, lr, momentum):
    D = len(A)
    I = np.eye(D)
    T = np.block([[(1.0 + momentum) * I - lr * A, -momentum * I], [I, np.zeros((D, D))]])
    return float(np.abs(np.linalg.eigvals(T)).max())
""",
)
MOMENTUM_CLOSED_FORM = """
def momentum_convergence_rate(A, lr, momentum):
    worst = 0.0
    for lam in np.linalg.eigvalsh(A):
        b = 1.0 + momentum - lr * lam
        disc = b * b - 4.0 * momentum
        worst = max(worst, {complex_roots} if disc < 0 else {real_roots})
    return worst
"""
MOMENTUM_CLOSED_FORM_RIGHT = dict(
    complex_roots="np.sqrt(momentum)", real_roots="(abs(b) + np.sqrt(disc)) / 2.0"
)
wrong_variants(
    "momentum_convergence_rate",
    MOMENTUM_CLOSED_FORM,
    MOMENTUM_CLOSED_FORM_RIGHT,
    (
        (
            "real roots: |b| / 2 (the square root of the discriminant forgotten)",
            dict(real_roots="abs(b) / 2.0"),
        ),
        ("complex roots: momentum, not sqrt(momentum)", dict(complex_roots="momentum")),
    ),
)
right(
    "momentum_convergence_rate",
    "the roots in closed form, complex ones of modulus sqrt(momentum)",
    MOMENTUM_CLOSED_FORM.format(**MOMENTUM_CLOSED_FORM_RIGHT),
)

# ------------------------------------------------------------------ 05 regularization
right(
    "early_stopping_epochs",
    "an improvement written best - loss > min_delta",
    """
def early_stopping_epochs(val_losses, patience, min_delta):
    best, best_epoch, waited = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if best - loss > min_delta:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
    return best_epoch, -1
""",
)

# an independent TA's answers, written from the task alone
EARLY_STOPPING = """
def early_stopping_epochs(val_losses, patience, min_delta):
    best, best_epoch, wait = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best {sign} min_delta:
            best, best_epoch, wait = loss, epoch, 0
        else:
            {lower}wait += 1
            if wait {reached} patience:
                return best_epoch, {stopped}
    return best_epoch, -1
"""
wrong_variants(
    "early_stopping_epochs",
    EARLY_STOPPING,
    dict(sign="-", lower="", reached=">=", stopped="epoch"),
    (
        ("stops one epoch late (wait > patience)", dict(reached=">")),
        ("the stopped epoch counted from 1", dict(stopped="epoch + 1")),
        ("min_delta added to the best (loss < best + min_delta)", dict(sign="+")),
        (
            "the best loss lowered by every smaller loss, improvement or not",
            dict(lower="best = min(best, loss)\n            "),
        ),
    ),
)
right(
    "early_stopping_epochs",
    "the epochs since the best counted from best_epoch; (-1, -1) for no epoch",
    """
def early_stopping_epochs(val_losses, patience, min_delta):
    if not val_losses:
        return -1, -1
    best, best_epoch = float("inf"), 0
    for epoch, loss in enumerate(val_losses):
        if best - loss > min_delta:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, -1
""",
)
MAX_NORM = """
def max_norm(W, c):
    axes = {dense} if W.ndim == 2 else {conv}
    n = np.sqrt((W**2).sum(axis=axes, keepdims=True))
    {apply}
"""
wrong_variants(
    "max_norm",
    MAX_NORM,
    dict(dense="0", conv="(1, 2, 3)", apply="return W * np.minimum(1.0, c / np.maximum(n, 1e-300))"),
    (
        ("convolution: the whole kernel as one unit", dict(conv="(0, 1, 2, 3)")),
        ("Dense: the norm of each row (the unit's outgoing weights)", dict(dense="1")),
        ("convolution: Keras's axes (0, 1, 2) on minidl's (F, C, KH, KW)", dict(conv="(0, 1, 2)")),
        ("convolution: each (KH, KW) slice clipped on its own", dict(conv="(2, 3)")),
        (
            "the units above the limit scaled in place",
            dict(apply="W *= np.minimum(1.0, c / np.maximum(n, 1e-300))\n    return W.copy()"),
        ),
    ),
)
wrong(
    "max_norm",
    "convolution: units last, W.reshape(-1, F) (not the filters' entries)",
    """
def max_norm(W, c):
    U = W if W.ndim == 2 else W.reshape(-1, W.shape[0])
    n = np.sqrt((U**2).sum(axis=0, keepdims=True))
    return (U * np.minimum(1.0, c / np.maximum(n, 1e-300))).reshape(W.shape)
""",
)
wrong(
    "max_norm",
    "every weight clipped to [-c, c]",
    """
def max_norm(W, c):
    return np.clip(W, -c, c)
""",
)
right(
    "max_norm",
    "units as rows of a (units, fan-in) matrix, np.where for the scale",
    """
def max_norm(W, c):
    units = W.T if W.ndim == 2 else W.reshape(len(W), -1)
    n = np.linalg.norm(units, axis=1)
    scale = np.where(n > c, c / np.where(n > 0, n, 1.0), 1.0)
    out = units * scale[:, None]
    return out.T.copy() if W.ndim == 2 else out.reshape(W.shape)
""",
)
L1_PROX = """
def l1_proximal_step(w, grad, lr, lam):
    {u}
    return {step}
"""
wrong_variants(
    "l1_proximal_step",
    L1_PROX,
    dict(u="u = w - lr * grad", step="np.sign(u) * np.maximum(np.abs(u) - lr * lam, 0)"),
    (
        (
            "lam = 0 taken as no step at all: w returned as it was",
            dict(u="u = w - lr * grad if lam else w.copy()"),
        ),
        ("the threshold lr * lam / 2", dict(step="np.sign(u) * np.maximum(np.abs(u) - lr * lam / 2, 0)")),
        ("negative weights sent to 0: max(u - t, 0)", dict(step="np.maximum(u - lr * lam, 0.0)")),
        ("the gradient step taken in place", dict(u="u = w\n    u -= lr * grad")),
        (
            "|w| before the gradient step decides the zeros",
            dict(step="np.where(np.abs(w) <= lr * lam, 0.0, u - lr * lam * np.sign(u))"),
        ),
    ),
)
right(
    "l1_proximal_step",
    "u minus its clip to [-t, t]",
    L1_PROX.format(u="u = w - lr * grad", step="u - np.clip(u, -lr * lam, lr * lam)"),
)
right(
    "l1_proximal_step",
    "np.where over the three cases",
    L1_PROX.format(
        u="u, t = w - lr * grad, lr * lam", step="np.where(u > t, u - t, np.where(u < -t, u + t, 0 * u))"
    ),
)

# ------------------------------------------------------------------ 06 batch normalization
# (an independent TA's answers, written from the task alone)
GROUPNORM = """
def groupnorm_forward(x, gamma, beta, groups, eps):
    N, C = x.shape
    xg = x.reshape({shape})
    mu = xg.mean(axis={axis}, keepdims=True)
    sd = {sd}
    return gamma * ((xg - mu) / sd).reshape(N, C) + beta
"""
wrong_variants(
    "groupnorm_forward",
    GROUPNORM,
    dict(shape="N, groups, C // groups", axis="2", sd="np.sqrt(xg.var(axis=2, keepdims=True) + eps)"),
    (
        (
            "groups of every groups-th feature (reshape (N, m, groups))",
            dict(shape="N, C // groups, groups", axis="1", sd="np.sqrt(xg.var(axis=1, keepdims=True) + eps)"),
        ),
        ("the unbiased variance (ddof=1)", dict(sd="np.sqrt(xg.var(axis=2, keepdims=True, ddof=1) + eps)")),
        ("eps added to the standard deviation", dict(sd="xg.std(axis=2, keepdims=True) + eps")),
        ("eps written in as its default 1e-5", dict(sd="np.sqrt(xg.var(axis=2, keepdims=True) + 1e-5)")),
    ),
)
right(
    "groupnorm_forward",
    "the mean and the mean of squares, one group at a time",
    """
def groupnorm_forward(x, gamma, beta, groups, eps):
    N, C = x.shape
    m = C // groups
    y = np.empty_like(x)
    for g in range(groups):
        block = x[:, g * m : (g + 1) * m]
        mu = block.mean(axis=1, keepdims=True)
        var = (block**2).mean(axis=1, keepdims=True) - mu**2
        y[:, g * m : (g + 1) * m] = (block - mu) / np.sqrt(var + eps)
    return y * gamma + beta
""",
)
GROUPNORM_BACKWARD = """
def groupnorm_backward(dy, x, gamma, groups, eps):
    N, C = x.shape
    xg = x.reshape(N, {groups}, -1)
    inv = 1 / np.sqrt(xg.var(axis=2, keepdims=True) + {eps})
    xhat = (xg - xg.mean(axis=2, keepdims=True)) * inv
    dxhat = (dy * gamma).reshape(xg.shape)
    dx = inv * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * {projection})
    return dx.reshape(N, C), (dy * xhat.reshape(N, C)).{reduce}(axis=0), dy.sum(axis=0)
"""
wrong_variants(
    "groupnorm_backward",
    GROUPNORM_BACKWARD,
    dict(groups="groups", eps="eps", projection="(dxhat * xhat).mean(axis=2, keepdims=True)", reduce="sum"),
    (
        ("one group for all features (LayerNorm's backward)", dict(groups="1")),
        ("the variance's term without its mean over the group", dict(projection="(dxhat * xhat)")),
        ("dgamma averaged over the batch", dict(reduce="mean")),
        ("eps written in as its default 1e-5", dict(eps="1e-5")),
    ),
)
right(
    "groupnorm_backward",
    "the batch-norm formula per (sample, group) block, written with sums",
    """
def groupnorm_backward(dy, x, gamma, groups, eps):
    N, C = x.shape
    m = C // groups
    dx = np.empty_like(x)
    dgamma = np.zeros(C)
    for g in range(groups):
        s = slice(g * m, (g + 1) * m)
        xb = x[:, s]
        mu = xb.mean(axis=1, keepdims=True)
        inv = 1 / np.sqrt(((xb - mu) ** 2).mean(axis=1, keepdims=True) + eps)
        xhat = (xb - mu) * inv
        d = dy[:, s] * gamma[s]
        dx[:, s] = inv / m * (m * d - d.sum(axis=1, keepdims=True) - xhat * (d * xhat).sum(axis=1, keepdims=True))
        dgamma[s] = (dy[:, s] * xhat).sum(axis=0)
    return dx, dgamma, dy.sum(axis=0)
""",
)
FOLD = """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    s = gamma / {std}
    return s[:, None] * W, b + {shift} @ {through}
"""
wrong_variants(
    "fold_batchnorm",
    FOLD,
    dict(std="np.sqrt(running_var + eps)", shift="(beta - s * running_mean)", through="W"),
    (
        ("the mean left out of the shift", dict(shift="beta")),
        ("the mean not scaled by gamma / std", dict(shift="(beta - running_mean)")),
        ("the default eps 1e-5 written in", dict(std="np.sqrt(running_var + 1e-5)")),
        ("the shift pushed through the folded W", dict(through="(s[:, None] * W)")),
    ),
)
wrong(
    "fold_batchnorm",
    "gamma left out of the scale of W (kept in the shift)",
    """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    inv = 1 / np.sqrt(running_var + eps)
    return inv[:, None] * W, b + (beta - gamma * inv * running_mean) @ W
""",
)
wrong(
    "fold_batchnorm",
    "W scaled in place",
    """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    s = gamma / np.sqrt(running_var + eps)
    shift = (beta - s * running_mean) @ W
    W *= s[:, None]
    return W.copy(), b + shift
""",
)
right(
    "fold_batchnorm",
    "the map read off at x = 0 and at x = the identity",
    """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    def layer(x):
        return (gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta) @ W + b
    D = len(W)
    b_f = layer(np.zeros((1, D), dtype=W.dtype))[0]
    return layer(np.eye(D, dtype=W.dtype)) - b_f, b_f
""",
)
right(
    "fold_batchnorm",
    "einsum, and the shift as beta @ W - (mu s) @ W",
    """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    inv = 1.0 / np.sqrt(running_var + eps)
    return np.einsum("d,dm->dm", gamma * inv, W), b + beta @ W - (running_mean * gamma * inv) @ W
""",
)

# ------------------------------------------------------------------ 07 convolutional networks
wrong(
    "maxpool_backward",
    "the gradient goes to every tied maximum",
    """
def maxpool_backward(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            window = x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool] += (
                mask * dy[:, :, i : i + 1, j : j + 1]
            )
    return dx
""",
)

right(
    "maxpool_backward",
    "one window at a time with np.ndindex; argmax on the flattened window (first maximum)",
    """
def maxpool_backward(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dy.shape):
        window = x[n, c, i * stride : i * stride + pool, j * stride : j * stride + pool]
        a, b = divmod(int(np.argmax(window)), pool)
        dx[n, c, i * stride + a, j * stride + b] += dy[n, c, i, j]
    return dx
""",
)

# an independent TA's answers, written from the task alone
DILATED_DW = """
def dilated_conv2d_weight_gradient(dy, x, kh, kw, stride, pad, dilation):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)){mode})
    OH, OW = dy.shape[2:]
    dW = np.zeros((dy.shape[1], x.shape[1], kh, kw))
    for a in range(kh):
        for b in range(kw):
            r, q = a * dilation, b * dilation
            patch = xp[:, :, r : r + stride * (OH - 1) + 1 : stride, q : q + stride * (OW - 1) + 1 : stride]
            dW[:, :, a, b] = np.einsum("nfij,ncij->fc", dy, patch)
    return dW, dy.{db}
"""
wrong_variants(
    "dilated_conv2d_weight_gradient",
    DILATED_DW,
    dict(mode="", db="sum(axis=(0, 2, 3))"),
    (
        ("the padding repeats the edge pixels (np.pad's mode='edge')", dict(mode=', mode="edge"')),
        ("db averaged over the batch and the positions", dict(db="mean(axis=(0, 2, 3))")),
        ("db summed over the first image only", dict(db="sum(axis=(2, 3))[0]")),
    ),
)
right(
    "dilated_conv2d_weight_gradient",
    "one tap at a time, the strided patch by slicing, einsum",
    DILATED_DW.format(mode="", db="sum(axis=(0, 2, 3))"),
)
CONV_DX = """
def conv2d_input_gradient(dy, W, height, width, stride, pad):
    N, F, OH, OW = dy.shape
    _, C, KH, KW = W.shape
    dxp = np.zeros((N, C, {size}))
    for i in range(OH):
        for j in range(OW):
            dxp[:, :, i * {step} : i * {step} + KH, j * {step} : j * {step} + KW] += np.einsum("nf,fcab->ncab", dy[:, :, i, j], {W})
    return dxp[:, :, {rows}, {cols}]
"""
wrong_variants(
    "conv2d_input_gradient",
    CONV_DX,
    dict(
        size="height + 2 * pad, width + 2 * pad",
        W="W",
        rows="pad : pad + height",
        cols="pad : pad + width",
        step="stride",
    ),
    (
        (
            "the stride ignored: windows one pixel apart",
            dict(size="height + 2 * pad + KH, width + 2 * pad + KW", step="1"),
        ),
        ("the padding cut off with [pad:-pad] (empty when pad = 0)", dict(rows="pad:-pad", cols="pad:-pad")),
        (
            "the padded gradient sized from dy (the rows the floor dropped are lost)",
            dict(size="(OH - 1) * stride + KH, (OW - 1) * stride + KW"),
        ),
        ("the filters' rows flipped (a half-flipped kernel)", dict(W="W[:, :, ::-1, :]")),
    ),
)
MAXPOOL_BACKWARD = """
def maxpool_backward(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dy.shape):
        window = x[n, c, i * stride : i * stride + {size}, j * stride : j * stride + {size}]
        a, b = divmod(int(np.argmax(window)), window.shape[1])
        dx[n, c, i * stride + a, j * stride + b] {assign} dy[n, c, i, j]
    return dx
"""
wrong_variants(
    "maxpool_backward",
    MAXPOOL_BACKWARD,
    dict(size="pool", assign="+="),
    (
        ("overlapping windows overwrite (= instead of +=)", dict(assign="=")),
        ("windows as large as the stride, not the pool", dict(size="stride")),
    ),
)
wrong(
    "maxpool_backward",
    "the last maximum of a tie (>= in the scan)",
    """
def maxpool_backward(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dy.shape):
        best, where = -np.inf, (0, 0)
        for a in range(pool):
            for b in range(pool):
                v = x[n, c, i * stride + a, j * stride + b]
                if v >= best:
                    best, where = v, (a, b)
        dx[n, c, i * stride + where[0], j * stride + where[1]] += dy[n, c, i, j]
    return dx
""",
)
right(
    "maxpool_backward",
    "sliding_window_view, argmax and np.add.at",
    """
def maxpool_backward(dy, x, pool, stride):
    N, C, OH, OW = dy.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (pool, pool), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :OH, :OW]
    a, b = np.divmod(win.reshape(N, C, OH, OW, pool * pool).argmax(-1), pool)
    n, c, i, j = np.indices((N, C, OH, OW))
    dx = np.zeros(x.shape)
    np.add.at(dx, (n, c, i * stride + a, j * stride + b), dy)
    return dx
""",
)

# ------------------------------------------------------------------ 08 fast CPU kernels
wrong(
    "relu_backward_numba",
    "a serial loop (range, not prange)",
    """
from numba import njit, prange

@njit(parallel=True)
def relu_backward_numba(dy, x):
    flat_dy, flat_x = dy.ravel(), x.ravel()
    dx = np.empty_like(flat_dy)
    for i in range(flat_x.size):
        dx[i] = flat_dy[i] if flat_x[i] > 0 else 0.0
    return dx.reshape(dy.shape)
""",
)
wrong(
    "relu_backward_numba",
    "prange without parallel=True",
    """
from numba import njit, prange

@njit
def relu_backward_numba(dy, x):
    flat_dy, flat_x = dy.ravel(), x.ravel()
    dx = np.empty_like(flat_dy)
    for i in prange(flat_x.size):
        dx[i] = flat_dy[i] if flat_x[i] > 0 else 0.0
    return dx.reshape(dy.shape)
""",
)

right(
    "relu_backward_numba",
    "prange over the rows of a 2-D view, the inner loop serial",
    """
from numba import njit, prange

@njit(parallel=True)
def relu_backward_numba(dy, x):
    d2 = dy.reshape(dy.shape[0], -1)
    x2 = x.reshape(x.shape[0], -1)
    out = np.zeros_like(d2)
    for r in prange(d2.shape[0]):
        for k in range(d2.shape[1]):
            if x2[r, k] > 0:
                out[r, k] = d2[r, k]
    return out.reshape(dy.shape)
""",
)

# an independent TA's answers, written from the task alone
DEPTHWISE = """
from numba import njit

@njit
def depthwise_conv2d_numba(x, W, stride, pad):
    N, C, H, Wd = x.shape
    _, KH, KW = W.shape
    OH = (H + 2 * pad - KH) // stride + 1
    OW = (Wd + 2 * pad - KW) // stride + 1
    y = np.zeros((N, C, OH, OW){dtype})
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    acc = 0.0
                    for a in range(KH):
                        r = i * stride + a - pad
                        if {rows}:
                            for b in range(KW):
                                q = j * stride + b - pad
                                if {cols}:
                                    acc += W[c, a, b] * x[n, c, r, q]
                    y[n, c, i, j] = acc
    return y
"""
wrong_variants(
    "depthwise_conv2d_numba",
    DEPTHWISE,
    dict(dtype=", x.dtype", rows="0 <= r < H", cols="0 <= q < Wd"),
    (
        ("only the upper bound tested (a negative index wraps round)", dict(rows="r < H", cols="q < Wd")),
        ("y in float64 for a float32 x", dict(dtype="")),
        (
            "rows tested against the width, columns against the height",
            dict(rows="0 <= r < Wd", cols="0 <= q < H"),
        ),
    ),
)
right(
    "depthwise_conv2d_numba",
    "parallel over images and channels, the taps' range clipped once per output",
    """
from numba import njit, prange

@njit(parallel=True)
def depthwise_conv2d_numba(x, W, stride, pad):
    N, C, H, Wd = x.shape
    KH, KW = W.shape[1], W.shape[2]
    OH = (H + 2 * pad - KH) // stride + 1
    OW = (Wd + 2 * pad - KW) // stride + 1
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for i in range(OH):
            r0 = i * stride - pad
            a_lo, a_hi = max(0, -r0), min(KH, H - r0)
            for j in range(OW):
                q0 = j * stride - pad
                b_lo, b_hi = max(0, -q0), min(KW, Wd - q0)
                s = np.float64(0.0)
                for a in range(a_lo, a_hi):
                    for b in range(b_lo, b_hi):
                        s += W[c, a, b] * x[n, c, r0 + a, q0 + b]
                y[n, c, i, j] = s
    return y
""",
)
AVGPOOL_PADDED = """
from numba import njit

@njit
def avgpool2d_padded_backward_numba(dy, height, width, pool, stride, pad):
    N, C, OH, OW = dy.shape
    dx = np.zeros((N, C, height, width))
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    r0, q0 = i * stride - pad, j * stride - pad
                    r1, q1 = r0 + pool, q0 + pool
                    ra, rb = max(r0, 0), min(r1, height)
                    qa, qb = max(q0, 0), min(q1, width)
                    count = {count}
                    for r in range(ra, rb):
                        for q in range(qa, qb):
                            dx[n, c, r, q] += dy[n, c, i, j] / count
    return dx
"""
wrong_variants(
    "avgpool2d_padded_backward_numba",
    AVGPOOL_PADDED,
    dict(count="(rb - ra) * (qb - qa)"),
    (
        (
            "the count clipped at the image's end only (top and left padding counted)",
            dict(count="(rb - r0) * (qb - q0)"),
        ),
        (
            "the count clipped at the start only (bottom and right padding counted)",
            dict(count="(r1 - ra) * (q1 - qa)"),
        ),
        ("the rows' count squared (a square window assumed)", dict(count="(rb - ra) * (rb - ra)")),
    ),
)
right(
    "avgpool2d_padded_backward_numba",
    "one window at a time, clipped to the image, its share added to each pixel",
    AVGPOOL_PADDED.format(count="(rb - ra) * (qb - qa)"),
)

# ------------------------------------------------------------------ 09 GPU kernels
wrong(
    "silu_backward_cuda",
    "sigmoid'(x) written with exp(-x) twice: inf * 0 for x << 0",
    '''
SILU_BACKWARD_SOURCE = r"""
extern "C" __global__ void silu_backward(const float* dy, const float* x, float* dx, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float e = expf(-x[i]);
        float s = 1.0f / (1.0f + e);
        dx[i] = dy[i] * (s + x[i] * e * s * s);
    }
}
"""
''',
)

right(
    "silu_backward_cuda",
    "sigmoid written by the sign of x (expf of a non-positive number only)",
    '''
SILU_BACKWARD_SOURCE = r"""
extern "C" __global__ void silu_backward(const float* dy, const float* x, float* dx, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i];
    float e = expf(-fabsf(v));
    float s = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    dx[i] = dy[i] * (s + v * s * (1.0f - s));
}
"""
''',
)
right(
    "relu_backward_cuda",
    "a while loop over the grid-stride elements",
    '''
RELU_BACKWARD_SOURCE = r"""
extern "C" __global__ void relu_backward(const float* dy, const float* x, float* dx, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    while (i < n) {
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        i += gridDim.x * blockDim.x;
    }
}
"""
''',
)
right(
    "bias_relu_cuda",
    "the image and channel found by two divisions, fmaxf for the ReLU",
    '''
BIAS_RELU_SOURCE = r"""
extern "C" __global__ void bias_relu(const float* x, const float* b, float* y, int n, int channels, int hw)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        int image = i / (channels * hw);
        int c = (i - image * channels * hw) / hw;
        y[i] = fmaxf(x[i] + b[c], 0.0f);
    }
}
"""
''',
)

# an independent TA's answers, written from the task alone
BIAS_RELU = '''
BIAS_RELU_SOURCE = r"""
extern "C" __global__ void bias_relu(const float* x, const float* b, float* y, int n,
                                     int channels, int hw)
{{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    {loop}
        int c = (i / hw) % channels;
        y[i] = {value};
    }}
}}
"""
'''
BIAS_RELU_RIGHT = dict(loop="if (i < n) {", value="fmaxf(x[i] + b[c], 0.0f)")
wrong_variants(
    "bias_relu_cuda",
    BIAS_RELU,
    BIAS_RELU_RIGHT,
    (
        ("no guard: the rounded-up grid writes past y", dict(loop="{")),
        ("the bias added after the ReLU", dict(value="fmaxf(x[i], 0.0f) + b[c]")),
    ),
)
right(
    "bias_relu_cuda",
    "a grid-stride loop, the ReLU by a comparison",
    BIAS_RELU.format(
        loop="for (; i < n; i += gridDim.x * blockDim.x) {", value="(x[i] + b[c] > 0.0f) ? x[i] + b[c] : 0.0f"
    ),
)
RELU_BACKWARD = '''
RELU_BACKWARD_SOURCE = r"""
extern "C" __global__ void relu_backward(const float* dy, const float* x, float* dx, int n)
{{
    for (int i = {start}; i < n; i += blockDim.x * gridDim.x)
        dx[i] = x[i] {test} 0.0f ? dy[i] : 0.0f;
}}
"""
'''
wrong_variants(
    "relu_backward_cuda",
    RELU_BACKWARD,
    dict(start="blockIdx.x * blockDim.x + threadIdx.x", test=">"),
    (
        (
            "the loop starts at threadIdx.x (every block does the first block's elements)",
            dict(start="threadIdx.x"),
        ),
        ("x >= 0 passes the gradient at exact zeros", dict(test=">=")),
    ),
)
# issue 55: a loop whose numbers are right but whose blocks redo each other's elements, and
# reads outside an array (which the emulator stops; the guard values saw only writes)
wrong(
    "relu_backward_cuda",
    "the loop steps by blockDim.x: right numbers, every block redoes the elements after its start",
    '''
RELU_BACKWARD_SOURCE = r"""
extern "C" __global__ void relu_backward(const float* dy, const float* x, float* dx, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x)
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
"""
''',
)
wrong(
    "silu_backward_cuda",
    "x[i] read before the i < n test: the threads past the end read past x",
    '''
SILU_BACKWARD_SOURCE = r"""
extern "C" __global__ void silu_backward(const float* dy, const float* x, float* dx, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = x[i];
    float s = 1.0f / (1.0f + expf(-v));
    if (i < n) dx[i] = dy[i] * s * (1.0f + v * (1.0f - s));
}
"""
''',
)
wrong(
    "bias_relu_cuda",
    "the channel index i / hw not taken modulo C: reads past b from the second image on",
    BIAS_RELU.replace("(i / hw) % channels", "i / hw").format(**BIAS_RELU_RIGHT),
)
SILU_BACKWARD = '''
SILU_BACKWARD_SOURCE = r"""
extern "C" __global__ void silu_backward(const float* dy, const float* x, float* dx, int n)
{{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {{
        float s = 1.0f / (1.0f + expf(-x[i]));
        dx[i] = dy[i] * ({derivative});
    }}
}}
"""
'''
wrong_variants(
    "silu_backward_cuda",
    SILU_BACKWARD,
    dict(derivative="s * (1.0f + x[i] * (1.0f - s))"),
    (
        ("sigmoid's derivative s (1 - s): the product rule forgotten", dict(derivative="s * (1.0f - s)")),
        (
            "x s (1 - s) only: the s term of the product rule dropped",
            dict(derivative="x[i] * s * (1.0f - s)"),
        ),
    ),
)
right(
    "silu_backward_cuda",
    "1 / (1 + expf(-x)) as written (1 / inf = 0 for x << 0), s (1 + x (1 - s))",
    SILU_BACKWARD.format(derivative="s * (1.0f + x[i] * (1.0f - s))"),
)
UPSAMPLE_BACKWARD = '''
UPSAMPLE_BACKWARD_SOURCE = r"""
extern "C" __global__ void upsample_backward(const float* dy, float* dx, int n, int height, int width,
                                             int factor)
{{
    int i = {index};
    if (i < n) {{
        int q = i % width;
        int r = {row};
        int plane = i / (height * width);
        const float* block = dy + {plane};
        float s = 0.0f;
        for (int a = 0; a < factor; ++a)
            for (int b = 0; b < factor; ++b)
                s += block[({top} + a) * (width * factor) + q * factor + b];
        dx[i] = s;
    }}
}}
"""
'''
wrong_variants(
    "upsample_backward_cuda",
    UPSAMPLE_BACKWARD,
    dict(
        index="blockIdx.x * blockDim.x + threadIdx.x",
        row="(i / width) % height",
        plane="(size_t)plane * height * width * factor * factor",
        top="r * factor",
    ),
    (
        ("the thread index without blockIdx (only the first block's elements)", dict(index="threadIdx.x")),
        (
            "the plane offset with one factor (plane * H * W * f)",
            dict(plane="(size_t)plane * height * width * factor"),
        ),
        ("the block's row at r + a, not r * factor + a", dict(top="r")),
        ("the row found with the height for the width", dict(row="(i / height) % width")),
    ),
)
right(
    "upsample_backward_cuda",
    "a grid-stride loop, the block's rows walked by a row pointer",
    '''
UPSAMPLE_BACKWARD_SOURCE = r"""
extern "C" __global__ void upsample_backward(const float* dy, float* dx, int n, int height, int width,
                                             int factor)
{
    int wide = width * factor;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int q = i % width;
        int rest = i / width;
        int r = rest % height;
        int plane = rest / height;
        const float* row = dy + ((size_t)plane * height * factor + (size_t)r * factor) * wide + q * factor;
        float s = 0.0f;
        for (int a = 0; a < factor; ++a, row += wide)
            for (int b = 0; b < factor; ++b)
                s += row[b];
        dx[i] = s;
    }
}
"""
''',
)

# ------------------------------------------------------------------ 10 recurrent networks
# (an independent TA's answers, written from the task alone)
RNN_BPTT = """
def rnn_bptt(dhs, xs, h0, Wx, Wh, b):
    hs = [h0]
    for t in range(len(xs)):
        hs.append(np.tanh(xs[t] @ Wx + hs[-1] @ Wh + b))
    dxs = np.zeros_like(xs)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        da = (dhs[t] + dh_next) * (1 - {state} ** 2)
        dxs[t] = da @ Wx.T
        dWx += xs[t].T @ da
        dWh += {previous}.T @ da
        db += da.sum(axis=0)
        dh_next = da @ Wh.T
    return dxs, dh_next, dWx, dWh, db
"""
wrong_variants(
    "rnn_bptt",
    RNN_BPTT,
    dict(state="hs[t + 1]", previous="hs[t]"),
    (
        ("tanh' from the previous state h_(t-1)", dict(state="hs[t]")),
        ("dWh from h_t instead of h_(t-1)", dict(previous="hs[t + 1]")),
    ),
)
right(
    "rnn_bptt",
    "the states in one array, Wh's gradient by einsum over time and batch",
    """
def rnn_bptt(dhs, xs, h0, Wx, Wh, b):
    T, N, _ = xs.shape
    h = np.empty((T + 1, N, h0.shape[1]))
    h[0] = h0
    for t in range(T):
        h[t + 1] = np.tanh(xs[t] @ Wx + h[t] @ Wh + b)
    das = np.empty((T, N, h0.shape[1]))
    carry = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        das[t] = (dhs[t] + carry) * (1 - h[t + 1] * h[t + 1])
        carry = das[t] @ Wh.T
    dWx = np.einsum("tnd,tnh->dh", xs, das)
    dWh = np.einsum("tnk,tnh->kh", h[:-1], das)
    return das @ Wx.T, carry, dWx, dWh, das.sum(axis=(0, 1))
""",
)
CLIP = """
def clip_by_global_norm(grads, max_norm):
    norm = {norm}
    {body}
"""
wrong_variants(
    "clip_by_global_norm",
    CLIP,
    dict(
        norm="np.sqrt(sum(float((g * g).sum()) for g in grads))",
        body="return [g * min(1.0, max_norm / norm) for g in grads]",
    ),
    (
        (
            "the gradients scaled in place",
            dict(
                body="for g in grads:\n        g *= min(1.0, max_norm / norm)\n    return [g.copy() for g in grads]"
            ),
        ),
        (
            "the inputs themselves returned when nothing is clipped",
            dict(
                body="if norm <= max_norm:\n        return list(grads)\n    return [g * (max_norm / norm) for g in grads]"
            ),
        ),
        (
            "the global norm as the sum of the arrays' norms",
            dict(norm="sum(np.linalg.norm(g) for g in grads)"),
        ),
    ),
)
LSTM_BACKWARD = """
def lstm_step_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    sig = lambda z: 1 / (1 + np.exp(-z))
    i, f, g, o = sig(a[:, :H]), sig(a[:, H : 2 * H]), np.tanh(a[:, 2 * H : 3 * H]), sig(a[:, 3 * H :])
    c = f * c_prev + i * g
    tc = np.tanh(c)
    dct = {dc_total}
    da = np.concatenate([dct * g * i * (1 - i), dct * c_prev * f * (1 - f), dct * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
    return da @ Wx.T, da @ Wh.T, dct * {forget}, x.T @ da, h_prev.T @ da, da.sum(axis=0)
"""
wrong_variants(
    "lstm_step_backward",
    LSTM_BACKWARD,
    dict(dc_total="dc + dh * o * (1 - tc**2)", forget="f"),
    (
        ("dc only: the path through h = o tanh(c) forgotten", dict(dc_total="dc")),
        ("tanh'(c) written 1 - c^2", dict(dc_total="dc + dh * o * (1 - c**2)")),
        ("dc_prev without the forget gate", dict(forget="1.0")),
    ),
)
right(
    "lstm_step_backward",
    "np.split into the gates, the sigmoid by tanh, one product per block",
    """
def lstm_step_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b):
    a = x @ Wx + h_prev @ Wh + b
    ai, af, ag, ao = np.split(a, 4, axis=1)
    i, f, o = (0.5 * (1 + np.tanh(z / 2)) for z in (ai, af, ao))
    g = np.tanh(ag)
    c = f * c_prev + i * g
    dc_total = dc + dh * o / np.cosh(c) ** 2
    blocks = [dc_total * g, dc_total * c_prev, dc_total * i, dh * np.tanh(c)]
    local = [i * (1 - i), f * (1 - f), 1 - g**2, o * (1 - o)]
    da = np.hstack([u * v for u, v in zip(blocks, local)])
    return da @ Wx.T, da @ Wh.T, f * dc_total, x.T @ da, h_prev.T @ da, np.sum(da, axis=0)
""",
)

# ------------------------------------------------------------------ 13 transfer learning
wrong(
    "freeze_all_but_last",
    "layers[:-n], wrong for n = 0",
    """
def freeze_all_but_last(model, n_trainable):
    weighted = [layer for layer in model.layers if layer.params]
    for layer in weighted:
        layer.trainable = True
    for layer in weighted[:-n_trainable]:
        layer.trainable = False
""",
)
wrong(
    "freeze_all_but_last",
    "freezes the others but never unfreezes the last n (a model from an earlier stage)",
    """
def freeze_all_but_last(model, n_trainable):
    weighted = [layer for layer in model.layers if layer.params]
    for layer in weighted[: len(weighted) - n_trainable]:
        layer.trainable = False
""",
)
wrong(
    "discriminative_fine_tune_step",
    "never passes training=True",
    """
def discriminative_fine_tune_step(model, x, y, loss_fn, lr):
    loss = float(loss_fn(model.forward(x), y))
    model.backward(loss_fn.backward())
    weighted = [layer for layer in model.layers if layer.params]
    for depth, layer in enumerate(reversed(weighted)):
        if layer.trainable:
            for key in layer.params:
                layer.params[key] -= lr / 2.6**depth * layer.grads[key]
    return loss
""",
)
wrong(
    "discriminative_fine_tune_step",
    "frozen layers left out of the depth count",
    """
def discriminative_fine_tune_step(model, x, y, loss_fn, lr):
    moving = [layer for layer in model.layers if layer.params and layer.trainable]
    rates = [lr / 2.6 ** (len(moving) - 1 - k) for k in range(len(moving))]
    loss = float(loss_fn(model.forward(x, training=True), y))
    model.backward(loss_fn.backward())
    for layer, rate in zip(moving, rates):
        layer.params["W"] -= rate * layer.grads["W"]
        layer.params["b"] -= rate * layer.grads["b"]
    return loss
""",
)
wrong(
    "discriminative_fine_tune_step",
    "the ReLUs counted in the depth",
    """
def discriminative_fine_tune_step(model, x, y, loss_fn, lr):
    out = model.forward(x, training=True)
    loss = loss_fn(out, y)
    model.backward(loss_fn.backward())
    top = len(model.layers) - 1
    for i in range(top + 1):
        layer = model.layers[i]
        if not (layer.params and layer.trainable):
            continue
        step = lr * 2.6 ** (i - top)
        for name in layer.params:
            layer.params[name] = layer.params[name] - step * layer.grads[name]
    return float(loss)
""",
)
right(
    "discriminative_fine_tune_step",
    "the rates computed first, from the bottom, with a power of the depth",
    """
def discriminative_fine_tune_step(model, x, y, loss_fn, lr):
    weighted = [i for i, layer in enumerate(model.layers) if layer.params]
    rate = {i: lr * (1 / 2.6) ** (len(weighted) - 1 - k) for k, i in enumerate(weighted)}
    y_pred = model.forward(x, training=True)
    loss = loss_fn(y_pred, y)
    model.backward(loss_fn.backward())
    for i in weighted:
        layer = model.layers[i]
        if layer.trainable:
            layer.params["W"] -= rate[i] * layer.grads["W"]
            layer.params["b"] -= rate[i] * layer.grads["b"]
    return float(loss)
""",
)


# ------------------------------------------------------------------ 15 speech
DTW = """
def dtw_distance(a, b):
    d = {local}
    D = np.{start}((len(a) + 1, len(b) + 1){fill})
    D[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            D[i, j] = d[i - 1, j - 1] + min({steps})
    return D[-1, -1]
"""
DTW_RIGHT = dict(
    local="np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))",
    start="full",
    fill=", np.inf",
    steps="D[i - 1, j], D[i, j - 1], D[i - 1, j - 1]",
)
wrong_variants(
    "dtw_distance",
    DTW,
    DTW_RIGHT,
    (
        (
            "the first row and column start at 0: a path may begin anywhere on the edges",
            dict(start="zeros", fill=""),
        ),
        ("no diagonal step", dict(steps="D[i - 1, j], D[i, j - 1]")),
        ("the squared distance between frames", dict(local="((a[:, None] - b[None]) ** 2).sum(-1)")),
    ),
)
right(
    "dtw_distance",
    "anti-diagonal by anti-diagonal, the edges accumulated by cumulative sums",
    """
def dtw_distance(a, b):
    d = np.sqrt(np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T, 0.0))
    D = np.empty_like(d)
    D[:, 0] = np.cumsum(d[:, 0])
    D[0, :] = np.cumsum(d[0, :])
    for s in range(2, len(a) + len(b) - 1):
        for i in range(max(1, s - len(b) + 1), min(len(a), s)):
            j = s - i
            D[i, j] = d[i, j] + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return float(D[-1, -1])
""",
)

# ------------------------------------------------------------------ 16 going deep
MIXUP = """
def mixup_cross_entropy(logits, labels, perm, lam):
    n, k = logits.shape
    target = {own} * np.eye(k)[labels] + {other} * np.eye(k)[{partner}]
    z = logits{shift}
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(target * log_p).sum() / n, (np.exp(log_p) - target){scale}
"""
MIXUP_RIGHT = {"own": "lam", "other": "(1 - lam)", "partner": "labels[perm]", "scale": " / n"}
MIXUP_RIGHT["shift"] = " - logits.max(axis=1, keepdims=True)"
wrong_variants(
    "mixup_cross_entropy",
    MIXUP,
    MIXUP_RIGHT,
    (
        ("the labels not mixed: the target is the image's own one-hot label", dict(own="1.0", other="0.0")),
        (
            "the partner's label read through the inverse permutation",
            dict(partner="labels[np.argsort(perm)]"),
        ),
        ("lam and 1 - lam swapped", dict(own="(1 - lam)", other="lam")),
        ("exp without the row maximum: NaN for logits near 1000", dict(shift="")),
        ("the gradient of the summed loss, not of the mean", dict(scale="")),
    ),
)
wrong(
    "mixup_cross_entropy",
    "the partner's weight assigned, not added: a partner of the same class overwrites lam",
    """
def mixup_cross_entropy(logits, labels, perm, lam):
    n, k = logits.shape
    target = np.zeros((n, k))
    for i in range(n):
        target[i, labels[i]] = lam
        target[i, labels[perm[i]]] = 1 - lam
    m = logits.max(axis=1, keepdims=True)
    p = np.exp(logits - m) / np.exp(logits - m).sum(axis=1, keepdims=True)
    loss = -np.sum(target * np.log(p + 1e-300)) / n
    return loss, (p - target) / n
""",
)
right(
    "mixup_cross_entropy",
    "the mixture of two ordinary cross-entropies, lam CE(labels) + (1 - lam) CE(labels[perm])",
    """
def mixup_cross_entropy(logits, labels, perm, lam):
    n = len(labels)
    m = logits.max(axis=1, keepdims=True)
    p = np.exp(logits - m)
    p /= p.sum(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    rows = np.arange(n)
    loss = np.mean(lam * (lse - logits[rows, labels]) + (1 - lam) * (lse - logits[rows, labels[perm]]))
    grad = p.copy()
    grad[rows, labels] -= lam
    grad[rows, labels[perm]] -= 1 - lam
    return loss, grad / n
""",
)

# ------------------------------------------------------------------ more, chapter by chapter
wrong(
    "weighted_bce_with_logits",
    "log(sigmoid(z)) computed directly: inf for large |z|",
    """
def weighted_bce_with_logits(z, y, pos_weight):
    p = 1.0 / (1.0 + np.exp(-z))
    return -(pos_weight * y * np.log(p) + (1 - y) * np.log(1 - p))
""",
)
right(
    "weighted_bce_with_logits",
    "np.logaddexp for both softplus terms",
    """
def weighted_bce_with_logits(z, y, pos_weight):
    return pos_weight * y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)
""",
)
wrong(
    "early_stopping_epochs",
    "a loss equal to the best counts as an improvement",
    """
def early_stopping_epochs(val_losses, patience, min_delta):
    best, best_epoch, waited = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss <= best - min_delta:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
    return best_epoch, -1
""",
)
wrong(
    "early_stopping_epochs",
    "compares each epoch with the previous one, not with the best",
    """
def early_stopping_epochs(val_losses, patience, min_delta):
    previous, best_epoch, waited = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss < previous - min_delta:
            best_epoch, waited = epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
        previous = loss
    return best_epoch, -1
""",
)
wrong(
    "fold_batchnorm",
    "eps added after the square root",
    """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    scale = gamma / (np.sqrt(running_var) + eps)
    return scale[:, None] * W, b + (beta - running_mean * scale) @ W
""",
)
wrong(
    "fold_batchnorm",
    "the shift added to the bias without going through W",
    """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    scale = gamma / np.sqrt(running_var + eps)
    shift = beta - running_mean * scale
    return scale[:, None] * W, b + shift.sum()
""",
)
right(
    "fold_batchnorm",
    "np.diag(scale) @ W, and the BatchNorm of a zero input pushed through the Dense",
    """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    scale = gamma / np.sqrt(running_var + eps)
    bn_of_zero = beta - running_mean * scale
    return np.diag(scale) @ W, bn_of_zero @ W + b
""",
)
wrong(
    "fold_batchnorm",
    "the scale divides by the variance, not the standard deviation",
    """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    scale = gamma / (running_var + eps)
    return scale[:, None] * W, b + (beta - running_mean * scale) @ W
""",
)
wrong(
    "clip_by_global_norm",
    "each gradient clipped to max_norm on its own",
    """
def clip_by_global_norm(grads, max_norm):
    return [g * min(1.0, max_norm / max(np.sqrt(np.sum(g**2)), 1e-300)) for g in grads]
""",
)
right(
    "clip_by_global_norm",
    "max_norm / max(norm, max_norm)",
    """
def clip_by_global_norm(grads, max_norm):
    norm = np.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    return [g * (max_norm / max(norm, max_norm)) for g in grads]
""",
)
wrong(
    "hinge_gan_losses",
    "the derivative 1 at the kinks (<= and >=)",
    """
def hinge_gan_losses(real_logits, fake_logits):
    nr, nf = len(real_logits), len(fake_logits)
    loss_d = np.mean(np.maximum(0, 1 - real_logits)) + np.mean(np.maximum(0, 1 + fake_logits))
    d_real = np.where(real_logits <= 1, -1.0, 0.0) / nr
    d_fake = np.where(fake_logits >= -1, 1.0, 0.0) / nf
    return loss_d, d_real, d_fake, -np.mean(fake_logits), np.full(nf, -1.0 / nf)
""",
)
wrong(
    "hinge_gan_losses",
    "the generator on the hinge relu(1 - fake)",
    """
def hinge_gan_losses(real_logits, fake_logits):
    def relu(t):
        return t * (t > 0)

    def step(t):
        return 1.0 * (t > 0)

    loss_d = relu(1 - real_logits).mean() + relu(1 + fake_logits).mean()
    d_real = -step(1 - real_logits) / real_logits.size
    d_fake = step(1 + fake_logits) / fake_logits.size
    loss_g = relu(1 - fake_logits).mean()  # the generator on a hinge too
    return loss_d, d_real, d_fake, loss_g, -step(1 - fake_logits) / fake_logits.size
""",
)
right(
    "hinge_gan_losses",
    "ReLU and its step written with np.clip and np.heaviside(., 0)",
    """
def hinge_gan_losses(real_logits, fake_logits):
    real_part = np.clip(1 - real_logits, 0, None)
    fake_part = np.clip(1 + fake_logits, 0, None)
    loss_d = real_part.mean() + fake_part.mean()
    d_real = -np.heaviside(1 - real_logits, 0.0) / real_logits.shape[0]
    d_fake = np.heaviside(1 + fake_logits, 0.0) / fake_logits.shape[0]
    dg = -np.ones_like(fake_logits, dtype=float) / fake_logits.shape[0]
    return loss_d, d_real, d_fake, -fake_logits.mean(), dg
""",
)

# one answer with a slot for each mistake: the rotation (pairs, base), the mask, the values
ROPE = """
def rope_attention(q, k, v, base):
    N, T, d = q.shape
    theta = np.arange(T)[:, None] * {base} ** (-2.0 * np.arange(d // 2) / d)
    def turn(x):
        x0, x1 = {pairs}
        return {join}([x0 * np.cos(theta) - x1 * np.sin(theta), x0 * np.sin(theta) + x1 * np.cos(theta)], -1)
    s = turn(q) @ turn(k).transpose(0, 2, 1) / np.sqrt(d)
    s = np.where(np.tri(T, dtype=bool), s, -np.inf)
    w = {weights}
    return (w / w.sum(axis=2, keepdims=True)) @ {values}
"""
ROPE_RIGHT = dict(
    base="base",
    pairs="x[..., 0::2], x[..., 1::2]",
    join="(lambda halves, _: np.stack(halves, axis=-1).reshape(x.shape))",
    weights="np.exp(s - s.max(axis=2, keepdims=True))",
    values="v",
)
wrong_variants(
    "rope_attention",
    ROPE,
    ROPE_RIGHT,
    (
        ("the values rotated as well as the queries and keys", dict(values="turn(v)")),
        (
            "the two halves paired (x_i, x_i+d/2), GPT-NeoX's layout, where the task pairs neighbours",
            dict(pairs="x[..., : d // 2], x[..., d // 2 :]", join="np.concatenate"),
        ),
        ("the base ignored: 10000 always", dict(base="10000.0")),
        ("softmax without the row maximum: overflows for scores near 1000", dict(weights="np.exp(s)")),
    ),
)
right("rope_attention", "pairs stacked back along a new last axis", ROPE.format(**ROPE_RIGHT))
right(
    "rope_attention",
    "the rotation as a complex product (x_2i + i x_2i+1) e^(i theta), the mask added as -inf",
    """
def rope_attention(q, k, v, base):
    N, T, d = q.shape
    phase = np.exp(1j * np.arange(T)[:, None] / base ** (np.arange(0, d, 2) / d))
    def turn(x):
        z = (x[..., 0::2] + 1j * x[..., 1::2]) * phase
        return np.stack([z.real, z.imag], axis=-1).reshape(x.shape)
    s = np.einsum("nid,njd->nij", turn(q), turn(k)) / np.sqrt(d)
    s = s + np.triu(np.full((T, T), -np.inf), 1)
    s = s - s.max(axis=-1, keepdims=True)
    w = np.exp(s)
    return np.einsum("nij,nje->nie", w / w.sum(axis=-1, keepdims=True), v)
""",
)
wrong(
    "lstm_step_backward",
    "gates read in the order i, f, o, g (the task's order is i, f, g, o)",
    """
def lstm_step_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))
    i, f, o, g = sig(a[:, :H]), sig(a[:, H : 2 * H]), sig(a[:, 2 * H : 3 * H]), np.tanh(a[:, 3 * H :])
    c = f * c_prev + i * g
    tc = np.tanh(c)
    dct = dc + dh * o * (1 - tc**2)
    da = np.concatenate(
        [dct * g * i * (1 - i), dct * c_prev * f * (1 - f), dh * tc * o * (1 - o), dct * i * (1 - g**2)], axis=1
    )
    return da @ Wx.T, da @ Wh.T, dct * f, x.T @ da, h_prev.T @ da, da.sum(axis=0)
""",
)
wrong(
    "groupnorm_forward",
    "normalises each feature over the batch (batch norm), not each group of a sample",
    """
def groupnorm_forward(x, gamma, beta, groups, eps):
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta
""",
)
wrong(
    "sparsity_penalty",
    "rho_hat averaged over the units of a sample instead of over the batch",
    """
def sparsity_penalty(h, rho, beta):
    rho_hat = h.mean(axis=1, keepdims=True)
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    d = beta * ((1 - rho) / (1 - rho_hat) - rho / rho_hat) / h.shape[1]
    return float(beta * np.sum(kl)), np.broadcast_to(d, h.shape).copy()
""",
)

# ------------------------------------------------------------------ 17: attention's backward
_ATTENTION_BACKWARD = """
def attention_backward(dout, q, k, v, causal):
    T, d = q.shape[1], q.shape[2]
    S = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    if causal and {mask}:
        S = np.where(np.tril(np.ones((T, T), dtype=bool)), S, -np.inf)
    P = np.exp(S - S.max(axis=2, keepdims=True){no_max})
    P = P / P.sum(axis=2, keepdims=True)
    dP = dout @ v.transpose(0, 2, 1)
    dS = {dS}
    scale = {scale}
    return dS @ k * scale, dS.transpose(0, 2, 1) @ q * scale, P.transpose(0, 2, 1) @ dout
"""


def _attention(
    mask="True", no_max="", dS="P * (dP - (P * dP).sum(axis=2, keepdims=True))", scale="1 / np.sqrt(d)"
):
    return _ATTENTION_BACKWARD.format(mask=mask, no_max=no_max, dS=dS, scale=scale)


right("attention_backward", "batched matmuls and np.tril", _attention())
right(
    "attention_backward",
    "the masked scores set to -1e30 instead of -inf",
    _attention().replace("-np.inf", "-1e30"),
)
wrong("attention_backward", "forgets the 1/sqrt(d) scale in dq and dk", _attention(scale="1.0"))
wrong("attention_backward", "the softmax Jacobian without its row sum", _attention(dS="P * dP"))
wrong("attention_backward", "the mask is left out of the backward", _attention(mask="False"))
wrong(
    "attention_backward",
    "exp without the row maximum (overflows for scores near 1000)",
    _attention(no_max=" * 0"),
)

# ------------------------------------------------------------------ edge cases, chapter by chapter
wrong(
    "upsample_backward_cuda",
    "the block's dy averaged (divided by factor * factor)",
    '''
UPSAMPLE_BACKWARD_SOURCE = r"""
extern "C" __global__ void upsample_backward(const float* dy, float* dx, int n, int height, int width, int factor)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        int w = i % width, h = (i / width) % height, plane = i / (width * height);
        float total = 0.0f;
        for (int a = 0; a < factor; ++a)
            for (int b = 0; b < factor; ++b)
                total += dy[((plane * height + h) * factor + a) * width * factor + w * factor + b];
        dx[i] = total / (factor * factor);
    }
}
"""
''',
)
wrong(
    "upsample_backward_cuda",
    "dy's rows taken width apart (the rows of x), not width * factor",
    '''
UPSAMPLE_BACKWARD_SOURCE = r"""
extern "C" __global__ void upsample_backward(const float* dy, float* dx, int n, int height, int width, int factor)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        int w = i % width, h = (i / width) % height, plane = i / (width * height);
        float total = 0.0f;
        for (int a = 0; a < factor; ++a)
            for (int b = 0; b < factor; ++b)
                total += dy[((plane * height + h) * factor + a) * width + w * factor + b];
        dx[i] = total;
    }
}
"""
''',
)
right(
    "upsample_backward_cuda",
    "a grid-stride loop over dx, the block's rows found by 2-D indices",
    '''
UPSAMPLE_BACKWARD_SOURCE = r"""
extern "C" __global__ void upsample_backward(const float* dy, float* dx, int n, int height, int width, int factor)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        int row = i / width, col = i % width;          // row counts the rows of all planes together
        float total = 0.0f;
        for (int a = 0; a < factor; ++a) {
            const float* line = dy + (long long)(row * factor + a) * (width * factor) + col * factor;
            for (int b = 0; b < factor; ++b) total += line[b];
        }
        dx[i] = total;
    }
}
"""
''',
)
# one answer with a slot per derivative: softplus (overflow), ELU (alpha), hard-swish (pieces)
ACTIVATIONS = """
def softplus_derivative(z):
    return {sp}

def elu_derivative(z, alpha):
    return {elu}

def hard_swish_derivative(z):
    return np.where(z <= -3, 0.0, np.where(z >= 3, {hi}, {mid}))
"""
ACTIVATIONS_RIGHT = dict(
    sp="0.5 * (1 + np.tanh(z / 2))",
    elu="np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))",
    hi="1.0",
    mid="(2 * z + 3) / 6",
)
wrong_variants(
    "activation_derivatives",
    ACTIVATIONS,
    ACTIVATIONS_RIGHT,
    (
        ("softplus' as e^z / (1 + e^z): inf / inf for large z", dict(sp="np.exp(z) / (1.0 + np.exp(z))")),
        ("elu' ignores alpha (uses 1)", dict(elu="np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))")),
        (
            "elu': alpha (e^z - 1) on the left (the function, not its derivative)",
            dict(elu="np.where(z > 0, 1.0, alpha * (np.exp(np.minimum(z, 0.0)) - 1))"),
        ),
        (
            "hard-swish': the product rule forgotten in the middle (1/6 only)",
            dict(mid="np.full_like(z, 1 / 6)"),
        ),
        ("hard-swish': h(z) in the middle (the z h'(z) term dropped)", dict(mid="(z + 3) / 6")),
        ("hard-swish': 0 above 3 (the hard sigmoid's derivative)", dict(hi="0.0")),
    ),
)
right("activation_derivatives", "softplus' as (1 + tanh(z/2)) / 2", ACTIVATIONS.format(**ACTIVATIONS_RIGHT))
right(
    "activation_derivatives",
    "softplus' as 1 / (1 + e^-z) (inf on the far left gives 0), elu' as elu + alpha, hard-swish' by the product rule",
    """
def softplus_derivative(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))

def elu_derivative(z, alpha):
    return np.where(z > 0, 1.0, alpha * (np.exp(np.minimum(z, 0.0)) - 1) + alpha)

def hard_swish_derivative(z):
    h = np.clip(z + 3, 0, 6) / 6
    return h + z * ((z > -3) & (z < 3)) / 6
""",
)
wrong(
    "softmax_cross_entropy_backward",
    "ignores smoothing (one-hot targets)",
    """
def softmax_cross_entropy_backward(logits, labels, smoothing):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1.0
    return p / len(labels)
""",
)
wrong(
    "softmax_cross_entropy_backward",
    "softmax without the row maximum: overflows for large logits",
    """
def softmax_cross_entropy_backward(logits, labels, smoothing):
    n, k = logits.shape
    e = np.exp(logits)
    t = np.full((n, k), smoothing / k)
    t[np.arange(n), labels] += 1 - smoothing
    return (e / e.sum(axis=1, keepdims=True) - t) / n
""",
)
wrong(
    "l1_proximal_step",
    "the subgradient step of the chapter",
    """
def l1_proximal_step(w, grad, lr, lam):
    return w - lr * (grad + lam * np.sign(w))
""",
)
wrong(
    "l1_proximal_step",
    "zero inside the threshold left at rounding error, not exactly 0",
    """
def l1_proximal_step(w, grad, lr, lam):
    u = w - lr * grad
    return np.sign(u) * (np.maximum(np.abs(u) - lr * lam, 0.0) + 1e-17)
""",
)
wrong(
    "l1_proximal_step",
    "shrinks w before the gradient step",
    """
def l1_proximal_step(w, grad, lr, lam):
    return np.sign(w) * np.maximum(np.abs(w) - lr * lam, 0.0) - lr * grad
""",
)
right(
    "l1_proximal_step",
    "sign(u) * max(|u| - lr lam, 0)",
    """
def l1_proximal_step(w, grad, lr, lam):
    u = w - lr * grad
    return np.sign(u) * np.maximum(np.abs(u) - lr * lam, 0.0)
""",
)
wrong(
    "max_norm",
    "normalises every column to norm c",
    """
def max_norm(W, c):
    return W * c / np.linalg.norm(W, axis=0)
""",
)
wrong(
    "max_norm",
    "a convolution kernel normalised along axis 0, as a Dense one",
    """
def max_norm(W, c):
    norms = np.linalg.norm(W, axis=0, keepdims=True)
    return W * np.minimum(1.0, c / np.maximum(norms, 1e-300))
""",
)
wrong(
    "max_norm",
    "W / norm * min(norm, c): NaN for a unit of norm 0",
    """
def max_norm(W, c):
    axes = (0,) if W.ndim == 2 else (1, 2, 3)
    norms = np.sqrt(np.sum(W**2, axis=axes, keepdims=True))
    return W / norms * np.minimum(norms, c)
""",
)
wrong(
    "max_norm",
    "returns the kernel itself when no unit is above the limit",
    """
def max_norm(W, c):
    axes = (0,) if W.ndim == 2 else (1, 2, 3)
    norms = np.sqrt(np.sum(W**2, axis=axes, keepdims=True))
    if np.all(norms <= c):
        return W
    return W * np.minimum(1.0, c / np.maximum(norms, 1e-300))
""",
)
right(
    "max_norm",
    "the unit axis moved first and the kernel reshaped to (units, -1)",
    """
def max_norm(W, c):
    units = W.T if W.ndim == 2 else W
    flat = units.reshape(len(units), -1)
    norms = np.linalg.norm(flat, axis=1)
    factors = np.where(norms > c, c / np.where(norms > 0, norms, 1.0), 1.0)
    out = flat * factors[:, None]
    return out.reshape(units.shape).T if W.ndim == 2 else out.reshape(W.shape)
""",
)
wrong(
    "dilated_conv2d_weight_gradient",
    "ignores the padding",
    """
def dilated_conv2d_weight_gradient(dy, x, kh, kw, stride, pad, dilation):
    n, f, oh, ow = dy.shape
    big = np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)))
    dW = np.zeros((f, x.shape[1], kh, kw))
    for a in range(kh):
        for b in range(kw):
            seen = big[:, :, a * dilation :: stride, b * dilation :: stride][:, :, :oh, :ow]
            dW[:, :, a, b] = np.einsum("nfij,ncij->fc", dy, seen)
    return dW, dy.sum(axis=(0, 2, 3))
""",
)
wrong(
    "dilated_conv2d_weight_gradient",
    "the dilation applied to the window's start as well as to its taps",
    """
def dilated_conv2d_weight_gradient(dy, x, kh, kw, stride, pad, dilation):
    n, f, oh, ow = dy.shape
    p = np.pad(x, ((0, 0), (0, 0), (pad, pad + stride * dilation * oh), (pad, pad + stride * dilation * ow)))
    dW = np.zeros((f, x.shape[1], kh, kw))
    for i in range(oh):
        for j in range(ow):
            r, q = i * stride * dilation, j * stride * dilation
            patch = p[:, :, r : r + dilation * (kh - 1) + 1 : dilation, q : q + dilation * (kw - 1) + 1 : dilation]
            dW += np.tensordot(dy[:, :, i, j], patch, axes=([0], [0]))
    return dW, dy.sum(axis=(0, 2, 3))
""",
)
right(
    "dilated_conv2d_weight_gradient",
    "a loop over the outputs, each adding dy times its dilated patch",
    """
def dilated_conv2d_weight_gradient(dy, x, kh, kw, stride, pad, dilation):
    n, f, oh, ow = dy.shape
    p = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dW = np.zeros((f, x.shape[1], kh, kw))
    for i in range(oh):
        for j in range(ow):
            r, q = i * stride, j * stride
            patch = p[:, :, r : r + dilation * (kh - 1) + 1 : dilation, q : q + dilation * (kw - 1) + 1 : dilation]
            dW += np.tensordot(dy[:, :, i, j], patch, axes=([0], [0]))
    return dW, dy.sum(axis=(0, 2, 3))
""",
)
wrong(
    "conv2d_input_gradient",
    "overlapping windows overwrite (=) instead of adding",
    """
def conv2d_input_gradient(dy, W, height, width, stride, pad):
    n, f, oh, ow = dy.shape
    _, c, kh, kw = W.shape
    g = np.zeros((n, c, height + 2 * pad, width + 2 * pad))
    for i in range(oh):
        for j in range(ow):
            g[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] = np.einsum("nf,fcab->ncab", dy[:, :, i, j], W)
    return g[:, :, pad : pad + height, pad : pad + width].copy()
""",
)
wrong(
    "conv2d_input_gradient",
    "a true convolution of dy with W (the filters flipped)",
    """
def conv2d_input_gradient(dy, W, height, width, stride, pad):
    n, f, oh, ow = dy.shape
    _, c, kh, kw = W.shape
    g = np.zeros((n, c, height + 2 * pad, width + 2 * pad))
    for i in range(oh):
        for j in range(ow):
            g[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] += np.einsum(
                "nf,fcab->ncab", dy[:, :, i, j], W[:, :, ::-1, ::-1]
            )
    return g[:, :, pad : pad + height, pad : pad + width].copy()
""",
)
right(
    "conv2d_input_gradient",
    "one kernel tap at a time, added onto a strided view of the padded gradient",
    """
def conv2d_input_gradient(dy, W, height, width, stride, pad):
    n, f, oh, ow = dy.shape
    _, c, kh, kw = W.shape
    g = np.zeros((n, c, height + 2 * pad, width + 2 * pad))
    for a in range(kh):
        for b in range(kw):
            g[:, :, a : a + stride * (oh - 1) + 1 : stride, b : b + stride * (ow - 1) + 1 : stride] += np.einsum(
                "nfij,fc->ncij", dy, W[:, :, a, b]
            )
    return g[:, :, pad : pad + height, pad : pad + width].copy()
""",
)
wrong(
    "avgpool2d_padded_backward_numba",
    "the padding counted in the average (divides by pool * pool)",
    """
from numba import njit

@njit
def avgpool2d_padded_backward_numba(dy, height, width, pool, stride, pad):
    n, c, oh, ow = dy.shape
    dx = np.zeros((n, c, height, width))
    for s in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    for r in range(max(i * stride - pad, 0), min(i * stride - pad + pool, height)):
                        for q in range(max(j * stride - pad, 0), min(j * stride - pad + pool, width)):
                            dx[s, ch, r, q] += dy[s, ch, i, j] / (pool * pool)
    return dx
""",
)
right(
    "avgpool2d_padded_backward_numba",
    "a gather: each input adds up the shares of the windows that cover it",
    """
from numba import njit

@njit
def avgpool2d_padded_backward_numba(dy, height, width, pool, stride, pad):
    n, c, oh, ow = dy.shape
    dx = np.zeros((n, c, height, width))
    for r in range(height):
        for q in range(width):
            for i in range(oh):
                top = i * stride - pad
                if not (top <= r < top + pool):
                    continue
                rows = min(top + pool, height) - max(top, 0)
                for j in range(ow):
                    left = j * stride - pad
                    if left <= q < left + pool:
                        cols = min(left + pool, width) - max(left, 0)
                        dx[:, :, r, q] += dy[:, :, i, j] / (rows * cols)
    return dx
""",
)
wrong(
    "ridge_loo",
    "in-sample residuals (no division by 1 - H_ii)",
    """
def ridge_loo(features, labels, n_classes, lams):
    X = np.column_stack([features, np.ones(len(features))])
    Y = np.eye(n_classes)[labels]
    mse, acc = [], []
    for lam in lams:
        W = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ Y)
        r = Y - X @ W
        mse.append(np.mean(r**2))
        acc.append(np.mean((X @ W).argmax(axis=1) == labels))
    return np.array(mse), np.array(acc), lams[int(np.argmin(mse))]
""",
)
right(
    "ridge_loo",
    "the naive loop: N refits per lam",
    """
def ridge_loo(features, labels, n_classes, lams):
    n = len(labels)
    X = np.hstack([features, np.ones((n, 1))])
    Y = (labels[:, None] == np.arange(n_classes)).astype(float)
    mse, acc = np.zeros(len(lams)), np.zeros(len(lams))
    for j, lam in enumerate(lams):
        errors, hits = [], []
        for i in range(n):
            keep = np.arange(len(X)) != i
            W = np.linalg.solve(X[keep].T @ X[keep] + lam * np.eye(X.shape[1]), X[keep].T @ Y[keep])
            prediction = X[i] @ W
            errors.append(Y[i] - prediction)
            hits.append(prediction.argmax() == labels[i])
        mse[j], acc[j] = np.mean(np.square(errors)), np.mean(hits)
    return mse, acc, lams[int(np.argmin(mse))]
""",
)

wrong(
    "delta_features",
    "the ends wrap around (np.roll) instead of repeating the edge frames",
    """
def delta_features(features, width):
    total = sum(n * (np.roll(features, -n, axis=0) - np.roll(features, n, axis=0)) for n in range(1, width + 1))
    return total / (2 * sum(n**2 for n in range(1, width + 1)))
""",
)
wrong(
    "masked_cmvn",
    "padding frames counted in the statistics",
    """
def masked_cmvn(features, lengths):
    mean = features.mean(axis=1, keepdims=True)
    std = features.std(axis=1, keepdims=True)
    real = (np.arange(features.shape[1])[None, :] < np.asarray(lengths)[:, None])[:, :, None]
    return np.where(real, (features - mean) / std, 0.0)
""",
)
LSUV = """
def lsuv_scales(x, weights):
    scales, h = [], x
    for W in weights:
{body}
    return np.array(scales)
"""
wrong_variants(
    "lsuv_scales",
    LSUV,
    {},
    (
        (
            "every layer measured on the unscaled network (not layer after layer)",
            {"body": "        scales.append(1.0 / (h @ W).std())\n        h = np.maximum(h @ W, 0.0)"},
        ),
        (
            "the weights rescaled in place (W *= s)",
            {
                "body": "        s = 1.0 / (h @ W).std()\n        W *= s\n        scales.append(s)\n        h = np.maximum(h @ W, 0.0)"
            },
        ),
        (
            "the standard deviation after the ReLU",
            {
                "body": "        h = np.maximum(h @ W, 0.0)\n        scales.append(1.0 / h.std())\n        h = h * scales[-1]"
            },
        ),
    ),
)
right(
    "lsuv_scales",
    "one unscaled pass, then the ReLU's homogeneity: s_l = 1 / (std(a_l) s_1 ... s_l-1)",
    """
def lsuv_scales(x, weights):
    stds, h = [], x
    for W in weights:
        a = h @ W
        stds.append(np.sqrt(np.mean((a - a.mean()) ** 2)))
        h = np.maximum(a, 0.0)
    scales = np.empty(len(weights))
    product = 1.0
    for l, sd in enumerate(stds):
        scales[l] = 1.0 / (sd * product)
        product *= scales[l]
    return scales
""",
)
wrong(
    "gan_step",
    "the generator scored by the discriminator from before its step",
    """
def gan_step(x_real, z_d, z_g, params, lr):
    a, c, w, b = params
    sig = lambda t: 0.5 * (1 + np.tanh(0.5 * t))
    fake = a * z_d + c
    lr_, lf = w * x_real + b, w * fake + b
    loss_d = np.mean(np.logaddexp(0, -lr_)) + np.mean(np.logaddexp(0, lf))
    dr, df = -sig(-lr_) / len(x_real), sig(lf) / len(z_d)
    w_new, b_new = w - lr * (dr @ x_real + df @ fake), b - lr * (dr.sum() + df.sum())
    lg = w * (a * z_g + c) + b
    loss_g = np.mean(np.logaddexp(0, -lg))
    dx = -sig(-lg) / len(z_g) * w
    return a - lr * dx @ z_g, c - lr * dx.sum(), w_new, b_new, loss_d, loss_g
""",
)
wrong(
    "gan_step",
    "the discriminator's step moves the generator too",
    """
def softplus(t):
    return np.logaddexp(0.0, t)


def gan_step(x_real, z_d, z_g, params, lr):
    a, c, w, b = params
    x_fake = a * z_d + c
    p_real = 1 / (1 + np.exp(-(w * x_real + b)))
    p_fake = 1 / (1 + np.exp(-(w * x_fake + b)))
    loss_d = softplus(-(w * x_real + b)).mean() + softplus(w * x_fake + b).mean()
    g_real, g_fake = (p_real - 1) / x_real.size, p_fake / z_d.size
    grad_w = (g_real * x_real).sum() + (g_fake * x_fake).sum()
    grad_b = g_real.sum() + g_fake.sum()
    grad_a, grad_c = (g_fake * w * z_d).sum(), (g_fake * w).sum()  # G follows D's loss too
    w, b, a, c = w - lr * grad_w, b - lr * grad_b, a - lr * grad_a, c - lr * grad_c
    logits = w * (a * z_g + c) + b
    loss_g = softplus(-logits).mean()
    g = -(1 - 1 / (1 + np.exp(-logits))) / z_g.size * w
    return a - lr * (g * z_g).sum(), c - lr * g.sum(), w, b, loss_d, loss_g
""",
)
right(
    "gan_step",
    "the discriminator's loss as one weighted cross-entropy over the concatenated logits",
    """
def gan_step(x_real, z_d, z_g, params, lr):
    a, c, w, b = params
    expit = lambda t: np.exp(-np.logaddexp(0, -t))
    fakes = a * z_d + c
    logits = np.concatenate([w * x_real + b, w * fakes + b])
    targets = np.concatenate([np.ones(len(x_real)), np.zeros(len(z_d))])
    weights = np.concatenate([np.full(len(x_real), 1 / len(x_real)), np.full(len(z_d), 1 / len(z_d))])
    inputs = np.concatenate([x_real, fakes])
    loss_d = np.sum(weights * (np.logaddexp(0, logits) - targets * logits))
    dl = weights * (expit(logits) - targets)
    w, b = w - lr * np.sum(dl * inputs), b - lr * np.sum(dl)
    samples = a * z_g + c
    scores = w * samples + b
    loss_g = np.mean(np.logaddexp(0, -scores))
    dsamples = -(1 - expit(scores)) * w / len(z_g)
    return a - lr * np.sum(dsamples * z_g), c - lr * np.sum(dsamples), w, b, loss_d, loss_g
""",
)
wrong(
    "gru_from_keras",
    "the two biases summed into bx, as for an LSTM",
    """
def gru_from_keras(kernel, recurrent_kernel, bias):
    h = recurrent_kernel.shape[0]
    order = np.r_[h : 2 * h, 0:h, 2 * h : 3 * h]
    return kernel[:, order], recurrent_kernel[:, order], bias[0, order] + bias[1, order], np.zeros(3 * h)
""",
)
wrong(
    "gru_from_keras",
    "the gate blocks left in Keras's order",
    """
def gru_from_keras(kernel, recurrent_kernel, bias):
    return kernel.copy(), recurrent_kernel.copy(), bias[0].copy(), bias[1].copy()
""",
)
right(
    "gru_from_keras",
    "the blocks as a (..., 3, H) axis, reordered by fancy indexing",
    """
def gru_from_keras(kernel, recurrent_kernel, bias):
    h = recurrent_kernel.shape[0]
    def reorder(a):
        blocks = a.reshape(a.shape[:-1] + (3, h))
        return blocks[..., [1, 0, 2], :].reshape(a.shape)
    b = reorder(bias)
    return reorder(kernel), reorder(recurrent_kernel), b[0], b[1]
""",
)

wrong(
    "dense_after_flatten_from_keras",
    "the kernel returned as it is",
    """
def dense_after_flatten_from_keras(kernel, height, width, channels):
    return kernel.copy()
""",
)

# ------------------------------------------------------------------ outputs that are views of the inputs
wrong(
    "conv_transpose_from_keras",
    "returns a transposed view of the Keras kernel",
    """
def conv_transpose_from_keras(kernel):
    return kernel.transpose(3, 2, 0, 1)
""",
)
wrong(
    "conv_transpose_from_keras",
    "Keras's Conv2D reading of the axes (third = input channels)",
    """
def conv_transpose_from_keras(kernel):
    return np.transpose(kernel, (2, 3, 0, 1)).copy()
""",
)
right(
    "conv_transpose_from_keras",
    "np.ascontiguousarray of the transpose",
    """
def conv_transpose_from_keras(kernel):
    return np.ascontiguousarray(np.moveaxis(kernel, (3, 2), (0, 1)))
""",
)

# ------------------------------------------------------------------ the rest of the sets
wrong(
    "linear_regression_gradient",
    "the factor 2 of the square dropped",
    """
def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    s = sample_weight / sample_weight.sum()
    r = X @ w + b - y
    return X.T @ (s * r) + 2 * lam * w, (s * r).sum()
""",
)
wrong(
    "linear_regression_gradient",
    "the bias penalised too",
    """
def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    s = sample_weight / sample_weight.sum()
    r = X @ w + b - y
    return 2 * X.T @ (s * r) + 2 * lam * w, 2 * (s * r).sum() + 2 * lam * b
""",
)
right(
    "linear_regression_gradient",
    "the weighted average of per-sample gradients",
    """
def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    r = X @ w + b - y
    per_sample = 2 * r[:, None] * X
    dw = np.average(per_sample, axis=0, weights=sample_weight) + 2 * lam * w
    return dw, np.average(2 * r, weights=sample_weight)
""",
)
right(
    "linear_regression_gradient",
    "a loop over the samples with positive weight",
    """
def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    dw, db, total = np.zeros(X.shape[1]), 0.0, 0.0
    for x_i, y_i, s_i in zip(X, y, sample_weight):
        if s_i > 0:
            r = x_i @ w + b - y_i
            dw = dw + 2 * s_i * r * x_i
            db += 2 * s_i * r
            total += s_i
    return dw / total + 2 * lam * w, db / total
""",
)
right(
    "max_stable_learning_rate",
    "N over the largest squared singular value of [X 1]",
    """
def max_stable_learning_rate(X):
    s = np.linalg.svd(np.column_stack([X, np.ones(len(X))]), compute_uv=False)
    return len(X) / s[0] ** 2
""",
)
wrong(
    "max_stable_learning_rate",
    "the bias left out of the Hessian",
    """
def max_stable_learning_rate(X):
    return 2.0 / np.linalg.eigvalsh(2.0 * X.T @ X / len(X)).max()
""",
)
wrong(
    "max_stable_learning_rate",
    "1 / lam_max (the step that lands on the minimum of the steepest direction)",
    """
def max_stable_learning_rate(X):
    A = np.column_stack([X, np.ones(len(X))])
    return 1.0 / np.linalg.eigvalsh(2.0 * A.T @ A / len(X)).max()
""",
)
wrong(
    "max_stable_learning_rate",
    "the largest diagonal entry of the Hessian for its largest eigenvalue",
    """
def max_stable_learning_rate(X):
    return 2.0 / max(2.0 * np.max(np.mean(X**2, axis=0)), 2.0)
""",
)
wrong(
    "logistic_regression_gradient",
    "pos_weight ignored",
    """
def logistic_regression_gradient(X, y, w, b, pos_weight):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    return X.T @ (p - y) / len(y), np.mean(p - y)
""",
)
wrong(
    "groupnorm_backward",
    "dx as if the mean and variance were constants",
    """
def groupnorm_backward(dy, x, gamma, groups, eps):
    n, c = x.shape
    blocks = x.reshape(n, groups, c // groups)
    sigma = np.sqrt(blocks.var(axis=2, keepdims=True) + eps)
    x_hat = ((blocks - blocks.mean(axis=2, keepdims=True)) / sigma).reshape(n, c)
    dx = (dy * gamma).reshape(n, groups, c // groups) / sigma
    return dx.reshape(n, c), (dy * x_hat).sum(axis=0), dy.sum(axis=0)
""",
)
wrong(
    "ema_weights",
    "no bias correction",
    """
def ema_weights(snapshots, decay):
    out, average = [], np.zeros(snapshots.shape[1:])
    for w in snapshots:
        average = decay * average + (1 - decay) * w
        out.append(average)
    return np.array(out).reshape(snapshots.shape)
""",
)
wrong(
    "ema_weights",
    "steps counted from 0 in the correction",
    """
def ema_weights(snapshots, decay):
    out, average = np.zeros(snapshots.shape), np.zeros(snapshots.shape[1:])
    for t, w in enumerate(snapshots):
        average = decay * average + (1 - decay) * w
        out[t] = average / (1 - decay ** max(t, 1))
    return out
""",
)
wrong(
    "ema_weights",
    "np.array of an empty list: shape (0,) for 0 snapshots",
    """
def ema_weights(snapshots, decay):
    out, average = [], 0.0
    for t, w in enumerate(snapshots, 1):
        average = decay * average + (1 - decay) * w
        out.append(average / (1 - decay**t))
    return np.array(out)
""",
)
wrong(
    "ema_weights",
    "the plain running mean of the snapshots",
    """
def ema_weights(snapshots, decay):
    counts = np.arange(1, len(snapshots) + 1).reshape(-1, *[1] * (snapshots.ndim - 1))
    return np.cumsum(snapshots, axis=0) / counts
""",
)
right(
    "ema_weights",
    "the weights of every snapshot as a matrix, normalised to sum to 1",
    """
def ema_weights(snapshots, decay):
    t = len(snapshots)
    steps = np.arange(t)
    weights = np.tril((1 - decay) * decay ** (steps[:, None] - steps[None, :]).clip(0))
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    return np.tensordot(weights, snapshots, axes=1).reshape(snapshots.shape)
""",
)
wrong(
    "rnn_bptt",
    "the gradient from later steps not carried back (each step on its own)",
    """
def rnn_bptt(dhs, xs, h0, Wx, Wh, b):
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(x @ Wx + hs[-1] @ Wh + b))
    dxs, dWx, dWh, db = np.zeros_like(xs), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh0 = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        local = dhs[t] * (1 - hs[t + 1] ** 2)
        dxs[t] = local @ Wx.T
        dWx += xs[t].T @ local
        dWh += hs[t].T @ local
        db += local.sum(axis=0)
        if t == 0:
            dh0 = local @ Wh.T
    return dxs, dh0, dWx, dWh, db
""",
)
wrong(
    "tied_autoencoder_gradient",
    "dW from the encoder's use only (the decoder W.T forgotten)",
    """
def tied_autoencoder_gradient(x, W, b_enc, b_dec):
    pre = x @ W + b_enc
    code = np.maximum(pre, 0)
    r = code @ W.T + b_dec - x
    g = 2 * r / x.size
    g_pre = (g @ W) * (pre > 0)
    return float(np.mean(r**2)), x.T @ g_pre, g_pre.sum(axis=0), g.sum(axis=0)
""",
)
wrong(
    "autoencoder_train_step",
    "returns the loss after the update",
    """
def autoencoder_train_step(x, W1, b1, W2, b2, lr):
    def forward(W1, b1, W2, b2):
        a1 = x @ W1 + b1
        h = np.maximum(a1, 0)
        return a1, h, 1 / (1 + np.exp(-(h @ W2 + b2)))
    a1, h, xh = forward(W1, b1, W2, b2)
    d = 2 * (xh - x) / x.size * xh * (1 - xh)
    dh = (d @ W2.T) * (a1 > 0)
    W1, b1, W2, b2 = W1 - lr * x.T @ dh, b1 - lr * dh.sum(0), W2 - lr * h.T @ d, b2 - lr * d.sum(0)
    return float(np.mean((forward(W1, b1, W2, b2)[2] - x) ** 2)), W1, b1, W2, b2
""",
)
wrong(
    "generator_step",
    "the saturating loss log(1 - D(G(z)))",
    """
def generator_step(z, Wg, bg, Wd, bd, lr):
    s = np.tanh(z @ Wg + bg)
    logits = s @ Wd + bd
    dlogits = -np.exp(-np.logaddexp(0.0, -logits)) / z.shape[0]
    d_pre = np.outer(dlogits, Wd) * (1 - s**2)
    return Wg - lr * z.T @ d_pre, bg - lr * d_pre.sum(axis=0)
""",
)
wrong(
    "bias_relu_cuda",
    "the bias indexed by i % C (channels-last)",
    '''
BIAS_RELU_SOURCE = r"""
extern "C" __global__ void bias_relu(const float* x, const float* b, float* y, int n, int channels, int hw)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i] + b[i % channels];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}
"""
''',
)
wrong(
    "relu_backward_cuda",
    "one element per thread, no grid-stride loop",
    '''
RELU_BACKWARD_SOURCE = r"""
extern "C" __global__ void relu_backward(const float* dy, const float* x, float* dx, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
"""
''',
)
wrong(
    "preact_residual_backward",
    "dx misses the skip's dy",
    """
def preact_residual_backward(dy, x, W1, W2, eps):
    N = len(x)
    xc = x - x.mean(0)
    std = np.sqrt((xc**2).mean(0) + eps)
    u = xc / std
    a = u @ W1
    da = (dy @ W2.T) * (a > 0)
    du = da @ W1.T
    dx = (du - du.mean(0) - u * (du * u).mean(0)) / std
    return dx, u.T @ da, np.maximum(a, 0).T @ dy
""",
)
wrong(
    "preact_residual_backward",
    "the batch statistics treated as constants (du / std only)",
    """
def preact_residual_backward(dy, x, W1, W2, eps):
    std = np.sqrt(x.var(0) + eps)
    u = (x - x.mean(0)) / std
    a = u @ W1
    da = (dy @ W2.T) * (a > 0)
    return dy + da @ W1.T / std, u.T @ da, np.maximum(a, 0).T @ dy
""",
)
wrong(
    "preact_residual_backward",
    "eps fixed at 1e-5",
    """
def preact_residual_backward(dy, x, W1, W2, eps):
    std = np.sqrt(x.var(0) + 1e-5)
    u = (x - x.mean(0)) / std
    a = u @ W1
    da = (dy @ W2.T) * (a > 0)
    du = da @ W1.T
    return dy + (du - du.mean(0) - u * (du * u).mean(0)) / std, u.T @ da, np.maximum(a, 0).T @ dy
""",
)
right(
    "preact_residual_backward",
    "the normalisation's backward through dmean and dvar, step by step",
    """
def preact_residual_backward(dy, x, W1, W2, eps):
    N = x.shape[0]
    mu = x.sum(axis=0) / N
    var = ((x - mu) ** 2).sum(axis=0) / N
    u = (x - mu) / np.sqrt(var + eps)
    a = u @ W1
    h = np.where(a > 0, a, 0.0)
    da = np.where(a > 0, dy @ W2.T, 0.0)
    du = da @ W1.T
    dvar = np.sum(du * (x - mu), axis=0) * -0.5 * (var + eps) ** -1.5
    dmu = -np.sum(du, axis=0) / np.sqrt(var + eps) - 2.0 * dvar * np.mean(x - mu, axis=0)
    dx = du / np.sqrt(var + eps) + dvar * 2.0 * (x - mu) / N + dmu / N
    return dx + dy, u.T @ da, h.T @ dy
""",
)
wrong(
    "depthwise_conv2d_numba",
    "the window not moved up and left by the padding",
    """
from numba import njit

@njit
def depthwise_conv2d_numba(x, W, stride, pad):
    n, c, h, w = x.shape
    _, kh, kw = W.shape
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    y = np.zeros((n, c, oh, ow))
    for s in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    for a in range(kh):
                        for b in range(kw):
                            r, q = i * stride + a, j * stride + b
                            if r < h and q < w:
                                y[s, ch, i, j] += W[ch, a, b] * x[s, ch, r, q]
    return y
""",
)
wrong(
    "depthwise_conv2d_numba",
    "right numbers, but not compiled",
    """
def depthwise_conv2d_numba(x, W, stride, pad):
    n, c, h, w = x.shape
    _, kh, kw = W.shape
    p = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    y = np.zeros((n, c, oh, ow))
    for a in range(kh):
        for b in range(kw):
            y += W[None, :, a, b, None, None] * p[:, :, a : a + stride * (oh - 1) + 1 : stride, b : b + stride * (ow - 1) + 1 : stride]
    return y
""",
)
right(
    "depthwise_conv2d_numba",
    "a padded copy of x, in parallel over the planes",
    """
from numba import njit, prange

@njit(parallel=True)
def depthwise_conv2d_numba(x, W, stride, pad):
    n, c, h, w = x.shape
    _, kh, kw = W.shape
    p = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
    p[:, :, pad : pad + h, pad : pad + w] = x
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    for plane in prange(n * c):
        s, ch = plane // c, plane % c
        for i in range(oh):
            for j in range(ow):
                y[s, ch, i, j] = np.sum(W[ch] * p[s, ch, i * stride : i * stride + kh, j * stride : j * stride + kw])
    return y
""",
)
wrong(
    "relu_interpolant_weights",
    "the last unit left at 0: the line goes on rising after the last knot",
    """
def relu_interpolant_weights(knots, values):
    slopes = np.diff(values) / np.diff(knots)
    return np.append(np.diff(slopes, prepend=0.0), 0.0), values[0]
""",
)
wrong(
    "weight_norm_backward",
    "dv as the plain Dense gradient (the normalisation ignored)",
    """
def weight_norm_backward(dy, x, v, g):
    n = np.linalg.norm(v, axis=0)
    u = v / n
    dW = x.T @ dy
    return dy @ (g * u).T, dW, (dW * u).sum(axis=0), dy.sum(axis=0)
""",
)

# ------------------------------------------------------------------ 11 autoencoders: an independent TA's answers (written from the task alone)
right(
    "sparsity_penalty",
    "the penalty via xlogy-style differences of logs",
    """
def sparsity_penalty(h, rho, beta):
    n = h.shape[0]
    r = h.mean(axis=0)
    pen = beta * (rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r))).sum()
    dr = beta * (r - rho) / (r * (1 - r))
    return float(pen), np.broadcast_to(dr / n, h.shape).copy()
""",
)
AE_TA = """
def autoencoder_train_step(x, W1, b1, W2, b2, lr):
    a = x @ W1 + b1
    h = np.maximum(a, 0)
    y = 1 / (1 + np.exp(-(h @ W2 + b2)))
    loss = np.mean((y - x) ** 2)
    dy = {two} * (y - x) / {count}
    dz = dy{sig}
    dh = dz @ W2.T{relu}
    grads = (h.T @ dz, dz.sum(0), x.T @ dh, dh.sum(0))
    {update}
"""
AE_RIGHT_TA = dict(
    two="2",
    count="x.size",
    sig=" * y * (1 - y)",
    relu=" * (a > 0)",
    update="return loss, W1 - lr * grads[2], b1 - lr * grads[3], W2 - lr * grads[0], b2 - lr * grads[1]",
)
wrong_variants(
    "autoencoder_train_step",
    AE_TA,
    AE_RIGHT_TA,
    (
        ("the sigmoid's derivative left out", dict(sig="")),
        ("the mean over the N rows only", dict(count="len(x)")),
        ("the factor 2 of the square lost", dict(two="1")),
        ("the ReLU's derivative left out", dict(relu="")),
        (
            "the parameters updated in place",
            dict(
                update="W1 -= lr * grads[2]\n    b1 -= lr * grads[3]\n    W2 -= lr * grads[0]\n    b2 -= lr * grads[1]\n    return loss, W1, b1, W2, b2"
            ),
        ),
        (
            "the loss after the step",
            dict(
                update="W1, b1, W2, b2 = W1 - lr * grads[2], b1 - lr * grads[3], W2 - lr * grads[0], b2 - lr * grads[1]\n    y2 = 1 / (1 + np.exp(-(np.maximum(x @ W1 + b1, 0) @ W2 + b2)))\n    return np.mean((y2 - x) ** 2), W1, b1, W2, b2"
            ),
        ),
    ),
)
right(
    "autoencoder_train_step",
    "sigmoid via tanh, einsum",
    """
def autoencoder_train_step(x, W1, b1, W2, b2, lr):
    N, D = x.shape
    pre = np.einsum('nd,dk->nk', x, W1) + b1
    h = np.where(pre > 0, pre, 0.0)
    out = 0.5 * (1 + np.tanh(0.5 * (h @ W2 + b2)))
    err = out - x
    loss = float((err ** 2).sum() / (N * D))
    g_out = (2.0 / (N * D)) * err * out * (1.0 - out)
    g_h = (g_out @ W2.T) * (pre > 0)
    return loss, W1 - lr * x.T @ g_h, b1 - lr * g_h.sum(0), W2 - lr * h.T @ g_out, b2 - lr * g_out.sum(0)
""",
)

TIED_TA = """
def tied_autoencoder_gradient(x, W, b_enc, b_dec):
    a = x @ W + b_enc
    h = np.maximum(a, 0)
    err = h @ W.T + b_dec - x
    loss = np.mean(err ** 2)
    dxh = {two} * err / {count}
    da = (dxh @ W){relu}
    dW = {dW}
    return loss, dW, da.sum(0), dxh.sum(0)
"""
TIED_RIGHT_TA = dict(two="2", count="x.size", relu=" * (a > 0)", dW="x.T @ da + dxh.T @ h")
wrong_variants(
    "tied_autoencoder_gradient",
    TIED_TA,
    TIED_RIGHT_TA,
    (
        ("only the encoder's use of W", dict(dW="x.T @ da")),
        ("only the decoder's use of W", dict(dW="dxh.T @ h")),
        ("the mean over the N rows only", dict(count="len(x)")),
        ("the ReLU's derivative left out", dict(relu="")),
        ("the average of the two uses instead of their sum", dict(dW="(x.T @ da + dxh.T @ h) / 2")),
    ),
)
right(
    "tied_autoencoder_gradient",
    "einsum, the two uses written as one sum",
    """
def tied_autoencoder_gradient(x, W, b_enc, b_dec):
    n = x.size
    a = x @ W + b_enc
    m = (a > 0).astype(float)
    h = a * m
    r = h @ W.T + b_dec - x
    loss = (r * r).sum() / n
    g = 2.0 * r / n
    gh = (g @ W) * m
    dW = np.einsum('nd,nk->dk', x, gh) + np.einsum('nd,nk->dk', g, h)
    return loss, dW, gh.sum(axis=0), g.sum(axis=0)
""",
)

SP_TA = """
def sparsity_penalty(h, rho, beta):
    N = len(h)
    rho_hat = {rho_hat}
    penalty = beta * np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    d_rho = {beta}(-rho / rho_hat + (1 - rho) / (1 - rho_hat))
    return float(penalty), np.tile(d_rho {scale}, (N, 1))
"""
SP_RIGHT_TA = dict(rho_hat="h.mean(axis=0)", beta="beta * ", scale="/ N")
wrong_variants(
    "sparsity_penalty",
    SP_TA,
    SP_RIGHT_TA,
    (
        ("dh not divided by N (the gradient w.r.t. rho_hat)", dict(scale="")),
        ("beta left out of the gradient", dict(beta="")),
        (
            "rho_hat the mean over the units of each row",
            dict(rho_hat="np.broadcast_to(h.mean(axis=1).mean(), h.shape[1])"),
        ),
    ),
)
wrong_with_line("sparsity_penalty", "rho taken as 0.05", SP_TA, SP_RIGHT_TA, "rho = 0.05")
wrong(
    "sparsity_penalty",
    "the KL reversed: KL(rho_hat || rho)",
    """
def sparsity_penalty(h, rho, beta):
    r = h.mean(0)
    pen = beta * np.sum(r * np.log(r / rho) + (1 - r) * np.log((1 - r) / (1 - rho)))
    g = beta * (np.log(r / rho) - np.log((1 - r) / (1 - rho))) / len(h)
    return pen, np.repeat(g[None], len(h), axis=0)
""",
)
wrong(
    "sparsity_penalty",
    "only the first term's derivative",
    """
def sparsity_penalty(h, rho, beta):
    r = h.mean(0)
    pen = beta * np.sum(rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r)))
    g = beta * (-rho / r) / len(h)
    return pen, np.repeat(g[None], len(h), axis=0)
""",
)
right(
    "sparsity_penalty",
    "xlogy-free, the gradient via broadcasting",
    """
def sparsity_penalty(h, rho, beta):
    r = np.sum(h, axis=0) / h.shape[0]
    kl = rho * (np.log(rho) - np.log(r)) + (1 - rho) * (np.log1p(-rho) - np.log1p(-r))
    g = beta * ((1 - rho) / (1 - r) - rho / r) / h.shape[0]
    return beta * kl.sum(), g + np.zeros_like(h)
""",
)

# ------------------------------------------------------------------ 12 GANs: an independent TA's answers (written from the task alone)
wrong(
    "hinge_gan_losses",
    "the scores clipped in place",
    """
def hinge_gan_losses(real_logits, fake_logits):
    d_real = -(real_logits < 1).astype(float) / len(real_logits)
    d_fake = (fake_logits > -1).astype(float) / len(fake_logits)
    loss_g = -np.mean(fake_logits)
    np.minimum(real_logits, 1, out=real_logits)
    np.maximum(fake_logits, -1, out=fake_logits)
    loss_d = np.mean(1 - real_logits) + np.mean(1 + fake_logits)
    return loss_d, d_real, d_fake, loss_g, np.full(len(fake_logits), -1 / len(fake_logits))
""",
)
HINGE_TA = """
def hinge_gan_losses(real_logits, fake_logits):
    nr, nf = {nr}, {nf}
    loss_d = np.sum(np.maximum(0, 1 - real_logits)) / nr + np.sum(np.maximum(0, 1 + fake_logits)) / nf
    d_real = -(real_logits {rcmp} 1).astype(float) / nr
    d_fake = (fake_logits {fcmp} -1).astype(float) / nf
    loss_g = {loss_g}
    dg_fake = {dg}
    return loss_d, d_real, d_fake, loss_g, dg_fake
"""
HINGE_RIGHT_TA = dict(
    nr="len(real_logits)",
    nf="len(fake_logits)",
    rcmp="<",
    fcmp=">",
    loss_g="-np.mean(fake_logits)",
    dg="np.full(nf, -1.0 / nf)",
)
wrong_variants(
    "hinge_gan_losses",
    HINGE_TA,
    HINGE_RIGHT_TA,
    (
        ("the derivative 1 at the kinks (<= instead of <)", dict(rcmp="<=", fcmp=">=")),
        (
            "one mean over real and fake together",
            dict(nr="len(real_logits) + len(fake_logits)", nf="len(real_logits) + len(fake_logits)"),
        ),
        (
            "the generator's loss hinged too",
            dict(
                loss_g="np.mean(np.maximum(0, 1 - fake_logits))", dg="-(fake_logits < 1).astype(float) / nf"
            ),
        ),
        ("the gradients of the sums (no 1/n)", dict(nr="1", nf="1")),
        ("the generator's gradient is +1/n (sign)", dict(dg="np.full(nf, 1.0 / nf)")),
    ),
)
right(
    "hinge_gan_losses",
    "np.where and heaviside, float order changed",
    """
def hinge_gan_losses(real_logits, fake_logits):
    r = np.asarray(real_logits, dtype=float); f = np.asarray(fake_logits, dtype=float)
    loss_d = np.mean(np.where(r < 1, 1 - r, 0.0)) + np.mean(np.where(f > -1, 1 + f, 0.0))
    d_real = -np.heaviside(1 - r, 0.0) / r.size
    d_fake = np.heaviside(f + 1, 0.0) / f.size
    return float(loss_d), d_real, d_fake, -f.sum() / f.size, -np.ones_like(f) / f.size
""",
)

GEN_TA = """
def generator_step(z, Wg, bg, Wd, bd, lr):
    n = len(z)
    g = np.tanh(z @ Wg + bg)
    l = g @ Wd + bd
    dl = {dl}{scale}
    da = np.outer(dl, Wd){tanh}
    {update}
"""
GEN_RIGHT_TA = dict(
    dl="-1.0 / (1.0 + np.exp(l))",
    scale=" / n",
    tanh=" * (1 - g**2)",
    update="return Wg - lr * z.T @ da, bg - lr * da.sum(0)",
)
wrong_variants(
    "generator_step",
    GEN_TA,
    GEN_RIGHT_TA,
    (
        ("the saturating loss log(1 - D) minimised", dict(dl="-1.0 / (1.0 + np.exp(-l))")),
        ("the sign of dL/dl flipped (the loss maximised)", dict(dl="1.0 / (1.0 + np.exp(l))")),
        ("tanh's derivative left out", dict(tanh="")),
        ("the gradient of the sum, not the mean", dict(scale="")),
        (
            "the weights updated in place and returned",
            dict(update="Wg -= lr * z.T @ da\n    bg -= lr * da.sum(0)\n    return Wg, bg"),
        ),
        (
            "the discriminator stepped as well (Wd changed in place)",
            dict(update="Wd -= lr * g.T @ dl\n    return Wg - lr * z.T @ da, bg - lr * da.sum(0)"),
        ),
    ),
)
wrong_with_line("generator_step", "lr taken as 0.1 whatever the argument", GEN_TA, GEN_RIGHT_TA, "lr = 0.1")
right(
    "generator_step",
    "softplus derivative via tanh, einsum",
    """
def generator_step(z, Wg, bg, Wd, bd, lr):
    pre = z @ Wg + bg
    g = np.tanh(pre)
    l = g @ Wd + bd
    dl = -(0.5 * (1 + np.tanh(-0.5 * l))) / len(z)
    dpre = (dl[:, None] * Wd[None, :]) / np.cosh(pre) ** 2
    return Wg - lr * np.einsum('nk,nd->kd', z, dpre), bg - lr * dpre.sum(axis=0)
""",
)

GANSTEP_TA = """
def gan_step(x_real, z_d, z_g, params, lr):
    sig = lambda t: 0.5 * (1.0 + np.tanh(0.5 * t))
    a, c, w, b = params
    fake = a * z_d + c
    l_real, l_fake = w * x_real + b, w * fake + b
    loss_d = {loss_d}
    d_real = {d_real}
    d_fake = {d_fake}
    w_new = w - lr * (np.sum(d_real * x_real) + np.sum(d_fake * fake))
    b_new = b - lr * (np.sum(d_real) + np.sum(d_fake)){gen_in_d}
    {wg}, {bgv} = {dpars}
    z = {zg}
    l_g = wg * (a * z + c) + bg
    loss_g = {loss_g}
    d_g = {d_g}
    a_new = a - lr * np.sum(d_g * wg * z)
    c_new = c - lr * np.sum(d_g * wg)
    return a_new, c_new, w_new, b_new, {ret_d}, loss_g
"""
GANSTEP_RIGHT_TA = dict(
    ret_d="loss_d",
    loss_d="np.mean(np.logaddexp(0, -l_real)) + np.mean(np.logaddexp(0, l_fake))",
    d_real="-sig(-l_real) / len(x_real)",
    d_fake="sig(l_fake) / len(z_d)",
    gen_in_d="",
    wg="wg",
    bgv="bg",
    dpars="w_new, b_new",
    zg="z_g",
    loss_g="np.mean(np.logaddexp(0, -l_g))",
    d_g="-sig(-l_g) / len(z)",
)
wrong_variants(
    "gan_step",
    GANSTEP_TA,
    GANSTEP_RIGHT_TA,
    (
        (
            "D's labels swapped (real 0, fake 1)",
            dict(
                loss_d="np.mean(np.logaddexp(0, l_real)) + np.mean(np.logaddexp(0, -l_fake))",
                d_real="sig(l_real) / len(x_real)",
                d_fake="-sig(-l_fake) / len(z_d)",
            ),
        ),
        (
            "the generator moved in D's step too",
            dict(gen_in_d="\n    a = a - lr * np.sum(d_fake * w * z_d)\n    c = c - lr * np.sum(d_fake * w)"),
        ),
        ("G scored by the discriminator before its step", dict(dpars="w, b")),
        ("G's saturating loss", dict(loss_g="np.mean(np.log(1 - sig(l_g)))", d_g="-sig(l_g) / len(z)")),
        ("G's step reuses z_d's fakes", dict(zg="z_d")),
        (
            "loss_d computed after D's update",
            dict(
                ret_d="np.mean(np.logaddexp(0, -(w_new * x_real + b_new))) + np.mean(np.logaddexp(0, w_new * fake + b_new))"
            ),
        ),
        ("G's gradient of the sum, not the mean", dict(d_g="-sig(-l_g)")),
    ),
)
wrong_with_line("gan_step", "lr taken as 0.1 whatever the argument", GANSTEP_TA, GANSTEP_RIGHT_TA, "lr = 0.1")
right(
    "gan_step",
    "sigmoid via exp, in a different order",
    """
def gan_step(x_real, z_d, z_g, params, lr):
    a, c, w, b = (float(p) for p in params)
    sigmoid = lambda t: 1.0 / (1.0 + np.exp(-t))
    fake = a * z_d + c
    lr_, lf = w * x_real + b, w * fake + b
    loss_d = np.logaddexp(0, -lr_).mean() + np.logaddexp(0, lf).mean()
    gr = (sigmoid(lr_) - 1.0) / x_real.size
    gf = sigmoid(lf) / z_d.size
    w2 = w - lr * (gr @ x_real + gf @ fake)
    b2 = b - lr * (gr.sum() + gf.sum())
    lg = w2 * (a * z_g + c) + b2
    loss_g = np.logaddexp(0, -lg).mean()
    gg = (sigmoid(lg) - 1.0) / z_g.size * w2
    return a - lr * (gg @ z_g), c - lr * gg.sum(), w2, b2, loss_d, loss_g
""",
)

# ------------------------------------------------------------------ 13 transfer learning: an independent TA's answers (written from the task alone)
wrong(
    "ridge_loo",
    "every lam but the first ignored (lams[0] for all)",
    """
def ridge_loo(features, labels, n_classes, lams):
    n = len(features)
    X = np.hstack([features, np.ones((n, 1))]); Y = np.eye(n_classes)[labels]
    H = X @ np.linalg.solve(X.T @ X + lams[0] * np.eye(X.shape[1]), X.T)
    r = (Y - H @ Y) / (1 - np.diag(H))[:, None]
    m = np.full(len(lams), np.mean(r**2)); a = np.full(len(lams), np.mean(np.argmax(Y - r, 1) == labels))
    return m, a, lams[0]
""",
)
right(
    "ridge_loo",
    "an explicit inverse (the task prefers solve, but it is right)",
    """
def ridge_loo(features, labels, n_classes, lams):
    n = len(features)
    X = np.hstack([features, np.ones((n, 1))])
    Y = np.eye(n_classes)[labels]
    mse, acc = [], []
    for lam in lams:
        H = X @ np.linalg.inv(X.T @ X + lam * np.eye(X.shape[1])) @ X.T
        r = (Y - H @ Y) / (1 - np.diag(H))[:, None]
        mse.append(np.mean(r**2)); acc.append(np.mean(np.argmax(Y - r, axis=1) == labels))
    return np.array(mse), np.array(acc), lams[int(np.argmin(mse))]
""",
)
FREEZE_TA = """
def freeze_all_but_last(model, n_trainable):
    weighted = [layer for layer in model.layers if {has}]
    cut = {cut}
    for i, layer in enumerate(weighted):
        {body}
"""
FREEZE_RIGHT_TA = dict(
    has="layer.params", cut="len(weighted) - n_trainable", body="layer.trainable = i >= cut"
)
wrong_variants(
    "freeze_all_but_last",
    FREEZE_TA,
    FREEZE_RIGHT_TA,
    (
        (
            "weighted[:-n] frozen, weighted[-n:] trainable: wrong for n = 0",
            dict(
                cut="0",
                body="pass\n    for layer in weighted[:-n_trainable]:\n        layer.trainable = False\n    for layer in weighted[-n_trainable:]:\n        layer.trainable = True",
            ),
        ),
        ("counts every layer (ReLU, Flatten), not the weighted ones", dict(has="True")),
        (
            "never unfreezes: the last n keep what an earlier stage set",
            dict(body="if i < cut:\n            layer.trainable = False"),
        ),
        ("one layer too many left trainable (off by one)", dict(cut="len(weighted) - n_trainable - 1")),
        (
            "freezes the first n instead of keeping the last n",
            dict(cut="n_trainable", body="layer.trainable = i >= cut"),
        ),
    ),
)
right(
    "freeze_all_but_last",
    "counted from the top in reversed order",
    """
def freeze_all_but_last(model, n_trainable):
    seen = 0
    for layer in reversed(model.layers):
        if not layer.params:
            continue
        layer.trainable = seen < n_trainable
        seen += 1
    return model
""",
)

DFT_TA = """
def discriminative_fine_tune_step(model, x, y, loss_fn, lr):
    y_pred = model.forward(x, training={training})
    loss = loss_fn(y_pred, y)
    model.backward(loss_fn.backward())
    k = 0
    for layer in {order}:
        if {skip}:
            continue
        if {moves}:
            for key in layer.params:
                layer.params[key] -= {rate} * layer.grads[key]
        k += 1
    return float(loss)
"""
DFT_RIGHT_TA = dict(
    training="True",
    order="reversed(model.layers)",
    skip="not layer.params",
    moves="layer.trainable",
    rate="lr / 2.6**k",
)
wrong_variants(
    "discriminative_fine_tune_step",
    DFT_TA,
    DFT_RIGHT_TA,
    (
        ("training=False (the default) in the forward", dict(training="False")),
        (
            "a frozen layer not counted: the layers below it get a rate too high",
            dict(skip="not layer.params or not layer.trainable"),
        ),
        ("every layer counted (ReLU too)", dict(skip="False")),
        ("k counted from the bottom", dict(order="model.layers")),
        ("the frozen layer moved as well", dict(moves="True")),
        ("k + 1: the top layer already divided by 2.6", dict(rate="lr / 2.6 ** (k + 1)")),
        ("the rate written lr / 2.6 * k (the top layer does not move)", dict(rate="lr / 2.6 * k")),
    ),
)
right(
    "discriminative_fine_tune_step",
    "rates listed first, then one pass bottom-up",
    """
def discriminative_fine_tune_step(model, x, y, loss_fn, lr):
    out = model.forward(x, training=True)
    loss = float(loss_fn(out, y))
    model.backward(loss_fn.backward())
    weighted = [layer for layer in model.layers if layer.params]
    rates = [lr * (1 / 2.6) ** (len(weighted) - 1 - i) for i in range(len(weighted))]
    for layer, rate in zip(weighted, rates):
        if layer.trainable:
            for key, g in layer.grads.items():
                layer.params[key][...] = layer.params[key] - rate * g
    return loss
""",
)

LOO_TA = """
def ridge_loo(features, labels, n_classes, lams):
    n = len(features)
    X = {X}
    Y = np.eye(n_classes)[labels]
    mse, acc = [], []
    for lam in lams:
        P = {penalty}
        H = X @ np.linalg.solve(X.T @ X + lam * P, X.T)
        r = (Y - H @ Y){div}
        mse.append({mse})
        acc.append(np.mean(np.argmax({pred}, axis=1) == labels))
    mse = np.array(mse)
    return mse, np.array(acc), {best}
"""
LOO_RIGHT_TA = dict(
    X="np.hstack([features, np.ones((n, 1))])",
    penalty="np.eye(X.shape[1])",
    div=" / (1 - np.diag(H))[:, None]",
    mse="np.mean(r**2)",
    pred="Y - r",
    best="lams[int(np.argmin(mse))]",
)
wrong_variants(
    "ridge_loo",
    LOO_TA,
    LOO_RIGHT_TA,
    (
        ("no column of ones (no bias)", dict(X="features")),
        ("the bias not penalised", dict(penalty="np.diag(np.r_[np.ones(X.shape[1] - 1), 0.0])")),
        ("the ordinary residuals (not divided by 1 - H_ii)", dict(div="")),
        (
            "the squared residuals summed over the classes, mean over samples",
            dict(mse="np.mean(np.sum(r**2, axis=1))"),
        ),
        ("the in-sample prediction HY for the accuracy", dict(pred="H @ Y")),
        ("the best lam by accuracy", dict(best="lams[int(np.argmax(acc))]")),
        ("residual divided by (1 - H_ii) squared", dict(div=" / ((1 - np.diag(H)) ** 2)[:, None]")),
    ),
)
right(
    "ridge_loo",
    "the dual form (X X^T + lam I)^-1, no F x F system",
    """
def ridge_loo(features, labels, n_classes, lams):
    X = np.concatenate([features, np.ones((features.shape[0], 1))], axis=1)
    Y = np.zeros((X.shape[0], n_classes)); Y[np.arange(X.shape[0]), labels] = 1.0
    K = X @ X.T
    out_mse, out_acc = np.empty(len(lams)), np.empty(len(lams))
    for t, lam in enumerate(lams):
        A = np.linalg.solve(K + lam * np.eye(len(K)), np.eye(len(K)))
        H = K @ A
        r = (Y - H @ Y) / (1.0 - np.diag(H))[:, None]
        out_mse[t] = (r**2).sum() / r.size
        out_acc[t] = ((Y - r).argmax(1) == labels).mean()
    best = min(range(len(lams)), key=lambda t: (out_mse[t], t))
    return out_mse, out_acc, lams[best]
""",
)
right(
    "ridge_loo",
    "the naive loop: N fits per lam",
    """
def ridge_loo(features, labels, n_classes, lams):
    n = len(features)
    X = np.c_[features, np.ones(n)]
    Y = np.eye(n_classes)[labels]
    mse, acc = [], []
    for lam in lams:
        sq, hits = 0.0, 0
        for i in range(n):
            keep = np.arange(n) != i
            W = np.linalg.solve(X[keep].T @ X[keep] + lam * np.eye(X.shape[1]), X[keep].T @ Y[keep])
            p = X[i] @ W
            sq += np.sum((Y[i] - p) ** 2)
            hits += int(np.argmax(p) == labels[i])
        mse.append(sq / Y.size); acc.append(hits / n)
    best = lams[int(np.argmin(mse))]
    return np.array(mse), np.array(acc), best
""",
)

# ------------------------------------------------------------------ 14 frameworks: an independent TA's answers (written from the task alone)
GRU_TA = """
def gru_from_keras(kernel, recurrent_kernel, bias):
    H = recurrent_kernel.shape[0]
    z, r, h = {order}
    blocks = lambda a: np.concatenate([a[..., r], {sign}a[..., z], a[..., h]], axis=-1)
    return blocks(kernel){t}, blocks(recurrent_kernel){t}, {bx}, {bh}
"""
GRU_RIGHT_TA = dict(
    t="",
    order="(np.arange(H) + k * H for k in range(3))",
    sign="",
    bx="blocks(bias[0])",
    bh="blocks(bias[1])",
)
wrong_variants(
    "gru_from_keras",
    GRU_TA,
    GRU_RIGHT_TA,
    (
        ("blocks kept in Keras's order [z | r | h]", dict(order="(np.arange(H) + k * H for k in (1, 0, 2))")),
        ("the two bias rows swapped", dict(bx="blocks(bias[1])", bh="blocks(bias[0])")),
        (
            "one bias, as the LSTM: bx = b + b', bh = 0",
            dict(bx="blocks(bias[0] + bias[1])", bh="np.zeros(3 * H)"),
        ),
        ("z negated (weights and biases), as if h' = (1 - z) h + z n needed it", dict(sign="-")),
        ("the blocks reordered but the kernels transposed (3H, D)", dict(t=".T.copy()")),
    ),
)
right(
    "gru_from_keras",
    "np.split and np.hstack",
    """
def gru_from_keras(kernel, recurrent_kernel, bias):
    def reorder(a):
        z, r, h = np.split(a, 3, axis=-1)
        return np.concatenate((r, z, h), axis=-1).copy()
    return reorder(kernel), reorder(recurrent_kernel), reorder(bias[0]), reorder(bias[1])
""",
)
right(
    "gru_from_keras",
    "an index permutation",
    """
def gru_from_keras(kernel, recurrent_kernel, bias):
    H = kernel.shape[1] // 3
    idx = np.r_[H:2 * H, 0:H, 2 * H:3 * H]
    b = np.take(bias, idx, axis=1)
    return kernel[:, idx], recurrent_kernel[:, idx], b[0].copy(), b[1].copy()
""",
)

CT_TA = """
def conv_transpose_from_keras(kernel):
    return {expr}
"""
wrong_variants(
    "conv_transpose_from_keras",
    CT_TA,
    dict(expr="np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))"),
    (
        (
            "C_in and F swapped (Conv2D's order read as the transposed layer's)",
            dict(expr="np.ascontiguousarray(kernel.transpose(2, 3, 0, 1))"),
        ),
        (
            "flipped in height and width",
            dict(expr="np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)[:, :, ::-1, ::-1])"),
        ),
        ("a view: kernel.transpose without a copy", dict(expr="kernel.transpose(3, 2, 0, 1)")),
        ("height and width swapped (kernel.T)", dict(expr="kernel.T.copy()")),
        (
            "reshape instead of transpose",
            dict(
                expr="kernel.reshape(kernel.shape[3], kernel.shape[2], kernel.shape[0], kernel.shape[1]).copy()"
            ),
        ),
    ),
)
right(
    "conv_transpose_from_keras",
    "einsum, then a copy",
    """
def conv_transpose_from_keras(kernel):
    # no flip: both layouts store the same adjoint of the same cross-correlation
    return np.einsum("hwfc->cfhw", kernel).copy()
""",
)
right(
    "conv_transpose_from_keras",
    "a loop over every weight",
    """
def conv_transpose_from_keras(kernel):
    KH, KW, F, C = kernel.shape
    W = np.empty((C, F, KH, KW))
    for c in range(C):
        for f in range(F):
            W[c, f] = kernel[:, :, f, c]
    return W
""",
)

DF_TA = """
def dense_after_flatten_from_keras(kernel, height, width, channels):
    M = kernel.shape[1]
    return {expr}
"""
wrong_variants(
    "dense_after_flatten_from_keras",
    DF_TA,
    dict(expr="kernel.reshape(height, width, channels, M).transpose(2, 0, 1, 3).reshape(-1, M).copy()"),
    (
        (
            "the inverse permutation (C, H, W) -> (H, W, C)",
            dict(
                expr="kernel.reshape(channels, height, width, M).transpose(1, 2, 0, 3).reshape(-1, M).copy()"
            ),
        ),
        (
            "(c, w, h) order",
            dict(
                expr="kernel.reshape(height, width, channels, M).transpose(2, 1, 0, 3).reshape(-1, M).copy()"
            ),
        ),
        ("the kernel returned as it is (a copy)", dict(expr="kernel.copy()")),
        ("the kernel transposed (M, H W C)", dict(expr="kernel.T.copy()")),
    ),
)
right(
    "dense_after_flatten_from_keras",
    "reshape without a copy (a copy when it must move rows)",
    """
def dense_after_flatten_from_keras(kernel, height, width, channels):
    out = kernel.reshape(height, width, channels, -1).transpose(2, 0, 1, 3).reshape(height * width * channels, -1)
    return out if not np.shares_memory(out, kernel) else out.copy()
""",
)
right(
    "dense_after_flatten_from_keras",
    "row index arithmetic",
    """
def dense_after_flatten_from_keras(kernel, height, width, channels):
    W = np.zeros_like(kernel)
    for c in range(channels):
        for h in range(height):
            for w in range(width):
                W[(c * height + h) * width + w] = kernel[(h * width + w) * channels + c]
    return W
""",
)
right(
    "dense_after_flatten_from_keras",
    "reshape and transpose, no explicit copy",
    """
def dense_after_flatten_from_keras(kernel, height, width, channels):
    return np.transpose(kernel.reshape(height, width, channels, -1), (2, 0, 1, 3)).reshape(-1, kernel.shape[1])
""",
)
right(
    "dense_after_flatten_from_keras",
    "the spatial axes read as (width, height): the same joint (h, w) order",
    """
def dense_after_flatten_from_keras(kernel, height, width, channels):
    M = kernel.shape[1]
    return kernel.reshape(width, height, channels, M).transpose(2, 0, 1, 3).reshape(-1, M).copy()
""",
)

# ------------------------------------------------------------------ 15 speech: an independent TA's answers (written from the task alone)
right(
    "dtw_distance",
    "distances from the Gram matrix (another float order)",
    """
def dtw_distance(a, b):
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    d = np.sqrt(np.clip(d2, 0.0, None))
    Ta, Tb = d.shape
    D = np.full((Ta, Tb), np.inf)
    for i in range(Ta):
        for j in range(Tb):
            best = 0.0 if i == j == 0 else min(D[i - 1, j] if i else np.inf, D[i, j - 1] if j else np.inf, D[i - 1, j - 1] if i and j else np.inf)
            D[i, j] = d[i, j] + best
    return D[-1, -1]
""",
)
wrong(
    "delta_features",
    "the edges written into the caller's features",
    """
def delta_features(features, width):
    T = len(features)
    padded = np.concatenate([np.repeat(features[:1], width, 0), features, np.repeat(features[-1:], width, 0)])
    features *= 0
    for n in range(1, width + 1):
        features += n * (padded[width + n : width + n + T] - padded[width - n : width - n + T])
    return features / (2 * sum(n * n for n in range(1, width + 1)))
""",
)
DELTA_TA = """
def delta_features(features, width):
    T = len(features)
    padded = {pad}
    d = np.zeros(features.shape)
    for n in range(1, width + 1):
        d += n * (padded[width + n : width + n + T] - padded[width - n : width - n + T])
    return d / {norm}
"""
DELTA_RIGHT_TA = dict(
    pad="np.pad(features, ((width, width), (0, 0)), mode='edge')",
    norm="(2 * sum(n * n for n in range(1, width + 1)))",
)
wrong_variants(
    "delta_features",
    DELTA_TA,
    DELTA_RIGHT_TA,
    (
        ("zeros padded at the ends", dict(pad="np.pad(features, ((width, width), (0, 0)))")),
        (
            "the sequence wrapped around (np.roll / wrap)",
            dict(pad="np.pad(features, ((width, width), (0, 0)), mode='wrap')"),
        ),
        (
            "the ends mirrored (reflect) instead of repeated",
            dict(pad="np.pad(features, ((width, width), (0, 0)), mode='reflect')"),
        ),
        ("no factor 2 in the normaliser", dict(norm="sum(n * n for n in range(1, width + 1))")),
        ("normalised by the width, not the sum of n^2", dict(norm="(2 * width)")),
    ),
)
wrong_with_line("delta_features", "width taken as 2", DELTA_TA, DELTA_RIGHT_TA, "width = 2")
wrong(
    "delta_features",
    "the slope taken backwards (c[t-n] - c[t+n])",
    """
def delta_features(features, width):
    T = len(features)
    idx = np.arange(T)
    d = sum(n * (features[np.clip(idx - n, 0, T - 1)] - features[np.clip(idx + n, 0, T - 1)]) for n in range(1, width + 1))
    return d / (2 * sum(n * n for n in range(1, width + 1)))
""",
)
right(
    "delta_features",
    "clipped indices, float order changed",
    """
def delta_features(features, width):
    T = features.shape[0]
    t = np.arange(T)
    num = np.zeros_like(features, dtype=float)
    for n in range(width, 0, -1):
        num = num + n * features[np.minimum(t + n, T - 1)] - n * features[np.maximum(t - n, 0)]
    return num / (width * (width + 1) * (2 * width + 1) / 3)
""",
)

CMVN_TA = """
def masked_cmvn(features, lengths):
    N, T, F = features.shape
    mask = (np.arange(T)[None, :] < np.asarray(lengths)[:, None])[..., None]
    count = {count}
    mean = (features * mask).sum(axis=1, keepdims=True) / count
    var = (((features - mean) * mask) ** 2).sum(axis=1, keepdims=True) / {vcount}
    out = (features - mean) / np.sqrt(var)
    return {ret}
"""
CMVN_RIGHT_TA = dict(count="mask.sum(axis=1, keepdims=True)", vcount="count", ret="np.where(mask, out, 0.0)")
wrong_variants(
    "masked_cmvn",
    CMVN_TA,
    CMVN_RIGHT_TA,
    (
        ("statistics over all T frames, padding included", dict(count="T")),
        ("the unbiased variance (ddof 1)", dict(vcount="(count - 1)")),
        ("padded frames left normalised (not set back to 0)", dict(ret="out")),
    ),
)
wrong(
    "masked_cmvn",
    "statistics over the features of each frame (wrong axis)",
    """
def masked_cmvn(features, lengths):
    out = np.zeros_like(features)
    for n, L in enumerate(lengths):
        x = features[n, :L]
        out[n, :L] = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    return out
""",
)
wrong(
    "masked_cmvn",
    "one mean and std over all features of the utterance",
    """
def masked_cmvn(features, lengths):
    out = np.zeros_like(features)
    for n, L in enumerate(lengths):
        x = features[n, :L]
        out[n, :L] = (x - x.mean()) / x.std()
    return out
""",
)
wrong(
    "masked_cmvn",
    "normalised in place",
    """
def masked_cmvn(features, lengths):
    for n, L in enumerate(lengths):
        x = features[n, :L]
        features[n, :L] = (x - x.mean(axis=0)) / x.std(axis=0)
        features[n, L:] = 0.0
    return features
""",
)
right(
    "masked_cmvn",
    "a loop over utterances",
    """
def masked_cmvn(features, lengths):
    out = np.zeros(features.shape)
    for n in range(features.shape[0]):
        x = features[n, : int(lengths[n])]
        mu = x.mean(axis=0)
        sd = np.sqrt(((x - mu) ** 2).mean(axis=0))
        out[n, : int(lengths[n])] = (x - mu) / sd
    return out
""",
)

DTW_TA = """
def dtw_distance(a, b):
    d = {local}
    D = np.full((len(a) + 1, len(b) + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            D[i, j] = d[i - 1, j - 1] + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return {ret}
"""
DTW_RIGHT_TA = dict(local="np.linalg.norm(a[:, None] - b[None], axis=-1)", ret="float(D[-1, -1])")
wrong_variants(
    "dtw_distance",
    DTW_TA,
    DTW_RIGHT_TA,
    (
        ("the L1 (Manhattan) distance between frames", dict(local="np.abs(a[:, None] - b[None]).sum(-1)")),
        ("the cost per step: divided by Ta + Tb", dict(ret="float(D[-1, -1]) / (len(a) + len(b))")),
        ("the squared distance", dict(local="((a[:, None] - b[None]) ** 2).sum(-1)")),
    ),
)
wrong(
    "dtw_distance",
    "a greedy path: the cheapest next step, no dynamic programme",
    """
def dtw_distance(a, b):
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)
    i = j = 0
    total = d[0, 0]
    while (i, j) != (len(a) - 1, len(b) - 1):
        steps = [(i + di, j + dj) for di, dj in ((1, 1), (1, 0), (0, 1)) if i + di < len(a) and j + dj < len(b)]
        i, j = min(steps, key=lambda p: d[p])
        total += d[i, j]
    return float(total)
""",
)
wrong(
    "dtw_distance",
    "the first pair's cost left out (D[0, 0] = 0 on the frame grid)",
    """
def dtw_distance(a, b):
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)
    D = np.full(d.shape, np.inf)
    D[0, 0] = 0.0
    for i in range(len(a)):
        for j in range(len(b)):
            if i or j:
                D[i, j] = d[i, j] + min(D[i - 1, j] if i else np.inf, D[i, j - 1] if j else np.inf, D[i - 1, j - 1] if i and j else np.inf)
    return float(D[-1, -1])
""",
)
wrong(
    "dtw_distance",
    "the frames compared index by index, no warping",
    """
def dtw_distance(a, b):
    T = max(len(a), len(b))
    ia = np.round(np.linspace(0, len(a) - 1, T)).astype(int)
    ib = np.round(np.linspace(0, len(b) - 1, T)).astype(int)
    return float(np.linalg.norm(a[ia] - b[ib], axis=1).sum())
""",
)
right(
    "dtw_distance",
    "memoised recursion",
    """
def dtw_distance(a, b):
    import functools
    @functools.lru_cache(maxsize=None)
    def cost(i, j):
        here = float(np.sqrt(np.sum((a[i] - b[j]) ** 2)))
        if i == 0 and j == 0:
            return here
        options = []
        if i > 0: options.append(cost(i - 1, j))
        if j > 0: options.append(cost(i, j - 1))
        if i > 0 and j > 0: options.append(cost(i - 1, j - 1))
        return here + min(options)
    return cost(len(a) - 1, len(b) - 1)
""",
)

# ------------------------------------------------------------------ 16 going deep: an independent TA's answers (written from the task alone)
right(
    "lsuv_scales",
    "std from the second moment and the mean",
    """
def lsuv_scales(x, weights):
    h = x
    out = np.zeros(len(weights))
    for l, W in enumerate(weights):
        a = h @ W
        var = np.mean(a * a) - np.mean(a) ** 2
        out[l] = 1.0 / np.sqrt(var)
        h = np.maximum(a, 0.0) * out[l]
    return out
""",
)
right(
    "preact_residual_backward",
    "the batch statistics' terms via a (N, N) centring matrix",
    """
def preact_residual_backward(dy, x, W1, W2, eps):
    N = x.shape[0]
    C = np.eye(N) - 1.0 / N
    xc = C @ x
    std = np.sqrt((xc**2).mean(axis=0) + eps)
    u = xc / std
    a = u @ W1
    h = np.maximum(a, 0.0)
    da = (dy @ W2.T) * (a > 0)
    du = da @ W1.T
    dx = (C @ du - u * (du * u).mean(axis=0)) / std
    return dx + dy, u.T @ da, h.T @ dy
""",
)
wrong(
    "mixup_cross_entropy",
    "log of a stable softmax: log(0) for the far classes",
    """
def mixup_cross_entropy(logits, labels, perm, lam):
    n, k = logits.shape
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    t = lam * np.eye(k)[labels] + (1 - lam) * np.eye(k)[labels[perm]]
    return float(-(t * np.log(p)).sum() / n), (p - t) / n
""",
)
PRE_TA = """
def preact_residual_backward(dy, x, W1, W2, eps):
    n = len(x)
    mu = x.mean(axis=0)
    var = x.var(axis=0{ddof})
    inv = 1.0 / np.sqrt(var + {eps})
    u = (x - mu) * inv
    a = u @ W1
    h = np.maximum(a, 0)
    dW2 = h.T @ dy
    da = (dy @ W2.T) * (a > 0)
    dW1 = {uin}.T @ da
    du = da @ W1.T
    dbranch = {bn}
    return {skip}dbranch, dW1, dW2
"""
PRE_RIGHT_TA = dict(
    ddof="", eps="eps", uin="u", bn="inv * (du - du.mean(axis=0) - u * (du * u).mean(axis=0))", skip="dy + "
)
wrong_variants(
    "preact_residual_backward",
    PRE_TA,
    PRE_RIGHT_TA,
    (
        ("the skip's dy left out of dx", dict(skip="")),
        ("the batch statistics treated as constants (du / std)", dict(bn="inv * du")),
        ("the unbiased variance", dict(ddof=", ddof=1")),
        ("eps at its default 1e-5", dict(eps="1e-5")),
        ("dW1 from x instead of the normalised u", dict(uin="x")),
        ("only the mean's term (the variance's term lost)", dict(bn="inv * (du - du.mean(axis=0))")),
    ),
)
right(
    "preact_residual_backward",
    "batch norm's backward through dvar and dmu, step by step",
    """
def preact_residual_backward(dy, x, W1, W2, eps):
    N = x.shape[0]
    mu = np.sum(x, axis=0) / N
    xc = x - mu
    var = np.sum(xc * xc, axis=0) / N
    std = np.sqrt(var + eps)
    u = xc / std
    a = u @ W1
    relu_mask = a > 0
    dW2 = (a * relu_mask).T @ dy
    da = np.where(relu_mask, dy @ W2.T, 0.0)
    dW1 = u.T @ da
    du = da @ W1.T
    dvar = np.sum(du * xc, axis=0) * -0.5 * std**-3
    dmu = -np.sum(du, axis=0) / std + dvar * -2.0 * np.sum(xc, axis=0) / N
    dx = du / std + dvar * 2.0 * xc / N + dmu / N
    return dx + dy, dW1, dW2
""",
)

LSUV_TA = """
def lsuv_scales(x, weights):
    h = x
    scales = []
    for W in weights:
        a = h @ W
        s = 1.0 / {stat}
        scales.append(s)
        {next}
    return np.array(scales)
"""
LSUV_RIGHT_TA = dict(stat="a.std()", next="h = np.maximum(a * s, 0)")
wrong_variants(
    "lsuv_scales",
    LSUV_TA,
    LSUV_RIGHT_TA,
    (
        ("measured on the unscaled network", dict(next="h = np.maximum(a, 0)")),
        ("the std after the ReLU", dict(stat="np.maximum(a, 0).std()")),
        ("1 / variance", dict(stat="a.var()")),
        ("ddof 1", dict(stat="a.std(ddof=1)")),
        ("the root mean square (the mean not subtracted)", dict(stat="np.sqrt(np.mean(a**2))")),
        ("the mean of the columns' stds", dict(stat="a.std(axis=0).mean()")),
        ("the weights rescaled in place", dict(next="W *= s\n        h = np.maximum(h @ W, 0)")),
    ),
)
right(
    "lsuv_scales",
    "one unscaled pass: relu is positively homogeneous",
    """
def lsuv_scales(x, weights):
    h = x
    raw = []
    for W in weights:
        a = h @ W
        raw.append(a.std())
        h = np.maximum(a, 0.0)
    scales = np.empty(len(weights))
    before = 1.0
    for l, sd in enumerate(raw):
        scales[l] = 1.0 / (sd * before)
        before *= scales[l]
    return scales
""",
)

MIX_TA = """
def mixup_cross_entropy(logits, labels, perm, lam):
    n, k = logits.shape
    z = logits{shift}
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    {target}
    loss = -(t * log_p).sum() / n
    return float(loss), (np.exp(log_p) - t){scale}
"""
MIX_RIGHT_TA = dict(
    shift=" - logits.max(axis=1, keepdims=True)",
    scale=" / n",
    target="t = lam * np.eye(k)[labels] + (1 - lam) * np.eye(k)[labels[perm]]",
)
wrong_variants(
    "mixup_cross_entropy",
    MIX_TA,
    MIX_RIGHT_TA,
    (
        (
            "the target built by assignment: a partner of the same class overwrites",
            dict(
                target="t = np.zeros((n, k))\n    t[np.arange(n), labels] = lam\n    t[np.arange(n), labels[perm]] = 1 - lam"
            ),
        ),
        (
            "the partner read through the inverse permutation",
            dict(target="t = lam * np.eye(k)[labels] + (1 - lam) * np.eye(k)[labels[np.argsort(perm)]]"),
        ),
        (
            "the weights swapped",
            dict(target="t = (1 - lam) * np.eye(k)[labels] + lam * np.eye(k)[labels[perm]]"),
        ),
        ("the gradient of the sum, not the mean", dict(scale="")),
        ("no max subtracted: exp overflows", dict(shift="")),
        (
            "the partner's label is perm[n] itself",
            dict(target="t = lam * np.eye(k)[labels] + (1 - lam) * np.eye(k)[perm % k]"),
        ),
        (
            "the target's mixed label rounded to a hard label",
            dict(target="t = np.eye(k)[np.where(lam >= 0.5, labels, labels[perm])]"),
        ),
    ),
)
right(
    "mixup_cross_entropy",
    "lam CE(y) + (1 - lam) CE(y_perm) with logsumexp",
    """
def mixup_cross_entropy(logits, labels, perm, lam):
    m = logits.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    rows = np.arange(len(logits))
    other = labels[perm]
    ce_own = lse - logits[rows, labels]
    ce_other = lse - logits[rows, other]
    loss = lam * ce_own.mean() + (1 - lam) * ce_other.mean()
    g = np.exp(logits - lse[:, None])
    np.add.at(g, (rows, labels), -lam)
    np.add.at(g, (rows, other), -(1 - lam))
    return loss, g / len(logits)
""",
)

# ------------------------------------------------------------------ 17 attention: an independent TA's answers (written from the task alone)
wrong(
    "rope_attention",
    "q and k rotated in place (the pair's first half overwritten before use)",
    """
def rope_attention(q, k, v, base):
    N, T, d = q.shape
    theta = np.arange(T)[:, None] / base ** (np.arange(0, d, 2) / d)
    cos, sin = np.cos(theta), np.sin(theta)
    for x in (q, k):
        even = x[..., 0::2].copy()
        x[..., 0::2] = even * cos - x[..., 1::2] * sin
        x[..., 1::2] = even * sin + x[..., 1::2] * cos
    s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True) @ v
""",
)
wrong(
    "attention_backward",
    "q scaled in place by 1/sqrt(d)",
    """
def attention_backward(dout, q, k, v, causal):
    N, T, d = q.shape
    q /= np.sqrt(d)
    s = q @ k.transpose(0, 2, 1)
    if causal:
        s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True)); p /= p.sum(axis=-1, keepdims=True)
    dv = p.transpose(0, 2, 1) @ dout
    dp = dout @ v.transpose(0, 2, 1)
    ds = p * (dp - (p * dp).sum(axis=-1, keepdims=True))
    return ds @ k / np.sqrt(d), ds.transpose(0, 2, 1) @ q, dv
""",
)


ROPE_TA = """
def rope_attention(q, k, v, base):
    N, T, d = q.shape
    t = np.arange(T)[:, None]
    theta = t / base ** ({expo})
    cos, sin = np.cos(theta), np.sin(theta)
    def rotate(x):
        {rot}
    qr, kr, vr = rotate(q), {k}, {v}
    s = qr @ kr.transpose(0, 2, 1) / np.sqrt(d)
    s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    {soft}
    return p @ vr
"""
ROT_PAIRS_TA = "y = np.empty_like(x)\n        y[..., 0::2] = x[..., 0::2] * cos - x[..., 1::2] * sin\n        y[..., 1::2] = x[..., 0::2] * sin + x[..., 1::2] * cos\n        return y"
ROPE_RIGHT_TA = dict(
    expo="np.arange(0, d, 2) / d",
    rot=ROT_PAIRS_TA,
    k="rotate(k)",
    v="v",
    soft="p = np.exp(s - s.max(axis=-1, keepdims=True))\n    p = p / p.sum(axis=-1, keepdims=True)",
)
wrong_variants(
    "rope_attention",
    ROPE_TA,
    ROPE_RIGHT_TA,
    (
        ("the values rotated too", dict(v="rotate(v) if v.shape[-1] == d else v")),
        ("the keys not rotated", dict(k="k")),
        (
            "the rotation's sign flipped",
            dict(
                rot=ROT_PAIRS_TA.replace("* cos - x[..., 1::2] * sin", "* cos + x[..., 1::2] * sin").replace(
                    "x[..., 0::2] * sin + x[..., 1::2] * cos", "-x[..., 0::2] * sin + x[..., 1::2] * cos"
                )
            ),
        ),
        (
            "the halves (x_i, x_{i+d/2}) paired, not neighbours",
            dict(
                rot="h = d // 2\n        a, b = x[..., :h], x[..., h:]\n        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)"
            ),
        ),
        ("the frequency exponent i / d", dict(expo="np.arange(d // 2) / d")),
        (
            "base 10000 whatever the argument",
            dict(expo="np.arange(0, d, 2) / d) * (10000 / base) ** (np.arange(0, d, 2) / d"),
        ),
        (
            "no max subtracted before exp",
            dict(soft="p = np.exp(s)\n    p = p / p.sum(axis=-1, keepdims=True)"),
        ),
        (
            "not causal",
            dict(
                soft="s = qr @ kr.transpose(0, 2, 1) / np.sqrt(d)\n    p = np.exp(s - s.max(axis=-1, keepdims=True))\n    p = p / p.sum(axis=-1, keepdims=True)"
            ),
        ),
    ),
)
right(
    "rope_attention",
    "complex numbers, positions counted from 1 (only i - j matters)",
    """
def rope_attention(q, k, v, base):
    N, T, d = q.shape
    freqs = base ** (-np.arange(d // 2) * 2.0 / d)
    turn = np.exp(1j * np.outer(np.arange(1, T + 1), freqs))
    def rotate(x):
        c = (x[..., 0::2] + 1j * x[..., 1::2]) * turn
        y = np.empty(x.shape)
        y[..., 0::2], y[..., 1::2] = c.real, c.imag
        return y
    s = np.einsum('nid,njd->nij', rotate(q), rotate(k)) / np.sqrt(d)
    s[:, np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] = -np.inf
    s -= s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum('nij,njd->nid', p, v)
""",
)

AB_TA = """
def attention_backward(dout, q, k, v, causal):
    N, T, d = q.shape
    s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    if causal:
        s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    {soft}
    dv = p.transpose(0, 2, 1) @ dout
    dp = dout @ v.transpose(0, 2, 1)
    ds = {ds}
    return ds @ k {scale}, {dk} {scale}, dv
"""
AB_RIGHT_TA = dict(
    soft="p = np.exp(s - s.max(axis=-1, keepdims=True))\n    p = p / p.sum(axis=-1, keepdims=True)",
    ds="p * (dp - (p * dp).sum(axis=-1, keepdims=True))",
    scale="/ np.sqrt(d)",
    dk="ds.transpose(0, 2, 1) @ q",
)
wrong_variants(
    "attention_backward",
    AB_TA,
    AB_RIGHT_TA,
    (
        ("the scale forgotten in dq and dk", dict(scale="")),
        ("the softmax Jacobian's row sum left out", dict(ds="p * dp")),
        ("dS = dP (softmax passed through)", dict(ds="dp")),
        ("dk = dS q, not dS^T q", dict(dk="ds @ q")),
        (
            "no max subtracted before exp",
            dict(soft="p = np.exp(s)\n    p = p / p.sum(axis=-1, keepdims=True)"),
        ),
        (
            "the mask ignored in the backward",
            dict(
                soft="s = q @ k.transpose(0, 2, 1) / np.sqrt(d)\n    p = np.exp(s - s.max(axis=-1, keepdims=True))\n    p = p / p.sum(axis=-1, keepdims=True)"
            ),
        ),
        ("the sum over the column, not the row", dict(ds="p * (dp - (p * dp).sum(axis=-2, keepdims=True))")),
    ),
)
right(
    "attention_backward",
    "the full softmax Jacobian per row, loops",
    """
def attention_backward(dout, q, k, v, causal):
    N, T, d = q.shape
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    for n in range(N):
        S = q[n] @ k[n].T / np.sqrt(d)
        if causal:
            S[np.triu_indices(T, 1)] = -np.inf
        P = np.exp(S - S.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        dv[n] = P.T @ dout[n]
        dP = dout[n] @ v[n].T
        dS = np.empty_like(P)
        for i in range(T):
            J = np.diag(P[i]) - np.outer(P[i], P[i])
            dS[i] = J @ dP[i]
        dq[n] = dS @ k[n] / np.sqrt(d)
        dk[n] = dS.T @ q[n] / np.sqrt(d)
    return dq, dk, dv
""",
)

# ------------------------------------------------------------------ 18 detection and segmentation
right(
    "conv_transpose_backward",
    "a loop over the kernel's offsets, each a strided slice of dy",
    """
def conv_transpose_backward(dy, x, W, stride):
    h, w = x.shape[2:]
    kh, kw = W.shape[2:]
    dx = np.zeros(x.shape)
    dW = np.zeros(W.shape)
    for p in range(kh):
        for q in range(kw):
            d = dy[:, :, p : p + (h - 1) * stride + 1 : stride, q : q + (w - 1) * stride + 1 : stride]
            dx += np.einsum("nfij,cf->ncij", d, W[:, :, p, q])
            dW[:, :, p, q] = np.einsum("ncij,nfij->cf", x, d)
    return dx, dW
""",
)
right(
    "soft_nms",
    "a mask of the boxes left, their scores decayed in one vector step per pick",
    """
def soft_nms(boxes, scores, sigma, score_threshold):
    s = np.array(scores, dtype=float)
    left = s >= score_threshold
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep, kept = [], []
    while left.any():
        i = int(np.flatnonzero(left)[np.argmax(s[left])])
        keep.append(i)
        kept.append(s[i])
        left[i] = False
        w = np.clip(np.minimum(boxes[i, 2], boxes[:, 2]) - np.maximum(boxes[i, 0], boxes[:, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[:, 3]) - np.maximum(boxes[i, 1], boxes[:, 1]), 0, None)
        iou = w * h / (area[i] + area - w * h)
        s = np.where(left, s * np.exp(-(iou**2) / sigma), s)
        left &= s >= score_threshold
    return np.array(keep, dtype=np.int64), np.array(kept, dtype=float)
""",
)
wrong(
    "voc_ap_difficult",
    "the difficult boxes removed before matching (a detection on one then matches another box or misses)",
    """
def voc_ap_difficult(boxes, scores, true_boxes, difficult):
    truth = true_boxes[~difficult]
    if len(truth) == 0:
        return float("nan")
    used = np.zeros(len(truth), bool)
    hits = []
    for d in np.argsort(-scores, kind="stable"):
        b = boxes[d]
        w = np.clip(np.minimum(b[2], truth[:, 2]) - np.maximum(b[0], truth[:, 0]), 0, None)
        h = np.clip(np.minimum(b[3], truth[:, 3]) - np.maximum(b[1], truth[:, 1]), 0, None)
        area = (truth[:, 2] - truth[:, 0]) * (truth[:, 3] - truth[:, 1])
        iou = w * h / ((b[2] - b[0]) * (b[3] - b[1]) + area - w * h)
        j = int(np.argmax(iou))
        hits.append(bool(iou[j] >= 0.5 and not used[j]))
        used[j] = used[j] or iou[j] >= 0.5
    hits = np.array(hits, dtype=bool)
    p = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    p = np.maximum.accumulate(p[::-1])[::-1]
    return float(p[hits].sum() / len(truth))
""",
)
right(
    "voc_ap_difficult",
    "a list of (score, outcome) pairs, sorted, then a sum over the hits of the best precision from there",
    """
def voc_ap_difficult(boxes, scores, true_boxes, difficult):
    n_pos = sum(1 for flag in difficult if not flag)
    if n_pos == 0:
        return float("nan")
    taken = [False] * len(true_boxes)
    ranked = []
    for d in sorted(range(len(scores)), key=lambda k: (-scores[k], k)):
        x1, y1, x2, y2 = boxes[d]
        best, best_iou = -1, -1.0
        for g, (a1, b1, a2, b2) in enumerate(true_boxes):
            inter = max(0.0, min(x2, a2) - max(x1, a1)) * max(0.0, min(y2, b2) - max(y1, b1))
            iou = inter / ((x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter)
            if iou > best_iou:
                best, best_iou = g, iou
        if best_iou >= 0.5 and difficult[best]:
            continue
        hit = best_iou >= 0.5 and not taken[best]
        if hit:
            taken[best] = True
        ranked.append(hit)
    precision, tp = [], 0
    for rank, hit in enumerate(ranked, start=1):
        tp += hit
        precision.append(tp / rank)
    return sum(max(precision[k:]) for k, hit in enumerate(ranked) if hit) / n_pos
""",
)
# 18 detection and segmentation: an independent TA's answers (written from the task alone)
CTB_TA = """
def conv_transpose_backward(dy, x, W, stride):
    N, C, H, Wd = x.shape
    KH, KW = W.shape[2:]
    s = {s}
    dx = np.zeros(x.shape)
    dW = np.zeros(W.shape)
    Wk = W{flip}
    for i in range(H):
        for j in range(Wd):
            win = dy[:, :, i * s : i * s + KH, j * s : j * s + KW]
            dx[:, :, i, j] = np.einsum('nfpq,cfpq->nc', win, Wk)
            dW += np.einsum('nc,nfpq->cfpq', x[:, :, i, j], win){mean}
    return dx, dW
"""
CTB_RIGHT_TA = dict(s="stride", flip="", mean="")
wrong_variants(
    "conv_transpose_backward",
    CTB_TA,
    CTB_RIGHT_TA,
    (
        ("the kernel flipped", dict(flip="[:, :, ::-1, ::-1]")),
        ("dW a mean over the batch", dict(mean=" / N")),
        ("the stride ignored (windows start at i, j)", dict(s="1 if True else stride")),
    ),
)
wrong(
    "conv_transpose_backward",
    "dx through the kernel's transpose in the channel axes (C and F swapped)",
    """
def conv_transpose_backward(dy, x, W, stride):
    N, C, H, Wd = x.shape
    KH, KW = W.shape[2:]
    dx = np.zeros(x.shape); dW = np.zeros(W.shape)
    for i in range(H):
        for j in range(Wd):
            win = dy[:, :, i * stride : i * stride + KH, j * stride : j * stride + KW]
            dx[:, :, i, j] = np.einsum('nfpq,fcpq->nc', win, W.reshape(W.shape[1], W.shape[0], KH, KW))
            dW += np.einsum('nc,nfpq->cfpq', x[:, :, i, j], win)
    return dx, dW
""",
)
right(
    "conv_transpose_backward",
    "scatter loop over kernel offsets",
    """
def conv_transpose_backward(dy, x, W, stride):
    N, C, H, Wd = x.shape
    KH, KW = W.shape[2], W.shape[3]
    dx = np.zeros_like(x)
    dW = np.zeros_like(W)
    for p in range(KH):
        for q in range(KW):
            d = dy[:, :, p : p + (H - 1) * stride + 1 : stride, q : q + (Wd - 1) * stride + 1 : stride]  # (N, F, H, W)
            dx += np.einsum('nfhw,cf->nchw', d, W[:, :, p, q])
            dW[:, :, p, q] = np.einsum('nfhw,nchw->cf', d, x)
    return dx, dW
""",
)

SOFT_TA = """
def soft_nms(boxes, scores, sigma, score_threshold):
    s = np.array(scores, dtype=float)
    alive = sorted([i for i in range(len(s)) if s[i] {keep_cmp} score_threshold], key=lambda k: (-s[k], k))
    keep, kept = [], []
    while alive:
        i = {pick}
        alive.remove(i)
        keep.append(i)
        kept.append({reported})
        for j in alive:
            x1 = max(boxes[i, 0], boxes[j, 0]); y1 = max(boxes[i, 1], boxes[j, 1])
            x2 = min(boxes[i, 2], boxes[j, 2]); y2 = min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])
            iou = inter / (area(boxes[i]) + area(boxes[j]) - inter)
            s[j] *= np.exp({decay})
        alive = [j for j in alive if {cut}]
    return np.array(keep, dtype=np.int64), np.array(kept, dtype=float)
"""
SOFT_RIGHT_TA = dict(
    keep_cmp=">=",
    pick="max(alive, key=lambda k: (s[k], -k))",
    reported="s[i]",
    decay="-iou ** 2 / sigma",
    cut="s[j] >= score_threshold",
)
wrong_variants(
    "soft_nms",
    SOFT_TA,
    SOFT_RIGHT_TA,
    (
        ("the IoU not squared", dict(decay="-iou / sigma")),
        ("exp(-IoU^2 / (2 sigma))", dict(decay="-iou ** 2 / (2 * sigma)")),
        ("ties: the higher index first", dict(pick="max(alive, key=lambda k: (s[k], k))")),
        ("no new pick after a decay: the order of the scores given", dict(pick="alive[0]")),
        (
            "a score equal to the threshold dropped",
            dict(keep_cmp=">", cut="s[j] > score_threshold"),
        ),
        ("boxes never dropped after a decay", dict(cut="True")),
        ("the scores given reported, not the decayed ones", dict(reported="scores[i]")),
    ),
)
wrong_with_line("soft_nms", "sigma taken as 0.5", SOFT_TA, SOFT_RIGHT_TA, "sigma = 0.5")
wrong(
    "soft_nms",
    "linear decay (1 - IoU) instead of the Gaussian",
    """
def soft_nms(boxes, scores, sigma, score_threshold):
    s = np.array(scores, dtype=float)
    left = s >= score_threshold
    keep, kept = [], []
    while left.any():
        i = int(np.flatnonzero(left)[np.argmax(s[left])])
        keep.append(i); kept.append(s[i]); left[i] = False
        w = np.clip(np.minimum(boxes[i, 2], boxes[:, 2]) - np.maximum(boxes[i, 0], boxes[:, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[:, 3]) - np.maximum(boxes[i, 1], boxes[:, 1]), 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = w * h / (area[i] + area - w * h)
        s = s * (1 - iou)
        left &= s >= score_threshold
    return np.array(keep, dtype=np.int64), np.array(kept, dtype=float)
""",
)

VOC_TA = """
def voc_ap_difficult(boxes, scores, true_boxes, difficult):
    n_pos = {n_pos}
    if n_pos == 0:
        return {undefined}
    used = np.zeros(len(true_boxes), bool)
    flags = []
    for d in np.argsort(-scores, kind="stable"):
        b = boxes[d]
        w = np.clip(np.minimum(b[2], true_boxes[:, 2]) - np.maximum(b[0], true_boxes[:, 0]), 0, None)
        h = np.clip(np.minimum(b[3], true_boxes[:, 3]) - np.maximum(b[1], true_boxes[:, 1]), 0, None)
        area = (true_boxes[:, 2] - true_boxes[:, 0]) * (true_boxes[:, 3] - true_boxes[:, 1])
        iou = w * h / ((b[2] - b[0]) * (b[3] - b[1]) + area - w * h)
        j = int(np.argmax(iou))
        if iou[j] {cmp} 0.5:
            if difficult[j]{diff_extra}:
                {on_difficult}
                continue
            flags.append(0 if used[j] else 1)
            used[j] = True
        else:
            flags.append(0)
    flags = np.array(flags, dtype=float)
    if flags.size == 0:
        return 0.0
    prec = np.cumsum(flags) / np.arange(1, len(flags) + 1)
    prec = {interp}
    return float(np.sum(flags / n_pos * prec))
"""
VOC_RIGHT_TA = dict(
    n_pos="int(np.sum(~difficult))",
    undefined='float("nan")',
    cmp=">=",
    diff_extra="",
    on_difficult="pass",
    interp="np.maximum.accumulate(prec[::-1])[::-1]",
)
wrong_variants(
    "voc_ap_difficult",
    VOC_TA,
    VOC_RIGHT_TA,
    (
        ("the difficult flags ignored (plain VOC)", dict(n_pos="len(true_boxes)", diff_extra=" and False")),
        ("recall over every true box, difficult ones included", dict(n_pos="len(true_boxes)")),
        ("every box difficult: AP 0, not NaN", dict(undefined="0.0")),
        ("IoU > 0.5, not >= 0.5", dict(cmp=">")),
        ("an ignored detection still takes a rank", dict(on_difficult="flags.append(0)")),
        ("no interpolation", dict(interp="prec")),
        (
            "a second detection on a difficult box a false positive",
            dict(diff_extra=" and not used[j]", on_difficult="used[j] = True"),
        ),
    ),
)
wrong_with_line(
    "voc_ap_difficult", "the caller's scores sorted in place", VOC_TA, VOC_RIGHT_TA, "scores.sort()"
)
right(
    "voc_ap_difficult",
    "outcomes 1 / 0 / ignored in rank order, the ignored ones filtered out, the envelope from the right",
    """
def voc_ap_difficult(boxes, scores, true_boxes, difficult):
    positives = np.count_nonzero(~difficult)
    if positives == 0:
        return np.nan
    order = np.argsort(-scores, kind="stable")
    matched = set()
    outcome = []
    for d in order:
        ious = []
        for t in true_boxes:
            iw = max(0.0, min(boxes[d][2], t[2]) - max(boxes[d][0], t[0]))
            ih = max(0.0, min(boxes[d][3], t[3]) - max(boxes[d][1], t[1]))
            union = (boxes[d][2] - boxes[d][0]) * (boxes[d][3] - boxes[d][1]) + (t[2] - t[0]) * (t[3] - t[1])
            ious.append(iw * ih / (union - iw * ih))
        g = int(np.argmax(ious))
        if ious[g] < 0.5:
            outcome.append(0)
        elif difficult[g]:
            outcome.append(None)
        elif g in matched:
            outcome.append(0)
        else:
            matched.add(g)
            outcome.append(1)
    hits = np.array([o for o in outcome if o is not None], dtype=float)
    if hits.size == 0:
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    for k in range(hits.size - 2, -1, -1):
        precision[k] = max(precision[k], precision[k + 1])
    return float(np.dot(hits, precision) / positives)
""",
)

# (chapter 21, section 9: the AUC from ranks and the screening report)
AUC_RANKS_TA = """
def auc_by_ranks(scores, labels):
    n = len(scores)
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(1, n + 1)
    {ties}
    P = int(np.sum(labels == {cls}))
    N = n - P
    return float((ranks[labels == {cls}].sum() - {smallest}) / ({pairs}))
"""
AUC_RANKS_RIGHT_TA = dict(
    ties="for v in np.unique(scores):\n        ranks[scores == v] = ranks[scores == v].mean()",
    cls="1",
    smallest="P * (P + 1) / 2",
    pairs="P * N",
)
wrong_variants(
    "auc_by_ranks",
    AUC_RANKS_TA,
    AUC_RANKS_RIGHT_TA,
    (
        ("ties broken by position (no midranks)", dict(ties="pass")),
        (
            "ties given the lowest rank of their run",
            dict(ties="for v in np.unique(scores):\n        ranks[scores == v] = ranks[scores == v].min()"),
        ),
        ("the smallest rank sum taken as P (P - 1) / 2", dict(smallest="P * (P - 1) / 2")),
        ("divided by P n instead of P N", dict(pairs="P * n")),
        ("the negatives' ranks summed (1 - AUC)", dict(cls="0")),
    ),
)
wrong(
    "auc_by_ranks",
    "the pairs counted with > only: a tie counts 0, not one half",
    """
def auc_by_ranks(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(np.mean(pos[:, None] > neg[None, :]))
""",
)
right(
    "auc_by_ranks",
    "the pairs counted directly, a tie one half (the same number as the ranks give)",
    """
def auc_by_ranks(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))
""",
)
right(
    "auc_by_ranks",
    "midranks with a loop over the runs of equal scores",
    """
def auc_by_ranks(scores, labels):
    n = len(scores)
    order = sorted(range(n), key=lambda i: scores[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    P = sum(1 for y in labels if y == 1)
    R = sum(r for r, y in zip(ranks, labels) if y == 1)
    return (R - P * (P + 1) / 2) / (P * (n - P))
""",
)

SCREENING_TA = """
def screening_report(val_scores, val_labels, test_scores, test_labels, target):
    order = np.argsort(-{scores}, kind="stable")
    found = np.cumsum({labels}[order] == 1) / {denom}
    threshold = float({scores}[order][np.argmax(found >= target)])
    called = test_scores {op} threshold
    sensitivity = float(np.mean(called[test_labels == 1]))
    specificity = float(np.mean({spec}))
    return threshold, sensitivity, specificity
"""
SCREENING_RIGHT_TA = dict(
    scores="val_scores",
    labels="val_labels",
    denom="np.sum(val_labels == 1)",
    op=">=",
    spec="~called[test_labels == 0]",
)
wrong_variants(
    "screening_report",
    SCREENING_TA,
    SCREENING_RIGHT_TA,
    (
        (
            "the student's version as given",
            dict(scores="test_scores", labels="test_labels", denom="len(test_labels)", op=">"),
        ),
        (
            "the threshold chosen on the test set",
            dict(scores="test_scores", labels="test_labels", denom="np.sum(test_labels == 1)"),
        ),
        ("a score on the threshold not called (>)", dict(op=">")),
        ("the fraction found over every case", dict(denom="len(val_labels)")),
        ("specificity as the share of all test cases cleared", dict(spec="~called")),
        ("the fraction found over the test set's positives", dict(denom="np.sum(test_labels == 1)")),
    ),
)
wrong(
    "screening_report",
    "the threshold that reaches the target on the test set's own ROC curve",
    """
def screening_report(val_scores, val_labels, test_scores, test_labels, target):
    for t in sorted(set(test_scores.tolist()), reverse=True):
        if np.mean(test_scores[test_labels == 1] >= t) >= target:
            break
    sens = float(np.mean(test_scores[test_labels == 1] >= t))
    spec = float(np.mean(test_scores[test_labels == 0] < t))
    return float(t), sens, spec
""",
)
wrong_with_line(
    "screening_report",
    "the caller's validation scores sorted in place",
    SCREENING_TA,
    SCREENING_RIGHT_TA,
    "val_scores.sort()",
)
right(
    "screening_report",
    "the distinct validation scores tried from the highest down",
    """
def screening_report(val_scores, val_labels, test_scores, test_labels, target):
    positives = val_scores[val_labels == 1]
    for t in sorted(set(val_scores.tolist()), reverse=True):
        if np.mean(positives >= t) >= target:
            break
    called = test_scores >= t
    return float(t), float(called[test_labels == 1].mean()), float((~called)[test_labels == 0].mean())
""",
)

# ------------------------------------------------------------------ 19 language tasks
wrong(
    "masked_max_pool",
    "the padding counted in the max",
    """
def masked_max_pool(h, mask, dout):
    idx = h.argmax(axis=1)
    out = np.take_along_axis(h, idx[:, None, :], axis=1)[:, 0, :]
    dh = np.zeros(h.shape)
    np.put_along_axis(dh, idx[:, None, :], dout[:, None, :], axis=1)
    return out, dh
""",
)
wrong(
    "masked_max_pool",
    "the gradient sent to every tied maximum",
    """
def masked_max_pool(h, mask, dout):
    scores = np.where(mask[:, :, None], h, -np.inf)
    out = scores.max(axis=1)
    dh = (scores == out[:, None, :]) * dout[:, None, :]
    return out, dh
""",
)
right(
    "masked_max_pool",
    "loops over samples and features, the first strict improvement wins",
    """
def masked_max_pool(h, mask, dout):
    n, t, k = h.shape
    out = np.zeros((n, k))
    dh = np.zeros(h.shape)
    for i in range(n):
        steps = [s for s in range(t) if mask[i, s]]
        for j in range(k):
            best = steps[0]
            for s in steps[1:]:
                if h[i, s, j] > h[i, best, j]:
                    best = s
            out[i, j] = h[i, best, j]
            dh[i, best, j] = dout[i, j]
    return out, dh
""",
)
wrong(
    "rouge_l_fbeta",
    "the longest common substring (contiguous words)",
    """
def rouge_l_fbeta(candidate, reference, beta):
    c, r = candidate.split(), reference.split()
    best = 0
    for i in range(len(c)):
        for j in range(len(r)):
            k = 0
            while i + k < len(c) and j + k < len(r) and c[i + k] == r[j + k]:
                k += 1
            best = max(best, k)
    if best == 0:
        return 0.0
    p, rec = best / len(c), best / len(r)
    return (1 + beta**2) * p * rec / (rec + beta**2 * p)
""",
)
wrong(
    "rouge_l_fbeta",
    "beta not squared",
    """
def rouge_l_fbeta(candidate, reference, beta):
    c, r = candidate.split(), reference.split()
    if not c or not r:
        return 0.0
    table = np.zeros((len(c) + 1, len(r) + 1))
    for i in range(len(c)):
        for j in range(len(r)):
            table[i + 1, j + 1] = table[i, j] + 1 if c[i] == r[j] else max(table[i, j + 1], table[i + 1, j])
    lcs = table[-1, -1]
    if lcs == 0:
        return 0.0
    p, rec = lcs / len(c), lcs / len(r)
    return (1 + beta) * p * rec / (rec + beta * p)
""",
)
wrong(
    "rouge_l_fbeta",
    "no guard for an empty text: 0 / 0 gives nan",
    """
def rouge_l_fbeta(candidate, reference, beta):
    c, r = candidate.split(), reference.split()
    table = np.zeros((len(c) + 1, len(r) + 1))
    for i in range(len(c)):
        for j in range(len(r)):
            table[i + 1, j + 1] = table[i, j] + 1 if c[i] == r[j] else max(table[i, j + 1], table[i + 1, j])
    with np.errstate(invalid="ignore", divide="ignore"):
        p, rec = table[-1, -1] / np.float64(len(c)), table[-1, -1] / np.float64(len(r))
        return float((1 + beta**2) * p * rec / (rec + beta**2 * p))
""",
)
wrong(
    "rouge_l_fbeta",
    "precision over the reference's length, recall over the candidate's",
    """
def rouge_l_fbeta(candidate, reference, beta):
    c, r = candidate.split(), reference.split()
    table = np.zeros((len(c) + 1, len(r) + 1), dtype=int)
    for i in range(len(c)):
        for j in range(len(r)):
            table[i + 1, j + 1] = table[i, j] + 1 if c[i] == r[j] else max(table[i, j + 1], table[i + 1, j])
    lcs = table[-1, -1]
    if lcs == 0:
        return 0.0
    p, rec = lcs / len(r), lcs / len(c)
    return (1 + beta**2) * p * rec / (rec + beta**2 * p)
""",
)
right(
    "rouge_l_fbeta",
    "a recursive LCS with a memo, F from the harmonic form",
    """
from functools import lru_cache

def rouge_l_fbeta(candidate, reference, beta):
    c, r = tuple(candidate.split()), tuple(reference.split())

    @lru_cache(maxsize=None)
    def lcs(i, j):
        if i == len(c) or j == len(r):
            return 0
        if c[i] == r[j]:
            return 1 + lcs(i + 1, j + 1)
        return max(lcs(i + 1, j), lcs(i, j + 1))

    common = lcs(0, 0)
    if common == 0:
        return 0.0
    p, rec = common / len(c), common / len(r)
    return (1 + beta**2) / (1 / p + beta**2 / rec)
""",
)

# 19 language tasks: an independent TA's answers (written from the task alone)
MMP_TA = """
def masked_max_pool(h, mask, dout):
    N, T, H = h.shape
    masked = {masked}
    idx = {idx}
    out = np.take_along_axis(masked, idx[:, None, :], axis=1)[:, 0, :]
    dh = np.zeros(h.shape)
    {scatter}
    return out, dh
"""
MMP_RIGHT_TA = dict(
    masked="np.where(mask[:, :, None], h, -np.inf)",
    idx="masked.argmax(axis=1)",
    scatter="np.put_along_axis(dh, idx[:, None, :], dout[:, None, :], axis=1)",
)
wrong_variants(
    "masked_max_pool",
    MMP_TA,
    MMP_RIGHT_TA,
    (
        ("padding not masked (the max over every step)", dict(masked="h")),
        ("padding masked by 0 instead of -inf", dict(masked="np.where(mask[:, :, None], h, 0.0)")),
        ("ties: the last maximum", dict(idx="T - 1 - masked[:, ::-1].argmax(axis=1)")),
        (
            "ties: dout shared among the tied steps",
            dict(
                scatter="tie = masked == masked.max(axis=1, keepdims=True)\n    dh = tie * (dout[:, None, :] / tie.sum(axis=1, keepdims=True))"
            ),
        ),
        (
            "ties: the whole dout to every tied step",
            dict(scatter="dh = (masked == masked.max(axis=1, keepdims=True)) * dout[:, None, :]"),
        ),
        ("padding multiplied by the mask (h * mask)", dict(masked="h * mask[:, :, None]")),
    ),
)
wrong_with_line(
    "masked_max_pool",
    "the padding overwritten with -inf in the caller's h",
    MMP_TA,
    MMP_RIGHT_TA,
    "h[~mask] = -np.inf",
)
right(
    "masked_max_pool",
    "loops over the batch and the features",
    """
def masked_max_pool(h, mask, dout):
    N, T, H = h.shape
    out = np.empty((N, H)); dh = np.zeros((N, T, H))
    for n in range(N):
        steps = np.flatnonzero(mask[n])
        for k in range(H):
            best = steps[0]
            for t in steps[1:]:
                if h[n, t, k] > h[n, best, k]:
                    best = t
            out[n, k] = h[n, best, k]
            dh[n, best, k] = dout[n, k]
    return out, dh
""",
)


RG_TA = """
def rouge_l_fbeta(candidate, reference, beta):
    a, b = candidate.{split}, reference.{split}
    L = np.zeros((len(a) + 1, len(b) + 1), int)
    for i in range(len(a)):
        for j in range(len(b)):
            L[i + 1, j + 1] = {rec}
    lcs = {lcs}
    if lcs == 0:
        return 0.0
    P, R = lcs / len(a), lcs / len(b)
    return {f}
"""
RG_RIGHT_TA = dict(
    lcs="L[-1, -1]",
    split="split()",
    rec="L[i, j] + 1 if a[i] == b[j] else max(L[i, j + 1], L[i + 1, j])",
    f="(1 + beta**2) * P * R / (R + beta**2 * P)",
)
wrong_variants(
    "rouge_l_fbeta",
    RG_TA,
    RG_RIGHT_TA,
    (
        (
            "P and R swapped in the F formula (beta favours precision)",
            dict(f="(1 + beta**2) * P * R / (P + beta**2 * R)"),
        ),
        ("the longest common substring", dict(rec="L[i, j] + 1 if a[i] == b[j] else 0", lcs="L.max()")),
        ("beta not squared", dict(f="(1 + beta) * P * R / (R + beta * P)")),
        ("F1 whatever beta", dict(f="2 * P * R / (P + R)")),
    ),
)
right(
    "rouge_l_fbeta",
    "LCS in one row updated in place (the diagonal kept aside); F as 1 / weighted harmonic mean",
    """
def rouge_l_fbeta(candidate, reference, beta):
    a, b = candidate.split(), reference.split()
    row = [0] * (len(b) + 1)  # one row of the LCS table, overwritten word by word of a
    for x in a:
        diagonal = 0  # the entry up and to the left, before this row overwrote it
        for j, y in enumerate(b, start=1):
            above = row[j]
            row[j] = diagonal + 1 if x == y else max(above, row[j - 1])
            diagonal = above
    lcs = row[-1]
    if not lcs:
        return 0.0
    P, R = lcs / len(a), lcs / len(b)
    w = beta * beta
    return 1.0 / ((1.0 / (1 + w)) / P + (w / (1 + w)) / R)
""",
)

# ------------------------------------------------------------------ 22 game playing
# 22 game playing: an independent TA's answers (written from the task alone)
NSTEP_TA = """
def n_step_returns(rewards, terminated, truncated, next_values, gamma, n):
    T = len(rewards)
    G = np.zeros(rewards.shape)
    for t in range(T):
        for e in range(rewards.shape[1]):
            total, k = 0.0, 0
            while True:
                s = t + k
                total += gamma**k * rewards[s, e]
                k += 1
                if {ended}:
                    tail = {term_tail}
                    break
                if {stop}:
                    tail = {tail}
                    break
            G[t, e] = total + gamma**k * tail
    return G
"""
NSTEP_RIGHT_TA = dict(
    ended="terminated[s, e]",
    term_tail="0.0",
    stop="truncated[s, e] or k == n or s == T - 1",
    tail="next_values[s, e]",
)
wrong_variants(
    "n_step_returns",
    NSTEP_TA,
    NSTEP_RIGHT_TA,
    (
        ("a termination bootstrapped like a truncation", dict(term_tail="next_values[s, e]")),
        ("a truncation treated as a termination", dict(ended="terminated[s, e] or truncated[s, e]")),
        ("the window runs on across a truncation", dict(stop="k == n or s == T - 1")),
        ("the window stops one reward early", dict(stop="truncated[s, e] or k == n - 1 or s == T - 1")),
        ("the window runs one reward too far", dict(stop="truncated[s, e] or k == n + 1 or s == T - 1")),
        (
            "the value of the window's next row, not of the state reached",
            dict(tail="next_values[min(s + 1, T - 1), e]"),
        ),
        (
            "nothing after the batch's last step",
            dict(tail="0.0 if s == T - 1 and not truncated[s, e] else next_values[s, e]"),
        ),
    ),
)
wrong_with_line("n_step_returns", "n taken as the chapter's 16", NSTEP_TA, NSTEP_RIGHT_TA, "n = 16")
wrong(
    "n_step_returns",
    "the chapter's rollout returns: a window to the batch's end whatever n",
    """
def n_step_returns(rewards, terminated, truncated, next_values, gamma, n):
    G = np.zeros(rewards.shape)
    future = next_values[-1]
    for t in reversed(range(len(rewards))):
        future = np.where(truncated[t], next_values[t], future)
        future = np.where(terminated[t], 0.0, future)
        G[t] = rewards[t] + gamma * future
        future = G[t]
    return G
""",
)
wrong(
    "n_step_returns",
    "the rewards discounted from 1: gamma^(k+1) r_(t+k)",
    """
def n_step_returns(rewards, terminated, truncated, next_values, gamma, n):
    T, N = rewards.shape
    G = np.zeros((T, N))
    for t in range(T):
        for e in range(N):
            g, d = 0.0, gamma
            for s in range(t, min(t + n, T)):
                g += d * rewards[s, e]
                if terminated[s, e]:
                    break
                if truncated[s, e] or s == min(t + n, T) - 1:
                    g += d * gamma * next_values[s, e]
                    break
                d *= gamma
            G[t, e] = g
    return G
""",
)
right(
    "n_step_returns",
    "n passes of the one-step recursion, each cut where the window must stop",
    """
def n_step_returns(rewards, terminated, truncated, next_values, gamma, n):
    T = len(rewards)
    after = np.where(terminated, 0.0, next_values)
    stop = terminated | truncated
    stop[T - 1] = True
    G = rewards + gamma * after
    for _ in range(n - 1):
        shifted = np.zeros_like(G)
        shifted[:-1] = G[1:]
        G = rewards + gamma * np.where(stop, after, shifted)
    return G
""",
)

wrong(
    "gae_advantages",
    "the advantages accumulated into the caller's rewards",
    """
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    A = rewards
    A -= values
    A += gamma * (1 - terminated) * next_values
    for t in range(len(A) - 2, -1, -1):
        A[t] += gamma * lam * (1 - (terminated[t] | truncated[t])) * A[t + 1]
    return A
""",
)
GAE_TA = """
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    delta = rewards + gamma * {cut} * next_values - values
    done = {done}
    A = np.zeros(rewards.shape)
    nxt = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        nxt = delta[t] + {decay} * (1 - done[t]) * nxt
        A[t] = nxt
    return A
"""
GAE_RIGHT_TA = dict(cut="(1 - terminated)", done="terminated | truncated", decay="gamma * lam")
wrong_variants(
    "gae_advantages",
    GAE_TA,
    GAE_RIGHT_TA,
    (
        ("truncation cuts the bootstrap in delta too", dict(cut="(1 - (terminated | truncated))")),
        ("the chain not cut at truncations (done = terminated)", dict(done="terminated")),
        ("no cut in delta (the terminal state's value used)", dict(cut="1")),
        ("lambda alone as the decay", dict(decay="lam")),
        ("gamma alone as the decay", dict(decay="gamma")),
    ),
)
wrong_with_line("gae_advantages", "lam taken as 0.95", GAE_TA, GAE_RIGHT_TA, "lam = 0.95")
right(
    "gae_advantages",
    "the discounted sum written out with powers",
    """
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    T, N = rewards.shape
    delta = rewards + gamma * np.where(terminated, 0.0, next_values) - values
    A = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            acc, w = 0.0, 1.0
            for s in range(t, T):
                acc += w * delta[s, n]
                if terminated[s, n] or truncated[s, n]:
                    break
                w *= gamma * lam
            A[t, n] = acc
    return A
""",
)
wrong(
    "gae_advantages",
    "the advantage carried across an episode end",
    """
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    deltas = rewards + gamma * (1 - terminated) * next_values - values
    adv = np.zeros(rewards.shape)
    a = 0.0
    for t in reversed(range(len(rewards))):
        a = deltas[t] + gamma * lam * a
        adv[t] = a
    return adv
""",
)
wrong(
    "gae_advantages",
    "lambda forgotten: the sum decays by gamma alone",
    """
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    deltas = rewards + gamma * (1 - terminated) * next_values - values
    done = terminated | truncated
    adv = np.zeros(rewards.shape)
    a = 0.0
    for t in reversed(range(len(rewards))):
        a = deltas[t] + gamma * (1 - done[t]) * a
        adv[t] = a
    return adv
""",
)
wrong(
    "gae_advantages",
    "a terminated step bootstrapped from V(s')",
    """
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    deltas = rewards + gamma * next_values - values
    done = terminated | truncated
    adv = np.zeros(rewards.shape)
    a = 0.0
    for t in reversed(range(len(rewards))):
        a = deltas[t] + gamma * lam * (1 - done[t]) * a
        adv[t] = a
    return adv
""",
)
right(
    "gae_advantages",
    "explicit sums of discounted deltas up to each episode's end",
    """
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    T = rewards.shape[0]
    deltas = rewards + gamma * np.where(terminated, 0.0, next_values) - values
    done = terminated | truncated
    adv = np.zeros(rewards.shape)
    for n in range(rewards.shape[1]):
        for t in range(T):
            total, weight = 0.0, 1.0
            for k in range(t, T):
                total += weight * deltas[k, n]
                if done[k, n]:
                    break
                weight *= gamma * lam
            adv[t, n] = total
    return adv
""",
)
# the broken GAE of the task, and the student's fixes of some of its four bugs
GAE_BROKEN = """
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    T = len(rewards)
    done = terminated | truncated
    advantages = np.zeros_like(rewards)
    last_advantage = 0.0
    for t in reversed(range(T)):
        if t == T - 1:
            keep, boot = {last_keep}, {last_boot}
            next_value = next_values[T - 1]
        else:
            keep, boot = 1.0 - done[{i}], 1.0 - {cut}[{i}]
            next_value = {nxt}
        delta = rewards[t] + gamma * boot * next_value - values[t]
        last_advantage = delta + gamma * lam * keep * last_advantage
        advantages[t] = last_advantage
    return advantages
"""
GAE_BROKEN_RIGHT = dict(
    last_keep="1.0 - done[T - 1]",
    last_boot="1.0 - terminated[T - 1]",
    i="t",
    cut="terminated",
    nxt="next_values[t]",
)
wrong_variants(
    "gae_advantages",
    GAE_BROKEN,
    GAE_BROKEN_RIGHT,
    (
        (
            "the code as given (all four bugs)",
            dict(last_keep="1.0", last_boot="1.0", i="t + 1", cut="done", nxt="values[t + 1]"),
        ),
        ("only the index fixed", dict(last_keep="1.0", last_boot="1.0", cut="done", nxt="values[t + 1]")),
        ("all fixed but the last step", dict(last_keep="1.0", last_boot="1.0")),
        ("all fixed but the one flag", dict(cut="done", last_boot="1.0 - done[T - 1]")),
        ("all fixed but values[t + 1]", dict(nxt="values[t + 1]")),
        ("all fixed but the index", dict(i="t + 1")),
    ),
)
right(
    "gae_advantages",
    "the weighted mean of the k-step advantages, as defined",
    """
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    T, N = rewards.shape
    A = np.zeros((T, N))
    for t in range(T):
        for e in range(N):
            g, d, weight = 0.0, 1.0, 1.0
            for s in range(t, T):
                g += d * rewards[s, e]
                d *= gamma
                stops = terminated[s, e] or truncated[s, e] or s == T - 1
                tail = 0.0 if terminated[s, e] else d * next_values[s, e]
                adv = g + tail - values[t, e]
                if stops:
                    A[t, e] += weight * adv
                    break
                A[t, e] += weight * (1 - lam) * adv
                weight *= lam
    return A
""",
)

PQ_TA = """
def policy_action_values(P, R, policy, gamma):
    S, A = R.shape
    P_pi = np.einsum("sa,sat->st", {pi}, P)
    r_pi = (policy * R).sum(axis=1)
    V = np.linalg.solve({system}, r_pi)
    return {q}
"""
PQ_RIGHT_TA = dict(pi="policy", system="np.eye(S) - gamma * P_pi", q="R + gamma * P @ V")
wrong_variants(
    "policy_action_values",
    PQ_TA,
    PQ_RIGHT_TA,
    (
        ("the transitions transposed (P_pi.T)", dict(system="np.eye(S) - gamma * P_pi.T")),
        ("V^pi returned for Q^pi, repeated over the actions", dict(q="np.repeat(V[:, None], A, axis=1)")),
        ("the reward discounted", dict(q="gamma * (R + P @ V)")),
        ("a uniform policy for the given one", dict(pi="np.full_like(policy, 1.0 / A)")),
        ("gamma left out of the system", dict(system="np.eye(S) - P_pi")),
    ),
)
wrong_with_line("policy_action_values", "gamma taken as 0.99", PQ_TA, PQ_RIGHT_TA, "gamma = 0.99")
wrong(
    "policy_action_values",
    "the optimal values: value iteration with max",
    """
def policy_action_values(P, R, policy, gamma):
    Q = np.zeros(R.shape)
    for _ in range(5000):
        Q = R + gamma * P @ Q.max(axis=1)
    return Q
""",
)
wrong(
    "policy_action_values",
    "200 sweeps of the Bellman update",
    """
def policy_action_values(P, R, policy, gamma):
    Q = np.zeros(R.shape)
    for _ in range(200):
        Q = R + gamma * P @ (policy * Q).sum(axis=1)
    return Q
""",
)
wrong(
    "policy_action_values",
    "each row of P renormalised to 1: termination ignored",
    """
def policy_action_values(P, R, policy, gamma):
    S, A = R.shape
    Pn = P / np.maximum(P.sum(axis=2, keepdims=True), 1e-12)
    P_pi = (policy[:, :, None] * Pn).sum(axis=1)
    V = np.linalg.solve(np.eye(S) - gamma * P_pi, (policy * R).sum(axis=1))
    return R + gamma * Pn @ V
""",
)
right(
    "policy_action_values",
    "the (S A, S A) system for Q directly",
    """
def policy_action_values(P, R, policy, gamma):
    S, A = R.shape
    M = (P[:, :, :, None] * policy[None, None, :, :]).reshape(S * A, S * A)
    Q = np.linalg.solve(np.eye(S * A) - gamma * M, R.reshape(-1))
    return Q.reshape(S, A)
""",
)
right(
    "policy_action_values",
    "sweeps until the change is below 1e-13",
    """
def policy_action_values(P, R, policy, gamma):
    Q = np.zeros(R.shape)
    while True:
        new = R + gamma * P @ (policy * Q).sum(axis=1)
        if np.abs(new - Q).max() < 1e-13:
            return new
        Q = new
""",
)

LEN_TA = """
def subtraction_game_lengths(heap, moves, misere):
    win = np.zeros(heap + 1, dtype=int)
    n = np.zeros(heap + 1, dtype=int)
    for h in range(heap + 1):
        kids = [h - m for m in moves if {legal}]
        if not kids:
            win[h] = {stuck}
            continue
        lost = [k for k in kids if win[k] == -1]
        if lost:
            win[h], n[h] = 1, 1 + {fast}
        else:
            win[h], n[h] = -1, 1 + {slow}
    return win, n
"""
LEN_RIGHT_TA = dict(
    legal="m <= h",
    stuck="1 if misere else -1",
    fast="min(n[k] for k in lost)",
    slow="max(n[k] for k in kids)",
)
wrong_variants(
    "subtraction_game_lengths",
    LEN_TA,
    LEN_RIGHT_TA,
    (
        ("the loser hurries too", dict(slow="min(n[k] for k in kids)")),
        ("the winner dawdles", dict(fast="max(n[k] for k in lost)")),
        ("the winner's length over every move", dict(fast="min(n[k] for k in kids)")),
        ("misère ignored", dict(stuck="-1")),
        ("a move must leave a stone (m < h)", dict(legal="m < h")),
    ),
)
wrong(
    "subtraction_game_lengths",
    "the length counts positions, not moves (1 at the end)",
    """
def subtraction_game_lengths(heap, moves, misere):
    outcome = np.zeros(heap + 1, dtype=int)
    length = np.ones(heap + 1, dtype=int)
    for h in range(heap + 1):
        after = [h - m for m in moves if m <= h]
        if not after:
            outcome[h] = 1 if misere else -1
            continue
        losing = [a for a in after if outcome[a] < 0]
        outcome[h] = 1 if losing else -1
        length[h] = 1 + (min(length[a] for a in losing) if losing else max(length[a] for a in after))
    return outcome, length
""",
)
wrong(
    "subtraction_game_lengths",
    "a float array for the lengths",
    """
def subtraction_game_lengths(heap, moves, misere):
    outcome = np.zeros(heap + 1, dtype=int)
    length = np.zeros(heap + 1)
    for h in range(heap + 1):
        after = [h - m for m in moves if m <= h]
        if not after:
            outcome[h] = 1 if misere else -1
            continue
        losing = [a for a in after if outcome[a] < 0]
        outcome[h] = 1 if losing else -1
        length[h] = 1 + (min(length[a] for a in losing) if losing else max(length[a] for a in after))
    return outcome, length
""",
)
right(
    "subtraction_game_lengths",
    "a memoised recursion over (outcome, length)",
    """
import functools

def subtraction_game_lengths(heap, moves, misere):
    @functools.lru_cache(maxsize=None)
    def solve(h):
        after = [solve(h - m) for m in moves if m <= h]
        if not after:
            return (1 if misere else -1), 0
        wins = [n for o, n in after if o == -1]
        if wins:
            return 1, 1 + min(wins)
        return -1, 1 + max(n for _, n in after)

    for h in range(heap + 1):
        solve(h)
    pairs = [solve(h) for h in range(heap + 1)]
    return np.array([o for o, _ in pairs]), np.array([n for _, n in pairs])
""",
)


# ------------------------------------------------------------------ 14 pretraining (chapter 14's exercises)
LORA = """
def lora_backward(x, W, A, B, dy, alpha):
    s = {scale}
    u = x @ A
    du = {du}
    return {dx}, {dA}, {dB}
"""
LORA_RIGHT = dict(
    scale="alpha / A.shape[1]", du="s * dy @ B.T", dx="dy @ W.T + du @ A.T", dA="x.T @ du", dB="s * u.T @ dy"
)
wrong_variants(
    "lora_backward",
    LORA,
    LORA_RIGHT,
    (
        ("the rank read from A's rows (A.shape[0])", dict(scale="alpha / A.shape[0]")),
        ("the scale left out of dB", dict(dB="u.T @ dy")),
        ("the scale left out of du", dict(du="dy @ B.T")),
        ("the scale twice in dA", dict(dA="s * x.T @ du")),
        ("dx through the frozen W only", dict(dx="dy @ W.T")),
        ("dA with x and du swapped (du^T x, transposed)", dict(dA="(du.T @ x).T.T")),
    ),
)
right(
    "lora_backward",
    "through the effective weight W + s A B: dW_eff = x^T dy",
    """
def lora_backward(x, W, A, B, dy, alpha):
    s = alpha / A.shape[1]
    d_eff = x.T @ dy
    return dy @ (W + s * A @ B).T, s * d_eff @ B.T, s * A.T @ d_eff
""",
)

BERT = """
def bert_mask(ids, u_choose, u_kind, random_ids, rate, mask_id, n_special):
    chosen = {chosen}
    inputs = {copy}
    inputs[chosen & ({to_mask})] = mask_id
    swap = chosen & ({to_swap})
    inputs[swap] = random_ids[swap]
    return inputs, chosen
"""
BERT_RIGHT = dict(
    chosen="(u_choose < rate) & (ids >= n_special)",
    copy="ids.copy()",
    to_mask="u_kind < 0.8",
    to_swap="(u_kind >= 0.8) & (u_kind < 0.9)",
)
wrong_variants(
    "bert_mask",
    BERT,
    BERT_RIGHT,
    (
        (
            "the rule as given (all four bugs)",
            dict(chosen="u_choose < rate", copy="ids", to_mask="u_kind >= 0.2", to_swap="u_kind < 0.2"),
        ),
        ("special ids chosen too", dict(chosen="u_choose < rate")),
        ("ids changed in place", dict(copy="ids")),
        ("no token left unchanged", dict(to_swap="u_kind >= 0.8")),
        (
            "the first word id counted as special (> for >=)",
            dict(chosen="(u_choose < rate) & (ids > n_special)"),
        ),
        (
            "a draw equal to the rate chosen (<= for <)",
            dict(chosen="(u_choose <= rate) & (ids >= n_special)"),
        ),
        (
            "u_kind = 0.8 masked (<= for <)",
            dict(to_mask="u_kind <= 0.8", to_swap="(u_kind > 0.8) & (u_kind < 0.9)"),
        ),
        ("u_kind = 0.9 swapped (<= 0.9)", dict(to_swap="(u_kind >= 0.8) & (u_kind <= 0.9)")),
        ("only padding (id 0) left out, not every special id", dict(chosen="(u_choose < rate) & (ids != 0)")),
    ),
)
right(
    "bert_mask",
    "with np.where, one decision at a time",
    """
def bert_mask(ids, u_choose, u_kind, random_ids, rate, mask_id, n_special):
    chosen = np.logical_and(ids >= n_special, u_choose < rate)
    replaced = np.where(u_kind < 0.8, mask_id, np.where(u_kind < 0.9, random_ids, ids))
    return np.where(chosen, replaced, ids).astype(ids.dtype), chosen
""",
)

PATCHIFY = """
def patchify(x, ph, pw):
    N, C, H, W = x.shape
    grid = x.reshape(N, C, H // ph, ph, W // pw, pw)
    return grid.transpose({axes}).reshape(N, {count}, C * ph * pw)
"""
PATCHIFY_RIGHT = dict(axes="0, 2, 4, 1, 3, 5", count="(H // ph) * (W // pw)")
wrong_variants(
    "patchify",
    PATCHIFY,
    PATCHIFY_RIGHT,
    (
        ("channel last inside a patch", dict(axes="0, 2, 4, 3, 5, 1")),
        ("patches in column-major order", dict(axes="0, 4, 2, 1, 3, 5")),
        ("a patch's columns before its rows", dict(axes="0, 2, 4, 1, 5, 3")),
    ),
)
right(
    "patchify",
    "two loops over the grid of patches",
    """
def patchify(x, ph, pw):
    N, C, H, W = x.shape
    rows = []
    for i in range(0, H, ph):
        for j in range(0, W, pw):
            rows.append(x[:, :, i:i + ph, j:j + pw].reshape(N, -1))
    return np.stack(rows, axis=1)
""",
)


# ------------------------------------------------------------------ 17 VAEs and diffusion
_KL_GENERAL = """
def gaussian_kl_general(mu_q, logvar_q, mu_p, logvar_p):
    n = mu_q.shape[0]
    var_q, var_p = np.exp(logvar_q), np.exp(logvar_p)
    diff = mu_q - mu_p
    kl = 0.5 * np.sum({kl_terms}) / n
    return float(kl), {d_mu_q} / n, {d_logvar_q} / n, -({d_mu_q}) / n, {d_logvar_p} / n
"""
_KL_RIGHT = dict(
    kl_terms="logvar_p - logvar_q + (var_q + diff**2) / var_p - 1.0",
    d_mu_q="diff / var_p",
    d_logvar_q="0.5 * (var_q / var_p - 1.0)",
    d_logvar_p="0.5 * (1.0 - (var_q + diff**2) / var_p)",
)
wrong_variants(
    "gaussian_kl_general",
    _KL_GENERAL,
    _KL_RIGHT,
    (
        (
            "the prior taken as N(0, I), the chapter's formula",
            dict(kl_terms="mu_q**2 + var_q - 1.0 - logvar_q"),
        ),
        (
            "the log-variance gradient taken per variance",
            dict(d_logvar_q="0.5 * (1.0 / var_p - 1.0 / var_q)"),
        ),
        (
            "the prior's log-variance gradient without the mean gap",
            dict(d_logvar_p="0.5 * (1.0 - var_q / var_p)"),
        ),
        ("the mean gradient not divided by the prior's variance", dict(d_mu_q="diff")),
    ),
)
right(
    "gaussian_kl_general",
    "as a sum of a cross-entropy and an entropy, vectorised",
    """
def gaussian_kl_general(mu_q, logvar_q, mu_p, logvar_p):
    n = len(mu_q)
    inv_p = np.exp(-logvar_p)
    second_moment = np.exp(logvar_q) + (mu_q - mu_p) ** 2
    cross = 0.5 * (logvar_p + second_moment * inv_p)  # E_q[-log p] without the 2 pi
    entropy = 0.5 * (logvar_q + 1.0)  # H[q] without the 2 pi
    kl = (cross - entropy).sum() / n
    d_mu_q = (mu_q - mu_p) * inv_p / n
    return kl, d_mu_q, 0.5 * (np.exp(logvar_q) * inv_p - 1.0) / n, -d_mu_q, 0.5 * (1.0 - second_moment * inv_p) / n
""",
)

_Q_JUMP = """
def q_jump_from_betas(betas, x_s, s, t, noise):
    alpha_bar = np.concatenate([[1.0], np.cumprod(1.0 - betas)])
    keep = {keep}
    shape = (-1,) + (1,) * (x_s.ndim - 1)
    k = keep.reshape(shape)
    return np.sqrt(k) * x_s + {noise_weight} * noise, keep
"""
_Q_RIGHT = dict(keep="alpha_bar[t + 1] / alpha_bar[s + 1]", noise_weight="np.sqrt(1.0 - k)")
wrong_variants(
    "q_jump_from_betas",
    _Q_JUMP,
    _Q_RIGHT,
    (
        ("the whole way from the clean image: alpha_bar_t", dict(keep="alpha_bar[t + 1]")),
        (
            "the product starts at step s, one too early",
            dict(keep="alpha_bar[t + 1] / alpha_bar[np.maximum(s, 0)]"),
        ),
        ("the product stops before step t", dict(keep="alpha_bar[t] / alpha_bar[s + 1]")),
        ("a difference instead of a ratio", dict(keep="1.0 - (alpha_bar[s + 1] - alpha_bar[t + 1])")),
        ("the ratio upside down", dict(keep="np.minimum(alpha_bar[s + 1] / alpha_bar[t + 1], 1.0)")),
        ("the noise weighted by the variance", dict(noise_weight="(1.0 - k)")),
        ("alpha_t of the last step alone", dict(keep="(1.0 - betas)[t]")),
    ),
)
right(
    "q_jump_from_betas",
    "the product of the alphas between the two steps, one row at a time",
    """
def q_jump_from_betas(betas, x_s, s, t, noise):
    keep = np.array([np.prod(1.0 - betas[a + 1 : b + 1]) for a, b in zip(s, t)])
    rows = keep[(...,) + (None,) * (x_s.ndim - 1)]
    return rows**0.5 * x_s + (1.0 - rows) ** 0.5 * noise, keep
""",
)
right(
    "q_jump_from_betas",
    "through logarithms: a difference of cumulative sums",
    """
def q_jump_from_betas(betas, x_s, s, t, noise):
    logs = np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])
    keep = np.exp(logs[t + 1] - logs[s + 1])
    rows = keep.reshape((-1,) + (1,) * (x_s.ndim - 1))
    return np.sqrt(rows) * x_s + np.sqrt(1.0 - rows) * noise, keep
""",
)

_DDIM = """
def ddim_step_eta(x_t, x0_hat, alpha_bar_t, alpha_bar_s, eta, noise):
    eps = (x_t - np.sqrt(alpha_bar_t) * x0_hat) / np.sqrt(1.0 - alpha_bar_t)
    sigma = {sigma}
    return np.sqrt(alpha_bar_s) * x0_hat + {direction} * eps + sigma * noise, float(sigma)
"""
_DDIM_RIGHT = dict(
    sigma="eta * np.sqrt((1 - alpha_bar_s) / (1 - alpha_bar_t)) * np.sqrt(1 - alpha_bar_t / alpha_bar_s)",
    direction="np.sqrt(1.0 - alpha_bar_s - sigma**2)",
)
wrong_variants(
    "ddim_step_eta",
    _DDIM,
    _DDIM_RIGHT,
    (
        ("the direction's weight not reduced by sigma", dict(direction="np.sqrt(1.0 - alpha_bar_s)")),
        (
            "sigma without its factor sqrt(1 - ab_t / ab_s)",
            dict(sigma="eta * np.sqrt((1 - alpha_bar_s) / (1 - alpha_bar_t))"),
        ),
        (
            "sigma with the ratio of alpha_bars upside down",
            dict(
                sigma="eta * np.sqrt((1 - alpha_bar_s) / (1 - alpha_bar_t)) * np.sqrt(abs(1 - alpha_bar_s / alpha_bar_t))"
            ),
        ),
        ("eta ignored: the deterministic step", dict(sigma="0.0 * eta")),
    ),
)
right(
    "ddim_step_eta",
    "the step written with variances, sigma squared first",
    """
def ddim_step_eta(x_t, x0_hat, alpha_bar_t, alpha_bar_s, eta, noise):
    var_t, var_s = 1.0 - alpha_bar_t, 1.0 - alpha_bar_s
    sigma2 = eta**2 * var_s / var_t * (1.0 - alpha_bar_t / alpha_bar_s)
    eps = (x_t - alpha_bar_t**0.5 * x0_hat) / var_t**0.5
    mean = alpha_bar_s**0.5 * x0_hat + (var_s - sigma2) ** 0.5 * eps
    return mean + sigma2**0.5 * noise, sigma2**0.5
""",
)


# ------------------------------------------------------------------ 12 attention and 13 language tasks, reworked (issue 57)
# a step on a ring-buffer KV cache: one slot per mistake (the copy, the order of write and
# read, the slots never written, the distance of a slot, the sign, the row maximum)
CACHE = """
def windowed_cache_step(cache_k, cache_v, t, q, k, v, slope):
    N, W, d = cache_k.shape
    keys, values = {copy}
    {write}
    age = {age}
    s = np.einsum("nd,nwd->nw", q, keys) / np.sqrt(d) {sign} slope * age
    s = np.where({seen}, s, -np.inf)
    w = np.exp(s - s.max({axis}, keepdims=True))
    out = np.einsum("nw,nwe->ne", w / w.sum(axis=1, keepdims=True), values)
    {late}
    return out, keys, values
"""
CACHE_RIGHT = dict(
    copy="cache_k.copy(), cache_v.copy()",
    write="keys[:, t % W], values[:, t % W] = k, v",
    age="(t - np.arange(W)) % W",
    sign="-",
    seen="age <= t",
    axis="axis=1",
    late="",
)
right("windowed_cache_step", "the ages from t - slot, modulo W", CACHE.format(**CACHE_RIGHT))
right(
    "windowed_cache_step",
    "each slot's position rebuilt, then t - position",
    CACHE.format(**{**CACHE_RIGHT, "age": "t - (t - (t - np.arange(W)) % W)", "seen": "t - age >= 0"}),
)
wrong_variants(
    "windowed_cache_step",
    CACHE,
    CACHE_RIGHT,
    (
        ("the caller's caches written in place", dict(copy="cache_k, cache_v")),
        (
            "the query attends before its key joins the cache",
            dict(write="", late="keys[:, t % W], values[:, t % W] = k, v"),
        ),
        ("the slots never written attended too", dict(seen="np.ones(W, dtype=bool)")),
        ("the distance taken from the slot index", dict(age="np.abs(t % W - np.arange(W))")),
        (
            "the slot's position as the current lap's, (t // W) * W + s",
            dict(age="t - ((t // W) * W + np.arange(W))", seen="(age >= 0) & (age <= t)"),
        ),
        ("the penalty added", dict(sign="+")),
        ("the batch's maximum, not each row's", dict(axis="axis=None")),
        (
            "the new token written into slot t - 1",
            dict(write="keys[:, (t - 1) % W], values[:, (t - 1) % W] = k, v"),
        ),
    ),
)

# the student's broken attention backward (four bugs) and each bug left alone
ATT_DEBUG = """
def attention_backward(dout, q, k, v, causal):
    N, T, d = q.shape
    S = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    if causal:
        {mask}
    P = np.exp(S - S.max(axis=2, keepdims=True))
    P /= P.sum(axis=2, keepdims=True)
    dv = {dv}
    dP = dout @ v.transpose(0, 2, 1)
    dS = P * (dP - {rowsum})
    dq = dS @ k / np.sqrt(d)
    dk = {dk} / np.sqrt(d)
    return dq, dk, dv
"""
ATT_DEBUG_RIGHT = dict(
    mask="S = np.where(np.tril(np.ones((T, T), dtype=bool)), S, -np.inf)",
    dv="P.transpose(0, 2, 1) @ dout",
    rowsum="(P * dP).sum(axis=2, keepdims=True)",
    dk="dS.transpose(0, 2, 1) @ q",
)
ATT_DEBUG_BUGS = dict(
    mask="S = S * np.tril(np.ones((T, T)))",
    dv="P @ dout",
    rowsum="dP.mean(axis=2, keepdims=True)",
    dk="dS @ q",
)
right(
    "attention_backward",
    "the student's function with its four bugs repaired",
    ATT_DEBUG.format(**ATT_DEBUG_RIGHT),
)
wrong("attention_backward", "the student's function as given (four bugs)", ATT_DEBUG.format(**ATT_DEBUG_BUGS))
wrong_variants(
    "attention_backward",
    ATT_DEBUG,
    ATT_DEBUG_RIGHT,
    (
        ("the mask left as a product with tril (masked scores 0)", dict(mask=ATT_DEBUG_BUGS["mask"])),
        ("dv left as P dout", dict(dv=ATT_DEBUG_BUGS["dv"])),
        ("the row's plain mean of dP left in dS", dict(rowsum=ATT_DEBUG_BUGS["rowsum"])),
        ("dk left as dS q", dict(dk=ATT_DEBUG_BUGS["dk"])),
    ),
)

# beam search without repeated n-grams: one slot for the rule, one for the cut
NO_REPEAT = """
def beam_search_no_repeat(log_probs, start, end, beam_width, max_len, alpha, ngram):
    def blocked(tokens):
        seq, n = {seq}, {n}
        if len(seq) < n:
            return False
        earlier = {{tuple(seq[i : i + n]) for i in range({stop})}}
        return tuple(seq[-n:]) in earlier

    live, done = [((), 0.0)], []
    for _ in range(max_len):
        cands = [
            (toks + (b,), score + log_probs[toks[-1] if toks else start, b])
            for toks, score in live
            for b in range(log_probs.shape[0])
            {allowed}
        ]
        cands.sort(key=lambda c: {order})
        live = []
        for toks, score in cands[:{width}]:
            if {after}:
                (done if toks[-1] == end else live).append((toks, score))
        if not live:
            break
    done += live
    if not done:
        return np.zeros(0, dtype=np.int64)
    best = min(done, key=lambda c: (-c[1] / len(c[0]) ** {alpha}, c[0]))
    return np.array(best[0], dtype=np.int64)
"""
NO_REPEAT_RIGHT = dict(
    seq="tokens",
    n="ngram",
    stop="len(seq) - n",
    allowed="if not blocked(toks + (b,))",
    order="(-c[1], c[0])",
    width="beam_width",
    after="True",
    alpha="alpha",
)
right("beam_search_no_repeat", "a set of the earlier n-grams", NO_REPEAT.format(**NO_REPEAT_RIGHT))
wrong_variants(
    "beam_search_no_repeat",
    NO_REPEAT,
    NO_REPEAT_RIGHT,
    (
        ("no n-gram blocked", dict(allowed="")),
        ("`start` counted as the hypothesis's first token", dict(seq="(start,) + tokens")),
        ("earlier occurrences may not overlap the last n tokens", dict(stop="len(seq) - 2 * n + 1")),
        ("the repeats dropped after the cut", dict(allowed="", after="not blocked(toks)")),
        ("n-grams of ngram + 1 tokens", dict(n="ngram + 1")),
        ("n-grams of ngram - 1 tokens", dict(n="max(ngram - 1, 1)")),
        ("greedy: a beam of one", dict(width="1")),
        ("no length normalisation", dict(alpha="0")),
        ("ties to the larger token sequence", dict(order="(-c[1], tuple(-t for t in c[0]))")),
    ),
)

# the student's broken ROUGE-L (one row updated in place, precision and recall swapped, no
# case for texts that share no word) and each bug left alone (the missing case raises, so the
# catalogue's "no guard" answer above, which returns nan, stands for it)
ROUGE_DEBUG = """
def rouge_l_fbeta(candidate, reference, beta):
    cand, ref = candidate.split(), reference.split()
    row = [0] * (len(ref) + 1)
    for word in cand:
        diagonal = 0
        for j, other in enumerate(ref):
            above = row[j + 1]
            row[j + 1] = {match} if word == other else max(above, row[j])
            diagonal = above
    lcs = row[-1]
    {guard}
    precision, recall = {pr}
    return (1 + beta**2) * precision * recall / (recall + beta**2 * precision)
"""
ROUGE_DEBUG_RIGHT = dict(
    match="diagonal + 1", guard="if lcs == 0:\n        return 0.0", pr="lcs / len(cand), lcs / len(ref)"
)
ROUGE_DEBUG_BUGS = dict(match="row[j] + 1", guard="", pr="lcs / len(ref), lcs / len(cand)")
right(
    "rouge_l_fbeta",
    "two rows, the previous one kept",
    """
def rouge_l_fbeta(candidate, reference, beta):
    cand, ref = candidate.split(), reference.split()
    prev = [0] * (len(ref) + 1)
    for word in cand:
        cur = [0] * (len(ref) + 1)
        for j, other in enumerate(ref):
            cur[j + 1] = prev[j] + 1 if word == other else max(prev[j + 1], cur[j])
        prev = cur
    if prev[-1] == 0:
        return 0.0
    p, r = prev[-1] / len(cand), prev[-1] / len(ref)
    return (1 + beta**2) * p * r / (r + beta**2 * p)
""",
)
wrong("rouge_l_fbeta", "the student's function as given (three bugs)", ROUGE_DEBUG.format(**ROUGE_DEBUG_BUGS))
wrong_variants(
    "rouge_l_fbeta",
    ROUGE_DEBUG,
    ROUGE_DEBUG_RIGHT,
    (
        ("the row updated in place left (a word matched twice)", dict(match=ROUGE_DEBUG_BUGS["match"])),
        ("precision and recall left swapped", dict(pr=ROUGE_DEBUG_BUGS["pr"])),
    ),
)

# ------------------------------------------------------------------ 12 attention: corpus BLEU (issue 61)
BLEU = """
def corpus_bleu(candidates, references):
    from collections import Counter
    import math

    matches, totals, c, r = [0] * 4, [0] * 4, 0, 0
    for cand, ref in zip(candidates, references):
        cand, ref = cand.split(), ref.split()
        c, r = c + len(cand), r + len(ref)
        for n in range(1, 5):
            cg = Counter(tuple(cand[i : i + n]) for i in range(len(cand) - n + 1))
            rg = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
            matches[n - 1] += sum({match} for g, k in cg.items())
            totals[n - 1] += sum(cg.values())
    {guard}
    score = {mean}
    return {penalty} * score
"""
BLEU_RIGHT = dict(
    match="min(k, rg[g])",
    guard="if c == 0 or min(matches) == 0:\n        return 0.0",
    mean="math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / 4)",
    penalty="(1.0 if c > r else math.exp(1 - r / c))",
)
right("corpus_bleu", "Counter n-grams, the formula as given", BLEU.format(**BLEU_RIGHT))
right(
    "corpus_bleu",
    "numpy's log of the product, c >= r for no penalty",
    BLEU.format(
        **{
            **BLEU_RIGHT,
            "mean": "float(np.prod(np.array(matches) / np.array(totals)) ** 0.25)",
            "penalty": "(1.0 if c >= r else np.exp(1 - r / c))",
        }
    ),
)
wrong_variants(
    "corpus_bleu",
    BLEU,
    BLEU_RIGHT,
    (
        ("no clipping: every n-gram found in the reference counts", dict(match="k * (g in rg)")),
        ("the brevity penalty left out", dict(penalty="1.0")),
        (
            "the penalty's ratio upside down, exp(1 - c / r)",
            dict(penalty="(1.0 if c > r else math.exp(1 - c / r))"),
        ),
        (
            "the arithmetic mean of the precisions",
            dict(mean="sum(m / t for m, t in zip(matches, totals)) / 4"),
        ),
    ),
)
wrong(
    "corpus_bleu",
    "the mean of the sentences' BLEU",
    """
def corpus_bleu(candidates, references):
    import math
    from collections import Counter

    def one(cand, ref):
        cand, ref = cand.split(), ref.split()
        ps = []
        for n in range(1, 5):
            cg = Counter(tuple(cand[i : i + n]) for i in range(len(cand) - n + 1))
            rg = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
            m = sum(min(k, rg[g]) for g, k in cg.items())
            if m == 0:
                return 0.0
            ps.append(m / sum(cg.values()))
        bp = 1.0 if len(cand) > len(ref) else math.exp(1 - len(ref) / len(cand))
        return bp * math.exp(sum(math.log(p) for p in ps) / 4)

    return sum(one(c, r) for c, r in zip(candidates, references)) / len(candidates)
""",
)

# ------------------------------------------------------------------ 12 attention: chrF and teacher forcing (issue 61)
CHRF = """
def corpus_chrf(candidates, references, beta):
    from collections import Counter

    N = {orders}
    m, h, g = [0] * N, [0] * N, [0] * N
    for cand, ref in zip(candidates, references):
        cand, ref = {strip}
        for n in range(1, N + 1):
            cg = Counter(cand[i : i + n] for i in range(len(cand) - n + 1))
            rg = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
            m[n - 1] += sum({match} for x, k in cg.items())
            h[n - 1] += sum(cg.values())
            g[n - 1] += sum(rg.values())
    P = sum(a / b if b else 0.0 for a, b in zip(m, h)) / N
    R = sum(a / b if b else 0.0 for a, b in zip(m, g)) / N
    if P == 0 or R == 0:
        return 0.0
    return {f}
"""
CHRF_RIGHT = dict(
    orders="6",
    strip='cand.replace(" ", ""), ref.replace(" ", "")',
    match="min(k, rg[x])",
    f="(1 + beta**2) * P * R / (beta**2 * P + R)",
)
right("corpus_chrf", "Counter n-grams, the formula as given", CHRF.format(**CHRF_RIGHT))
wrong_variants(
    "corpus_chrf",
    CHRF,
    CHRF_RIGHT,
    (
        ("the spaces kept in the character n-grams", dict(strip="cand, ref")),
        ("no clipping: every n-gram found in the reference counts", dict(match="k * (x in rg)")),
        ("orders 1 to 4, as BLEU's", dict(orders="4")),
        ("beta^2 on the recall side", dict(f="(1 + beta**2) * P * R / (P + beta**2 * R)")),
        ("beta, not its square", dict(f="(1 + beta) * P * R / (beta * P + R)")),
        ("the harmonic mean, beta ignored", dict(f="2 * P * R / (P + R)")),
        ("word n-grams instead of characters", dict(strip="tuple(cand.split()), tuple(ref.split())")),
    ),
)
wrong(
    "corpus_chrf",
    "an F-score per order, then their mean (sacreBLEU's order)",
    """
def corpus_chrf(candidates, references, beta):
    from collections import Counter

    m, h, g = [0] * 6, [0] * 6, [0] * 6
    for cand, ref in zip(candidates, references):
        cand, ref = cand.replace(" ", ""), ref.replace(" ", "")
        for n in range(1, 7):
            cg = Counter(cand[i : i + n] for i in range(len(cand) - n + 1))
            rg = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
            m[n - 1] += sum((cg & rg).values())
            h[n - 1] += sum(cg.values())
            g[n - 1] += sum(rg.values())
    total = 0.0
    for a, b, c in zip(m, h, g):
        p, r = (a / b if b else 0.0), (a / c if c else 0.0)
        total += (1 + beta**2) * p * r / (beta**2 * p + r) if p * r else 0.0
    return total / 6
""",
)
wrong(
    "corpus_chrf",
    "the mean of the sentences' chrF",
    """
def corpus_chrf(candidates, references, beta):
    from collections import Counter

    def one(cand, ref):
        cand, ref = cand.replace(" ", ""), ref.replace(" ", "")
        ps, rs = [], []
        for n in range(1, 7):
            cg = Counter(cand[i : i + n] for i in range(len(cand) - n + 1))
            rg = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
            m = sum((cg & rg).values())
            ps.append(m / sum(cg.values()) if cg else 0.0)
            rs.append(m / sum(rg.values()) if rg else 0.0)
        P, R = sum(ps) / 6, sum(rs) / 6
        return (1 + beta**2) * P * R / (beta**2 * P + R) if P * R else 0.0

    return sum(one(c, r) for c, r in zip(candidates, references)) / len(candidates)
""",
)
right(
    "corpus_chrf",
    "numpy counts over a loop of n-gram strings",
    """
def corpus_chrf(candidates, references, beta):
    stats = np.zeros((6, 3))
    for cand, ref in zip(candidates, references):
        cand, ref = "".join(cand.split()), "".join(ref.split())
        for n in range(1, 7):
            cg = [cand[i : i + n] for i in range(len(cand) - n + 1)]
            rg = [ref[i : i + n] for i in range(len(ref) - n + 1)]
            stats[n - 1] += (sum(min(cg.count(x), rg.count(x)) for x in set(cg)), len(cg), len(rg))
    P = np.mean([s[0] / s[1] if s[1] else 0.0 for s in stats])
    R = np.mean([s[0] / s[2] if s[2] else 0.0 for s in stats])
    return 0.0 if P * R == 0 else float((1 + beta**2) * P * R / (beta**2 * P + R))
""",
)

TEACHER = """
def teacher_forced_nll(table, targets, start, end, pad):
    N, T = targets.shape
    inputs = {inputs}
    log_p = table[inputs, targets]
    real = {real}
    return {result}
"""
TEACHER_RIGHT = dict(
    inputs="np.concatenate([np.full((N, 1), start), targets[:, :-1]], axis=1)",
    real="targets != pad",
    result="-(log_p * real).sum(axis=1)",
)
TEACHER_BUGS = dict(
    inputs="np.concatenate([targets[:, 1:], np.full((N, 1), start)], axis=1)",
    real="(targets != 0) & (targets != end)",
)
right(
    "teacher_forced_nll",
    "the student's function with its three bugs repaired",
    TEACHER.format(**TEACHER_RIGHT),
)
wrong(
    "teacher_forced_nll",
    "the student's function as given (three bugs)",
    TEACHER.format(**TEACHER_BUGS, result=TEACHER_RIGHT["result"]),
)
wrong_variants(
    "teacher_forced_nll",
    TEACHER,
    TEACHER_RIGHT,
    (
        ("the inputs left shifted to the left", dict(inputs=TEACHER_BUGS["inputs"])),
        ("padding compared with 0 (the end token counted)", dict(real="targets != 0")),
        (
            "the end token left out (padding compared with pad)",
            dict(real="(targets != pad) & (targets != end)"),
        ),
        ("the decoder reading the word it predicts", dict(inputs="targets")),
        (
            "the last word rolled round to position 0 instead of start",
            dict(inputs="np.roll(targets, 1, axis=1)"),
        ),
        ("the mean over the sentence's words", dict(result="-(log_p * real).sum(axis=1) / real.sum(axis=1)")),
        ("the log-likelihood, not its negative", dict(result="(log_p * real).sum(axis=1)")),
        (
            "the table read as table[target, input]",
            dict(result="-(table[targets, inputs] * real).sum(axis=1)"),
        ),
    ),
)
right(
    "teacher_forced_nll",
    "a loop over each sentence until its end token",
    """
def teacher_forced_nll(table, targets, start, end, pad):
    out = np.zeros(len(targets))
    for i, sentence in enumerate(targets):
        previous = start
        for word in sentence:
            if word == pad:
                break
            out[i] -= table[previous, word]
            previous = word
    return out
""",
)

# ------------------------------------------------------------------ 21 detection and segmentation: equal-mass ECE (issue 61)
ECE = """
def equal_mass_ece(probs, labels, n_bins):
    n = len(probs)
    order = {order}
    sizes = {sizes}
    ece, lo = 0.0, 0
    for size in sizes:
        run = order[lo : lo + size]
        lo += size
        if size:
            ece += {weight} * {gap}
    return float(ece)
"""
ECE_RIGHT = dict(
    order='np.argsort(probs, kind="stable")',
    sizes="[n // n_bins + (b < n % n_bins) for b in range(n_bins)]",
    weight="size / n",
    gap="abs(labels[run].mean() - probs[run].mean())",
)
right("equal_mass_ece", "the bins' sizes computed by hand", ECE.format(**ECE_RIGHT))
wrong_variants(
    "equal_mass_ece",
    ECE,
    ECE_RIGHT,
    (
        (
            "the remainder put in the last bin",
            dict(sizes="[n // n_bins] * (n_bins - 1) + [n - (n_bins - 1) * (n // n_bins)]"),
        ),
        (
            "bins of ceil(n / n_bins) cases, the last ones short",
            dict(sizes="[min(-(-n // n_bins), max(n - b * -(-n // n_bins), 0)) for b in range(n_bins)]"),
        ),
        ("the bins not weighted by their size", dict(weight="1 / n_bins")),
        ("the signed gap", dict(gap="(labels[run].mean() - probs[run].mean())")),
        ("the squared gap", dict(gap="(labels[run].mean() - probs[run].mean()) ** 2")),
        ("sorted by decreasing probability", dict(order='np.argsort(-probs, kind="stable")')),
        ("ties taken in reverse order", dict(order="np.lexsort((-np.arange(n), probs))")),
    ),
)
wrong(
    "equal_mass_ece",
    "bins of equal width, as in the reliability diagram",
    """
def equal_mass_ece(probs, labels, n_bins):
    bins = np.minimum((probs * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            ece += inside.mean() * abs(labels[inside].mean() - probs[inside].mean())
    return float(ece)
""",
)
wrong_with_line(
    "equal_mass_ece",
    "the caller's probabilities sorted in place",
    ECE,
    ECE_RIGHT,
    "probs.sort()",
)
right(
    "equal_mass_ece",
    "np.array_split of the stable order",
    """
def equal_mass_ece(probs, labels, n_bins):
    order = np.argsort(probs, kind="stable")
    return float(sum(len(r) / len(probs) * abs(labels[r].mean() - probs[r].mean()) for r in np.array_split(order, n_bins)))
""",
)
