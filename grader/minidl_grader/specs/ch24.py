"""Chapter 24, game playing: n-step returns in a sliding window, a broken GAE repaired, the
action values of a policy solved exactly, and a subtraction game won quickly -- each a step
the chapter does not take.

Wrong answers the cases catch, by name:

* ``n_step_returns`` -- the window run on across an episode end, a truncated episode treated
  as terminated, a terminated step bootstrapped all the same, no bootstrap at the batch's end,
  and a window one reward too short or too long;
* ``gae_advantages`` -- the broken implementation of the task (four bugs), and each of its
  bugs alone: the end flag read one step late, the batch's last step never cut, one flag
  cutting both the bootstrap and the sum, the next state's value read from the next row;
* ``policy_action_values`` -- the optimal (max) values for the policy's, the transitions
  read transposed, the episode's end ignored (each row renormalised), a fixed number of
  sweeps of the Bellman update, and the reward discounted;
* ``subtraction_game_lengths`` -- both players hurrying, the winner dawdling and the loser
  hurrying, the winner's length taken over every move, normal and misère play swapped, and
  a move larger than the heap allowed.
"""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "24_game_playing"


def _rollout(rng, steps, envs):
    """A random rollout that could have been played: rewards, both end flags (never both at
    once), V(s_t) and V(s_{t+1}); the two value arrays agree wherever an episode goes on
    (``next_values[t] == values[t + 1]``) and differ after an end (the restarted state)."""
    rewards = rng.uniform(-1.0, 2.0, (steps, envs))
    ends = rng.random((steps, envs))
    terminated = ends < 0.15
    truncated = (ends >= 0.15) & (ends < 0.3)
    # each kind of end in the middle of the batch, and a termination at its very end
    terminated[1, 0], truncated[1, 0] = True, False
    terminated[2, 1], truncated[2, 1] = False, True
    terminated[-1, -1], truncated[-1, -1] = True, False
    values = rng.uniform(0.0, 5.0, (steps, envs))
    next_values = np.concatenate([values[1:], rng.uniform(0.0, 5.0, (1, envs))])
    ended = terminated | truncated
    next_values[ended] = rng.uniform(0.0, 5.0, int(ended.sum()))  # V of the final observation
    return rewards, terminated, truncated, values, next_values


# ---------------------------------------------------------------- n-step returns
def n_step_returns(rewards, terminated, truncated, next_values, gamma, n):
    """The n-step return (T, N) of every step of a rollout: the discounted rewards of at most
    n steps from t on, then gamma^m V of the state the last of them reached. The window stops
    early at a step whose episode ended (terminated: nothing follows; truncated: V of the
    final observation follows) and at the batch's last step (V of the state reached)."""
    follow = np.where(terminated, 0.0, next_values)  # what comes after step t if the window stops there
    stop = terminated | truncated
    stop[-1] = True
    returns = rewards + gamma * follow  # n = 1
    for _ in range(n - 1):
        later = np.concatenate([returns[1:], returns[-1:]])  # the last row is never used: stop[-1]
        returns = rewards + gamma * np.where(stop, follow, later)
    return returns


def _n_step_variant(rewards, terminated, truncated, next_values, gamma, n, mistake):
    """``n_step_returns`` with one mistake."""
    if mistake == "no cut":
        none = np.zeros_like(terminated)
        return n_step_returns(rewards, none, none, next_values, gamma, n)
    if mistake == "truncation as termination":
        return n_step_returns(
            rewards, terminated | truncated, np.zeros_like(truncated), next_values, gamma, n
        )
    if mistake == "terminal bootstrapped":
        return n_step_returns(
            rewards, np.zeros_like(terminated), terminated | truncated, next_values, gamma, n
        )
    if mistake == "short":
        return n_step_returns(rewards, terminated, truncated, next_values, gamma, max(n - 1, 1))
    if mistake == "long":
        return n_step_returns(rewards, terminated, truncated, next_values, gamma, n + 1)
    # "batch end": the window that reaches the batch's end adds nothing after it
    cut = next_values.copy()
    cut[-1] = np.where(truncated[-1], next_values[-1], 0.0)
    return n_step_returns(rewards, terminated, truncated, cut, gamma, n)


