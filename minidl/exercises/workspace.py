"""Your own copies of the exercise notebooks: ``python -m minidl exercises copy|reset|where``.

The exercise notebooks in ``exercises/`` are tracked by git: answers typed into them would
show in ``git status`` and fight with the next ``git pull``. A learner works in
``workspace/`` instead, a folder beside them that git ignores (``.gitignore``)::

    python -m minidl exercises copy          # every exercise not yet in workspace/ (make lab does it)
    python -m minidl exercises copy 03       # chapter 3's only
    python -m minidl exercises reset 03      # (or 03_backpropagation) start chapter 3's exercises again (the old copy is kept
                                             # as workspace/03_backpropagation_exercises.ipynb.bak)
    python -m minidl exercises where         # which copies exist, and which differ from the original

A copy is named ``NN_topic_exercises.ipynb``: JupyterLab's tab shows a notebook's file name,
and a chapter and its exercises open side by side would otherwise both read
``NN_topic.ipynb`` (the tracked files keep their names: a chapter's slug never changes).
A copy made before under the original's name is renamed to it by ``copy`` (the work in it kept).
``copy`` never overwrites a copy that exists; ``reset`` does, after keeping it as ``.bak``.
The chapters link to the copies (``../workspace/NN_topic_exercises.ipynb``); each copy links
back to its chapter (``../notebooks/NN_topic.ipynb``), since both folders sit side by side.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["ORIGINALS", "WORKSPACE", "copy_name", "copy", "reset", "where", "main"]

# the repository holding minidl/ (an editable install: make lab); elsewhere the current folder
_REPOSITORY = Path(__file__).resolve().parents[2]
_ROOT = _REPOSITORY if (_REPOSITORY / "exercises").is_dir() else Path.cwd()
ORIGINALS = _ROOT / "exercises"
WORKSPACE = _ROOT / "workspace"


def _originals(chapters, originals: Path) -> list[Path]:
    """The exercise notebooks of ``chapters`` (numbers such as ``"03"`` or ``3``, or ids such as
    ``"03_backpropagation"``; all if empty)."""
    found = sorted(Path(originals).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no exercise notebook in {originals}")
    if not chapters:
        return found
    try:
        wanted = {f"{int(str(c).split('_')[0]):02d}" for c in chapters}
    except ValueError:
        raise ValueError(
            f"chapters are given by number (03) or id (03_backpropagation), got {chapters}"
        ) from None
    picked = [p for p in found if p.name[:2] in wanted]
    missing = sorted(wanted - {p.name[:2] for p in picked})
    if missing:
        known = ", ".join(p.name[:2] for p in found)
        raise ValueError(f"no exercises for chapter {', '.join(missing)}; chapters with exercises: {known}")
    return picked


def copy_name(original: Path) -> str:
    """The name of a learner's copy of the exercise notebook ``original``:
    ``NN_topic_exercises.ipynb``, which Lab's tab tells apart from the chapter's."""
    return f"{Path(original).stem}_exercises.ipynb"


def copy(chapters=(), originals: Path = ORIGINALS, workspace: Path = WORKSPACE) -> list[Path]:
    """Copy the exercise notebooks of ``chapters`` that are not in ``workspace`` yet; return
    the copies made (an existing copy, your work, is never touched; one under the original's
    name, as copies were named before, is renamed ``NN_topic_exercises.ipynb``)."""
    return _copies(chapters, originals, workspace, fresh=False)


def reset(chapters, originals: Path = ORIGINALS, workspace: Path = WORKSPACE) -> list[Path]:
    """Put fresh copies of the exercise notebooks of ``chapters`` (at least one) into
    ``workspace``; a copy that was there is first renamed ``NN_topic_exercises.ipynb.bak``."""
    if not chapters:
        raise ValueError("reset which chapter? give its number: python -m minidl exercises reset 03")
    return _copies(chapters, originals, workspace, fresh=True)


def _copies(chapters, originals: Path, workspace: Path, fresh: bool) -> list[Path]:
    """``copy`` (``fresh`` False) or ``reset`` (True) the notebooks of ``chapters``."""
    found = _originals(chapters, originals)  # an unknown chapter makes no folder
    workspace = Path(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    made = []
    for original in found:
        target, earlier = workspace / copy_name(original), workspace / original.name
        if target.exists():
            if not fresh:
                continue  # a copy, your work, is never touched
            target.replace(target.with_name(target.name + ".bak"))
        if earlier.exists() and not fresh:
            earlier.rename(target)
        else:
            shutil.copyfile(original, target)
        made.append(target)
    return made


def where(originals: Path = ORIGINALS, workspace: Path = WORKSPACE) -> list[str]:
    """One line per exercise notebook: its copy in ``workspace``, and whether it was changed."""
    lines = []
    for original in _originals((), originals):
        target = Path(workspace) / copy_name(original)
        if not target.exists():
            state = "no copy yet"
        elif target.read_bytes() == original.read_bytes():
            state = "copied, unchanged"
        else:
            state = "your work"
        lines.append(f"{target}: {state}")
    return lines


def main(argv: list[str]) -> int:
    """``python -m minidl exercises copy|reset|where [NN ...]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m minidl exercises",
        description="Your own copies of the exercise notebooks, in workspace/ (which git ignores).",
    )
    parser.add_argument("action", choices=("copy", "reset", "where"))
    parser.add_argument(
        "chapters", nargs="*", help="chapter numbers (03 or 3) or ids (03_backpropagation); copy: all if none"
    )
    args = parser.parse_args(argv)
    try:
        if args.action == "where":
            print("\n".join(where()))
            return 0
        done = copy(args.chapters) if args.action == "copy" else reset(args.chapters)
    except (ValueError, FileNotFoundError) as err:
        print(f"problem: {err}")
        return 2
    verb = "copied" if args.action == "copy" else "reset"
    for path in done:
        print(f"{verb}: {path}")
    if not done:
        print(f"every exercise notebook already has its copy in {WORKSPACE} (reset NN starts one again)")
    return 0
