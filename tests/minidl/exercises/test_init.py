"""``minidl.exercises``: hint() level by level, "did you mean" for a misspelt name, messages
wrapped at word boundaries. (check() on the public cases: tests/grader/test_public.py.)"""

import pytest

import minidl.exercises as ex
from minidl.exercises import data


@pytest.fixture(autouse=True)
def fresh_hints(monkeypatch):
    monkeypatch.setattr(ex, "_hints_given", {})
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")


def test_every_code_exercise_has_a_nudge_then_an_idea():
    index, _ = data.load()
    missing = [
        n for n, e in index["exercises"].items() if e["kind"] == "code" and len(e.get("hints", [])) < 2
    ]
    assert missing == [], f"no two hints in minidl_grader/specs/hints.toml for {missing}"


def test_hint_gives_the_next_level_at_each_call_then_says_it_was_the_last(capsys):
    hints = data.load()[0]["exercises"]["weight_norm_backward"]["hints"]

    def shown():
        return " ".join(capsys.readouterr().out.split())

    assert ex.hint("weight_norm_backward") is None  # printed, not returned (Jupyter would echo it)
    first = shown()
    assert first == "➜ weight_norm_backward, hint 1 of 2 (call hint again for the next): " + hints[0]
    ex.hint("weight_norm_backward")
    assert shown() == "➜ weight_norm_backward, hint 2 of 2: " + hints[1]
    ex.hint("weight_norm_backward")
    assert "that was the last of its 2 hints" in shown()
    ex.hint("weight_norm_backward", 1)
    assert shown() == first


def test_no_hint_gives_the_answer():
    """A hint never writes the reference's formula: none of the weight-norm backward's
    closed forms, no code (a hint may name a NumPy function, never call it on arguments)."""
    import re

    code = re.compile(r"np\.[\w.]+\(\w|\breturn [a-z_]+\s*[,(]|\bdef \w+\(|\w+\[.*\] \+?= ")
    index, _ = data.load()
    for name, entry in index["exercises"].items():
        for text in entry.get("hints", []):
            assert not code.search(text), (name, text)
    hints = " ".join(index["exercises"]["weight_norm_backward"]["hints"])
    assert "dg_j v_j / ||v_j||" not in hints and "x^T dy" not in hints


def test_a_question_has_no_hint_and_says_why(capsys):
    ex.hint("relu_check_at_kink")
    assert "a question: check() explains a wrong answer" in " ".join(capsys.readouterr().out.split())


def test_a_misspelt_name_gets_a_few_names_of_its_chapter():
    with pytest.raises(KeyError) as caught:
        ex.hint("weight_norm_bakward")
    message = str(caught.value)
    assert message == (
        "no exercise called 'weight_norm_bakward'; did you mean 'weight_norm_backward' (chapter 03_backpropagation)?"
    )
    with pytest.raises(KeyError, match="did you mean 'softmax_cross_entropy_backward'") as caught:
        ex.check("softmax_crossentropy_backward", None)
    assert "adamw_update" not in str(caught.value)  # never the whole list of names


def test_a_name_like_none_says_where_the_name_is_written():
    with pytest.raises(
        KeyError, match=r"use the name written in quotes in the exercise's own check\(...\) cell"
    ):
        ex.hint("zzzz")


def test_messages_wrap_at_word_boundaries(capsys):
    long_word = "x" * 30
    text = ex.say("✘", "some_exercise", ("the gradient is off by a factor " * 6) + long_word, width=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines[:-1]) and lines[-1].endswith(long_word)
    assert all(line.startswith("  ") for line in lines[1:])
    joined = " ".join(line.strip() for line in lines)
    assert joined == "✘ some_exercise: " + ("the gradient is off by a factor " * 6).strip() + " " + long_word
    assert capsys.readouterr().out == text + "\n"


def test_the_changed_input_is_named_by_its_path_once_for_check_and_the_probes():
    """``probes.changed_input`` (one function for check()'s calls and the kernels' probe)."""
    import numpy as np

    from minidl.exercises import probes

    before = (np.zeros(2), [np.ones(3), np.ones(1)], 5)
    after = (np.zeros(2), [np.ones(3), np.array([2.0])], 5)
    assert probes.changed_input(before, before) is None
    assert probes.changed_input(before, after, ("w", "grads")) == "`grads`[1]"
    assert probes.changed_input(before, after) == "argument 2[1]"
    assert [path for path, _ in probes.arrays_in(before[1], "g")] == ["g[0]", "g[1]"]
    assert probes._shares_memory([before[0][:1]], before) and not probes._shares_memory([np.zeros(2)], before)
