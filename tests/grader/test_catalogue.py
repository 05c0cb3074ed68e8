"""``minidl-grade mistakes --chapter NN``: the instructor's catalogue of the wrong answers
each exercise's cases catch."""

import pytest
from minidl_grader.__main__ import main
from minidl_grader.catalogue import PROBE_CATCHES, catalogue
from minidl_grader.judge import registry


def test_the_command_prints_every_exercise_of_the_chapter_and_its_mistakes(capsys):
    assert main(["mistakes", "--chapter", "07"]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # the lines are wrapped
    for exercise in registry.for_chapter("07_convolutional_networks"):
        if exercise.is_question:
            assert exercise.name not in printed
            continue
        assert f"{exercise.name} ({exercise.points} points)" in printed
        for mistake in exercise.catches + PROBE_CATCHES[exercise.probe]:
            assert " ".join(mistake.split()) in printed
    assert "the gradient goes to every tied maximum" in printed


def test_a_chapter_is_named_by_its_number_or_its_folder(capsys):
    assert main(["mistakes", "--chapter", "09_transfer_learning"]) == 0
    assert "layers[:-n] for n = 0" in capsys.readouterr().out


@pytest.mark.parametrize("chapter", ["99", "xx", "7"])
def test_an_unknown_chapter_is_a_usage_error(chapter, capsys):
    assert main(["mistakes", "--chapter", chapter]) == 2
    assert "no chapter" in capsys.readouterr().err


def test_every_code_exercise_lists_the_mistakes_it_catches():
    for chapter in registry.CHAPTERS:
        for exercise, mistakes in catalogue(chapter[:2]):
            own = exercise.catches
            assert len(own) >= 1, f"{exercise.name} lists no mistake of its own"
            assert len(mistakes) >= 2 and all(m.strip() for m in mistakes), exercise.name
