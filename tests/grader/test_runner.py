"""Grading whole notebooks in a sandboxed process: full marks, zeros, and bad submissions.

Every bad submission below breaks one exercise of chapter 3 in one way; the other two
exercises must still get full marks, and the grader must never crash.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from minidl_grader import cli, notebook
from minidl_grader.judge import projects, registry
from minidl_grader.judge.judging import visibility_of
from minidl_grader.runner import grade_notebook

from tests.grader.grading_answers import GOOD_WN, WN_BODY, WN_DEF, chapter3_with_cell, wn_private_checks

pytestmark = pytest.mark.sandbox  # grades in confined processes: make test, not make test-unit

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
CHAPTER3 = SOLUTIONS / "03_backpropagation.ipynb"
# chapter 3 in points: all of it, and all but weight_norm_backward (the cell the attacks replace)
CH3_POINTS = sum(e.points for e in registry.for_chapter("03_backpropagation"))
OTHERS = CH3_POINTS - registry.get("weight_norm_backward").points
# what the folders hold: the chapters' notebooks and the projects' (solutions/projects/...)
GRADED = registry.CHAPTERS + projects.built_in()


@pytest.fixture(scope="module")
def graded_folders(tmp_path_factory):
    """Every solution and every fresh exercise notebook, graded once through the CLI."""
    out = tmp_path_factory.mktemp("graded")
    # its own process: nothing another test left in this worker (a course loaded into the
    # registry, a cached runtime) reaches the grading of the whole course
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "minidl_grader",
            "grade",
            str(SOLUTIONS),
            str(EXERCISES),
            "--jobs",
            "2",
            "--seed",
            "7",
            "--quiet",
            "--json",
            str(out / "results.json"),
            "--csv",
            str(out / "grades.csv"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    print(run.stdout)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads((out / "results.json").read_text()), (out / "grades.csv").read_text()


def test_solutions_score_full_marks(graded_folders):
    results, _ = graded_folders
    solutions = [r for r in results if r["submission"].startswith(str(SOLUTIONS))]
    assert len(solutions) == len(GRADED)
    for sub in solutions:
        failed = [f"{t['name']}: {t['output']}" for t in sub["tests"] if t["status"] != "passed"]
        assert not failed, f"{sub['submission']}:\n" + "\n".join(failed)
        stem = Path(sub["submission"]).stem
        assert sub["score"] == sum(
            e.points for e in registry.for_chapter(stem) + projects.exercises_for(stem)
        )


def test_fresh_exercises_score_zero_with_a_not_implemented_message(graded_folders):
    results, _ = graded_folders
    exercises = [r for r in results if r["submission"].startswith(str(EXERCISES))]
    assert len(exercises) == len(GRADED)
    for sub in exercises:
        assert sub["score"] == 0
        for test in sub["tests"]:  # code: not implemented; questions: not answered
            # an exercise scored case by case has an item per case, "name: case label"
            name = test["name"].split(":")[0]
            question = not name.startswith(projects.PREFIX) and registry.get(name).is_question
            assert ("not answered yet" if question else "not implemented yet") in test["output"], test


def test_gradescope_json_and_csv_have_every_item(graded_folders):
    results, csv_text = graded_folders
    test = results[0]["tests"][0]
    assert set(test) == {"name", "score", "max_score", "status", "output"}
    assert {"score", "tests", "output", "extra_data"} <= set(results[0])
    lines = csv_text.splitlines()
    assert len(lines) == 1 + 2 * len(GRADED)
    header = lines[0].split(",")
    assert header[:4] == ["submission", "chapter", "score", "max_score"]
    assert header[-6:] == ["error", "isolated", "flags", "similarity", "similarity_group", "group_size"]
    # a project: its points and its metric (project_NAME:METRIC)
    assert (
        len(header)
        == 4 + sum(_columns(e) for e in registry.all_exercises()) + 2 * len(projects.built_in()) + 6
    )


def _columns(exercise) -> int:
    """The CSV columns of an exercise: its total, and one per case when it scores case by case."""
    cases = exercise.make_cases(registry.rng_for(exercise.name, 0))
    by_case = (
        exercise.partial
        or any(c.points is not None for c in cases)
        or len({visibility_of(exercise, c) for c in cases}) > 1
    )
    return 1 + (len(cases) if by_case else 0)


# ------------------------------------------------------------------ bad submissions
def _grade(path, **kwargs):
    sub = grade_notebook(path, timeout=kwargs.pop("timeout", 3.0), seed=3, **kwargs)
    return {r.name: r for r in sub.results}, sub


def _only_weight_norm_backward_fails(results, fragment):
    assert results["weight_norm_backward"].score == 0
    assert fragment in results["weight_norm_backward"].message, results["weight_norm_backward"].message
    for name in ("softmax_cross_entropy_backward", "directional_gradient_check"):
        assert results[name].passed, results[name].message


BAD = {
    "syntax error": (WN_DEF + "    return dy @ v.T,, x\n", "SyntaxError"),
    "exception": (WN_DEF + "    raise ValueError('oops')\n", "raised ValueError: oops"),
    "infinite loop in the function": (
        WN_DEF + "    while True:\n        pass\n",
        "timed out after 3 s",
    ),
    "infinite loop at the top of the cell": (
        "while True:\n    pass\n" + GOOD_WN,
        "did not finish within 3 s",
    ),
    "huge allocation": (
        "import numpy as np\n" + WN_DEF + "    big = np.ones((40000, 40000))\n    return big\n",
        "MemoryError",
    ),
    "missing function": (None, "`weight_norm_backward` is not defined"),
    "wrong shapes": (  # dv transposed
        GOOD_WN.replace("g * (x.T @ dy - dg * u) / n", "(g * (x.T @ dy - dg * u) / n).T"),
        "transposed",
    ),
    "sys.exit in the function": (
        "import sys\n" + WN_DEF + "    sys.exit(0)\n",
        "SystemExit",
    ),
    "sys.exit at the top of the cell": (
        "import sys\nsys.exit(1)\n" + GOOD_WN,
        "its cell failed: raised SystemExit",
    ),
    "os._exit in the function": (
        "import os\n" + WN_DEF + "    os._exit(3)\n",
        "exited with code 3",
    ),
    "os._exit at the top of the cell": ("import os\nos._exit(4)\n" + GOOD_WN, "ended its process"),
    "opening a socket": (
        "import socket\n" + WN_DEF + "    socket.socket().connect(('127.0.0.1', 9))\n",
        "PermissionError",
    ),
    "starting a program": (
        "import subprocess\n" + WN_DEF + "    subprocess.run(['true'])\n",
        "does not allow starting programs",
    ),
    # every descriptor a child may hold: the pipes keep the parent's numbers (pass_fds), which
    # are above 30 when the test process has many files open (the whole suite in one process)
    "writing junk into the grader's pipe": (
        "import os\n" + WN_DEF + "    for fd in range(3, 4096):\n        try:\n"
        "            os.write(fd, b'\\xff' * 64)\n        except OSError:\n            pass\n" + WN_BODY,
        "the grading process failed",
    ),
    "returning an object that is not an array": (
        WN_DEF + "    return object(), object(), object(), object()\n",
        "got an object of type object",
    ),
}


@pytest.fixture(scope="module")
def graded_bad(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    paths = {
        name: chapter3_with_cell(folder / f"bad{i}.ipynb", "weight_norm_backward", source, keep=False)
        for i, (name, (source, _)) in enumerate(BAD.items())
    }
    with ThreadPoolExecutor(2) as pool:
        graded = dict(zip(paths, pool.map(lambda p: _grade(p)[0], paths.values())))
    return graded


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_exercise_costs_only_its_own_points(graded_bad, case):
    _only_weight_norm_backward_fails(graded_bad[case], BAD[case][1])


def test_writing_over_the_results_file_changes_nothing(tmp_path):
    results = tmp_path / "results.json"
    cheat = (
        WN_DEF + f"    try:\n        open({str(results)!r}, 'w').write('{{\"score\": 1000}}')\n"
        "    except OSError:\n        pass\n" + WN_BODY
    )
    vandal = WN_DEF + f"    open({str(results)!r}, 'w').write('hacked')\n"
    good = chapter3_with_cell(tmp_path / "cheat.ipynb", "weight_norm_backward", cheat, keep=False)
    bad = chapter3_with_cell(tmp_path / "vandal.ipynb", "weight_norm_backward", vandal, keep=False)
    assert cli.main([str(good), "--json", str(results), "--seed", "1", "--quiet"]) == 0
    data = json.loads(results.read_text())
    assert data["score"] == CH3_POINTS  # the write was refused; the answer is right
    assert cli.main([str(bad), "--json", str(results), "--seed", "1", "--quiet"]) == 0
    data = json.loads(results.read_text())
    assert data["score"] == OTHERS
    answer = next(t for t in data["tests"] if t["name"] == "weight_norm_backward")
    # refused by the audit hook, or (under bubblewrap) the folder does not exist in the sandbox
    assert "does not allow writing" in answer["output"] or "FileNotFoundError" in answer["output"]


def test_the_submission_cannot_change_the_verdict(tmp_path):
    """Patching the grader's modules inside the submission's process has no effect:
    the verdict is made from outputs, in the grader's own process."""
    patch = (
        "import minidl_grader.judge.judging as c, minidl_grader.judge.feedback as f\n"
        "c.judge_exercise = lambda *a, **k: None\nf.compare_outputs = lambda *a, **k: None\n"
    )
    path = chapter3_with_cell(
        tmp_path / "patch.ipynb", "weight_norm_backward", patch + WN_DEF + "    return 0\n", keep=False
    )
    results, _ = _grade(path)
    assert results["weight_norm_backward"].score == 0


