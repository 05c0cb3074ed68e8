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
import mmap
import os
import re
import tempfile
from pathlib import Path

from .reports.text import display_path

__all__ = [
    "read_notebook",
    "read_submission",
    "strip_outputs",
    "upgrade_notebook",
    "MAX_FILE_BYTES",
    "MAX_NOTEBOOK_BYTES",
    "write_notebook",
    "dumps_notebook",
    "strip_solutions",
    "solution_blocks",
    "cell_source",
    "exercise_meta",
    "PLACEHOLDER",
    "ANSWER_PLACEHOLDER",
    "answer_name",
    "release_notebook",
]

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
PLACEHOLDER = "raise NotImplementedError  # your code here"
ANSWER_PLACEHOLDER = "{name} = ...  # your answer here"  # a question's answer line
C_PLACEHOLDER = '#error "not implemented yet: your code here"'
_BEGIN_RE = re.compile(r"^(\s*)(#|//) BEGIN SOLUTION\s*$")
_END_RE = re.compile(r"^\s*(#|//) END SOLUTION\s*$")
_ASSIGN_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=[^=]")


MAX_FILE_BYTES = 1 << 30  # a submitted file larger than this is not read at all
MAX_NOTEBOOK_BYTES = 8 * 2**20  # its JSON, outputs stripped, must be smaller than this
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')  # a JSON string or a bracket
_OUTPUTS_VALUE = re.compile(rb"\s*:\s*\[")


def strip_outputs(data) -> bytes:
    """The JSON text ``data`` (bytes, or a buffer such as an ``mmap``) with the value of
    every ``"outputs"`` key emptied to ``[]``, without parsing it.

    Outputs are never graded, and a notebook with 70 MiB of plots is an honest one: they
    are skipped by a scan that only matches strings and brackets (C-speed regular
    expressions; a long base64 image is one match), so they cost neither the size cap
    nor the memory of ``json.loads``. Malformed JSON comes out unchanged where it stops
    making sense, for ``json.loads`` to reject.
    """
    pieces, kept_from, position = [], 0, 0
    while True:
        token = _TOKEN.search(data, position)
        if token is None:
            break
        position = token.end()
        if token.group() != b'"outputs"':
            continue
        opening = _OUTPUTS_VALUE.match(data, position)
        if opening is None:
            continue
        start, depth, end = opening.end() - 1, 0, None
        for inner in _TOKEN.finditer(data, start):
            mark = inner.group()
            if mark in (b"[", b"{"):
                depth += 1
            elif mark in (b"]", b"}"):
                depth -= 1
                if depth == 0:
                    end = inner.end()
                    break
        if end is None:
            break
        pieces += [bytes(data[kept_from:start]), b"[]"]
        kept_from = position = end
    pieces.append(bytes(data[kept_from:]))
    return b"".join(pieces)


def read_submission(
    path,
    follow_symlinks: bool = True,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_bytes: int = MAX_NOTEBOOK_BYTES,
) -> bytes:
    """The notebook file at ``path`` as JSON bytes with its outputs stripped.

    The file is mapped, not read, and stripped before anything is parsed; ``ValueError``
    (with a message for the report) if it is a symbolic link and ``follow_symlinks`` is
    false, larger than ``max_file_bytes``, or larger than ``max_bytes`` once stripped.
    """
    name = display_path(path)
    flags = os.O_RDONLY | (0 if follow_symlinks else getattr(os, "O_NOFOLLOW", 0))
    try:
        if not follow_symlinks and os.path.islink(path):
            raise ValueError(f"{name} is a symbolic link: not followed (submit the file itself)")
        fd = os.open(path, flags)
    except OSError as err:
        reason = (
            "a symbolic link: not followed"
            if not follow_symlinks and os.path.islink(path)
            else f"unreadable ({err.strerror})"
        )
        raise ValueError(f"{name} is {reason}") from None
    try:
        size = os.fstat(fd).st_size
        if size > max_file_bytes:
            raise ValueError(f"{name} is larger than {max_file_bytes // 2**20} MiB")
        if size == 0:
            stripped = b""
        else:
            with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as view:
                stripped = strip_outputs(view)
    except OSError as err:
        raise ValueError(f"{name} is unreadable ({err.strerror or err})") from None
    finally:
        os.close(fd)
    if len(stripped) > max_bytes:
        raise ValueError(f"{name} is larger than {max_bytes // 2**20} MiB without its outputs")
    return stripped


