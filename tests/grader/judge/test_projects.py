"""Graded projects (issue 77): the hidden split stays hidden and apart, the worked solutions
score full marks and trivial baselines at most the pass mark at every grading seed tried,
and the reports carry the metric (CSV column, Gradescope's ``leaderboard``)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from minidl_grader import notebook, runner
from minidl_grader.judge import projects
from minidl_grader.judge.judging import SubmissionError
from minidl_grader.judge.projects import PROJECTS, points_for, score
from minidl_grader.release import release, student_release
from minidl_grader.reports.report import gradescope_json, write_csv

ROOT = Path(__file__).resolve().parents[3]
SOLUTIONS = ROOT / "solutions" / "projects"
GRADING_SEEDS = (1, 7, 1234, 2**31 - 1)
NAMES = tuple(PROJECTS)


def load_project(name: str):
    """The public splits, as the grader's spec makes them (and the notebook: see below)."""
    return projects.public_split(f"project_{name}")


def _flat(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(len(x), -1)


def _cells(name: str) -> str:
    """The setup cell and the project cell of a solution notebook, as one program."""
    nb = notebook.read_notebook(SOLUTIONS / f"project_{name}.ipynb")
    chosen = [c for c in nb["cells"] if c.get("metadata", {}).get("minidl")]
    return "\n".join(notebook.cell_source(c) for c in chosen)


def _in_process(predict):
    def get_outputs(case):
        assert case.args[0] is not None and len(case.args) == 1 and not case.extra  # inputs only
        try:
            return predict(*case.args)
        except Exception as err:
            raise SubmissionError(f"{type(err).__name__}: {err}") from None

    return get_outputs


def _judged(name: str, predict, seed: int):
    exercise = projects.exercises_for(f"project_{name}")[0]
    return projects.judge(exercise, _in_process(predict), seed)


# ---------------------------------------------------------------------- the hidden split
@pytest.mark.parametrize("name", NAMES)
def test_hidden_split_is_apart_from_the_public_ones(name):
    (x_train, _), (x_val, _) = load_project(name)
    public = {_key(x) for x in list(x_train) + list(x_val)}
    seen = []
    for seed in GRADING_SEEDS[:2]:
        x, y = projects.hidden_split(f"project_{name}", seed)
        assert len(x) == len(y) >= 500
        assert not {_key(v) for v in x} & public, f"{name}: a hidden example is a public one"
        seen.append(x)
    assert _key(seen[0]) != _key(seen[1]), "two grading seeds drew the same hidden split"


@pytest.mark.parametrize("name", NAMES)
def test_the_notebooks_public_splits_are_the_graders(name):
    """The setup cell builds the public splits itself (minidl holds nothing of the projects):
    they are the ones the grader's spec knows, so the hidden split is drawn apart from them."""
    nb = notebook.read_notebook(SOLUTIONS / f"project_{name}.ipynb")
    setup = next(c for c in nb["cells"] if c.get("metadata", {}).get("minidl", {}).get("setup"))
    namespace: dict = {}
    exec(compile(notebook.cell_source(setup), f"project_{name} setup", "exec"), namespace)
    (x, y), (x_val, y_val) = load_project(name)
    train = "texts_train" if name == "reviews" else "x_train"
    val = "texts_val" if name == "reviews" else "x_val"
    for mine, theirs in (
        (namespace[train], x),
        (namespace["y_train"], y),
        (namespace[val], x_val),
        (namespace["y_val"], y_val),
    ):
        assert _key(np.asarray(mine)) == _key(np.asarray(theirs))


def _key(value) -> bytes | str:
    return value if isinstance(value, str) else np.ascontiguousarray(value).tobytes()


def test_digits_memorising_every_bundled_image_gains_at_most_the_pass_mark(monkeypatch):
    """The hidden digits are drawn from bundled test images (the second half; validation uses
    the first) that the rules forbid training on. A lookup table of all 5,000 bundled images
    and labels, the hidden ones' sources included, answering the nearest image's label,
    still scores at most the pass mark: the shift, dimming and noise are drawn afresh."""
    from minidl_grader.specs.projects import digits

    from minidl import datasets

    (x, y), (x_test, y_test) = datasets.load_mnist()
    half = len(x_test) // 2
    monkeypatch.setattr(digits, "moved", lambda images, *seeds: images)
    sources, _ = digits.hidden(1)
    np.testing.assert_array_equal(sources, x_test[half:])  # validation: x_test[:half]
    monkeypatch.undo()
    table, labels = _flat(np.concatenate([x, x_test])), np.concatenate([y, y_test])

    def nearest(inputs):
        q = _flat(inputs)
        distance = (q**2).sum(1)[:, None] - 2 * q @ table.T + (table**2).sum(1)[None]
        return labels[distance.argmin(axis=1)]

    for seed in GRADING_SEEDS[:2]:
        result = _judged("digits", nearest, seed)
        assert result.score <= PROJECTS["digits"].points * PROJECTS["digits"].pass_fraction, result.message


def test_the_hidden_split_is_absent_from_a_student_release(tmp_path):
    out = tmp_path / "course"
    assert student_release(out, ROOT / "solutions", ROOT / "notebooks", chapters=None) == []
    assert sorted(p.name for p in (out / "exercises" / "projects").glob("*.ipynb")) == [
        f"project_{n}.ipynb" for n in sorted(NAMES)
    ]
    assert not list(out.rglob("minidl_grader")) and not list(out.rglob("solutions"))
    hidden_x, _ = projects.hidden_split("project_digits", 1234)
    needle = np.ascontiguousarray(hidden_x[0]).tobytes()[200:600]
    reviews, _ = projects.hidden_split("project_reviews", 1234)
    for path in out.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert b"def hidden(" not in raw, path
            assert needle not in raw, path
            if path.suffix == ".ipynb":
                text = raw.decode()
                assert "# BEGIN SOLUTION" not in text
    released = notebook.read_notebook(out / "exercises" / "projects" / "project_reviews.ipynb")
    assert not any(r in json.dumps(released) for r in reviews)


def test_release_regenerates_the_projects_exercises():
    changed, problems = release(ROOT / "solutions", ROOT / "exercises", check=True)
    assert problems == [] and not [c for c in changed if "exercises/projects/" in c]


# ---------------------------------------------------------------------- points
def test_points_grow_from_the_pass_mark_to_full_marks():
    p = PROJECTS["adding"]  # lower is better
    assert points_for(p, 0.30) == 0 and points_for(p, p.pass_mark) == p.points * p.pass_fraction
    assert points_for(p, p.full_marks) == p.points == points_for(p, 0.0)
    assert p.points * p.pass_fraction < points_for(p, (p.pass_mark + p.full_marks) / 2) < p.points
    q = PROJECTS["digits"]
    assert points_for(q, q.pass_mark - 0.01) == 0 and points_for(q, 1.0) == q.points
    assert points_for(q, float("nan")) == 0
    with pytest.raises(ValueError, match="expected"):
        score("accuracy", np.zeros(3, np.int64), np.zeros((3, 1)))


# ---------------------------------------------------------------------- solutions and baselines
def _baselines(name: str):
    """A constant and a linear model (ridge least squares, penalty 1, on the raw inputs or the
    word counts; one-hot targets for a classifier)."""
    (x, y), _ = load_project(name)
    if name == "reviews":
        words = sorted({w for t in x for w in t.split()})
        index = {w: i for i, w in enumerate(words)}

        def features(texts):
            f = np.zeros((len(texts), len(words) + 1))
            f[:, -1] = 1
            for i, t in enumerate(texts):
                for w in t.split():
                    if w in index:
                        f[i, index[w]] += 1
            return f
    else:

        def features(inputs):
            return np.c_[_flat(inputs), np.ones(len(inputs))]

    if PROJECTS[name].metric == "accuracy":
        targets = np.eye(int(y.max()) + 1)[y]
        w = _ridge(features(x), targets)
        majority = np.bincount(y).argmax()
        return {
            "constant": lambda inputs: np.full(len(inputs), majority),
            "linear": lambda inputs: (features(inputs) @ w).argmax(axis=1),
        }
    w = _ridge(features(x), y)
    return {
        "constant": lambda inputs: np.full((len(inputs), 1), float(y.mean())),
        "linear": lambda inputs: features(inputs) @ w,
    }


def _ridge(f: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return np.linalg.solve(f.T @ f + np.eye(f.shape[1]), f.T @ targets)


@pytest.mark.parametrize("name", NAMES)
def test_baselines_get_at_most_the_pass_mark_at_every_grading_seed(name):
    project = PROJECTS[name]
    for label, predict in _baselines(name).items():
        for seed in GRADING_SEEDS:
            result = _judged(name, predict, seed)
            assert result.metric is not None
            assert result.score <= project.points * project.pass_fraction, (label, seed, result.message)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "digits" else n for n in NAMES]
)
def test_worked_solution_scores_full_marks_at_every_grading_seed(name, capsys):
    namespace: dict = {}
    exec(compile(_cells(name), f"project_{name}", "exec"), namespace)
    for seed in GRADING_SEEDS:
        result = _judged(name, namespace["predict"], seed)
        assert result.score == result.points == PROJECTS[name].points, (seed, result.message)
    nb = notebook.read_notebook(SOLUTIONS / f"project_{name}.ipynb")
    exec(compile(notebook.cell_source(nb["cells"][-1]), "its last cell", "exec"), namespace)
    assert "validation" in capsys.readouterr().out  # the notebook's own measure, on validation


