"""Judging one exercise: draw inputs, get the submission's outputs, compare.

The same loop serves both uses:

* ``check(name, fn)`` in a notebook calls the reader's function in the notebook's own
  process and prints the verdict at once;
* the ``grade`` command gets the outputs from a separate, sandboxed process
  (``runner.py``) and only judges them here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from minidl.exercises import forbidden_message, names_used

from ..runtime import codec
from ..runtime.probes import PROBES, Case, describe_exception
from . import provenance
from .registry import Exercise, get, rng_for

__all__ = [
    "Result",
    "CaseResult",
    "SubmissionResult",
    "SubmissionError",
    "judge_exercise",
    "check",
    "evaluate",
    "VISIBILITIES",
]

# Gradescope's visibilities, from the least to the most restricted
VISIBILITIES = ("visible", "after_due_date", "hidden")


class SubmissionError(Exception):
    """The submission could not produce outputs for a case (exception, timeout, crash)."""


@dataclass
class CaseResult:
    """The verdict on one test case of an exercise scored case by case."""

    label: str
    points: float
    score: float
    message: str
    visibility: str = "visible"

    @property
    def passed(self) -> bool:
        return math.isclose(self.score, self.points)


@dataclass
class Result:
    """The verdict on one exercise (``cases``: one per test case when scored case by case)."""

    name: str
    points: float
    score: float
    message: str
    cases: list[CaseResult] = field(default_factory=list)
    visibility: str = "visible"
    # a project's (``projects.py``): its metric on the hidden split (None: not measured,
    # the submission crashed or ran out of time) and the metric's name
    metric: float | None = None
    metric_name: str = ""

    @property
    def passed(self) -> bool:
        return math.isclose(self.score, self.points)

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"


@dataclass
class SubmissionResult:
    """Every exercise's verdict for one notebook."""

    path: str
    chapter: str | None
    results: list[Result] = field(default_factory=list)
    error: str | None = None  # why nothing could be graded, if so
    seed: int = 0
    seconds: float = 0.0
    isolated: bool | None = None  # ran under bubblewrap; None: nothing of it ran
    flags: list[str] = field(default_factory=list)  # for the instructor, not scored
    note: str | None = None  # told to the student too (which of several notebooks was graded)
    similarity: str = ""  # the most similar other answer (similarity.highest), for the instructor
    # {exercise: code its cell (or a setup cell, for the functions it defines) built at run
    # time, recorded by the sandbox's audit hook}: compared by the similarity report too
    built: dict[str, list[str]] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 6)

    @property
    def max_score(self) -> float:
        return round(sum(r.points for r in self.results), 6)


def visibility_of(exercise: Exercise, case: Case) -> str:
    """The more restricted of the exercise's and the case's visibility."""
    for value in (exercise.visibility, getattr(case, "visibility", "visible")):
        if value not in VISIBILITIES:
            raise ValueError(
                f"exercise {exercise.name!r}: unknown visibility {value!r}; "
                f"expected one of {', '.join(VISIBILITIES)}"
            )
    return max(exercise.visibility, getattr(case, "visibility", "visible"), key=VISIBILITIES.index)


def _case_points(exercise: Exercise, cases: list) -> list[float]:
    """Each case's points: its own ``points``, else an equal share of what is left."""
    given = [c.points for c in cases]
    left = exercise.points - sum(p for p in given if p is not None)
    shares = sum(p is None for p in given)
    if left < -1e-9 or (shares == 0 and abs(left) > 1e-9):
        raise ValueError(
            f"exercise {exercise.name!r}: its cases' points add up to "
            f"{exercise.points - left:g}, not {exercise.points:g}"
        )
    return [p if p is not None else left / shares for p in given]


def judge_exercise(
    exercise: Exercise,
    get_outputs: Callable[[Case], object],
    seed: int,
    visible_only: bool = False,
    public_seed: int | None = None,
) -> Result:
    """``_judge_cases`` at ``seed``, then (``public_seed``: the grader's) the public cases too
    (``check()``'s, the visible ones drawn at ``public_seed``): a hidden draw must never be
    weaker than what the reader's ``check()`` already rejects. A public case that fails
    makes an all-or-nothing exercise score 0 and caps a case-by-case one at the share of
    public cases it passes (below full either way)."""
    result = _judge_cases(exercise, get_outputs, seed, visible_only)
    if public_seed is None or visible_only or seed == public_seed or exercise.public is None:
        return result
    if exercise.is_question or not result.score:  # no public case, or nothing to cap
        return result
    public = [
        c
        for c in exercise.make_cases(rng_for(exercise.name, public_seed))
        if visibility_of(exercise, c) == "visible"
    ]
    problems = [(c, p) for c in public if (p := _verdict(exercise, c, get_outputs))]
    if not problems:
        return result
    case, problem = problems[0]
    share = 1 - len(problems) / len(public)
    result.score = round(result.score * share, 9) if result.cases else 0
    result.message = f"public case {_prefix(case, problem)} (check() shows this case too)" + (
        f"; hidden cases: {result.message}" if result.cases else ""
    )
    return result


