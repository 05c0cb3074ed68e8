"""Chapter 9, transfer learning: freezing layers, a learning rate per layer, a probe's
penalty chosen by leave-one-out.

The first two checks use minidl itself: the submission receives a real ``Sequential`` model.
The model is rebuilt from weights drawn by the grader, so the grader's process can
compute the expected result on an identical copy.
"""

import copy

import numpy as np

from minidl.exercises.probes import replaced_parameter

from ..judge.feedback import compare_models, compare_outputs
from ..judge.registry import Case, Exercise, declare_edges, function_exercise, register
from ..runtime.probes import build_model
from ..runtime.probes import model_summary as _summary

CHAPTER = "09_transfer_learning"


def _draw_weights(rng, sizes):
    return [
        (rng.standard_normal((a, b)) * 0.5, rng.standard_normal(b) * 0.1)
        for a, b in zip(sizes[:-1], sizes[1:])
    ]


# ---------------------------------------------------------------- freezing
# The "freeze" and "fine_tune" probes (build the model, call, summarise) are in probes.py.
def _with_batch_norm(rng, weights):
    """The model with a BatchNorm after its first Dense (Dense - BatchNorm - ReLU - Dense -
    ReLU - Dense): a layer with weights (gamma, beta) that is not a Dense."""
    width = weights[0][0].shape[1]
    norm = {"gamma": 1.0 + 0.1 * rng.standard_normal(width), "beta": 0.1 * rng.standard_normal(width)}
    return [weights[0], norm, *weights[1:]]


def _freeze_cases(rng):
    # (n_trainable, the layers an earlier stage froze, a BatchNorm after the first Dense)
    stages: tuple[tuple[int, list[int], bool], ...] = (
        (1, [], False),
        (2, [0, 2, 4], False),
        (0, [], False),
        (3, [0, 2], False),
        (1, [0, 2, 4], False),
        (1, [], True),  # the BatchNorm must be frozen with the Dense below it
        (3, [0, 1], True),  # ... and trainable again when it is among the last n
    )
    cases = []
    for n, earlier, norm in stages:
        weights = _draw_weights(rng, (6, 5, 4, 3))
        layers = "Dense-BatchNorm-ReLU-Dense-ReLU-Dense" if norm else "Dense-ReLU-Dense-ReLU-Dense"
        cases.append(
            Case(
                (_with_batch_norm(rng, weights) if norm else weights, n, earlier),
                label=f"keep the last {n} weighted layer(s) trainable in {layers}"
                + (f", layers {earlier} frozen by an earlier stage" if earlier else ""),
            )
        )
    return cases


_RELUS_COUNTED = "count only layers with weights: the ReLUs have none"
_EARLIER_LEFT = (
    "this layer was frozen by an earlier stage: set trainable = True on the last n_trainable "
    "weighted layers, not only False on the others"
)
_SLICE_ZERO = (
    "n_trainable = 0 freezes every weighted layer; layers[:-0] is layers[:0], an empty list: "
    "slice with len(layers) - n instead"
)
_DENSE_ONLY = (
    "a layer with weights is one whose `layer.params` is not empty, whatever its class: the "
    "BatchNorm (gamma, beta) counts and is frozen or trained like a Dense"
)


def _layers(weights) -> tuple[list[str], list[int]]:
    """The kinds of the layers of ``build_model(weights)`` and the indices of those with weights."""
    summary = _summary(build_model(weights))
    return summary["kinds"], [i for i, has in enumerate(summary["has_params"]) if has]


def _public_freeze(case) -> dict:
    """What check() needs: each layer's expected ``trainable`` (None: a ReLU, not judged),
    and the flags that the usual mistakes leave (the model's weights are the case's)."""
    weights, n, earlier = case.args
    kinds, weighted = _layers(weights)
    keep = set(weighted[len(weighted) - n :])
    dense = [i for i in weighted if kinds[i] == "Dense"]

    def flags(trainable) -> list:
        return [bool(trainable(i)) if i in weighted else None for i in range(len(kinds))]

    expected = flags(lambda i: i in keep)
    mistakes = [
        (_RELUS_COUNTED, flags(lambda i: i >= len(kinds) - n)),
        (_SLICE_ZERO, flags(lambda i: True) if n == 0 else expected),
        (_EARLIER_LEFT, flags(lambda i: i in keep and i not in earlier)),
        (
            _DENSE_ONLY,
            flags(lambda i: i in dense[len(dense) - n :] if i in dense else i not in earlier),
        ),
    ]
    return {
        "expected": expected,
        "mistakes": [(hint, wrong) for hint, wrong in mistakes if wrong != expected],
        "factors": {},
    }


