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
    # chapters 10 and 11 import the repository's benchmarks from the folder above notebooks/
    assert (out / "bench" / "gpu.py").is_file() and not (out / "bench" / "__pycache__").exists()
    # the student's own copies, which the chapters link to: every relative link of a released
    # notebook (chapter, original exercise, copy) to a released chapter leads to a file of the
    # release (before, the chapters' first link pointed at workspace/, which a release did not
    # have); links to the neighbours of a partial release are the only ones left hanging
    assert sorted(p.name for p in (out / "workspace").glob("*.ipynb")) == sorted(
        p.stem + "_exercises.ipynb" for p in (out / "exercises").glob("*.ipynb")
    )
    links = _relative_links(out)
    assert any("../workspace/" in link for _, link in links), links
    broken = [
        (str(page.relative_to(out)), link)
        for page, link in links
        if not (page.parent / link).exists() and Path(link).name[:2] in ("03", "07")
    ]
    assert broken == [], broken
    assert "workspace/" in (out / "README.md").read_text()
    assert release.main(["--out", str(tmp_path / "bad"), "--chapters", "3"]) == 2


def _relative_links(release_dir: Path) -> list[tuple[Path, str]]:
    """(notebook, target) for every markdown link to another notebook of the release, the
    ``#anchor`` dropped: what a student clicks in Lab."""
    import re

    found = []
    for page in sorted(release_dir.glob("*/*.ipynb")):
        for cell in json.loads(page.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"])
                for target in re.findall(r"\]\(([^)\s]+\.ipynb)(?:#[^)]*)?\)", text):
                    if "://" not in target:
                        found.append((page, target))
    return found


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
    for part in ("minidl", "grader/minidl_grader", "solutions", "notebooks", "bench"):
        shutil.copytree(ROOT / part, source / part, ignore=skip)
    for part in (
        "pyproject.toml",
        "README.md",
        "grader/pyproject.toml",
        "grader/README.md",
        "grader/setup.py",
    ):
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
    # the published notebooks travel in the grader's wheel (grader/setup.py): a release for
    # three chapters, run from a folder of its own (issue 69: before, from anywhere but the
    # repository root it wrote an empty release and exited 0)
    out, elsewhere = tmp_path / "release", tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _run(
        instructor.parent / "minidl-grade", "release", "--out", out, "--chapters", "03,07,12", cwd=elsewhere
    )
    assert "site-packages/minidl_grader/published/solutions" in done.stdout, done.stdout
    assert sorted(p.name[:2] for p in (out / "exercises").glob("*.ipynb")) == ["03", "07", "12"]
    assert sorted(p.name[:2] for p in (out / "notebooks").glob("*.ipynb")) == ["03", "07", "12"]
    assert (out / "bench" / "runner.py").is_file()  # carried in the wheel for chapters 10 and 11
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


def test_a_missing_import_costs_only_what_uses_it_and_big_output_is_reported(tmp_path):
    """Issue 69, item 6. A setup cell importing a module the grading machine lacks (the
    student's had it): before, nothing after the import ran, and every code exercise scored
    0; now the cell's other statements run, the exercises that do not use the module are
    graded, and the row names the module and how to regrade with it provided. A 10 MB print
    was not reported; it is in the CSV's flags now."""
    folder = tmp_path / "subs"
    folder.mkdir()
    chapter3_with_cell(
        folder / "import.ipynb",
        "weight_norm_backward",
        GOOD_WN.replace("(v * v).sum(axis=0) ** 0.5", "my_sqrt((v * v).sum(axis=0))"),
        extra_cell="import numpy as np\nimport course_plots_not_here as cp\nfrom numpy import sqrt as my_sqrt\n",
    )
    chapter3_with_cell(folder / "loud.ipynb", extra_cell="print('x' * 10_000_000)\n")
    out = tmp_path / "grades.csv"
    assert cli.main([str(folder), "--csv", str(out), "--seed", "3", "--quiet", "--no-published"]) == 0
    rows = {row["submission"].rsplit("/", 1)[-1]: row for row in csv.DictReader(out.open())}
    missing, loud = rows["import.ipynb"], rows["loud.ipynb"]
    assert float(missing["score"]) == float(missing["max_score"]), missing  # my_sqrt was defined
    assert "No module named 'course_plots_not_here'" in missing["error"], missing
    assert "--allow-import course_plots_not_here" in missing["flags"]
    assert "requirements.txt" in missing["flags"] and "pip install course_plots_not_here" in missing["flags"]
    assert float(loud["score"]) == float(loud["max_score"])  # reported, not scored
    assert "printed 9.5 MiB of output, over the 1 MiB limit" in loud["flags"], loud["flags"]
    assert "MiB of output" not in missing["flags"]


def test_the_terminal_keeps_explanations_for_wrong_questions_only():
    """Issue 69, item 3: a right question is one word in the terminal (its explanation,
    the same for everyone, with ``--explain``); a wrong one keeps why."""
    from minidl_grader.judge import registry
    from minidl_grader.judge.judging import Result, SubmissionResult
    from minidl_grader.reports import report

    question = next(e for e in registry.for_chapter("03_backpropagation") if e.is_question)
    right = Result(question.name, question.points, question.points, "right: because of the chain rule\nmore")
    wrong = Result(question.name, question.points, 0, "(a) is not right: it forgets the batch")
    code = Result("weight_norm_backward", 2, 2, "passed (2 test cases)")
    sub = SubmissionResult("a.ipynb", "03", [right, code])
    table = report.format_table(sub)
    assert "chain rule" not in table and f"{question.name}" in table and " right" in table
    assert "chain rule" in report.format_table(sub, explain=True)
    assert "passed (2 test cases)" in table
    assert "it forgets the batch" in report.format_table(SubmissionResult("b.ipynb", "03", [wrong]))
    # on Gradescope: the question's test carries the visibility asked for, the code's none
    tests = report.gradescope_json(sub, questions="after_due_date")["tests"]
    assert [t.get("visibility") for t in tests] == ["after_due_date", None]
    assert all("visibility" not in t for t in report.gradescope_json(sub)["tests"])


def test_similar_submissions_come_in_groups(tmp_path):
    """Issue 69, item 5: five copies of one answer (and two honest answers) were 10 pairs
    per exercise, and the CSV named only the closest partner; now one group of five, each
    member with its group and size, and the report shows the group once."""
    from minidl_grader import similarity
    from minidl_grader.judge.judging import SubmissionResult
    from minidl_grader.reports import groups, report

    copies = [f"copy{i}.ipynb" for i in range(5)]
    pairs = [
        similarity.Match(
            "ex", a, b, containment=0.95, jaccard=0.9, left_source=f"# {a}\nx = 1", right_source="y"
        )
        for i, a in enumerate(copies)
        for b in copies[i + 1 :]
    ]
    pairs += [
        similarity.Match("ex", "honest1.ipynb", "honest2.ipynb", containment=0.1, jaccard=0.05),
        similarity.Match("other", "pair_a.ipynb", "pair_b.ipynb", containment=0.99, jaccard=0.99),
        similarity.Match("other", "pair_b.ipynb", similarity.SOLUTIONS, containment=0.97, jaccard=0.9),
    ]
    found = groups.groups(pairs, limit=0.5)
    assert [g.members for g in found] == [copies, ["pair_a.ipynb", "pair_b.ipynb", similarity.SOLUTIONS]]
    columns = groups.group_columns(found)
    assert all(columns[c] == (1, 5) for c in copies) and columns["pair_b.ipynb"] == (2, 2)
    assert "honest1.ipynb" not in columns
    subs = [SubmissionResult(who, "03") for who in [*copies, "honest1.ipynb", "pair_a.ipynb"]]
    out = tmp_path / "g.csv"
    report.write_csv(out, subs, columns)
    rows = {row["submission"]: row for row in csv.DictReader(out.open())}
    assert (rows["copy3.ipynb"]["similarity_group"], rows["copy3.ipynb"]["group_size"]) == ("1", "5")
    assert (rows["honest1.ipynb"]["similarity_group"], rows["honest1.ipynb"]["group_size"]) == ("", "")
    assert rows["pair_a.ipynb"]["group_size"] == "2"
    html = tmp_path / "r.html"
    groups.write_group_report(html, pairs, limit=0.5)
    text = html.read_text()
    assert text.count("<h2>Group ") == 2 and "Group 1: 5 submission(s), highest 0.95" in text
    assert text.count("# copy0.ipynb") == 4  # the center's answer beside each of the 4 others
    assert "Group 2: 2 submission(s) and the published solution" in text
    assert text.count("honest1") == 0
    markdown = tmp_path / "r.md"
    groups.write_group_report(markdown, pairs, limit=0.5)
    assert markdown.read_text().count("## Group ") == 2


def test_without_the_published_notebooks_release_and_grade_say_what_to_pass(tmp_path, monkeypatch, capsys):
    """Issue 69, item 2: a grader that finds no published notebooks (neither a repository
    beside it nor a copy installed with it) used the current folder: run elsewhere, release
    wrote an empty release and exited 0, and grade left the published solutions out of the
    similarity report without a word. Now both stop and say what to pass, even run from
    the repository root."""
    nowhere = tmp_path / "nowhere"
    monkeypatch.setattr(release, "_REPOSITORY", nowhere)
    monkeypatch.setattr(release, "_INSTALLED", nowhere / "published")
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    assert release.main(["--out", str(out), "--chapters", "03"]) == 2
    assert "cannot find the published solutions" in capsys.readouterr().err and not out.exists()
    assert release.main(["--out", str(out), "--solutions", str(ROOT / "solutions"), "--chapters", "03"]) == 2
    assert "pass --notebooks DIR" in capsys.readouterr().err and not out.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert release.main(["--out", str(out), "--solutions", str(empty), "--notebooks", str(empty)]) == 2
    assert "holds no notebook" in capsys.readouterr().err and not out.exists()
    assert release.main(["--check"]) == 2  # no exercises/ to check either
    homework = tmp_path / "hw.ipynb"
    shutil.copy(ROOT / "solutions" / "03_backpropagation.ipynb", homework)
    assert cli.main([str(homework), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "pass --solutions DIR" in err and "--no-published" in err, err
    assert cli.main([str(homework), "--quiet", "--solutions", str(empty)]) == 2
    assert cli.main([str(homework), "--quiet", "--no-published", "--solutions", str(ROOT / "solutions")]) == 2
    grades = tmp_path / "g.csv"
    assert cli.main([str(homework), "--quiet", "--no-published", "--csv", str(grades), "--seed", "4"]) == 0
    assert next(csv.DictReader(grades.open()))["similarity"] == ""
    assert (
        cli.main([str(homework), "--quiet", "--solutions", str(ROOT / "solutions"), "--csv", str(grades)])
        == 0
    )
    assert next(csv.DictReader(grades.open()))["similarity"].startswith("1.00 published solution")


def test_release_and_grade_work_from_a_folder_outside_the_repository(tmp_path):
    """The same commands run in a folder of their own (the grader run from the repository,
    as ``pip install -e``): the published notebooks are found from the grader, not from the
    current folder; a verbatim copy of a solution reads 1.00 against the published one."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "minidl_grader", *args], cwd=work, env=env, capture_output=True, text=True
        )

    done = run("release", "--out", "course", "--chapters", "03")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (work / "course" / "exercises").glob("*.ipynb")] == ["03_backpropagation.ipynb"]
    assert [p.name for p in (work / "course" / "notebooks").glob("*.ipynb")] == ["03_backpropagation.ipynb"]
    shutil.copy(ROOT / "solutions" / "03_backpropagation.ipynb", work / "copy.ipynb")
    done = run("grade", "copy.ipynb", "--csv", "g.csv", "--quiet", "--seed", "9")
    assert done.returncode == 0, done.stderr
    assert next(csv.DictReader((work / "g.csv").open()))["similarity"].startswith("1.00 published solution")
