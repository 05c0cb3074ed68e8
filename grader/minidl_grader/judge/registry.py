"""What an exercise is, and the list of all of them.

An ``Exercise`` names the function(s) a reader writes (``entries``), how many points it
is worth, how to make test inputs (``make_cases``, run in the grader's process), how to
call the submission on them (``probe``, run where the submission runs) and how to judge
the outputs (``judge``, run in the grader's process against references it computes
itself). The submission's process only ever turns inputs into outputs; the verdict is
never made there.

Most exercises are "call the function on these arguments and compare with a reference":
``function_exercise`` builds those from a reference function, the names of its outputs
and a list of known mistakes.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import threading
import types
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..runtime.probes import PROBES, Case, probe
from .feedback import TOLERANCE, compare_outputs

__all__ = [
    "Exercise",
    "Contract",
    "Case",
    "function_exercise",
    "register",
    "get",
    "all_exercises",
    "for_chapter",
    "CHAPTERS",
    "chapters_in",
    "COURSE_CHAPTERS",
    "chapters",
    "parse_chapter",
    "PROBES",
    "probe",
    "counts",
    "run_spec_file",
    "add_source",
    "declare_edges",
]

# the built-in chapters' specs: ``specs/chNN.py``, each declaring ``CHAPTER = "NN_slug"`` (a
# chapter is graded when its spec is there; read as text: this floor imports no spec)
SPECS = Path(__file__).resolve().parents[1] / "specs"
_DECLARED = re.compile(r'^CHAPTER = "(\d\d_[a-z0-9_]+)"$', re.MULTILINE)


def chapters_in(folder: Path) -> tuple[str, ...]:
    """The chapters whose specs ``folder`` holds, in the order of their numbers: the
    ``CHAPTER = "NN_slug"`` line of each ``chNN.py``. ``ValueError`` naming the file when a
    spec declares no chapter, or one whose number is not its file's."""
    found = []
    for path in sorted(folder.glob("ch[0-9][0-9].py")):
        declared = _DECLARED.findall(path.read_text(encoding="utf-8"))
        if len(declared) != 1 or declared[0][:2] != path.stem[2:]:
            raise ValueError(
                f"{path.name}: a chapter's spec declares its chapter once as "
                f'CHAPTER = "{path.stem[2:]}_slug", found {declared}'
            )
        found.append(declared[0])
    return tuple(found)


CHAPTERS = chapters_in(SPECS)
# an instructor's private chapters (``--course DIR``: ``course.load``) and the projects
# (``judge/projects.py``: project_digits...), after the built-in ones
COURSE_CHAPTERS: list[str] = []


def chapters() -> tuple[str, ...]:
    """Every chapter the grader knows: the built-in ones, then the loaded courses'."""
    return CHAPTERS + tuple(COURSE_CHAPTERS)


def parse_chapter(text: str) -> str:
    """``"03"``, ``"3"`` or ``"03_backpropagation"`` -> ``"03_backpropagation"`` (a private
    course's chapter, ``--course``, by its whole name)."""
    for chapter in CHAPTERS:
        if text == chapter or (text.isdigit() and int(text) == int(chapter[:2])):
            return chapter
    if text in COURSE_CHAPTERS:
        return text
    raise ValueError(
        f"unknown chapter {text!r}; expected a number 1-{len(CHAPTERS)} or one of {', '.join(chapters())}"
    )


DTYPES = ("float64", "float32", "int", "bool", "number")


@dataclass(frozen=True)
class Contract:
    """What a task promises about its outputs and inputs, declared once in its spec.

    dtypes : per output (in the order of ``outputs``), what it must be: ``"float64"`` or
        ``"float32"`` (an array of exactly that dtype), ``"int"`` (an array of an integer
        dtype), ``"bool"``, ``"number"`` (a plain Python or NumPy number), or ``"like:ARG"``
        (an array of the dtype of the argument named ``ARG``); the comparison enforces the
        reference's dtype, and the contracts test checks the reference against this
    changes : the arguments the function must change in place (a task that says "in
        place"); every other argument must be left as it was
    fresh : no output may share memory with an input (``fresh_outputs``)
    """

    dtypes: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    fresh: bool = False

    def __post_init__(self):
        for dtype in self.dtypes:
            if dtype not in DTYPES and not dtype.startswith("like:"):
                raise ValueError(
                    f"unknown dtype {dtype!r} in a contract; expected one of {DTYPES} or like:ARG"
                )


