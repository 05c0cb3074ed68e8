"""What the grader's own tests submit: chapter 3's solutions with one exercise cell replaced,
and a right answer to ``weight_norm_backward`` (2 points), the cell the attack, limit and
runner tests replace with a hostile or a broken one; a batch run of the grader and a
Gradescope run of a submission.
"""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

WN_DEF = "def weight_norm_backward(dy, x, v, g):\n"
# a right answer's body: n the column norms of v, u = v / n, W = g u
WN_BODY = (
    "    n = (v * v).sum(axis=0) ** 0.5\n"
    "    u = v / n\n"
    "    dg = (x.T @ dy * u).sum(axis=0)\n"
    "    return dy @ (g * u).T, g * (x.T @ dy - dg * u) / n, dg, dy.sum(axis=0)\n"
)
GOOD_WN = WN_DEF + WN_BODY


CHAPTER3 = Path(__file__).resolve().parents[2] / "solutions" / "03_backpropagation.ipynb"


def solutions_with_answers(path: Path, answers: dict[str, str], solutions: Path = CHAPTER3) -> Path:
    """Write to ``path`` the ``solutions`` notebook (chapter 3's by default) with the cell of
    each exercise in ``answers`` given its source."""
    nb = json.loads(solutions.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("minidl", {})
        if isinstance(meta, dict) and meta.get("exercise") in answers:
            cell["source"] = answers[meta["exercise"]]
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def wn_private_checks(folder: Path, body: str) -> Path:
    """``folder``, made, holding one private-checks file: ``body`` (its ``cases`` and
    ``CHECKS``) after the imports of ``Case``, ``private_check`` and the grader's own
    weight_norm_backward as ``reference``."""
    folder.mkdir()
    (folder / "checks_wn.py").write_text(
        "from minidl_grader.judge.private_checks import Case, private_check\n"
        "from minidl_grader.specs.ch03 import weight_norm_backward as reference\n" + body
    )
    return folder


def grade_batch(folder: Path, *options: str) -> dict[str, dict]:
    """Grade every notebook in ``folder`` two at a time (``minidl-grade FOLDER --jobs 2
    --quiet`` and ``options``); each submission's JSON row, by file name."""
    from minidl_grader import cli

    out = folder.with_name(folder.name + "_results.json")
    assert cli.main([str(folder), "--json", str(out), "--jobs", "2", "--quiet", *options]) == 0
    return {Path(row["submission"]).name: row for row in json.loads(out.read_text())}


def run_autograder(root: Path) -> dict:
    """Run the unpacked Gradescope autograder at ``root`` on ``root/submission`` as Gradescope
    does (``AUTOGRADER_ROOT``, no ``PYTHONPATH``); the ``results.json`` it writes."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        ["bash", str(root / "run_autograder")],
        capture_output=True,
        text=True,
        env=dict(env, AUTOGRADER_ROOT=str(root), PYTHON=sys.executable),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


def chapter3_with_cell(
    path: Path,
    exercise: str | None = None,
    source: str | None = None,
    extra_cell: str | None = None,
    keep: bool = True,
) -> Path:
    """Write to ``path`` chapter 3's solutions with the cell of ``exercise`` given ``source``
    (removed when ``source`` is None and ``keep`` is False), and ``extra_cell`` (a setup code
    cell) inserted third when given. ``exercise=None`` writes the solutions unchanged."""
    nb = json.loads(CHAPTER3.read_text(encoding="utf-8"))
    cells = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("minidl", {})
        if exercise is not None and isinstance(meta, dict) and meta.get("exercise") == exercise:
            if source is None and not keep:
                continue
            cell = copy.deepcopy(cell)
            if source is not None:
                cell["source"] = source
        cells.append(cell)
    if extra_cell is not None:
        cells.insert(
            2,
            {
                "cell_type": "code",
                "metadata": {"minidl": {"setup": True}},
                "source": extra_cell,
                "outputs": [],
                "execution_count": None,
            },
        )
    nb["cells"] = cells
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path
