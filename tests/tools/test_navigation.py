"""tools/navigation.py: chapters and exercises linked both ways, Lab's metadata everywhere."""

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import navigation  # noqa: E402

sys.path.insert(0, str(ROOT / "grader"))
from minidl_grader.notebook import LAB_METADATA  # noqa: E402

GRADED = sorted(
    p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if (ROOT / "solutions" / p.name).exists()
)


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text(cell):
    return "".join(cell["source"])


def test_the_repository_is_up_to_date():
    changed = navigation.run(check=True)
    assert not changed, f"run python tools/navigation.py && minidl-grade release: {changed}"


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.stem)
def test_each_chapter_links_to_its_exercises_at_its_start_and_end(path):
    found = cells(path)
    link = re.compile(rf"\[\d+ · [^\]]+ — exercises\]\(\.\./workspace/{path.stem}_exercises\.ipynb\)")
    assert found[1]["id"] == "nav-exercises" and link.search(text(found[1])), text(found[1])
    assert found[-1]["id"] == "nav-exercises-end" and link.search(text(found[-1])), text(found[-1])
    assert f"](../exercises/{path.name})" in text(found[1])  # the original, which always exists


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.stem)
def test_each_exercise_notebook_is_titled_as_such_and_links_back(path):
    number = int(path.name[:2])
    for folder in ("solutions", "exercises"):
        first = cells(ROOT / folder / path.name)[0]
        assert text(first).startswith(f"# Exercises for chapter {number} · "), (folder, text(first))
        assert f"](../notebooks/{path.name})" in text(first)


@pytest.mark.parametrize("folder", ["notebooks", "solutions", "exercises"])
def test_every_notebook_carries_the_metadata_lab_writes(folder):
    for path in sorted((ROOT / folder).glob("*.ipynb")):
        metadata = json.loads(path.read_text(encoding="utf-8"))["metadata"]
        assert {k: metadata.get(k) for k in LAB_METADATA} == LAB_METADATA, path


def test_a_new_chapter_gets_its_links_and_the_rerun_changes_nothing(tmp_path):
    for folder in ("notebooks", "solutions"):
        (tmp_path / folder).mkdir()
    chapter = {
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# 23 · Trust: a title\n\nText."}
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    solution = json.loads(json.dumps(chapter))
    solution["cells"][0]["source"] = "# Exercises: Trust\n\nWhat to do."
    (tmp_path / "notebooks" / "23_trust.ipynb").write_text(json.dumps(chapter))
    (tmp_path / "solutions" / "23_trust.ipynb").write_text(json.dumps(solution))
    shutil.copy(ROOT / "notebooks" / "00_welcome.ipynb", tmp_path / "notebooks")  # no exercises
    assert len(navigation.run(tmp_path)) == 2  # the welcome chapter carries the metadata already
    assert navigation.run(tmp_path, check=True) == []
    new = cells(tmp_path / "solutions" / "23_trust.ipynb")
    assert text(new[0]).startswith(
        "# Exercises for chapter 23 · Trust\n\n*The chapter:* [23 · Trust: a title]"
    )
    assert text(new[1]) == "What to do."  # the old heading gave way to the generated one
    assert "](../workspace/23_trust_exercises.ipynb)" in text(
        cells(tmp_path / "notebooks" / "23_trust.ipynb")[-1]
    )
    assert len(cells(tmp_path / "notebooks" / "00_welcome.ipynb")) == len(
        cells(ROOT / "notebooks" / "00_welcome.ipynb")
    )


def test_the_links_survive_renumbering():
    """renumber_chapters.py rewrites what the tool wrote for chapter 9 into what it writes
    for chapter 10: after renumbering, --check still passes."""
    import renumber_chapters as rc

    chapters = rc.chapters_in(ROOT)
    r, _ = rc.plan(chapters, rc.parse_moves(["09_transfer_learning:10", "10_fast_cpu_kernels:09"]))
    assert rc.rewrite_text(navigation.your_work_cell(), r) == navigation.your_work_cell()  # ids of chapter 3
    title = "Transfer learning"
    for make in (navigation.top_cell, navigation.end_cell, navigation.back_cell):
        before, after = make("09_transfer_learning", 9, title), make("10_transfer_learning", 10, title)
        assert rc.rewrite_text(before, r) == after


def test_chapter_0_says_where_your_work_lives_and_how_to_reset_it():
    found = {c["id"]: text(c) for c in cells(ROOT / "notebooks" / "00_welcome.ipynb")}
    assert "python -m minidl exercises reset 03_backpropagation" in found["your-work"]
    assert "closing a notebook's tab shuts its kernel down" in found["your-work"]
