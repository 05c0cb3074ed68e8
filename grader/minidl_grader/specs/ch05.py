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


def _off_the_boundary(losses, min_delta):
    """``losses`` moved by 2e-5 wherever two of them differ by min_delta to 1e-9: there the
    verdict would depend on the last bit of a float (``loss < best - min_delta`` and
    ``best - loss > min_delta`` are the same rule and must score alike)."""
    losses = list(losses)
    for j in range(len(losses)):
        while any(abs(losses[i] - losses[j] - min_delta) < 1e-9 for i in range(j)):
            losses[j] = round(losses[j] + 2e-5, 5)
    return losses


def _stopping_ties_improve(val_losses, patience, min_delta):
    best, best_epoch, wait = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss <= best - min_delta:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, -1


def _stopping_vs_previous(val_losses, patience, min_delta):
    previous, best_epoch, wait = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss < previous - min_delta:
            best_epoch, wait = epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
        previous = loss
    return best_epoch, -1


def _stopping_cases(rng):
    cases = []
    for n, patience, min_delta in ((12, 2, 0.0), (15, 3, 0.01), (10, 1, 0.0), (6, 8, 0.0), (14, 2, 0.05)):
        base = 1.0 / (1.0 + np.arange(n)) + 0.6 * np.arange(n) / n
        noise = 0.03 * rng.standard_normal(n)
        losses = [round(float(v), 4) for v in base + noise]
        cases.append(
            Case(
                (_off_the_boundary(losses, min_delta), patience, min_delta),
                label=f"{n} epochs, patience={patience}, min_delta={min_delta}",
            )
        )
    cases.append(
        Case(
            ([1.0, 0.996, 0.992, 0.988, 0.984, 0.98, 0.976, 0.972], 3, 0.01),
            label="a loss that falls by 0.004 per epoch, min_delta=0.01",
        )
    )
    cases.append(
        Case(([0.5, 0.5, 0.5, 0.4], 2, 0.0), label="a loss that stays level: a tie is no improvement")
    )
    cases.append(Case(([], 3, 0.0), label="no epoch at all"))
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
        (
            "an equal loss counted as an improvement: Keras improves only when the loss is "
            "strictly below best - min_delta",
            lambda losses, patience, min_delta: _stopping_ties_improve(losses, patience, min_delta),
        ),
        (
            "each epoch is compared with the one before; Keras compares with the best loss so "
            "far, so small steps add up until they beat it by min_delta",
            lambda losses, patience, min_delta: _stopping_vs_previous(losses, patience, min_delta),
        ),
    ),
    forbids=("minidl.training.callbacks.EarlyStopping",),
    catches=("a crash on an empty list of losses",),
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
    forbids=("minidl.nn.optim", "minidl.nn.regularizers"),
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
    forbids=("minidl.nn.regularizers",),
)
