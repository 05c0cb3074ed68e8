"""Chapter 22, game playing: the returns, advantages, targets and game values around the
chapter's reinforcement learning, each a step the chapter does not take.

Wrong answers the cases catch, by name:

* ``returns_with_time_limit`` -- bootstrapping across an episode end (no cut at all), a
  truncated episode treated as terminated (the bootstrap at the time limit lost), and an
  off-by-one in the discount (the first reward discounted too);
* ``gae_advantages`` -- the advantage carried across an episode end, a terminated step
  bootstrapped from V(s'), and lambda forgotten (gamma alone decays the sum);
* ``double_dqn_targets`` -- DQN's own target (the target network chooses and evaluates), the
  online network evaluating its own choice, and a terminal state bootstrapped;
* ``subtraction_game_values`` -- normal and misère play swapped, and a move larger than the
  heap allowed.
"""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "22_game_playing"


# ---------------------------------------------------------------- returns with a time limit
def returns_with_time_limit(rewards, terminated, truncated, next_values, gamma):
    """Discounted returns (T, N) of rollouts whose episodes end in two ways.

    rewards, terminated, truncated, next_values (T, N): step t of environment n; next_values
    holds V(s_{t+1}) of the state that step t reached (before any restart). A terminated
    step's future is worth 0; a truncated step's is gamma V(s_{t+1}); the last step of the
    batch, if its episode goes on, is bootstrapped the same way.
        G_t = r_t + gamma * (0 if terminated_t else V(s_{t+1}) if truncated_t or t = T-1 else G_{t+1})
    """
    steps = rewards.shape[0]
    returns = np.zeros(rewards.shape)
    for t in range(steps - 1, -1, -1):
        if t == steps - 1:
            future = next_values[t]
        else:
            future = np.where(truncated[t], next_values[t], returns[t + 1])
        returns[t] = rewards[t] + gamma * np.where(terminated[t], 0.0, future)
    return returns


def _returns_no_cut(rewards, terminated, truncated, next_values, gamma):
    steps = rewards.shape[0]
    returns = np.zeros(rewards.shape)
    future = next_values[-1]
    for t in range(steps - 1, -1, -1):
        future = rewards[t] + gamma * future
        returns[t] = future
    return returns


def _returns_truncation_as_termination(rewards, terminated, truncated, next_values, gamma):
    return returns_with_time_limit(
        rewards, terminated | truncated, np.zeros_like(truncated), next_values, gamma
    )


def _returns_first_reward_discounted(rewards, terminated, truncated, next_values, gamma):
    return gamma * returns_with_time_limit(rewards, terminated, truncated, next_values, gamma)


def _rollout(rng, steps, envs):
    """Rewards, both end flags (never both at once) and next values of a random rollout."""
    rewards = rng.uniform(-1.0, 2.0, (steps, envs))
    ends = rng.random((steps, envs))
    terminated = ends < 0.15
    truncated = (ends >= 0.15) & (ends < 0.3)
    terminated[1, 0], truncated[2, 1] = True, True  # each kind of end at least once
    truncated[1, 0], terminated[2, 1] = False, False
    next_values = rng.uniform(0.0, 5.0, (steps, envs))
    return rewards, terminated, truncated, next_values


def _returns_cases(rng):
    cases = []
    for steps, envs, gamma in ((6, 3, 0.9), (9, 2, 0.5), (5, 4, 0.99)):
        cases.append(
            Case(
                (*_rollout(rng, steps, envs), gamma),
                label=f"{steps} steps of {envs} environments, gamma {gamma}",
            )
        )
    return cases


function_exercise(
    "returns_with_time_limit",
    CHAPTER,
    2,
    "returns_with_time_limit",
    "Discounted returns when episodes end in two ways",
    _returns_cases,
    returns_with_time_limit,
    ("returns",),
    mistakes=(
        (
            "the return runs on across an episode end: a step whose episode terminated or was "
            "truncated must not receive the rewards of the next episode",
            _returns_no_cut,
        ),
        (
            "a truncated episode is treated as terminated: the time limit stopped it, so its "
            "future is still worth gamma * V(s'), not 0",
            _returns_truncation_as_termination,
        ),
        (
            "an off-by-one in the discount: the first reward r_t counts fully, only later ones "
            "are discounted (G_t = r_t + gamma * ...)",
            _returns_first_reward_discounted,
        ),
    ),
    forbids=("minidl.gallery.rl",),
    dtypes="float64",
)


