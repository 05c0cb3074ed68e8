"""Chapter 13, transfer learning: freezing layers, one fine-tuning step, a closed-form linear head.

The first two checks use minidl itself: the submission receives a real ``Sequential`` model.
The model is rebuilt from weights drawn by the grader, so the grader's process can
compute the expected result on an identical copy.
"""

import copy

import numpy as np

from ..judge.feedback import compare_models, compare_outputs
from ..runtime.probes import build_model, model_summary as _summary
from ..judge.registry import Case, Exercise, function_exercise, register

CHAPTER = "13_transfer_learning"


def _draw_weights(rng, sizes):
    return [
        (rng.standard_normal((a, b)) * 0.5, rng.standard_normal(b) * 0.1)
        for a, b in zip(sizes[:-1], sizes[1:])
    ]


# ---------------------------------------------------------------- freezing
# The "freeze" and "fine_tune" probes (build the model, call, summarise) are in probes.py.
def _freeze_cases(rng):
    return [
        Case(
            (_draw_weights(rng, (6, 5, 4, 3)), n),
            label=f"keep the last {n} weighted layer(s) trainable in Dense-ReLU-Dense-ReLU-Dense",
        )
        for n in (1, 2, 0, 3)
    ]


def _judge_freeze(case, got):
    weights, n_trainable = case.args
    if not isinstance(got, dict) or "trainable" not in got:
        return "the grader could not read the result"
    problem = compare_models(got, _summary(build_model(weights)), "freezing changed the weights")
    if problem:  # the layers and weights must be there, as they were
        return problem
    weighted = [i for i, has in enumerate(got["has_params"]) if has]
    keep = set(weighted[len(weighted) - n_trainable :])  # [-0:] would be all of them
    for i in weighted:
        wanted = i in keep
        if got["trainable"][i] != wanted:
            state = "trainable" if got["trainable"][i] else "frozen"
            hint = (
                " (count only layers with weights: the ReLUs have none)"
                if len(weighted) != len(got["trainable"])
                else ""
            )
            if n_trainable == 0 and got["trainable"][i]:
                hint += (
                    " (n_trainable = 0 freezes every weighted layer; layers[:-0] is "
                    "layers[:0], an empty list: slice with len(layers) - n instead)"
                )
            return (
                f"layer {i} (a Dense layer) is {state}, expected {'trainable' if wanted else 'frozen'}{hint}"
            )
    return None


register(
    Exercise(
        name="freeze_all_but_last",
        chapter=CHAPTER,
        points=2,
        entries=("freeze_all_but_last",),
        title="Freeze every layer but the last ones",
        make_cases=_freeze_cases,
        judge=_judge_freeze,
        probe="freeze",
        forbids=("minidl.gallery.transfer",),
        catches=(
            "ReLU layers (no weights) counted among the layers",
            "layers[:-n] for n = 0, which freezes nothing instead of everything",
            "the weights changed, or layers removed or replaced",
            "layers left frozen that should train (n = all weighted layers)",
        ),
    )
)


# ---------------------------------------------------------------- fine-tuning step
def fine_tune_step(model, x, y, loss_fn, lr):
    """Reference: forward, loss, backward, then SGD on the trainable layers only."""
    y_pred = model.forward(x, training=True)
    loss = loss_fn(y_pred, y)
    model.backward(loss_fn.backward())
    for layer in model.layers:
        if layer.trainable:
            for key in layer.params:
                layer.params[key] -= lr * layer.grads[key]
    return float(loss)


def _fine_tune_cases(rng):
    cases = []
    for sizes, frozen in (((4, 6, 5, 3), [0, 1, 2, 3]), ((3, 5, 4, 2), [0, 1])):
        n = 7
        x = rng.standard_normal((n, sizes[0]))
        y = rng.integers(0, sizes[-1], n)
        cases.append(
            Case(
                (_draw_weights(rng, sizes), frozen, x, y, 0.1),
                label=f"{len(frozen)} frozen layers, batch of {n}, lr=0.1",
            )
        )
    return cases


