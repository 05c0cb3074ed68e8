"""Measure how long each chapter cell takes, and record it where the tests look.

    python tools/cell_times.py notebooks/07_convolutional_networks.ipynb [more ...]
    python tools/cell_times.py --from times.json notebooks/*.ipynb    # record earlier measurements

Each chapter runs top to bottom in a fresh kernel, in memory (its stored outputs are not
touched), one thread per library as ``make test`` runs it. Every code cell that trains
(calls ``.fit(``) or that takes ``LONG`` seconds or more gets its wall time in its metadata,
``metadata.minidl.seconds``; nothing else in the notebook changes.

tests/course/test_training_cells.py then holds every chapter to this: each cell that calls
``fit`` carries its time, and each cell of more than ``LONG`` seconds shows its progress (a
line per epoch at least: ``verbose=1`` or ``2``) and says first, in a comment on its first
line, roughly how long it takes (``# About 40 s on two cores: ...``), and that line is held to
the record: at least the measured time and at most twice it plus 15 s (the chapters' lines say
1.5 times it plus 3 s, rounded up to 5 s, at least 10 s: a slower laptop, a first run that
compiles the kernels). Measure on a quiet machine (a busy one once made a 25-second cell say
"About 3 minutes"), and again after changing what a cell trains.
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
_FIT = re.compile(r"\.fit\(")


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
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code" or cell.get("id") not in seconds:
            continue
        source = "".join(cell["source"])
        meta = cell["metadata"].setdefault("minidl", {})
        if _FIT.search(source) or seconds[cell["id"]] >= LONG:
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
