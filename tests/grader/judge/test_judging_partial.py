"""Partial credit per test case and Gradescope visibility (issue 27)."""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from minidl_grader import cli
from minidl_grader.judge.judging import SubmissionError, SubmissionResult, judge_exercise
from minidl_grader.judge.registry import Case, function_exercise
from minidl_grader.reports import report

from tests.grader.grading_answers import chapter3_with_cell, wn_private_checks


def _double(x):
    return 2 * x


def _cases(rng):
    return [
        Case((rng.standard_normal(3),), label="a small vector"),
        Case((rng.standard_normal(4) * 1e3,), label="large values", points=2),
        Case((rng.standard_normal(5),), label="the hidden one", visibility="hidden"),
        Case((rng.standard_normal(2),), label="after the due date", visibility="after_due_date"),
    ]


EXERCISE = function_exercise(
    "double_it", "03_backpropagation", 4, "double", "Double it", _cases, _double, ("y",), do_register=False
)


def _judge(answer, visible_only=False):
    def outputs(case):
        try:
            return answer(*case.args)
        except Exception as err:
            raise SubmissionError(str(err)) from None

    return judge_exercise(EXERCISE, outputs, seed=0, visible_only=visible_only)


def test_each_case_scores_its_share():
    right = _judge(_double)
    assert right.passed and right.score == 4 and [c.points for c in right.cases] == [2 / 3, 2, 2 / 3, 2 / 3]
    wrong_on_small = _judge(lambda x: 2 * x if abs(x).max() > 50 or x.size == 5 else x)
    assert wrong_on_small.score == pytest.approx(2 + 2 / 3)
    assert "a small vector" in wrong_on_small.message and "2 of 4 test cases failed" in wrong_on_small.message
    assert [c.visibility for c in right.cases] == ["visible", "visible", "hidden", "after_due_date"]


def test_check_runs_the_visible_cases_only():
    seen = []
    result = _judge(lambda x: seen.append(x.size) or 2 * x, visible_only=True)
    assert sorted(seen) == [3, 4] and result.passed and result.points == pytest.approx(2 + 2 / 3)


def test_points_that_do_not_add_up_are_an_authors_error():
    bad = function_exercise(
        "bad_points",
        "03_backpropagation",
        1,
        "double",
        "x",
        lambda rng: [Case((np.ones(2),), points=3)],
        _double,
        ("y",),
        do_register=False,
    )
    with pytest.raises(ValueError, match="add up"):
        judge_exercise(bad, lambda case: 2 * case.args[0], seed=0)


def test_gradescope_json_csv_and_table_show_each_case():
    result = _judge(lambda x: 2 * x if x.size != 3 else x)
    sub = SubmissionResult("alice.ipynb", "03_backpropagation", [result])
    tests = report.gradescope_json(sub)["tests"]
    assert [t["name"] for t in tests] == [f"double_it: {c.label}" for c in result.cases]
    assert [t.get("visibility", "visible") for t in tests] == [
        "visible",
        "visible",
        "hidden",
        "after_due_date",
    ]
    assert tests[0]["score"] == 0 and tests[1]["score"] == 2 and tests[1]["max_score"] == 2
    assert report.gradescope_json(sub)["score"] == pytest.approx(2 + 4 / 3)
    rows = list(csv.reader(io.StringIO(_csv_text(sub))))
    assert rows[0][4:9] == ["double_it", "double_it/1", "double_it/2", "double_it/3", "double_it/4"]
    assert rows[1][5:9] == ["0", "2", "0.666667", "0.666667"]
    table = report.format_table(sub)
    assert "- the hidden one [hidden]: 0.666667/0.666667" in table


def _csv_text(sub) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "g.csv"
        report.write_csv(path, [sub])
        return path.read_text()


def test_a_private_check_with_hidden_cases_through_the_grader(tmp_path):
    checks = wn_private_checks(
        tmp_path / "checks",
        "def cases(rng):\n"
        "    shapes = ((1, 3, 2), (2, 3, 4))\n"
        "    return [Case((rng.standard_normal((n, m)), rng.standard_normal((n, d)),\n"
        "                  rng.standard_normal((d, m)), rng.uniform(0.5, 2.0, m)), label=f'batch of {n}',\n"
        "                 visibility='visible' if n == 1 else 'hidden') for n, d, m in shapes]\n"
        "CHECKS = [private_check('dense_hidden', chapter='03_backpropagation', points=2,\n"
        "                        entry='weight_norm_backward', make_cases=cases, reference=reference,\n"
        "                        outputs=('dx', 'dv', 'dg', 'db'), partial=True)]\n",
    )
    right_for_one = (  # right for a batch of one only
        "def weight_norm_backward(dy, x, v, g):\n"
        "    n = (v * v).sum(axis=0) ** 0.5\n"
        "    u = v / n\n"
        "    dg = (x.T @ dy * u).sum(axis=0)\n"
        "    db = dy.sum(axis=0) * (len(dy) == 1)\n"
        "    return dy @ (g * u).T, g * (x.T @ dy - dg * u) / n, dg, db\n"
    )
    path = chapter3_with_cell(tmp_path / "one.ipynb", "weight_norm_backward", right_for_one)
    out = tmp_path / "results.json"
    assert (
        cli.main(
            [
                str(path),
                "--checks",
                str(checks),
                "--timeout",
                "30",
                "--seed",
                "2",
                "--json",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    tests = {t["name"]: t for t in json.loads(out.read_text())["tests"]}
    assert (
        tests["dense_hidden: batch of 1"]["score"] == 1
        and "visibility" not in tests["dense_hidden: batch of 1"]
    )
    hidden = tests["dense_hidden: batch of 2"]
    assert hidden["score"] == 0 and hidden["visibility"] == "hidden" and hidden["max_score"] == 1
