"""Chapter 23's graded exercises: the references agree with the library's attacks and
attributions (written independently of them) and with rates counted by hand; the cases accept
the references, reject every named mistake with its hint and are drawn by the grading seed alone
(tests/grader/specs/spec_checks.py)."""

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.specs import ch23

import minidl as mdl
from minidl import layers as L
from minidl.gallery import trust
from tests.grader.specs import spec_checks as checks

CHAPTER = "23_trustworthy"


def test_the_chapter_has_three_code_exercises_and_two_questions():
    items = registry.for_chapter(CHAPTER)
    assert sorted(e.name for e in items if not e.is_question) == [
        "group_rates",
        "integrated_gradients",
        "pgd_step",
    ]
    assert sorted(e.name for e in items if e.is_question) == ["sanity_check_reading", "why_not_all_three"]


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_the_reference_passes_every_case(name):
    checks.assert_the_reference_passes_every_case(name, seed=11)


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_every_named_mistake_fails_with_its_hint(name):
    checks.assert_every_named_mistake_fails_with_its_hint(name, seed=11)


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_the_cases_are_drawn_by_the_seed(name):
    checks.assert_the_cases_are_drawn_by_the_seed(name)


def _tanh_network(W, v):
    model = mdl.Sequential(
        [L.Dense(W.shape[0], activation="tanh", use_bias=False), L.Dense(1, use_bias=False)],
        input_shape=(W.shape[1],),
        dtype="float64",
    )
    model.layers[0].params["W"][...] = W.T
    model.layers[1].params["W"][...] = v[:, None]
    return model


def test_pgd_step_is_one_step_of_the_librarys_pgd():
    rng = np.random.default_rng(0)
    W, v = rng.standard_normal((6, 5)), rng.standard_normal((6, 3))
    model = mdl.Sequential([L.Dense(6, activation="tanh"), L.Dense(3)], input_shape=(5,), dtype="float64")
    x, y = rng.uniform(0, 1, (8, 5)), rng.integers(0, 3, 8)
    x[0, 0] = 0.0
    one = trust.pgd(model, x, y, eps=0.1, step=0.07, steps=1)
    two = trust.pgd(model, x, y, eps=0.1, step=0.07, steps=2)
    np.testing.assert_allclose(
        ch23.pgd_step(x, x, trust.input_gradient(model, x, y), 0.07, 0.1), one, rtol=1e-12
    )
    np.testing.assert_allclose(
        ch23.pgd_step(one, x, trust.input_gradient(model, one, y), 0.07, 0.1), two, rtol=1e-12
    )
    assert W.shape and v.shape  # the draws above keep the seed's stream the same


def test_integrated_gradients_reference_is_the_librarys_on_the_same_network():
    rng = np.random.default_rng(1)
    W, v = rng.standard_normal((4, 6)), rng.standard_normal(4)
    x, base = rng.uniform(-1, 1, 6), rng.uniform(-0.3, 0.3, 6)
    model = _tanh_network(W, v)
    library = trust.integrated_gradients(model, x[None], np.array([0]), baseline=base[None], steps=9)[0]
    np.testing.assert_allclose(ch23.integrated_gradients(W, v, x, base, 9), library, rtol=1e-10)
    many = ch23.integrated_gradients(W, v, x, base, 400)
    gap = v @ np.tanh(W @ x) - v @ np.tanh(W @ base)
    assert abs(many.sum() - gap) < 1e-5  # completeness


def test_group_rates_by_hand():
    y_true = np.array([1, 1, 0, 0, 0, 1, 0])
    flagged = np.array([1, 0, 1, 0, 0, 1, 1], dtype=bool)
    groups = np.array([0, 0, 0, 0, 0, 2, 2])
    rates = ch23.group_rates(y_true, flagged, groups, 3)
    np.testing.assert_allclose(rates[0], [1 / 2, 2 / 3, 1 / 2])
    assert np.isnan(rates[1]).all()  # nobody in group 1
    np.testing.assert_allclose(rates[2], [1.0, 0.0, 1 / 2])
