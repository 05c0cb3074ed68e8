"""Long cells are not silent: every chapter cell that trains says how long it takes and shows
its progress.

``tools/cell_times.py`` measures the chapters and records, in each cell that calls ``fit``
(and in any cell of ``LONG`` seconds or more), its wall time as ``metadata.minidl.seconds``.
From that record:

* every cell that calls ``.fit(`` has been measured (a new chapter's too);
* every cell of ``LONG`` seconds or more says on its first line, before anything runs,
  roughly how long it takes (``# About 40 s on two cores ...``);
* every such cell that trains shows its progress -- each of its ``fit`` calls
  with ``verbose=1`` (a line per epoch that moves with every batch) or ``verbose=2`` (a line
  per epoch), the same for a function of the chapter that it calls to train, or, for a
  loop written by hand or a sweep of many short runs, a ``print`` inside the loop (a line
  per epoch, or per run);
* such a cell's output is under ``# NBVAL_IGNORE_OUTPUT``: its times (and its losses) differ
  from machine to machine.
"""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from cell_times import LONG  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ABOUT = re.compile(r"^# About (\d+ s|a minute|\d+ minutes|\d+ to \d+ (s|minutes)) on two cores\b")


def fit_calls(source: str) -> list[str]:
    """The argument text of every ``.fit(...)`` call in ``source`` (parentheses balanced)."""
    calls = []
    for match in re.finditer(r"\.fit\(", source):
        depth, i = 1, match.end()
        while depth and i < len(source):
            depth += {"(": 1, ")": -1}.get(source[i], 0)
            i += 1
        calls.append(source[match.end() : i - 1])
    return calls


def verbose_of(arguments: str) -> str:
    """The ``verbose=`` a call passes, as written ("1" when left out: fit's default)."""
    found = re.search(r"\bverbose\s*=\s*([^,)\s]+)", arguments)
    return found.group(1) if found else "1"


def code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_training_cell_is_measured(path):
    unmeasured = [
        c["id"]
        for c in code_cells(path)
        if fit_calls("".join(c["source"])) and "seconds" not in c["metadata"].get("minidl", {})
    ]
    assert not unmeasured, f"run python tools/cell_times.py {path.relative_to(ROOT)}: cells {unmeasured}"


def trainers(cells: list[dict]) -> dict[str, list[str]]:
    """The functions a chapter defines that train: name -> the ``verbose`` of their fit calls."""
    found = {}
    for cell in cells:
        for match in re.finditer(r"^def (\w+)\(.*?(?=^\S|\Z)", "".join(cell["source"]), re.M | re.S):
            if fit_calls(match.group(0)):
                found[match.group(1)] = [verbose_of(a) for a in fit_calls(match.group(0))]
    return found


def called(source: str, helpers) -> list[str]:
    """The chapter's training functions that ``source`` calls (not those it defines)."""
    return [n for n in helpers if re.search(rf"(?<![\w.]){n}\(", source) and f"def {n}(" not in source]


def by_hand(source: str) -> bool:
    """A training loop written out: a ``for`` loop and an optimizer step or a backward pass."""
    return bool(re.search(r"^\s*for ", source, re.M) and re.search(r"\.(step|backward)\(", source))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_long_cell_says_how_long_and_a_training_one_shows_its_progress(path):
    problems = []
    cells = code_cells(path)
    helpers = trainers(cells)
    for cell in cells:
        seconds = cell["metadata"].get("minidl", {}).get("seconds", 0)
        if seconds < LONG:
            continue
        source = "".join(cell["source"])
        where = f"cell {cell['id']} ({seconds:.0f} s)"
        if not ABOUT.match(source):
            problems.append(f"{where} does not start with '# About N s on two cores ...'")
        uses = called(source, helpers)
        if not (fit_calls(source) or uses or by_hand(source)):
            continue  # long, but it does not train: saying how long is enough
        silent = [verbose_of(a) for a in fit_calls(source) if verbose_of(a) not in ("1", "2", '"auto"')]
        silent += [f"0 (in {n})" for n in uses if "0" in helpers[n]]
        runs_print = re.search(r"^[ \t]+print\(", source, re.M)  # a line per run of a sweep
        if silent and not runs_print:
            problems.append(f"{where} trains with verbose={silent[0]}: give verbose=1 or 2")
        if not fit_calls(source) and not uses and not runs_print:
            problems.append(f"{where} trains by hand and prints nothing inside its loop: a line per epoch")
        if "# NBVAL_IGNORE_OUTPUT" not in source:
            problems.append(f"{where} shows times that differ by machine: mark it # NBVAL_IGNORE_OUTPUT")
    assert not problems, "\n".join(problems)


def test_the_scan_reads_verbose_as_fit_does():
    source = "model.fit(x, y, epochs=fn(3), verbose=0)\nh = m.fit(ds, epochs=2)\nm.fit(x, verbose=v)"
    assert [verbose_of(a) for a in fit_calls(source)] == ["0", "1", "v"]
    assert ABOUT.match("# About 40 s on two cores: a line per epoch")
    assert not ABOUT.match("# (training results differ)")
    cells = [
        {"source": "def train(n):\n    return model.fit(x, verbose=0)\n\n\nx = 1\n"},
        {"source": "def f():\n    pass\n"},
    ]
    assert trainers(cells) == {"train": ["0"]}
    assert called("h = train(3)", {"train": ["0"]}) == ["train"]
    assert called("h = retrain(3)", {"train": []}) == []
    assert by_hand("for epoch in range(3):\n    opt.step(net)") and not by_hand("for x in xs:\n    print(x)")
