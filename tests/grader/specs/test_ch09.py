"""Chapter 9's spec (``grader/minidl_grader/specs/ch09.py``, fast cpu kernels): its cases
are drawn by the grading seed alone (tests/grader/specs/spec_checks.py). Its kernels are judged
through the probes: tests/grader/test_public.py, tests/grader/test_numba_evidence.py."""

import pytest

from tests.grader.specs import spec_checks as checks

CHAPTER = "09_fast_cpu_kernels"


@pytest.mark.parametrize("name", checks.code_exercises(CHAPTER))
def test_the_cases_are_drawn_by_the_seed(name):
    checks.assert_the_cases_are_drawn_by_the_seed(name)
