"""What the kernel chapters' specs share (08 Numba, 09 CUDA C): an exercise whose answer is
a compiled kernel, run where the submission runs and judged here against a NumPy reference.

``numba_exercise`` registers a kernel the "numba" probe calls (is it compiled by Numba?
then its outputs); ``cuda_exercise`` one the "cuda" probe compiles with the emulator and
launches (the emulator stops a read or write outside an array; guard values after every
array catch a write past the output through a plain pointer). Both have public cases:
``check()`` calls a Numba kernel and looks at what compiled it, and compiles and launches a
CUDA kernel with minidl's emulator as the probe does (``minidl.exercises.probes``), from
the reference's outputs and the launch stored as data (``public`` below).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import numpy as np

from minidl.exercises.probes import launch_problem

from ..judge.feedback import compare_outputs
from ..judge.registry import Exercise, register


def judge_numba(
    reference: Callable, names: tuple, mistakes: tuple = (), dtype_of: int | None = None
) -> Callable:
    """Compiled by Numba (the probe compares the kernel's type with the dispatcher class
    captured before the notebook ran), then the numbers. Object mode and, for
    ``numba_parallel``, the work of the kernel's prange loop are observed by the probe and
    judged by the runner (``runner.outputs_for``, ``runner._not_parallel``). ``dtype_of``: the position of the argument whose dtype the output must
    have (a task that says "in the dtype of x")."""

    def judge(case, got):
        if not isinstance(got, dict) or "is_numba" not in got:
            return "the grader could not read the result"
        if not got["is_numba"]:
            return (
                "this is a plain Python function: compile it with Numba "
                "(`from numba import njit` and `@njit` above the `def`)"
            )
        if dtype_of is not None:
            want, out = np.asarray(case.args[dtype_of]).dtype, got["out"]
            if isinstance(out, np.ndarray) and out.dtype != want:
                return (
                    f"`{names[0]}` is {out.dtype}, expected {want}: the task asks for the "
                    "input's dtype (create the output with `dtype=x.dtype`)"
                )
        wrong = [(hint, fn(*case.args)) for hint, fn in mistakes]
        return compare_outputs(got["out"], reference(*case.args), names, wrong)

    return judge


# what an access outside an array needs, unless the spec knows better (``judge_cuda``'s ``outside``)
OUTSIDE = (
    "a thread must touch only elements that exist: test `i < n` before the first x[i] "
    "(the threads past the end, i >= n, must not even read)"
)


# what a CUDA case's ``extra`` says of its launch (the "cuda" probe reads them)
LAUNCH = ("kernel", "n", "threads", "blocks", "ints", "one_thread_per_element")


class CudaJudge:
    """A ``judge(case, got)`` for a CUDA kernel (``judge_cuda``), with ``public(case)``: what
    ``check()`` needs to judge the case the same way without the grader."""

    def __init__(self, judge: Callable, public: Callable):
        self.judge, self.public = judge, public

    def __call__(self, case, got):
        return self.judge(case, got)


def per_case(make: Callable) -> CudaJudge:
    """A CUDA judge made for each case by ``make(case)`` (a ``judge_cuda`` that depends on the
    case's shape)."""
    return CudaJudge(lambda case, got: make(case)(case, got), lambda case: make(case).public(case))


def judge_cuda(
    reference: Callable, name: str, mistakes: tuple = (), outside: dict | None = None
) -> CudaJudge:
    """The output ``name`` within 1e-6 of ``reference(*case.args)``, after checking that the
    kernel touched no element outside an array (the emulator's message, then ``outside[array]``
    or ``OUTSIDE``), wrote nothing past the output's end, and -- where the case asks for
    ``one_thread_per_element`` -- handled each element in one thread; ``mistakes`` are
    ``(hint, fn)`` as for the reference."""

    def public(case) -> dict:
        return {
            "expected": reference(*copy.deepcopy(case.args)),
            "mistakes": [(hint, fn(*copy.deepcopy(case.args))) for hint, fn in mistakes],
            "factors": {},
            "outputs": [name],
            "extra": {
                "launch": {key: case.extra[key] for key in LAUNCH if key in case.extra},
                "outside": {**(outside or {}), "": OUTSIDE},  # "": any other array
            },
        }

    def judge(case, got):
        problem = launch_problem(got, name, {**(outside or {}), "": OUTSIDE})
        if problem:
            return problem
        expected = reference(*case.args)
        wrong = [(hint, fn(*case.args)) for hint, fn in mistakes]
        return compare_outputs(got["out"], expected, (name,), wrong, tolerance=1e-6)

    return CudaJudge(judge, public)


def kernel_exercise(
    name: str,
    chapter: str,
    points: int,
    entry: str,
    title: str,
    make_cases: Callable,
    judge: Callable,
    probe: str,
    catches: tuple[str, ...] = (),
    forbids: tuple[str, ...] = ("minidl.kernels",),
    parallel: bool = False,
    edges: tuple[str, ...] = (),
    not_applicable: dict[str, str] | None = None,
) -> Exercise:
    """Register a kernel exercise: the answer ``entry`` is handed to ``probe`` ("numba" or
    "cuda"), whose result ``judge`` reads; ``catches`` lists the wrong answers its cases catch;
    ``edges`` and ``not_applicable`` as for ``Exercise``."""
    exercise = Exercise(name, chapter, points, (entry,), title, make_cases, judge, probe)
    exercise.needs = ("numba",) if probe == "numba" else ()
    exercise.forbids, exercise.catches, exercise.numba_parallel = tuple(forbids), tuple(catches), parallel
    exercise.edges, exercise.not_applicable = tuple(edges), dict(not_applicable or {})
    exercise.public = getattr(judge, "public", None)  # a CudaJudge's, or numba_exercise's
    exercise.public_kind = probe
    return register(exercise)


def numba_exercise(
    name: str,
    chapter: str,
    points: int,
    title: str,
    make_cases: Callable,
    reference: Callable,
    outputs: tuple[str, ...],
    mistakes: tuple = (),
    forbids: tuple[str, ...] = ("minidl.kernels",),
    catches: tuple[str, ...] = (),
    parallel: bool = False,
    dtype_of: int | None = None,
    edges: tuple[str, ...] = (),
    not_applicable: dict[str, str] | None = None,
) -> Exercise:
    """A Numba kernel called ``name``, compared with ``reference`` (NumPy) on every case.

    mistakes : ``(hint, fn)`` pairs, ``fn`` with the reference's signature
    catches : the wrong answers the cases catch, one line each, for the catalogue
    parallel : the cell must say ``@njit(parallel=True)`` and loop with ``prange``
    dtype_of : the position of the argument whose dtype the output must have
    edges, not_applicable : as for ``Exercise``
    """
    if parallel:
        catches = (
            "not compiled with parallel=True",
            "a serial range loop where the task asks for prange",
            *catches,
        )
    judge = judge_numba(reference, outputs, mistakes, dtype_of)

    def public(case) -> dict:
        known = {
            "expected": reference(*copy.deepcopy(case.args)),
            "mistakes": [(hint, fn(*copy.deepcopy(case.args))) for hint, fn in mistakes],
            "factors": {},
        }
        return {**known, "extra": {"dtype_of": dtype_of}} if dtype_of is not None else known

    exercise = kernel_exercise(
        name,
        chapter,
        points,
        name,
        title,
        make_cases,
        judge,
        "numba",
        catches,
        forbids,
        parallel,
        edges,
        not_applicable,
    )
    exercise.public, exercise.outputs = public, tuple(outputs)
    return exercise


# A CUDA C kernel in the string ``entry``: ``cuda_exercise(name, chapter, points, entry, title,
# make_cases, judge, catches=...)``; each case's ``extra`` names the kernel, the launch and the
# ints passed after the output (see the "cuda" probe).
cuda_exercise = functools.partial(kernel_exercise, probe="cuda")
