"""The Gradescope autograder zip, unpacked where ``AUTOGRADER_ROOT`` says, grades a
correct, a wrong and a hostile submission (one run each, as Gradescope does)."""

import json
import os
import shutil
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from minidl_grader import cli, notebook
from minidl_grader.confinement import isolation
from minidl_grader.judge import registry

from tests.grader.grading_answers import run_autograder

pytestmark = pytest.mark.sandbox  # grades in confined processes: make test, not make test-unit

ROOT = Path(__file__).resolve().parents[3]
CHAPTER3 = ROOT / "solutions" / "03_backpropagation.ipynb"
CH3_POINTS = sum(e.points for e in registry.for_chapter("03_backpropagation"))
OTHERS = CH3_POINTS - registry.get("weight_norm_backward").points  # all but the replaced cell


def _chapter3_with(source: str) -> str:
    """Chapter 3's solutions with ``source`` in weight_norm_backward's cell."""
    nb = notebook.read_notebook(CHAPTER3)
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "weight_norm_backward":
            cell["source"] = source
    return json.dumps(nb)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The package for chapter 3, unpacked as Gradescope lays it out."""
    work = tmp_path_factory.mktemp("gradescope")
    zip_path = work / "autograder.zip"
    # offline: the index is asked in test_package_python.py (network)
    assert (
        cli.main(["package", "--chapter", "03", "-o", str(zip_path), "--timeout", "10", "--no-index-check"])
        == 0
    )
    root = work / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
        names = archive.namelist()
    expected = {"setup.sh", "run_autograder", "minidl_grader/specs/ch03.py", "minidl/nn/layers/conv.py"}
    assert expected <= set(names)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    return root


def _run(root: Path, notebook_text: str, others: dict | None = None) -> dict:
    """Grade ``homework.ipynb`` (and the files ``others``, name -> text, beside it) as Gradescope would."""
    submission = root / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    submission.mkdir()
    (submission / "homework.ipynb").write_text(notebook_text)
    for name, text in (others or {}).items():
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_text(text)
    return run_autograder(root)


def test_the_package_has_its_scripts_and_pins_the_chapter(autograder):
    script = (autograder / "run_autograder").read_text()
    assert "--chapter 03_backpropagation" in script and "results/results.json" in script
    assert "bubblewrap" in (autograder / "source" / "setup.sh").read_text()
    with zipfile.ZipFile(autograder.parent / "autograder.zip") as archive:
        for name in ("setup.sh", "run_autograder"):
            assert (archive.getinfo(name).external_attr >> 16) & 0o111, name


def test_a_correct_submission_gets_full_marks(autograder):
    data = _run(autograder, CHAPTER3.read_text())
    assert data["score"] == CH3_POINTS and all(t["status"] == "passed" for t in data["tests"])


def test_a_notebook_uploaded_inside_a_folder_is_found(autograder):
    """Only ``hw3/work.ipynb`` holds the work (``homework.ipynb`` beside it is empty)."""
    empty = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    data = _run(autograder, empty, {"hw3/work.ipynb": CHAPTER3.read_text()})
    assert data["score"] == CH3_POINTS, data["output"]
    assert "graded work.ipynb" in data["output"]


def test_a_wrong_submission_gets_its_message(autograder):
    data = _run(
        autograder,
        _chapter3_with(  # dv transposed
            "def weight_norm_backward(dy, x, v, g):\n"
            "    n = (v * v).sum(axis=0) ** 0.5\n"
            "    dg = (x.T @ dy * v / n).sum(axis=0)\n"
            "    return dy @ (g * v / n).T, (g * (x.T @ dy - dg * v / n) / n).T, dg, dy.sum(axis=0)\n"
        ),
    )
    wrong = next(t for t in data["tests"] if t["name"] == "weight_norm_backward")
    assert data["score"] == OTHERS and wrong["score"] == 0 and "transposed" in wrong["output"]


def test_a_hostile_submission_cannot_reach_the_references(autograder):
    specs = autograder / "source" / "minidl_grader" / "specs" / "ch03.py"
    hostile = (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('x', {str(specs)!r})\n"
        "try:\n    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "    weight_norm_backward = m.weight_norm_backward\nexcept Exception:\n"
        "    from minidl_grader.specs.ch03 import weight_norm_backward\n"
    )
    if isolation.bwrap_missing() and isolation.unprivileged_user() is None:
        pytest.skip(
            "without bubblewrap and running as the files' owner, the path is readable: "
            "only the import is refused (tested in test_grading_attacks)"
        )
    data = _run(autograder, _chapter3_with(hostile))
    assert data["score"] == OTHERS
    assert any("minidl_grader" in f or "specs" in f for f in data["extra_data"]["flags"])


def test_of_several_notebooks_the_chapters_is_graded_and_the_output_says_so(autograder):
    """Students upload scratch work beside the homework: "a_scratch.ipynb" (chapter 1's
    exercises) sorts first by name, but the chapter-3 notebook is the one graded."""
    scratch = (ROOT / "exercises" / "01_linear_models.ipynb").read_text()
    data = _run(autograder, CHAPTER3.read_text(), {"a_scratch.ipynb": scratch, "b_notes.ipynb": "{not json"})
    assert data["score"] == CH3_POINTS
    assert (
        "3 notebooks were submitted; graded homework.ipynb (the notebook of chapter "
        "03_backpropagation); not graded: a_scratch.ipynb, b_notes.ipynb"
    ) in data["output"]


def test_pick_notebook_falls_back_to_the_first_by_name(tmp_path):
    ch1 = (ROOT / "exercises" / "01_linear_models.ipynb").read_text()
    for name in ("b.ipynb", "a.ipynb", "c.ipynb"):
        (tmp_path / name).write_text(ch1)
    paths = sorted(tmp_path.glob("*.ipynb"), reverse=True)
    chosen, why = cli.pick_notebook(paths, "03_backpropagation")
    assert chosen == [tmp_path / "a.ipynb"] and "none is of the assignment's chapter" in why
    chosen, why = cli.pick_notebook(paths, "01_linear_models")
    assert chosen == [tmp_path / "a.ipynb"] and "the first by name of the 3 notebooks of chapter" in why
    (tmp_path / "z.ipynb").write_text(CHAPTER3.read_text())
    chosen, why = cli.pick_notebook(sorted(tmp_path.glob("*.ipynb")), "03_backpropagation")
    assert chosen == [tmp_path / "z.ipynb"] and "not graded: a.ipynb, b.ipynb, c.ipynb" in why


def test_the_package_passes_forbid_on(tmp_path):
    from minidl_grader.reports.gradescope import build_package

    path = build_package(
        tmp_path / "a.zip", "03", forbid=("minidl.nn.gradcheck", "numpy.linalg.solve"), check_index=False
    )
    with zipfile.ZipFile(path) as archive:
        script = archive.read("run_autograder").decode()
    assert "--forbid minidl.nn.gradcheck --forbid numpy.linalg.solve" in script


def test_setup_installs_the_dependencies_of_minidl_and_of_the_grader(autograder):
    """A requirements file per Python (the default 3.10, 3.11, 3.12), which setup.sh picks
    by the image's Python; minidl itself is not fetched from a registry (the zip holds it);
    the grader's tomli only for 3.10, chapter 14's aclsum (3.11+) not for 3.10."""
    source = autograder / "source"
    setup = (source / "setup.sh").read_text()
    assert "requirements-$VERSION.txt" in setup and "--allow-import" not in setup
    files = {p.name: p.read_text().splitlines() for p in source.glob("requirements-*.txt")}
    assert set(files) == {"requirements-3.10.txt", "requirements-3.11.txt", "requirements-3.12.txt"}
    for name, lines in files.items():
        words = [line for line in lines if not line.startswith("#")]
        assert not any(w.split("=")[0] == "minidl" for w in words)
        assert any(w.startswith("tomli") for w in words) == (name == "requirements-3.10.txt"), words
        assert any(w.startswith("aclsum") for w in words) == (name != "requirements-3.10.txt"), words
        # pinned to what grades here (issue 56), unchecked (--no-index-check)
        for package in ("numpy", "numba", "ipython"):
            assert f"{package}=={metadata.version(package)}" in words, (package, words)


def test_setup_sh_installs_the_file_of_the_images_python(autograder, tmp_path):
    """setup.sh run with a stand-in Python and pip (no apt): it installs the requirements
    file of that Python's version, and refuses a Python the package was not built for."""
    log = tmp_path / "log"
    for version, expected in (("3.10", 0), ("3.9", 1)):
        fake = tmp_path / f"python{version}"
        fake.write_text(
            f'#!/usr/bin/env bash\nif [ "$1" = -c ]; then echo {version}; else echo "$@" >> {log}; fi\n'
        )
        fake.chmod(0o755)
        run = subprocess.run(
            ["bash", str(autograder / "source" / "setup.sh")],
            env=dict(os.environ, SKIP_APT="1", PYTHON=str(fake)),
            capture_output=True,
            text=True,
        )
        assert run.returncode == expected, run.stderr
    assert f"-r {autograder / 'source' / 'requirements-3.10.txt'}" in log.read_text()
    assert "rebuild it with: minidl-grade package ... --python 3.9" in run.stderr


