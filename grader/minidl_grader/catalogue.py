"""``minidl-grade mistakes``: the wrong answers each exercise's cases catch, for an instructor.

Each exercise lists them in its spec (``Exercise.catches``: the hints of a function
exercise's named mistakes, and the edge cases its judge or its cases add). What every
exercise called the same way catches (its probe) is added here once:

    minidl-grade mistakes --chapter 07
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from .judge import registry

__all__ = ["PROBE_CATCHES", "catalogue", "main"]

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
        if exercise.is_question or not exercise.chapter.startswith(chapter):
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
    parser.add_argument("--chapter", required=True, help="the chapter, e.g. 07 or 07_convolutional_networks")
    args = parser.parse_args(argv)
    number = args.chapter[:2]
    if not any(c.startswith(number) for c in registry.CHAPTERS) or not number.isdigit():
        print(f"no chapter {args.chapter!r}; chapters are 01 to {registry.CHAPTERS[-1][:2]}", file=sys.stderr)
        return 2
    chapter = next(c for c in registry.CHAPTERS if c.startswith(number))
    print(f"Chapter {chapter}: the wrong answers the grader's cases catch")
    for exercise, mistakes in catalogue(number):
        points = f"{exercise.points} point{'s' if exercise.points != 1 else ''}"
        print(f"\n{exercise.name} ({points}): {exercise.title}")
        for mistake in mistakes:
            print(_line(mistake))
    print("\nEvery exercise also catches: " + "; ".join(_ALWAYS) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
