"""Chapter 4, optimization: SGD with momentum, Adam, a bias-corrected average of the weights, and
how fast momentum converges on a quadratic (the chapter's step-size limit carried to momentum)."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

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
    1,
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
    forbids=("minidl.nn.optim.SGD", "minidl.kernels"),
    dtypes="float64",
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
    2,
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
    forbids=("minidl.nn.optim.Adam", "minidl.nn.optim.AdamW", "minidl.kernels"),
    dtypes="float64",
)


# ---------------------------------------------------------------- weight averaging
def _ema(snapshots, decay, first_weight):
    """Debiased moving averages of the rows of ``snapshots``; the step t (from 1) is divided
    by the sum of the weights its average gives the snapshots: ``first_weight(t)``."""
    averages = np.zeros_like(snapshots, dtype=np.float64)
    average = np.zeros(snapshots.shape[1:])
    for t, w in enumerate(snapshots, 1):
        average = decay * average + (1 - decay) * w
        averages[t - 1] = average / first_weight(t)
    return averages


def ema_weights(snapshots, decay):
    """Bias-corrected exponential moving averages of the weights after each step.

    average_t = decay average_(t-1) + (1 - decay) w_t from average_0 = 0 gives the w's weights
    summing to 1 - decay**t: the debiased average is average_t / (1 - decay**t)."""
    return _ema(snapshots, decay, lambda t: 1 - decay**t)


def _ema_cases(rng):
    cases = []
    for shape, decay, steps in (((3, 2), 0.9, 6), ((4,), 0.99, 5), ((2, 2), 0.5, 4)):
        drift = rng.standard_normal(shape)
        snapshots = drift + 0.1 * np.cumsum(rng.standard_normal((steps, *shape)), axis=0)
        cases.append(Case((snapshots, decay), label=f"{steps} snapshots of shape {shape}, decay={decay}"))
    constant = np.tile(rng.standard_normal(3), (5, 1))
    cases.append(Case((constant, 0.9), label="5 equal snapshots: every average is that snapshot"))
    cases.append(Case((np.zeros((0, 3)), 0.9), label="no step at all: 0 snapshots of shape (3,)"))
    cases.append(
        Case((rng.standard_normal((1, 3)), 0.9), label="a single step: its average is that snapshot")
    )
    long = rng.standard_normal(2) + 0.05 * np.cumsum(rng.standard_normal((200, 2)), axis=0)
    cases.append(Case((long, 0.99), label="200 snapshots of shape (2,), decay=0.99"))
    return cases


function_exercise(
    "ema_weights",
    CHAPTER,
    2,
    "ema_weights",
    "A bias-corrected moving average of the weights",
    _ema_cases,
    ema_weights,
    ("averages",),
    mistakes=(
        (
            "the averages are not debiased: they start near 0 (average_1 = (1 - decay) w_1); "
            "divide by the total weight the snapshots have received, as Adam does for m",
            lambda s, d: _ema(s, d, lambda t: 1.0),
        ),
        (
            "the weights of the two terms are swapped: the *old* average keeps the weight "
            "decay, the new snapshot gets 1 - decay",
            lambda s, d: _ema(s, 1 - d, lambda t: 1 - (1 - d) ** t),
        ),
        (
            "the correction is one step off: after t snapshots the weights sum to 1 - decay**t",
            lambda s, d: _ema(s, d, lambda t: 1 - d ** (t + 1)),
        ),
        (
            "the plain mean of the snapshots so far: an exponential average forgets old weights",
            lambda s, d: np.cumsum(s, axis=0) / np.arange(1, len(s) + 1).reshape(-1, *[1] * (s.ndim - 1)),
        ),
    ),
    forbids=("minidl.nn.optim",),
    catches=("a crash, or an output of the wrong shape, on 0 snapshots",),
    dtypes="float64",
    equivalent_mutants={
        "ema_weights > _ema: const: 1 -> 2 #2": "the average starts at 0: zeros of shape "
        "snapshots.shape[2:] broadcast to the same first step as zeros of shape[1:]",
    },
)


# ---------------------------------------------------------------- how fast momentum converges
def momentum_convergence_rate(A, lr, momentum):
    """The factor by which SGD with momentum shrinks the error per step, in the long run, on
    f(w) = w^T A w / 2 (A symmetric positive definite).

    Along an eigenvector of A (eigenvalue lam) the error e obeys
    e_(t+1) = (1 + momentum - lr lam) e_t - momentum e_(t-1): a 2x2 linear recurrence whose
    factor is the largest |r| of r^2 - (1 + momentum - lr lam) r + momentum = 0; the slowest
    direction sets the rate."""
    rates = []
    for lam in np.linalg.eigvalsh(A):
        step = np.array([[1 + momentum - lr * lam, -momentum], [1.0, 0.0]])
        rates.append(np.max(np.abs(np.linalg.eigvals(step))))
    return float(max(rates))


def _gd_rate(A, lr, momentum):
    return float(np.max(np.abs(1 - lr * np.linalg.eigvalsh(A))))


def _rate_of_largest(A, lr, momentum):
    lam = np.linalg.eigvalsh(A)[-1:]
    return momentum_convergence_rate(np.diag(lam), lr, momentum)


def _rate_of_diagonal(A, lr, momentum):
    return momentum_convergence_rate(np.diag(np.diag(A)), lr, momentum)


def _rotated(rng, eigenvalues):
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    return q @ np.diag(eigenvalues) @ q.T


def _rate_cases(rng):
    # (eigenvalues, lr, momentum); none on a double root, (1 - sqrt(mu))^2 = lr lam, where the
    # rate is the square root of a perturbation and no tolerance separates formulations
    settings = (
        ((1.0, 20.0), 0.02, 0.9, "the chapter's valley, rotated, with momentum: complex roots"),
        ((1.0, 20.0), 0.02, 0.3, "the same valley, less momentum: the shallow direction sets the rate"),
        ((0.5, 3.0, 8.0), 0.1, 0.0, "no momentum: plain gradient descent"),
        ((1.0, 4.0, 10.0), 0.35, 0.5, "a learning rate above 2 (1 + momentum) / lam_max: it diverges"),
        ((0.2, 1.0, 5.0, 9.0), 0.15, 0.6, "4 parameters, a mix of real and complex roots"),
        ((2.0,), 0.1, 0.5, "one parameter: A is 1x1"),
    )
    return [Case((_rotated(rng, np.array(lams)), lr, mu), label=what) for lams, lr, mu, what in settings]


function_exercise(
    "momentum_convergence_rate",
    CHAPTER,
    2,
    "momentum_convergence_rate",
    "How fast momentum converges on a quadratic",
    _rate_cases,
    momentum_convergence_rate,
    ("rate",),
    mistakes=(
        (
            "this is plain gradient descent's max |1 - lr lam|: the velocity adds the previous "
            "error, e_(t+1) = (1 + momentum - lr lam) e_t - momentum e_(t-1), a recurrence of order 2",
            _gd_rate,
        ),
        (
            "only the steepest direction is taken: with momentum the slowest direction is often "
            "the shallow one (small lam), so take the largest rate over *every* eigenvalue",
            _rate_of_largest,
        ),
        (
            "the diagonal of A is not its eigenvalues unless A is diagonal: the recurrence "
            "separates along the eigenvectors (np.linalg.eigvalsh)",
            _rate_of_diagonal,
        ),
        (
            "sqrt(momentum) is |r| only where the two roots are complex; where they are real the "
            "larger one is farther from 0",
            lambda A, lr, mu: float(np.sqrt(mu)),
        ),
    ),
    forbids=("minidl.nn.optim",),
    dtypes=("number",),
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_ELEMENTWISE = "the update is elementwise: no length of an axis is special"
declare_edges(
    "sgd_momentum_update",
    ("non_square", "varied_settings"),
    {"empty": _ELEMENTWISE, "size_one": _ELEMENTWISE},
)
declare_edges(
    "adam_update",
    ("non_square", "varied_settings"),
    {"empty": _ELEMENTWISE, "size_one": _ELEMENTWISE},
)
declare_edges(
    "ema_weights",
    ("empty", "size_one", "non_square", "varied_settings", "long_sequence"),
)
declare_edges(
    "momentum_convergence_rate",
    ("size_one", "varied_settings"),
    {
        "empty": "A describes at least one parameter",
        "non_square": "A is the Hessian of w^T A w / 2: square by definition",
        "ties": "the rate is the largest of the directions' rates, a value: which direction attains it does not matter",
        "long_sequence": "its loop runs over A's eigenvalues, one per parameter, a handful",
    },
)
