"""Honest students get their marks (issue 27): ``@njit(cache=True)``, a notebook saved as
nbformat 3, large outputs, a notebook uploaded inside a folder; and a symbolic link in a
submissions folder is an error row, not someone else's work graded."""

import json
import os
from pathlib import Path

import pytest
from minidl_grader import cli, notebook, runner
from minidl_grader.judge import registry

ROOT = Path(__file__).resolve().parents[2]
CHAPTER3 = ROOT / "solutions" / "03_backpropagation.ipynb"
CHAPTER10 = ROOT / "solutions" / "10_fast_cpu_kernels.ipynb"
CH3_POINTS = sum(e.points for e in registry.for_chapter("03_backpropagation"))


def _with_outputs(nb: dict, megabytes: float) -> dict:
    """``nb`` with a stream output of about ``megabytes`` MiB on each code cell."""
    nb = json.loads(json.dumps(nb))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    line = "x" * 1023 + "\n"
    per_cell = max(1, int(megabytes * 1024 / len(code)))
    for cell in code:
        cell["outputs"] = [
            {"output_type": "stream", "name": "stdout", "text": [line] * per_cell},
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {"image/png": "iVBORw0K" * 64, "text/plain": ['[ ] { } " ]']},
            },
        ]
    return nb


def _as_nbformat3(nb: dict) -> dict:
    cells = []
    for cell in nb["cells"]:
        old = {"cell_type": cell["cell_type"], "metadata": cell.get("metadata", {})}
        if cell["cell_type"] == "code":
            old.update(input=cell["source"], language="python", outputs=[], collapsed=False)
        else:
            old["source"] = cell["source"]
        cells.append(old)
    return {
        "metadata": nb["metadata"],
        "nbformat": 3,
        "nbformat_minor": 0,
        "worksheets": [{"cells": cells[:3], "metadata": {}}, {"cells": cells[3:], "metadata": {}}],
    }


# ---------------------------------------------------------------------- reading
def test_outputs_are_stripped_before_the_size_cap(tmp_path):
    nb = _with_outputs(notebook.read_notebook(CHAPTER3), megabytes=2)
    path = tmp_path / "plots.ipynb"
    path.write_text(json.dumps(nb))
    assert path.stat().st_size > 2 * 2**20
    stripped = notebook.read_submission(path, max_bytes=256 * 1024)
    again = json.loads(stripped)
    assert all(c.get("outputs", []) == [] for c in again["cells"])
    assert [notebook.cell_source(c) for c in again["cells"]] == [notebook.cell_source(c) for c in nb["cells"]]


def test_a_notebook_too_large_without_its_outputs_is_refused_unparsed(tmp_path):
    path = tmp_path / "big.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "#" * 300_000}]}))
    with pytest.raises(ValueError, match="without its outputs"):
        notebook.read_submission(path, max_bytes=256 * 1024)
    with pytest.raises(ValueError, match="larger than"):
        notebook.read_submission(path, max_file_bytes=100_000)


def test_strip_outputs_reads_strings_and_nesting_right():
    text = json.dumps(
        {"cells": [{"source": 'outputs": [', "outputs": [[{"a": "]]"}], "]"], "metadata": {"outputs": 3}}]}
    ).encode()
    assert json.loads(notebook.strip_outputs(text)) == {
        "cells": [{"source": 'outputs": [', "outputs": [], "metadata": {"outputs": 3}}]
    }
    assert notebook.strip_outputs(b'{"outputs": [[[') == b'{"outputs": [[['  # left for json to reject


def test_nbformat3_is_upgraded():
    nb = notebook.upgrade_notebook(_as_nbformat3(notebook.read_notebook(CHAPTER3)))
    original = notebook.read_notebook(CHAPTER3)
    assert [notebook.cell_source(c) for c in nb["cells"]] == [
        notebook.cell_source(c) for c in original["cells"]
    ]
    assert [notebook.exercise_meta(c) for c in nb["cells"]] == [
        notebook.exercise_meta(c) for c in original["cells"]
    ]


# ---------------------------------------------------------------------- graded end to end
@pytest.fixture(scope="module")
def graded_folder(tmp_path_factory):
    """A Gradescope-like submission folder: chapter 3 as nbformat 3 with 2 MiB of
    outputs inside a sub-folder, beside a symbolic link to the solution."""
    folder = tmp_path_factory.mktemp("honest")
    (folder / "hw3").mkdir()
    nb = _as_nbformat3(_with_outputs(notebook.read_notebook(CHAPTER3), megabytes=2))
    (folder / "hw3" / "my work.ipynb").write_text(json.dumps(nb))
    os.symlink(CHAPTER3, folder / "copied.ipynb")
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "old.ipynb").write_text("{}")
    out = folder.parent / f"{folder.name}.json"
    assert (
        cli.main(
            [str(folder), "--chapter", "03", "--timeout", "30", "--seed", "5", "--json", str(out), "--quiet"]
        )
        == 0
    )
    return {Path(r["submission"]).name: r for r in json.loads(out.read_text())}


@pytest.mark.sandbox
def test_a_notebook_in_a_subfolder_in_nbformat3_with_large_outputs_gets_full_marks(graded_folder):
    assert set(graded_folder) == {"my work.ipynb", "copied.ipynb"}  # no checkpoint copy
    result = graded_folder["my work.ipynb"]
    assert result["score"] == CH3_POINTS, result


def test_a_symbolic_link_is_an_error_row_not_graded(graded_folder):
    result = graded_folder["copied.ipynb"]
    assert result["score"] == 0
    assert "symbolic link" in result["output"]
    assert all(t["score"] == 0 for t in result["tests"]) and result["tests"]


@pytest.mark.sandbox
def test_a_numba_kernel_with_cache_true_gets_its_marks(tmp_path):
    pytest.importorskip("numba")
    nb = notebook.read_notebook(CHAPTER10)
    cached = 0
    for cell in nb["cells"]:
        source = notebook.cell_source(cell)
        if notebook.exercise_meta(cell).get("exercise") and "@njit\n" in source:
            cell["source"] = source.replace("@njit\n", "@njit(cache=True)\n")
            cached += 1
    assert cached
    path = tmp_path / "cached.ipynb"
    notebook.write_notebook(nb, path)
    result = runner.grade_notebook(path, timeout=60, seed=2)
    assert result.error is None
    assert result.score == result.max_score, [(r.name, r.message) for r in result.results]
