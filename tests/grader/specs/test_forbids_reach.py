"""No second implementation of an exercise left reachable in minidl (issue 68 item 3).

For every code exercise called on its arguments (probe ``call``, one entry), every public
function of the library is tried on the exercise's public cases; one that the exercise's own
judge accepts on all of them computes what the exercise asks, and the exercise's ``forbids``
must cover it (``minidl.exercises.forbid_covers``, the rule the grader applies), else a
student could hand it in as the answer (an AUC of scores and labels and
``minidl.training.metrics.roc_auc``). The compiled kernel tiers (``kernels.cpu``,
``kernels.gpu``, ``kernels.cuda``) are not called (a Numba kernel handed the wrong arrays
can crash the process): each implements the contract of its ``kernels.reference`` twin, so
where that twin is found, the tiers' function of the same name must be covered too.
Trainers, plots and loaders (``train*``, ``fit*``, ``plot*``, ...) are not called.
"""

import copy
import importlib
import importlib.util
import inspect
import os
import pkgutil
import signal
import warnings
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.judge.judging import visibility_of
from minidl_grader.public import PUBLIC_SEED

import minidl
from minidl.exercises import forbid_covers

pytestmark = pytest.mark.slow

NOT_CALLED = ("minidl.exercises", "minidl.kernels.cpu", "minidl.kernels.gpu", "minidl.kernels.cuda")
TIERS = ("minidl.kernels.cpu", "minidl.kernels.gpu", "minidl.kernels.cuda")
SIDE_EFFECTS = ("train", "fit", "plot", "show", "save", "load", "download", "demo", "run", "main")
SECONDS = 2.0  # per call


def _library_functions() -> list:
    """Every public function of minidl's modules (once each, where it is defined)."""
    found: dict = {}
    for info in pkgutil.walk_packages(minidl.__path__, "minidl."):
        if info.name.startswith(NOT_CALLED) or info.name.endswith(("__main__", ".cli")):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # an optional dependency (CuPy) missing here
            continue
        for name, obj in vars(module).items():
            if (
                inspect.isfunction(obj)
                and not name.startswith(("_", *SIDE_EFFECTS))
                and obj.__module__.startswith("minidl.")
            ):
                found.setdefault(id(obj), obj)
    return list(found.values())


def _dotted(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _exercises() -> list:
    return [
        e
        for e in registry.all_exercises()
        if not e.is_question and e.probe == "call" and len(e.entries) == 1 and e.public is not None
    ]


class _Late(BaseException):
    """A call past ``SECONDS`` (a BaseException: a function's ``except Exception`` lets it by)."""


def _computes(exercise, fn, cases) -> bool:
    """Whether ``fn`` passes the exercise's judge on every case (no output, no time left: no)."""
    if not _binds(fn, cases[0].args):
        return False
    saved = [os.dup(fd) for fd in (0, 1, 2)]  # a function handed an int as a file closes it
    previous = signal.signal(signal.SIGALRM, _raise_late)
    try:
        for case in cases:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                with redirect_stdout(StringIO()), redirect_stderr(StringIO()):
                    signal.setitimer(signal.ITIMER_REAL, SECONDS)
                    try:
                        out = fn(*copy.deepcopy(case.args))
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
            if exercise.judge(case, out) is not None:
                return False
        return True
    except (Exception, _Late, SystemExit, RecursionError):
        return False
    finally:
        signal.signal(signal.SIGALRM, previous)
        for fd, copy_of in zip((0, 1, 2), saved):
            os.dup2(copy_of, fd)
            os.close(copy_of)


def _raise_late(*_):
    raise _Late()


def _binds(fn, args) -> bool:
    try:
        inspect.signature(fn).bind(*args)
        return True
    except (TypeError, ValueError):
        return False


def _tier_twins(fn) -> list[str]:
    """The compiled tiers' names of a ``kernels.reference`` function (its module's name)."""
    module = fn.__module__
    if not module.startswith("minidl.kernels.reference."):
        return []
    tail = module.removeprefix("minidl.kernels.reference.")
    return [
        f"{tier}.{tail}.{fn.__name__}"
        for tier in TIERS
        if importlib.util.find_spec(f"{tier}.{tail}") is not None
    ]


@pytest.fixture(scope="module")
def library():
    return _library_functions()


@pytest.mark.parametrize("exercise", _exercises(), ids=lambda e: e.name)
def test_what_computes_the_exercise_is_forbidden(exercise, library, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # whatever a function writes stays here
    cases = exercise.make_cases(registry.rng_for(exercise.name, PUBLIC_SEED))
    cases = [c for c in cases if visibility_of(exercise, c) == "visible"] or cases[:1]
    reachable = []
    for fn in library:
        if _computes(exercise, fn, cases):
            for name in [_dotted(fn), *_tier_twins(fn)]:
                if not any(forbid_covers(entry, name) for entry in exercise.forbids):
                    reachable.append(name)
    assert not reachable, (
        f"{exercise.name}: {', '.join(reachable)} compute(s) what it asks and its spec does not "
        f"forbid it (forbids: {', '.join(exercise.forbids) or 'nothing'})"
    )


def _auc_of_pairs(scores, labels):
    """The fraction of (positive, negative) pairs the positive wins, a tie one half."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def _auc_cases(rng):
    cases = []
    for n in (8, 20):
        labels = rng.integers(0, 2, n)
        labels[:2] = (0, 1)
        cases.append(registry.Case((np.round(rng.random(n), 1), labels), label=f"{n} scores"))
    return cases


def test_the_walk_finds_a_known_second_implementation(library, tmp_path, monkeypatch):
    """The walk can fail: an exercise that asked for the AUC of scores and labels (chapter 22
    asked for it until its task became the AUC of a histogram) is computed by ``roc_auc``."""
    monkeypatch.chdir(tmp_path)
    exercise = registry.function_exercise(
        "auc_of_pairs",
        "22_detection_segmentation",
        1,
        "auc_of_pairs",
        "AUC",
        _auc_cases,
        _auc_of_pairs,
        ("auc",),
        do_register=False,
        dtypes=("number",),
    )
    cases = exercise.make_cases(np.random.default_rng(0))
    found = {_dotted(fn) for fn in library if _computes(exercise, fn, cases)}
    assert "minidl.training.metrics.roc_auc" in found
