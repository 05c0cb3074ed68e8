"""Graded projects: a model the student trains, scored on a split the student never sees.

A project is a chapter of its own (``project_digits``...) with one graded cell: it trains a
model with minidl within the project's compute budget and defines ``predict(x)``. Its
notebook's setup cell builds the public splits (training, validation) from minidl's own
data and generators, and its last cell measures the metric on the validation split, as
the grader does on the hidden one (minidl itself holds nothing of the projects). Here and
in ``specs/projects/``: each project's metric and thresholds (``PROJECTS``), its public
splits as the notebook builds them (``public()``, which the tests compare with the
notebook) and ``hidden(seed) -> (x, y)``, which draws the hidden split from the
instructor's grading seed in the grader's process. Only its inputs ``x`` go to the
sandbox (as the argument of ``predict``, through the ordinary "call" probe); its labels
never leave this process, and nothing of it is in minidl or in a release.

Hooks elsewhere (kept small): ``runner`` asks ``exercises_for(chapter)``, ``limits_for``
(the per-cell timeout becomes the budget; the submission's total, the budget plus
``EVALUATION_SECONDS``) and ``judge`` (the metric, the points, ``Result.metric``);
``release`` regenerates ``exercises/projects/`` from ``solutions/projects/``; the reports
write the metric (CSV column ``NAME:METRIC``, Gradescope's ``leaderboard``).

An instructor's own project (private hidden data): ``register_project(Project(...),
hidden)`` in a course's spec file, ``hidden(seed)`` reading their own files
(``grader/examples/private-course/specs/project_spirals.py``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..runtime.probes import Case
from . import registry
from .judging import Result, SubmissionError

__all__ = [
    "Project",
    "PROJECTS",
    "score",
    "points_for",
    "public_split",
    "PREFIX",
    "built_in",
    "EVALUATION_SECONDS",
    "register_project",
    "exercises_for",
    "is_project",
    "limits_for",
    "judge",
    "hidden_split",
    "leaderboard",
]


@dataclass(frozen=True)
class Project:
    """What a project promises: its metric, the thresholds, the points and the budget.

    metric : "accuracy" (higher is better) or "rmse" (lower is better)
    pass_mark, full_marks : the metric at which the project earns ``pass_fraction`` of its
        points and all of them; in between, points grow linearly; short of the pass mark, 0
    budget_minutes : what the notebook's graded cells may take on 2 cores (training included)
    """

    name: str
    title: str
    metric: str
    pass_mark: float
    full_marks: float
    points: int = 10
    pass_fraction: float = 0.5
    budget_minutes: float = 2.0

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "rmse"


PROJECTS = {
    "digits": Project(
        "digits",
        "Digits that moved: classify shifted, noisy MNIST digits",
        "accuracy",
        0.60,
        0.85,
        budget_minutes=3,
    ),
    "reviews": Project(
        "reviews", "Sentiment of generated film reviews", "accuracy", 0.75, 0.95, budget_minutes=1
    ),
    "adding": Project(
        "adding", "The adding problem: sum the two marked numbers", "rmse", 0.25, 0.08, budget_minutes=1
    ),
}


def score(metric: str, truth: np.ndarray, predicted) -> float:
    """The project's metric of ``predicted`` against ``truth`` (ValueError naming a bad shape)."""
    predicted = np.asarray(predicted)
    if metric == "accuracy":
        if predicted.shape != truth.shape:
            raise ValueError(
                f"predict returned shape {predicted.shape}, expected {truth.shape} (one label per input)"
            )
        return float(np.mean(predicted == truth))
    predicted = predicted.reshape(truth.shape) if predicted.size == truth.size else predicted
    if predicted.shape != truth.shape:
        raise ValueError(f"predict returned shape {predicted.shape}, expected {truth.shape}")
    if not np.all(np.isfinite(predicted)):
        raise ValueError("predict returned NaN or inf")
    return float(np.sqrt(np.mean((predicted.astype(np.float64) - truth) ** 2)))


def points_for(project: Project, value: float) -> float:
    """Points for a metric ``value``: 0 short of the pass mark, ``pass_fraction`` of the points at
    it, growing linearly to all of them at full marks (rounded to 0.01)."""
    sign = 1.0 if project.higher_is_better else -1.0
    reached = sign * (value - project.pass_mark)
    if not np.isfinite(value) or reached < 0:
        return 0.0
    span = sign * (project.full_marks - project.pass_mark)
    share = project.pass_fraction + (1 - project.pass_fraction) * min(1.0, reached / span)
    return round(project.points * share, 2)


PREFIX = "project_"  # a project's chapter and exercise name: project_<name>
EVALUATION_SECONDS = 60.0  # what predict may take on the hidden split, beyond the budget
_PROJECTS: dict[str, tuple[Project, Callable[[int], tuple]]] = {}
_PUBLIC: dict[str, Callable[[], tuple]] = {}


