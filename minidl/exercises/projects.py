"""Graded projects: the public half -- training and validation data, the metric, ``check_project``.

A project asks for a whole model: the student trains it in the project notebook
(``exercises/projects/``) and defines ``predict(x) -> predictions``. The grader reruns the
notebook's cells in its sandbox within the project's compute budget and scores ``predict``
on a *hidden* split that it draws itself from the instructor's grading seed; that split is
never in minidl or in a student release. Here are only what students may see: the
training and validation splits, the metric, and the thresholds that turn the metric into
points (the same function the grader uses)::

    from minidl.exercises.projects import load_project, check_project
    (x_train, y_train), (x_val, y_val) = load_project("digits")
    ...                                    # train a model, define predict(x)
    check_project("digits", predict)       # the metric on the validation split, and its points
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

__all__ = ["Project", "PROJECTS", "load_project", "check_project", "score", "points_for", "shifted_digits"]


@dataclass(frozen=True)
class Project:
    """What a project promises: its metric, the thresholds, the points and the budget.

    metric : "accuracy" (higher is better) or "rmse" (lower is better)
    pass_mark, full_marks : the metric at which the project earns ``pass_fraction`` of its
        points and all of them; in between, points grow linearly; short of the pass mark, 0
    budget_minutes : what the notebook's graded cells may take on 2 cores (training included)
    """

    name: str
    title: str
    metric: str
    pass_mark: float
    full_marks: float
    points: int = 10
    pass_fraction: float = 0.5
    budget_minutes: float = 2.0

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "rmse"


PROJECTS = {
    "digits": Project(
        "digits",
        "Digits that moved: classify shifted, noisy MNIST digits",
        "accuracy",
        0.60,
        0.85,
        budget_minutes=3,
    ),
    "reviews": Project(
        "reviews", "Sentiment of generated film reviews", "accuracy", 0.75, 0.95, budget_minutes=1
    ),
    "adding": Project(
        "adding", "The adding problem: sum the two marked numbers", "rmse", 0.25, 0.08, budget_minutes=1
    ),
}


def score(metric: str, truth: np.ndarray, predicted) -> float:
    """The project's metric of ``predicted`` against ``truth`` (ValueError naming a bad shape)."""
    predicted = np.asarray(predicted)
    if metric == "accuracy":
        if predicted.shape != truth.shape:
            raise ValueError(
                f"predict returned shape {predicted.shape}, expected {truth.shape} (one label per input)"
            )
        return float(np.mean(predicted == truth))
    predicted = predicted.reshape(truth.shape) if predicted.size == truth.size else predicted
    if predicted.shape != truth.shape:
        raise ValueError(f"predict returned shape {predicted.shape}, expected {truth.shape}")
    if not np.all(np.isfinite(predicted)):
        raise ValueError("predict returned NaN or inf")
    return float(np.sqrt(np.mean((predicted.astype(np.float64) - truth) ** 2)))


def points_for(project: Project, value: float) -> float:
    """Points for a metric ``value``: 0 short of the pass mark, ``pass_fraction`` of the points at
    it, growing linearly to all of them at full marks (rounded to 0.01)."""
    sign = 1.0 if project.higher_is_better else -1.0
    reached = sign * (value - project.pass_mark)
    if not np.isfinite(value) or reached < 0:
        return 0.0
    span = sign * (project.full_marks - project.pass_mark)
    share = project.pass_fraction + (1 - project.pass_fraction) * min(1.0, reached / span)
    return round(project.points * share, 2)


def shifted_digits(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digits project's inputs: each 28x28 image shifted by up to 3 pixels (zeros come in),
    its contrast scaled by 0.6-1.0 and Gaussian noise (sd 0.08) added, clipped to [0, 1]."""
    out = np.zeros_like(images)
    n, size = len(images), images.shape[-1]
    dy, dx = rng.integers(-3, 4, size=n), rng.integers(-3, 4, size=n)
    for i in range(n):
        ys, xs = slice(max(0, dy[i]), size + min(0, dy[i])), slice(max(0, dx[i]), size + min(0, dx[i]))
        yt, xt = slice(max(0, -dy[i]), size - max(0, dy[i])), slice(max(0, -dx[i]), size - max(0, dx[i]))
        out[i, ..., ys, xs] = images[i, ..., yt, xt]
    out *= rng.uniform(0.6, 1.0, size=(n,) + (1,) * (images.ndim - 1)).astype(images.dtype)
    out += rng.normal(0.0, 0.08, size=images.shape).astype(images.dtype)
    return np.clip(out, 0.0, 1.0)


def load_project(name: str):
    """``((x_train, y_train), (x_val, y_val))`` of project ``name`` (fresh arrays every call).

    digits : the bundled MNIST training images (28x28, NCHW float32) as they are, and a
        validation split of the bundled test images' first half, shifted and noisy
        (``shifted_digits``); the hidden split is drawn the same way, by the grader, from
        the other half with the instructor's seed. Training on the bundled test images is
        against the rules.
    reviews : 2,000 generated reviews (texts, labels 0/1) and 500 others none of which is a
        training review (``make_reviews(exclude=...)``)
    adding : 4,000 and 1,000 sequences of the adding problem of length 10, (n, 10, 2) float32
    """
    from .. import datasets

    if name == "digits":
        (x, y), (x_test, y_test) = datasets.load_mnist()
        half = len(x_test) // 2
        return (x, y), (shifted_digits(x_test[:half], np.random.default_rng(0)), y_test[:half])
    if name == "reviews":
        texts, labels, _ = datasets.make_reviews(2000, seed=0)
        val, val_labels, _ = datasets.make_reviews(500, seed=1, exclude=texts)
        return (texts, labels), (val, val_labels)
    if name == "adding":
        return (
            datasets.make_adding_problem(4000, length=10, seed=0),
            datasets.make_adding_problem(1000, length=10, seed=1),
        )
    raise KeyError(f"no project called {name!r}; the projects are {', '.join(PROJECTS)}")


def check_project(name, predict, validation=None) -> float:
    """Run ``predict`` on the validation split, as the grader runs it on the hidden one, and
    print the metric, the points it would earn there and the time it took; return the metric.

    ``name``: a built-in project's name, or a ``Project`` (an instructor's own), then with
    ``validation=(x_val, y_val)``, the split its notebook hands out."""
    project = name if isinstance(name, Project) else PROJECTS[name]
    name = project.name
    _, (x_val, y_val) = load_project(name) if validation is None else (None, validation)
    start = time.perf_counter()
    value = score(project.metric, y_val, predict(x_val))
    seconds = time.perf_counter() - start
    points = points_for(project, value)
    print(
        f"{name}: {project.metric} {value:.4f} on {len(y_val)} validation examples -> {points:g} of "
        f"{project.points} points (pass mark {project.pass_mark:g}, full marks {project.full_marks:g}; "
        f"predict took {seconds:.1f} s); the grade comes from a hidden split"
    )
    return value