# ---------------------------------------------------------------- generalised advantage estimation
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Generalised advantage estimates (Schulman et al., 2016) of rollouts (T, N).

    delta_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t)
    A_t = delta_t + gamma lam (1 - done_t) A_{t+1},  done = terminated or truncated,  A_T = 0
    values (T, N): V(s_t); next_values (T, N): V(s_{t+1}) of the state step t reached.
    """
    steps = rewards.shape[0]
    done = terminated | truncated
    advantages = np.zeros(rewards.shape)
    running = np.zeros(rewards.shape[1:])
    for t in range(steps - 1, -1, -1):
        delta = rewards[t] + gamma * np.where(terminated[t], 0.0, next_values[t]) - values[t]
        running = delta + gamma * lam * np.where(done[t], 0.0, running)
        advantages[t] = running
    return advantages


def _gae_carried_across(rewards, values, next_values, terminated, truncated, gamma, lam):
    # the deltas are right; only the sum runs on across the ends
    steps = rewards.shape[0]
    advantages = np.zeros(rewards.shape)
    running = np.zeros(rewards.shape[1:])
    for t in range(steps - 1, -1, -1):
        delta = rewards[t] + gamma * np.where(terminated[t], 0.0, next_values[t]) - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
    return advantages


def _gae_terminal_bootstrapped(rewards, values, next_values, terminated, truncated, gamma, lam):
    return gae_advantages(
        rewards, values, next_values, np.zeros_like(terminated), terminated | truncated, gamma, lam
    )


def _gae_without_lambda(rewards, values, next_values, terminated, truncated, gamma, lam):
    return gae_advantages(rewards, values, next_values, terminated, truncated, gamma, 1.0)


def _gae_cases(rng):
    cases = []
    for steps, envs, gamma, lam in ((7, 3, 0.9, 0.8), (5, 2, 0.99, 0.5), (10, 2, 0.8, 0.95)):
        rewards, terminated, truncated, next_values = _rollout(rng, steps, envs)
        values = rng.uniform(0.0, 5.0, (steps, envs))
        cases.append(
            Case(
                (rewards, values, next_values, terminated, truncated, gamma, lam),
                label=f"{steps} steps of {envs} environments, gamma {gamma}, lambda {lam}",
            )
        )
    return cases


function_exercise(
    "gae_advantages",
    CHAPTER,
    2,
    "gae_advantages",
    "Generalised advantage estimation",
    _gae_cases,
    gae_advantages,
    ("advantages",),
    mistakes=(
        (
            "the advantage is carried across an episode end: the sum of deltas must stop at a "
            "terminated or truncated step",
            _gae_carried_across,
        ),
        (
            "a terminated step is bootstrapped: after the last step of an episode that ended for "
            "good, V(s') counts 0 in delta",
            _gae_terminal_bootstrapped,
        ),
        ("lambda is missing: the deltas decay by gamma * lam per step, not gamma", _gae_without_lambda),
    ),
    forbids=("minidl.gallery.rl",),
    dtypes="float64",
    equivalent_mutants={
        "gae_advantages: const: 1 -> 2 #4": "the running advantage starts at 0: zeros of shape "
        "rewards.shape[2:] broadcast to the same first step as zeros of shape[1:]",
    },
)


# ---------------------------------------------------------------- double DQN
def double_dqn_targets(rewards, terminated, q_next_online, q_next_target, gamma):
    """Double-DQN targets (N,): the online network chooses the next action, the target
    network evaluates it, a terminal state adds nothing.
    y = r + gamma (1 - terminated) Q_target(s', argmax_a Q_online(s', a))."""
    choice = q_next_online.argmax(axis=1)
    evaluated = q_next_target[np.arange(len(choice)), choice]
    return rewards + gamma * np.where(terminated, 0.0, evaluated)


def _dqn_target_network_max(rewards, terminated, q_next_online, q_next_target, gamma):
    return rewards + gamma * np.where(terminated, 0.0, q_next_target.max(axis=1))


def _dqn_online_max(rewards, terminated, q_next_online, q_next_target, gamma):
    return rewards + gamma * np.where(terminated, 0.0, q_next_online.max(axis=1))


def _dqn_terminal_bootstrapped(rewards, terminated, q_next_online, q_next_target, gamma):
    return double_dqn_targets(rewards, np.zeros_like(terminated), q_next_online, q_next_target, gamma)


def _dqn_cases(rng):
    cases = []
    for n, actions, gamma in ((8, 2, 0.99), (6, 4, 0.9), (10, 3, 0.5)):
        terminated = rng.random(n) < 0.3
        terminated[0], terminated[1] = True, False
        cases.append(
            Case(
                (
                    rng.uniform(-1.0, 1.0, n),
                    terminated,
                    rng.standard_normal((n, actions)) * 2.0,
                    rng.standard_normal((n, actions)) * 2.0,
                    gamma,
                ),
                label=f"{n} transitions, {actions} actions, gamma {gamma}",
            )
        )
    return cases


function_exercise(
    "double_dqn_targets",
    CHAPTER,
    2,
    "double_dqn_targets",
    "The double-DQN target",
    _dqn_cases,
    double_dqn_targets,
    ("targets",),
    mistakes=(
        (
            "that is DQN's target: the target network both chooses and evaluates the action "
            "(max over Q_target); in double DQN the online network chooses it",
            _dqn_target_network_max,
        ),
        (
            "the online network evaluates its own choice (max over Q_online); the target "
            "network's value of that action is wanted",
            _dqn_online_max,
        ),
        (
            "a terminal state is bootstrapped: when the episode terminated, the target is the reward alone",
            _dqn_terminal_bootstrapped,
        ),
    ),
    forbids=("minidl.gallery.rl",),
    dtypes="float64",
)


# ---------------------------------------------------------------- a subtraction game by minimax
def subtraction_game_values(heap, moves, misere):
    """Minimax values (heap + 1,) of a one-heap subtraction game for every heap size 0..heap:
    +1 if the player to move wins with perfect play, -1 if they lose. A move removes m stones,
    m in ``moves``, m at most the heap. The player who cannot move loses (normal play) or wins
    (``misere``)."""
    values = np.zeros(heap + 1, dtype=np.int64)
    for h in range(heap + 1):
        options = [values[h - m] for m in moves if m <= h]
        if not options:
            values[h] = 1 if misere else -1
        else:
            values[h] = max(-v for v in options)
    return values


def _game_swapped(heap, moves, misere):
    return subtraction_game_values(heap, moves, not misere)


def _game_move_too_large(heap, moves, misere):
    # a heap smaller than a move is emptied by it (the heap cannot go below 0)
    values = np.zeros(heap + 1, dtype=np.int64)
    for h in range(heap + 1):
        options = [values[max(h - m, 0)] for m in moves if h > 0]
        values[h] = (1 if misere else -1) if not options else max(-v for v in options)
    return values


def _game_cases(rng):
    cases = [
        Case((30, (2, 5), False), label="heap 30, moves {2, 5}, normal play"),
        Case((25, (3, 4), True), label="heap 25, moves {3, 4}, misère"),
        Case((200, (1, 2, 3), False), label="heap 200, moves {1, 2, 3}: needs memoisation"),
    ]
    moves = tuple(sorted(int(m) for m in rng.choice(np.arange(2, 8), size=3, replace=False)))
    cases.append(Case((40, moves, True), label=f"heap 40, moves {set(moves)}, misère"))
    return cases


function_exercise(
    "subtraction_game_values",
    CHAPTER,
    2,
    "subtraction_game_values",
    "Minimax with a memo: a subtraction game",
    _game_cases,
    subtraction_game_values,
    ("values",),
    mistakes=(
        (
            "normal and misère play are swapped: in normal play the player who cannot move has "
            "lost (value -1)",
            _game_swapped,
        ),
        (
            "a move larger than the heap is allowed: with 2 stones left, a move of 3 is not legal",
            _game_move_too_large,
        ),
    ),
    forbids=("minidl.gallery.rl",),
    dtypes=("int",),
)
