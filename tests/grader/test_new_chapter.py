"""A chapter is one place: a throwaway chapter, added with only the edits CONTRIBUTING.md lists,
is found by the grader's registry, by the release, by the public data and by the layout rule.

The chapter (``23_throwaway``: its spec ``specs/ch23.py``, its solutions notebook, its spec's
test file) is written under ``tmp_path``; the registry reads the spec folder's files, the
release the solutions folder's, the public data the registry's exercises and the layout rule
the tree. No list anywhere else names the chapter.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from minidl_grader import public, release, specs
from minidl_grader.judge import registry

import tests.test_layout_of_tests as layout

CHAPTER = "23_throwaway"
SPEC = '''"""Chapter 23, a throwaway: double an array."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "23_throwaway"


def throwaway_double(x):
    return 2.0 * x


def _cases(rng):
    return [Case((rng.standard_normal(3),), label="x of shape (3,)")]


function_exercise(
    "throwaway_double", CHAPTER, 1, "throwaway_double", "Double an array", _cases, throwaway_double,
    ("y",), mistakes=(("x returned unchanged", lambda x: x.copy()),),
)
'''
SOLUTION_CELL = "def throwaway_double(x):\n    # BEGIN SOLUTION\n    return 2.0 * x\n    # END SOLUTION\n"


def solutions_notebook() -> dict:
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "ch23-01",
        "metadata": {"minidl": {"exercise": "throwaway_double", "points": 1}},
        "outputs": [],
        "source": SOLUTION_CELL.splitlines(keepends=True),
    }
    return {
        "cells": [cell],
        "metadata": {"minidl": {"chapter": CHAPTER}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def throwaway(tmp_path, monkeypatch):
    """The spec folder with ``ch23.py`` beside the built-in specs, loaded as the package loads
    its specs (``specs.load_all`` over the folder), into a registry that is given back after."""
    folder = tmp_path / "specs"
    shutil.copytree(registry.SPECS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "ch23.py").write_text(SPEC, encoding="utf-8")
    registry.all_exercises()  # the built-in specs, loaded before the registry is copied
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "CHAPTERS", registry.chapters_in(folder))
    monkeypatch.setattr(specs, "__path__", [*specs.__path__, str(folder)])
    registry.add_source(specs.load_all)
    yield folder
    sys.modules.pop(f"{specs.__name__}.ch23", None)


def test_the_registry_finds_the_chapter_by_its_spec(throwaway):
    assert registry.chapters_in(throwaway)[-1] == CHAPTER
    assert registry.CHAPTERS[:-1] == registry.chapters_in(registry.SPECS)
    assert registry.parse_chapter("23") == registry.parse_chapter(CHAPTER) == CHAPTER
    assert [e.name for e in registry.for_chapter(CHAPTER)] == ["throwaway_double"]
    assert registry.counts()[CHAPTER] == {"code": 1, "questions": 0, "points": 1}


def test_the_release_generates_the_chapters_exercises_from_its_solutions(throwaway, tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    (solutions / f"{CHAPTER}.ipynb").write_text(json.dumps(solutions_notebook()), encoding="utf-8")
    changed, problems = release.release(solutions, exercises)
    assert problems == [] and changed == [str(exercises / f"{CHAPTER}.ipynb")]
    written = json.loads((exercises / f"{CHAPTER}.ipynb").read_text(encoding="utf-8"))
    source = "".join(written["cells"][0]["source"])
    assert "def throwaway_double(x):" in source and "return 2.0 * x" not in source


def test_the_public_data_holds_the_chapters_cases(throwaway, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {"throwaway_double": registry.get("throwaway_double")})
    index, arrays = public.public_data()
    entry = index["exercises"]["throwaway_double"]
    assert entry["chapter"] == CHAPTER and len(entry["cases"]) == 1
    assert entry["cases"][0]["mistakes"][0][0] == "x returned unchanged"
    assert arrays  # the case's input and outputs, stored as arrays


def test_the_layout_rule_asks_the_new_spec_for_its_test_file(tmp_path, monkeypatch):
    package = tmp_path / "grader" / "minidl_grader"
    (package / "specs").mkdir(parents=True)
    (package / "specs" / "ch23.py").write_text(SPEC, encoding="utf-8")
    monkeypatch.setattr(layout, "ROOT", tmp_path)
    monkeypatch.setattr(layout, "TESTS", tmp_path / "tests")
    monkeypatch.setattr(layout, "AREAS", {"grader": package})
    monkeypatch.setattr(layout, "UNTESTED", {})
    with pytest.raises(
        AssertionError, match="grader/minidl_grader/specs/ch23.py: no tests/grader/specs/test_ch23.py"
    ):
        layout.test_every_module_has_its_test_file_or_a_reason()
    (tmp_path / "tests" / "grader" / "specs").mkdir(parents=True)
    (tmp_path / "tests" / "grader" / "specs" / "test_ch23.py").write_text("", encoding="utf-8")
    layout.test_every_module_has_its_test_file_or_a_reason()
    assert layout.modules_with_tests() == {"grader/minidl_grader/specs/ch23.py"}


def test_the_repositorys_chapters_are_its_specs_notebooks_and_solutions():
    """What the registry finds is what the repository holds: each spec's chapter has its
    notebook and its solutions, and nothing else names a chapter."""
    root = Path(__file__).resolve().parents[2]
    assert registry.CHAPTERS == registry.chapters_in(registry.SPECS)
    assert [p.stem for p in sorted((root / "solutions").glob("*.ipynb"))] == list(registry.CHAPTERS)
    notebooks = {p.stem for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert set(registry.CHAPTERS) <= notebooks
