"""Questions that test understanding: a choice, a number, a shape -- judged, released, hidden.

The answers live in the grader (``specs/``), never in an exercise notebook or in the
process that runs a submission; feedback explains a wrong answer without giving the
right one away.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from minidl_grader import check, cli, evaluate, notebook, release
from minidl_grader.confinement import isolation
from minidl_grader.judge import registry
from minidl_grader.judge.questions import multiple_choice, number_question, shape_question
from minidl_grader.runtime import codec

from tests.grader.grading_answers import chapter3_with_cell

ROOT = Path(__file__).resolve().parents[3]
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
CHAPTER3 = SOLUTIONS / "03_backpropagation.ipynb"
QUESTIONS = [e for e in registry.all_exercises() if e.is_question]
ISOLATED, WHY_NOT = isolation.isolation_status()


def _answers(folder: Path) -> dict:
    """name -> the value each question cell of ``folder``'s notebooks assigns."""
    values = {}
    for chapter in registry.CHAPTERS:
        namespace = {"np": np}
        for cell in notebook.read_notebook(folder / f"{chapter}.ipynb")["cells"]:
            if notebook.exercise_meta(cell).get("question"):
                exec(notebook.cell_source(cell), namespace)
                values[notebook.exercise_meta(cell)["exercise"]] = namespace[
                    notebook.exercise_meta(cell)["exercise"]
                ]
    return values


SOLVED = _answers(SOLUTIONS)


# ------------------------------------------------------------------ solutions and exercises
def test_every_solution_answer_is_right_and_every_released_one_unanswered():
    assert set(SOLVED) == {q.name for q in QUESTIONS}
    released = _answers(EXERCISES)
    for q in QUESTIONS:
        assert evaluate(q.name, SOLVED[q.name]).passed, (q.name, evaluate(q.name, SOLVED[q.name]))
        result = evaluate(q.name, released[q.name])
        assert released[q.name] is Ellipsis and result.score == 0
        assert result.message.startswith("not answered yet: replace `...` with")


def test_a_right_answer_prints_its_explanation(capsys):
    check("relu_check_at_kink", SOLVED["relu_check_at_kink"])
    out = capsys.readouterr().out
    assert out.startswith("✔ relu_check_at_kink: right: ") and "subgradient" in out


# ------------------------------------------------------------------ multiple choice
@pytest.mark.parametrize("question", [q for q in QUESTIONS if q.kind == "choice"], ids=lambda q: q.name)
def test_each_wrong_choice_gets_its_own_feedback(question):
    answer = SOLVED[question.name]
    messages = {}
    for letter in question.choices:
        result = evaluate(question.name, letter)
        assert result.passed == (letter == answer), (letter, result)
        if letter != answer:
            assert result.message.startswith(f"({letter}) is not right: "), result.message
            explanation = result.message.split(": ", 1)[1]
            assert len(explanation) > 40, f"{question.name} ({letter}): too short to explain"
            assert f"({answer})" not in explanation, f"{question.name} ({letter}) names the answer"
            messages[letter] = explanation
    assert len(set(messages.values())) == len(question.choices) - 1, "two choices share feedback"


def test_a_choice_is_read_leniently_and_a_malformed_one_is_named():
    name, answer = "relu_check_at_kink", SOLVED["relu_check_at_kink"]
    for form in (answer.upper(), f" ({answer}) ", f"{answer})"):
        assert evaluate(name, form).passed, form
    assert (
        evaluate(name, "e").message == "expected one letter among a, b, c, d, as a string; got the string 'e'"
    )
    assert evaluate(name, 2).message == "expected one letter among a, b, c, d, as a string; got the int 2"
    assert "got a list of 2 values" in evaluate(name, ["a", "b"]).message


def test_a_choice_question_needs_feedback_for_every_wrong_choice():
    with pytest.raises(
        ValueError, match=r"every wrong choice needs its own feedback; expected feedback for \['a', 'c'\]"
    ):
        multiple_choice(
            "q",
            "03_backpropagation",
            1,
            "t",
            {"a": "x", "b": "y", "c": "z"},
            "b",
            {"a": "why a"},
            do_register=False,
        )


# ------------------------------------------------------------------ numbers
def _judge(exercise, value):
    """Judge ``value`` as if the submission's process had sent it (through the codec)."""
    got = {"answered": value is not Ellipsis, "value": value}
    return exercise.judge(None, codec.loads(codec.dumps(got)))


