"""``minidl-grade release``: regenerate ``exercises/`` from ``solutions/``; ``--out DIR``: a student release.

Each ``solutions/NN_topic.ipynb`` becomes ``exercises/NN_topic.ipynb`` with the answers
stripped (see ``notebook.py``). Before writing, the solution notebook is validated
against the registry: its chapter, one cell per exercise, the same points. ``--check``
writes nothing and fails if a committed exercise file differs from what would be
generated (the test suite and CI use it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from . import notebook
from .judge import projects, registry

__all__ = ["release", "validate_solution", "main"]

# the repository (grader/minidl_grader/release.py is two folders down), where solutions/,
# notebooks/ and exercises/ are; a grader installed from a wheel carries copies of
# solutions/ and notebooks/ in ``minidl_grader/published/`` (grader/setup.py puts them there)
_REPOSITORY = Path(__file__).resolve().parents[2]
_INSTALLED = Path(__file__).resolve().parent / "published"
ROOT: Path | None = _REPOSITORY if (_REPOSITORY / "solutions").is_dir() else None

NOT_FOUND = (
    "cannot find the published {what}: this grader is neither in the repository nor installed "
    "from a wheel that carries them (grader/setup.py copies solutions/ and notebooks/ into it "
    "when it is built from the repository)"
)


def published(name: str) -> Path | None:
    """The folder of published notebooks ``name`` (``"solutions"`` or ``"notebooks"``),
    whatever the current folder: the repository's, beside a grader run from its source
    (editable install), else the copy installed with the grader
    (``minidl_grader/published/NAME``); None when neither holds a notebook."""
    for base in (_REPOSITORY, _INSTALLED):
        folder = base / name
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder
    return None


def _folder_problem(folder: Path | None, what: str, option: str) -> str | None:
    """Why ``folder`` cannot be read as the ``what`` (a message naming ``option``), or None."""
    if folder is None:
        return NOT_FOUND.format(what=what) + f": pass {option} DIR"
    if not Path(folder).is_dir():
        return f"{option} {folder} is not a folder"
    if not any(Path(folder).glob("*.ipynb")):
        return f"{option} {folder} holds no notebook (*.ipynb): nothing to release"
    return None


def validate_solution(nb: dict, path: Path) -> list[str]:
    """Problems with a solution notebook, as messages (empty when it is fine)."""
    problems = []
    chapter = nb.get("metadata", {}).get("minidl", {}).get("chapter")
    if chapter != path.stem:
        problems.append(f"{path.name}: metadata.minidl.chapter is {chapter!r}, expected {path.stem!r}")
    expected = {e.name: e for e in registry.for_chapter(path.stem) + projects.exercises_for(path.stem)}
    seen = []
    for cell in nb["cells"]:
        meta = notebook.exercise_meta(cell)
        if "exercise" not in meta:
            continue
        name = meta["exercise"]
        seen.append(name)
        if name not in expected:
            problems.append(f"{path.name}: exercise {name!r} is not in the registry of {path.stem}")
            continue
        if meta.get("points") != expected[name].points:
            problems.append(
                f"{path.name}: {name} has {meta.get('points')} points in the notebook, "
                f"{expected[name].points} in the registry"
            )
        try:
            blocks = notebook.solution_blocks(notebook.cell_source(cell))
        except ValueError as err:
            problems.append(f"{path.name}: {name}: {err}")
            continue
        if not blocks:
            problems.append(f"{path.name}: {name} has no solution block")
            continue
        problems += _validate_question(nb, path, cell, expected[name], blocks)
    for name in expected:
        if seen.count(name) != 1:
            problems.append(
                f"{path.name}: exercise {name!r} appears in {seen.count(name)} cells, expected exactly one"
            )
    return problems


def _validate_question(nb: dict, path: Path, cell: dict, exercise, blocks) -> list[str]:
    """A question's cell agrees with the registry: it is marked as a question, its block
    assigns the question's name, and every choice is written in the notebook's text."""
    name, meta = exercise.name, notebook.exercise_meta(cell)
    if bool(meta.get("question")) != exercise.is_question:
        return [
            f"{path.name}: {name}: metadata.minidl.question is {meta.get('question')!r}, "
            f"but the registry's {name} is {'a question' if exercise.is_question else 'code'}"
        ]
    if not exercise.is_question:
        return []
    try:
        assigned = [notebook.answer_name(block) for block in blocks]
    except ValueError as err:
        return [f"{path.name}: {name}: {err}"]
    if assigned != [name]:
        return [f"{path.name}: {name}: the solution block assigns {assigned}, expected [{name!r}]"]
    from .judge.questions import choice_line

    text = "\n".join(notebook.cell_source(c) for c in nb["cells"] if c.get("cell_type") == "markdown")
    return [
        f"{path.name}: {name}: the choice {choice_line(letter, choice)!r} is not in the notebook's text"
        for letter, choice in sorted((exercise.choices or {}).items())
        if choice_line(letter, choice) not in text
    ]


def release(
    solutions: Path, exercises: Path, check: bool = False, chapters: tuple[str, ...] | None = None
) -> tuple[list[str], list[str]]:
    """Regenerate every exercise notebook. Returns ``(changed_files, problems)``.

    Every solution is validated first: when one has a problem, nothing is written. With
    ``check=True`` nothing is written; ``changed_files`` lists the files that would change.
    ``chapters``: only the notebooks whose name starts with one of them (``"03"``).
    """
    changed, problems, to_write = [], [], []
    paths = sorted(Path(solutions).glob("*.ipynb"))
    if chapters is None:  # the projects' notebooks: solutions/projects/ -> exercises/projects/
        paths += sorted((Path(solutions) / "projects").glob("*.ipynb"))
    for path in paths:
        if chapters is not None and not path.name.startswith(tuple(f"{c}_" for c in chapters)):
            continue
        nb = notebook.read_notebook(path)
        problems += validate_solution(nb, path)
        text = notebook.dumps_notebook(notebook.release_notebook(nb))
        target = Path(exercises) / path.relative_to(solutions)
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            changed.append(str(target))
            to_write.append((nb, target))
    if not check and not problems:
        for nb, target in to_write:
            target.parent.mkdir(parents=True, exist_ok=True)
            notebook.write_notebook(notebook.release_notebook(nb), target)
    return changed, problems


def _pyproject_of_installed(library: Path) -> str:
    """A ``pyproject.toml`` for the copy of an installed minidl (no source tree beside it):
    its name, version, Python, dependencies (the extras left out) and entry points (the
    ``minidl`` command) from the distribution's metadata, and every file of the copy that is not Python as package data."""
    from importlib import metadata

    meta = metadata.metadata("minidl")
    requires = [r for r in (metadata.requires("minidl") or []) if "extra ==" not in r]
    groups: dict[str, list[str]] = {}  # the console scripts (``minidl``) and other entry points
    for entry in metadata.distribution("minidl").entry_points:
        groups.setdefault(entry.group, []).append(f"{json.dumps(entry.name)} = {json.dumps(entry.value)}")
    data = sorted(
        str(p.relative_to(library))
        for p in library.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    )
    lines = [
        "[build-system]",
        'requires = ["setuptools>=64"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        'name = "minidl"',
        f"version = {json.dumps(meta['Version'])}",
        f"description = {json.dumps((meta.get_all('Summary') or ['minidl'])[0])}",
        f"requires-python = {json.dumps((meta.get_all('Requires-Python') or ['>=3.11'])[0])}",
        f"dependencies = {json.dumps(requires)}",
        "",
        *(
            line
            for group, entries in sorted(groups.items())
            for line in (
                "[project.scripts]"
                if group == "console_scripts"
                else f"[project.entry-points.{json.dumps(group)}]",
                *entries,
                "",
            )
        ),
        "[tool.setuptools.packages.find]",
        'include = ["minidl", "minidl.*"]',
        "",
        "[tool.setuptools.package-data]",
        f"minidl = {json.dumps(data)}",
        "",
    ]
    return "\n".join(lines)


