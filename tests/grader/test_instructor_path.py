"""The instructor's path (issue 56, item 5): what a grading run reports and writes."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from minidl_grader import cli, release

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


ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "grader" / "examples" / "private-course"


@pytest.fixture
def registry_restored():
    """``release --course`` run in this process registers the course's chapters and
    exercises; put the registry back as it was, for the tests that run after in this worker
    (the README's table, whole-folder grading)."""
    from minidl_grader import course
    from minidl_grader.judge import registry

    registry.all_exercises()  # the built-in specs, loaded before the snapshot
    exercises, chapters, loaded = (
        dict(registry._REGISTRY),
        list(registry.COURSE_CHAPTERS),
        dict(course._loaded),
    )
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(exercises)
    registry.COURSE_CHAPTERS[:] = chapters
    course._loaded.clear()
    course._loaded.update(loaded)


def test_release_course_writes_nothing_when_its_validation_fails(tmp_path, registry_restored):
    """Before, ``release --course`` wrote the exercise notebook and then exited 1."""
    course = tmp_path / "course"
    shutil.copytree(COURSE, course)
    shutil.rmtree(course / "exercises")
    (course / "exercises").mkdir()
    solution = course / "solutions" / "p1_softsign.ipynb"
    nb = json.loads(solution.read_text())
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("minidl", {}).get("points"):
            cell["metadata"]["minidl"]["points"] += 1  # not what its spec says
    solution.write_text(json.dumps(nb))
    assert release.main(["--course", str(course)]) == 1
    assert list((course / "exercises").iterdir()) == []
    out = tmp_path / "out"
    assert release.main(["--out", str(out), "--course", str(course)]) == 1
    assert not out.exists() or list(out.iterdir()) == []


def test_release_chapters_writes_only_those_chapters(tmp_path):
    out = tmp_path / "out"
    assert release.main(["--out", str(out), "--chapters", "03,07"]) == 0
    assert sorted(p.name[:2] for p in (out / "exercises").glob("*.ipynb")) == ["03", "07"]
    assert sorted(p.name[:2] for p in (out / "notebooks").glob("*.ipynb")) == ["03", "07"]
    assert "pip install . jupyterlab" in (out / "README.md").read_text()
    assert release.main(["--out", str(tmp_path / "bad"), "--chapters", "3"]) == 2


def test_a_release_from_an_installed_minidl_has_a_pyproject_that_builds(tmp_path, monkeypatch):
    """An installed minidl (site-packages) has no pyproject.toml beside it: before, the release
    silently had none and ``pip install .`` failed. Now one is made from the installed
    distribution's metadata, with every data file, and the release builds into a wheel that
    holds the library and its public cases."""
    import tomllib
    import zipfile
    from importlib import metadata

    from minidl_grader.confinement import isolation

    site = tmp_path / "site-packages"
    shutil.copytree(isolation.library_dir(), site / "minidl", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(isolation, "library_dir", lambda: site / "minidl")
    out = tmp_path / "out"
    assert release.main(["--out", str(out), "--chapters", "03"]) == 0
    project = tomllib.loads((out / "pyproject.toml").read_text())["project"]
    assert project["name"] == "minidl" and project["version"] == metadata.version("minidl")
    assert any(r.startswith("numpy") for r in project["dependencies"])
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "w"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    (wheel,) = (tmp_path / "w").glob("minidl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "minidl/__init__.py" in names and "minidl/exercises/data/public.npz" in names


def test_the_csv_and_the_table_say_what_they_mean(tmp_path):
    """A case line does not repeat its label; a refused exercise's case columns show 0 as
    other failures do; a row that never ran says nothing of isolation (not "no"); a
    similarity of 0 names no one."""
    from minidl_grader import similarity
    from minidl_grader.judge.judging import CaseResult, Result, SubmissionResult
    from minidl_grader.reports import report

    cases = [
        CaseResult("a batch of one", 1, 1, "a batch of one: passed"),
        CaseResult("a large batch", 2, 0, "a large batch: `dx` has shape (3, 4), expected (4, 3)"),
    ]
    graded = SubmissionResult("a.ipynb", "03", [Result("ex", 3, 1, "1 of 2 cases", cases)], isolated=True)
    refused = SubmissionResult(
        "b.ipynb", "03", [Result("ex", 3, 0, "uses minidl.nn.layers.Dense, which ...")]
    )
    unread = SubmissionResult("c.ipynb", None, error="not a notebook")
    out = tmp_path / "g.csv"
    report.write_csv(out, [graded, refused, unread])
    rows = {row["submission"]: row for row in csv.DictReader(out.open())}
    assert (rows["a.ipynb"]["ex/1"], rows["a.ipynb"]["ex/2"], rows["a.ipynb"]["isolated"]) == (
        "1",
        "0",
        "yes",
    )
    assert (rows["b.ipynb"]["ex/1"], rows["b.ipynb"]["ex/2"]) == ("0", "0")
    assert rows["c.ipynb"]["isolated"] == ""
    table = report.format_table(graded)
    assert "- a large batch: 0/2 `dx` has shape" in table and "a large batch: a large batch" not in table
    assert "not run" in report.format_table(unread)
    assert "not isolated" not in report.gradescope_json(unread)["output"]
    nothing = similarity.Match("ex", "a.ipynb", "b.ipynb", containment=0.0, jaccard=0.0)
    assert similarity.highest([nothing], "a.ipynb") == ""


def test_gradescope_output_does_not_show_the_seed():
    """The seed is the instructor's (``package --seed``): before, every results.json told the
    student "inputs drawn with seed S"; it is in ``extra_data`` now, which students do not see."""
    from minidl_grader.judge.judging import SubmissionResult
    from minidl_grader.reports import report

    data = report.gradescope_json(SubmissionResult("a.ipynb", "03", seed=987654, isolated=True))
    assert "987654" not in data["output"] and data["extra_data"]["seed"] == 987654


def _venv(path: Path) -> Path:
    """A fresh venv's Python, offline: it sees this environment's packages through a ``.pth``
    line after its own site-packages (what it installs itself comes first), without running
    this environment's ``.pth`` files (the editable installs of minidl and its grader)."""
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "zz_this_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _run(*command, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    run = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kwargs
    )
    assert run.returncode == 0, (command, run.stdout[-2000:], run.stderr[-3000:])
    return run


@pytest.mark.slow
def test_a_release_made_by_a_non_editable_install_installs_and_runs_its_readme(tmp_path):
    """Issue 56: minidl and the grader built into wheels and installed (not editable) in a
    fresh venv; ``minidl-grade release`` from there (no source tree beside the library:
    the pyproject.toml comes from the distribution's metadata); then, in another fresh venv,
    the README's ``pip install`` line in the release folder, and the README's commands:
    ``jupyter lab`` and the library with its public cases. Offline: the venvs see this
    environment's packages (numpy, jupyterlab, setuptools) and build without isolation;
    the same run against the registry (venv without them) is in the issue's note."""
    import shlex

    wheels, source = tmp_path / "wheels", tmp_path / "source"  # built from a copy: no build/ here
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for part in ("minidl", "grader/minidl_grader"):
        shutil.copytree(ROOT / part, source / part, ignore=skip)
    for part in ("pyproject.toml", "README.md", "grader/pyproject.toml", "grader/README.md"):
        shutil.copy2(ROOT / part, source / part)
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels,
         source, source / "grader", cwd=tmp_path)  # fmt: skip
    instructor = _venv(tmp_path / "instructor")
    _run(sys.executable, "-m", "pip", "--python", instructor, "install", "-q", "--no-deps",
         *sorted(wheels.glob("*.whl")), cwd=tmp_path)  # fmt: skip
    where = _run(instructor, "-c", "import minidl, minidl_grader; print(minidl.__file__, minidl_grader.__file__)",
                 cwd=tmp_path).stdout  # fmt: skip
    assert where.count(str(tmp_path / "instructor")) == 2, where  # the installed copies, not the repository's
    # the grader's data files are in its wheel: the similarity thresholds per exercise
    limit = _run(instructor, "-c", "from minidl_grader import similarity; print(similarity.threshold('adamw_update'))",
                 cwd=tmp_path).stdout  # fmt: skip
    assert float(limit) > 0.5, limit
    out = tmp_path / "release"
    _run(instructor.parent / "minidl-grade", "release", "--out", out, "--chapters", "03", cwd=ROOT)
    pyproject = (out / "pyproject.toml").read_text()
    assert 'version = "' in pyproject and "[project.scripts]" in pyproject  # made from the metadata
    readme = (out / "README.md").read_text()
    (install,) = [
        line.split("#")[0] for line in readme.splitlines() if line.strip().startswith("pip install")
    ]
    words = shlex.split(install)
    assert words[:3] == ["pip", "install", "."] and "jupyterlab" in words, install
    assert any(line.strip().startswith("jupyter lab") for line in readme.splitlines())
    student = _venv(tmp_path / "student")
    _run(sys.executable, "-m", "pip", "--python", student, *words[1:2], "-q", "--no-build-isolation",
         *words[2:], cwd=out)  # fmt: skip
    check = _run(
        student,
        "-c",
        "import os, minidl, minidl.exercises.data as d; print(minidl.__file__, sorted(os.listdir(d.DATA_DIR)))",
        cwd=tmp_path,
    ).stdout
    assert str(tmp_path / "student") in check and "public.npz" in check, check
    assert (student.parent / "minidl").is_file()  # the library's own command, from its entry point
    assert _run(student, "-m", "jupyterlab", "--version", cwd=tmp_path).stdout.strip()
