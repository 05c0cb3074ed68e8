"""A private project: the hidden split is the instructor's own data, a file beside the specs.

``hidden/spirals.npz`` (400 labelled points of three spirals, drawn once with a seed only the
instructor knows) never goes into a release: ``release --course`` writes exercise notebooks
only, and ``package --course`` copies ``hidden/`` into the autograder, readable by root.
Each grading seed scores a different 300 of the 400 points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from minidl_grader.judge.projects import Project, register_project

HIDDEN = Path(__file__).resolve().parents[1] / "hidden" / "spirals.npz"
PROJECT = Project("spirals", "Three interleaved spirals", "accuracy", 0.70, 0.90, points=5, budget_minutes=1)


def hidden(seed: int):
    with np.load(HIDDEN) as data:
        x, y = data["x"], data["y"]
    keep = np.random.default_rng([seed, 5]).permutation(len(y))[:300]
    return x[keep], y[keep]


register_project(PROJECT, hidden)
