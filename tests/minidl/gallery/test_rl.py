"""minidl.gallery.rl: the batched CartPole against Gymnasium step for step, returns cut at
episode ends, the two losses' gradients, the replay buffer, and the tic-tac-toe judge."""

import numpy as np
import pytest

from minidl.gallery import rl
from minidl.nn.gradcheck import check_loss

gym = pytest.importorskip("gymnasium")


# ------------------------------------------------------------------ CartPole
def test_cartpole_follows_gymnasium_step_for_step():
    """Same state in, same action: the same next state, the same terminated and truncated
    flags, over whole episodes (random actions) including one that reaches the time limit."""
    reference = gym.make("CartPole-v1")
    ours = rl.CartPole(1, seed=0)
    rng = np.random.default_rng(1)
    balancing = 0  # episodes that ended by truncation: the time limit was exercised
    for episode in range(6):
        obs, _ = reference.reset(seed=episode)
        ours.reset()
        ours.state[0] = reference.unwrapped.state
        done = False
        while not done:
            if episode < 3:
                action = int(rng.integers(0, 2))
            else:  # a simple controller that keeps the pole up for the whole 500 steps
                action = int(obs[2] + 0.5 * obs[3] > 0)
            obs, reward, terminated, truncated, _ = reference.step(action)
            ours_obs, ours_reward, ours_term, ours_trunc, final_obs = ours.step(np.array([action]))
            np.testing.assert_allclose(final_obs[0], obs, rtol=1e-6, atol=1e-7)
            assert (ours_reward[0], ours_term[0], ours_trunc[0]) == (reward, terminated, truncated)
            done = terminated or truncated
            if not done:
                np.testing.assert_allclose(ours.state[0], reference.unwrapped.state, rtol=1e-12, atol=1e-14)
                assert np.array_equal(ours_obs[0], final_obs[0])
        balancing += truncated
    assert balancing >= 1, "no episode reached the 500-step limit: truncation went untested"


def test_cartpole_restarts_finished_environments_in_the_same_step():
    env = rl.CartPole(3, max_steps=5, seed=0)
    obs = env.reset()
    assert obs.shape == (3, 4) and obs.dtype == np.float32 and np.abs(obs).max() <= 0.05
    for _ in range(4):
        obs, reward, terminated, truncated, final = env.step(np.array([0, 1, 0]))
        assert not (terminated | truncated).any()
    obs, reward, terminated, truncated, final = env.step(np.array([0, 1, 0]))
    assert truncated.all() and not terminated.any() and np.all(reward == 1)
    assert np.abs(obs).max() <= 0.05 and np.abs(final).max() > 0.05  # new episodes; the old ends kept
    assert np.all(env.steps == 0)


def test_cartpole_refuses_bad_actions():
    env = rl.CartPole(2, seed=0)
    env.reset()
    with pytest.raises(ValueError, match="expected 2 actions"):
        env.step(np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="in \\{0, 1\\}"):
        env.step(np.array([0, 2]))


