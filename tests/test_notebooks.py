"""The chapters as a course: stored the way nbval can check them, linked into one sequence.

nbval (run over notebooks/ by ``make test``) re-executes every chapter and compares outputs.
These tests check what nbval cannot see: a cell stored without outputs compares nothing,
a misspelt ``# NBVAL_IGNORE_OUTPUT`` line silently compares a timing, and a chapter that
lost its links or its exercises breaks the course without failing any cell.
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest
from nbval.plugin import comment_markers as NBVAL_MARKERS  # the markers nbval itself reads

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BY_NUMBER = {int(path.name[:2]): path for path in CHAPTERS}
# A chapter is graded when it has worked solutions; the exercises are generated from them.
GRADED = [path for path in CHAPTERS if (ROOT / "solutions" / path.name).exists()]


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def markdown(notebook):
    return "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")


def reading_order():
    """The chapters in the order the README's table (and the book) gives them."""
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.chapters()


def test_the_chapters_are_numbered_from_00_without_gaps():
    numbers = sorted(BY_NUMBER)
    assert numbers == list(range(numbers[-1] + 1)), f"chapter numbers found: {numbers}"
    assert len(BY_NUMBER) == len(CHAPTERS), "two chapters share a number"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_code_cell_is_stored_executed(path):
    """nbval compares stored outputs: a cell stored unexecuted would be checked against nothing."""
    unexecuted = [
        i
        for i, cell in enumerate(code_cells(load(path)))
        if cell["source"] and cell.get("execution_count") is None
    ]
    assert not unexecuted, f"{path.name}: code cells {unexecuted} have no stored run (make book)"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_nbval_markers_are_spelt_so_that_nbval_sees_them(path):
    """nbval honours a marker only when the comment line is the marker alone.

    ``# NBVAL_IGNORE_OUTPUT  (timings vary)`` is ignored by nbval, and the cell's output is
    compared after all; the reason belongs on the next comment line.
    """
    for index, cell in enumerate(code_cells(load(path))):
        for line in "".join(cell["source"]).splitlines():
            comment = line.strip()
            if comment.startswith("#") and "NBVAL_" in comment:
                marker = comment.lstrip("#").strip()
                assert marker in NBVAL_MARKERS, (
                    f"{path.name}, code cell {index}: {comment!r} is not a marker nbval "
                    f"recognises; write the marker alone on its line"
                )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_execution_timestamps_or_errors_are_stored(path):
    for index, cell in enumerate(code_cells(load(path))):
        assert "execution" not in cell.get("metadata", {}), (
            f"{path.name}, code cell {index} stores execution timestamps "
            f"(re-run it with tools/execute_notebooks.py)"
        )
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{path.name}, code cell {index} stores an error: {errors[0]['ename']}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_links_to_its_neighbours(path):
    """Each side links to the chapter before (after) it in the reading order, or to the one
    numbered before (after) it when that one is on the same side in the reading order: a
    chapter read out of its number's order (16 after 7) links to where the reader goes next."""
    text = markdown(load(path))
    number = int(path.name[:2])
    order = reading_order()
    position = order.index(path)
    for step in (-1, 1):
        candidates = []
        if number + step in BY_NUMBER:
            numbered = BY_NUMBER[number + step]
            if (order.index(numbered) - position) * step > 0:
                candidates.append(numbered)
        if 0 <= position + step < len(order):
            candidates.append(order[position + step])
        if candidates:
            assert any(f"]({c.name})" in text for c in candidates), (
                f"{path.name} links to none of {[c.name for c in candidates]}"
            )


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.stem)
def test_graded_chapters_end_with_a_summary_and_their_exercises(path):
    text = markdown(load(path))
    assert re.search(r"^## Summary", text, re.M), f"{path.name} has no '## Summary' section"
    assert re.search(r"^## Exercises", text, re.M), f"{path.name} has no '## Exercises' section"
    exercises = f"../exercises/{path.name}"
    assert (ROOT / "exercises" / path.name).exists(), f"exercises/{path.name} is missing"
    assert f"]({exercises})" in text, f"{path.name} does not link to {exercises}"


def test_readme_lists_every_chapter():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in CHAPTERS if f"(notebooks/{p.name})" not in readme]
    assert not missing, f"README.md does not list {missing}"


# Text a writer meant to replace: "<the course repository's URL>", "<this repository>".
# (Autolinks such as <https://...> have no space; inner products in code cells are not prose.)
PLACEHOLDER = re.compile(r"<(?!https?://)[A-Za-z][^<>\n]*\s[^<>\n]*>")


def outputs_text(cell):
    return "".join(
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for o in cell.get("outputs", [])
    )


@pytest.mark.parametrize("path", CHAPTERS + [ROOT / "README.md"], ids=lambda p: p.stem)
def test_no_placeholder_is_left_in_the_text(path):
    text = path.read_text(encoding="utf-8") if path.suffix == ".md" else markdown(load(path))
    found = PLACEHOLDER.findall(text)
    assert not found, f"{path.name} still holds placeholders {found}: say what a reader can do today"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_table_of_unknown_values_is_printed(path):
    """A table whose cells print '?' stands for numbers nobody measured: print none, or measure."""
    for index, cell in enumerate(code_cells(load(path))):
        for line in outputs_text(cell).splitlines():
            assert line.split().count("?") < 2, (
                f"{path.name}, code cell {index} prints a table of unknowns: {line.strip()!r}"
            )


def test_every_solutions_notebook_belongs_to_a_chapter():
    """GRADED is derived from solutions/: a solutions notebook without its chapter would drop out unseen."""
    orphans = [
        p.name
        for p in sorted((ROOT / "solutions").glob("*.ipynb"))
        if not (ROOT / "notebooks" / p.name).exists()
    ]
    assert not orphans, f"solutions without a chapter of the same name: {orphans}"
    assert GRADED, "no chapter has a solutions notebook: the exercise sections would go unchecked"
