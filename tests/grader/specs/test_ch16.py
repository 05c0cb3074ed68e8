"""Chapter 16's graded exercises: the references (written independently of the library) agree
with minidl.nn.preference where the two meet, and the chapter has its exercises.

Whole-notebook grading (solutions full marks, generated exercises 0), the named mistakes and
the mutants are covered for every chapter of the registry elsewhere (tests/grader/...).
"""

from __future__ import annotations

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.specs import ch16

from minidl.nn import preference
from tests.grader.specs import spec_checks as checks

CHAPTER = "16_post_training"


def test_the_chapter_has_three_code_exercises_and_two_questions():
    items = registry.for_chapter("16_post_training")
    assert sorted(e.name for e in items if not e.is_question) == [
        "cdpo_loss",
        "kl_shaped_returns",
        "response_nll",
    ]
    assert sorted(e.kind for e in items if e.is_question) == ["choice", "number"]


@pytest.mark.parametrize("beta", [0.1, 1.0, 3.0])
def test_cdpo_without_label_noise_is_the_librarys_dpo(beta):
    rng = np.random.default_rng(0)
    policy, ref = rng.standard_normal((7, 2)) * 3, rng.standard_normal((7, 2)) * 3
    loss, grad = ch16.cdpo_loss(policy, ref, beta, 0.0)
    dpo = preference.DPO(beta)
    assert loss == pytest.approx(dpo(policy, ref), rel=1e-12)
    np.testing.assert_allclose(grad, dpo.backward(), rtol=1e-12)


def test_cdpo_with_eps_one_half_pushes_toward_a_zero_margin():
    """Half the labels flipped: the loss is symmetric in h, its gradient zero at h = 0."""
    policy = np.array([[1.0, 1.0], [2.0, 0.0]])
    _, grad = ch16.cdpo_loss(policy, np.zeros((2, 2)), 0.5, 0.5)
    assert grad[0, 0] == 0.0 and grad[1, 0] > 0  # a positive margin is pushed back down


def test_response_nll_is_the_librarys_masked_crossentropy():
    rng = np.random.default_rng(1)
    logits, targets = rng.standard_normal((3, 8, 5)), rng.integers(0, 5, (3, 8))
    prompt_len, length = np.array([2, 3, 4]), np.array([5, 7, 6])
    loss, grad = ch16.response_nll(logits, targets, prompt_len, length)
    t = np.arange(8)
    keep = (t >= prompt_len[:, None] - 1) & (t <= length[:, None] - 2)
    library = preference.MaskedSequenceCrossentropy()
    assert loss == pytest.approx(library(logits, np.where(keep, targets, -1)), rel=1e-12)
    np.testing.assert_allclose(grad, library.backward(), rtol=1e-12, atol=1e-15)


def test_the_first_return_is_the_chapters_sequence_return():
    """At the response's first token the return is r - beta sum_t (logp - ref): section 5's."""
    rng = np.random.default_rng(2)
    mask = np.zeros((3, 9), bool)
    mask[0, 2:5], mask[1, 1:8], mask[2, 3:4] = True, True, True
    logp, ref, rewards = -rng.random((3, 9)), -rng.random((3, 9)), rng.standard_normal(3)
    returns = ch16.kl_shaped_returns(rewards, logp, ref, mask, 0.3)
    first = mask.argmax(axis=1)
    expected = rewards - 0.3 * np.where(mask, logp - ref, 0.0).sum(axis=1)
    np.testing.assert_allclose(returns[np.arange(3), first], expected, rtol=1e-12)
    assert np.all(returns[~mask] == 0)


def test_the_dpo_question_is_the_librarys_gradient():
    dpo = preference.DPO(0.2)
    dpo(np.array([[2.0, -3.0]]), np.zeros((1, 2)))
    assert dpo.backward()[0, 0] == pytest.approx(-0.0538, abs=1e-4)


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_the_reference_passes_every_case(name):
    checks.assert_the_reference_passes_every_case(name, seed=11)


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_every_named_mistake_fails_with_its_hint(name):
    checks.assert_every_named_mistake_fails_with_its_hint(name, seed=11)


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_the_cases_are_drawn_by_the_seed(name):
    checks.assert_the_cases_are_drawn_by_the_seed(name)
