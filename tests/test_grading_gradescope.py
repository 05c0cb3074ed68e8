"""The Gradescope autograder zip, unpacked where ``AUTOGRADER_ROOT`` says, grades a
correct, a wrong and a hostile submission (one run each, as Gradescope does)."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from minidl.grading import cli, isolation, notebook, registry

ROOT = Path(__file__).resolve().parents[1]
CHAPTER3 = ROOT / "solutions" / "03_backpropagation.ipynb"
CH3_POINTS = sum(e.points for e in registry.for_chapter("03_backpropagation"))
OTHERS = CH3_POINTS - registry.get("dense_backward").points     # all but the replaced cell


def _chapter3_with_dense(source: str) -> str:
    nb = notebook.read_notebook(CHAPTER3)
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "dense_backward":
            cell["source"] = source
    return json.dumps(nb)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The package for chapter 3, unpacked as Gradescope lays it out."""
    work = tmp_path_factory.mktemp("gradescope")
    zip_path = work / "autograder.zip"
    assert cli.main(["package", "--chapter", "03", "-o", str(zip_path), "--timeout", "10"]) == 0
    root = work / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
        names = archive.namelist()
    assert {"setup.sh", "run_autograder", "minidl/grading/specs/ch03.py"} <= set(names)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    return root


def _run(root: Path, notebook_text: str) -> dict:
    submission = root / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    submission.mkdir()
    (submission / "homework.ipynb").write_text(notebook_text)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(["bash", str(root / "run_autograder")], capture_output=True, text=True,
                         env=dict(env, AUTOGRADER_ROOT=str(root), PYTHON=sys.executable),
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


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


def test_a_wrong_submission_gets_its_message(autograder):
    data = _run(autograder, _chapter3_with_dense(
        "def dense_backward(dy, x, W):\n    return dy @ W.T, dy.T @ x, dy.sum(axis=0)\n"))
    dense = next(t for t in data["tests"] if t["name"] == "dense_backward")
    assert data["score"] == OTHERS and dense["score"] == 0 and "transposed" in dense["output"]


def test_a_hostile_submission_cannot_reach_the_references(autograder):
    specs = autograder / "source" / "minidl" / "grading" / "specs" / "ch03.py"
    hostile = ("import importlib.util\n"
               f"spec = importlib.util.spec_from_file_location('x', {str(specs)!r})\n"
               "try:\n    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
               "    dense_backward = m.dense_backward\nexcept Exception:\n"
               "    from minidl.grading.specs.ch03 import dense_backward\n")
    if not isolation.isolation_status()[0] and isolation.unprivileged_user() is None:
        pytest.skip("without bubblewrap and running as the files' owner, the path is readable: "
                    "only the import is refused (tested in test_grading_attacks)")
    data = _run(autograder, _chapter3_with_dense(hostile))
    assert data["score"] == OTHERS
    assert any("minidl.grading" in f or "specs" in f for f in data["extra_data"]["flags"])