def test_the_package_requires_isolation_and_hides_questions_by_default(autograder, tmp_path):
    """run_autograder passes --require-isolation (unless --allow-unisolated) and shows the
    questions' results after the due date (unless --questions visible); results.json says,
    for the instructor, whether the upload ran isolated."""
    from minidl_grader.reports.gradescope import build_package

    script = (autograder / "run_autograder").read_text()
    assert "--require-isolation" in script and "--question-visibility after_due_date" in script
    data = _run(autograder, CHAPTER3.read_text())
    questions = [t for t in data["tests"] if registry.get(t["name"]).is_question]
    code = [t for t in data["tests"] if not registry.get(t["name"]).is_question]
    assert questions and all(t["visibility"] == "after_due_date" for t in questions), questions
    assert code and all("visibility" not in t for t in code)
    assert (
        data["extra_data"]["isolated"] is True and data["extra_data"]["isolation"] == "isolated by bubblewrap"
    )
    path = build_package(
        tmp_path / "b.zip", "03", check_index=False, require_isolation=False, questions="visible"
    )
    with zipfile.ZipFile(path) as archive:
        script = archive.read("run_autograder").decode()
    assert "--require-isolation" not in script and "--question-visibility visible" in script


def test_an_upload_that_cannot_be_isolated_gets_a_results_file_that_says_why(tmp_path, monkeypatch):
    """--require-isolation where bubblewrap cannot run: exit 3, and Gradescope still gets its
    results.json (score 0, the reason for the student; the cause and the way out in
    extra_data, for the instructor)."""
    from minidl_grader.confinement import isolation as iso

    monkeypatch.setattr(iso, "isolation_status", lambda: (False, "bubblewrap cannot create a namespace"))
    (tmp_path / "hw.ipynb").write_text(CHAPTER3.read_text())
    out = tmp_path / "results.json"
    code = cli.main(
        [
            str(tmp_path / "hw.ipynb"),
            "--require-isolation",
            "--json",
            str(out),
            "--no-published",
            "--chapter",
            "03",
        ]
    )
    data = json.loads(out.read_text())
    assert code == 3 and data["score"] == 0 and "cannot isolate" in data["output"]
    assert data["extra_data"]["isolated"] is None
    assert any("--allow-unisolated" in f and "namespace" in f for f in data["extra_data"]["flags"])


def test_the_package_passes_seed_memory_timeout_and_budget_on(tmp_path):
    """Before, each upload drew a new seed, and the limits were the defaults."""
    from minidl_grader.reports import gradescope

    assert (
        gradescope.main(
            [
                "--chapter",
                "03",
                "-o",
                str(tmp_path / "a.zip"),
                "--seed",
                "1234",
                "--memory",
                "2",
                "--budget",
                "300",
                "--timeout",
                "45",
                "--no-index-check",
            ]
        )
        == 0
    )
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        script = archive.read("run_autograder").decode()
    assert "--seed 1234 --memory 2 --budget 300 " in script
    assert "--timeout 45 " in script
