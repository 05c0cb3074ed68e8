"""An instructor's private exercises: ``--course DIR``.

A course folder holds exercises that are not in the public repository, written exactly
like the built-in ones::

    DIR/specs/*.py           one module per chapter: references, case generators, usual
                             mistakes, points, forbidden names (``function_exercise`` or
                             ``register(Exercise(...))``, as in ``minidl_grader/specs/``)
    DIR/solutions/NAME.ipynb the solution notebook of chapter NAME (its
                             ``metadata.minidl.chapter`` is NAME), answers between
                             ``# BEGIN SOLUTION`` / ``# END SOLUTION``
    DIR/exercises/NAME.ipynb generated from it: ``minidl-grade release --course DIR``

``load(DIR)`` runs the spec modules in the grader's process, where the built-in specs run;
the submission's process never receives them (the sandbox's runtime is built from the
library and ``minidl_grader/runtime`` only, and bubblewrap mounts nothing of ``DIR``). A
course exercise calls the submission with a built-in probe (``"call"``,
``"call_and_inputs"``): a probe runs inside the sandbox, so a course cannot add one.

See ``grader/examples/private-course/`` and its README for a whole exercise, step by step.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .judge import registry

__all__ = ["load", "solutions_folder", "exercises_folder", "COURSE_PROBES"]

COURSE_PROBES = ("call", "call_and_inputs")
_CHAPTER = re.compile(r"[a-z][a-z0-9_]*")  # a course's chapter: not a built-in "NN_topic"
_loaded: dict[Path, list[str]] = {}


def solutions_folder(folder) -> Path:
    return Path(folder) / "solutions"


def exercises_folder(folder) -> Path:
    return Path(folder) / "exercises"


def load(folder) -> list[str]:
    """Register the course's exercises and chapters; return its chapters.

    ``ValueError`` names what is wrong: no ``specs/`` or ``solutions/``, a chapter name that
    is a built-in one's or not a plain name, a spec that fails to import, an exercise of a
    chapter that has no solution notebook, a name already taken, a probe that is not a
    built-in one. Loading the same folder again does nothing."""
    folder = Path(folder).resolve()
    if folder in _loaded:
        return _loaded[folder]
    specs, solutions = folder / "specs", solutions_folder(folder)
    if not specs.is_dir() or not solutions.is_dir():
        raise ValueError(
            f"{folder} is not a course: it needs specs/ (the exercises) and solutions/ (notebooks)"
        )
    chapters = [path.stem for path in sorted(solutions.glob("*.ipynb"))]
    for chapter in chapters:
        if chapter in registry.CHAPTERS or not _CHAPTER.fullmatch(chapter):
            raise ValueError(
                f"{folder}: the chapter {chapter!r} (solutions/{chapter}.ipynb) must be a lowercase name "
                "starting with a letter, not one of the built-in chapters"
            )
    before = {e.name for e in registry.all_exercises()}  # the built-in specs, loaded first
    registry.COURSE_CHAPTERS.extend(c for c in chapters if c not in registry.COURSE_CHAPTERS)
    package = "minidl_course_" + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    for path in sorted(specs.glob("*.py")):
        if path.name.startswith("_"):
            continue
        registry.run_spec_file(path, f"{package}.{path.stem}")
    added = [e for e in registry.all_exercises() if e.name not in before]
    for exercise in added:
        if exercise.chapter not in chapters:
            raise ValueError(
                f"{folder}: exercise {exercise.name!r} is of chapter {exercise.chapter!r}, "
                f"which has no solutions/{exercise.chapter}.ipynb"
            )
        if not exercise.is_question and exercise.probe not in COURSE_PROBES:
            raise ValueError(
                f"{folder}: exercise {exercise.name!r} uses the probe {exercise.probe!r}; a course's "
                f"exercises use one of {', '.join(COURSE_PROBES)}"
            )
    if not added:
        raise ValueError(f"{folder}: specs/ registers no exercise")
    _loaded[folder] = chapters
    return chapters
