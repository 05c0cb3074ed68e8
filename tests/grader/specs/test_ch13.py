"""Chapter 13's spec (``grader/minidl_grader/specs/ch13.py``, attention): its cases
accept the reference's outputs, fail every mistake the spec names with that mistake's hint, and
are drawn by the grading seed alone (tests/grader/specs/spec_checks.py)."""

import pytest

from tests.grader.specs import spec_checks as checks

CHAPTER = "13_attention"


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_the_reference_passes_every_case(name):
    checks.assert_the_reference_passes_every_case(name, seed=11)


@pytest.mark.parametrize("name", checks.called_exercises(CHAPTER))
def test_every_named_mistake_fails_with_its_hint(name):
    checks.assert_every_named_mistake_fails_with_its_hint(name, seed=11)


@pytest.mark.parametrize("name", checks.code_exercises(CHAPTER))
def test_the_cases_are_drawn_by_the_seed(name):
    checks.assert_the_cases_are_drawn_by_the_seed(name)
