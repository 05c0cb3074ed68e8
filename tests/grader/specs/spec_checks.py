"""Checks every chapter's spec module passes, shared by ``tests/grader/specs/test_chNN.py``.

A spec's cases must accept its reference's outputs, reject every mistake it names with that
mistake's hint on at least one case, and be drawn by the grading seed alone (the same seed
gives the same cases). The per-chapter files call these on their
chapter's exercises and add what is particular to the chapter, worked by hand.
"""

from __future__ import annotations

import numpy as np
from minidl_grader.judge import registry


def code_exercises(chapter: str) -> list[str]:
    """The names of the chapter's code exercises, in the registry's order."""
    return [e.name for e in registry.for_chapter(chapter) if not e.is_question]


def called_exercises(chapter: str) -> list[str]:
    """Those judged by their outputs alone (``public_kind == "call"``): the reference's outputs
    and each mistake's are what the judge compares (a kernel, a model or an input changed in
    place is judged by more than that, through the probes: tests/grader/test_public.py)."""
    return [n for n in code_exercises(chapter) if registry.get(n).public_kind == "call"]


def cases(name: str, seed: int) -> list:
    return registry.get(name).make_cases(registry.rng_for(name, seed))


def assert_the_reference_passes_every_case(name: str, seed: int) -> None:
    exercise = registry.get(name)
    assert exercise.public is not None, f"{name} records no public cases"
    drawn = cases(name, seed)
    assert drawn, f"{name} draws no case at seed {seed}"
    for case in drawn:
        verdict = exercise.judge(case, exercise.public(case)["expected"])
        assert verdict is None, f"{name}, case {case.label!r}: the reference's own outputs fail: {verdict}"


def assert_every_named_mistake_fails_with_its_hint(name: str, seed: int) -> None:
    exercise = registry.get(name)
    assert exercise.public is not None
    caught: dict[str, list[str]] = {}
    for case in cases(name, seed):
        for hint, outputs in exercise.public(case)["mistakes"]:
            verdict = exercise.judge(case, outputs)
            caught.setdefault(hint, []).append(verdict or "")
    for hint, verdicts in caught.items():
        failing = [v for v in verdicts if v]
        assert failing, f"{name}: the mistake {hint!r} passes every case at seed {seed}"
        # named where its numbers are compared (a NaN or an inf is reported as that first)
        assert any(hint in v for v in failing) or all("NaN or inf" in v for v in failing), (
            f"{name}: no case names the mistake {hint!r}: {failing[:2]}"
        )
    assert set(caught) <= set(exercise.catches), f"{name}: mistakes missing from its catalogue"


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and (np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        )
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if callable(a) and callable(b):
        return True  # a function among the arguments (a model, a loss): compared by its results
    return bool(a == b) if not (isinstance(a, float) and np.isnan(a)) else bool(np.isnan(b))


def assert_the_cases_are_drawn_by_the_seed(name: str) -> None:
    first, again = cases(name, 11), cases(name, 11)
    assert first and [c.label for c in first] == [c.label for c in again]
    assert all(_same(a.args, b.args) for a, b in zip(first, again)), f"{name}: one seed, two draws"
