"""Writing grades: a table for the terminal, Gradescope JSON, a CSV score sheet.

Files are written atomically (a temporary file in the same folder, then renamed) and
again after each submission is graded, so a grader that is killed leaves every row it
had finished. Every text comes through ``text.py``: file names and the student's text on
one line (``display_path``, ``one_line``), no control character or lone surrogate
anywhere, and a CSV cell that starts like a formula (``= + - @``) quoted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from ..judge import projects, registry
from ..judge.judging import Result, SubmissionResult
from .text import spreadsheet_cell

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's, least first

__all__ = ["format_table", "gradescope_json", "write_json", "write_csv", "atomic_write"]


def atomic_write(path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _points(x: float) -> str:
    return f"{x:g}"


def _is_question(r: Result) -> bool:
    try:
        return registry.get(r.name).is_question
    except KeyError:  # a private check: code
        return False


def format_table(sub: SubmissionResult, explain: bool = False) -> str:
    """A plain-text table of one submission's results, for the instructor: every message in
    full, but a right question's explanation (the same for everyone) only with ``explain``."""
    mode = "not run" if sub.isolated is None else "isolated" if sub.isolated else "not isolated"
    lines = [f"{sub.path}  (chapter {sub.chapter or '?'}, seed {sub.seed}, {sub.seconds:.1f} s, {mode})"]
    if sub.error:
        lines.append(f"  error: {sub.error}")
    lines += [f"  flag: {flag}" for flag in sub.flags]
    width = max([len(r.name) for r in sub.results] + [8])
    for r in sub.results:
        mark = "ok  " if r.passed else "FAIL"
        first, *rest = r.message.splitlines() or [""]
        if r.passed and not explain and _is_question(r):
            first, rest = "right", []
        lines.append(f"  {mark} {r.name:<{width}} {_points(r.score):>3}/{_points(r.points):<3} {first}")
        lines += [f"  {'':<{width + 14}} {line.strip()}" for line in rest]
        for case in r.cases:  # scored case by case: one line each
            hidden = "" if case.visibility == "visible" else f" [{case.visibility}]"
            verdict = "ok" if case.passed else (case.message.splitlines() or [""])[0]
            verdict = verdict.removeprefix(f"{case.label}: ")  # the label is on the line already
            lines.append(
                f"  {'':<6}- {case.label}{hidden}: {_points(case.score)}/"
                f"{_points(case.points)} {verdict if not case.passed else ''}".rstrip()
            )
    lines.append(f"  {'total':<{width + 5}} {_points(sub.score):>3}/{_points(sub.max_score)}")
    return "\n".join(lines)


def _restricted(a: str, b: str) -> str:
    """The more restricted of two Gradescope visibilities."""
    return max(a, b, key=VISIBILITIES.index)


def gradescope_json(sub: SubmissionResult, questions: str = "visible") -> dict:
    """Gradescope's ``results.json`` for one submission.

    The flags, the grading seed and whether the run was isolated (``isolated``: true,
    false, or null when nothing ran, with ``isolation`` in words) go in ``extra_data``,
    which Gradescope shows the instructor, not students; the top-level ``output`` says
    "not isolated" too. ``questions``: the ``visibility`` of every question's test
    (``after_due_date``: a student cannot find an answer by uploading each choice in turn).
    """
    isolation = (
        "nothing ran"
        if sub.isolated is None
        else "isolated by bubblewrap"
        if sub.isolated
        else "NOT isolated"
    )
    data = {
        "score": sub.score,
        "tests": [
            test for r in sub.results for test in _tests(r, questions if _is_question(r) else "visible")
        ],
        "output": (
            f"chapter {sub.chapter}"  # the seed is the instructor's: in extra_data, not shown
            + ("" if sub.isolated or sub.isolated is None else "; not isolated")
            + (f"; error: {sub.error}" if sub.error else "")
            + (f"; {sub.note}" if sub.note else "")
        ),
        "extra_data": {
            "flags": sub.flags,
            "isolated": sub.isolated,
            "isolation": isolation,
            "seed": sub.seed,
        },
    }
    if board := projects.leaderboard(sub):  # a project: its metric on the hidden split
        data["leaderboard"] = board
    return data


