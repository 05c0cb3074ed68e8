"""The questions of every chapter, read from ``quiz.toml`` (data, not code) and registered.

Each ``[[question]]`` table names its chapter, kind (``choice``, ``number`` or ``shape``)
and what it asks (``asks``: ``predict`` or ``explain`` a behaviour, or ``compute`` a
value); the fields are the arguments of ``questions.multiple_choice``, ``number_question``
and ``shape_question``. This module is imported after the chapters' modules (the specs
load in name order), so each chapter lists its code exercises first, then its questions.
"""

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as a package
    import tomli as tomllib
from pathlib import Path

from ..judge.questions import multiple_choice, number_question, shape_question

QUIZ = Path(__file__).with_name("quiz.toml")


def load() -> list[dict]:
    """The ``[[question]]`` tables of ``quiz.toml``, in file order."""
    with open(QUIZ, "rb") as handle:
        return tomllib.load(handle)["question"]


def _register(q: dict):
    common = dict(
        name=q["name"],
        chapter=q["chapter"],
        points=q["points"],
        title=q["title"],
        explanation=q.get("explanation", ""),
    )
    if q["kind"] == "choice":
        return multiple_choice(choices=q["choices"], answer=q["answer"], wrong=q["wrong"], **common)
    if q["kind"] == "number":
        return number_question(
            value=q["value"],
            tolerance=q["tolerance"],
            hint=q.get("hint", ""),
            mistakes=tuple((m["value"], m["why"]) for m in q.get("mistakes", ())),
            **common,
        )
    if q["kind"] == "shape":
        return shape_question(
            shape=tuple(q["shape"]),
            axes=q.get("axes", ""),
            hint=q.get("hint", ""),
            mistakes={tuple(m["shape"]): m["why"] for m in q.get("mistakes", ())},
            **common,
        )
    raise ValueError(f"{QUIZ.name}: question {q['name']!r} has an unknown kind {q['kind']!r}")


QUESTIONS = [_register(q) for q in load()]
