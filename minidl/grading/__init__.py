"""Graded exercises: instant feedback for readers, a score sheet for instructors.

Readers call ``check("dense_backward", dense_backward)`` in an exercise notebook, and
``check("relu_gradient_negative", relu_gradient_negative)`` for a question (``questions.py``).
Instructors run ``python -m minidl grade submissions/*.ipynb --csv grades.csv``.
Authors edit ``solutions/*.ipynb`` and run ``python -m minidl.grading release``.

Nothing in minidl imports this package: it sits on top of the library.
"""
from .judging import Result, check, evaluate

__all__ = ["check", "evaluate", "Result"]
