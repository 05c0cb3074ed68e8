"""Chapter 5, regularization: when EarlyStopping stops, a max-norm constraint on Dense and
convolution kernels, the proximal step that makes L1 weights exactly zero."""

import operator

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise, register

CHAPTER = "05_regularization"


# ---------------------------------------------------------------- early stopping
def _simulate_stopping(val_losses, patience, min_delta, improves=operator.lt, against_best=True):
    """The EarlyStopping loop: an epoch improves when ``improves(loss, best - min_delta)``
    (``best``: the best loss so far, or the previous epoch's if not ``against_best``)."""
    best, best_epoch, wait = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        better = improves(loss, best - min_delta)
        if better or not against_best:
            best = loss
        if better:
            best_epoch, wait = epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, -1


def early_stopping_epochs(val_losses, patience, min_delta):
    """Keras's EarlyStopping on a list of validation losses (epochs counted from 0).

    An epoch improves when its loss is below best - min_delta; otherwise ``wait`` grows by
    one, and training stops at the first epoch where wait reaches ``patience``.
    Returns (best_epoch, stopped_epoch), stopped_epoch = -1 if training runs to the end."""
    return _simulate_stopping(val_losses, patience, min_delta)


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
    cases.append(Case(([0.7], 2, 0.0), label="a single epoch"))
    noise = rng.standard_normal(80) * 0.01
    losses = [round(float(v), 4) for v in 1.0 / (1.0 + 0.1 * np.arange(80)) + noise]
    cases.append(Case((losses, 6, 0.002), label="80 epochs of a slowly falling, noisy loss, patience=6"))
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
            lambda losses, patience, min_delta: _simulate_stopping(losses, patience, min_delta, operator.le),
        ),
        (
            "each epoch is compared with the one before; Keras compares with the best loss so "
            "far, so small steps add up until they beat it by min_delta",
            lambda losses, patience, min_delta: _simulate_stopping(
                losses, patience, min_delta, against_best=False
            ),
        ),
    ),
    forbids=("minidl.training.callbacks.EarlyStopping",),
    catches=("a crash on an empty list of losses",),
    equivalent_mutants={
        "early_stopping_epochs > _simulate_stopping: augassign: wait += 1 -> *": "wait is an int "
        "of the function's own: += and = + give the same count",
        "early_stopping_epochs > _simulate_stopping: const: 0 -> 1": "the start of wait: the first "
        "loss (finite) always improves on inf and resets it, so it is never seen",
        "early_stopping_epochs > _simulate_stopping: const: 0 -> -1": "the start of wait: the first "
        "loss (finite) always improves on inf and resets it, so it is never seen",
    },
    dtypes=("int", "int"),
)


# ---------------------------------------------------------------- max-norm constraint
def _unit_axes(W):
    """The axes that hold one unit's incoming weights: a Dense kernel (D, M) has them in a
    column (axis 0), a convolution kernel (F, C, KH, KW) in a filter W[f] (axes 1, 2, 3)."""
    return (0,) if W.ndim == 2 else tuple(range(1, W.ndim))


def _scaled_to_norm(W, c, axes, only_above=True):
    norms = np.sqrt(np.sum(W**2, axis=axes, keepdims=True))
    factor = c / np.maximum(norms, 1e-300)
    return W * (np.minimum(1.0, factor) if only_above else factor)


def max_norm(W, c):
    """Keras's MaxNorm(c), on a Dense kernel W (D, M) or a convolution kernel W (F, C, KH, KW):
    the weights into each unit (a column; a filter) whose L2 norm exceeds c are scaled down
    to norm c; the others, and a unit whose weights are all 0, are left as they are."""
    return _scaled_to_norm(W, c, _unit_axes(W))


def _max_norm_cases(rng):
    cases = []
    for shape, c in (((5, 4), 2.0), ((3, 6), 1.5), ((4, 3, 3, 3), 3.0), ((2, 1, 5, 5), 4.0)):
        units = shape[1] if len(shape) == 2 else shape[0]
        sizes = rng.choice([0.3, 2.0], size=units)
        sizes[:2] = (0.3, 2.0)  # at least one unit below the limit and one above
        W = rng.standard_normal(shape) * (sizes if len(shape) == 2 else sizes[:, None, None, None])
        cases.append(Case((W, c), label=f"W of shape {shape}, c={c}"))
    W = rng.standard_normal((4, 3))
    W[:, 1] = 0.0
    cases.append(Case((W, 1.0), label="a Dense kernel with a column of zeros (a unit whose norm is 0)"))
    W = rng.standard_normal((3, 3, 2, 2)) * 0.1
    cases.append(Case((W, 5.0), label="a convolution kernel whose every filter is below the limit"))
    W = rng.standard_normal((6, 4))
    W *= np.array([0.3, 0.8, 0.3, 0.8]) / np.linalg.norm(W, axis=0)  # norms 0.3 and 0.8
    cases.append(Case((W, 0.5), label="c = 0.5 < 1, units of norm 0.3 (left alone) and 0.8"))
    return cases


