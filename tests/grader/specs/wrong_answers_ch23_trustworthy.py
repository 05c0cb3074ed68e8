"""Chapter 23's usual wrong answers, and right answers written differently (read by
``wrong_answers.py`` after the TOML catalogue; see its docstring)."""

from tests.grader.specs.wrong_answers import right, wrong

# ------------------------------------------------------------------ 23 trustworthy: one PGD step
PGD = """
def pgd_step(x_adv, x, grad, step, eps):
    {body}
"""
right(
    "pgd_step",
    "the pixel range first, then the ball (the two boxes meet: the same answer)",
    PGD.format(body="return np.clip(np.clip(x_adv + step * np.sign(grad), 0, 1), x - eps, x + eps)"),
)
right(
    "pgd_step",
    "minimum and maximum for the clips",
    PGD.format(
        body="y = np.minimum(np.maximum(x_adv + step * np.sign(grad), x - eps), x + eps)\n"
        "    return np.minimum(np.maximum(y, 0.0), 1.0)"
    ),
)
for label, body in (
    (
        "a step along the gradient itself",
        "return np.clip(np.clip(x_adv + step * grad, x - eps, x + eps), 0, 1)",
    ),
    ("a descent step", "return np.clip(np.clip(x_adv - step * np.sign(grad), x - eps, x + eps), 0, 1)"),
    (
        "the ball around x_adv",
        "return np.clip(np.clip(x_adv + step * np.sign(grad), x_adv - eps, x_adv + eps), 0, 1)",
    ),
    ("no clip to the pixel range", "return np.clip(x_adv + step * np.sign(grad), x - eps, x + eps)"),
    ("no projection onto the ball", "return np.clip(x_adv + step * np.sign(grad), 0, 1)"),
    (
        "the step from x instead of x_adv",
        "return np.clip(np.clip(x + step * np.sign(grad), x - eps, x + eps), 0, 1)",
    ),
    (
        "the step scaled by eps",
        "return np.clip(np.clip(x_adv + eps * np.sign(grad), x - eps, x + eps), 0, 1)",
    ),
    (
        "x_adv changed in place",
        "x_adv += step * np.sign(grad)\n    return np.clip(np.clip(x_adv, x - eps, x + eps), 0, 1)",
    ),
):
    wrong("pgd_step", label, PGD.format(body=body))

# ------------------------------------------------------------------ integrated gradients
IG = """
def integrated_gradients(W, v, x, baseline, steps):
    alphas = {alphas}
    points = baseline + alphas[:, None] * (x - baseline)
    grads = (v * (1 - np.tanh(points @ W.T) ** 2)) @ W
    return {result}
"""
IG_RIGHT = dict(alphas="(np.arange(steps) + 0.5) / steps", result="(x - baseline) * grads.mean(axis=0)")
right("integrated_gradients", "vectorised over the steps", IG.format(**IG_RIGHT))
right(
    "integrated_gradients",
    "linspace of the midpoints",
    IG.format(**{**IG_RIGHT, "alphas": "np.linspace(0.5 / steps, 1 - 0.5 / steps, steps)"}),
)
for label, slots in (
    ("the left Riemann sum", dict(alphas="np.arange(steps) / steps")),
    ("the right Riemann sum", dict(alphas="np.arange(1, steps + 1) / steps")),
    ("linspace from 0 to 1 (the ends counted)", dict(alphas="np.linspace(0, 1, steps)")),
    ("times x, the baseline forgotten", dict(result="x * grads.mean(axis=0)")),
    ("the mean gradient alone", dict(result="grads.mean(axis=0)")),
    ("the sum of the gradients, not their mean", dict(result="(x - baseline) * grads.sum(axis=0)")),
    ("the gradient at x alone", dict(alphas="np.ones(steps)")),
):
    wrong("integrated_gradients", label, IG.format(**{**IG_RIGHT, **slots}))
wrong(
    "integrated_gradients",
    "tanh for its derivative",
    IG.format(**IG_RIGHT).replace("(1 - np.tanh(points @ W.T) ** 2)", "np.tanh(points @ W.T)"),
)

# ------------------------------------------------------------------ per-group rates, repaired
GROUPS = """
def group_rates(y_true, flagged, groups, n_groups):
    rates = {init}
    for g in {loop}:
        t, f = y_true[groups == g] == 1, flagged[groups == g]
        for j, (hits, among) in enumerate(((f & t, t), (~f & ~t, {spec}), (f & t, {ppv}))):
            if np.any(among):
                rates[g, j] = np.sum(hits) / np.sum(among)
    return rates
"""
GROUPS_RIGHT = dict(init="np.full((n_groups, 3), np.nan)", loop="range(n_groups)", spec="~t", ppv="f")
right("group_rates", "a loop over the rates", GROUPS.format(**GROUPS_RIGHT))
right(
    "group_rates",
    "masks and means, NaN where a mask is empty",
    """
def group_rates(y_true, flagged, groups, n_groups):
    def rate(hits, among):
        return float(np.mean(hits[among])) if among.any() else np.nan
    out = []
    for g in range(n_groups):
        mine = groups == g
        sick, flag = (y_true == 1) & mine, flagged & mine
        out.append([rate(flagged, sick), rate(~flagged, (y_true == 0) & mine), rate(y_true == 1, flag)])
    return np.array(out, dtype=float)
""",
)
for label, slots in (
    ("the specificity over the positives", dict(spec="t")),
    ("the PPV over the whole group", dict(ppv="np.ones_like(f)")),
    ("zeros for an empty group", dict(init="np.zeros((n_groups, 3))", loop="np.unique(groups)")),
    ("zeros where a denominator is empty", dict(init="np.zeros((n_groups, 3))")),
    ("the groups present only (NaN start, still skipped)", dict(loop="np.unique(groups)[:-1]")),
    ("the sensitivity for the PPV", dict(ppv="t")),
):
    wrong("group_rates", label, GROUPS.format(**{**GROUPS_RIGHT, **slots}))
wrong(
    "group_rates",
    "the given function, unrepaired",
    """
def group_rates(y_true, flagged, groups, n_groups):
    rates = np.zeros((n_groups, 3))
    for g in np.unique(groups):
        t, f = y_true[groups == g] == 1, flagged[groups == g]
        sensitivity = np.sum(f & t) / np.sum(t)
        specificity = np.sum(~f & ~t) / np.sum(t)
        ppv = np.sum(f & t) / len(f)
        rates[g] = sensitivity, specificity, ppv
    return rates
""",
)
