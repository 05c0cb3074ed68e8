"""Graded exercises: instant feedback for readers, a score sheet for instructors.

Readers call ``check("weight_norm_backward", weight_norm_backward)`` in an exercise notebook, and
``check("relu_check_at_kink", relu_check_at_kink)`` for a question.
Instructors run ``minidl-grade grade submissions/*.ipynb --csv grades.csv``.
Authors edit ``solutions/*.ipynb`` and run ``minidl-grade release``.

The package is split by concern (see README.md, "Where the code is"):

* ``runtime/`` -- what runs inside the sandbox (probes, the reply codec, the server);
* ``confinement/`` -- where and under which limits it runs (bubblewrap, seccomp, cgroups,
  the process and its pipes);
* ``judge/`` -- the exercises and the verdict, in the grader's process; ``specs/`` holds
  each chapter's references;
* ``reports/`` -- the table, CSV, Gradescope JSON and package, and text cleaning;
* here: ``cli.py`` and ``__main__.py`` (the commands), ``runner.py`` (grading one
  notebook: cells, replay, budget), ``notebook.py`` and ``release.py`` (notebooks).

This is the ``minidl-grader`` distribution (``grader/`` in the repository). It depends on
minidl; nothing in minidl imports it.
"""

from . import specs
from .judge import projects, registry
from .judge.judging import Result, check, evaluate

# the built-in chapters' exercises, registered on the registry's first read: the root wires
# the floors together (``judge/`` below ``specs/``: the registry imports no spec)
registry.add_source(specs.load_all)
projects.install()  # the projects' chapters (project_digits...): projects.py

__all__ = ["check", "evaluate", "Result"]