def test_a_number_inside_its_tolerance_passes_and_outside_fails():
    q = number_question(
        "q",
        "04_optimization",
        1,
        "t",
        value=10.0,
        tolerance=1e-3,
        mistakes=((0.1, "0.1 is what m carries; the correction divides by it"),),
        hint="start from m_0 = 0",
        do_register=False,
    )
    for inside in (10.0, 10.0009, 9.9991, 10, np.float32(10.0), np.array(10.0), np.int64(10)):
        assert _judge(q, inside) is None, inside
    for outside in (10.0011, 9.998, 11.0, -10.0):
        assert _judge(q, outside) == f"{outside:g} is not right: start from m_0 = 0"
    assert _judge(q, 0.1005) == "0.1005 is not right: 0.1 is what m carries; the correction divides by it"
    assert _judge(q, "10") == "expected a number (an int or a float); got the string '10'"
    assert _judge(q, True) == "expected a number (an int or a float); got the bool True"
    assert _judge(q, float("nan")) == "expected a finite number; got nan"
    assert _judge(q, np.ones(3)).endswith("got an array of shape (3,)")
    with pytest.raises(ValueError, match="within the tolerance"):
        number_question("q", "04_optimization", 1, "t", 1.0, 0.1, mistakes=((1.05, "x"),), do_register=False)


@pytest.mark.parametrize("question", [q for q in QUESTIONS if q.kind == "number"], ids=lambda q: q.name)
def test_every_number_question_fails_a_unit_away_from_its_answer(question):
    value = float(SOLVED[question.name])
    assert evaluate(question.name, value).passed
    for wrong in (value + 1.0, value - 1.0, -value if value else 1.0):
        message = evaluate(question.name, wrong).message
        assert message.startswith(f"{wrong:g} is not right"), message
        explanation = message.split(": ", 1)[1] if ": " in message else ""
        assert not re.search(rf"(?<![\d.]){re.escape(f'{value:g}')}(?![\d.])", explanation), message


# ------------------------------------------------------------------ shapes
def test_a_shape_question_names_what_was_expected_and_what_came():
    # a question of its own (not registered), so that no chapter's rework of its questions breaks it
    q = shape_question(
        "strided_conv_shape",
        "07_convolutional_networks",
        1,
        "The output shape of a strided convolution",
        (8, 16, 16, 16),
        mistakes={
            (8, 16, 15, 15): "the padding was left out: (32 + 2*1 - 3) // 2 + 1",
            (8, 16, 32, 32): "the stride was left out: a stride of 2 halves the height and width",
        },
        hint="apply (H + 2P - K) // S + 1 to the height and the width",
        axes="(N, C, H, W)",
        do_register=False,
    )
    assert _judge(q, [8, 16, 16, 16]) is None  # a list is a shape too
    assert "the padding was left out" in _judge(q, (8, 16, 15, 15))
    assert "the stride was left out" in _judge(q, (8, 16, 32, 32))
    assert _judge(q, (8, 16, 16)) == "expected a shape of 4 axes (N, C, H, W); got 3 axes (8, 16, 16)"
    assert (
        _judge(q, "8, 16, 16, 16")
        == "expected a shape, a tuple of ints such as (2, 3); got the string '8, 16, 16, 16'"
    )
    assert "got a tuple of 4 values" in _judge(q, (8.0, 16, 16, 16))
    assert _judge(q, (1, 2, 3, 4)).startswith("(1, 2, 3, 4) is not right: apply")
    q = shape_question("q", "07_convolutional_networks", 1, "t", (2, 3), do_register=False)
    assert _judge(q, (2, 3)) is None and _judge(q, (3, 2)) == "(3, 2) is not right"


# ------------------------------------------------------------------ nothing gives the answer away
def test_no_message_before_an_answer_depends_on_the_answer():
    """An unanswered question's message says only what kind of answer is expected: the
    same text for every question of a kind (and the same letters)."""
    by_kind = {}
    for q in QUESTIONS:
        message = evaluate(q.name, ...).message
        key = (q.kind, tuple(sorted(q.choices or ())))
        by_kind.setdefault(key, set()).add(message)
        if q.kind != "choice":  # a choice's message lists the letters, the same for all
            assert (
                str(SOLVED[q.name]) not in message and f"{SOLVED[q.name]:g}" not in message
                if q.kind == "number"
                else str(SOLVED[q.name]) not in message
            )
    assert all(len(messages) == 1 for messages in by_kind.values()), by_kind


@pytest.mark.slow
def test_exercise_notebooks_hold_no_answer_and_no_feedback():
    """What a reader is given: each question cell assigns ``...``, and no explanation of a
    wrong or right answer (grader-side text) appears anywhere in exercises/."""
    text = "\n".join(
        notebook.cell_source(c) for p in EXERCISES.glob("*.ipynb") for c in notebook.read_notebook(p)["cells"]
    )
    for q in QUESTIONS:
        cells = [
            c
            for p in EXERCISES.glob("*.ipynb")
            for c in notebook.read_notebook(p)["cells"]
            if notebook.exercise_meta(c).get("exercise") == q.name
        ]
        assert [notebook.cell_source(c) for c in cells] == [f"{q.name} = ...  # your answer here"]
        assert q.explanation and q.explanation not in text
        wrong = [
            evaluate(q.name, letter).message.split(": ", 1)[1]
            for letter in (q.choices or {})
            if letter != SOLVED[q.name]
        ]
        assert not [w for w in wrong if w in text], q.name