def register_project(
    project: Project, hidden: Callable[[int], tuple], public: Callable[[], tuple] | None = None
) -> registry.Exercise:
    """Make ``project`` gradable: chapter and exercise ``project_<name>``; ``hidden(seed)``
    returns the hidden split ``(x, y)`` for a grading seed; ``public()`` (optional) the
    ``((x_train, y_train), (x_val, y_val))`` its notebook's setup cell builds (tests)."""
    chapter = PREFIX + project.name
    _PROJECTS[chapter] = (project, hidden)
    if public is not None:
        _PUBLIC[chapter] = public
    if chapter not in registry.COURSE_CHAPTERS:
        registry.COURSE_CHAPTERS.append(chapter)
    return _exercise(chapter)


def _exercise(chapter: str) -> registry.Exercise:
    project, _ = _PROJECTS[chapter]

    def no_cases(rng):  # the hidden split is drawn by ``judge`` from the seed itself
        return []

    def unused(case, got):
        raise RuntimeError("a project is judged by projects.judge")

    return registry.Exercise(
        name=chapter,
        chapter=chapter,
        points=project.points,
        entries=("predict",),
        title=project.title,
        make_cases=no_cases,
        judge=unused,
    )


def exercises_for(chapter: str | None) -> list:
    """The project of ``chapter`` as a one-element list, or [] for any other chapter."""
    _load()
    return [_exercise(chapter)] if chapter in _PROJECTS else []


def is_project(exercise) -> bool:
    _load()
    return getattr(exercise, "name", None) in _PROJECTS


def project_of(chapter: str) -> Project:
    _load()
    return _PROJECTS[chapter][0]


def limits_for(chapter: str | None, limits):
    """``limits`` for grading ``chapter``: a project's cell may take its whole budget (its
    training), and the submission the budget plus ``EVALUATION_SECONDS``."""
    _load()
    if chapter not in _PROJECTS:
        return limits
    budget = _PROJECTS[chapter][0].budget_minutes * 60.0
    return dataclasses.replace(
        limits, timeout=max(limits.timeout, budget), budget=budget + EVALUATION_SECONDS
    )


def hidden_split(chapter: str, seed: int) -> tuple:
    """The hidden ``(x, y)`` of a project for a grading seed (the grader's process only)."""
    _load()
    return _PROJECTS[chapter][1](seed)


def public_split(chapter: str) -> tuple:
    """``((x_train, y_train), (x_val, y_val))`` of a built-in project, as its notebook makes them."""
    _load()
    return _PUBLIC[chapter]()


def judge(exercise, get_outputs: Callable[[Case], object], seed: int) -> Result:
    """Call ``predict`` on the hidden inputs (in the sandbox, through ``get_outputs``), score
    it here against the hidden labels, turn the metric into points."""
    project = project_of(exercise.name)
    x, y = hidden_split(exercise.name, seed)
    start = time.monotonic()
    try:
        predicted = get_outputs(Case(args=(x,), label="hidden split"))
        value = score(project.metric, np.asarray(y), predicted)
    except SubmissionError as err:
        return _unranked(exercise, project, f"predict failed on the hidden split: {err}")
    except (ValueError, TypeError) as err:
        return _unranked(exercise, project, f"predict's answer on the hidden split: {err}")
    points = points_for(project, value)
    message = (
        f"{project.metric} {value:.4f} on {len(y)} hidden examples (pass mark {project.pass_mark:g}, "
        f"full marks {project.full_marks:g}): {points:g} of {project.points} points; predict took "
        f"{time.monotonic() - start:.1f} s"
    )
    return Result(exercise.name, project.points, points, message, metric=value, metric_name=project.metric)


def _unranked(exercise, project: Project, why: str) -> Result:
    return Result(exercise.name, project.points, 0, why, metric=None, metric_name=project.metric)


def leaderboard(sub) -> list[dict]:
    """Gradescope's ``leaderboard`` entries for a submission that has a project: its metric
    (``order``: "asc" when lower is better), then the grading time (ascending: it breaks
    ties); a submission that crashed or ran out of time is entered with the reason as text,
    which Gradescope shows and ranks last. [] when the submission has no project."""
    entries = []
    for r in sub.results:
        if not getattr(r, "metric_name", ""):
            continue
        project = project_of(r.name)
        entry: dict = {"name": f"{project.metric} (hidden split)"}
        if r.metric is None:
            entry["value"] = "not ranked: " + r.message[:120]
        else:
            entry["value"] = round(float(r.metric), 4)
            if not project.higher_is_better:
                entry["order"] = "asc"
        entries.append(entry)
    if entries:
        entries.append(
            {"name": "grading seconds (breaks ties)", "value": round(sub.seconds, 1), "order": "asc"}
        )
    return entries


_loaded = False
BUILT_IN = registry.SPECS / "projects"


def built_in() -> tuple[str, ...]:
    """The built-in projects' chapters, by their files' names (``specs/projects/NAME.py``)."""
    return tuple(PREFIX + path.stem for path in sorted(BUILT_IN.glob("[a-z]*.py")))


def install() -> None:
    """Make the built-in projects' chapters known (``registry.parse_chapter``) without
    importing them (they register on first use: ``_load``)."""
    registry.COURSE_CHAPTERS.extend(c for c in built_in() if c not in registry.COURSE_CHAPTERS)


def _load() -> None:
    """Register the built-in projects once: ``specs/projects/`` registers them when the
    registry loads the specs (``specs.load_all``, handed to it by the package root; this
    floor imports no spec)."""
    global _loaded
    if not _loaded:
        _loaded = True
        registry.all_exercises()
