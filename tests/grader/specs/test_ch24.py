"""Chapter 24's exercises: every usual mistake its spec lists scores below full marks on the
cases a grade is drawn from, and is named; the reference passes. (Solutions scoring full marks
and fresh exercises scoring 0 are checked for every chapter in tests/grader/test_runner.py.)"""

import copy

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.specs import ch24

MISTAKES = {
    "n_step_returns": [
        (lambda *a, m=m: ch24._n_step_variant(*a, m), words)
        for m, words in (
            ("no cut", "runs on across an episode end"),
            ("truncation as termination", "truncated episode is treated as terminated"),
            ("terminal bootstrapped", "terminated episode is bootstrapped"),
            ("batch end", "batch's last step is not bootstrapped"),
            ("short", "holds n - 1 rewards"),
            ("long", "holds n + 1 rewards"),
        )
    ],
    "gae_advantages": [(lambda *a: ch24._gae(*a, tuple(ch24.GAE_BUGS)), "the code as given")]
    + [
        (lambda *a, b=b: ch24._gae(*a, (b,)), words)
        for b, words in (
            ("index", "read one step late"),
            ("last", "last step is never cut"),
            ("one flag", "one flag cuts both"),
            ("next value", "read from the next row"),
        )
    ],
    "policy_action_values": [
        (ch24._optimal_values, "optimal action values"),
        (ch24._transposed, "read transposed"),
        (ch24._renormalised, "episode's end is ignored"),
        (ch24._hundred_sweeps, "100 sweeps"),
        (ch24._reward_discounted, "reward is discounted"),
    ],
    "subtraction_game_lengths": [
        (lambda *a, m=m: ch24._lengths_variant(*a, m), words)
        for m, words in (
            ("both hurry", "loser hurries too"),
            ("winner dawdles", "roles are swapped"),
            ("any move", "taken over every move"),
            ("swapped", "misère play are swapped"),
            ("too large", "larger than the heap"),
        )
    ],
}


def failures(name, answer, seed):
    """The judge's messages for ``answer`` on the cases drawn with ``seed`` (None: passed)."""
    exercise = registry.get(name)
    cases = exercise.make_cases(np.random.default_rng(seed))
    return [exercise.judge(case, answer(*copy.deepcopy(case.args))) for case in cases]


def test_the_chapter_has_four_code_exercises_and_two_questions():
    items = registry.for_chapter("24_game_playing")
    assert sum(not e.is_question for e in items) == 4 and sum(e.is_question for e in items) == 2
    assert set(MISTAKES) == {e.name for e in items if not e.is_question}


@pytest.mark.parametrize("name", sorted(MISTAKES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_reference_passes_every_case(name, seed):
    messages = failures(name, getattr(ch24, name), seed)
    assert messages and all(m is None for m in messages), messages


@pytest.mark.parametrize(
    "name, mistake, words",
    [(name, fn, words) for name, pairs in MISTAKES.items() for fn, words in pairs],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_usual_mistake_fails_and_is_named(name, mistake, words, seed):
    messages = [m for m in failures(name, mistake, seed) if m is not None]
    assert messages, f"{words!r} passes {name}"
    assert any(words in m for m in messages), messages


def test_n_step_returns_by_hand():
    rewards = np.array([[1.0], [2.0], [4.0], [8.0]])
    next_values = np.array([[10.0], [20.0], [30.0], [40.0]])
    no = np.zeros((4, 1), bool)
    g = ch24.n_step_returns(rewards, no, no, next_values, 0.5, 2)
    np.testing.assert_allclose(
        g[:, 0], [1 + 0.5 * 2 + 0.25 * 20, 2 + 0.5 * 4 + 0.25 * 30, 4 + 0.5 * 8 + 0.25 * 40, 8 + 0.5 * 40]
    )
    truncated = np.array([[False], [True], [False], [False]])
    g = ch24.n_step_returns(rewards, no, truncated, next_values, 0.5, 3)
    np.testing.assert_allclose(g[:2, 0], [1 + 0.5 * 2 + 0.25 * 20, 2 + 0.5 * 20])
    g = ch24.n_step_returns(rewards, truncated, no, next_values, 0.5, 3)
    np.testing.assert_allclose(g[:2, 0], [1 + 0.5 * 2, 2])
    # a window longer than the batch: the full return, bootstrapped at the end
    g = ch24.n_step_returns(rewards, no, no, next_values, 0.5, 10)
    np.testing.assert_allclose(g[0, 0], 1 + 0.5 * 2 + 0.25 * 4 + 0.125 * 8 + 0.0625 * 40)


def test_gae_is_the_lambda_weighted_mean_of_the_n_step_advantages():
    rng = np.random.default_rng(5)
    rewards, terminated, truncated, values, next_values = ch24._rollout(rng, 6, 3)
    gamma, lam = 0.9, 0.7
    steps = len(rewards)
    mean = sum(
        (1 - lam)
        * lam ** (k - 1)
        * (ch24.n_step_returns(rewards, terminated, truncated, next_values, gamma, k) - values)
        for k in range(1, steps + 1)
    ) + lam**steps * (
        ch24.n_step_returns(rewards, terminated, truncated, next_values, gamma, steps + 1) - values
    )
    got = ch24.gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam)
    np.testing.assert_allclose(got, mean)


def test_policy_action_values_satisfy_their_bellman_equation():
    rng = np.random.default_rng(0)
    P, R, policy = ch24._mdp(rng, 5, 3, 0.9, False)
    q = ch24.policy_action_values(P, R, policy, 0.95)
    np.testing.assert_allclose(q, R + 0.95 * P @ np.sum(policy * q, axis=1))


def test_the_game_lengths_follow_from_the_rules():
    # moves {1, 2}, normal play: a multiple of 3 loses; the winner takes h % 3 and then answers 3
    outcome, length = ch24.subtraction_game_lengths(9, (1, 2), misere=False)
    np.testing.assert_array_equal(outcome, [-1 if h % 3 == 0 else 1 for h in range(10)])
    # the loser of a multiple of 3 takes 1 stone each time: 2 moves per round of 3 stones
    np.testing.assert_array_equal(length[[0, 3, 6, 9]], [0, 2, 4, 6])
    # moves {1, 3, 4}: from 3, taking all three wins at once (taking 1 would also win, later)
    outcome, length = ch24.subtraction_game_lengths(4, (1, 3, 4), misere=False)
    np.testing.assert_array_equal(outcome, [-1, 1, -1, 1, 1])
    np.testing.assert_array_equal(length, [0, 1, 2, 1, 1])