N_STEP_MISTAKES = {
    "no cut": "the window runs on across an episode end: a step's return must not receive the "
    "rewards of the next episode",
    "truncation as termination": "a truncated episode is treated as terminated: the time limit "
    "stopped it, so V of the state it reached still follows its last reward",
    "terminal bootstrapped": "a terminated episode is bootstrapped: after its last step nothing "
    "follows, not V of the state it reached",
    "batch end": "the window that reaches the batch's last step is not bootstrapped: the episode "
    "goes on after the batch, so V of the state reached follows",
    "short": "the window holds n - 1 rewards: G^(n) adds n rewards before the bootstrap (n = 1: "
    "r_t + gamma V(s_{t+1}))",
    "long": "the window holds n + 1 rewards: G^(n) adds n rewards before the bootstrap (n = 1: "
    "r_t + gamma V(s_{t+1}))",
}


def _n_step_cases(rng):
    cases = []
    for steps, envs, gamma, n in (
        (8, 3, 0.9, 3),
        (6, 2, 0.5, 1),
        (7, 4, 0.99, 5),
        (5, 2, 0.8, 9),
        (80, 2, 0.99, 8),
    ):
        rewards, terminated, truncated, _, next_values = _rollout(rng, steps, envs)
        cases.append(
            Case(
                (rewards, terminated, truncated, next_values, gamma, n),
                label=f"{steps} steps of {envs} environments, gamma {gamma}, n = {n}",
            )
        )
    rewards, terminated, truncated, _, next_values = _rollout(rng, 3, 2)
    truncated[-1, 0], terminated[-1, 0] = True, False  # a truncation at the batch's end
    cases.append(
        Case(
            (rewards, terminated, truncated, next_values, 0.7, 2),
            label="3 steps of 2 environments, a truncation and a termination at the last step, n = 2",
        )
    )
    one = np.array([[1.5, -0.5]])
    cases.append(
        Case(
            (one, np.array([[False, True]]), np.array([[False, False]]), np.array([[4.0, 3.0]]), 0.9, 4),
            label="a batch of 1 step, n = 4",
        )
    )
    return cases


function_exercise(
    "n_step_returns",
    CHAPTER,
    2,
    "n_step_returns",
    "n-step returns in a sliding window",
    _n_step_cases,
    n_step_returns,
    ("returns",),
    mistakes=tuple(
        (
            hint,
            lambda r, te, tr, nv, g, n, mistake=mistake: _n_step_variant(r, te, tr, nv, g, n, mistake),
        )
        for mistake, hint in N_STEP_MISTAKES.items()
    ),
    forbids=("minidl.gallery.rl",),
    dtypes="float64",
)