def test_evaluate_runs_one_episode_per_environment():
    pushes_left = rl.evaluate(lambda obs: np.zeros(len(obs), int), episodes=7, seed=0)
    assert pushes_left.shape == (7,) and np.all((pushes_left >= 8) & (pushes_left <= 11))
    controller = rl.evaluate(lambda obs: (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(int), episodes=5, seed=0)
    assert np.all(controller == 500)


# ------------------------------------------------------------------ returns
def test_discounted_returns_stop_at_episode_ends_and_bootstrap_after_the_last_step():
    rewards = np.array([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])  # (T=3, N=2)
    dones = np.array([[False, False], [True, False], [False, False]])
    g = rl.discounted_returns(rewards, dones, gamma=0.5, last_value=np.array([8.0, 4.0]))
    expected = np.array(
        [
            [1 + 0.5 * 2, 1 + 0.5 * (1 + 0.5 * (1 + 0.5 * 4))],
            [2.0, 1 + 0.5 * (1 + 0.5 * 4)],
            [3 + 0.5 * 8, 1 + 0.5 * 4],
        ]
    )
    np.testing.assert_allclose(g, expected)


def test_discounted_returns_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(T, N\)"):
        rl.discounted_returns(np.ones((3, 2)), np.zeros((3, 1), bool), 0.9, 0.0)


# ------------------------------------------------------------------ losses
@pytest.mark.parametrize("entropy", [0.0, 0.05])
def test_policy_gradient_loss_gradient(entropy, rng):
    logits = rng.standard_normal((6, 3))
    actions, advantages = rng.integers(0, 3, 6), rng.standard_normal(6)
    report = check_loss(rl.PolicyGradientLoss(entropy), logits, (actions, advantages))
    assert report.passed, report


def test_policy_gradient_without_entropy_is_advantage_times_pi_minus_onehot(rng):
    logits = rng.standard_normal((4, 2))
    actions, advantages = np.array([0, 1, 1, 0]), np.array([1.0, -2.0, 0.5, 0.0])
    loss = rl.PolicyGradientLoss()
    value = loss(logits, (actions, advantages))
    pi = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(value, -np.mean(advantages * np.log(pi[np.arange(4), actions])))
    np.testing.assert_allclose(loss.backward(), advantages[:, None] * (pi - np.eye(2)[actions]) / 4)


@pytest.mark.parametrize("scale", [0.3, 3.0])  # inside and outside the quadratic zone
def test_huber_loss_gradient(scale, rng):
    q = rng.standard_normal((5, 2)) * scale
    actions, targets = rng.integers(0, 2, 5), rng.standard_normal(5) * scale
    report = check_loss(rl.HuberLoss(), q, (actions, targets))
    assert report.passed, report


def test_huber_loss_values_and_the_untaken_actions_get_no_gradient():
    q = np.array([[0.0, 0.5], [4.0, 0.0]])
    loss = rl.HuberLoss(delta=1.0)
    value = loss(q, (np.array([1, 0]), np.array([0.0, 0.0])))
    assert value == pytest.approx((0.5 * 0.25 + (4.0 - 0.5)) / 2)
    np.testing.assert_allclose(loss.backward(), [[0.0, 0.25], [0.5, 0.0]])


def test_losses_refuse_mismatched_actions():
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        rl.HuberLoss()(np.zeros((3, 2)), (np.zeros(2, int), np.zeros(3)))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        rl.PolicyGradientLoss()(np.zeros((3, 2)), (np.zeros(3, int), np.zeros(4)))


# ------------------------------------------------------------------ replay buffer
def test_replay_buffer_overwrites_the_oldest_and_samples_what_it_holds(rng):
    buffer = rl.ReplayBuffer(capacity=5, obs_dim=2)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1, rng)
    for start in (0, 3, 6):  # 9 transitions into 5 slots
        actions = np.arange(start, start + 3)
        obs = np.stack([actions, actions], axis=1).astype(np.float32)
        buffer.add(obs, actions, np.ones(3), obs + 1, actions % 2 == 0)
    assert len(buffer) == 5 and sorted(buffer.action) == [4, 5, 6, 7, 8]
    batch = buffer.sample(50, rng)
    assert set(batch["action"]) <= {4, 5, 6, 7, 8}
    np.testing.assert_array_equal(batch["obs"][:, 0], batch["action"])
    np.testing.assert_array_equal(batch["next_obs"], batch["obs"] + 1)
    np.testing.assert_array_equal(batch["terminated"], batch["action"] % 2 == 0)


# ------------------------------------------------------------------ tic-tac-toe
def test_winner_finds_every_line():
    for line in rl.LINES:
        board = np.zeros(9, int)
        board[line] = -1
        assert rl.winner(board) == -1 and rl.winner(-board) == 1
    assert rl.winner(np.array([1, -1, 1, 1, -1, -1, -1, 1, 1])) == 0


def test_minimax_values_of_known_positions():
    assert rl.solve(np.zeros(9), 1) == 0  # tic-tac-toe is a draw
    assert sorted(rl.perfect_moves(np.zeros(9), 1)) == list(range(9))  # every opening draws
    assert rl._solve.cache_info().currsize >= 5478  # memoised: the reachable positions
    # X on 0 and 1, O on 3 and 4. X to move wins only by completing the row on 2. O to move
    # wins on 5 at once or by blocking on 2 (a second threat follows); any other move loses
    board = np.array([1, 1, 0, -1, -1, 0, 0, 0, 0])
    assert rl.solve(board, 1) == 1 and rl.perfect_moves(board, 1) == [2]
    assert rl.solve(board, -1) == -1 and rl.perfect_moves(board, -1) == [2, 5]
    # O answering a corner opening on an edge loses; the centre holds the draw
    corner = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0])
    assert rl.perfect_moves(corner, -1) == [4]
    assert rl.legal_moves(np.array([1, 1, 1, -1, -1, 0, 0, 0, 0])) == []
    assert rl.board_str(board) == "X X .\nO O .\n. . ."