def _judge_freeze(case, got):
    weights, n_trainable, earlier = case.args
    if not isinstance(got, dict) or "trainable" not in got:
        return "the grader could not read the result"
    problem = compare_models(got, _summary(build_model(weights)), "freezing changed the weights")
    if problem:  # the layers and weights must be there, as they were
        return problem
    kinds, weighted = _layers(weights)
    keep = set(weighted[len(weighted) - n_trainable :])  # [-0:] would be all of them
    for i in weighted:
        wanted = i in keep
        if got["trainable"][i] != wanted:
            state = "trainable" if got["trainable"][i] else "frozen"
            hint = f" ({_RELUS_COUNTED})" if len(weighted) != len(got["trainable"]) else ""
            if kinds[i] != "Dense":
                hint += f" ({_DENSE_ONLY})"
            if wanted and i in earlier:
                hint += f" ({_EARLIER_LEFT})"
            if n_trainable == 0 and got["trainable"][i]:
                hint += f" ({_SLICE_ZERO})"
            return (
                f"layer {i} (a {kinds[i]}) is {state}, expected {'trainable' if wanted else 'frozen'}{hint}"
            )
    return None


register(
    Exercise(
        name="freeze_all_but_last",
        chapter=CHAPTER,
        points=2,
        entries=("freeze_all_but_last",),
        title="One stage of gradual unfreezing",
        make_cases=_freeze_cases,
        judge=_judge_freeze,
        probe="freeze",
        public=_public_freeze,
        public_kind="freeze",
        forbids=("minidl.gallery.transfer",),
        catches=(
            "ReLU layers (no weights) counted among the layers",
            "layers[:-n] for n = 0, which freezes nothing instead of everything",
            "the weights changed, or layers removed or replaced",
            "layers left frozen that should train (n = all weighted layers)",
            "layers frozen by an earlier stage left frozen (trainable never set back to True)",
            "only the Dense layers counted (isinstance(layer, Dense)): the BatchNorm, which has weights, left out",
        ),
    )
)


# ---------------------------------------------------------------- discriminative fine-tuning
DECAY = 2.6  # ULMFiT's factor between one weighted layer's rate and the next one's


def _rates(model, lr, rule="right"):
    """The learning rate of each layer of ``model`` (None: not updated) under ``rule``: the
    reference ("right"), or a named mistake."""
    layers = model.layers
    weighted = [i for i, layer in enumerate(layers) if layer.params]
    if rule == "relus counted":  # depth over every layer, weights or not
        depth = {i: len(layers) - 1 - i for i in weighted}
    elif rule == "frozen skipped":  # depth over the trainable layers only
        kept = [i for i in weighted if layers[i].trainable]
        depth = {i: len(kept) - 1 - kept.index(i) for i in kept}
    elif rule == "from the bottom":
        depth = {i: k for k, i in enumerate(weighted)}
    else:
        depth = {i: len(weighted) - 1 - k for k, i in enumerate(weighted)}
    factor = {"one rate": 1.0, "multiplied": 1.0 / DECAY}.get(rule, DECAY)
    rates: list = [None] * len(layers)
    for i, k in depth.items():
        if layers[i].trainable or rule == "frozen updated":
            rates[i] = lr / factor**k
    return rates


def _discriminative_step(model, x, y, loss_fn, lr, rule="right"):
    """Reference: forward (training), loss, backward, then SGD with each layer's own rate."""
    rates = _rates(model, lr, rule)
    loss = loss_fn(model.forward(x, training=True), y)
    model.backward(loss_fn.backward())
    for layer, rate in zip(model.layers, rates):
        for key in layer.params if rate is not None else ():
            layer.params[key] -= rate * layer.grads[key]
    return float(loss)


DISCRIMINATIVE_MISTAKES = {
    "one rate": "every layer stepped with lr: the layer below the top one steps with lr / 2.6, "
    "the next with lr / 2.6**2, and so on",
    "from the bottom": "the rates decay from the bottom up: the *last* weighted layer (the head) "
    "gets lr, the first one the smallest rate",
    "relus counted": "layers without weights were counted: the ReLUs have no rate and do not "
    "add a factor 2.6",
    "frozen skipped": "frozen layers were left out of the count: they keep their place (a layer "
    "under a frozen one still gets its own depth's rate)",
    "frozen updated": "the frozen layers were updated too: skip layers with trainable == False",
    "multiplied": "the rates grow with depth (lr * 2.6**k); the lower layers, whose features are "
    "generic, get the *smaller* rates",
}


