"""Chapter 13, transfer learning: freezing layers and one fine-tuning step.

These checks use minidl itself: the submission receives a real ``Sequential`` model.
The model is rebuilt from weights drawn by the grader, so the grader's process can
compute the expected result on an identical copy.
"""
import copy

from ..feedback import compare_models, compare_outputs
from ..probes import build_model, model_summary as _summary
from ..registry import Case, Exercise, register

CHAPTER = "13_transfer_learning"


def _draw_weights(rng, sizes):
    return [(rng.standard_normal((a, b)) * 0.5, rng.standard_normal(b) * 0.1)
            for a, b in zip(sizes[:-1], sizes[1:])]


# ---------------------------------------------------------------- freezing
# The "freeze" and "fine_tune" probes (build the model, call, summarise) are in probes.py.
def _freeze_cases(rng):
    return [Case((_draw_weights(rng, (6, 5, 4, 3)), n), label=f"keep the last {n} weighted "
                 f"layer(s) trainable in Dense-ReLU-Dense-ReLU-Dense") for n in (1, 2)]


def _judge_freeze(case, got):
    weights, n_trainable = case.args
    if not isinstance(got, dict) or "trainable" not in got:
        return "the grader could not read the result"
    problem = compare_models(got, _summary(build_model(weights)), "freezing changed the weights")
    if problem:          # the layers and weights must be there, as they were
        return problem
    weighted = [i for i, has in enumerate(got["has_params"]) if has]
    keep = set(weighted[-n_trainable:])
    for i in weighted:
        wanted = i in keep
        if got["trainable"][i] != wanted:
            state = "trainable" if got["trainable"][i] else "frozen"
            hint = (" (count only layers with weights: the ReLUs have none)"
                    if len(weighted) != len(got["trainable"]) else "")
            return (f"layer {i} (a Dense layer) is {state}, expected "
                    f"{'trainable' if wanted else 'frozen'}{hint}")
    return None


register(Exercise(
    name="freeze_all_but_last", chapter=CHAPTER, points=2, entries=("freeze_all_but_last",),
    title="Freeze every layer but the last ones", make_cases=_freeze_cases,
    judge=_judge_freeze, probe="freeze"))


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
        cases.append(Case((_draw_weights(rng, sizes), frozen, x, y, 0.1),
                          label=f"{len(frozen)} frozen layers, batch of {n}, lr=0.1"))
    return cases


def _expected_fine_tune(case, update_frozen=False):
    from minidl import losses
    weights, frozen, x, y, lr = copy.deepcopy(case.args)
    model = build_model(weights)
    for index in frozen:
        model.layers[index].trainable = update_frozen
    loss = fine_tune_step(model, x, y, losses.SparseCategoricalCrossentropy(from_logits=True), lr)
    return loss, _summary(model)


def _judge_fine_tune(case, got):
    if not isinstance(got, dict) or "params" not in got:
        return "the grader could not read the result"
    loss, expected = _expected_fine_tune(case)
    _, everything = _expected_fine_tune(case, update_frozen=True)
    problem = compare_outputs(got["loss"], loss, ("the returned loss",))
    if problem:
        return problem + "\n    hint: return the loss of the forward pass, before the update"
    if len(got["params"]) != len(expected["params"]):
        return "the model's layers were changed"
    for index, (mine, theirs, all_) in enumerate(zip(got["params"], expected["params"],
                                                     everything["params"])):
        names = tuple(f"layer {index} param {k}" for k in range(len(theirs)))
        if not theirs:
            continue
        wrong = [("the frozen layers were updated too: skip layers with trainable == False",
                  all_)]
        problem = compare_outputs(mine, theirs, names, wrong)
        if problem:
            return problem
    return None


register(Exercise(
    name="fine_tune_step", chapter=CHAPTER, points=2, entries=("fine_tune_step",),
    title="One fine-tuning step that respects frozen layers", make_cases=_fine_tune_cases,
    judge=_judge_fine_tune, probe="fine_tune"))


# ---------------------------------------------------------------- questions
# Graded like the code exercises; the answers and the explanations stay here, in the
# grader's process (see questions.py).
from ..questions import multiple_choice, number_question, shape_question  # noqa: E402

multiple_choice(
    "freeze_which_layers", CHAPTER, 1, "Which layers to freeze on a small new dataset",
    choices={"a": "the early layers, which compute generic features such as edges and textures",
             "b": "the last layer, which is already trained",
             "c": "none: fine-tuning every layer is always best",
             "d": "every other layer, to halve the training time"},
    answer="a",
    wrong={"b": "the last layer maps features to the *old* classes: it is the part that must be "
                "replaced and trained on the new task",
           "c": "with few examples, updating millions of weights overfits and can destroy the "
                "pretrained features; freezing them is the point of transfer learning",
           "d": "which layers are frozen should follow what they compute (generic early, specific "
                "late), not a pattern chosen for speed"},
    explanation="Early features transfer across tasks; the head is task-specific. Freeze the body, "
                "train a new head, then optionally unfreeze the top blocks with a small learning rate.")

number_question(
    "trainable_after_freeze", CHAPTER, 1, "Trainable parameters after freezing",
    value=1290, tolerance=0.5,
    mistakes=((101770, "that counts every parameter; the first layer is frozen"),
              (100480, "that is the frozen layer's count (784*128 + 128); the trainable one is the head"),
              (1280, "1280 counts the head's weights; its 10 biases train too")),
    hint="only Dense(10) on 128 features trains: its W and b",
    explanation="128*10 + 10 = 1290 trainable, 100480 frozen.")
