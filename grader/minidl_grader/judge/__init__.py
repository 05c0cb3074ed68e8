"""Judging, in the grader's process: what the exercises are and whether an answer is right.

``registry.py`` (exercises, ``function_exercise``), ``questions.py`` (multiple choice,
numbers, shapes), ``feedback.py`` (comparing outputs, explaining the difference),
``judging.py`` (scoring the cases of an exercise, ``check()``), ``provenance.py`` (what an
answer takes from a library, ``--forbid``), ``reading.py`` (what a cell runs: its magics'
code and its ``exec`` strings), ``kernels.py`` (a Numba kernel's source, found in the cells,
for the process that compiles it) and ``private_checks.py`` (an instructor's
``--checks``). The references themselves are in ``../specs/``.
"""