def _discriminative_cases(rng):
    # (sizes, frozen layers, lr, a BatchNorm after the first Dense). The BatchNorm case judges
    # "forward in training mode" by value: its batch statistics differ from its running ones,
    # so a step run with training=False returns another loss and moves the weights elsewhere,
    # whatever the recorded training flags say (issue 68).
    cases = []
    for sizes, frozen, lr, norm in (
        ((4, 6, 5, 3), [], 0.5, False),
        ((3, 5, 4, 2), [0], 0.5, False),
        ((4, 5, 6, 3), [4], 0.5, False),
        ((5, 4, 4, 3), [2], 0.2, False),
        ((4, 6, 5, 3), [], 0.5, True),
    ):
        n = 7
        x = rng.standard_normal((n, sizes[0]))
        y = rng.integers(0, sizes[-1], n)
        weights = _draw_weights(rng, sizes)
        where = ", ".join(f"layer {i}" for i in frozen) or "none"
        cases.append(
            Case(
                (_with_batch_norm(rng, weights) if norm else weights, frozen, x, y, lr),
                label=f"frozen: {where}; batch of {n}, lr={lr}"
                + ("; Dense-BatchNorm-ReLU-Dense-ReLU-Dense" if norm else ""),
            )
        )
    return cases


def _after_step(case, rule):
    from minidl.nn import losses

    weights, frozen, x, y, lr = copy.deepcopy(case.args)
    model = build_model(weights, frozen)
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    loss = _discriminative_step(model, x, y, loss_fn, lr, rule)
    return loss, _summary(model)


def _public_discriminative(case) -> dict:
    """What check() needs: the loss, every layer's parameters after the step, and the
    parameters each usual mistake leaves (those that differ from the right ones)."""
    loss, expected = _after_step(case, "right")
    mistakes = []
    for rule, hint in DISCRIMINATIVE_MISTAKES.items():
        params = _after_step(case, rule)[1]["params"]
        same = all(
            np.array_equal(a, b)
            for mine, theirs in zip(params, expected["params"])
            for a, b in zip(mine, theirs)
        )
        if not same:
            mistakes.append((hint, params))
    return {
        "expected": {"loss": loss, "params": expected["params"]},
        "mistakes": mistakes,
        "factors": {},
    }


def _judge_discriminative(case, got):
    if not isinstance(got, dict) or "params" not in got:
        return "the grader could not read the result"
    if True not in got.get("training_modes", []):
        return (
            "the model never ran in training mode: call model.forward(x, training=True) in a "
            "training step (Dropout and BatchNorm behave differently in training)"
        )
    loss, expected = _after_step(case, "right")
    problem = compare_outputs(got["loss"], loss, ("the returned loss",))
    if problem:
        return problem + "\n    hint: return the loss of the forward pass, before the update"
    problem = compare_models(got, expected)
    if problem is None:
        return replaced_parameter(got) or _built_arrays_stepped(got, expected)
    for rule, hint in DISCRIMINATIVE_MISTAKES.items():
        if compare_models(got, _after_step(case, rule)[1]) is None:
            return f"{problem}\n    hint: {hint}"
    return problem


def _built_arrays_stepped(got, expected) -> str | None:
    """The in-place rule judged by value (issue 68): the arrays each layer was built with
    (``built_params``, their values after the call, read where the answer ran by the
    grader's code) must hold the step: a step that binds new arrays leaves them as they were."""
    if "built_params" not in got:
        return None
    problem = compare_models({**got, "params": got["built_params"]}, expected)
    if problem:
        return (
            f"the arrays the layers were built with do not hold the step ({problem}): the task asks "
            "to update the parameters in place, `params[key] -= ...`"
        )
    return None


register(
    Exercise(
        name="discriminative_fine_tune_step",
        chapter=CHAPTER,
        points=2,
        entries=("discriminative_fine_tune_step",),
        title="Fine-tuning with a learning rate per layer",
        make_cases=_discriminative_cases,
        judge=_judge_discriminative,
        probe="fine_tune",
        public=_public_discriminative,
        public_kind="fine_tune",
        forbids=("minidl.gallery.transfer", "minidl.nn.optim", "minidl.training.trainer"),
        catches=(
            "the model never run with training=True",
            "the loss returned after the update instead of before",
            "the weights changed, or layers removed or replaced",
            "a parameter bound to a new array (params[key] = params[key] - ...) instead of updated in place",
        )
        + tuple(DISCRIMINATIVE_MISTAKES.values()),
    )
)


