"""``minidl-grade grade``: grade submitted notebooks.

    minidl-grade grade SUBMISSION.ipynb [more ...] [--json results.json]
        [--csv grades.csv] [--chapter NN] [--timeout 60] [--budget S] [--jobs N]
        [--checks DIR] [--seed N] [--require-isolation] [--one-notebook]
        [--forbid MODULE[.NAME] ...] [--allow NAME ...] [--similarity REPORT.html|.md]
        [--solutions DIR | --no-published] [--question-visibility V] [--explain]
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

from . import course, notebook, similarity
from .confinement import isolation, limits
from .judge import registry
from .judge.judging import SubmissionResult
from .judge.private_checks import load_checks
from .judge.registry import parse_chapter
from .notebook import read_notebook, read_submission
from .public import PUBLIC_SEED
from .release import NOT_FOUND, published
from .reports import groups, report
from .reports.text import clean_text, display_path
from .runner import DEFAULT_MEMORY, _graded_cells, find_chapter, grade_notebook

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
        "--course",
        type=Path,
        help="an instructor's private exercises: a folder with specs/*.py and solutions/*.ipynb "
        "(see grader/examples/private-course)",
    )
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
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="NAME",
        help="re-enable a name an exercise's spec forbids (each exercise forbids the minidl "
        "functions and layers that compute its result: e.g. minidl.nn.layers.MaxPool2D, a "
        "module above it, or MaxPool2D); the grader itself cannot be allowed; repeat for several",
    )
    parser.add_argument(
        "--similarity",
        type=Path,
        metavar="REPORT.html|REPORT.md",
        help="write the pairs of similar answers (between submissions, and with the published "
        "solutions) here, their matching lines side by side; the CSV's similarity column "
        "is filled either way",
    )
    parser.add_argument(
        "--similarity-threshold",
        type=float,
        default=None,
        help="containment from which a pair is reported, for every exercise (default: each "
        "exercise's own threshold, set on independent right answers: grader/README.md, "
        f"'Similarity'; {similarity.THRESHOLD:g} for a private course's exercises)",
    )
    parser.add_argument(
        "--solutions",
        type=Path,
        help="folder of the published solution notebooks to compare with (default: found from "
        "the grader whatever the current folder: the repository's solutions/, or the copy "
        "installed with the grader; grading stops with a message where there is none)",
    )
    parser.add_argument(
        "--no-published",
        action="store_true",
        help="compare the submissions with each other only, not with the published solutions",
    )
    parser.add_argument(
        "--question-visibility",
        choices=("visible", "hidden", "after_due_date", "after_published"),
        default="visible",
        help="Gradescope's visibility of the questions' results in --json (default visible; "
        "`package` defaults to after_due_date, so that answers cannot be found by trial)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="in the terminal, print every message in full, right questions' explanations too",
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
    contents: list[bytes | str] = []
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


def _answers(path: Path, content, chapter: str | None) -> dict[str, str]:
    """``{exercise: its cell's source}`` of one submission's code exercises (none when it
    cannot be read): the cells the grader would run, found the same way."""
    if isinstance(content, str):
        return {}
    try:
        nb = read_notebook(path, content=content)
    except ValueError:
        return {}
    own = chapter or find_chapter(nb, path)
    exercises = [e for e in registry.for_chapter(own) if not e.is_question] if own else []
    cells, _ = _graded_cells(nb, exercises)
    return {exercise: source for _, source, exercise in cells if exercise}


BUILT_MARK = "\n\n# built at run time (recorded by the grader's audit hook):\n"


def _with_built(answers: dict[str, str], built: dict[str, list[str]]) -> dict[str, str]:
    """Each exercise's cell followed by the code it built at run time (``exec`` of a decoded
    string, marshalled code), as the similarity report reads it; at most ``MAX_BUILT``
    characters of it."""
    out = dict(answers)
    for exercise, sources in built.items():
        text = "\n\n".join(s for s in sources if isinstance(s, str))[:MAX_BUILT]
        if text.strip():
            out[exercise] = out.get(exercise, "") + BUILT_MARK + text
    return out


MAX_BUILT = 200_000  # the runner keeps no more per exercise (runner.MAX_CELL_CHARS)


def published_solutions(folder: Path | None) -> tuple[dict[str, str], dict[str, str]]:
    """``({exercise: the solution's cell}, {exercise: the cell as handed out})`` of the code
    exercises in ``folder``'s notebooks (default: the published solutions, ``release.published``;
    none where there are none)."""
    folder = folder if folder is not None else published("solutions")
    if folder is None:
        return {}, {}
    solutions, handed_out = {}, {}
    for path in sorted(Path(folder).glob("*.ipynb")) if Path(folder).is_dir() else []:
        try:
            nb = read_notebook(path)
        except ValueError:
            continue
        for cell in nb.get("cells", []):
            meta = notebook.exercise_meta(cell)
            if cell.get("cell_type") == "code" and meta.get("exercise") and not meta.get("question"):
                source = notebook.cell_source(cell)
                solutions[meta["exercise"]] = source
                try:
                    handed_out[meta["exercise"]] = notebook.strip_solutions(source)
                except ValueError:
                    pass
    return solutions, handed_out


def _similarity(
    args, submissions: list[Path], contents: list, chapter: str | None, built: list | None = None
) -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
    """Compare every pair of submissions, and each with the published solutions (unless
    ``--no-published``); write ``--similarity`` (the groups: ``reports/groups.py``); return
    each submission's CSV cells: ``similarity.highest``, and (group, its size). ``built``:
    each submission's code built at run time (``SubmissionResult.built``), compared with
    its cells: a published solution run from a decoded string is a copy too."""
    solutions, handed_out = ({}, {}) if args.no_published else published_solutions(args.solutions)
    if args.course is not None:  # the course's own solutions: a leaked key is a copy too
        private, private_handed_out = published_solutions(course.solutions_folder(args.course))
        solutions.update(private)
        handed_out.update(private_handed_out)
    answers = {
        display_path(path): _with_built(_answers(path, content, chapter), built[i] if built else {})
        for i, (path, content) in enumerate(zip(submissions, contents))
    }
    matches = similarity.compare_batch(answers, solutions, handed_out)
    found = groups.groups(matches, args.similarity_threshold)
    if args.similarity:
        groups.write_group_report(args.similarity, matches, args.similarity_threshold)
        limit = (
            "each exercise's threshold"
            if args.similarity_threshold is None
            else f"{args.similarity_threshold:g}"
        )
        print(
            f"similarity: {len(found)} group(s), {sum(len(g.submissions) for g in found)} submission(s), "
            f"joined by pairs at or above {limit}, in {args.similarity}"
            + ("" if solutions else " (not compared with the published solutions: --no-published)")
        )
    return {who: similarity.highest(matches, who) for who in answers}, groups.group_columns(found)


def _published_problem(args) -> str | None:
    """Why the published solutions cannot be compared with (what to pass), or None; fills
    ``args.solutions`` with the folder found from the grader."""
    if args.no_published:
        if args.solutions is not None:
            return "--solutions and --no-published contradict each other: give one"
        return None
    if args.solutions is None:
        args.solutions = published("solutions")
        if args.solutions is None:
            return (
                NOT_FOUND.format(what="solutions")
                + ", and the similarity report compares every submission with them: pass "
                "--solutions DIR (the solution notebooks), or --no-published to compare the "
                "submissions with each other only"
            )
    if not args.solutions.is_dir() or not any(args.solutions.glob("*.ipynb")):
        return f"--solutions {args.solutions} is not a folder of notebooks (*.ipynb)"
    return None


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
    bad = [a for a in args.allow if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", a)]
    grader = [
        a
        for a in args.allow
        if a.split(".")[0] in ("minidl_grader", "grading") or a.startswith("minidl.grading")
    ]
    if bad or grader:
        print(
            f"error: --allow takes the dotted names an exercise forbids (not the grader), got {bad + grader}",
            file=sys.stderr,
        )
        return 2
    try:
        if args.course is not None:
            course.load(args.course)
    except ValueError as err:
        print(f"error: --course: {err}", file=sys.stderr)
        return 2
    try:
        chapter = parse_chapter(args.chapter) if args.chapter else None
    except ValueError as err:
        print(f"error: --chapter: {err}", file=sys.stderr)
        return 2
    problem = _published_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
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
            if args.json:  # Gradescope still needs its results file: say why nothing was graded
                refused = SubmissionResult(
                    ", ".join(display_path(p) for p in submissions),
                    chapter,
                    error="not graded: the grader cannot isolate a submission on this machine "
                    "(your instructor has been told)",
                    flags=[
                        f"refused by --require-isolation: {why}; rebuild the package with "
                        "--allow-unisolated to grade without bubblewrap (see grader/README.md)"
                    ],
                )
                report.write_json(args.json, [refused], single=True, questions=args.question_visibility)
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
    similar: dict[str, str] = {}
    grouped: dict[str, tuple[int, int]] = {}
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
            allow=tuple(args.allow),
        )
        sub.note = note
        return sub

    def record(index: int, sub: SubmissionResult) -> None:
        with lock:
            results[index] = sub
            done = [r for r in results if r is not None]
            single = len(submissions) == 1
            if args.json:
                report.write_json(args.json, done, single=single, questions=args.question_visibility)
            if args.csv:
                report.write_csv(args.csv, done, grouped)

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
    # compared once all are graded: the code each built at run time is read with its cells
    built = [r.built if r is not None else {} for r in results]
    similar, grouped = _similarity(args, submissions, contents, chapter, built)
    for index, graded in enumerate(results):
        if graded is not None:
            graded.similarity = similar.get(display_path(submissions[index]), "")
    done = [r for r in results if r is not None]
    if done:  # the reports written again, with the similarity
        record(results.index(done[0]), done[0])
    for sub in [r for r in results if r is not None]:  # all of them: every future recorded its row
        if args.quiet:
            print(f"{sub.path}: {sub.score:g}/{sub.max_score:g}")
        else:
            print(report.format_table(sub, explain=args.explain))
            print()
    mode = "isolated by bubblewrap" if isolated else f"NOT ISOLATED ({why})"
    print(
        f"graded {len(results)} submission(s) with seed {seed}, {mode}; "
        f"{limits.limit_status(None if isolated else isolation.unprivileged_user(), int(args.memory * 2**30))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