# ---------------------------------------------------------------------- graded in the sandbox
def _graded(path, **options):
    return runner.grade_notebook(path, seed=1234, timeout=30, **options)


@pytest.mark.sandbox
def test_graded_solution_reports_its_metric_and_leaderboard(tmp_path):
    sub = _graded(SOLUTIONS / "project_adding.ipynb")
    (result,) = sub.results
    assert sub.score == 10 and result.metric is not None and result.metric < PROJECTS["adding"].full_marks
    board = gradescope_json(sub)["leaderboard"]
    assert board[0] == {"name": "rmse (hidden split)", "value": round(result.metric, 4), "order": "asc"}
    assert board[1]["order"] == "asc"  # the grading time breaks ties
    starter = _graded(ROOT / "exercises" / "projects" / "project_adding.ipynb")
    assert starter.score == 0 and "NotImplementedError" in starter.results[0].message
    assert gradescope_json(starter)["leaderboard"][0]["value"].startswith("not ranked")
    write_csv(tmp_path / "grades.csv", [sub, starter])
    rows = (tmp_path / "grades.csv").read_text().splitlines()
    assert "project_adding:rmse" in rows[0].split(",")
    assert f"{result.metric:.4f}" in rows[1] and "not ranked" in rows[2]


def _edited(tmp_path, name: str, old: str, new: str) -> Path:
    nb = notebook.read_notebook(SOLUTIONS / f"project_{name}.ipynb")
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("minidl", {}).get("exercise"):
            source = notebook.cell_source(cell)
            assert old in source
            cell["source"] = source.replace(old, new)
    path = tmp_path / f"{name}.ipynb"
    path.write_text(json.dumps(nb))
    return path


