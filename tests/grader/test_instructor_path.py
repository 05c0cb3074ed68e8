"""The instructor's path (issue 56, item 5): what a grading run reports and writes."""

import csv

import pytest
from minidl_grader import cli

from tests.grader.grading_answers import GOOD_WN, chapter3_with_cell, grade_batch

pytestmark = pytest.mark.sandbox


def test_an_exception_in_a_setup_cell_is_reported_in_the_message_and_the_csv(tmp_path):
    """Before, the CSV's error column was empty, the message showed the next cell's
    NameError, and a setup cell that raised after its imports scored full with no mention."""
    folder = tmp_path / "subs"
    folder.mkdir()
    chapter3_with_cell(
        folder / "after.ipynb", extra_cell="import numpy as np\nraise ValueError('boom after')\n"
    )
    chapter3_with_cell(  # the name the answer needs is never imported
        folder / "before.ipynb",
        "weight_norm_backward",
        GOOD_WN.replace("(v * v).sum(axis=0) ** 0.5", "my_sqrt((v * v).sum(axis=0))"),
        extra_cell="raise ValueError('boom before')\nfrom numpy import sqrt as my_sqrt\n",
    )
    out = tmp_path / "grades.csv"
    assert cli.main([str(folder), "--csv", str(out), "--seed", "3", "--quiet", "--timeout", "30"]) == 0
    rows = {row["submission"].rsplit("/", 1)[-1]: row for row in csv.DictReader(out.open())}
    after, before = rows["after.ipynb"], rows["before.ipynb"]
    assert "setup cell 3 failed: raised ValueError: boom after" in after["error"], after
    assert "boom after" in after["flags"]
    assert float(after["score"]) == float(after["max_score"])  # the imports it needed ran
    assert "setup cell 3 failed: raised ValueError: boom before" in before["error"], before
    assert float(before["weight_norm_backward"]) == 0
    graded = grade_batch(folder, "--seed", "3", "--timeout", "30")
    message = {t["name"]: t for t in graded["before.ipynb"]["tests"]}["weight_norm_backward"]["output"]
    assert "my_sqrt" in message and "setup cell 3 failed: raised ValueError: boom before" in message
