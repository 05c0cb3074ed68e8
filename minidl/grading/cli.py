"""``python -m minidl grade``: grade submitted notebooks.

    python -m minidl grade SUBMISSION.ipynb [more ...] [--json results.json]
        [--csv grades.csv] [--timeout 60] [--jobs N] [--checks DIR] [--seed N]

A folder given as a submission means every ``*.ipynb`` in it. See ``checks.py`` for the
format of ``--checks`` files.
"""
from __future__ import annotations

import argparse
import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import report
from .checks import load_checks
from .runner import DEFAULT_MEMORY, grade_notebook

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minidl grade",
        description="Grade exercise notebooks: each runs in its own sandboxed process and is "
                    "judged against references computed by the grader.")
    parser.add_argument("submissions", nargs="+", type=Path,
                        help="notebooks, or folders of notebooks")
    parser.add_argument("--json", type=Path, help="write Gradescope results.json here")
    parser.add_argument("--csv", type=Path, help="write one row per submission here")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds allowed for each cell and each test call (default 60)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    parser.add_argument("--checks", type=Path, help="folder of private checks (*.py)")
    parser.add_argument("--memory", type=float, default=DEFAULT_MEMORY / 2**30,
                        help="address-space limit of a submission's process, GiB (default 4)")
    parser.add_argument("--seed", type=int,
                        help="seed of the test inputs (default: a fresh random seed, printed)")
    parser.add_argument("--quiet", action="store_true", help="print only the totals")
    return parser


def _expand(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        found += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    return found


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.jobs < 1 or args.timeout <= 0:
        print("error: --jobs must be at least 1 and --timeout positive", file=sys.stderr)
        return 2
    submissions = _expand(args.submissions)
    if not submissions:
        print("error: no notebooks to grade", file=sys.stderr)
        return 2
    try:
        extra = load_checks(args.checks) if args.checks else []
    except (OSError, ValueError) as err:
        print(f"error: cannot load --checks: {err}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    memory = int(args.memory * 2**30)

    def grade(path):
        return grade_notebook(path, timeout=args.timeout, memory=memory, seed=seed, extra=extra)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(grade, submissions))
    for sub in results:
        if args.quiet:
            print(f"{sub.path}: {sub.score:g}/{sub.max_score:g}")
        else:
            print(report.format_table(sub))
            print()
    if args.json:
        report.write_json(args.json, results)
    if args.csv:
        report.write_csv(args.csv, results)
    print(f"graded {len(results)} submission(s) with seed {seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
