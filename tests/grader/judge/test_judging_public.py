"""The grader judges the public cases too: a hidden draw is never weaker than ``check()``
(issue 68 item 6). An answer right on every hidden case of a seed but wrong on a public
case (what ``check()`` already rejects) never scores full."""

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.judge.judging import SubmissionError, judge_exercise, visibility_of
from minidl_grader.judge.registry import Case, function_exercise
from minidl_grader.public import PUBLIC_SEED
from minidl_grader.runner import grade_notebook

from tests.grader.grading_answers import WN_BODY, WN_DEF, chapter3_with_cell


def _double(x):
    return 2 * x


def _cases(rng):
    return [
        Case((rng.standard_normal(3),), label="a vector"),
        Case((rng.standard_normal(4),), label="another"),
    ]


def _public_firsts(exercise) -> list[float]:
    """The first value of each public case's first argument (what ``check()`` runs)."""
    cases = exercise.make_cases(registry.rng_for(exercise.name, PUBLIC_SEED))
    return [float(c.args[0].flat[0]) for c in cases if visibility_of(exercise, c) == "visible"]


def _wrong_on_public(exercise):
    """``2 x``, except on the first public case's input (there: ``x``)."""
    first = _public_firsts(exercise)[0]
    return lambda x: x if float(x.flat[0]) == first else 2 * x


def _judge(exercise, answer, **kwargs):
    def outputs(case):
        try:
            return answer(*case.args)
        except Exception as err:
            raise SubmissionError(str(err)) from None

    return judge_exercise(exercise, outputs, seed=1, **kwargs)


ALL_OR_NOTHING = function_exercise(
    "double_all", "03_backpropagation", 2, "double", "Double it", _cases, _double, ("y",), do_register=False
)
BY_CASE = function_exercise(
    "double_each", "03_backpropagation", 2, "double", "Double it", _cases, _double, ("y",), do_register=False
)
BY_CASE.partial = True


@pytest.mark.parametrize("exercise", [ALL_OR_NOTHING, BY_CASE], ids=["all-or-nothing", "case by case"])
def test_an_answer_wrong_on_a_public_case_never_scores_full(exercise):
    answer = _wrong_on_public(exercise)
    hidden_only = _judge(exercise, answer)
    assert hidden_only.passed, hidden_only.message  # the hidden draw alone misses it
    graded = _judge(exercise, answer, public_seed=PUBLIC_SEED)
    assert not graded.passed and graded.score < exercise.points
    assert graded.message.startswith("public case a vector:"), graded.message
    assert "check() shows this case too" in graded.message
    if exercise is ALL_OR_NOTHING:
        assert graded.score == 0
    else:  # one public case of two fails: half of the hidden cases' score is left
        assert graded.score == pytest.approx(1) and "hidden cases: passed" in graded.message


def test_a_right_answer_keeps_its_score_and_check_is_unchanged():
    for exercise in (ALL_OR_NOTHING, BY_CASE):
        assert _judge(exercise, _double, public_seed=PUBLIC_SEED).score == exercise.points
    seen = []  # check() (visible_only) runs its own cases, not the public ones again
    _judge(ALL_OR_NOTHING, lambda x: seen.append(x) or 2 * x, visible_only=True, public_seed=PUBLIC_SEED)
    assert len(seen) == 2


@pytest.mark.sandbox
def test_the_grader_rejects_a_notebook_right_only_on_the_hidden_cases(tmp_path):
    """Chapter 3's ``weight_norm_backward``, right except on the first public case's inputs
    (its first number): the hidden cases of seed 3 pass, the grade is 0."""
    exercise = registry.get("weight_norm_backward")
    first = _public_firsts(exercise)[0]
    hidden = exercise.make_cases(registry.rng_for(exercise.name, 3))
    assert all(float(c.args[0].flat[0]) != first for c in hidden)
    body = f"    if float(dy.flat[0]) == {first!r}:\n        return dy, x, v, g\n" + WN_BODY
    sub = grade_notebook(
        chapter3_with_cell(tmp_path / "nb.ipynb", exercise.name, WN_DEF + body), timeout=5, seed=3
    )
    result = {r.name: r for r in sub.results}[exercise.name]
    assert result.score == 0 and result.message.startswith("public case "), result.message
    right = grade_notebook(chapter3_with_cell(tmp_path / "ok.ipynb"), timeout=5, seed=3)
    assert all(r.passed for r in right.results), [r.message for r in right.results if not r.passed]
    assert np.isfinite(first)
