"""Chapter 13's spec (``grader/minidl_grader/specs/ch13.py``, attention): its cases
accept the reference's outputs, fail every mistake the spec names with that mistake's hint, and
are drawn by the grading seed alone (tests/grader/specs/spec_checks.py); attention_backward is
judged element by element, so rounding never fails a right answer and a small wrong row shows."""

import numpy as np
import pytest
from minidl_grader.judge import registry

from minidl.exercises.compare import rel_error
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


def _row_jacobian_backward(dout, q, k, v, causal):
    """A right answer that rounds differently from the reference: dS row by row as
    (diag(p) - p p^T) dP, the softmax's Jacobian written out."""
    T, d = q.shape[1], q.shape[2]
    S = np.einsum("nid,njd->nij", q, k) / np.sqrt(d)
    if causal:
        S = np.where(np.tri(T, dtype=bool)[None], S, -np.inf)
    P = np.exp(S - S.max(axis=-1, keepdims=True))
    P /= P.sum(axis=-1, keepdims=True)
    dP = np.einsum("nie,nje->nij", dout, v)
    J = np.einsum("nij,jk->nijk", P, np.eye(T)) - np.einsum("nij,nik->nijk", P, P)
    dS = np.einsum("nijk,nik->nij", J, dP)
    return (
        np.einsum("nij,njd->nid", dS, k) / np.sqrt(d),
        np.einsum("nij,nid->njd", dS, q) / np.sqrt(d),
        np.einsum("nij,nie->nje", P, dout),
    )


@pytest.mark.parametrize("seed", range(6))
def test_a_right_answer_never_fails_by_rounding_on_tiny_gradients(seed):
    """On the nearly one-hot case dq and dk are near 1e-35, made of terms near 1 that cancel:
    the row-Jacobian answer differs from the reference in every digit there (an error relative
    to the whole array would fail it), and the element-by-element rule passes it."""
    exercise = registry.get("attention_backward")
    (case,) = [c for c in checks.cases("attention_backward", seed) if "nearly one-hot" in c.label]
    got = _row_jacobian_backward(*case.args)
    expected = exercise.public(case)["expected"]
    assert np.abs(expected[0]).max() < 1e-20
    assert rel_error(got[0], expected[0]) > 1e-6 or rel_error(got[1], expected[1]) > 1e-6
    assert exercise.judge(case, got) is None
    for other in checks.cases("attention_backward", seed):
        assert exercise.judge(other, _row_jacobian_backward(*other.args)) is None, other.label


def test_a_wrong_small_row_is_not_hidden_by_the_large_ones():
    """One sample's gradients a billion times smaller than the other's, and 1 % wrong: the
    error relative to the whole array is 1e-11, the element-by-element rule fails it."""
    exercise = registry.get("attention_backward")
    case = checks.cases("attention_backward", 3)[1]
    dout, q, k, v, causal = case.args
    dout = dout.copy()
    dout[0] *= 1e-9
    small = type(case)((dout, q, k, v, causal), label=case.label)
    dq, dk, dv = exercise.public(small)["expected"]
    wrong = (dq * np.where(np.arange(len(dq)) == 0, 1.01, 1.0)[:, None, None], dk, dv)
    assert rel_error(wrong[0], dq) < 1e-9
    verdict = exercise.judge(small, wrong)
    assert verdict is not None and "`dq` is wrong" in verdict
