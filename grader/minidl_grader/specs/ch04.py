"""Chapter 4, optimization: a broken AdamW step to repair, the longest step Adam can take (a bound
to derive), a bias-corrected average of the weights, and how fast momentum converges on a
quadratic (the chapter's step-size limit carried to momentum)."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "04_optimization"


# ---------------------------------------------------------------- AdamW, repaired
def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One AdamW step after t steps already taken (t = 0 on the first call). Returns (w, m, v).

    The moments see the loss gradient only; the weights as they were before this step shrink
    by the fraction lr * weight_decay of themselves (decoupled weight decay), and the Adam step
    of step number t + 1 is subtracted."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1 ** (t + 1))
    v_hat = v / (1 - beta2 ** (t + 1))
    return w * (1 - lr * weight_decay) - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adamw(args, l2=False, step=1, inside=False, decay=None):
    """AdamW on ``args`` (the reference's) with one of the student's bugs (or another mistake)
    switched on."""
    w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay = args
    if l2:
        dw = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    with np.errstate(divide="ignore", invalid="ignore"):
        m_hat = m / (1 - beta1 ** (t + step))
        v_hat = v / (1 - beta2 ** (t + step))
        adam = m_hat / np.sqrt(v_hat + eps) if inside else m_hat / (np.sqrt(v_hat) + eps)
    shrink = 1.0 if l2 else (1 - lr * weight_decay if decay is None else decay(lr, weight_decay))
    return w * shrink - lr * adam, m, v


def _adamw_cases(rng):
    def case(shape, t, lr, eps, wd, what, grad_scale=1.0, zero_grad=False):
        fresh = t == 0
        m = np.zeros(shape) if fresh else 0.1 * rng.standard_normal(shape)
        v = np.zeros(shape) if fresh else 0.1 * rng.random(shape)
        dw = np.zeros(shape) if zero_grad else grad_scale * rng.standard_normal(shape)
        return Case((rng.standard_normal(shape), dw, m, v, t, lr, 0.9, 0.999, eps, wd), label=what)

    return [
        case((3, 4), 0, 1e-2, 1e-8, 0.01, "the first step of a fresh optimizer: t = 0, zero moments"),
        case((5,), 4, 1e-2, 1e-8, 0.1, "t = 4 steps already taken"),
        case((2, 3), 2, 1e-2, 0.1, 0.05, "eps = 0.1, not tiny"),
        case((4,), 0, 0.1, 1e-8, 0.5, "a zero loss gradient: only the decay acts", zero_grad=True),
        case((3, 2), 99, 1e-3, 1e-8, 0.0, "weight_decay = 0: AdamW is Adam (t = 99)"),
        case((6,), 7, 0.1, 1e-8, 0.5, "gradients a thousand times larger, a strong decay", grad_scale=1e3),
    ]


function_exercise(
    "adamw_update",
    CHAPTER,
    2,
    "adamw_update",
    "AdamW, repaired",
    _adamw_cases,
    adamw_update,
    ("w", "m", "v"),
    mistakes=(
        (
            "the decay goes through the gradient (Adam's L2), so the division by sqrt(v_hat) "
            "rescales it: AdamW shrinks the weights directly, and m and v see the loss gradient only",
            lambda *a: _adamw(a, l2=True),
        ),
        (
            "the bias correction uses the t of the argument: t counts the steps already taken "
            "(0 on the first call, where 1 - beta1**0 = 0), so this step is number t + 1",
            lambda *a: _adamw(a, step=0),
        ),
        ("eps is inside the square root; it is added to sqrt(v_hat)", lambda *a: _adamw(a, inside=True)),
        (
            "the weights shrink by weight_decay itself; the fraction is lr * weight_decay",
            lambda *a: _adamw(a, decay=lambda lr, wd: 1 - wd),
        ),
    ),
    forbids=("minidl.nn.optim", "minidl.kernels"),
    catches=(
        "the caller's m and v changed in place (the grader checks that the inputs did not change)",
        "the updated weights decayed instead of the weights before the step",
    ),
    dtypes="float64",
)


# ---------------------------------------------------------------- Adam's largest step
def adam_largest_step(t, beta1, beta2):
    """The largest |m_hat_t| / sqrt(v_hat_t) of Adam (eps = 0) over every sequence of t
    gradients, and the sequence that attains it, scaled so that its last gradient is 1.

    m_t = sum_s a_s g_s and v_t = sum_s b_s g_s^2, a_s = (1 - beta1) beta1^(t-s) and
    b_s = (1 - beta2) beta2^(t-s): by Cauchy-Schwarz, m_t^2 <= (sum_s a_s^2 / b_s) v_t, with
    equality where g_s is proportional to a_s / b_s, (beta1 / beta2)^(t-s)."""
    k = np.arange(t)
    total = np.sum((beta1**2 / beta2) ** k)
    ratio = (1 - beta1) / (1 - beta1**t) * np.sqrt((1 - beta2**t) / (1 - beta2) * total)
    return float(ratio), (beta1 / beta2) ** k[::-1]


def _largest_step(t, beta1, beta2, corrected=True, terms=0, base=None, order=-1):
    k = np.arange(t + terms)
    total = np.sum((beta1**2 / beta2 if base is None else base(beta1, beta2)) ** k)
    ratio = (1 - beta1) * np.sqrt(total / (1 - beta2))
    if corrected:
        ratio *= np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return float(ratio), (beta1 / beta2) ** np.arange(t)[::order]


def _kingma_ba(t, beta1, beta2):
    """Kingma & Ba's rule of thumb (section 2.1) and the constant gradient."""
    bound = (1 - beta1) / np.sqrt(1 - beta2)
    return float(max(bound, 1.0)), np.ones(t)


def _largest_step_cases(rng):
    settings = (
        (1, 0.9, 0.999, "the first step (t = 1), the default betas"),
        (10, 0.9, 0.999, "t = 10, the default betas"),
        (1000, 0.9, 0.999, "t = 1000, the default betas: the long run"),
        (20, 0.0, 0.99, "beta1 = 0 (RMSprop with a bias correction), t = 20"),
        (12, 0.5, 0.25, "beta1**2 == beta2 exactly, t = 12"),
        (8, 0.9, 0.5, "beta1**2 > beta2 (and beta1 > beta2), t = 8"),
        (3, 0.8, 0.95, "t = 3"),
        (2, 0.3, 0.6, "t = 2"),
    )
    return [Case((t, b1, b2), label=what) for t, b1, b2, what in settings]


function_exercise(
    "adam_largest_step",
    CHAPTER,
    2,
    "adam_largest_step",
    "How long can one step of Adam be?",
    _largest_step_cases,
    adam_largest_step,
    ("ratio", "gradients"),
    mistakes=(
        (
            "this is the step on a constant gradient (m_hat = g, v_hat = g^2 at every t): gradients "
            "that grow (with the default betas) do more, since v remembers their smaller past",
            lambda t, b1, b2: (1.0, np.ones(t)),
        ),
        ("Kingma & Ba's rule of thumb is not the maximum: derive it", _kingma_ba),
        (
            "the bias corrections are left out: the ratio is of m_hat and sqrt(v_hat), "
            "m_t / (1 - beta1**t) and v_t / (1 - beta2**t)",
            lambda t, b1, b2: _largest_step(t, b1, b2, corrected=False),
        ),
        (
            "one term too many: the sums run over the t gradients g_1 ... g_t, powers 0 ... t - 1",
            lambda t, b1, b2: _largest_step(t, b1, b2, terms=1),
        ),
        (
            "the ratio of the weights is a_s^2 / b_s (squared first weight), not a_s / b_s",
            lambda t, b1, b2: _largest_step(t, b1, b2, base=lambda b1, b2: b1 / b2),
        ),
        (
            "the gradients are in reverse order: g_1 comes first, and the last one, g_t, has the "
            "largest weight in m",
            lambda t, b1, b2: _largest_step(t, b1, b2, order=1),
        ),
    ),
    forbids=("minidl.nn.optim", "minidl.kernels"),
    catches=("0 / 0 where beta1**2 == beta2 (a geometric series of ratio 1)",),
    dtypes=("number", "float64"),
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
    # a long run with a small decay: decay**-t overflows near t = 1024 (0.5**-1024 is inf), so
    # a closed form that scales the snapshots by decay**-t and back by decay**t gives NaN
    long = rng.standard_normal(2) + 0.05 * np.cumsum(rng.standard_normal((1200, 2)), axis=0)
    cases.append(Case((long, 0.5), label="1200 snapshots of shape (2,), decay=0.5"))
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
    catches=(
        "a crash, or an output of the wrong shape, on 0 snapshots",
        "a closed form through decay**-t that overflows on a long run (1200 snapshots, decay 0.5)",
    ),
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

declare_edges(
    "adamw_update",
    ("non_square", "varied_settings"),
    {
        "empty": "the update is elementwise: no length of an axis is special",
        "size_one": "the update is elementwise: no length of an axis is special",
    },
)
declare_edges(
    "adam_largest_step",
    ("varied_settings",),
    {
        "empty": "no array argument; t >= 1 (Adam's first step has t = 1, among the cases)",
        "size_one": "no array argument; t = 1, a single gradient, is among the cases",
    },
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
