"""The numbers the chapters' prose binds to their outputs (tests/course/claims.py), checked
against the stored outputs: no execution, part of ``make test-unit``. The repository's
``conftest.py`` runs the same check on the outputs nbval recomputes (``make test``,
``make test-portable``)."""

import copy
import json
import re
from pathlib import Path

import pytest

from tests.course import claims

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_bound_number_matches_its_stored_output(path):
    problems = claims.failures(claims.load(path))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_course_binds_its_claims():
    """The mechanism is in use: the chapters whose numbers drifted before are bound now."""
    bound = {p.name[:2]: len(claims.claims_in(claims.markdown_of(claims.load(p)))) for p in CHAPTERS}
    assert sum(bound.values()) >= 20, bound
    for number in ("13", "15", "19", "22", "24"):
        assert bound[number] > 0, f"chapter {number} binds no claim"


# --- the mechanism itself, on a small notebook and on a copy of a real chapter ----------------


def notebook(markdown, *printed):
    cells = [{"cell_type": "markdown", "source": [markdown], "metadata": {}}]
    for text in printed:
        cells.append(
            {
                "cell_type": "code",
                "source": [],
                "metadata": {},
                "execution_count": 1,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": [text]}],
            }
        )
    return {"cells": cells}


def test_a_number_is_checked_to_its_last_written_digit():
    printed = "sensitivity 0.555\n"
    ok = "misses 44.5<!-- claim: 100 * (1 - out('sensitivity ([\\d.]+)')) --> %"
    assert claims.failures(notebook(ok, printed)) == []
    assert claims.failures(notebook(ok.replace("44.5", "43.9"), printed))  # 43.9 is not 44.5 rounded
    assert claims.failures(notebook(ok.replace("44.5", "43"), printed))
    assert claims.failures(notebook(ok.replace("44.5", "33.3"), printed))
    # a whole number stands for what rounds to it; a thousands comma is read
    assert claims.failures(notebook("**45**<!-- claim: 100 - out('x ([\\d.]+)') --> %", "x 55.4")) == []
    assert claims.failures(notebook("19,493<!-- claim: out('p ([\\d,]+)') -->", "p 19,493")) == []


def fresh(*printed):
    """Code cells as nbval hands them to conftest.py after recomputing them."""
    return [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": t}]} for t in printed]


def test_a_tolerance_absolute_or_relative_holds_for_recomputed_outputs():
    md = "reaches 0.78<!-- claim: out('acc ([\\d.]+)') ± 0.03 -->"
    chapter = notebook(md, "acc 0.780")
    assert claims.failures(chapter, fresh("acc 0.802")) == []
    assert claims.failures(chapter, fresh("acc 0.812"))
    md = "grew 125<!-- claim: out('growth ([\\d.]+)') ± 10% --> times"
    chapter = notebook(md, "growth 125.0")
    assert claims.failures(chapter, fresh("growth 118.0")) == []
    assert claims.failures(chapter, fresh("growth 100.0"))


def test_the_stored_output_beside_the_prose_must_say_the_same_digits():
    """A tolerance is for other machines' runs; the reader of the stored chapter sees the prose and
    the output side by side, so there they must agree to the digits the prose writes."""
    md = "reaches 0.78<!-- claim: out('acc ([\\d.]+)') ± 0.03 -->"
    assert claims.failures(notebook(md, "acc 0.784")) == []
    problems = claims.failures(notebook(md, "acc 0.802"))
    assert len(problems) == 1 and "the prose says 0.78, its stored output gives 0.802" in problems[0]
    # a whole number whose last comma groups are zeros is rounded to them
    counted = "in 58,000<!-- claim: out('tokens ([\\d,]+)') ± 500 --> tokens"
    assert claims.failures(notebook(counted, "tokens 57,600")) == []
    assert claims.failures(notebook(counted, "tokens 57,400"))
    assert claims.failures(notebook("in 57,610<!-- claim: out('t ([\\d,]+)') ± 500 -->", "t 57,600"))


def test_what_cannot_be_resolved_fails_with_a_reason():
    def problems(md, *printed):
        return " ".join(claims.failures(notebook(md, *printed)))

    assert "matches 2 times" in problems("1<!-- claim: out('a (\\d)') -->", "a 1\na 1")
    assert "matches 0 times" in problems("1<!-- claim: out('b (\\d)') -->", "a 1")
    assert problems("1<!-- claim: out('a (\\d)', 1) -->", "a 2\na 1") == ""
    assert "only arithmetic" in problems("1<!-- claim: __import__('os') -->", "")
    assert "no number" in problems("about a third<!-- claim: 1 / 3 -->", "")


def test_editing_a_bound_number_in_a_copy_of_a_chapter_fails(tmp_path):
    """One bound number of a real chapter changed in a copy: its stored outputs no longer
    support it, and the check says which sentence and which value."""
    path = next(p for p in CHAPTERS if p.name.startswith("22_"))
    chapter = claims.load(path)
    assert claims.failures(chapter) == []
    edited = copy.deepcopy(chapter)
    for cell in edited["cells"]:
        source = "".join(cell["source"])
        match = cell["cell_type"] == "markdown" and re.search(r"(\d+(?:\.\d+)?)(\s*%?\s*)<!-- claim:", source)
        if match:
            wrong = str(float(match.group(1)) + 7)
            cell["source"] = [source[: match.start(1)] + wrong + source[match.end(1) :]]
            break
    else:
        pytest.fail(f"{path.name} binds no number")
    copied = tmp_path / path.name
    copied.write_text(json.dumps(edited), encoding="utf-8")
    problems = claims.failures(claims.load(copied))
    assert len(problems) == 1 and f"the prose says {wrong}" in problems[0], problems


def test_fresh_outputs_that_drift_fail_where_the_stored_ones_pass():
    """What conftest.py does after nbval's last cell: the same claims against recomputed outputs."""
    chapter = notebook("accuracy 0.90<!-- claim: out('acc ([\\d.]+)') ± 0.02 -->", "acc 0.899")
    assert claims.failures(chapter) == []
    assert claims.failures(chapter, fresh("acc 0.86"))


@pytest.mark.slow
def test_nbval_fails_the_last_cell_when_a_recomputed_output_no_longer_supports_the_prose(tmp_path):
    """The repository's conftest.py, loaded as a plugin beside nbval, on two small notebooks whose
    prose binds a printed value: the one whose prose matches passes, the other fails its last cell."""
    import os
    import subprocess
    import sys

    import nbformat
    from nbclient import NotebookClient

    for name, written in (("agrees.ipynb", "0.50"), ("disagrees.ipynb", "0.60")):
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.cells = [
            nbformat.v4.new_markdown_cell(
                f"The value is {written}<!-- claim: out('value ([\\d.]+)') ± 0.01 -->."
            ),
            nbformat.v4.new_code_cell("print('value', 0.5)"),
            nbformat.v4.new_code_cell("x = 1"),
        ]
        NotebookClient(notebook, kernel_name="python3").execute()
        nbformat.write(notebook, tmp_path / name)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:xdist", "-p", "no:cacheprovider"]
        + ["-p", "conftest", "--nbval", "--nbval-current-env", "agrees.ipynb", "disagrees.ipynb"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "1 failed, 3 passed" in run.stdout, run.stdout[-3000:]
    assert "disagrees.ipynb::Cell 1" in run.stdout and "the prose says 0.60" in run.stdout
