"""Chapter 9's spec (``grader/minidl_grader/specs/ch09.py``, transfer learning): its cases
accept the reference's outputs, fail every mistake the spec names with that mistake's hint, and
are drawn by the grading seed alone (tests/grader/specs/spec_checks.py)."""

import pytest

from tests.grader.specs import spec_checks as checks

CHAPTER = "09_transfer_learning"


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_the_reference_passes_every_case(name):
    checks.assert_the_reference_passes_every_case(name, seed=11)


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_every_named_mistake_fails_with_its_hint(name):
    checks.assert_every_named_mistake_fails_with_its_hint(name, seed=11)


@pytest.mark.parametrize("name", checks.code_exercises(CHAPTER))
def test_the_cases_are_drawn_by_the_seed(name):
    checks.assert_the_cases_are_drawn_by_the_seed(name)


def test_a_step_in_inference_mode_fails_by_value_whatever_its_flags_say():
    """The training flags the model probe records are the one rule a function run where the
    model is read could forge (grader/README.md, issue 68); the case with a BatchNorm judges
    the rule by value: run with ``training=False`` it normalises with its running statistics,
    so the loss and the step differ from the reference, flags or not."""
    import copy

    import numpy as np
    from minidl_grader.specs import ch09

    from minidl.nn import losses

    cases = ch09._discriminative_cases(np.random.default_rng(11))
    case = next(case for case in cases if "BatchNorm" in case.label)

    def step(training: bool) -> dict:
        weights, frozen, x, y, lr = copy.deepcopy(case.args)
        model = ch09.build_model(weights)
        loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
        loss = float(loss_fn(model.forward(x, training=training), y))
        model.backward(loss_fn.backward())
        weighted = [layer for layer in model.layers if layer.params]
        for depth, layer in enumerate(reversed(weighted)):
            for key, value in layer.params.items():
                value -= lr / 2.6**depth * layer.grads[key]
        return {**ch09._summary(model), "loss": loss, "training_modes": [True]}

    assert ch09._judge_discriminative(case, step(training=True)) is None
    problem = ch09._judge_discriminative(case, step(training=False))
    assert problem is not None and "loss" in problem