def _judge_cases(
    exercise: Exercise, get_outputs: Callable[[Case], object], seed: int, visible_only: bool = False
) -> Result:
    """Run the cases of ``exercise`` and score them.

    All or nothing by default: full points only if every case passes (it stops at the
    first failure). Case by case (partial credit) when the exercise says ``partial``,
    when a case has its own ``points``, or when its cases differ in visibility (a hidden
    case must not share a verdict with a visible one): each case then scores its share.
    ``visible_only`` (a notebook's ``check()``) runs only the visible cases.

    ``get_outputs(case)`` returns the submission's decoded outputs or raises
    ``SubmissionError`` with a message for the reader.
    """
    cases = exercise.make_cases(rng_for(exercise.name, seed))
    visibility = [visibility_of(exercise, c) for c in cases]
    by_case = (
        exercise.partial
        or any(getattr(c, "points", None) is not None for c in cases)
        or len(set(visibility)) > 1
    )
    points = _case_points(exercise, cases) if by_case else []  # read only case by case
    chosen = [i for i, v in enumerate(visibility) if v == "visible" or not visible_only]
    if visible_only and not chosen:
        return Result(
            exercise.name,
            exercise.points,
            0,
            "no visible test case here: the grader runs this exercise's hidden ones",
            visibility=exercise.visibility,
        )
    if not by_case:
        for i in chosen:
            problem = _verdict(exercise, cases[i], get_outputs)
            if problem:
                return Result(
                    exercise.name, exercise.points, 0, _prefix(cases[i], problem), visibility=visibility[i]
                )
        return _all_passed(exercise, len(chosen), visibility[0] if visibility else "visible")
    results = []
    for i in chosen:
        problem = _verdict(exercise, cases[i], get_outputs)
        results.append(
            CaseResult(
                cases[i].label or f"case {i + 1}",
                points[i],
                0 if problem else points[i],
                _prefix(cases[i], problem) if problem else "passed",
                visibility[i],
            )
        )
    score = round(sum(r.score for r in results), 9)
    total = round(sum(r.points for r in results), 9) if visible_only else exercise.points
    failed = [r for r in results if not r.passed]
    if not failed:
        base = _all_passed(exercise, len(results), "visible")
        return Result(exercise.name, total, score, base.message, results)
    message = failed[0].message + (
        f" ({len(failed)} of {len(results)} test cases failed)" if len(results) > 1 else ""
    )
    return Result(exercise.name, total, score, message, results)


def _verdict(exercise: Exercise, case: Case, get_outputs) -> str | None:
    """``None`` if the submission passes ``case``, else what is wrong."""
    try:
        got = get_outputs(case)
    except SubmissionError as err:
        return str(err)
    try:
        return exercise.judge(case, got)
    except Exception as err:  # a malformed answer must never crash the grader
        return f"could not compare the answer ({type(err).__name__}: {err})"


def _all_passed(exercise: Exercise, count: int, visibility: str) -> Result:
    if exercise.is_question:
        return Result(
            exercise.name,
            exercise.points,
            exercise.points,
            "right" + (f": {exercise.explanation}" if exercise.explanation else ""),
            visibility=visibility,
        )
    return Result(
        exercise.name,
        exercise.points,
        exercise.points,
        f"passed ({count} test case{'s' if count != 1 else ''})",
        visibility=visibility,
    )


def _prefix(case: Case, message: str) -> str:
    return f"{case.label}: {message}" if case.label else message


def _in_process_outputs(exercise: Exercise, namespace: dict):
    probe = PROBES[exercise.probe]

    def get_outputs(case: Case):
        try:
            out = probe(namespace, exercise.entries, case)
        except Exception as err:
            raise SubmissionError(describe_exception(err)) from None
        # the same round trip as from a grading process, so check and grade agree
        return codec.loads(codec.dumps(out))

    return get_outputs


def evaluate(name: str, *objects, seed: int = 0) -> Result:
    """Judge ``objects`` (the exercise's entries, in order) on the visible test cases and
    return the ``Result``."""
    exercise = get(name)
    if len(objects) != len(exercise.entries):
        wanted = ", ".join(exercise.entries)
        raise TypeError(f"check({name!r}, ...) expects {len(exercise.entries)} object(s): {wanted}")
    # what the grader would refuse on reading the cell: the spec's forbids (runner._refusals)
    used = provenance.spec_forbidden_uses(names_used(*objects), list(getattr(exercise, "forbids", ())))
    if used and not exercise.is_question:
        return Result(name, exercise.points, 0, forbidden_message(*used[0]))
    namespace = dict(zip(exercise.entries, objects))
    return judge_exercise(exercise, _in_process_outputs(exercise, namespace), seed, visible_only=True)


def check(name: str, *objects, seed: int = 0) -> None:
    """Check an exercise (or a question) right now and print the verdict.

    >>> check("weight_norm_backward", weight_norm_backward)        # doctest: +SKIP
    ✔ weight_norm_backward: passed (2 test cases)
    >>> check("relu_check_at_kink", "a")           # doctest: +SKIP
    ✘ relu_check_at_kink: (a) is not right: ...
    """
    from minidl.exercises import say

    result = evaluate(name, *objects, seed=seed)
    say("✔" if result.passed else "✘", name, result.message)
