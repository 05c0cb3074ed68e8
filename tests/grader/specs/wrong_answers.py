"""The usual wrong answers to the graded exercises, and right answers written differently.

``WRONG`` and ``RIGHT`` are lists of ``(exercise, what it does, source)``; the source is an
exercise cell as a student would write it, run after ``SETUP`` (the imports of the
solutions' setup cells). ``tests/grader/specs/test_wrong_answers.py`` requires every wrong answer
to score below full marks and every right one full marks.

The catalogue is data, one file per chapter in ``catalogue/chNN.toml``. Each entry is a table
in the array named after its exercise::

    [[max_stable_learning_rate]]
    wrong = "N - 1 in the Hessian, as in a covariance"    # or: right = "..."
    source = '''def max_stable_learning_rate(X):
        A = np.hstack([X, np.ones((len(X), 1))])
        H = 2.0 / max(len(X) - 1, 1) * A.T @ A
        return 2.0 / np.linalg.eigvalsh(H)[-1]'''

    [[max_stable_learning_rate]]
    wrong = "the Hessian without the factor 2 of the square"
    from = "N - 1 in the Hessian, as in a covariance"
    edit = '''@@ 3
        H = 1.0 / len(X) * A.T @ A'''

An entry is a whole cell (``source``) or, when the mistake is a few lines, an ``edit`` of an
earlier entry of the same exercise (``from`` names it by its label): the edit's ``@@ N`` replaces
line N of that source with the lines after it (none: the line is deleted), ``@@ N-M`` replaces
lines N to M, ``@@ N+`` inserts the lines after line N (``@@ 0+``: at the top); an empty edit
is the same cell under another label. So a mistake is
written as the lines it changes, not as a copy of the whole answer.

Answers may also be added in Python: a file ``wrong_answers_<topic>.py`` beside this one that
calls ``wrong(name, label, source)`` and ``right(...)`` from this module (or holds lists
``WRONG``/``RIGHT`` of its own) is read after the TOML files.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

SETUP = "import numpy as np\n"
HERE = Path(__file__).resolve().parent
KINDS = ("wrong", "right")

WRONG: list[tuple[str, str, str]] = []
RIGHT: list[tuple[str, str, str]] = []


def wrong(name: str, label: str, source: str) -> None:
    WRONG.append((name, label, source))


def right(name: str, label: str, source: str) -> None:
    RIGHT.append((name, label, source))


def apply_edit(base: str, edit: str, where: str = "an edit") -> str:
    """``base`` (a cell's source) with the ``@@`` blocks of ``edit`` applied (line numbers are
    ``base``'s, from 1). ``ValueError`` naming ``where`` for a block out of order or out of range."""
    if edit and not edit.startswith("@@ "):
        raise ValueError(f"{where}: an edit starts with '@@ N', got {edit[:20]!r}")
    blocks: list[tuple[str, list[str]]] = []
    for line in edit.split("\n") if edit else []:
        if line.startswith("@@ "):
            blocks.append((line[3:], []))
        else:
            blocks[-1][1].append(line)
    lines = base.split("\n")
    out: list[str] = []
    pos = 0
    for head, new in blocks:
        if head.endswith("+"):
            start = end = int(head[:-1])
        elif "-" in head:
            first, last = head.split("-")
            start, end = int(first) - 1, int(last)
        else:
            start = int(head) - 1
            end = start + 1
        if not pos <= start <= end <= len(lines):
            raise ValueError(f"{where}: @@ {head} is out of order or past the {len(lines)} lines of its base")
        out += lines[pos:start] + new
        pos = end
    return "\n".join(out + lines[pos:])


def _entries(path: Path) -> list[tuple[str, str, str, str]]:
    """``(kind, exercise, label, source)`` of one catalogue file, in its order."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    found = []
    for name, entries in data.items():
        sources: dict[str, list[str]] = {}
        for entry in entries:
            kinds = [k for k in KINDS if k in entry]
            if len(kinds) != 1 or ("source" in entry) == ("edit" in entry):
                raise ValueError(f"{path.name}: {name}: an entry has one of {KINDS} and a source or an edit")
            kind = kinds[0]
            label = entry[kind]
            where = f"{path.name}: {name}: {label!r}"
            if "source" in entry:
                body = entry["source"]
            else:
                bases = sources.get(entry.get("from", ""), [])
                if len(bases) != 1:
                    raise ValueError(
                        f"{where}: 'from' must name one earlier entry, got {entry.get('from')!r}"
                    )
                body = apply_edit(bases[0], entry["edit"], where)
            sources.setdefault(label, []).append(body)
            found.append((kind, name, label, "\n" + body + "\n"))
    return found


def load(folder: Path = HERE) -> None:
    """Add to ``WRONG`` and ``RIGHT`` what ``folder/catalogue/*.toml`` holds, then what each
    ``folder/wrong_answers_*.py`` adds (by calling ``wrong``/``right`` or in lists of its own)."""
    for path in sorted((folder / "catalogue").glob("*.toml")):
        for kind, name, label, source in _entries(path):
            (wrong if kind == "wrong" else right)(name, label, source)
    for path in sorted(folder.glob("wrong_answers_*.py")):
        spec = importlib.util.spec_from_file_location(f"{__package__}.{path.stem}", path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        for add, theirs in ((wrong, getattr(module, "WRONG", None)), (right, getattr(module, "RIGHT", None))):
            if isinstance(theirs, list) and theirs is not WRONG and theirs is not RIGHT:
                for entry in theirs:
                    add(*entry)


load()
