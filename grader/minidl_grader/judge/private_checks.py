"""Private checks: extra graded items an instructor keeps out of the public repository.

``minidl-grade grade ... --checks DIR`` loads every ``DIR/*.py`` (files starting with
``_`` are skipped). Each file defines a list ``CHECKS`` of exercises made with
``private_check``, which takes the same arguments as the built-in function exercises::

    # DIR/hidden_weight_norm.py
    from minidl_grader.judge.private_checks import Case, private_check
    from minidl_grader.specs.ch03 import weight_norm_backward as reference

    def cases(rng):                  # rng: a numpy Generator seeded by the grading run
        return [Case((rng.standard_normal((1, 9)), rng.standard_normal((1, 2)),   # dy, x
                      rng.standard_normal((2, 9)), rng.uniform(0.5, 2.0, 9)),    # v, g
                     label="a batch of one sample")]

    CHECKS = [private_check("weight_norm_backward_batch_of_one", chapter="03_backpropagation",
                            points=1, entry="weight_norm_backward", make_cases=cases,
                            reference=reference, outputs=("dx", "dv", "dg", "db"))]

A private check is graded like a built-in one and appears as its own item (with its own
points) for every submission of its chapter. Its file stays in the grader's process:
the submission's process only receives the inputs, so case arguments must be plain
data (numbers, strings, tuples, lists, dicts, NumPy arrays), and the probe one of the
built-in kinds (``"call"``, the default, or ``"call_and_inputs"``).
"""

from __future__ import annotations

from pathlib import Path

from . import registry
from .registry import Case, Exercise, function_exercise

__all__ = ["private_check", "load_checks", "Case"]


def private_check(
    name: str,
    chapter: str,
    points: int,
    entry: str,
    make_cases,
    reference,
    outputs: tuple,
    mistakes: tuple = (),
    tolerance: float = 1e-6,
    title: str = "",
    probe: str = "call",
    partial: bool = False,
    visibility: str = "visible",
) -> Exercise:
    """An exercise like the built-in ``function_exercise`` ones, not added to the registry."""
    if chapter not in registry.CHAPTERS:
        raise ValueError(
            f"private check {name!r}: unknown chapter {chapter!r}; "
            f"expected one of {', '.join(registry.CHAPTERS)}"
        )
    if probe not in ("call", "call_and_inputs"):
        raise ValueError(f"private check {name!r}: probe must be 'call' or 'call_and_inputs'")
    return function_exercise(
        name,
        chapter,
        points,
        entry,
        title or name,
        make_cases,
        reference,
        tuple(outputs),
        mistakes=mistakes,
        tolerance=tolerance,
        probe_name=probe,
        do_register=False,
        partial=partial,
        visibility=visibility,
    )


def load_checks(folder) -> list[Exercise]:
    """Every exercise in ``folder/*.py``'s ``CHECKS`` lists; ``ValueError`` on a bad file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    builtin = {e.name for e in registry.all_exercises()}
    found: dict[str, Exercise] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = registry.run_spec_file(path, f"minidl_private_checks.{path.stem}")
        checks = getattr(module, "CHECKS", None)
        if not isinstance(checks, list) or not all(isinstance(c, Exercise) for c in checks):
            raise ValueError(f"{path} must define CHECKS, a list of private_check(...) items")
        for check in checks:
            if check.name in builtin or check.name in found:
                raise ValueError(f"{path}: the name {check.name!r} is already taken")
            found[check.name] = check
    return list(found.values())
