"""Link every chapter to its exercises and back, and give the notebooks the metadata that
JupyterLab writes, so that opening and saving one changes nothing.

    python tools/navigation.py            # write what is missing or out of date
    python tools/navigation.py --check    # write nothing; exit 1 if a notebook would change

For each chapter ``notebooks/NN_slug.ipynb`` that has exercises (``solutions/NN_slug.ipynb``):

* the chapter gets a cell after its first one (id ``nav-exercises``) and a last cell (id
  ``nav-exercises-end``) with a link to the learner's copy of its exercises,
  ``../workspace/NN_slug_exercises.ipynb`` (``make lab`` makes it; the name tells Lab's tabs apart), and to the tracked original;
* the solution notebook gets a first cell (id ``nav-chapter``) headed ``# Exercises for
  chapter N · Title`` with a link back to ``../notebooks/NN_slug.ipynb``; ``minidl-grade
  release`` carries it into ``exercises/`` (run it after this tool);
* chapter 0 gets a cell (id ``your-work``) after its section on how the course works: where a
  learner's own copies live, how to reset one, how to ask for a hint, and that closing a tab
  shuts its kernel down;
* every chapter and solution notebook gets ``KERNELSPEC`` and ``LANGUAGE_INFO`` as its
  metadata (what JupyterLab writes when it saves a notebook run by the project's Python;
  the release writes the same into the exercise notebooks).

A new chapter needs nothing by hand: run this tool, then ``minidl-grade release``. The
links are written the way ``tools/renumber_chapters.py`` rewrites them (``[N · Title](NN_slug.ipynb)``,
"chapter N"), so renumbering keeps them true; running this tool again after it changes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What JupyterLab 4 writes on save with the project's kernel (python3 of the venv): keep in step
# with minidl_grader.notebook.LAB_METADATA, which the release writes into the exercises.
sys.path.insert(0, str(ROOT / "grader"))
from minidl_grader.notebook import LAB_METADATA  # noqa: E402

TOP, END, BACK, YOURS = "nav-exercises", "nav-exercises-end", "nav-chapter", "your-work"
WELCOME = "00_welcome"  # the chapter that says where a learner's work lives (after its cell COURSE_CELL)
COURSE_CELL = "c014"
_HEADING = re.compile(r"^# (\d{1,2}) · (.+)$", re.M)


def chapter_title(chapter: dict, path: Path) -> tuple[int, str]:
    """``(N, title)`` from the chapter's first heading ``# N · Title``."""
    first = "".join(chapter["cells"][0]["source"])
    found = _HEADING.search(first)
    if not found:
        raise ValueError(f"{path.name}: the first cell does not start with a heading '# N · Title'")
    return int(found.group(1)), found.group(2).strip()


def short_title(title: str) -> str:
    """The title before a colon ("Welcome: what deep learning is" -> "Welcome")."""
    return title.split(":")[0].strip()


def top_cell(stem: str, number: int, title: str) -> str:
    return (
        f"**Exercises:** [{number} · {short_title(title)} — exercises](../workspace/{stem}_exercises.ipynb), your own "
        f"copy (`make lab` makes it; the tracked original is [{number} · {short_title(title)} — the original]"
        f"(../exercises/{stem}.ipynb)). A link opens another tab with its own kernel; closing a tab shuts "
        "its kernel down."
    )


def end_cell(stem: str, number: int, title: str) -> str:
    return (
        f"**Now the exercises:** [{number} · {short_title(title)} — exercises](../workspace/{stem}_exercises.ipynb) "
        f"(your copy; `python -m minidl exercises reset {stem}` starts it again)."
    )


def back_cell(stem: str, number: int, title: str) -> str:
    return (
        f"# Exercises for chapter {number} · {short_title(title)}\n\n"
        f"*The chapter:* [{number} · {title}](../notebooks/{stem}.ipynb). "
        '`from minidl.exercises import hint`, then `hint("name")` gives a hint for an exercise (again: the next one); '
        f"`python -m minidl exercises reset {stem}` puts a fresh copy of this notebook in workspace/."
    )