def test_an_unreadable_notebook_scores_zero_without_crashing(tmp_path):
    path = tmp_path / "03_backpropagation.ipynb"
    path.write_text("{ this is not json")
    results, sub = _grade(path)
    assert sub.error and "not a readable notebook" in sub.error
    assert set(results) == {e.name for e in registry.for_chapter("03_backpropagation")}
    assert all(r.score == 0 for r in results.values())


def test_a_notebook_of_no_known_chapter_is_reported(tmp_path):
    path = tmp_path / "mystery.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    _, sub = _grade(path)
    assert sub.results == [] and "which chapter" in sub.error


def test_the_chapter_comes_from_metadata_whatever_the_file_name(tmp_path):
    path = tmp_path / "alice_smith.ipynb"
    path.write_bytes(CHAPTER3.read_bytes())
    results, sub = _grade(path)
    assert sub.chapter == "03_backpropagation" and sub.score == sub.max_score == CH3_POINTS


def test_private_checks_add_items(tmp_path):
    checks = wn_private_checks(
        tmp_path / "checks",
        "def cases(rng):\n    return [Case((rng.standard_normal((1, 9)), rng.standard_normal((1, 2)),"
        " rng.standard_normal((2, 9)), rng.uniform(0.5, 2.0, 9)), label='a batch of one')]\n"
        "CHECKS = [private_check('weight_norm_backward_one_sample', '03_backpropagation', 5,"
        " 'weight_norm_backward', cases, reference, ('dx', 'dv', 'dg', 'db'))]\n",
    )
    out = tmp_path / "r.json"
    assert cli.main([str(CHAPTER3), "--checks", str(checks), "--json", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text())
    hidden = next(t for t in data["tests"] if t["name"] == "weight_norm_backward_one_sample")
    assert hidden["score"] == hidden["max_score"] == 5 and data["score"] == CH3_POINTS + 5


def test_bad_private_checks_are_a_usage_error(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("CHECKS = [1]\n")
    assert cli.main([str(CHAPTER3), "--checks", str(tmp_path)]) == 2
    assert "CHECKS" in capsys.readouterr().err


def test_python_dash_m_entry_points(tmp_path):
    """``python -m minidl_grader`` and the console command ``minidl-grade`` (where the
    grader is installed: ``pip install ./grader``, as make test does) grade."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "grader")]))
    script = Path(sys.executable).with_name("minidl-grade")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "minidl_grader"]
    run = subprocess.run(
        [sys.executable, "-m", "minidl_grader", "release", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    out = tmp_path / "grades.csv"
    run = subprocess.run(
        [*command, "grade", str(CHAPTER3), "--csv", str(out), "--seed", "5"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert (
        "weight_norm_backward" in run.stdout
        and "total" in run.stdout
        and f"{CH3_POINTS}/{CH3_POINTS}" in run.stdout
    )
    assert (
        out.read_text().splitlines()[1].startswith(f"{CHAPTER3},03_backpropagation,{CH3_POINTS},{CH3_POINTS}")
    )


def test_an_exercise_cell_that_lost_its_metadata_is_found_by_its_definition(tmp_path):
    nb = notebook.read_notebook(CHAPTER3)
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "directional_gradient_check":
            cell["metadata"] = {}
    path = tmp_path / "copied_cell.ipynb"
    path.write_text(json.dumps(nb))
    _, sub = _grade(path)
    assert sub.score == sub.max_score == CH3_POINTS
