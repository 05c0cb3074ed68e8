"""Reading and writing notebooks: outputs stripped unparsed, size and link limits, nbformat 3,
solution blocks and the exercise notebook made from a solution."""

import json
import os

import pytest
from minidl_grader import notebook as nbk


def notebook(*cells, **meta) -> dict:
    return {"cells": list(cells), "metadata": meta, "nbformat": 4, "nbformat_minor": 5}


def code(source, outputs=(), **minidl) -> dict:
    cell = {"cell_type": "code", "metadata": {"minidl": minidl} if minidl else {}, "source": source}
    return {**cell, "outputs": list(outputs), "execution_count": 1}


def test_outputs_are_emptied_without_parsing_and_nothing_else_changes():
    big = {
        "output_type": "display_data",
        "data": {"image/png": "A" * 100_000, "text": ['"outputs": [1]', "]"]},
    }
    nb = notebook(code("x = 1\n", outputs=[big]), code('s = "outputs"\n'))
    stripped = json.loads(nbk.strip_outputs(json.dumps(nb).encode()))
    assert stripped["cells"][0]["outputs"] == [] and stripped["cells"][0]["source"] == "x = 1\n"
    assert stripped["cells"][1]["source"] == 's = "outputs"\n'
    assert nbk.strip_outputs(b'{"outputs": [1, [2') == b'{"outputs": [1, [2'  # malformed: left for json


def test_read_submission_limits_size_and_refuses_links_when_asked(tmp_path):
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(notebook(code("x = 1\n", outputs=[{"text": "y" * 5000}]))), encoding="utf-8")
    assert len(nbk.read_submission(path)) < 500  # outputs gone before any limit applies
    with pytest.raises(ValueError, match="a.ipynb is larger than 0 MiB without its outputs"):
        nbk.read_submission(path, max_bytes=10)
    with pytest.raises(ValueError, match="is larger than 0 MiB"):
        nbk.read_submission(path, max_file_bytes=10)
    link = tmp_path / "link.ipynb"
    os.symlink(path, link)
    with pytest.raises(ValueError, match="link.ipynb is a symbolic link: not followed"):
        nbk.read_submission(link, follow_symlinks=False)
    with pytest.raises(ValueError, match="missing.ipynb is unreadable"):
        nbk.read_submission(tmp_path / "missing.ipynb")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "is not a readable notebook: JSONDecodeError"),
        (b'{"cells": 3}', r"is not a notebook \(no list of cells\)"),
        (b"[1, 2]", r"is not a notebook \(no list of cells\)"),
    ],
)
def test_read_notebook_says_what_is_wrong(content, message):
    with pytest.raises(ValueError, match=message):
        nbk.read_notebook("sub.ipynb", content=content)


def test_an_nbformat_3_notebook_is_upgraded():
    old = {
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "code", "input": "x = 2\n", "metadata": {"a": 1}},
                    {"cell_type": "heading", "source": "T"},
                    7,
                ]
            }
        ],
        "metadata": {"name": "old"},
    }
    nb = nbk.read_notebook("old.ipynb", content=json.dumps(old).encode())
    assert nb["nbformat"] == 4 and nb["metadata"] == {"name": "old"}
    assert [c["cell_type"] for c in nb["cells"]] == ["code", "markdown"]
    assert nb["cells"][0]["source"] == "x = 2\n" and nb["cells"][0]["outputs"] == []


def test_cell_source_and_exercise_meta_tolerate_what_a_submission_holds():
    assert nbk.cell_source({"source": ["a\n", 3, "b"]}) == "a\nb"
    assert nbk.cell_source({"source": 5}) == "" and nbk.cell_source("cell") == ""
    assert nbk.exercise_meta({"metadata": {"minidl": {"exercise": "f"}}}) == {"exercise": "f"}
    assert nbk.exercise_meta({"metadata": {"minidl": []}}) == {} and nbk.exercise_meta({"metadata": 1}) == {}


def test_solution_blocks_are_found_and_unbalanced_markers_named_by_line():
    source = "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n// BEGIN SOLUTION\nint x;\n// END SOLUTION\n"
    assert nbk.solution_blocks(source) == [["    return 1"], ["int x;"]]
    with pytest.raises(ValueError, match="line 2: # BEGIN SOLUTION inside another solution block"):
        nbk.solution_blocks("# BEGIN SOLUTION\n# BEGIN SOLUTION\n")
    with pytest.raises(ValueError, match="line 1: # END SOLUTION without # BEGIN SOLUTION"):
        nbk.solution_blocks("# END SOLUTION\n")
    with pytest.raises(ValueError, match="# BEGIN SOLUTION without # END SOLUTION"):
        nbk.solution_blocks("# BEGIN SOLUTION\nx = 1\n")


def test_strip_solutions_leaves_the_placeholder_at_the_blocks_indentation():
    source = "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n"
    assert nbk.strip_solutions(source) == f"def f():\n    {nbk.PLACEHOLDER}\n"
    cuda = 'src = r"""\n// BEGIN SOLUTION\ny[i] = x[i];\n// END SOLUTION\n"""'
    assert nbk.C_PLACEHOLDER in nbk.strip_solutions(cuda) and "y[i]" not in nbk.strip_solutions(cuda)
    question = "# BEGIN SOLUTION\n# the shape\nanswer_q1 = (3, 4)\n# END SOLUTION\n"
    assert nbk.strip_solutions(question, question=True) == "answer_q1 = ...  # your answer here\n"
    with pytest.raises(ValueError, match="must be one line `name = answer`"):
        nbk.answer_name(["a = 1", "b = 2"])


def test_the_exercise_notebook_has_no_answers_outputs_or_counts(tmp_path):
    solution = notebook(
        {"cell_type": "markdown", "metadata": {}, "source": "# Title"},
        code(
            "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n",
            outputs=[{"text": "1"}],
            exercise="f",
            points=1,
        ),
        minidl={"chapter": "01_x"},
    )
    released = nbk.release_notebook(solution)
    cell = released["cells"][1]
    assert cell["outputs"] == [] and cell["execution_count"] is None and cell["id"] == "cell-1"
    assert "return 1" not in "".join(cell["source"]) and cell["metadata"]["minidl"]["exercise"] == "f"
    # the solution's own metadata, and what Lab writes on its first save (so a save changes nothing)
    assert released["metadata"] == {"minidl": {"chapter": "01_x"}, **nbk.LAB_METADATA}
    path = tmp_path / "sub" / "out.ipynb"
    nbk.write_notebook(released, path)
    assert json.loads(path.read_text(encoding="utf-8")) == released and path.read_text().endswith("\n")
    assert [p.name for p in path.parent.iterdir()] == ["out.ipynb"]  # no temporary file left
