"""Questions that test understanding: a choice, a number, a shape -- graded like code.

A question is an ``Exercise`` like the code exercises: the reader assigns an answer in a
tagged cell (``relu_check_at_kink = "b"``), ``check("relu_check_at_kink",
relu_check_at_kink)`` judges it at once, and the ``grade`` command judges it in the
same sheet. The submission's process only hands back the value it holds (the ``answer``
probe in ``probes.py``); the correct choice, the number and its tolerance, the shape and
the explanations of wrong answers live here and in ``specs/``, in the grader's process.

Feedback never gives the answer away: an unanswered question (still ``...``) says only
what kind of answer is expected; a wrong choice gets the explanation of why *that*
choice is wrong; a number or shape that is a usual mistake gets that mistake explained,
any other wrong one a hint that does not contain the answer.

Three kinds::

    multiple_choice("batchnorm_test_time", CHAPTER, 1, "What BatchNorm uses at test time",
                    choices={"a": "the mean and variance of the test batch", "b": ..., ...},
                    answer="b",
                    wrong={"a": "why a is wrong", ...},        # one per wrong choice
                    explanation="shown once the reader is right")
    number_question(name, chapter, points, title, value=10.0, tolerance=1e-3,
                    mistakes=((0.1, "why 0.1 is wrong"), ...), hint="...")
    shape_question(name, chapter, points, title, shape=(8, 16, 16, 16),
                   mistakes={(8, 16, 15, 15): "why"}, hint="...", axes="(N, C, H, W)")

In a solution notebook a question's cell carries ``metadata["minidl"] = {"exercise": name,
"points": 1, "question": true}`` and its answer between the solution markers::

    # BEGIN SOLUTION
    relu_check_at_kink = "b"
    # END SOLUTION

Release turns that into ``relu_check_at_kink = ...  # your answer here``. Each choice
of a multiple-choice question must appear in the notebook's text as ``**(a)** text``
(release checks it), so the two cannot drift apart.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..runtime.codec import Unsupported
from ..runtime.probes import Case
from .registry import Exercise, register

__all__ = ["multiple_choice", "number_question", "shape_question", "choice_line", "QUESTION_KINDS"]

QUESTION_KINDS = ("choice", "number", "shape")
_LETTER = re.compile(r"^\(?\s*([a-z])\s*[).]?$")


def choice_line(letter: str, text: str) -> str:
    """How a choice is written in the notebook's markdown (release checks for this text)."""
    return f"**({letter})** {text}"


def _cases(rng) -> list:
    return [Case(())]  # a question has one "case": read the reader's value


def _what(value) -> str:
    if isinstance(value, Unsupported):
        return f"an object of type {value.type_name}"
    if isinstance(value, bool):
        return f"the bool {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, (int, float)):
        return f"the {type(value).__name__} {value!r}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    return f"a value of type {type(value).__name__}"


def _unwrap(got, expected: str):
    """The reader's value, or a message when there is none (``...``) or it is unreadable."""
    if not isinstance(got, dict) or "answered" not in got:
        return None, "the grader could not read the answer"
    if not got["answered"]:
        return None, f"not answered yet: replace `...` with {expected}"
    return got.get("value"), None


def _register(name, chapter, points, title, judge, do_register, **fields) -> Exercise:
    """The question as an ``Exercise`` (one answer, probed by name) with ``fields`` (its kind,
    explanation, ...), registered unless told not to."""
    exercise = Exercise(name, chapter, points, (name,), title, _cases, judge, "answer", **fields)
    return register(exercise) if do_register else exercise


