"""Clean output for people and programs (issue 27): file names and every student-derived
string are sanitized in the terminal table, the CSV (formula guarding) and the JSON."""

import csv
import io
import json
import os
from pathlib import Path

import pytest
from minidl_grader import cli, notebook
from minidl_grader.judge import registry
from minidl_grader.reports.text import clean_text, display_path, one_line, spreadsheet_cell

ROOT = Path(__file__).resolve().parents[3]
CHAPTER3 = ROOT / "solutions" / "03_backpropagation.ipynb"
CH3_POINTS = sum(e.points for e in registry.for_chapter("03_backpropagation"))
FORGED = "\n  ok   weight_norm_backward   2/2 passed\n  total 8/8\n"


def test_text_helpers():
    assert "\x1b" not in clean_text("\x1b[2Jcleared") and "\\x1b[2J" in clean_text("\x1b[2J")
    assert one_line("a\nb\tc\u2028d\u202ee") == "a\\x0ab\\x09c\\u2028d\\u202ee"
    assert clean_text("hint:\n    x") == "hint:\n    x"  # the grader's own newlines stay
    assert display_path(os.fsdecode(b"bad\xff\nname.ipynb")) == "bad\\xff\\x0aname.ipynb"
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\uff1d1"):
        assert spreadsheet_cell(text).startswith("'")
    assert spreadsheet_cell("alice.ipynb") == "alice.ipynb"


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("names")
    nb = notebook.read_notebook(CHAPTER3)
    forged = (
        "Bad = type('Bad' + " + repr(FORGED) + ", (Exception,), {})\n"
        "def weight_norm_backward(dy, x, v, g):\n    raise Bad('x\\x1b[2J' + " + repr(FORGED) + ")\n"
    )
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "weight_norm_backward":
            cell["source"] = forged
    names = ["=HYPERLINK(1).ipynb", "\x1b[2J\x1b[32mok\n  total 8.ipynb"]
    for name in names:
        notebook.write_notebook(nb, folder / name)
    out = folder.parent / f"{folder.name}-out"
    out.mkdir()
    return folder, out


def test_table_csv_and_json_carry_no_forged_lines(hostile_batch, capsys):
    folder, out = hostile_batch
    assert (
        cli.main(
            [
                str(folder),
                "--timeout",
                "30",
                "--seed",
                "1",
                "--csv",
                str(out / "g.csv"),
                "--json",
                str(out / "g.json"),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "\x1b" not in table
    lines = table.splitlines()
    assert sum(line.lstrip().startswith("total") for line in lines) == 2  # one per row
    assert not any(line.lstrip().startswith("ok   weight_norm_backward") for line in lines)
    rows = list(csv.reader(io.StringIO((out / "g.csv").read_text())))
    assert len(rows) == 3
    for row in rows[1:]:
        assert not row[0].startswith(("=", "+", "-", "@")) and "\n" not in row[0]
        assert "\x1b" not in "".join(row)
        assert row[rows[0].index("weight_norm_backward")] == "0"
    data = json.loads((out / "g.json").read_text())
    for sub in data:
        assert sub["score"] == CH3_POINTS - registry.get("weight_norm_backward").points
        assert "\n" not in sub["submission"] and "\x1b" not in json.dumps(sub, ensure_ascii=False)
        forged = next(t for t in sub["tests"] if t["name"] == "weight_norm_backward")
        assert "\n" not in forged["output"] and "raised Bad" in forged["output"]
