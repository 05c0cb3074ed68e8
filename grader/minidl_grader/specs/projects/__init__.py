"""The built-in projects' hidden halves: one module per project (``digits.py`` is the
chapter ``project_digits``), each with ``public()`` (the splits its notebook builds) and
``hidden(seed) -> (x, y)``, drawn from the grading seed here, in the grader's process (see
``minidl_grader/judge/projects.py``)."""

from __future__ import annotations

import importlib
import pkgutil

from ...judge.projects import PROJECTS, register_project

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    _spec = importlib.import_module(f"{__name__}.{_module}")
    register_project(PROJECTS[_module], _spec.hidden, _spec.public)
