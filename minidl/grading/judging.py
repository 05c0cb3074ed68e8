"""Judging one exercise: draw inputs, get the submission's outputs, compare.

The same loop serves both uses:

* ``check(name, fn)`` in a notebook calls the reader's function in the notebook's own
  process and prints the verdict at once;
* the ``grade`` command gets the outputs from a separate, sandboxed process
  (``runner.py``) and only judges them here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import codec
from .probes import PROBES, Case, describe_exception
from .registry import Exercise, get, rng_for

__all__ = ["Result", "SubmissionError", "judge_exercise", "check", "evaluate"]


class SubmissionError(Exception):
    """The submission could not produce outputs for a case (exception, timeout, crash)."""


@dataclass
class Result:
    """The verdict on one exercise."""

    name: str
    points: int
    score: float
    message: str

    @property
    def passed(self) -> bool:
        return self.score == self.points

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"


def judge_exercise(exercise: Exercise, get_outputs: Callable[[Case], object], seed: int) -> Result:
    """Run every case of ``exercise``; full points only if all of them pass.

    ``get_outputs(case)`` returns the submission's decoded outputs or raises
    ``SubmissionError`` with a message for the reader.
    """
    cases = exercise.make_cases(rng_for(exercise.name, seed))
    for case in cases:
        try:
            got = get_outputs(case)
        except SubmissionError as err:
            return Result(exercise.name, exercise.points, 0, _prefix(case, str(err)))
        try:
            problem = exercise.judge(case, got)
        except Exception as err:  # a malformed answer must never crash the grader
            problem = f"could not compare the answer ({type(err).__name__}: {err})"
        if problem:
            return Result(exercise.name, exercise.points, 0, _prefix(case, problem))
    if exercise.is_question:
        return Result(exercise.name, exercise.points, exercise.points,
                      "right" + (f": {exercise.explanation}" if exercise.explanation else ""))
    return Result(exercise.name, exercise.points, exercise.points,
                  f"passed ({len(cases)} test case{'s' if len(cases) != 1 else ''})")


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
    """Judge ``objects`` (the exercise's entries, in order) and return the ``Result``."""
    exercise = get(name)
    if len(objects) != len(exercise.entries):
        wanted = ", ".join(exercise.entries)
        raise TypeError(f"check({name!r}, ...) expects {len(exercise.entries)} object(s): {wanted}")
    namespace = dict(zip(exercise.entries, objects))
    return judge_exercise(exercise, _in_process_outputs(exercise, namespace), seed)


def check(name: str, *objects, seed: int = 0) -> None:
    """Check an exercise (or a question) right now and print the verdict.

    >>> check("dense_backward", dense_backward)        # doctest: +SKIP
    ✔ dense_backward: passed (3 test cases)
    >>> check("relu_gradient_negative", "a")           # doctest: +SKIP
    ✘ relu_gradient_negative: (a) is not right: ...
    """
    result = evaluate(name, *objects, seed=seed)
    if result.passed:
        print(f"✔ {name}: {result.message}")
    else:
        print(f"✘ {name}: {result.message}")
