"""Measure how long each chapter cell takes, and record it where the tests look.

    python tools/cell_times.py notebooks/07_convolutional_networks.ipynb [more ...]
    python tools/cell_times.py --from times.json notebooks/*.ipynb    # record earlier measurements

Each chapter runs top to bottom in a fresh kernel, in memory (its stored outputs are not
touched), one thread per library as ``make test`` runs it. Every code cell that trains (calls
``.fit(`` or a library trainer's ``.train(..., steps=...)``, runs a loop of optimizer steps, or
calls a function of the chapter that does: ``trains``) or that takes ``LONG`` seconds or more
gets its wall time in its metadata, ``metadata.minidl.seconds``; nothing else in the notebook
changes.

tests/course/test_training_cells.py then holds every chapter to this: each cell that trains
carries its time, and each cell of more than ``LONG`` seconds shows its progress (a
line per epoch at least: ``verbose=1`` or ``2``) and says first, in a comment on its first
line, roughly how long it takes (``# About 40 s on two cores: ...``), and that line is held to
the record: at least the measured time and at most twice it plus 15 s (the chapters' lines say
1.5 times it plus 3 s, rounded up to 5 s, at least 10 s: a slower laptop, a first run that
compiles the kernels). Measure on a quiet machine (a busy one once made a 25-second cell say
"About 3 minutes"), one chapter at a time (two at once, as ``make test``'s workers run them,
made chapter 24's cells 8 to 20 % slower), and again after changing what a cell trains.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path

LONG = 10.0  # seconds: a cell at least this long must show its progress

# ------------------------------------------------------------------ which cells train
# (read from the source; tests/course/test_training_cells.py holds the chapters to it)
# a step of a library trainer, called from a loop of the cell's (GANTrainer.train_epoch, ...)
TRAINER_STEP = re.compile(r"\.train_(epoch|batch|step)\(")
# a library trainer's whole run, told how long (DiffusionTrainer(...).train(x, steps=2000, ...)):
# a ``.train(`` call whose arguments name ``steps=`` or ``epochs=`` (PyTorch's ``net.train()``
# only sets a mode)
TRAINER_RUN = re.compile(r"\b(steps|epochs)\s*=")
LOOP_PRINT = re.compile(r"^[ \t]+print\(", re.M)  # a print inside a loop (or a function)
DEFINITION = re.compile(r"^def (\w+)\(.*?(?=^\S|\Z)", re.M | re.S)  # a function, to its dedent


def fit_calls(source: str) -> list[str]:
    """The argument text of every ``.fit(...)`` call in ``source`` (parentheses balanced)."""
    return [_call_arguments(source, match.end()) for match in re.finditer(r"\.fit\(", source)]


def _call_arguments(source: str, start: int) -> str:
    """The text between the parenthesis opened just before ``start`` and the one closing it."""
    depth, i = 1, start
    while depth and i < len(source):
        depth += {"(": 1, ")": -1}.get(source[i], 0)
        i += 1
    return source[start : i - 1]


def verbose_of(arguments: str) -> str:
    """The ``verbose=`` a call passes, as written ("1" when left out: fit's default)."""
    found = re.search(r"\bverbose\s*=\s*([^,)\s]+)", arguments)
    return found.group(1) if found else "1"


def trainer_runs(source: str) -> list[str]:
    """The argument text of every library trainer's run in ``source`` (``TRAINER_RUN``)."""
    calls = (_call_arguments(source, match.end()) for match in re.finditer(r"\.train\(", source))
    return [arguments for arguments in calls if TRAINER_RUN.search(arguments)]


def progress_of(arguments: str) -> str:
    """The ``progress=`` a trainer's run passes ("0" when left out: it prints nothing)."""
    found = re.search(r"\bprogress\s*=\s*([^,)\s]+)", arguments)
    return found.group(1) if found else "0"


def by_hand(source: str) -> bool:
    """A training loop written out: a ``for`` loop and an optimizer step, a backward pass, or
    a library trainer's step."""
    return bool(
        re.search(r"^\s*for ", source, re.M)
        and (re.search(r"\.(step|backward)\(", source) or TRAINER_STEP.search(source))
    )


def trainers(cells: list[dict]) -> dict[str, dict]:
    """The functions a chapter defines that train, name -> how: ``fit`` (the ``verbose`` of
    each fit call), ``runs`` (the ``progress`` of each trainer's run), ``loop`` (whether it
    trains by a loop of its own) and ``prints`` (whether it prints inside itself, a line per
    epoch or per run)."""
    found = {}
    for cell in cells:
        for match in DEFINITION.finditer("".join(cell["source"])):
            body = match.group(0)
            if fit_calls(body) or by_hand(body) or trainer_runs(body):
                found[match.group(1)] = {
                    "fit": [verbose_of(a) for a in fit_calls(body)],
                    "runs": [progress_of(a) for a in trainer_runs(body)],
                    "loop": by_hand(body),
                    "prints": bool(LOOP_PRINT.search(body)),
                }
    # a function that calls one of these trains too (as its callee shows or does not)
    for _ in range(3):
        for cell in cells:
            for match in DEFINITION.finditer("".join(cell["source"])):
                name, body = match.group(1), match.group(0)
                inner = [found[n] for n in called(body, found) if n != name]
                if inner and name not in found:
                    found[name] = {
                        "fit": [v for h in inner for v in h["fit"]],
                        "runs": [p for h in inner for p in h["runs"]],
                        "loop": any(h["loop"] for h in inner),
                        "prints": bool(LOOP_PRINT.search(body)) or all(h["prints"] for h in inner),
                    }
    return found


def called(source: str, helpers) -> list[str]:
    """The chapter's training functions that ``source`` calls (not those it defines)."""
    return [n for n in helpers if re.search(rf"(?<![\w.]){n}\(", source) and f"def {n}(" not in source]


def trains(cells: list[dict]) -> list[dict]:
    """The code cells of a chapter that train: they call ``fit`` or a library trainer's run
    (``TRAINER_RUN``), run a training loop of their own, or call a function of the chapter that
    does (``trainers``). A cell that only defines
    such a function trains nothing when it runs."""
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    helpers = trainers(code)
    found = []
    for cell in code:
        runs = DEFINITION.sub("", "".join(cell["source"]))  # what the cell runs, not defines
        if fit_calls(runs) or trainer_runs(runs) or by_hand(runs) or called(runs, helpers):
            found.append(cell)
    return found


# ------------------------------------------------------------------ measuring


def measure(path: Path) -> dict[str, float]:
    """Run ``path`` in memory; return ``{cell id: seconds}`` for every code cell that ran."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    seconds = {}
    for cell in notebook.cells:
        stamps = cell.metadata.get("execution", {})
        if cell.cell_type == "code" and {"iopub.execute_input", "shell.execute_reply"} <= set(stamps):
            start, end = (
                datetime.fromisoformat(stamps[k].replace("Z", "+00:00"))
                for k in ("iopub.execute_input", "shell.execute_reply")
            )
            seconds[cell.id] = round((end - start).total_seconds(), 1)
    return seconds


def record(path: Path, seconds: dict[str, float]) -> bool:
    """Write ``seconds`` into the metadata of the cells that train or take long; True if the
    file changed."""
    import nbformat

    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    training = {cell["id"] for cell in trains(notebook["cells"])}
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code" or cell.get("id") not in seconds:
            continue
        meta = cell["metadata"].setdefault("minidl", {})
        if cell["id"] in training or seconds[cell["id"]] >= LONG:
            meta["seconds"] = seconds[cell["id"]]
        else:
            meta.pop("seconds", None)
        if not meta:
            del cell["metadata"]["minidl"]
    new = nbformat.writes(nbformat.from_dict(notebook)) + "\n"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="a JSON file {notebook name: {cell id: seconds}} measured earlier",
    )
    args = parser.parse_args(argv)
    earlier = json.loads(args.source.read_text()) if args.source else {}
    for path in args.notebooks:
        start = time.perf_counter()
        seconds = earlier.get(path.name) if args.source else measure(path)
        if seconds is None:
            print(f"{path}: no measurement in {args.source}", file=sys.stderr)
            continue
        changed = record(path, seconds)
        long = {k: v for k, v in seconds.items() if v >= LONG}
        print(
            f"{path}: {'recorded' if changed else 'unchanged'} ({time.perf_counter() - start:.0f} s); over {LONG:.0f} s: {long}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
