"""The registry: chapters found from the spec files, exercises by name, function exercises."""

from __future__ import annotations

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.judge.registry import Case, Contract


def test_the_chapters_are_the_specs_in_number_order():
    assert registry.CHAPTERS == registry.chapters_in(registry.SPECS)
    numbers = [int(c[:2]) for c in registry.CHAPTERS]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert registry.CHAPTERS[0] == "01_linear_models"


def test_a_spec_without_its_chapter_or_with_another_number_is_an_error(tmp_path):
    (tmp_path / "ch03.py").write_text('CHAPTER = "03_backprop"\n', encoding="utf-8")
    (tmp_path / "ch01.py").write_text('CHAPTER = "01_linear"\n', encoding="utf-8")
    (tmp_path / "_kernels.py").write_text("", encoding="utf-8")  # not a chapter's spec
    assert registry.chapters_in(tmp_path) == ("01_linear", "03_backprop")
    (tmp_path / "ch04.py").write_text('CHAPTER = "05_wrong_number"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r'ch04.py: .*CHAPTER = "04_slug", found \[\'05_wrong_number\'\]'):
        registry.chapters_in(tmp_path)
    (tmp_path / "ch04.py").write_text("# no chapter here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"ch04.py: .*found \[\]"):
        registry.chapters_in(tmp_path)


@pytest.mark.parametrize("text", ["3", "03", "03_backpropagation"])
def test_a_chapter_is_named_by_its_number_or_its_id(text):
    assert registry.parse_chapter(text) == "03_backpropagation"


def test_an_unknown_chapter_names_the_range_and_the_chapters():
    with pytest.raises(
        ValueError,
        match=rf"unknown chapter '99'; expected a number 1-{len(registry.CHAPTERS)} or one of 01_linear_models",
    ):
        registry.parse_chapter("99")


def test_an_unknown_exercise_suggests_close_names_of_one_chapter():
    """A misspelt name gets "did you mean" with a few names of one chapter, not the whole course."""
    with pytest.raises(KeyError, match="adamw_update") as raised:
        registry.get("adamw_updat")
    assert len(str(raised.value)) < 400
    with pytest.raises(KeyError, match="no exercise called 'nope'") as raised:
        registry.get("nope")
    assert "adamw_update" not in str(raised.value)


def test_every_exercise_belongs_to_a_known_chapter_and_counts_add_up():
    exercises = registry.all_exercises()
    assert {e.chapter for e in exercises} == set(registry.CHAPTERS)
    counts = registry.counts()
    assert sum(row["code"] + row["questions"] for row in counts.values()) == len(exercises)
    assert sum(row["points"] for row in counts.values()) == sum(e.points for e in exercises)


def test_an_exercise_registered_twice_is_an_error(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})
    first = _double(do_register=True)
    assert registry.register(first) is first  # the same object again is fine
    with pytest.raises(ValueError, match="exercise 'double' is defined twice"):
        _double(do_register=True)


def test_a_contract_names_only_known_dtypes():
    assert Contract(("float64", "like:x")).dtypes == ("float64", "like:x")
    with pytest.raises(ValueError, match="unknown dtype 'float16' in a contract"):
        Contract(("float16",))


def _double(**kwargs):
    return registry.function_exercise(
        "double",
        "01_linear_models",
        1,
        "double",
        "Double",
        lambda rng: [Case((rng.standard_normal(4),), label="x")],
        lambda x: 2 * x,
        ("y",),
        mistakes=(("x itself", lambda x: x),),
        **{"do_register": False, **kwargs},
    )


def test_a_function_exercise_judges_by_its_reference_and_names_its_mistakes():
    exercise = _double(dtypes="float64", catches=("n = 0",))
    case = exercise.make_cases(registry.rng_for("double", 0))[0]
    (x,) = case.args
    assert exercise.judge(case, 2 * x) is None
    assert "x itself" in exercise.judge(case, x.copy())
    assert exercise.catches == ("x itself", "n = 0")
    assert exercise.contract == Contract(("float64",))
    assert exercise.references["double"](np.ones(2)).tolist() == [2.0, 2.0]


def test_fresh_outputs_mark_every_case_and_add_the_catch():
    exercise = _double(fresh_outputs=True)
    assert all(c.extra["fresh_outputs"] for c in exercise.make_cases(np.random.default_rng(0)))
    assert exercise.catches[-1].startswith("an output that is a view of an input")


def test_the_cases_generator_is_fixed_by_name_and_seed():
    a, b = registry.rng_for("double", 3), registry.rng_for("double", 3)
    assert a.random() == b.random()
    assert registry.rng_for("double", 3).random() != registry.rng_for("triple", 3).random()