def student_release(
    out: Path, solutions: Path, notebooks: Path, chapters: tuple[str, ...] | None = None
) -> list[str]:
    """Write what an instructor hands out into ``out`` (a new or empty folder) and return
    problems (empty when it went well): ``notebooks/`` (the chapters), ``exercises/``
    (generated from ``solutions``), ``workspace/`` (the student's copies of them, which the
    chapters link to), ``bench/`` (the benchmarks chapters 10 and 11 import, when
    the published notebooks have them beside them), ``minidl/`` (the library, with its
    public-case data regenerated) and the ``pyproject.toml`` and a short ``README.md`` that
    ``pip install .`` needs (the source tree's, or one made from the installed distribution's
    metadata). Not there: ``solutions/``, the grader (``minidl_grader``, its specs), tests.
    ``chapters``: only those chapters' notebooks and exercises (``("03", "07")``)."""
    import shutil

    from minidl.exercises import workspace

    from .confinement.isolation import library_dir
    from .public import public_data, write

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        return [f"{out} is not empty: a student release is written into a new or empty folder"]
    _, problems = release(solutions, out / "exercises", check=True, chapters=chapters)
    if problems:
        return problems
    out.mkdir(parents=True, exist_ok=True)
    release(solutions, out / "exercises", chapters=chapters)
    # the chapters link to the student's own copies (../workspace/NN_slug.ipynb), which
    # ``python -m minidl exercises copy`` makes in a repository: a release starts with them made
    workspace.copy(originals=out / "exercises", workspace=out / "workspace")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    if chapters is None:
        shutil.copytree(notebooks, out / "notebooks", ignore=skip)
    else:
        (out / "notebooks").mkdir()
        for path in sorted(Path(notebooks).glob("*.ipynb")):
            if path.name.startswith(tuple(f"{c}_" for c in chapters)):
                shutil.copy2(path, out / "notebooks" / path.name)
    # the benchmarks chapters 10 and 11 import sit beside notebooks/ (a tool of the repository,
    # not of the installed minidl: the chapters put the folder above theirs on the path)
    bench = Path(notebooks).parent / "bench"
    if bench.is_dir():
        shutil.copytree(bench, out / "bench", ignore=skip)
    library = library_dir()
    shutil.copytree(library, out / "minidl", ignore=skip)
    write(*public_data(), out / "minidl" / "exercises" / "data")
    pyproject = library.parent / "pyproject.toml"
    if pyproject.is_file():
        shutil.copy2(pyproject, out / "pyproject.toml")
    else:  # an installed minidl (site-packages): no source tree beside it
        (out / "pyproject.toml").write_text(_pyproject_of_installed(out / "minidl"), encoding="utf-8")
    (out / "README.md").write_text(STUDENT_README, encoding="utf-8")
    return []