# ---------------------------------------------------------------- a broken GAE, repaired
def gae_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Generalised advantage estimates (Schulman et al., 2016) of rollouts (T, N): the
    (1 - lam) lam^(k-1)-weighted mean of the k-step advantages, each cut as the n-step
    returns are; as a recursion, the discounted sum (gamma lam per step) of one-step errors,
    stopped at an episode's last step, bootstrapped at a truncation and at the batch's end."""
    done = terminated | truncated
    advantages = np.zeros(rewards.shape)
    running = np.zeros(rewards.shape[1:])
    for t in range(rewards.shape[0] - 1, -1, -1):
        delta = rewards[t] + gamma * np.where(terminated[t], 0.0, next_values[t]) - values[t]
        running = delta + gamma * lam * np.where(done[t], 0.0, running)
        advantages[t] = running
    return advantages


# the four bugs of the implementation the task shows (its cell holds them all)
GAE_BUGS = {
    "index": "the end flag is read one step late (done[t + 1]): in this rollout done[t] says "
    "that step t itself ended its episode",
    "last": "the batch's last step is never cut: an episode that terminated at the last step "
    "has nothing after it, though the batch ends there",
    "one flag": "one flag cuts both the bootstrap and the sum: a truncated step's one-step error "
    "still bootstraps from V of the state it reached; only the sum stops there",
    "next value": "the next state's value is read from the next row (values[t + 1]): after an "
    "episode's end that row is the restarted episode; next_values[t] is V of the state step t reached",
}


def _gae(rewards, values, next_values, terminated, truncated, gamma, lam, bugs):
    steps = rewards.shape[0]
    done = terminated | truncated
    boot_cut = done if "one flag" in bugs else terminated
    advantages = np.zeros(rewards.shape)
    running = np.zeros(rewards.shape[1:])
    for t in range(steps - 1, -1, -1):
        if t == steps - 1 and "last" in bugs:
            go_on, boot_on = np.ones(rewards.shape[1:]), np.ones(rewards.shape[1:])
        elif t < steps - 1 and "index" in bugs:
            go_on, boot_on = ~done[t + 1], ~boot_cut[t + 1]
        else:
            go_on, boot_on = ~done[t], ~boot_cut[t]
        following = values[t + 1] if t < steps - 1 and "next value" in bugs else next_values[t]
        delta = rewards[t] + gamma * np.where(boot_on, following, 0.0) - values[t]
        running = delta + gamma * lam * np.where(go_on, running, 0.0)
        advantages[t] = running
    return advantages


def _gae_cases(rng):
    cases = []
    for steps, envs, gamma, lam in (
        (7, 3, 0.9, 0.8),
        (5, 2, 0.99, 0.5),
        (10, 2, 0.8, 0.95),
        (4, 3, 0.9, 0.0),
        (80, 2, 0.99, 0.95),  # a long rollout: the recursion runs back over 80 steps
    ):
        rewards, terminated, truncated, values, next_values = _rollout(rng, steps, envs)
        cases.append(
            Case(
                (rewards, values, next_values, terminated, truncated, gamma, lam),
                label=f"{steps} steps of {envs} environments, gamma {gamma}, lambda {lam}",
            )
        )
    rewards, terminated, truncated, values, next_values = _rollout(rng, 6, 2)
    cases.append(
        Case(
            (rewards, values, next_values, terminated, truncated, 0.9, 1.0),
            label="6 steps of 2 environments, gamma 0.9, lambda 1",
        )
    )
    one = (np.array([[1.5, -0.5]]), np.array([[0.5, 1.0]]), np.array([[4.0, 3.0]]))
    cases.append(
        Case(
            one + (np.array([[False, True]]), np.array([[False, False]]), 0.9, 0.95),
            label="a batch of 1 step, the second environment terminating",
        )
    )
    return cases


function_exercise(
    "gae_advantages",
    CHAPTER,
    2,
    "gae_advantages",
    "A broken GAE, repaired",
    _gae_cases,
    gae_advantages,
    ("advantages",),
    mistakes=(
        (
            "this is the code as given, all four bugs still in it: read each line against the "
            "meaning of terminated, truncated, values and next_values",
            lambda r, v, nv, te, tr, g, lam: _gae(r, v, nv, te, tr, g, lam, tuple(GAE_BUGS)),
        ),
    )
    + tuple(
        (
            f"{hint} (the other three bugs are fixed)",
            lambda r, v, nv, te, tr, g, lam, bug=bug: _gae(r, v, nv, te, tr, g, lam, (bug,)),
        )
        for bug, hint in GAE_BUGS.items()
    ),
    forbids=("minidl.gallery.rl",),
    dtypes="float64",
    equivalent_mutants={
        "gae_advantages: const: 1 -> 2 #4": "the running advantage starts at 0: zeros of shape "
        "rewards.shape[2:] broadcast to the same first step as zeros of shape[1:]",
    },
)


# ---------------------------------------------------------------- a policy's action values, solved
def policy_action_values(P, R, policy, gamma):
    """Q^pi (S, A) of a policy in a finite MDP, exactly: P (S, A, S) the probabilities of the
    next state (a row may sum to less than 1: the rest is the probability that the episode
    terminates), R (S, A) the expected reward, policy (S, A) the probabilities pi(a | s).
    Q = R + gamma P V and V = sum_a pi Q give V = (I - gamma P_pi)^-1 r_pi."""
    states = R.shape[0]
    r_pi = np.sum(policy * R, axis=1)
    p_pi = np.einsum("sa,sat->st", policy, P)
    v = np.linalg.solve(np.eye(states) - gamma * p_pi, r_pi)
    return R + gamma * P @ v


def _optimal_values(P, R, policy, gamma):
    q = np.zeros(R.shape)
    for _ in range(20_000):
        q = R + gamma * P @ q.max(axis=1)
    return q


def _transposed(P, R, policy, gamma):
    return policy_action_values(np.transpose(P, (2, 1, 0)), R, policy, gamma)


def _renormalised(P, R, policy, gamma):
    totals = P.sum(axis=2, keepdims=True)
    return policy_action_values(
        np.where(totals > 0, P / np.where(totals > 0, totals, 1.0), 0.0), R, policy, gamma
    )


def _hundred_sweeps(P, R, policy, gamma):
    q = np.zeros(R.shape)
    for _ in range(100):
        q = R + gamma * P @ np.sum(policy * q, axis=1)
    return q


def _reward_discounted(P, R, policy, gamma):
    return gamma * policy_action_values(P, R, policy, gamma)


def _mdp(rng, states, actions, stay, deterministic):
    """Transitions whose rows keep ``stay`` of their mass on average (the rest terminates)."""
    P = rng.random((states, actions, states)) ** 2
    P *= rng.uniform(stay - 0.05, stay, (states, actions, 1)) / P.sum(axis=2, keepdims=True)
    R = rng.uniform(-1.0, 1.0, (states, actions))
    if deterministic:
        policy = np.eye(actions)[rng.integers(0, actions, states)]
    else:
        policy = rng.dirichlet(np.ones(actions), states)
    return P, R, policy


def _policy_cases(rng):
    cases = []
    for states, actions, gamma, stay, deterministic in (
        (4, 2, 0.9, 0.9, False),
        (6, 3, 0.999, 0.99, False),
        (5, 4, 0.95, 0.95, True),
    ):
        cases.append(
            Case(
                (*_mdp(rng, states, actions, stay, deterministic), gamma),
                label=f"{states} states, {actions} actions, gamma {gamma}, "
                + ("a deterministic policy" if deterministic else "a stochastic policy"),
            )
        )
    P, R, policy = _mdp(rng, 4, 3, 0.95, False)
    P[2] = 0.0  # every action of state 2 ends the episode
    cases.append(
        Case((P, R, policy, 0.8), label="4 states, one whose every action ends the episode, gamma 0.8")
    )
    cases.append(
        Case(
            (np.array([[[0.995]]]), np.array([[1.0]]), np.array([[1.0]]), 0.99),
            label="1 state, 1 action, back to itself with probability 0.995, gamma 0.99",
        )
    )
    P, R, policy = _mdp(rng, 3, 2, 0.9, False)
    cases.append(Case((P, R, policy, 0.0), label="3 states, 2 actions, gamma 0"))
    return cases


function_exercise(
    "policy_action_values",
    CHAPTER,
    2,
    "policy_action_values",
    "A policy's action values, solved exactly",
    _policy_cases,
    policy_action_values,
    ("Q",),
    mistakes=(
        (
            "those are the optimal action values (max over a'): Q^pi averages the next action with "
            "the policy's own probabilities",
            _optimal_values,
        ),
        (
            "the transitions are read transposed: P[s, a, s'] is the probability that action a in "
            "state s leads to s'",
            _transposed,
        ),
        (
            "the episode's end is ignored: a row of P summing to less than 1 leaves the rest to "
            "termination, after which nothing more is earned",
            _renormalised,
        ),
        (
            "100 sweeps of the Bellman update are not the fixed point when gamma and the chance "
            "to go on are near 1: solve the equations Q^pi satisfies",
            _hundred_sweeps,
        ),
        ("the reward is discounted: Q(s, a) counts R(s, a) in full", _reward_discounted),
    ),
    forbids=("minidl.gallery.rl",),
    dtypes="float64",
)


# ---------------------------------------------------------------- a subtraction game, won quickly
def subtraction_game_lengths(heap, moves, misere):
    """For every heap size 0..heap of a one-heap subtraction game: the outcome for the player
    to move (+1 win, -1 loss, with perfect play) and the number of moves left when the winner
    wins as quickly and the loser loses as slowly as they can. A move removes m stones, m in
    ``moves``, m at most the heap; the player who cannot move loses (normal play) or wins
    (``misere``)."""
    outcome = np.zeros(heap + 1, dtype=np.int64)
    length = np.zeros(heap + 1, dtype=np.int64)
    for h in range(heap + 1):
        reachable = [h - m for m in moves if m <= h]
        if not reachable:
            outcome[h] = 1 if misere else -1
            continue
        losing = [r for r in reachable if outcome[r] == -1]
        if losing:
            outcome[h], length[h] = 1, 1 + min(length[r] for r in losing)
        else:
            outcome[h], length[h] = -1, 1 + max(length[r] for r in reachable)
    return outcome, length


def _lengths_variant(heap, moves, misere, mistake):
    outcome = np.zeros(heap + 1, dtype=np.int64)
    length = np.zeros(heap + 1, dtype=np.int64)
    no_move = 1 if misere != (mistake == "swapped") else -1
    for h in range(heap + 1):
        if mistake == "too large":
            reachable = [max(h - m, 0) for m in moves] if h > 0 else []
        else:
            reachable = [h - m for m in moves if m <= h]
        if not reachable:
            outcome[h] = no_move
            continue
        losing = [r for r in reachable if outcome[r] < 0]
        win_pick = max if mistake == "winner dawdles" else min
        lose_pick = min if mistake in ("both hurry", "winner dawdles") else max
        if losing:
            among = reachable if mistake == "any move" else losing
            outcome[h], length[h] = 1, 1 + win_pick(length[r] for r in among)
        else:
            outcome[h], length[h] = -1, 1 + lose_pick(length[r] for r in reachable)
    return outcome, length


LENGTH_MISTAKES = {
    "both hurry": "the loser hurries too: with every move losing, the loser picks the one that "
    "keeps the game going longest",
    "winner dawdles": "the roles are swapped: the winner takes the quickest win, the loser the slowest loss",
    "any move": "the winner's length is taken over every move: only a move to a position lost "
    "for the opponent keeps the win",
    "swapped": "normal and misère play are swapped: in normal play the player who cannot move has lost",
    "too large": "a move larger than the heap is allowed: with 2 stones left, a move of 3 is not legal",
}


def _lengths_cases(rng):
    cases = [
        Case((30, (1, 3, 4), False), label="heap 30, moves {1, 3, 4}, normal play"),
        Case((25, (3, 4), True), label="heap 25, moves {3, 4}, misère"),
        Case((200, (1, 2, 3), False), label="heap 200, moves {1, 2, 3}"),
        Case((12, (2, 5, 6), True), label="heap 12, moves {2, 5, 6}, misère"),
        Case((0, (1, 2), False), label="heap 0, moves {1, 2}: no move at all"),
    ]
    moves = tuple(sorted(int(m) for m in rng.choice(np.arange(1, 8), size=3, replace=False)))
    cases.append(Case((40, moves, False), label=f"heap 40, moves {set(moves)}, normal play"))
    cases.append(Case((10, (3,), False), label="heap 10, one move {3}: the game is forced"))
    return cases


function_exercise(
    "subtraction_game_lengths",
    CHAPTER,
    2,
    "subtraction_game_lengths",
    "A subtraction game, won quickly",
    _lengths_cases,
    subtraction_game_lengths,
    ("outcome", "length"),
    mistakes=tuple(
        (hint, lambda h, m, mi, mistake=mistake: _lengths_variant(h, m, mi, mistake))
        for mistake, hint in LENGTH_MISTAKES.items()
    ),
    forbids=("minidl.gallery.rl",),
    dtypes=("int", "int"),
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_FLAGS = "terminated and truncated are episode flags per step, not the padding of a sequence"

declare_edges(
    "n_step_returns",
    (
        "size_one",
        "non_square",
        "varied_settings",
        "terminal_at_batch_end",
        "long_sequence",
    ),
    {
        "empty": "a rollout has at least one step of at least one environment",
        "left_and_right_padding": _FLAGS,
    },
)
declare_edges(
    "gae_advantages",
    (
        "size_one",
        "non_square",
        "varied_settings",
        "terminal_at_batch_end",
        "long_sequence",
    ),
    {
        "empty": "a rollout has at least one step of at least one environment",
        "left_and_right_padding": _FLAGS,
    },
)
declare_edges(
    "policy_action_values",
    ("size_one", "non_square", "varied_settings"),
    {"empty": "an MDP has at least one state and one action"},
)
declare_edges(
    "subtraction_game_lengths",
    ("size_one", "varied_settings"),
    {
        "empty": "the game has at least one move (heap 0 is a case: a scalar, not a list)",
        "repeated_indices": "the moves are a set of sizes: a repeat would mean nothing",
        "long_sequence": "the loop runs over the heap, a scalar (heap 200 is a case), not over a list",
    },
)
