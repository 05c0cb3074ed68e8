"""tools/readme_counts.py: the README's table of exercises per chapter, rewritten from the registry."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("readme_counts", ROOT / "tools" / "readme_counts.py")
assert spec is not None and spec.loader is not None
readme_counts = importlib.util.module_from_spec(spec)
sys.modules["readme_counts"] = readme_counts
spec.loader.exec_module(readme_counts)


def test_the_committed_readme_is_current():
    assert readme_counts.main(["--check"]) == 0


def test_a_stale_table_is_replaced_whole_and_the_text_around_it_kept():
    stale = "\n".join(
        [
            "before",
            readme_counts.HEADER,
            "|---|",
            "| 01 | 9 | 9 | 99 | 14 | 1 | 1 | 1 |",
            "| | | | | all | 1 | 1 | 1 |",
            "",
            "after",
        ]
    )
    new = readme_counts.rewrite(stale)
    assert new.startswith("before\n") and new.endswith("\n\nafter")
    assert new.split("\n")[1:-2] == readme_counts.table()


def test_every_chapter_of_the_registry_has_one_row_and_the_halves_differ_by_at_most_one():
    from minidl_grader import registry

    rows = readme_counts.table()[2:]
    cells = [row.strip("|").split("|") for row in rows]
    left = [c[0].strip() for c in cells if c[0].strip()]
    right = [c[4].strip() for c in cells if c[4].strip()]
    assert right[-1] == "all"
    assert left + right[:-1] == [chapter[:2] for chapter in registry.counts()]
    assert 0 <= len(left) - len(right[:-1]) <= 1