def read_notebook(path, content: bytes | None = None, max_bytes: int | None = None) -> dict:
    """The notebook at ``path`` (or in ``content``, its bytes) as a dict, outputs stripped
    and nbformat 3 upgraded; ``ValueError`` if it is not a notebook, is larger than
    ``max_bytes`` without its outputs, or nests too deeply to read."""
    name = display_path(path)
    if content is None:
        content = read_submission(path, max_bytes=max_bytes or MAX_FILE_BYTES)
    else:
        content = strip_outputs(content)
    if max_bytes and len(content) > max_bytes:
        raise ValueError(f"{name} is larger than {max_bytes // 2**20} MiB without its outputs")
    try:
        nb = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(
            f"{name} is not a readable notebook: {type(err).__name__}: {str(err)[:200]}"
        ) from None
    if isinstance(nb, dict) and "cells" not in nb and isinstance(nb.get("worksheets"), list):
        nb = upgrade_notebook(nb)
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{name} is not a notebook (no list of cells)")
    return nb


def upgrade_notebook(nb: dict) -> dict:
    """An nbformat 3 notebook (cells in ``worksheets``, code in ``input``) as nbformat 4.

    Only what grading reads is carried: cell types, sources and metadata; a heading cell
    becomes markdown. Outputs are dropped (they are never graded)."""
    cells = []
    for sheet in nb.get("worksheets", []):
        for cell in sheet.get("cells", []) if isinstance(sheet, dict) else []:
            if not isinstance(cell, dict):
                continue
            kind = cell.get("cell_type")
            source = cell.get("input", "") if kind == "code" else cell.get("source", "")
            new = {
                "cell_type": kind if kind in ("code", "markdown", "raw") else "markdown",
                "metadata": cell.get("metadata", {}),
                "source": source,
            }
            if kind == "code":
                new.update(outputs=[], execution_count=None)
            cells.append(new)
    return {"cells": cells, "metadata": nb.get("metadata", {}), "nbformat": 4, "nbformat_minor": 0}


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
    blocks: list[list[str]] = []
    current: list[str] | None = None
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
        raise ValueError(
            "a question's solution block must be one line `name = answer` "
            f"(comments aside), got {len(code)} lines of code: {code[:3]}"
        )
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


# The metadata JupyterLab 4 writes when it saves a notebook whose kernel is the project's
# Python (python3, 3.11.7 as the chapters were run): an exercise notebook released with it is
# saved by Lab unchanged. tools/navigation.py writes the same into chapters and solutions.
LAB_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.11.7",
    },
}


def release_notebook(solution: dict) -> dict:
    """The exercise notebook made from a solution notebook (a new dict)."""
    cells = []
    for index, cell in enumerate(solution["cells"]):
        new = {
            "cell_type": cell["cell_type"],
            "metadata": cell.get("metadata", {}),
            "source": _split_lines(cell_source(cell)),
        }
        new["id"] = cell.get("id") or f"cell-{index}"
        if cell["cell_type"] == "code":
            question = bool(exercise_meta(cell).get("question"))
            new["source"] = _split_lines(strip_solutions(cell_source(cell), question=question))
            new["execution_count"] = None
            new["outputs"] = []
        cells.append(new)
    return {
        "cells": cells,
        "metadata": {**solution.get("metadata", {}), **json.loads(json.dumps(LAB_METADATA))},
        "nbformat": solution.get("nbformat", 4),
        "nbformat_minor": solution.get("nbformat_minor", 5),
    }