# ---------------------------------------------------------------- choosing the probe's penalty
def ridge_loo(features, labels, n_classes, lams):
    """Leave-one-out errors of the ridge probe W = (X^T X + lam I)^-1 X^T Y (X the features
    with a column of ones, penalised like the rest; Y one-hot), without refitting: with
    H = X (X^T X + lam I)^-1 X^T, sample i's left-out residual is (Y - H Y)_i / (1 - H_ii).

    Returns (loo_mse (L,), the mean of the squared left-out residuals over samples and
    classes; loo_accuracy (L,), the share of samples whose left-out prediction Y_i - residual
    has its largest entry at the sample's label; best_lam, the lam of the smallest loo_mse,
    the first one on a tie)."""
    return _ridge_loo(features, labels, n_classes, lams)


def _ridge_loo(features, labels, n_classes, lams, mistake=None):
    x = features if mistake == "no bias" else np.hstack([features, np.ones((len(features), 1))])
    y = np.eye(n_classes)[labels]
    mse, accuracy = [], []
    for lam in lams:
        hat = x @ np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T)
        residual = y - hat @ y
        leverage = np.diag(hat)[:, None]
        divisor: float | np.ndarray
        if mistake == "in-sample":
            divisor = 1.0
        elif mistake == "squared":
            divisor = (1.0 - leverage) ** 2
        elif mistake == "generalized":
            divisor = 1.0 - leverage.mean()
        else:
            divisor = 1.0 - leverage
        left_out = residual / divisor
        mse.append(np.mean(left_out**2))
        accuracy.append(np.mean(np.argmax(y - left_out, axis=1) == labels))
    return np.array(mse), np.array(accuracy), float(lams[int(np.argmin(mse))])


RIDGE_LOO_MISTAKES = {
    "in-sample": "these are the in-sample residuals Y - HY: each sample was in its own fit, so the "
    "error is too small and favours the smallest lam; divide row i by 1 - H_ii",
    "squared": "row i was divided by (1 - H_ii)**2; the left-out residual is the residual over 1 - H_ii",
    "generalized": "every row was divided by the mean of 1 - H_ii (generalised cross-validation, an "
    "approximation); leave-one-out divides row i by its own 1 - H_ii",
    "no bias": "the bias column is missing: append a column of ones to the features (penalised like "
    "the rest) before forming H",
}


def _ridge_loo_cases(rng):
    cases = []
    for n, f, k, lams in (
        (12, 4, 3, [0.01, 0.1, 1.0, 10.0]),
        (20, 6, 5, [0.5, 5.0, 50.0]),
        (6, 8, 2, [0.1, 1.0, 3.0]),  # more features than samples: lam > 0 keeps it solvable
        (9, 3, 3, [2.0]),
    ):
        for _ in range(200):  # with several lams: drawn until the best accuracy is not at the best error
            labels = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
            centres = rng.standard_normal((k, f)) * 1.5
            features = centres[labels] + rng.standard_normal((n, f)) + 1.0
            _, accuracy, best = ridge_loo(features, labels, k, lams)
            if len(lams) < 4 or lams[int(np.argmax(accuracy))] != best:
                break
        cases.append(
            Case(
                (features, labels, k, lams),
                label=f"{n} samples of {f} features, {k} classes, {len(lams)} values of lam",
            )
        )
    return cases


function_exercise(
    "ridge_loo",
    CHAPTER,
    2,
    "ridge_loo",
    "Choosing the linear probe's penalty by leave-one-out, without refitting",
    _ridge_loo_cases,
    ridge_loo,
    ("loo_mse", "loo_accuracy", "best_lam"),
    mistakes=tuple(
        (hint, lambda f, labels, k, lams, mistake=mistake: _ridge_loo(f, labels, k, lams, mistake))
        for mistake, hint in RIDGE_LOO_MISTAKES.items()
    ),
    forbids=("minidl.gallery.transfer", "minidl.nn.regularizers"),
    dtypes=("float64", "float64", "number"),
    equivalent_mutants={
        "ridge_loo > _ridge_loo: delete: divisor: float | np.ndarray -> pass": "a bare annotation "
        "for the type checker: it assigns nothing",
    },
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "freeze_all_but_last",
    ("empty", "non_square", "varied_settings"),
    {
        "size_one": "the model is the chapter's Dense-ReLU-Dense-ReLU-Dense; keeping 1 layer is a case (a setting)",
        "repeated_indices": "the earlier stage's frozen layers are a set of indices: a repeat would mean nothing",
    },
)
declare_edges(
    "discriminative_fine_tune_step",
    ("empty", "size_one", "non_square", "repeated_indices", "varied_settings"),
)
declare_edges(
    "ridge_loo",
    ("size_one", "non_square", "repeated_indices", "varied_settings"),
    {
        "empty": "the task takes at least one sample of each class and one value of lam",
        "ties": "its argmax runs over fitted class scores, which real-valued features do not tie",
        "long_sequence": "its loop runs over the values of lam, a few",
    },
)