# ---------------------------------------------------------------- multiple choice
def multiple_choice(
    name: str,
    chapter: str,
    points: int,
    title: str,
    choices: dict,
    answer: str,
    wrong: dict,
    explanation: str = "",
    do_register: bool = True,
) -> Exercise:
    """One right letter among ``choices``; ``wrong[letter]`` says why each other one is wrong."""
    letters = sorted(choices)
    if answer not in choices:
        raise ValueError(f"question {name!r}: the answer {answer!r} is not one of {letters}")
    if set(wrong) != set(letters) - {answer}:
        raise ValueError(
            f"question {name!r}: every wrong choice needs its own feedback; "
            f"expected feedback for {sorted(set(letters) - {answer})}, got {sorted(wrong)}"
        )
    expected = f"one letter among {', '.join(letters)}, as a string"

    def judge(case, got):
        value, problem = _unwrap(got, expected)
        if problem:
            return problem
        if not isinstance(value, str):
            return f"expected {expected}; got {_what(value)}"
        match = _LETTER.match(value.strip().lower())
        if not match or match.group(1) not in choices:
            return f"expected {expected}; got {_what(value)}"
        letter = match.group(1)
        if letter != answer:
            return f"({letter}) is not right: {wrong[letter]}"
        return None

    fields = {"kind": "choice", "explanation": explanation, "choices": dict(choices)}
    return _register(name, chapter, points, title, judge, do_register, **fields)


# ---------------------------------------------------------------- a number
def _number(value):
    """``value`` as a float if it is a real number (0-d arrays too), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return float(value.reshape(()))
    return None


def number_question(
    name: str,
    chapter: str,
    points: int,
    title: str,
    value: float,
    tolerance: float,
    mistakes: tuple = (),
    hint: str = "",
    explanation: str = "",
    do_register: bool = True,
) -> Exercise:
    """A number, right when ``|answer - value| <= tolerance``; ``mistakes`` are pairs
    ``(wrong value, why)`` recognised with the same tolerance."""
    if tolerance <= 0:
        raise ValueError(f"question {name!r}: the tolerance must be positive, got {tolerance}")
    for wrong_value, _ in mistakes:
        if abs(wrong_value - value) <= tolerance:
            raise ValueError(
                f"question {name!r}: the mistake {wrong_value} is within the tolerance of the answer"
            )
    expected = "a number (an int or a float)"

    def judge(case, got):
        raw, problem = _unwrap(got, expected)
        if problem:
            return problem
        number = _number(raw)
        if number is None:
            return f"expected {expected}; got {_what(raw)}"
        if not math.isfinite(number):
            return f"expected a finite number; got {number}"
        if abs(number - value) <= tolerance:
            return None
        for wrong_value, why in mistakes:
            if abs(number - wrong_value) <= tolerance:
                return f"{number:g} is not right: {why}"
        return f"{number:g} is not right" + (f": {hint}" if hint else "")

    return _register(name, chapter, points, title, judge, do_register, kind="number", explanation=explanation)


# ---------------------------------------------------------------- a shape
def shape_question(
    name: str,
    chapter: str,
    points: int,
    title: str,
    shape: tuple,
    mistakes: dict | None = None,
    hint: str = "",
    axes: str = "",
    explanation: str = "",
    do_register: bool = True,
) -> Exercise:
    """A shape: a tuple (or list) of ints equal to ``shape``; ``mistakes`` maps usual wrong
    shapes to why they are wrong. ``axes`` names the axes for messages, e.g. ``"(N, C, H, W)"``."""
    shape = tuple(int(n) for n in shape)
    mistakes = {tuple(k): v for k, v in (mistakes or {}).items()}
    if shape in mistakes:
        raise ValueError(f"question {name!r}: the answer {shape} is listed as a mistake")
    expected = "a shape, a tuple of ints such as (2, 3)"

    def judge(case, got):
        raw, problem = _unwrap(got, expected)
        if problem:
            return problem
        if not isinstance(raw, (tuple, list)) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in raw
        ):
            return f"expected {expected}; got {_what(raw)}"
        answer = tuple(raw)
        if answer == shape:
            return None
        if answer in mistakes:
            return f"{answer} is not right: {mistakes[answer]}"
        if len(answer) != len(shape):
            layout = f" {axes}" if axes else ""
            return f"expected a shape of {len(shape)} axes{layout}; got {len(answer)} axes {answer}"
        return f"{answer} is not right" + (f": {hint}" if hint else "")

    return _register(name, chapter, points, title, judge, do_register, kind="shape", explanation=explanation)
