"""Chapter 22's exercises: every usual mistake its spec lists scores below full marks on the
cases a grade is drawn from, and is named; the reference passes. (Solutions scoring full marks
and fresh exercises scoring 0 are checked for every chapter in tests/grader/test_runner.py.)"""

import copy

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.specs import ch22

MISTAKES = {
    "returns_with_time_limit": [
        (ch22._returns_no_cut, "runs on across an episode end"),
        (ch22._returns_truncation_as_termination, "truncated episode is treated as terminated"),
        (ch22._returns_first_reward_discounted, "off-by-one in the discount"),
    ],
    "gae_advantages": [
        (ch22._gae_carried_across, "carried across an episode end"),
        (ch22._gae_terminal_bootstrapped, "terminated step is bootstrapped"),
        (ch22._gae_without_lambda, "lambda is missing"),
    ],
    "double_dqn_targets": [
        (ch22._dqn_target_network_max, "that is DQN's target"),
        (ch22._dqn_online_max, "online network evaluates its own choice"),
        (ch22._dqn_terminal_bootstrapped, "terminal state is bootstrapped"),
    ],
    "subtraction_game_values": [
        (ch22._game_swapped, "swapped"),
        (ch22._game_move_too_large, "larger than the heap"),
    ],
}


def failures(name, answer, seed):
    """The judge's messages for ``answer`` on the cases drawn with ``seed`` (None: passed)."""
    exercise = registry.get(name)
    cases = exercise.make_cases(np.random.default_rng(seed))
    return [exercise.judge(case, answer(*copy.deepcopy(case.args))) for case in cases]


def test_the_chapter_has_four_code_exercises_and_two_questions():
    items = registry.for_chapter("22_game_playing")
    assert sum(not e.is_question for e in items) == 4 and sum(e.is_question for e in items) == 2
    assert set(MISTAKES) == {e.name for e in items if not e.is_question}


@pytest.mark.parametrize("name", sorted(MISTAKES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_reference_passes_every_case(name, seed):
    messages = failures(name, getattr(ch22, name), seed)
    assert messages and all(m is None for m in messages), messages


@pytest.mark.parametrize(
    "name, mistake, words",
    [(name, fn, words) for name, pairs in MISTAKES.items() for fn, words in pairs],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_usual_mistake_fails_and_is_named(name, mistake, words, seed):
    messages = [m for m in failures(name, mistake, seed) if m is not None]
    assert messages, f"{mistake.__name__} passes {name}"
    assert any(words in m for m in messages), messages


def test_the_game_values_follow_from_the_rules():
    # moves {1, 2}, normal play: a heap that is a multiple of 3 loses for the player to move
    values = ch22.subtraction_game_values(9, (1, 2), misere=False)
    np.testing.assert_array_equal(values, [-1 if h % 3 == 0 else 1 for h in range(10)])
    # misère with moves {1}: whoever takes the last stone leaves the other unable to move, who wins
    np.testing.assert_array_equal(ch22.subtraction_game_values(4, (1,), misere=True), [1, -1, 1, -1, 1])


def test_returns_with_time_limit_by_hand():
    rewards = np.array([[1.0], [1.0], [1.0]])
    next_values = np.array([[10.0], [20.0], [30.0]])
    no = np.zeros((3, 1), bool)
    truncated = np.array([[False], [True], [False]])
    g = ch22.returns_with_time_limit(rewards, no, truncated, next_values, 0.5)
    np.testing.assert_allclose(g[:, 0], [1 + 0.5 * (1 + 0.5 * 20), 1 + 0.5 * 20, 1 + 0.5 * 30])
    terminated = truncated
    g = ch22.returns_with_time_limit(rewards, terminated, no, next_values, 0.5)
    np.testing.assert_allclose(g[:, 0], [1.5, 1.0, 1 + 0.5 * 30])
