"""Rewrite the README's table of exercises per chapter from the grader's registry.

    python tools/readme_counts.py          # rewrite README.md in place
    python tools/readme_counts.py --check  # exit 1 if the table is not what the registry says

The table follows the line ``| chapter | code | questions | points | chapter | ... |``: the
chapters in order, in two side-by-side halves (the first half one row longer when the count
is odd), and a last row ``| all | code | questions | points |`` in the right half. After a
chapter is added, removed or renumbered (``tools/renumber_chapters.py``) run this, then the
test that reads the table (``tests/grader/judge/test_feedback.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minidl_grader import registry

ROOT = Path(__file__).resolve().parents[1]
HEADER = "| chapter | code | questions | points | chapter | code | questions | points |"


def table() -> list[str]:
    """The table's lines: header, rule, one row per pair of chapters, the total."""
    rows = [
        f"| {chapter[:2]} | {row['code']} | {row['questions']} | {row['points']} |"
        for chapter, row in registry.counts().items()
    ]
    items = registry.all_exercises()
    questions = sum(e.is_question for e in items)
    total = f"| all | {len(items) - questions} | {questions} | {sum(e.points for e in items)} |"
    left = rows[: (len(rows) + 1) // 2]
    right = [*rows[len(left) :], total]
    lines = [HEADER, "|---|---|---|---|---|---|---|---|"]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else "| | | | |"
        b = right[i] if i < len(right) else "| | | | |"
        lines.append(a + b[1:])
    return lines


def totals_sentence() -> str:
    """The sentence of the README that gives the counts in words."""
    items = registry.all_exercises()
    questions = sum(e.is_question for e in items)
    return (
        f"{len(items)} items in all, {len(items) - questions}\nfunctions to write and {questions} questions"
    )


def rewrite(text: str) -> str:
    """``text`` with the table after HEADER replaced by :func:`table`."""
    lines = text.split("\n")
    start = lines.index(HEADER)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join([*lines[:start], *table(), *lines[end:]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether the table is current")
    args = parser.parse_args(argv)
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    new = rewrite(text)
    if args.check:
        if new != text:
            print("README.md: the exercises table differs from the registry; run tools/readme_counts.py")
            return 1
        return 0
    path.write_text(new, encoding="utf-8")
    if totals_sentence() not in new:
        print(f"README.md: update the sentence with the totals by hand: {totals_sentence()!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