def your_work_cell() -> str:
    """What chapter 0 says of a learner's own copies, resetting them, hints and kernels."""
    return (
        "**Your own work** lives in `workspace/`, beside `exercises/`: `make lab` copies every exercise "
        "notebook there the first time, as `NN_topic_exercises.ipynb` (git ignores that folder, so a `git pull` "
        "never fights with your answers), and each chapter links to your copy. `python -m minidl exercises reset "
        "03_backpropagation` starts those exercises again from a fresh copy (yours is kept as "
        "`workspace/03_backpropagation_exercises.ipynb.bak`); `python -m minidl exercises where` lists your copies "
        "and which ones you changed.\n\n"
        '**Stuck?** `from minidl.exercises import hint`, then `hint("name")` with the name in the '
        "exercise's `check(...)` cell: the first call gives a nudge, the next one the idea, never the answer.\n\n"
        "**One kernel per open notebook.** Every notebook you open starts its own Python kernel, and "
        "each holds its data in memory; closing a notebook's tab shuts its kernel down (the course's Lab "
        "settings). Without those settings, use *Kernel → Shut Down Kernel* before closing a tab, or the "
        "*Running Terminals and Kernels* panel on the left."
    )


def _markdown(cell_id: str, text: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def _place(cells: list, cell_id: str, text: str, index: int) -> None:
    """Put the markdown cell ``cell_id`` at ``index`` (negative: from the end) with ``text``."""
    cells[:] = [c for c in cells if c.get("id") != cell_id]
    cell = _markdown(cell_id, text)
    if index < 0:
        cells.insert(len(cells) + index + 1, cell)
    else:
        cells.insert(index, cell)


def with_lab_metadata(nb: dict) -> None:
    nb["metadata"].update(json.loads(json.dumps(LAB_METADATA)))


def update_chapter(chapter: dict, path: Path) -> None:
    number, title = chapter_title(chapter, path)
    _place(chapter["cells"], TOP, top_cell(path.stem, number, title), 1)
    _place(chapter["cells"], END, end_cell(path.stem, number, title), -1)
    with_lab_metadata(chapter)


def update_solution(solution: dict, chapter: dict, path: Path) -> None:
    number, title = chapter_title(chapter, path)
    cells = solution["cells"]
    first = next((c for c in cells if c.get("id") != BACK), None)
    if first is not None and first["cell_type"] == "markdown":  # the old heading goes: ours replaces it
        source = "".join(first["source"])
        if source.startswith("# Exercises"):
            first["source"] = source.split("\n", 1)[1].lstrip("\n") if "\n" in source else ""
    _place(cells, BACK, back_cell(path.stem, number, title), 0)
    with_lab_metadata(solution)


def _dumps(nb: dict) -> str:
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def run(root: Path = ROOT, check: bool = False) -> list[Path]:
    """Update the chapters and solutions under ``root``; return the files that changed (or,
    with ``check``, would change)."""
    changed = []
    for chapter_path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        solution_path = root / "solutions" / chapter_path.name
        chapter = json.loads(chapter_path.read_text(encoding="utf-8"))
        pairs = [(chapter_path, chapter)]
        if solution_path.exists():
            solution = json.loads(solution_path.read_text(encoding="utf-8"))
            update_solution(solution, chapter, chapter_path)
            update_chapter(chapter, chapter_path)
            pairs.append((solution_path, solution))
        else:
            with_lab_metadata(chapter)
        if chapter_path.stem == WELCOME:
            cells = chapter["cells"]
            cells[:] = [c for c in cells if c.get("id") != YOURS]
            after = next((i for i, c in enumerate(cells) if c.get("id") == COURSE_CELL), len(cells) - 1)
            cells.insert(after + 1, _markdown(YOURS, your_work_cell()))
        for path, nb in pairs:
            text = _dumps(nb)
            if path.read_text(encoding="utf-8") != text:
                changed.append(path)
                if not check:
                    path.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a notebook would change"
    )
    args = parser.parse_args(argv)
    changed = run(check=args.check)
    for path in changed:
        print(f"{'out of date' if args.check else 'written'}: {path.relative_to(ROOT)}")
    if args.check and changed:
        print("run: python tools/navigation.py && minidl-grade release")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
