"""Chapter 20's graded exercises: the references agree with the library where it computes the
same thing (written independently of it), and every named mistake is caught with its hint.

Whole-notebook grading (solutions full marks, generated exercises 0) is in
tests/grader/test_runner.py and tests/grader/judge/test_feedback_verdict.py, which cover every chapter of the registry.
"""

from __future__ import annotations

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.specs import ch20

from minidl import losses
from minidl.gallery import diffusion as dif
from minidl.nn.gradcheck import numerical_gradient, rel_error
from tests.grader.specs import spec_checks as checks

CHAPTER = "20_contrastive"


def test_the_chapter_has_three_code_exercises_and_two_questions():
    items = registry.for_chapter("20_contrastive")
    assert sorted(e.name for e in items if not e.is_question) == [
        "clip_loss_grad",
        "expected_recall_at_k",
        "guided_ddim_step",
    ]
    assert sorted(e.kind for e in items if e.is_question) == ["choice", "number"]


@pytest.mark.parametrize("tau", [0.07, 0.5, 2.0])
def test_clip_reference_is_the_librarys_loss_on_unit_embeddings(tau):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    loss = losses.InfoNCE(tau, within=False)
    value = loss(np.concatenate([a, b]))
    ref, da, db, dtau = ch20.clip_loss_grad(a, b, tau)
    assert ref == pytest.approx(value, rel=1e-10)
    assert dtau == pytest.approx(loss.d_temperature, rel=1e-8)
    # on the sphere the library's gradient is the reference's with its radial part removed
    grad = loss.backward()
    for g, u, ours in ((grad[:5], a, da), (grad[5:], b, db)):
        np.testing.assert_allclose(g, ours - u * (u * ours).sum(axis=1, keepdims=True), atol=1e-10)


def test_clip_reference_gradients_are_finite_differences():
    rng = np.random.default_rng(1)
    a, b, tau = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), np.array([0.3])
    _, da, db, dtau = ch20.clip_loss_grad(a, b, 0.3)
    assert rel_error(da, numerical_gradient(lambda: ch20.clip_loss_grad(a, b, 0.3)[0], a)) < 1e-6
    assert rel_error(db, numerical_gradient(lambda: ch20.clip_loss_grad(a, b, 0.3)[0], b)) < 1e-6
    numeric = numerical_gradient(lambda: ch20.clip_loss_grad(a, b, float(tau[0]))[0], tau)
    assert rel_error(np.array([dtau]), numeric) < 1e-6


def test_expected_recall_at_k_averages_every_order_of_the_ties():
    """The reference against recall@k averaged over every permutation of each row's gallery (ties
    then take every order equally often), on the cases of galleries of up to 7 items."""
    import itertools

    for case in registry.get("expected_recall_at_k").make_cases(np.random.default_rng(0)):
        similarity, queries, gallery, k = case.args
        if similarity.shape[1] > 7:
            continue
        found = []
        for row, label in zip(similarity, queries):
            hits = [
                np.any(gallery[np.lexsort((np.array(perm), -row))[:k]] == label)
                for perm in itertools.permutations(range(row.size))
            ]
            found.append(np.mean(hits))
        assert ch20.expected_recall_at_k(*case.args) == pytest.approx(np.mean(found), rel=1e-12)


def test_expected_recall_at_k_of_a_collapsed_embedding_and_by_hand():
    """All tied, 4 matches among 300, k = 10: 1 - C(296, 10) / C(300, 10), not the index rule's 1."""
    from math import comb

    sim = np.full((1, 300), 0.25)
    gallery = np.repeat(np.arange(75), 4)
    expected = 1 - comb(296, 10) / comb(300, 10)
    assert ch20.expected_recall_at_k(sim, np.array([0]), gallery, 10) == pytest.approx(expected, rel=1e-12)
    # k inside a tie of four, two of them matches, one place left: 1 - C(2, 1) / C(4, 1) = 1/2
    row = np.array([[0.9, 0.5, 0.5, 0.5, 0.5, 0.1]])
    assert ch20.expected_recall_at_k(row, np.array([1]), np.array([0, 1, 2, 1, 2, 4]), 2) == 0.5
    assert ch20.expected_recall_at_k(row, np.array([0]), np.array([0, 1, 2, 1, 2, 4]), 2) == 1.0
    assert ch20.expected_recall_at_k(row, np.array([4]), np.array([0, 1, 2, 1, 2, 4]), 5) == 0.0


def test_guided_step_is_the_librarys_guidance_and_ddim_step():
    """The library guides the clean-image prediction; with the noise recomputed from it, one
    DDIM step of the reference (which guides the noise) lands on the same x_s."""
    rng = np.random.default_rng(2)
    s = dif.NoiseSchedule.linear(50)
    ab_t, ab_s = s.alpha_bars[30], s.alpha_bars[20]
    x_t, x0_c, x0_u = (
        rng.standard_normal((3, 2, 4)),
        0.3 * rng.standard_normal((3, 2, 4)),
        0.3 * rng.standard_normal((3, 2, 4)),
    )
    eps = lambda x0: (x_t - np.sqrt(ab_t) * x0) / np.sqrt(1 - ab_t)  # noqa: E731
    w = 2.5
    x0 = x0_c + w * (x0_c - x0_u)
    library = np.sqrt(ab_s) * x0 + np.sqrt(1 - ab_s) * eps(x0)
    np.testing.assert_allclose(
        ch20.guided_ddim_step(x_t, eps(x0_c), eps(x0_u), w, ab_t, ab_s), library, atol=1e-10
    )


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_the_reference_passes_every_case(name):
    checks.assert_the_reference_passes_every_case(name, seed=3)


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_every_named_mistake_fails_with_its_hint(name):
    checks.assert_every_named_mistake_fails_with_its_hint(name, seed=3)


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_the_cases_are_drawn_by_the_seed(name):
    checks.assert_the_cases_are_drawn_by_the_seed(name)


def test_duplicate_loss_floor_is_the_librarys_loss_at_a_small_temperature():
    """Question 1's value: the library's SimCLR loss on the described encoder as tau -> 0."""
    import tomllib
    from pathlib import Path

    import minidl_grader.specs

    quiz = tomllib.loads((Path(minidl_grader.specs.__file__).parent / "quiz.toml").read_text())
    value = next(q["value"] for q in quiz["question"] if q["name"] == "duplicate_loss_floor")
    picture = np.eye(4)[[0, 0, 2, 3]]  # pictures 1 and 2 the same, the others orthogonal
    for tau in (0.01, 0.002):
        assert losses.InfoNCE(tau)(np.concatenate([picture, picture])) == pytest.approx(value, abs=1e-9)
