"""``minidl-grade mistakes``: the wrong answers each exercise's cases catch, for an instructor.

Each exercise lists them in its spec (``Exercise.catches``: the hints of a function
exercise's named mistakes, and the edge cases its judge or its cases add). What every
exercise called the same way catches (its probe) is added here once:

    minidl-grade mistakes --chapter 07
    minidl-grade mistakes --course DIR --chapter p1_softsign   # a private course's chapter
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from .judge import registry

__all__ = ["PROBE_CATCHES", "catalogue", "main", "mutants_main"]

# what the way an answer is called catches, for every exercise called that way
PROBE_CATCHES = {
    "call": ("an input changed in place (the caller's arrays must be left as they were)",),
    "numba": ("a plain Python function, not compiled by Numba",),
    "cuda": (
        "CUDA source that does not compile, or still has its #error placeholder",
        "a read or a write outside an array, such as x[i] read before the `i < n` test (the "
        "emulator checks every index into a kernel's array parameters)",
        "a write past the end of the output through a plain pointer (guard values after it)",
    ),
}
_ALWAYS = (
    "a missing return (None), a wrong shape, a wrong number of outputs",
    "NaN or inf where the answer is finite",
)


def catalogue(chapter: str) -> list[tuple[registry.Exercise, tuple[str, ...]]]:
    """``(exercise, mistakes)`` for every code exercise of ``chapter`` (e.g. ``"07"``)."""
    rows = []
    for exercise in registry.all_exercises():
        if exercise.is_question or not (
            exercise.chapter == chapter or (chapter.isdigit() and exercise.chapter.startswith(chapter))
        ):
            continue
        rows.append((exercise, exercise.catches + PROBE_CATCHES.get(exercise.probe, ())))
    return rows


def _line(text: str) -> str:
    return textwrap.fill(
        text,
        width=96,
        initial_indent="  - ",
        subsequent_indent="    ",
        break_on_hyphens=False,
        break_long_words=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="minidl-grade mistakes",
        description="Print, for each code exercise of a chapter, the wrong answers its cases catch.",
    )
    parser.add_argument(
        "--chapter",
        required=True,
        help="the chapter, e.g. 07 or 07_convolutional_networks (with --course: one of its chapters)",
    )
    parser.add_argument(
        "--course", type=Path, help="an instructor's private course (specs/, solutions/): its chapters too"
    )
    args = parser.parse_args(argv)
    course_chapters: list[str] = []
    if args.course is not None:
        from . import course

        try:
            course_chapters = course.load(args.course)
        except ValueError as err:
            print(f"error: --course: {err}", file=sys.stderr)
            return 2
    if args.chapter in course_chapters:
        chapter = key = args.chapter
    else:
        number = args.chapter[:2]
        if not any(c.startswith(number) for c in registry.CHAPTERS) or not number.isdigit():
            also = f", or the course's {', '.join(course_chapters)}" if course_chapters else ""
            print(
                f"no chapter {args.chapter!r}; chapters are 01 to {registry.CHAPTERS[-1][:2]}{also}",
                file=sys.stderr,
            )
            return 2
        chapter, key = next(c for c in registry.CHAPTERS if c.startswith(number)), number
    print(f"Chapter {chapter}: the wrong answers the grader's cases catch")
    for exercise, mistakes in catalogue(key):
        points = f"{exercise.points} point{'s' if exercise.points != 1 else ''}"
        print(f"\n{exercise.name} ({points}): {exercise.title}")
        for mistake in mistakes:
            print(_line(mistake))
    print("\nEvery exercise also catches: " + "; ".join(_ALWAYS) + ".")
    return 0


def mutants_main(argv: list[str] | None = None) -> int:
    """``minidl-grade mutants [--course DIR] --chapter NN ...``: ``judge.mutants.main``, after
    loading a private course's exercises (its chapters, and its exercise notebooks for the
    students' signatures), which the judge's floor cannot import itself."""
    from .judge import mutants

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--course", type=Path)
    known, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if known.course is not None:
        from . import course

        try:
            course.load(known.course)
        except ValueError as err:
            print(f"error: --course: {err}", file=sys.stderr)
            return 2
        mutants.COURSE_EXERCISES.append(course.exercises_folder(known.course))
    return mutants.main(rest)


if __name__ == "__main__":
    sys.exit(main())