function_exercise(
    "max_norm",
    CHAPTER,
    2,
    "max_norm",
    "A max-norm constraint on Dense and convolution kernels",
    _max_norm_cases,
    max_norm,
    ("W",),
    mistakes=(
        (
            "the norms are taken along the rows of a Dense kernel; each unit's incoming weights "
            "are a *column* of W (D, M), so the norm runs over axis 0",
            lambda W, c: _scaled_to_norm(W, c, (1,) if W.ndim == 2 else _unit_axes(W)),
        ),
        (
            "a convolution kernel (F, C, KH, KW) is normalised along axis 0, as a Dense one: "
            "the weights into one output channel are the whole filter W[f], axes 1, 2 and 3",
            lambda W, c: _scaled_to_norm(W, c, (0,)),
        ),
        (
            "each (KH, KW) slice of a filter is bounded on its own; the unit is the output "
            "channel, whose incoming weights span every input channel: axes 1, 2 and 3",
            lambda W, c: _scaled_to_norm(W, c, (0,) if W.ndim == 2 else (2, 3)),
        ),
        (
            "every unit is scaled to norm c; a constraint only acts on the units above the limit",
            lambda W, c: _scaled_to_norm(W, c, _unit_axes(W), only_above=False),
        ),
        (
            "the whole kernel is scaled by one factor (its Frobenius norm); MaxNorm bounds each "
            "unit on its own",
            lambda W, c: _scaled_to_norm(W, c, tuple(range(W.ndim))),
        ),
    ),
    forbids=("minidl.nn.optim", "minidl.nn.regularizers"),
    catches=("NaN for a unit whose weights are all 0 (0 / 0 when scaling by c / norm)",),
    fresh_outputs=True,
    dtypes="float64",
    equivalent_mutants={
        "max_norm > _scaled_to_norm: const: 1e-300 -> -1.0": "the guard only keeps c / 0 from "
        "warning: a unit of norm 0 gets the factor inf, which the minimum with 1 caps",
    },
)


# ---------------------------------------------------------------- L1's proximal step
def _soft_threshold(u, threshold):
    return np.sign(u) * np.maximum(np.abs(u) - threshold, 0.0)


def l1_proximal_step(w, grad, lr, lam):
    """One proximal-gradient step (ISTA) for loss + lam ||w||_1: the gradient step on the loss,
    u = w - lr grad, then the w' minimising ||w' - u||^2 / 2 + lr lam ||w'||_1, which per
    weight is u shrunk towards 0 by lr lam and set to exactly 0 where |u| <= lr lam."""
    return _soft_threshold(w - lr * grad, lr * lam)


def _l1_cases(rng):
    cases = []
    for shape, lr, lam in (((4, 3), 0.1, 0.5), ((6,), 0.05, 2.0), ((2, 3, 2), 0.2, 0.0)):
        w = rng.standard_normal(shape) * 0.2
        cases.append(
            Case((w, rng.standard_normal(shape), lr, lam), label=f"w of shape {shape}, lr={lr}, lam={lam}")
        )
    w = np.array([0.05, -0.05, 0.3, -0.3, 0.01, 0.0])
    grad = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    cases.append(
        Case((w, grad, 0.1, 1.0), label="weights inside and outside the threshold lr lam = 0.1, one at 0")
    )
    w = np.array([0.02, -0.04, 0.5, 0.06], dtype=np.float32)
    cases.append(Case((w, np.zeros(4, dtype=np.float32), 0.1, 0.5), label="float32 weights, a zero gradient"))
    for case in cases:  # the public check() holds the zeros to exactly 0 as the grader does
        case.extra = {**case.extra, "exact_zeros": True}
    return cases


_L1 = function_exercise(
    "l1_proximal_step",
    CHAPTER,
    1,
    "l1_proximal_step",
    "The proximal step that makes L1 weights exactly zero",
    _l1_cases,
    l1_proximal_step,
    ("w",),
    mistakes=(
        (
            "this is the subgradient step w - lr (grad + lam sign(w)) the chapter uses: it jumps "
            "over 0 instead of stopping there, so small weights oscillate and never become 0",
            lambda w, grad, lr, lam: w - lr * (grad + lam * np.sign(w)),
        ),
        (
            "the threshold is lam; the proximal step of lr lam ||w||_1 shrinks by lr lam",
            lambda w, grad, lr, lam: _soft_threshold(w - lr * grad, lam),
        ),
        (
            "u - lr lam sign(u) crosses 0 where |u| < lr lam: the minimiser stops at exactly 0 "
            "there (max(|u| - lr lam, 0))",
            lambda w, grad, lr, lam: (w - lr * grad) - lr * lam * np.sign(w - lr * grad),
        ),
        (
            "the shrinking is applied to w before the gradient step; proximal gradient takes the "
            "gradient step first, u = w - lr grad, and shrinks u",
            lambda w, grad, lr, lam: _soft_threshold(w, lr * lam) - lr * grad,
        ),
    ),
    forbids=("minidl.nn.optim", "minidl.nn.regularizers"),
    catches=("weights inside the threshold left at 1e-17 instead of exactly 0",),
    do_register=False,
    dtypes=("like:w",),
)
_close_enough = _L1.judge


def _judge_l1(case, got):
    message = _close_enough(case, got)
    if message is not None:
        return message
    zeroed = l1_proximal_step(*case.args) == 0
    if np.any(np.asarray(got)[zeroed] != 0):
        return (
            "the weights are right to 1e-6 but not exactly 0 where |w - lr grad| <= lr lam: the "
            "proximal step sets them to exactly 0 (that is why L1 gives sparse weights)"
        )
    return None


_L1.judge = _judge_l1
register(_L1)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "early_stopping_epochs",
    ("empty", "size_one", "varied_settings", "long_sequence"),
)
declare_edges(
    "max_norm",
    ("size_one", "non_square", "varied_settings"),
    {
        "empty": "a kernel has at least one unit and one weight into it",
        "ties": "each unit's norm is compared with c alone: units of equal norms are scaled alike",
    },
)
_ELEMENTWISE = "the step is elementwise: no length of an axis is special"
declare_edges(
    "l1_proximal_step",
    ("non_square", "float32", "varied_settings"),
    {
        "empty": _ELEMENTWISE,
        "size_one": _ELEMENTWISE,
        "ties": "each weight is compared with the threshold alone, never with another weight",
    },
)