@dataclass
class Exercise:
    name: str
    chapter: str
    points: int
    entries: tuple[str, ...]
    title: str
    make_cases: Callable[[np.random.Generator], list]
    judge: Callable[[Case, object], str | None]
    probe: str = "call"
    needs: tuple[str, ...] = ()  # importable modules the exercise needs (e.g. "numba")
    kind: str = "code"  # "code", or a question: "choice", "number", "shape"
    choices: dict | None = None  # a multiple-choice question's letters and texts
    explanation: str = ""  # a question's explanation, shown once it is answered right
    partial: bool = False  # score case by case (also when a case has points)
    visibility: str = "visible"  # Gradescope's, for every case: see probes.Case
    # what minidl's public-case data records of a case (public.py): ``public(case) ->
    # {"expected": outputs, "mistakes": [(hint, outputs)], "factors": {...}}``, with
    # ``outputs`` (their names) and ``tolerance``; None: no public cases (the grader only)
    public: Callable[[Case], dict] | None = None
    # how ``check()`` judges those public cases (``minidl.exercises.probes``): "call" (the
    # outputs compared), or "call_and_inputs", "numba", "cuda", "freeze", "fine_tune",
    # "relu_network"; ``public(case)`` then adds what that way needs under ``"extra"``
    public_kind: str = "call"
    outputs: tuple[str, ...] = ()
    tolerance: float = TOLERANCE
    # what computes the asked result (minidl's functions, layer classes, modules): an
    # exercise cell that uses one scores 0 unless the instructor passes --allow NAME
    forbids: tuple[str, ...] = ()
    # a Numba kernel that must run in parallel: @njit(parallel=True) and a prange loop, as
    # observed on its compiled kernel and its prange loops (probes.prange_work, runner._not_parallel)
    numba_parallel: bool = False
    # the wrong answers its cases catch, one line each, for the instructor's catalogue
    # (``minidl-grade mistakes``); a function exercise lists its named mistakes' hints
    catches: tuple[str, ...] = ()
    # what the task promises of the outputs and the inputs (checked against the reference by
    # tests/grader/specs/test_contracts.py, enforced by the comparison and the probe)
    contract: Contract | None = None
    # the reference of each entry, which ``minidl-grade mutants`` mutates (a function
    # exercise's is its ``reference``); an entry without one is looked up by name in the
    # module of ``make_cases``
    references: dict[str, Callable] = field(default_factory=dict)
    # mutants of the references that cannot change the result: ``{mutant id: why}``; an id
    # may end with ``*`` to cover every mutant it starts (see judge/mutants.py)
    equivalent_mutants: dict[str, str] = field(default_factory=dict)
    # the classes of edge cases its cases cover (judge/edges.py: the vocabulary, and the
    # detector that checks each against the generated cases), and why each other class that
    # could arise does not apply: ``{"ties": "the output has no argmax"}``
    # (tests/grader/judge/test_edges.py)
    edges: tuple[str, ...] = ()
    not_applicable: dict[str, str] = field(default_factory=dict)

    @property
    def is_question(self) -> bool:
        return self.kind != "code"


# Probes (how to call a submission) live in ``probes.py``: the one part of the grading
# code that the submission's process is given. Exercises and references stay here.

# ---------------------------------------------------------------------- registry
_REGISTRY: dict[str, Exercise] = {}
# what registers the exercises, run once before the registry is first read: the package
# root adds the built-in chapters (``specs.load_all``), so this floor imports no spec
_sources: list[Callable[[], None]] = []
_load_lock = threading.RLock()


def register(exercise: Exercise) -> Exercise:
    if exercise.name in _REGISTRY and _REGISTRY[exercise.name] is not exercise:
        raise ValueError(f"exercise {exercise.name!r} is defined twice")
    _REGISTRY[exercise.name] = exercise
    return exercise


def add_source(load: Callable[[], None]) -> None:
    """Have ``load()`` (which calls ``register``) run before the registry is next read."""
    with _load_lock:
        _sources.append(load)


def _load_specs() -> None:
    """Run the sources not yet run, once each (thread-safe: the grader judges in threads).
    A source leaves the list only when it has run, so no thread reads a half-filled registry."""
    if not _sources:
        return
    with _load_lock:
        while _sources:
            _sources[0]()
            _sources.pop(0)


def run_spec_file(path: Path, module_name: str) -> types.ModuleType:
    """Run the Python file ``path`` (a course's or an instructor's specs) as the module
    ``module_name``; what it calls ``register`` on is registered. ``ValueError`` naming
    the file if it cannot be loaded or raises."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise ValueError(f"{path}: {type(err).__name__}: {err}") from None
    return module


def declare_edges(name: str, edges: tuple[str, ...], not_applicable: dict[str, str] | None = None) -> None:
    """State the classes of edge cases that the registered exercise ``name`` covers and why
    the others do not apply (``Exercise.edges``; judge/edges.py checks them)."""
    exercise = _REGISTRY[name]
    exercise.edges, exercise.not_applicable = tuple(edges), dict(not_applicable or {})


def get(name: str) -> Exercise:
    """The exercise called ``name``; otherwise a ``KeyError`` that suggests the close names of
    one chapter ("did you mean")."""
    _load_specs()
    if name not in _REGISTRY:
        from minidl.exercises import UnknownExercise, unknown_exercise

        chapters = {n: e.chapter for n, e in _REGISTRY.items()}
        raise UnknownExercise(unknown_exercise(name, chapters))
    return _REGISTRY[name]


def all_exercises() -> list[Exercise]:
    _load_specs()
    return sorted(_REGISTRY.values(), key=lambda e: (e.chapter, _order(e)))


def _order(exercise: Exercise) -> int:
    return list(_REGISTRY).index(exercise.name)


def for_chapter(chapter: str) -> list[Exercise]:
    return [e for e in all_exercises() if e.chapter == chapter]


def counts() -> dict[str, dict[str, int]]:
    """Per chapter: ``{"code": n, "questions": n, "points": n}`` (the README states these)."""
    table: dict[str, dict[str, int]] = {}
    for exercise in all_exercises():
        row = table.setdefault(exercise.chapter, {"code": 0, "questions": 0, "points": 0})
        row["questions" if exercise.is_question else "code"] += 1
        row["points"] += exercise.points
    return table


def rng_for(name: str, seed: int) -> np.random.Generator:
    """The generator that draws the inputs of exercise ``name`` for a grading ``seed``."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


