"""Chapter 23, trustworthy models: one step of projected gradient descent with its projection
onto the epsilon-ball, integrated gradients of a one-hidden-layer network by the midpoint rule,
and per-group sensitivity, specificity and PPV of a screening test, repaired (empty groups and
empty denominators NaN); questions on why the three rates cannot all be equal across groups
whose base rates differ, and on a saliency map that survives randomised weights.

References: Madry et al. (2018), "Towards deep learning models resistant to adversarial
attacks", for PGD; Sundararajan et al. (2017), "Axiomatic attribution for deep networks", for
integrated gradients; Kleinberg et al. (2017) and Hardt et al. (2016) for the per-group rates;
Adebayo et al. (2018) for the sanity checks."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "23_trustworthy"


# ---------------------------------------------------------------- one PGD step
def pgd_step(x_adv, x, grad, step, eps):
    """x_adv + step sign(grad), then clipped to [x - eps, x + eps] and to [0, 1] (same shape)."""
    return _pgd_step(x_adv, x, grad, step, eps)


def _pgd_step(x_adv, x, grad, step, eps, *, sign=True, ascent=True, centre="x", box=True, ball=True):
    direction = np.sign(grad) if sign else grad
    moved = x_adv + (step if ascent else -step) * direction
    middle = x if centre == "x" else x_adv
    if ball:
        moved = np.clip(moved, middle - eps, middle + eps)
    return np.clip(moved, 0.0, 1.0) if box else moved


def _pgd_cases(rng):
    cases = []
    for shape, step, eps in (
        ((5, 7), 0.03, 0.1),
        ((2, 1, 6, 6), 0.2, 0.1),
        ((40,), 0.01, 0.3),
        ((3, 3), 0.05, 0.05),
    ):
        x = rng.uniform(0, 1, shape)
        x.flat[:4] = (0.0, 1.0, eps / 2, 1 - eps / 3)  # on the ends of the range and near them
        x_adv = np.clip(x + rng.uniform(-eps, eps, shape), 0, 1)
        x_adv.flat[4:6] = np.clip(x.flat[4:6] + (eps, -eps), 0, 1)  # on the edge of the ball
        grad = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 2, shape)
        grad.flat[6:8] = 0.0  # no move
        cases.append(
            Case(
                (x_adv, x, grad, step, eps),
                label=f"shape {shape}, step {step}, eps {eps}: pixels at 0, 1 and near them, "
                "an x_adv on the ball's edge, gradient entries of 0",
            )
        )
    return cases


function_exercise(
    "pgd_step",
    CHAPTER,
    2,
    "pgd_step",
    "One PGD step with its projection",
    _pgd_cases,
    pgd_step,
    ("x_adv",),
    forbids=("minidl.gallery.trust",),
    equivalent_mutants={
        "pgd_step > _pgd_step: copy: middle = x -> *": "middle is only read (np.clip returns a new "
        "array): a copy of x changes nothing",
    },
    mistakes=(
        (
            "the step follows the gradient's sign, not the gradient itself",
            lambda *a: _pgd_step(*a, sign=False),
        ),
        (
            "the attack raises the loss: add the step (ascent), do not subtract it",
            lambda *a: _pgd_step(*a, ascent=False),
        ),
        (
            "the ball is around the original image x, not around the current x_adv (else the "
            "attack drifts eps further every step)",
            lambda *a: _pgd_step(*a, centre="x_adv"),
        ),
        ("a pixel must stay in [0, 1]: clip to the pixel range too", lambda *a: _pgd_step(*a, box=False)),
        (
            "project onto the eps-ball around x: clip to [x - eps, x + eps]",
            lambda *a: _pgd_step(*a, ball=False),
        ),
    ),
    dtypes="float64",
)


# ---------------------------------------------------------------- integrated gradients
def integrated_gradients(W, v, x, baseline, steps):
    """F(x) = v . tanh(W x), W (H, D), v (H,), x and baseline (D,): (x - baseline) times the mean
    of grad F at baseline + (k + 1/2)/steps (x - baseline), k < steps -> (D,)."""
    return _integrated_gradients(W, v, x, baseline, steps)


def _integrated_gradients(W, v, x, baseline, steps, *, offset=0.5, input_only=False, derivative=True):
    total = np.zeros(x.shape)
    for k in range(steps):
        point = baseline + (k + offset) / steps * (x - baseline)
        slope = 1.0 - np.tanh(W @ point) ** 2 if derivative else np.tanh(W @ point)
        total += W.T @ (v * slope)
    return (x if input_only else x - baseline) * total / steps


def _ig_mean_gradient(W, v, x, baseline, steps):
    """The mean gradient along the path, not multiplied by x - baseline."""
    alphas = (np.arange(steps) + 0.5) / steps
    points = baseline + alphas[:, None] * (x - baseline)
    return ((v * (1.0 - np.tanh(points @ W.T) ** 2)) @ W).mean(axis=0)


def _ig_cases(rng):
    cases = []
    for h, d, steps, scale, zero in (
        (4, 3, 1, 1.0, True),
        (1, 4, 3, 1.0, False),  # one hidden unit
        (6, 5, 2, 1.0, False),
        (8, 10, 50, 0.5, False),
        (3, 7, 7, 40.0, True),
    ):
        W = rng.standard_normal((h, d)) * scale
        if scale > 10:
            W[0, 0] = 120.0  # deep in the tanh's flat part
        v = rng.standard_normal(h)
        x = rng.uniform(-1, 1, d)
        baseline = np.zeros(d) if zero else rng.uniform(-0.5, 0.5, d)
        if not zero:
            baseline[0] = x[0]  # a coordinate where the input equals the baseline
        cases.append(
            Case(
                (W, v, x, baseline, steps),
                label=f"W {(h, d)}, {steps} steps, baseline {'zeros' if zero else 'not zero'}"
                + (", large weights (tanh saturates)" if scale > 10 else ""),
            )
        )
    return cases


function_exercise(
    "integrated_gradients",
    CHAPTER,
    3,
    "integrated_gradients",
    "Integrated gradients of a small network",
    _ig_cases,
    integrated_gradients,
    ("attributions",),
    forbids=("minidl.gallery.trust",),
    equivalent_mutants={
        "integrated_gradients > _integrated_gradients: augassign: total += *": "total is the "
        "function's own accumulator: += and = + add the same",
    },
    mistakes=(
        (
            "the midpoint rule evaluates at (k + 1/2) / steps, not at k / steps (the left end)",
            lambda *a: _integrated_gradients(*a, offset=0.0),
        ),
        (
            "the midpoint rule evaluates at (k + 1/2) / steps, not at (k + 1) / steps (the right end)",
            lambda *a: _integrated_gradients(*a, offset=1.0),
        ),
        (
            "multiply the mean gradient by x - baseline, not by x alone",
            lambda *a: _integrated_gradients(*a, input_only=True),
        ),
        (
            "the mean gradient is multiplied by (x - baseline) at the end",
            _ig_mean_gradient,
        ),
        (
            "the derivative of tanh(u) is 1 - tanh(u)^2, not tanh(u)",
            lambda *a: _integrated_gradients(*a, derivative=False),
        ),
    ),
    dtypes="float64",
)


# ---------------------------------------------------------------- per-group rates, repaired
def group_rates(y_true, flagged, groups, n_groups):
    """(n_groups, 3): per group, sensitivity (flagged among y = 1), specificity (not flagged among
    y = 0) and PPV (y = 1 among the flagged); NaN where the denominator is empty."""
    return _group_rates(y_true, flagged, groups, n_groups, bugs=())


GROUP_BUGS = {
    "specificity": "the specificity counts the unflagged among those *without* the finding: divide by "
    "their number, not by the number with it",
    "ppv": "the PPV is a fraction of the *flagged*: divide by how many were flagged, not by the group's size",
    "empty": "a group nobody belongs to has no rates: NaN, not 0 (loop over range(n_groups), start from NaN)",
}


def _group_rates(y_true, flagged, groups, n_groups, *, bugs):
    rates = np.full((n_groups, 3), np.nan)
    for g in range(n_groups):
        t, f = y_true[groups == g] == 1, flagged[groups == g]
        pairs = (
            (f & t, t),
            (~f & ~t, t if "specificity" in bugs else ~t),
            (f & t, np.ones_like(f) if "ppv" in bugs else f),
        )
        for j, (hits, among) in enumerate(pairs):
            rates[g, j] = np.sum(hits) / np.sum(among) if np.any(among) else np.nan
    return rates


def _with_bugs(y_true, flagged, groups, n_groups, *, bugs):
    """The rates with ``bugs``; "empty" leaves a group nobody belongs to at 0 (the given
    function's zeros, never written: it loops over the groups present)."""
    rates = _group_rates(y_true, flagged, groups, n_groups, bugs=bugs)
    if "empty" in bugs:
        rates[~np.isin(np.arange(n_groups), groups)] = 0.0
    return rates


def _group_cases(rng):
    cases = []
    for n, n_groups in ((60, 3), (200, 4), (25, 2)):
        groups = rng.integers(0, n_groups, n)
        y_true = (rng.uniform(size=n) < 0.4).astype(np.int64)
        flagged = rng.uniform(size=n) < np.where(y_true == 1, 0.7, 0.2)
        cases.append(Case((y_true, flagged, groups, n_groups), label=f"{n} people in {n_groups} groups"))
    # group 1 is empty, group 2 has no one with the finding, group 3 no one flagged, group 4 one
    # person (flagged, with the finding), group 5 one person (not flagged, without)
    groups = np.array([0, 0, 0, 0, 2, 2, 2, 3, 3, 3, 4, 5, 0, 2])
    y_true = np.array([1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0])
    flagged = np.array([1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1], dtype=bool)
    cases.append(
        Case(
            (y_true, flagged, groups, 6),
            label="an empty group, a group with no finding, one with no one flagged, groups of one",
        )
    )
    cases.append(
        Case(
            (np.array([1]), np.array([True]), np.array([1]), 2),
            label="one person, in group 1 of 2 (group 0 is empty)",
        )
    )
    return cases


function_exercise(
    "group_rates",
    CHAPTER,
    2,
    "group_rates",
    "Per-group rates, repaired",
    _group_cases,
    group_rates,
    ("rates",),
    mistakes=(
        (
            "this is the function as given, its bugs still in it",
            lambda *a: _with_bugs(*a, bugs=tuple(GROUP_BUGS)),
        ),
    )
    + tuple(
        (f"{hint} (the other bugs are fixed)", lambda *a, bug=bug: _with_bugs(*a, bugs=(bug,)))
        for bug, hint in GROUP_BUGS.items()
    ),
    forbids=("sklearn.metrics", "minidl.training.metrics"),
    dtypes="float64",
)


declare_edges("pgd_step", ("size_one", "non_square", "varied_settings"), {"empty": "an image has pixels"})
declare_edges(
    "integrated_gradients",
    ("size_one", "non_square", "extreme_magnitude", "varied_settings"),
    {"empty": "a network has inputs and hidden units", "long_sequence": "its loop runs over the steps"},
)
declare_edges(
    "group_rates",
    ("size_one", "repeated_indices", "varied_settings", "long_sequence"),
    {"empty": "a screening report has people to count"},
)