STUDENT_README = """# minidl: the course

    pip install . jupyterlab   # the library, with the public test cases of check(), and Jupyter
    jupyter lab                # notebooks/ are the chapters, exercises/ the graded exercises

Work in `workspace/`: it holds your own copies of the exercise notebooks, and the chapters
link to them; `exercises/` keeps the originals. `python -m minidl exercises reset 03` (run
here) starts chapter 3's exercises again from the original, keeping your old copy as
`workspace/03_....ipynb.bak`; `python -m minidl exercises where` lists which copies you changed.

In an exercise notebook, `check("name", your_function)` runs your function on public test
cases and says what is wrong, if anything; a question's `check` says whether the answer is
well-formed. Your grade comes from the instructor's grader, on test cases you have not seen.
Submit your notebooks from `workspace/` as your instructor says.

`exercises/projects/` holds the graded projects: train a model, define `predict`, and the
notebook's last cell measures it on the public validation split; the grade comes from a
hidden split the grader draws itself, within the project's stated time budget.
"""


def _resolve_folders(args, chapters: tuple[str, ...] | None) -> str | None:
    """Fill ``args.solutions``, ``args.notebooks`` (with ``--out``) and ``args.exercises``
    (without) with their defaults, found from the grader (``published``), never from the
    current folder; return what to pass where one cannot be found or read, else None."""
    solutions_given = args.solutions is not None
    if not solutions_given:
        args.solutions = published("solutions")
    problem = _folder_problem(args.solutions, "solutions", "--solutions")
    if problem:
        return problem
    if chapters is not None:
        missing = [c for c in chapters if not any(Path(args.solutions).glob(f"{c}_*.ipynb"))]
        if missing:
            return f"no solution notebook of chapter(s) {', '.join(missing)} in {args.solutions}"
    if args.out is not None:
        if args.notebooks is None:
            args.notebooks = published("notebooks")
        return _folder_problem(args.notebooks, "chapter notebooks", "--notebooks")
    if args.exercises is None:
        if Path(args.solutions).resolve().parent == _INSTALLED.resolve():
            return (
                f"the solutions installed with the grader ({args.solutions}) have no exercises/ "
                "beside them: pass --out DIR (a student release) or --exercises DIR"
            )
        args.exercises = Path(args.solutions).parent / "exercises"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="minidl-grade release",
        description="Regenerate exercises/ from solutions/; with --out, write a student release.",
    )
    parser.add_argument(
        "--solutions",
        type=Path,
        help="the solution notebooks (default: the published ones, found from the grader whatever "
        "the current folder: the repository's solutions/, or the copy installed with the grader)",
    )
    parser.add_argument(
        "--exercises",
        type=Path,
        help="where the exercise notebooks are regenerated (default: exercises/ beside the "
        "repository's solutions/)",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if exercises/ is out of date"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="write a student release into this new folder: chapters, exercise notebooks, the "
        "library with its public cases; no solutions, no grader",
    )
    parser.add_argument(
        "--notebooks",
        type=Path,
        help="the chapter notebooks (with --out; default: the published ones, found like --solutions)",
    )
    parser.add_argument(
        "--course",
        type=Path,
        help="an instructor's private course: regenerate DIR/exercises/ from DIR/solutions/, "
        "checked against DIR/specs/; with --out, its exercise notebooks (and their public "
        "cases) go into the student release too",
    )
    parser.add_argument(
        "--chapters",
        help="only these chapters, by number, comma-separated (--chapters 03,07): their exercise "
        "notebooks (and, with --out, their chapter notebooks)",
    )
    args = parser.parse_args(argv)
    chapters = None
    if args.chapters:
        chapters = tuple(c.strip() for c in args.chapters.split(",") if c.strip())
        if not all(re.fullmatch(r"\d\d", c) for c in chapters):
            print(
                f"problem: --chapters takes two-digit numbers (03,07), got {args.chapters!r}", file=sys.stderr
            )
            return 2
    if args.course is not None:
        from . import course

        try:
            course.load(args.course)
        except ValueError as err:
            print(f"problem: {err}", file=sys.stderr)
            return 1
    if args.course is not None and args.out is None:
        args.solutions = course.solutions_folder(args.course)
        args.exercises = course.exercises_folder(args.course)
    problem = _resolve_folders(args, chapters)
    if problem:  # never an empty release: say what to pass
        print(f"problem: {problem}", file=sys.stderr)
        return 2
    if args.out is not None:
        problems: list[str] = []
        if args.course is not None:  # validated before anything is written
            _, problems = release(
                course.solutions_folder(args.course), Path(args.out) / "exercises", check=True
            )
        problems = problems or student_release(args.out, args.solutions, args.notebooks, chapters)
        if not problems and args.course is not None:
            _, problems = release(course.solutions_folder(args.course), Path(args.out) / "exercises")
        for problem in problems:
            print(f"problem: {problem}", file=sys.stderr)
        if not problems:
            print(
                f"wrote a student release to {args.out} (solutions from {args.solutions}, chapters "
                f"from {args.notebooks}): pip install {args.out}, then hand it out"
            )
        return 1 if problems else 0
    changed, problems = release(args.solutions, args.exercises, check=args.check, chapters=chapters)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    verb = "out of date" if args.check or problems else "written"
    if problems and not args.check:
        print("nothing written: fix the problems above first", file=sys.stderr)
    for path in changed:
        print(f"{verb}: {path}")
    if not changed:
        print("exercises/ is up to date")
    return 1 if problems or (args.check and changed) else 0