# ---------------------------------------------------------------------- function exercises
def function_exercise(
    name: str,
    chapter: str,
    points: int,
    entry: str,
    title: str,
    make_cases: Callable,
    reference: Callable,
    outputs: tuple[str, ...],
    mistakes: tuple = (),
    factors: Callable | None = None,
    tolerance: float = TOLERANCE,
    probe_name: str = "call",
    needs: tuple = (),
    do_register: bool = True,
    partial: bool = False,
    visibility: str = "visible",
    forbids: tuple[str, ...] = (),
    catches: tuple = (),
    fresh_outputs: bool = False,
    dtypes: str | tuple[str, ...] = (),
    equivalent_mutants: dict[str, str] | None = None,
    edges: tuple[str, ...] = (),
    not_applicable: dict[str, str] | None = None,
    scales: Callable | None = None,
) -> Exercise:
    """An exercise that calls ``entry(*case.args)`` and compares with ``reference(*case.args)``.

    outputs : names of the returned values, e.g. ``("dx", "dW", "db")``
    mistakes : pairs ``(hint, fn)``; ``fn`` has the reference's signature and computes the
        answer with that mistake applied
    factors : ``fn(*args) -> {"label": value}``, constants that explain a scaled answer
    partial : score each case separately (points split over the cases, or ``Case.points``)
    visibility : ``"visible"``, ``"hidden"`` or ``"after_due_date"`` (Gradescope's)
    forbids : dotted names (``"minidl.nn.layers.MaxPool2D"``, ``"minidl.kernels"``) that
        compute the asked result; using one, in any spelling, scores 0 (``--allow`` lifts it)
    catches : wrong answers the cases catch beyond the named ``mistakes`` (an overflow, a tie,
        n = 0), one line each; the catalogue lists both
    fresh_outputs : an output that is a view of an input fails (the probe checks; the task
        must ask for new arrays)
    dtypes : the outputs' dtypes (``Contract.dtypes``; one string stands for every output)
    equivalent_mutants : ``{mutant id: why}``, the mutants of the reference that cannot
        change the result (``minidl-grade mutants``)
    edges, not_applicable : the classes of edge cases the cases cover, and why the others do
        not apply (``Exercise.edges``, judge/edges.py)
    scales : ``fn(*args) -> (one array per output)``, each element the sum of the magnitudes
        of the terms that add up to it: the outputs are then judged element by element,
        ``|got - expected| <= tolerance * scale`` (``compare_outputs``), where the error
        relative to the whole array would fail a right answer on rounding or hide a wrong
        small row; the public cases carry them, so ``check()`` judges the same way
    """
    if isinstance(dtypes, str):
        dtypes = (dtypes,) * len(outputs)
    if fresh_outputs:
        draw = make_cases

        def make_cases(rng):
            cases = draw(rng)
            for case in cases:
                case.extra = {**case.extra, "fresh_outputs": True}
            return cases

        catches = tuple(catches) + ("an output that is a view of an input (shares its memory)",)

    def public(case: Case) -> dict:
        known = {
            "expected": reference(*copy.deepcopy(case.args)),
            "mistakes": [(hint, fn(*copy.deepcopy(case.args))) for hint, fn in mistakes],
            "factors": factors(*case.args) if factors else {},
        }
        if scales is not None:
            known["scales"] = scales(*copy.deepcopy(case.args))
        return known

    def judge(case: Case, got) -> str | None:
        known = public(case)
        return compare_outputs(
            got,
            known["expected"],
            outputs,
            known["mistakes"],
            known["factors"],
            tolerance,
            known.get("scales"),
        )

    exercise = Exercise(
        name=name,
        chapter=chapter,
        points=points,
        entries=(entry,),
        title=title,
        make_cases=make_cases,
        judge=judge,
        probe=probe_name,
        needs=needs,
        partial=partial,
        visibility=visibility,
        public=public if probe_name == "call" else None,
        outputs=outputs,
        tolerance=tolerance,
        forbids=tuple(forbids),
        catches=tuple(hint for hint, _ in mistakes) + tuple(catches),
        contract=Contract(tuple(dtypes), (), fresh_outputs) if dtypes else None,
        references={entry: reference},
        equivalent_mutants=dict(equivalent_mutants or {}),
        edges=tuple(edges),
        not_applicable=dict(not_applicable or {}),
    )
    return register(exercise) if do_register else exercise