def _question_attack(tmp_path: Path, *options: str) -> dict:
    """Chapter 3's solutions whose ReLU question cell hunts for its answer in the
    submission's process: imports, files of the runtime it can read, live objects."""
    path = chapter3_with_cell(tmp_path / "hunter.ipynb", "relu_check_at_kink", HUNT)
    out = tmp_path / "r.json"
    assert cli.main([str(path), "--json", str(out), "--quiet", "--timeout", "20", *options]) == 0
    return json.loads(out.read_text())


HUNT = (  # the ReLU question's cell: answers 'b' if it finds anything of the grader's
    "import gc, importlib, os, sys\n"
    "found = []\n"
    "for module in ('minidl_grader.specs.ch03', 'minidl_grader.judge.questions', "
    "'minidl_grader.judge.registry', 'minidl_grader.judge.judging', 'minidl_grader.judge.private_checks'):\n"
    "    try:\n        importlib.import_module(module); found.append(module)\n"
    "    except Exception:\n        pass\n"
    "for package in ('minidl', 'minidl_grader'):\n"
    "    try:\n        top = os.path.dirname(importlib.import_module(package).__file__)\n"
    "    except Exception:\n        continue\n"
    "    for folder, _, files in os.walk(top):\n"
    "        for name in files:\n"
    "            try:\n"
    "                if b'averages the slopes' in open(os.path.join(folder, name), 'rb').read():\n"
    "                    found.append(name)\n"
    "            except OSError:\n                pass\n"
    "try:  # the sandbox's audit hook refuses the crawl (issue 68): the files are still hunted\n"
    "    found += [o for o in gc.get_objects() if type(o).__name__ == 'Exercise']\n"
    "except PermissionError:\n    pass\n"
    "relu_check_at_kink = 'b' if found else 'd'\n"
)


def test_the_hunt_finds_the_answer_where_the_grader_runs():
    """The attack below is a real one: in a process that holds the grader (the reader's
    own notebook, or the grader), it finds the answer."""
    namespace = {}
    exec(HUNT, namespace)
    assert namespace["relu_check_at_kink"] == SOLVED["relu_check_at_kink"] == "b"
    assert any(isinstance(f, str) and f.endswith(("ch03.py", "quiz.toml")) for f in namespace["found"])


def _relu(data: dict) -> dict:
    return next(t for t in data["tests"] if t["name"] == "relu_check_at_kink")


def test_the_submissions_process_cannot_find_an_answer_not_isolated(tmp_path):
    data = _question_attack(tmp_path, "--no-isolation")
    assert _relu(data)["score"] == 0 and _relu(data)["output"].startswith("(d) is not right"), _relu(data)
    others = [t for t in data["tests"] if t["name"] != "relu_check_at_kink"]
    assert all(t["status"] == "passed" for t in others), others


@pytest.mark.sandbox
@pytest.mark.skipif(isolation.bwrap_missing(), reason=f"bubblewrap cannot isolate here: {WHY_NOT}")
def test_the_submissions_process_cannot_find_an_answer_isolated(tmp_path):
    data = _question_attack(tmp_path)
    assert data["extra_data"]["isolated"]
    assert _relu(data)["score"] == 0 and _relu(data)["output"].startswith("(d) is not right"), _relu(data)


# ------------------------------------------------------------------ release
def test_a_question_is_released_as_an_unanswered_assignment():
    source = "# comment\n# BEGIN SOLUTION\n# why\nanswer_me = (8, 16)\n# END SOLUTION\n"
    assert (
        notebook.strip_solutions(source, question=True) == "# comment\nanswer_me = ...  # your answer here\n"
    )
    with pytest.raises(ValueError, match="one line `name = answer`"):
        notebook.strip_solutions("# BEGIN SOLUTION\nx = 1\ny = 2\n# END SOLUTION\n", question=True)


def test_release_checks_that_the_notebook_states_every_choice(tmp_path):
    nb = notebook.read_notebook(CHAPTER3)
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = notebook.cell_source(cell).replace(
                "**(c)** 1, the slope", "**(c)** one, the slope"
            )
        if notebook.exercise_meta(cell).get("exercise") == "chain_rule_overwrite":
            del cell["metadata"]["minidl"]["question"]
    problems = release.validate_solution(nb, CHAPTER3)
    assert any("the choice '**(c)** 1, the slope of ReLU" in p for p in problems), problems
    assert any("chain_rule_overwrite: metadata.minidl.question is None" in p for p in problems), problems
