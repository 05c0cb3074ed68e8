"""``minidl-grade grade``: grade submitted notebooks.

    minidl-grade grade SUBMISSION.ipynb [more ...] [--json results.json]
        [--csv grades.csv] [--chapter NN] [--timeout 60] [--budget S] [--jobs N]
        [--checks DIR] [--seed N] [--require-isolation] [--one-notebook]
        [--forbid MODULE[.NAME] ...]
    minidl-grade package --chapter NN -o autograder.zip [--checks DIR]

A folder given as a submission means every ``*.ipynb`` in it. Every file is read before
any submission runs, and the results files are rewritten (atomically) after each
submission, so a grader killed half-way leaves every row it had finished. See
``private_checks.py`` for the format of ``--checks`` files, ``gradescope.py`` for ``package``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .confinement import isolation, limits
from .judge.private_checks import load_checks
from .reports import report
from .notebook import read_notebook, read_submission
from .public import PUBLIC_SEED
from .runner import (
    DEFAULT_MEMORY,
    SubmissionResult,
    clean_text,
    display_path,
    find_chapter,
    grade_notebook,
    parse_chapter,
)

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minidl-grade grade",
        description="Grade exercise notebooks: each runs in its own sandboxed process and is "
        "judged against references computed by the grader. "
        "`minidl-grade package --help`: a Gradescope autograder.",
    )
    parser.add_argument("submissions", nargs="*", type=Path, help="notebooks, or folders of notebooks")
    parser.add_argument("--json", type=Path, help="write Gradescope results.json here")
    parser.add_argument("--csv", type=Path, help="write one row per submission here")
    parser.add_argument(
        "--chapter", help="the assignment, e.g. 03: a notebook of another chapter gets an error and 0 points"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds allowed for each cell and each test call (default 60)",
    )
    parser.add_argument(
        "--budget", type=float, help="seconds allowed for a whole submission (default 10 timeouts)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    parser.add_argument("--checks", type=Path, help="folder of private checks (*.py)")
    parser.add_argument(
        "--memory",
        type=float,
        default=DEFAULT_MEMORY / 2**30,
        help="address-space limit of a submission's process, GiB (default 4)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="seed of the (hidden) test inputs: the instructor's, never the public cases' "
        "(default: a fresh random seed, printed)",
    )
    parser.add_argument(
        "--require-isolation",
        action="store_true",
        help="refuse to grade unless bubblewrap can isolate each submission",
    )
    parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="do not use bubblewrap even where it works (debugging; the report says 'not isolated')",
    )
    parser.add_argument(
        "--one-notebook",
        action="store_true",
        help="of several notebooks, grade only the one of --chapter (the first "
        "by name if none or several are): Gradescope takes one result",
    )
    parser.add_argument(
        "--forbid",
        action="append",
        default=[],
        metavar="MODULE[.NAME]",
        help="a module or name an answer may not use (e.g. minidl.nn.layers, "
        "numpy.linalg.solve): an exercise cell that uses it scores 0, and "
        "in the sandbox it raises; repeat for several",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the totals")
    return parser


_SKIPPED_FOLDERS = {"__MACOSX", "__pycache__"}


def _expand(paths: list[Path]) -> list[tuple[Path, bool]]:
    """``(notebook, named)`` for each notebook to grade: a file given by name, or every
    ``*.ipynb`` under a folder, sub-folders included (Gradescope keeps a student's
    ``hw3/x.ipynb`` as uploaded), hidden folders (``.ipynb_checkpoints``) left out.

    Nothing under a folder is followed through a symbolic link: a link named ``*.ipynb``
    (or a linked folder) is listed with ``named=False`` and read with ``O_NOFOLLOW``, so it
    becomes an error row rather than someone else's work graded as the student's."""
    found = []
    for path in paths:
        if not path.is_dir():
            found.append((path, True))
            continue
        for folder, dirs, files in os.walk(path):
            links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
            dirs[:] = sorted(
                d for d in dirs if not d.startswith(".") and d not in _SKIPPED_FOLDERS and d not in links
            )
            names = [f for f in files if f.endswith(".ipynb") and not f.startswith(".")] + links
            found += [(Path(folder) / name, False) for name in sorted(names)]
    return found


def _read_all(paths: list[tuple[Path, bool]]) -> list[bytes | str]:
    """Every submission's JSON (outputs stripped), read before any submission runs; a
    ``str`` says why one could not be read (the grader reports it in its row)."""
    contents = []
    for path, named in paths:
        try:
            contents.append(read_submission(path, follow_symlinks=named))
        except ValueError as err:
            contents.append(str(err))
    return contents


def pick_notebook(paths: list[Path], chapter: str | None) -> tuple[list[Path], str]:
    """``([the notebook to grade], why)`` among several submitted ones.

    Gradescope takes one result per submission, and students upload scratch files next to
    their work: the notebook graded is the one of ``chapter`` (its metadata, file name or
    exercise cells say so: ``runner.find_chapter``), else the first by name. Notebooks are
    only parsed here (JSON), never run; an unreadable one is no candidate.
    """
    paths = sorted(paths, key=lambda p: p.name)
    of_chapter = []
    for path in paths:
        try:
            nb = read_notebook(path, content=read_submission(path, follow_symlinks=False))
        except (OSError, ValueError):
            continue
        if chapter is not None and find_chapter(nb, path) == chapter:
            of_chapter.append(path)
    chosen = (of_chapter or paths)[0]
    others = ", ".join(display_path(p.name) for p in paths if p != chosen)
    why = (
        f"the notebook of chapter {chapter}"
        if len(of_chapter) == 1
        else f"the first by name of the {len(of_chapter)} notebooks of chapter {chapter}"
        if of_chapter
        else "the first by name: none is of the assignment's chapter"
        if chapter
        else "the first by name"
    )
    return [chosen], clean_text(
        f"{len(paths)} notebooks were submitted; graded "
        f"{display_path(chosen.name)} ({why}); not graded: {others}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "package":
        from .reports.gradescope import main as package_main

        return package_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.jobs < 1 or args.timeout <= 0 or (args.budget is not None and args.budget <= 0):
        print("error: --jobs must be at least 1, --timeout and --budget positive", file=sys.stderr)
        return 2
    bad = [f for f in args.forbid if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", f)]
    if bad:
        print(f"error: --forbid takes MODULE[.NAME] (dotted Python names), got {bad}", file=sys.stderr)
        return 2
    try:
        chapter = parse_chapter(args.chapter) if args.chapter else None
    except ValueError as err:
        print(f"error: --chapter: {err}", file=sys.stderr)
        return 2
    found = _expand(args.submissions)
    named = {path for path, by_name in found if by_name}
    submissions = [path for path, _ in found]
    if not submissions:
        print("error: no notebooks to grade", file=sys.stderr)
        if args.json:  # Gradescope still needs its results file
            report.write_json(
                args.json, [SubmissionResult("(none)", chapter, error="no .ipynb notebook was submitted")]
            )
        return 2
    note = None
    if args.one_notebook and len(submissions) > 1:
        submissions, note = pick_notebook(submissions, chapter)
        print(note)
    try:
        extra = load_checks(args.checks) if args.checks else []
    except (OSError, ValueError) as err:
        print(f"error: cannot load --checks: {err}", file=sys.stderr)
        return 2
    isolated, why = (False, "--no-isolation was given") if args.no_isolation else isolation.isolation_status()
    if not isolated:
        if args.require_isolation:
            print(f"error: --require-isolation: submissions cannot be isolated here: {why}", file=sys.stderr)
            return 3
        print(
            f"warning: NOT ISOLATED: {why}; each submission runs as an ordinary process "
            "(see 'Limits of the sandbox' in grader/README.md)",
            file=sys.stderr,
        )
    if args.seed == PUBLIC_SEED:
        print(
            f"error: --seed {PUBLIC_SEED} is the seed of the public cases that minidl's check() "
            "shows to everyone: grade with another (or none: a fresh random seed)",
            file=sys.stderr,
        )
        return 2
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    while seed == PUBLIC_SEED:
        seed = secrets.randbelow(2**31)
    contents = _read_all([(path, path in named) for path in submissions])
    results: list[SubmissionResult | None] = [None] * len(submissions)
    lock = threading.Lock()

    def grade(index: int) -> SubmissionResult:
        sub = grade_notebook(
            submissions[index],
            timeout=args.timeout,
            memory=int(args.memory * 2**30),
            seed=seed,
            extra=extra,
            chapter=chapter,
            budget=args.budget,
            content=contents[index],
            isolate=not args.no_isolation,
            forbid=tuple(args.forbid),
        )
        sub.note = note
        return sub

    def record(index: int, sub: SubmissionResult) -> None:
        with lock:
            results[index] = sub
            done = [r for r in results if r is not None]
            single = len(submissions) == 1
            if args.json:
                report.write_json(args.json, done, single=single)
            if args.csv:
                report.write_csv(args.csv, done)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(grade, i): i for i in range(len(submissions))}
        for future in as_completed(futures):
            index = futures[future]
            try:
                sub = future.result()
            except Exception as err:  # grade_notebook never raises; belt and braces
                sub = SubmissionResult(
                    display_path(submissions[index]),
                    chapter,
                    error=f"internal grader error: {type(err).__name__}",
                )
            record(index, sub)
    for sub in results:
        if args.quiet:
            print(f"{sub.path}: {sub.score:g}/{sub.max_score:g}")
        else:
            print(report.format_table(sub))
            print()
    mode = "isolated by bubblewrap" if isolated else f"NOT ISOLATED ({why})"
    print(
        f"graded {len(results)} submission(s) with seed {seed}, {mode}; "
        f"{limits.limit_status(None if isolated else isolation.unprivileged_user(), int(args.memory * 2**30))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
