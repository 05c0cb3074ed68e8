"""Reinforcement learning by hand: a batched CartPole, returns, the two losses, a replay
buffer, and tic-tac-toe with a perfect (minimax) judge. Chapter 24 builds on them.

The pieces, each small enough to read on one screen:

* ``CartPole`` -- Gymnasium's ``CartPole-v1`` dynamics for N environments at once in NumPy
  (the same equations, constants, thresholds, time limit and reset distribution; the tests
  check it step for step against ``gymnasium.make("CartPole-v1")``). Finished environments
  restart in the same ``step`` call, so a rollout is a plain loop.
* ``discounted_returns`` -- ``G_t = r_t + gamma (1 - done_t) G_{t+1}``, backwards through a
  (T, N) batch of rewards, bootstrapped from a value after the last step.
* ``PolicyGradientLoss`` -- ``-mean(A_n log softmax(z_n)[a_n]) - beta * mean(entropy)`` of
  logits z: its gradient is the policy-gradient estimator (Williams, 1992).
* ``HuberLoss`` -- the DQN loss (Mnih et al., 2015) on the Q-value of the action taken.
* ``ReplayBuffer`` -- a circular buffer of transitions with uniform sampling.
* ``TicTacToe`` helpers and ``solve`` -- the memoised minimax value of every position.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from ..nn.losses import Huber, Loss

__all__ = ["CartPole", "evaluate", "discounted_returns", "log_softmax", "PolicyGradientLoss", "HuberLoss"]
__all__ += ["ReplayBuffer", "LINES", "winner", "legal_moves", "solve", "perfect_moves", "board_str"]


# ------------------------------------------------------------------ CartPole
class CartPole:
    """``num_envs`` copies of Gymnasium's CartPole-v1, stepped together in NumPy.

    State per environment: ``(x, x_dot, theta, theta_dot)`` (m, m/s, rad, rad/s), float64;
    observations are the state as float32, as Gymnasium returns them. Action 0 pushes the
    cart left with 10 N, action 1 right. Every step earns reward 1 (the failing step too).
    An episode *terminates* when ``|x| > 2.4`` or ``|theta| > 12 degrees`` and is
    *truncated* after ``max_steps`` = 500 steps.

    ``step`` restarts every finished environment at once (Gymnasium's "same-step" autoreset):
    the observation it returns for that environment is the first of the new episode, and
    ``final_obs`` holds the last one of the old (needed to bootstrap a truncated episode).
    """

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self, num_envs: int, max_steps: int = 500, seed: int | None = None):
        if int(num_envs) < 1:
            raise ValueError(f"CartPole needs num_envs >= 1, got {num_envs}")
        self.num_envs, self.max_steps = int(num_envs), int(max_steps)
        self.rng = np.random.default_rng(seed)
        self.state = np.zeros((self.num_envs, 4))
        self.steps = np.zeros(self.num_envs, dtype=np.int64)

    def reset(self) -> np.ndarray:
        """Start every environment: state uniform in [-0.05, 0.05]^4; returns obs (N, 4) float32."""
        self.state = self.rng.uniform(-0.05, 0.05, size=(self.num_envs, 4))
        self.steps[:] = 0
        return self.state.astype(np.float32)

    def dynamics(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        """One Euler step of 0.02 s for states (N, 4) and actions (N,): the new states (N, 4)."""
        x, x_dot, theta, theta_dot = state.T
        force = self.force_mag * (2.0 * action - 1.0)  # +10 N for action 1, -10 N for action 0
        cos, sin = np.cos(theta), np.sin(theta)
        total_mass = self.masspole + self.masscart
        polemass_length = self.masspole * self.length
        temp = (force + polemass_length * np.square(theta_dot) * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * np.square(cos) / total_mass)
        )
        x_acc = temp - polemass_length * theta_acc * cos / total_mass
        new = np.empty_like(state)
        new[:, 0] = x + self.tau * x_dot
        new[:, 1] = x_dot + self.tau * x_acc
        new[:, 2] = theta + self.tau * theta_dot
        new[:, 3] = theta_dot + self.tau * theta_acc
        return new

    def step(self, action):
        """Advance every environment by one step.

        action (N,) ints in {0, 1} -> ``(obs, reward, terminated, truncated, final_obs)``:
        obs (N, 4) float32 (a new episode's first observation where one ended), reward (N,)
        float64 of ones, terminated and truncated (N,) bool, final_obs (N, 4) float32 the
        observation reached by this step before any restart (the same array as obs when no
        environment restarted).
        """
        action = np.asarray(action)
        if action.shape != (self.num_envs,) or (action * (1 - action)).any():  # 0 only for 0 and 1
            raise ValueError(f"CartPole.step expected {self.num_envs} actions in {{0, 1}}, got {action!r}")
        self.state = self.dynamics(self.state, action)
        self.steps += 1
        terminated = (np.abs(self.state[:, 0]) > self.x_threshold) | (
            np.abs(self.state[:, 2]) > self.theta_threshold
        )
        truncated = (self.steps >= self.max_steps) & ~terminated
        final_obs = obs = self.state.astype(np.float32)
        done = terminated | truncated
        if done.any():
            self.state[done] = self.rng.uniform(-0.05, 0.05, size=(int(done.sum()), 4))
            self.steps[done] = 0
            obs = self.state.astype(np.float32)
        return obs, np.ones(self.num_envs), terminated, truncated, final_obs


def evaluate(act, episodes: int = 100, seed: int = 0, max_steps: int = 500) -> np.ndarray:
    """The return of each of ``episodes`` CartPole episodes, run side by side.

    ``act(obs (N, 4)) -> actions (N,)`` is the policy. Each environment plays exactly one
    episode; returns (episodes,) float64 (500 at most).
    """
    env = CartPole(episodes, max_steps=max_steps, seed=seed)
    obs = env.reset()
    returns = np.zeros(episodes)
    running = np.ones(episodes, dtype=bool)
    while running.any():
        obs, reward, terminated, truncated, _ = env.step(np.asarray(act(obs)))
        returns += reward * running
        running &= ~(terminated | truncated)
    return returns


# ------------------------------------------------------------------ returns
def discounted_returns(rewards, dones, gamma: float, last_value) -> np.ndarray:
    """Discounted returns of a batch of rollouts, cut at episode ends.

        G_t = r_t + gamma * (1 - done_t) * G_{t+1},      G_T = last_value

    rewards, dones (T, N): step t of environment n (done_t: the episode ended at step t, so
    nothing after it belongs to the same return); last_value (N,): the value estimate of the
    state after the last step (0 to bootstrap from nothing). Returns G (T, N) float64.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    dones = np.asarray(dones, dtype=bool)
    if rewards.ndim != 2 or dones.shape != rewards.shape:
        raise ValueError(
            f"discounted_returns expected rewards and dones of one shape (T, N), got {rewards.shape} and {dones.shape}"
        )
    returns = np.zeros_like(rewards)
    g = np.broadcast_to(np.asarray(last_value, dtype=np.float64), rewards.shape[1:]).copy()
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * (~dones[t]) * g
        returns[t] = g
    return returns


# ------------------------------------------------------------------ losses
def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax`` of logits z (N, A), computed stably."""
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _actions_and(y_true, y_pred, who: str, what: str):
    """A loss's ``y_true = (actions, values)`` as arrays (N,), the values in ``y_pred``'s dtype."""
    actions, values = np.asarray(y_true[0]), np.asarray(y_true[1], dtype=y_pred.dtype)
    n = len(y_pred)
    if actions.shape != (n,) or values.shape != (n,):
        raise ValueError(
            f"{who} expected actions and {what} of shape ({n},), got {actions.shape} and {values.shape}"
        )
    return actions, values


class PolicyGradientLoss(Loss):
    """The policy-gradient surrogate of a softmax policy, with an entropy bonus.

        L = -1/N sum_n A_n log pi(a_n | s_n)  -  beta/N sum_n H(pi(. | s_n))
        pi = softmax(z),   H = -sum_a pi_a log pi_a

    Called as ``loss(logits, (actions, advantages))``: logits z (N, A), actions (N,) ints,
    advantages A (N,) floats (constants: no gradient flows into them). Its gradient is

        dL/dz_n = A_n (pi_n - onehot(a_n)) / N  +  beta pi_n (log pi_n + H_n) / N

    whose expectation is minus the policy gradient of Williams (1992).
    """

    symmetric = True  # y_true is a pair, not targets the order check could confuse

    def __init__(self, entropy: float = 0.0):
        super().__init__()
        self.entropy = float(entropy)

    def compute(self, y_pred, y_true):
        actions, advantages = _actions_and(y_true, y_pred, "PolicyGradientLoss", "advantages")
        n, a = y_pred.shape
        log_pi = log_softmax(y_pred)
        pi = np.exp(log_pi)
        onehot = np.eye(a, dtype=y_pred.dtype)[actions]
        entropy = -(pi * log_pi).sum(axis=1)
        losses = -advantages * log_pi[np.arange(n), actions] - self.entropy * entropy
        grad = advantages[:, None] * (pi - onehot) + self.entropy * pi * (log_pi + entropy[:, None])
        return losses, grad / n


class HuberLoss(Loss):
    """Huber loss of the Q-value of the action taken (DQN's loss, Mnih et al. 2015).

        d_n = Q(s_n)[a_n] - y_n,   huber(d) = d^2 / 2 if |d| <= delta else delta (|d| - delta / 2)
        L = 1/N sum_n huber(d_n)

    Called as ``loss(q, (actions, targets))``: q (N, A), actions (N,) ints, targets y (N,)
    (constants). The Huber loss itself is ``minidl.nn.losses.Huber``'s, applied to the column of
    the action taken; so the gradient reaches only that column:
    ``dL/dq[n, a_n] = clip(d_n, -delta, delta) / N``, 0 elsewhere -- an error larger than
    delta pushes with a fixed force instead of a growing one.
    """

    symmetric = True

    def __init__(self, delta: float = 1.0):
        super().__init__()
        self._huber = Huber(delta)  # the one Huber loss, on the chosen column
        self.delta = self._huber.delta

    def compute(self, y_pred, y_true):
        actions, targets = _actions_and(y_true, y_pred, "HuberLoss", "targets")
        n = len(y_pred)
        losses, d_chosen = self._huber.compute(y_pred[np.arange(n), actions], targets)
        grad = np.zeros_like(y_pred)
        grad[np.arange(n), actions] = d_chosen
        return losses, grad


# ------------------------------------------------------------------ replay buffer
class ReplayBuffer:
    """The last ``capacity`` transitions ``(s, a, r, s', terminated)``, sampled uniformly.

    Stored in preallocated arrays, written circularly: once full, the oldest is overwritten.
    ``add`` takes a batch (B, ...) of transitions (one per environment); ``sample(n, rng)``
    returns a dict of arrays with n rows drawn with replacement.
    """

    def __init__(self, capacity: int, obs_dim: int):
        self.capacity = int(capacity)
        self.obs = np.zeros((self.capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((self.capacity, obs_dim), np.float32)
        self.action = np.zeros(self.capacity, np.int64)
        self.reward = np.zeros(self.capacity, np.float32)
        self.terminated = np.zeros(self.capacity, bool)
        self.size = 0
        self.position = 0

    def add(self, obs, action, reward, next_obs, terminated) -> None:
        rows = (self.position + np.arange(len(action))) % self.capacity
        self.obs[rows], self.action[rows], self.reward[rows] = obs, action, reward
        self.next_obs[rows], self.terminated[rows] = next_obs, terminated
        self.position = int((self.position + len(action)) % self.capacity)
        self.size = min(self.size + len(action), self.capacity)

    def sample(self, n: int, rng: np.random.Generator) -> dict:
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        i = rng.integers(0, self.size, size=n)
        return {key: getattr(self, key)[i] for key in ("obs", "action", "reward", "next_obs", "terminated")}

    def __len__(self) -> int:
        return self.size


# ------------------------------------------------------------------ tic-tac-toe
#: the 8 lines of three squares (rows, columns, diagonals); squares numbered 0..8 row by row
LINES = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]])


def winner(boards) -> np.ndarray:
    """+1 or -1 where that player holds a line, else 0; boards (..., 9) of +1, -1, 0."""
    sums = np.asarray(boards)[..., LINES].sum(axis=-1)  # (..., 8)
    return np.where((sums == 3).any(axis=-1), 1, np.where((sums == -3).any(axis=-1), -1, 0))


def legal_moves(board) -> list[int]:
    """The empty squares of a board (9,) that is not finished; [] once someone has won."""
    board = np.asarray(board)
    return [] if winner(board) != 0 else [int(i) for i in np.flatnonzero(board == 0)]


@cache
def _solve(board: tuple, player: int) -> int:
    """Minimax value for +1 of ``board`` with ``player`` to move: +1 win, 0 draw, -1 loss."""
    w = int(winner(board))
    empty = [i for i, v in enumerate(board) if v == 0]
    if w != 0 or not empty:
        return w
    values = [_solve(board[:i] + (player,) + board[i + 1 :], -player) for i in empty]
    return max(values) if player == 1 else min(values)


def solve(board, player: int) -> int:
    """The game-theoretic value, for player +1, of ``board`` (9,) with ``player`` to move.

    Memoised minimax: each of the 5,478 reachable positions is searched once.
    """
    return _solve(tuple(int(v) for v in np.asarray(board).ravel()), int(player))


def perfect_moves(board, player: int) -> list[int]:
    """Every move that keeps ``player``'s minimax value: all of a perfect player's choices."""
    board = tuple(int(v) for v in np.asarray(board).ravel())
    values = {m: player * _solve(board[:m] + (player,) + board[m + 1 :], -player) for m in legal_moves(board)}
    best = max(values.values())
    return [m for m, v in values.items() if v == best]


def board_str(board) -> str:
    """Three lines such as ``X O .``: X for +1, O for -1."""
    marks = {1: "X", -1: "O", 0: "."}
    board = [int(v) for v in np.asarray(board).ravel()]
    return "\n".join(" ".join(marks[v] for v in board[r * 3 : r * 3 + 3]) for r in range(3))
