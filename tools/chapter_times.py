"""The README's chapter times: how long each chapter takes under nbval on 2 cores.

    python tools/chapter_times.py notebooks/07_convolutional_networks.ipynb [more ...]   # measure
    python tools/chapter_times.py --junit report.xml        # a test run's times (CI)
    python tools/chapter_times.py --from times.json         # times measured earlier {NN_slug: s}
    python tools/chapter_times.py --check                    # every chapter has a time (exit 1 if not)

Measuring runs each chapter top to bottom in a fresh kernel, in memory (its stored outputs are
not touched), with one thread per library, as ``make test`` runs it: two workers on two cores,
each computing with one thread. The time written is the kernel's CPU time (user + system), which
is what the chapter takes on an idle core and what the shared machines we work on can measure
(their wall clock counts the neighbours). ``--junit`` reads the times of a test run instead
(``make test PYTEST_ADDOPTS=--junitxml=report.xml``, CI's run): nbval's per-cell times, summed
per chapter (wall clock: right on a quiet machine). Either writes the "time" column of the
README's chapter table, rounded to 5 s, for the chapters it measured; the others keep theirs.
Every chapter should take at most two minutes (``BUDGET``); the chapters above it are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BUDGET = 120.0  # seconds: a chapter a learner can run
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
# a row of the README's chapter table: | [NN Title](notebooks/NN_slug.ipynb) | what | time |
ROW = re.compile(r"^(\| \[[^\]]*\]\(notebooks/(\d\d_\w+)\.ipynb\) \|[^\n]*\|) ([^|\n]*) \|$", re.M)
HEADER = "| chapter | what you learn | time |"


def measure(path: Path) -> float:
    """Execute ``path`` in a fresh kernel with one thread per library; the kernel's CPU seconds."""
    import nbformat
    from nbclient import NotebookClient

    os.environ.update(dict.fromkeys(THREADS, "1"))  # the kernel inherits them
    os.environ.setdefault("MPLBACKEND", "Agg")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    NotebookClient(
        nbformat.read(path, as_version=4),
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()  # shuts the kernel down and waits for it: its CPU time is counted below
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def from_junit(report: Path) -> dict[str, float]:
    """``{NN_slug: seconds}``: the nbval cells' times of a pytest JUnit report, per chapter."""
    seconds: dict[str, float] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        where = " ".join(case.get(k, "") for k in ("file", "classname"))
        found = re.search(r"(\d\d_\w+)\.ipynb", where)
        if found:
            seconds[found.group(1)] = seconds.get(found.group(1), 0.0) + float(case.get("time", 0))
    return seconds


def shown(seconds: float) -> str:
    """A time as the table shows it: seconds rounded to 5 (a measurement is not finer)."""
    return f"{max(5, 5 * round(seconds / 5))} s"


def write(readme: str, seconds: dict[str, float]) -> str:
    """``readme`` with its chapter table's time column set for the chapters in ``seconds``
    (the column is added, empty, where the table does not have it yet)."""
    if HEADER not in readme:
        readme = readme.replace("| chapter | what you learn |\n|---|---|\n", f"{HEADER}\n|---|---|---|\n")
        readme = re.sub(
            r"^(\| \[[^\]]*\]\(notebooks/\d\d_\w+\.ipynb\) \|[^\n]*\|)$", r"\1  |", readme, flags=re.M
        )
    return ROW.sub(
        lambda m: (
            f"{m.group(1)} {shown(seconds[m.group(2)]) if m.group(2) in seconds else m.group(3).strip()} |"
        ),
        readme,
    )


def times(readme: str) -> dict[str, str]:
    """``{NN_slug: time as shown}`` from the README's chapter table ("" where none)."""
    return {m.group(2): m.group(3).strip() for m in ROW.finditer(readme)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--junit", type=Path, help="a pytest JUnit XML report of a run of notebooks/")
    parser.add_argument("--from", dest="source", type=Path, help="a JSON file {NN_slug: seconds}")
    parser.add_argument("--check", action="store_true", help="fail if a chapter has no time")
    args = parser.parse_args(argv)
    readme = README.read_text(encoding="utf-8")
    if args.check:
        missing = [slug for slug, shown_time in times(readme).items() if not shown_time]
        chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        missing += [slug for slug in chapters if slug not in times(readme)]
        if missing:
            print(f"README.md: no time for {missing}; run python tools/chapter_times.py", file=sys.stderr)
        return 1 if missing else 0
    seconds = from_junit(args.junit) if args.junit else {}
    if args.source:
        seconds.update(json.loads(args.source.read_text(encoding="utf-8")))
    for path in args.notebooks:
        start = time.perf_counter()
        seconds[path.stem] = measure(path)
        print(
            f"{path}: {seconds[path.stem]:.1f} s CPU ({time.perf_counter() - start:.0f} s wall)", flush=True
        )
    README.write_text(write(readme, seconds), encoding="utf-8")
    over = {slug: round(s) for slug, s in seconds.items() if s > BUDGET}
    print(f"README.md: {len(seconds)} chapter times written; over {BUDGET:.0f} s: {over or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
