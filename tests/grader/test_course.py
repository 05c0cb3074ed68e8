"""An instructor's private exercises (issue 40): ``--course DIR``.

``grader/examples/private-course`` holds one complete private exercise (spec, solution
notebook, generated exercise notebook). Its solution scores full marks and its exercise
notebook 0; its references stay in the grader's process (a submission that reads the spec
file finds nothing under bubblewrap); its spec's forbidden names hold; a course that would
shadow a built-in chapter is refused.

Each test runs the grader as a command, in its own process: a loaded course adds
exercises to the registry, which the other tests' counts must not see.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from minidl_grader import notebook
from minidl_grader.confinement import isolation

from tests.grader.grading_answers import run_autograder

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "grader" / "examples" / "private-course"
SOLUTION = COURSE / "solutions" / "p1_softsign.ipynb"
EXERCISE = COURSE / "exercises" / "p1_softsign.ipynb"


def _grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "minidl_grader", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )


def _results(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {Path(r["submission"]).name: r for r in data} if isinstance(data, list) else data


def _with_answer(tmp_path: Path, name: str, answer: str) -> Path:
    nb = copy.deepcopy(notebook.read_notebook(SOLUTION))
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "softsign_backward":
            cell["source"] = answer
    path = tmp_path / f"{name}.ipynb"
    notebook.write_notebook(nb, path)
    return path


def test_the_exercise_notebook_is_generated_from_the_solution():
    done = _grade("release", "--course", str(COURSE), "--check")
    assert done.returncode == 0, done.stderr
    assert "return dy / (1.0 + np.abs(x)) ** 2" not in EXERCISE.read_text()


@pytest.mark.sandbox
def test_the_solution_scores_full_marks_the_exercise_notebook_zero(tmp_path):
    out = tmp_path / "results.json"
    done = _grade(
        "grade", str(SOLUTION), str(EXERCISE), "--course", str(COURSE), "--json", str(out), "--seed", "8"
    )
    assert done.returncode == 0, done.stderr
    solution = next(r for r in json.loads(out.read_text()) if "solutions" in r["submission"])
    exercise = next(r for r in json.loads(out.read_text()) if "exercises" in r["submission"])
    assert solution["score"] == 2 and [t["name"] for t in solution["tests"]] == ["softsign_backward"]
    assert exercise["score"] == 0 and "not implemented yet" in exercise["tests"][0]["output"]


@pytest.mark.sandbox
def test_mistakes_shortcuts_and_the_reference_out_of_reach(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    head = "def softsign_backward(dy, x):\n"
    _with_answer(folder, "no_square", head + "    return dy / (1 + np.abs(x))\n")
    _with_answer(
        folder,
        "numerical",
        "from minidl.nn.gradcheck import numerical_gradient\n"
        + head
        + "    return numerical_gradient(lambda: float((dy * x / (1 + np.abs(x))).sum()), x.copy())\n",
    )
    _with_answer(
        folder,
        "reads_the_spec",
        head + f"    space = {{}}\n    exec(open({str(COURSE / 'specs' / 'softsign.py')!r}).read(), space)\n"
        "    return space['softsign_backward'](dy, x)\n",
    )
    out = tmp_path / "results.json"
    done = _grade(
        "grade", str(folder), "--course", str(COURSE), "--json", str(out), "--seed", "8", "--timeout", "30"
    )
    assert done.returncode == 0, done.stderr
    graded = {name: r["tests"][0] for name, r in _results(out).items()}
    assert "the square is missing" in graded["no_square.ipynb"]["output"]
    assert graded["numerical.ipynb"]["score"] == 0
    assert "its spec forbids minidl.nn.gradcheck" in graded["numerical.ipynb"]["output"]
    if not isolation.bwrap_missing():  # bubblewrap mounts nothing of the course
        assert graded["reads_the_spec.ipynb"]["score"] == 0
        assert "No such file" in graded["reads_the_spec.ipynb"]["output"]


def test_the_runtime_given_to_a_submission_holds_nothing_of_the_course():
    runtime = Path(isolation.build_runtime())
    for path in runtime.rglob("*.py"):
        assert "softsign" not in path.read_text(errors="replace"), path


@pytest.mark.sandbox
@pytest.mark.parametrize("problem", ["built-in chapter", "no specs", "taken name"])
def test_a_malformed_course_is_refused_with_a_reason(tmp_path, problem):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    if problem != "no specs":
        (course / "specs").mkdir()
        spec = (COURSE / "specs" / "softsign.py").read_text()
        if problem == "taken name":
            spec = spec.replace('"softsign_backward",\n    CHAPTER', '"maxpool_backward",\n    CHAPTER')
        (course / "specs" / "softsign.py").write_text(spec)
    stem = "03_backpropagation" if problem == "built-in chapter" else "p1_softsign"
    (course / "solutions" / f"{stem}.ipynb").write_bytes(SOLUTION.read_bytes())
    done = _grade("grade", str(SOLUTION), "--course", str(course))
    assert done.returncode == 2
    expected = {
        "built-in chapter": "not one of the built-in chapters",
        "no specs": "needs specs/",
        "taken name": "'maxpool_backward' is defined twice",
    }[problem]
    assert expected in done.stderr, done.stderr


@pytest.mark.sandbox
def test_a_gradescope_package_grades_the_private_chapter(tmp_path):
    """``package --course``: the course goes into the zip (root-only), and its run grades it."""
    zip_path = tmp_path / "autograder.zip"
    done = _grade(
        "package",
        "--chapter",
        "p1_softsign",
        "--course",
        str(COURSE),
        "-o",
        str(zip_path),
        "--no-index-check",
    )
    assert done.returncode == 0, done.stderr
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
        assert {"course/specs/softsign.py", "course/solutions/p1_softsign.ipynb"} <= set(archive.namelist())
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    shutil.copy(SOLUTION, root / "submission" / "homework.ipynb")
    results = run_autograder(root)
    assert results["score"] == 2 and results["tests"][0]["name"] == "softsign_backward"


@pytest.mark.slow
def test_a_student_release_carries_the_course_exercise_not_its_key(tmp_path):
    """``release --out DIR --course C``: the course's exercise notebook and its public cases
    go to the students; its specs and solutions do not."""
    out = tmp_path / "release"
    done = _grade("release", "--out", str(out), "--course", str(COURSE))
    assert done.returncode == 0, done.stderr
    assert (out / "exercises" / "p1_softsign.ipynb").read_bytes() == EXERCISE.read_bytes()
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name in ("softsign.py", "p1_softsign.py") or "solutions" in p.parts]
    index = json.loads((out / "minidl" / "exercises" / "data" / "public.json").read_text())
    assert index["exercises"]["softsign_backward"]["cases"]  # check() has public cases for it
    for path in files:
        if path.suffix in (".py", ".json", ".ipynb"):
            assert "np.abs(x)) ** 2" not in path.read_text(errors="replace"), path


def test_mistakes_mutants_and_release_check_accept_the_course(tmp_path):
    """Issue 69, item 4: before, ``mistakes`` and ``mutants`` refused ``--course``, so an
    instructor could not check the cases of their own exercise. Run from a folder outside
    the repository, as an instructor would."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "minidl_grader", *args],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )

    done = run("mistakes", "--course", str(COURSE), "--chapter", "p1_softsign")
    assert done.returncode == 0, done.stderr
    assert "Chapter p1_softsign" in done.stdout and "softsign_backward (2 points)" in done.stdout
    assert "an input changed in place" in done.stdout  # what its probe catches
    done = run("mutants", "--course", str(COURSE), "--chapter", "p1_softsign", "--json", "-")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (exercise,) = report["exercises"]
    assert report["chapter"] == "p1_softsign" and exercise["exercise"] == "softsign_backward"
    assert not exercise["skipped"] and exercise["mutants"] >= 5, exercise
    assert exercise["killed"] == exercise["mutants"] and exercise["flaky"] == 0, exercise
    done = run("release", "--check", "--course", str(COURSE))
    assert done.returncode == 0 and "up to date" in done.stdout, done.stderr
    stale = tmp_path / "course"
    shutil.copytree(COURSE, stale)
    (stale / "exercises" / "p1_softsign.ipynb").write_text("{}")
    done = run("release", "--check", "--course", str(stale))
    assert done.returncode == 1 and "out of date" in done.stdout, (done.stdout, done.stderr)
    done = run("mistakes", "--chapter", "p1_softsign")  # without the course: a clear refusal
    assert done.returncode == 2 and "no chapter 'p1_softsign'" in done.stderr
