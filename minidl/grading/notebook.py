"""Reading and writing notebooks, and turning a solution notebook into an exercise.

A solution cell marks its answer with two comment lines::

    def dense_forward(x, W, b):
        \"\"\"docstring stays\"\"\"
        # BEGIN SOLUTION
        return x @ W + b
        # END SOLUTION

(``// BEGIN SOLUTION`` / ``// END SOLUTION`` inside CUDA source strings, where the
placeholder is ``#error "not implemented yet: your code here"``) and carries ``metadata["minidl"] = {"exercise": "dense_forward", "points": 1}``.
``strip_solutions`` replaces each marked block by ``raise NotImplementedError  # your code
here`` at the indentation of its ``# BEGIN SOLUTION`` line. Notebooks are written the
way Jupyter writes them (one-space indent, sorted keys), with outputs and execution
counts cleared, so regenerating them gives the same bytes.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

__all__ = ["read_notebook", "write_notebook", "dumps_notebook", "strip_solutions",
           "solution_blocks", "cell_source", "exercise_meta", "PLACEHOLDER", "ANSWER_PLACEHOLDER",
           "answer_name", "release_notebook"]

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
PLACEHOLDER = "raise NotImplementedError  # your code here"
ANSWER_PLACEHOLDER = "{name} = ...  # your answer here"      # a question's answer line
C_PLACEHOLDER = '#error "not implemented yet: your code here"'
_BEGIN_RE = re.compile(r"^(\s*)(#|//) BEGIN SOLUTION\s*$")
_END_RE = re.compile(r"^\s*(#|//) END SOLUTION\s*$")
_ASSIGN_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=[^=]")


def read_notebook(path, content: bytes | None = None, max_bytes: int | None = None) -> dict:
    """The notebook at ``path`` (or in ``content``, its bytes) as a dict; ``ValueError`` if
    it is not a notebook, is larger than ``max_bytes``, or nests too deeply to read."""
    name = os.fsencode(str(path)).decode("utf-8", "backslashreplace")
    try:
        if content is None:
            with open(path, "rb") as handle:
                content = handle.read(max_bytes + 1 if max_bytes else -1)
        if max_bytes and len(content) > max_bytes:
            raise ValueError(f"{name} is larger than {max_bytes // 2**20} MiB")
        nb = json.loads(content.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{name} is not a readable notebook: {type(err).__name__}: "
                         f"{str(err)[:200]}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{name} is not a notebook (no list of cells)")
    return nb


def cell_source(cell: dict) -> str:
    """The cell's source as one string (pieces that are not strings are left out)."""
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        return "".join(piece for piece in source if isinstance(piece, str))
    return source if isinstance(source, str) else ""


def exercise_meta(cell: dict) -> dict:
    """``cell.metadata["minidl"]`` if it is a dict, else ``{}``."""
    meta = cell.get("metadata", {})
    meta = meta.get("minidl", {}) if isinstance(meta, dict) else {}
    return meta if isinstance(meta, dict) else {}


def _split_lines(text: str) -> list[str]:
    """Jupyter's storage of a source: a list of lines, each but the last ending in \\n."""
    lines = text.splitlines(keepends=True)
    return lines


def dumps_notebook(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_notebook(nb: dict, path) -> None:
    """Write ``nb`` atomically (a temporary file renamed over the target)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(dumps_notebook(nb))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def solution_blocks(source: str) -> list[list[str]]:
    """The lines between each BEGIN/END SOLUTION pair; ``ValueError`` if unbalanced."""
    blocks, current = [], None
    for number, line in enumerate(source.splitlines(), 1):
        if _BEGIN_RE.match(line):
            if current is not None:
                raise ValueError(f"line {number}: {BEGIN} inside another solution block")
            current = []
        elif _END_RE.match(line):
            if current is None:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise ValueError(f"{BEGIN} without {END}")
    return blocks


def answer_name(block: list[str]) -> str:
    """The name a question's solution block assigns (its one line that is code)."""
    code = [line for line in block if line.strip() and not line.strip().startswith("#")]
    match = _ASSIGN_RE.match(code[0]) if len(code) == 1 else None
    if not match:
        raise ValueError("a question's solution block must be one line `name = answer` "
                         f"(comments aside), got {len(code)} lines of code: {code[:3]}")
    return match.group(1)


def strip_solutions(source: str, question: bool = False) -> str:
    """``source`` with every solution block replaced by the placeholder line.

    question : the cell is a question's: its block ``name = answer`` becomes
        ``name = ...  # your answer here``, so the cell runs and ``check`` can say
        "not answered yet".
    """
    blocks = iter(solution_blocks(source))  # validates the markers
    out, inside = [], False
    for line in source.splitlines():
        begin = _BEGIN_RE.match(line)
        if begin:
            placeholder = PLACEHOLDER if begin.group(2) == "#" else C_PLACEHOLDER
            if question:
                placeholder = ANSWER_PLACEHOLDER.format(name=answer_name(next(blocks)))
            out.append(begin.group(1) + placeholder)
            inside = True
        elif _END_RE.match(line):
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def release_notebook(solution: dict) -> dict:
    """The exercise notebook made from a solution notebook (a new dict)."""
    cells = []
    for index, cell in enumerate(solution["cells"]):
        new = {"cell_type": cell["cell_type"], "metadata": cell.get("metadata", {}),
               "source": _split_lines(cell_source(cell))}
        new["id"] = cell.get("id") or f"cell-{index}"
        if cell["cell_type"] == "code":
            question = bool(exercise_meta(cell).get("question"))
            new["source"] = _split_lines(strip_solutions(cell_source(cell), question=question))
            new["execution_count"] = None
            new["outputs"] = []
        cells.append(new)
    return {"cells": cells, "metadata": solution.get("metadata", {}),
            "nbformat": solution.get("nbformat", 4), "nbformat_minor": solution.get("nbformat_minor", 5)}