def _expected_fine_tune(case, update_frozen=False):
    from minidl.nn import losses

    weights, frozen, x, y, lr = copy.deepcopy(case.args)
    model = build_model(weights)
    for index in frozen:
        model.layers[index].trainable = update_frozen
    loss = fine_tune_step(model, x, y, losses.SparseCategoricalCrossentropy(from_logits=True), lr)
    return loss, _summary(model)


def _judge_fine_tune(case, got):
    if not isinstance(got, dict) or "params" not in got:
        return "the grader could not read the result"
    if True not in got.get("training_modes", []):
        return (
            "the model never ran in training mode: call model.forward(x, training=True) in a "
            "training step (Dropout and BatchNorm behave differently in training)"
        )
    loss, expected = _expected_fine_tune(case)
    _, everything = _expected_fine_tune(case, update_frozen=True)
    problem = compare_outputs(got["loss"], loss, ("the returned loss",))
    if problem:
        return problem + "\n    hint: return the loss of the forward pass, before the update"
    if len(got["params"]) != len(expected["params"]):
        return "the model's layers were changed"
    for index, (mine, theirs, all_) in enumerate(
        zip(got["params"], expected["params"], everything["params"])
    ):
        names = tuple(f"layer {index} param {k}" for k in range(len(theirs)))
        if not theirs:
            continue
        wrong = [("the frozen layers were updated too: skip layers with trainable == False", all_)]
        problem = compare_outputs(mine, theirs, names, wrong)
        if problem:
            return problem
    return None


register(
    Exercise(
        name="fine_tune_step",
        chapter=CHAPTER,
        points=2,
        entries=("fine_tune_step",),
        title="One fine-tuning step that respects frozen layers",
        make_cases=_fine_tune_cases,
        judge=_judge_fine_tune,
        probe="fine_tune",
        forbids=("minidl.gallery.transfer", "minidl.nn.optim", "minidl.training.trainer"),
        catches=(
            "the model never run with training=True",
            "the frozen layers updated too",
            "the loss returned after the update instead of before",
            "the weights changed, or layers removed or replaced",
        ),
    )
)


# ---------------------------------------------------------------- a closed-form probe
def ridge_probe(features, labels, n_classes, lam):
    """A linear head on frozen features, fitted in closed form (no SGD): ridge regression
    onto one-hot targets, W = (X^T X + lam I)^-1 X^T Y with X the features and a column
    of ones appended (the bias, penalised like the rest). Returns W (F + 1, K)."""
    x = np.hstack([features, np.ones((len(features), 1))])
    y = np.eye(n_classes)[labels]
    return np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ y)


def _ridge_no_bias(features, labels, n_classes, lam):
    y = np.eye(n_classes)[labels]
    w = np.linalg.solve(features.T @ features + lam * np.eye(features.shape[1]), features.T @ y)
    return np.vstack([w, np.zeros((1, n_classes))])


def _ridge_cases(rng):
    cases = []
    for n, f, k, lam in ((12, 4, 3, 0.1), (20, 6, 5, 1.0), (8, 3, 2, 0.01)):
        labels = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
        cases.append(
            Case(
                (rng.standard_normal((n, f)) + 1.0, labels, k, lam),
                label=f"{n} samples of {f} features, {k} classes, lam={lam}",
            )
        )
    return cases


function_exercise(
    "ridge_probe",
    CHAPTER,
    2,
    "ridge_probe",
    "A linear head fitted in closed form",
    _ridge_cases,
    ridge_probe,
    ("W",),
    mistakes=(
        (
            "the bias column is missing: append a column of ones to the features, so the "
            "last row of W is the bias",
            _ridge_no_bias,
        ),
    ),
    forbids=("minidl.gallery.transfer", "minidl.nn.regularizers"),
)
