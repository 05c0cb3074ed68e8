"""Chapter 5, regularization: when EarlyStopping stops, a max-norm constraint, the L2 penalty."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "05_regularization"


# ---------------------------------------------------------------- early stopping
def early_stopping_epochs(val_losses, patience, min_delta):
    """Keras's EarlyStopping on a list of validation losses (epochs counted from 0).

    An epoch improves when its loss is below best - min_delta; otherwise ``wait`` grows by
    one, and training stops at the first epoch where wait reaches ``patience``.
    Returns (best_epoch, stopped_epoch), stopped_epoch = -1 if training runs to the end."""
    best, best_epoch, wait = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best - min_delta:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, -1


def _stopping_one_late(val_losses, patience, min_delta):
    return early_stopping_epochs(val_losses, patience + 1, min_delta)


def _stopping_no_delta(val_losses, patience, min_delta):
    return early_stopping_epochs(val_losses, patience, 0.0)


def _stopping_cases(rng):
    cases = []
    for n, patience, min_delta in ((12, 2, 0.0), (15, 3, 0.01), (10, 1, 0.0), (6, 8, 0.0), (14, 2, 0.05)):
        base = 1.0 / (1.0 + np.arange(n)) + 0.6 * np.arange(n) / n
        noise = 0.03 * rng.standard_normal(n)
        cases.append(
            Case(
                ([round(float(v), 4) for v in base + noise], patience, min_delta),
                label=f"{n} epochs, patience={patience}, min_delta={min_delta}",
            )
        )
    cases.append(
        Case(
            ([1.0, 0.995, 0.99, 0.985, 0.98, 0.975], 2, 0.01),
            label="a loss that falls by 0.005 per epoch, min_delta=0.01",
        )
    )
    return cases


function_exercise(
    "early_stopping_epochs",
    CHAPTER,
    2,
    "early_stopping_epochs",
    "When EarlyStopping stops, and which epoch it keeps",
    _stopping_cases,
    early_stopping_epochs,
    ("best_epoch", "stopped_epoch"),
    mistakes=(
        (
            "this stops one epoch late: Keras stops at the first epoch where the count of "
            "epochs without improvement *reaches* patience",
            _stopping_one_late,
        ),
        (
            "min_delta is ignored: an improvement smaller than min_delta does not count (and "
            "does not move the best epoch)",
            _stopping_no_delta,
        ),
    ),
)


# ---------------------------------------------------------------- max-norm constraint
def max_norm(W, c):
    """Keras's MaxNorm(c) on a Dense kernel W (D, M): each column (the weights into one unit)
    whose L2 norm exceeds c is scaled down to norm c; the others are left as they are."""
    norms = np.sqrt(np.sum(W**2, axis=0, keepdims=True))
    return W * np.minimum(1.0, c / np.maximum(norms, 1e-300))


def _max_norm_cases(rng):
    cases = []
    for (d, m), c in (((5, 4), 2.0), ((3, 6), 1.5), ((8, 2), 3.0)):
        W = rng.standard_normal((d, m)) * rng.choice([0.3, 2.0], size=m)
        cases.append(Case((W, c), label=f"W of shape {(d, m)}, c={c}"))
    return cases


function_exercise(
    "max_norm",
    CHAPTER,
    2,
    "max_norm",
    "A max-norm constraint on a Dense kernel",
    _max_norm_cases,
    max_norm,
    ("W",),
    mistakes=(
        (
            "the norms are taken along the rows; each unit's incoming weights are a *column* "
            "of W (D, M), so the norm runs over axis 0",
            lambda W, c: W * np.minimum(1.0, c / np.sqrt(np.sum(W**2, axis=1, keepdims=True))),
        ),
        (
            "every column is scaled to norm c; a constraint only acts on the columns above the limit",
            lambda W, c: W * c / np.sqrt(np.sum(W**2, axis=0, keepdims=True)),
        ),
        (
            "the whole matrix is scaled by one factor (its Frobenius norm); MaxNorm bounds each "
            "unit's column on its own",
            lambda W, c: W * min(1.0, c / np.sqrt(np.sum(W**2))),
        ),
    ),
)


def l2_penalty(W, lam):
    """Keras's L2: penalty = lam * sum(W**2), gradient 2 * lam * W. Returns (penalty, dW)."""
    return lam * np.sum(W**2), 2.0 * lam * W


def _l2_cases(rng):
    return [
        Case((rng.standard_normal((4, 3)), 0.01), label="W of shape (4, 3), lam=0.01"),
        Case((rng.standard_normal((2, 3, 2)), 0.5), label="W of shape (2, 3, 2), lam=0.5"),
    ]


function_exercise(
    "l2_penalty",
    CHAPTER,
    1,
    "l2_penalty",
    "The L2 penalty and its gradient",
    _l2_cases,
    l2_penalty,
    ("penalty", "dW"),
    mistakes=(
        ("the factor 2 from differentiating W**2 is missing", lambda W, lam: (lam * np.sum(W**2), lam * W)),
    ),
    factors=lambda W, lam: {"2": 2.0},
)
