"""Graded exercises: instant feedback for readers, a score sheet for instructors.

Readers call ``check("weight_norm_backward", weight_norm_backward)`` in an exercise notebook, and
``check("relu_gradient_negative", relu_gradient_negative)`` for a question.
Instructors run ``python -m minidl grade submissions/*.ipynb --csv grades.csv``.
Authors edit ``solutions/*.ipynb`` and run ``python -m minidl.grading release``.

The package is split by concern (see README.md, "Where the code is"):

* ``runtime/`` -- what runs inside the sandbox (probes, the reply codec, the server);
* ``confinement/`` -- where and under which limits it runs (bubblewrap, seccomp, cgroups,
  the process and its pipes);
* ``judge/`` -- the exercises and the verdict, in the grader's process; ``specs/`` holds
  each chapter's references;
* ``reports/`` -- the table, CSV, Gradescope JSON and package, and text cleaning;
* here: ``cli.py`` and ``__main__.py`` (the commands), ``runner.py`` (grading one
  notebook: cells, replay, budget), ``notebook.py`` and ``release.py`` (notebooks).

Nothing in minidl imports this package: it sits on top of the library.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# Modules that lived directly in minidl.grading before the split, and two older names
# still: notebooks, instructors' --checks files (``from minidl.grading.private_checks
# import Case``) and the chapter specs (``from ..feedback import compare_outputs``) import
# them by these names. Each old name is the *same module object* as the new one (not a
# copy re-exporting its names), so monkeypatching or pickling through either agrees.
OLD_NAMES = {
    "probes": "runtime.probes",
    "codec": "runtime.codec",
    "sandbox": "runtime.sandbox",
    "isolation": "confinement.isolation",
    "seccomp": "confinement.seccomp",
    "limits": "confinement.limits",
    "judging": "judge.judging",
    "feedback": "judge.feedback",
    "registry": "judge.registry",
    "questions": "judge.questions",
    "provenance": "judge.provenance",
    "private_checks": "judge.private_checks",
    "report": "reports.report",
    "gradescope": "reports.gradescope",
    "text": "reports.text",
    "checking": "judge.judging",
    "checks": "judge.private_checks",  # names before those
}


class _OldNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``minidl.grading.<old name>`` and answers with the module's new home."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in OLD_NAMES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return importlib.import_module(f"{__name__}.{OLD_NAMES[spec.name.rpartition('.')[2]]}")

    def exec_module(self, module):
        pass  # already executed under its own name


if not any(isinstance(finder, _OldNames) for finder in sys.meta_path):
    sys.meta_path.insert(0, _OldNames())

from .judge.judging import Result, check, evaluate  # noqa: E402

__all__ = ["check", "evaluate", "Result"]
