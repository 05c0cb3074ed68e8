"""The README's chapter times (``tools/chapter_times.py``): read from a test run's JUnit report
or measured, written into the chapter table's time column, and present for every chapter."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("chapter_times", ROOT / "tools" / "chapter_times.py")
assert spec is not None and spec.loader is not None
chapter_times = importlib.util.module_from_spec(spec)
sys.modules["chapter_times"] = chapter_times
spec.loader.exec_module(chapter_times)

TABLE = """## The course

| chapter | what you learn |
|---|---|
| [00 Welcome](notebooks/00_welcome.ipynb) | what deep learning is |
| [07 Convolutional networks](notebooks/07_convolutional_networks.ipynb) | LeNet-5 on MNIST |

More text | with a bar.
"""


def test_a_junit_report_is_summed_per_chapter(tmp_path):
    report = tmp_path / "report.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="notebooks.07_convolutional_networks.ipynb" name="Cell 0" time="1.5"/>'
        '<testcase classname="notebooks.07_convolutional_networks.ipynb" name="Cell 1" time="40.25"/>'
        '<testcase classname="notebooks.00_welcome.ipynb" name="Cell 0" time="3.0"/>'
        '<testcase classname="tests.course.test_claims" name="test_x" time="9.0"/>'
        "</testsuite></testsuites>"
    )
    assert chapter_times.from_junit(report) == {"07_convolutional_networks": 41.75, "00_welcome": 3.0}


def test_the_time_column_is_added_then_rewritten_for_the_chapters_measured():
    with_column = chapter_times.write(TABLE, {"07_convolutional_networks": 41.75})
    assert "| chapter | what you learn | time |\n|---|---|---|\n" in with_column
    assert chapter_times.times(with_column) == {"00_welcome": "", "07_convolutional_networks": "40 s"}
    again = chapter_times.write(with_column, {"00_welcome": 1.2})
    assert chapter_times.times(again) == {"00_welcome": "5 s", "07_convolutional_networks": "40 s"}
    assert again.endswith("More text | with a bar.\n")
    assert chapter_times.write(again, {}) == again


def test_times_are_shown_rounded_to_five_seconds():
    assert [chapter_times.shown(s) for s in (0.4, 7.4, 7.6, 118.0, 313.0)] == [
        "5 s",
        "5 s",
        "10 s",
        "120 s",
        "315 s",
    ]


def test_the_readme_gives_every_chapter_a_time():
    assert chapter_times.main(["--check"]) == 0, "run python tools/chapter_times.py notebooks/NN_slug.ipynb"


def test_every_chapter_takes_at_most_two_minutes():
    """Issue 73: a learner can run every chapter; the README's times, refreshed by the tool."""
    shown = chapter_times.times(chapter_times.README.read_text(encoding="utf-8"))
    slow = {slug: t for slug, t in shown.items() if t and int(t.split()[0]) > chapter_times.BUDGET}
    assert not slow, f"chapters over {chapter_times.BUDGET:.0f} s: {slow}"