@pytest.mark.sandbox
def test_a_crash_and_a_budget_overrun_score_zero_and_say_so(tmp_path, monkeypatch):
    crash = _edited(tmp_path, "adding", "return model.predict(x)", "raise RuntimeError('boom')")
    sub = _graded(crash)
    assert sub.score == 0 and "boom" in sub.results[0].message and sub.results[0].metric is None
    project, hidden = projects._PROJECTS["project_adding"]
    monkeypatch.setitem(
        projects._PROJECTS, "project_adding", (dataclasses.replace(project, budget_minutes=0.05), hidden)
    )
    slow = _edited(tmp_path, "adding", "mdl.seed(0)", "import time\ntime.sleep(30)\nmdl.seed(0)")
    sub = runner.grade_notebook(slow, seed=1234, timeout=1)
    assert sub.score == 0 and "did not finish within 3 s" in sub.results[0].message


@pytest.mark.sandbox
def test_a_private_project_grades_on_the_instructors_own_hidden_data(tmp_path):
    course = ROOT / "grader" / "examples" / "private-course"
    out = tmp_path / "results.json"
    notebooks = [
        course / "solutions" / "project_spirals.ipynb",
        course / "exercises" / "project_spirals.ipynb",
    ]
    command = [sys.executable, "-m", "minidl_grader", "grade", *map(str, notebooks), "--course", str(course)]
    run = subprocess.run(
        [*command, "--seed", "3", "--quiet", "--json", str(out)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    solution, starter = json.loads(out.read_text())
    assert solution["score"] == 5 and "on 300 hidden examples" in solution["tests"][0]["output"]
    assert solution["leaderboard"][0]["name"] == "accuracy (hidden split)"
    assert starter["score"] == 0
    # what students get of the course (release --course) is its exercises/: no hidden data
    assert [p.name for p in (course / "exercises").iterdir()] and not list(
        (course / "exercises").rglob("*.npz")
    )
