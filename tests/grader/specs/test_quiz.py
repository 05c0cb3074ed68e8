"""The questions cannot be passed by guessing: letters spread, lengths mixed, behaviours asked.

A reader who always answers the most frequent letter, or the longest option, must score
little; at least a third of the questions ask to predict or explain a behaviour rather
than to compute a shape or a count. The questions are data (``specs/quiz.toml``); each
wrong option carries its own feedback (checked in ``tests/grader/judge/test_questions.py``).
"""

from collections import Counter

import pytest
from minidl_grader.judge import registry
from minidl_grader.specs import quiz

QUESTIONS = quiz.load()
CHOICES = [q for q in QUESTIONS if q["kind"] == "choice"]


def _longest(q):
    return max(q["choices"], key=lambda letter: len(q["choices"][letter]))


def _shortest(q):
    return min(q["choices"], key=lambda letter: len(q["choices"][letter]))


def test_no_letter_is_right_in_more_than_40_percent_and_every_letter_is_used():
    letters = Counter(q["answer"] for q in CHOICES)
    assert set(letters) == {"a", "b", "c", "d"}, letters
    assert max(letters.values()) <= 0.4 * len(CHOICES), letters


def test_the_right_option_is_rarely_the_longest_or_the_shortest():
    longest = [q["name"] for q in CHOICES if _longest(q) == q["answer"]]
    shortest = [q["name"] for q in CHOICES if _shortest(q) == q["answer"]]
    assert len(longest) <= len(CHOICES) / 3, f"the right option is the longest in {longest}"
    assert len(shortest) <= len(CHOICES) / 3, f"the right option is the shortest in {shortest}"


def test_a_third_of_the_questions_ask_to_predict_or_explain():
    asks = Counter(q["asks"] for q in QUESTIONS)
    assert set(asks) <= {"predict", "explain", "compute"}, asks
    assert asks["predict"] + asks["explain"] >= len(QUESTIONS) / 3, asks


@pytest.mark.parametrize("question", CHOICES, ids=lambda q: q["name"])
def test_every_wrong_option_has_feedback_of_its_own(question):
    wrong = set(question["choices"]) - {question["answer"]}
    assert set(question["wrong"]) == wrong
    assert len({question["wrong"][letter] for letter in wrong}) == len(wrong)


def test_every_chapter_has_three_code_exercises_and_two_questions():
    counts = registry.counts()
    assert sorted(counts) == list(registry.CHAPTERS)
    for chapter in registry.CHAPTERS:
        assert counts[chapter]["questions"] >= 2, (chapter, counts[chapter])
    thin = {c: counts[c]["code"] for c in registry.CHAPTERS if counts[c]["code"] < 3}
    assert not thin, f"chapters with fewer than 3 code exercises: {thin}"


def test_every_question_in_the_data_is_registered_in_its_chapter():
    for q in QUESTIONS:
        exercise = registry.get(q["name"])
        assert exercise.chapter == q["chapter"] and exercise.kind == q["kind"]