def _points_value(x: float):
    return int(x) if float(x).is_integer() else round(x, 6)


def _tests(r, at_least: str = "visible") -> list[dict]:
    """Gradescope's ``tests`` entries for one exercise: one, or one per case when it is
    scored case by case, each with its ``visibility`` (the more restricted of its own and
    ``at_least``) where it is not ``visible``."""
    if not r.cases:
        test = {
            "name": r.name,
            "score": _points_value(r.score),
            "max_score": _points_value(r.points),
            "status": r.status,
            "output": r.message,
        }
        visibility = _restricted(r.visibility, at_least)
        if visibility != "visible":
            test["visibility"] = visibility
        return [test]
    tests = []
    for case in r.cases:
        test = {
            "name": f"{r.name}: {case.label}",
            "score": _points_value(case.score),
            "max_score": _points_value(case.points),
            "status": "passed" if case.passed else "failed",
            "output": case.message,
        }
        visibility = _restricted(case.visibility, at_least)
        if visibility != "visible":
            test["visibility"] = visibility
        tests.append(test)
    return tests


def write_json(
    path, subs: list[SubmissionResult], single: bool | None = None, questions: str = "visible"
) -> None:
    """One submission (``single``): Gradescope's format. Several: a list of those, each
    with its file. ``single`` defaults to ``len(subs) == 1``; ``questions``: the
    visibility of the questions' tests (``gradescope_json``)."""
    single = len(subs) == 1 if single is None else single
    data: dict | list[dict]
    if single:
        data = gradescope_json(subs[0], questions)
    else:
        data = [dict(gradescope_json(s, questions), submission=s.path) for s in subs]
    atomic_write(path, json.dumps(data, indent=2) + "\n")


def write_csv(path, subs: list[SubmissionResult], groups: dict[str, tuple[int, int]] | None = None) -> None:
    """One row per submission: file, chapter, total, maximum, one column per exercise, then
    the error, whether it ran isolated, the flags (mentions of the grader's answers, output
    over the limit), the most similar other answer (``similarity.highest``: score, with
    whom, exercise), and its group of similar submissions (``groups``: submission ->
    (number, size), from ``reports/groups.py``; empty in none)."""
    groups = groups or {}
    names = []
    for sub in subs:  # an exercise scored case by case has a column per case too
        for r in sub.results:
            metric = [f"{r.name}:{r.metric_name}"] if getattr(r, "metric_name", "") else []  # a project's
            for column in [r.name, *metric] + [f"{r.name}/{i + 1}" for i in range(len(r.cases))]:
                if column not in names:
                    names.append(column)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            spreadsheet_cell(cell)
            for cell in [
                "submission",
                "chapter",
                "score",
                "max_score",
                *names,
                "error",
                "isolated",
                "flags",
                "similarity",
                "similarity_group",
                "group_size",
            ]
        ]
    )
    for sub in subs:
        scores = {r.name: _points(r.score) for r in sub.results}
        scores.update(  # a project's metric on the hidden split, or why there is none
            (f"{r.name}:{r.metric_name}", f"{r.metric:.4f}" if r.metric is not None else "not ranked")
            for r in sub.results
            if getattr(r, "metric_name", "")
        )
        scores.update(
            (f"{r.name}/{i + 1}", _points(c.score)) for r in sub.results for i, c in enumerate(r.cases)
        )
        for r in sub.results:  # refused before its cases ran (a shortcut): each case scores 0
            if not r.cases and r.score == 0:
                scores.update((n, "0") for n in names if n.startswith(f"{r.name}/") and n not in scores)
        row = [
            sub.path,
            sub.chapter or "",
            _points(sub.score),
            _points(sub.max_score),
            *(scores.get(n, "") for n in names),
            sub.error or "",
            "" if sub.isolated is None else "yes" if sub.isolated else "no",  # "": nothing ran
            "; ".join(sub.flags),
            sub.similarity,
            *((str(n) for n in groups[sub.path]) if sub.path in groups else ("", "")),
        ]
        writer.writerow([spreadsheet_cell(cell) for cell in row])
    atomic_write(path, buffer.getvalue())
