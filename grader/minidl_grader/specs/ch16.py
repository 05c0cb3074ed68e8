"""Chapter 16, post-training: DPO with noisy preference labels and its gradient, per-token
returns with a KL penalty, a broken response-only loss repaired."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "16_post_training"


# ---------------------------------------------------------------- conservative DPO
def cdpo_loss(policy_logps, ref_logps, beta, eps):
    """DPO when a fraction eps of the preference labels is flipped (Mitchell, 2023):
    h = beta ((pi_c - ref_c) - (pi_r - ref_r)), L = mean(-(1 - eps) log sigma(h) - eps log sigma(-h)).
    Returns (loss, dL/dpolicy_logps (N, 2))."""
    return _cdpo(policy_logps, ref_logps, beta, eps)


def _cdpo(policy_logps, ref_logps, beta, eps, *, beta_in_grad=True, flip=False, mean=True, ratio=True):
    ratios = policy_logps - ref_logps if ratio else policy_logps
    h = beta * (ratios[:, 0] - ratios[:, 1])  # (N,)
    e = 1.0 - eps if flip else eps
    losses = (1.0 - e) * np.logaddexp(0.0, -h) + e * np.logaddexp(0.0, h)
    d_h = -(1.0 - e) * np.exp(-np.logaddexp(0.0, h)) + e * np.exp(-np.logaddexp(0.0, -h))
    n = len(h) if mean else 1
    d = (beta if beta_in_grad else 1.0) * d_h / n
    return float(losses.sum() / n), np.stack([d, -d], axis=1)


def _cdpo_cases(rng):
    cases = []
    for n, beta, eps, scale in (
        (6, 0.1, 0.2, 5.0),
        (4, 0.5, 0.0, 3.0),
        (1, 2.0, 0.3, 2.0),
        (5, 1.0, 0.1, 400.0),
    ):
        policy, ref = scale * rng.standard_normal((n, 2)), scale * rng.standard_normal((n, 2))
        label = f"{n} pairs, beta={beta}, eps={eps}"
        if scale > 100:  # margins of hundreds: exp(-h) overflows unless -log sigma is computed stably
            policy[0] = ref[0] + (800.0, 0.0)  # h = +800 beta: exp(h) overflows
            policy[1] = ref[1] + (0.0, 800.0)  # h = -800 beta: exp(-h) overflows
            label += ", log-ratio margins of several hundred"
        cases.append(Case((policy, ref, beta, eps), label=label))
    return cases


function_exercise(
    "cdpo_loss",
    CHAPTER,
    3,
    "cdpo_loss",
    "DPO with noisy labels, and its gradient",
    _cdpo_cases,
    cdpo_loss,
    ("loss", "grad"),
    mistakes=(
        (
            "the gradient is missing the factor beta: h = beta (...) so every log-probability "
            "reaches the loss through beta",
            lambda p, r, beta, eps: _cdpo(p, r, beta, eps, beta_in_grad=False),
        ),
        (
            "eps and 1 - eps are swapped: with eps = 0 the loss must be DPO's, -log sigma(h)",
            lambda p, r, beta, eps: _cdpo(p, r, beta, eps, flip=True),
        ),
        (
            "the loss and the gradient are sums over the pairs; take the mean (divide by N)",
            lambda p, r, beta, eps: _cdpo(p, r, beta, eps, mean=False),
        ),
        (
            "the reference is left out: h uses the policy's log-probabilities, not its log-ratios "
            "log pi - log pi_ref",
            lambda p, r, beta, eps: _cdpo(p, r, beta, eps, ratio=False),
        ),
    ),
    catches=("-log sigma(h) computed as -log(1 / (1 + exp(-h))), which overflows for margins of hundreds",),
    forbids=("minidl.nn.preference", "minidl.nn.losses"),
    dtypes=("number", "float64"),
)


# ---------------------------------------------------------------- per-token returns with a KL penalty
def kl_shaped_returns(rewards, logp, ref_logp, mask, beta):
    """Reward-to-go of each response token: the per-token reward is -beta (logp - ref_logp) on
    the response's tokens (mask True), plus the sequence's reward on its last token; the return
    at t sums the rewards from t to the end of the response. (N, T), 0 where mask is False."""
    return _returns(rewards, logp, ref_logp, mask, beta)


def _returns(rewards, logp, ref_logp, mask, beta, *, at="last", kl_sign=1.0, to_go=True, masked=True):
    per_token = np.where(mask, -kl_sign * beta * (logp - ref_logp), 0.0)  # (N, T)
    positions = np.where(mask, np.arange(mask.shape[1]), -1 if at == "last" else mask.shape[1])
    where = positions.max(axis=1) if at == "last" else positions.min(axis=1)
    per_token[np.arange(len(rewards)), where] += rewards
    if to_go:
        out = np.flip(np.cumsum(np.flip(per_token, axis=1), axis=1), axis=1)
    else:
        out = np.cumsum(per_token, axis=1)
    return np.where(mask, out, 0.0) if masked else out


def _returns_cases(rng):
    cases = []
    for n, t, beta in ((4, 9, 0.1), (3, 7, 0.5), (1, 5, 2.0)):
        mask = np.zeros((n, t), bool)
        for row in range(n):
            start = int(rng.integers(1, 4))  # the prompt's targets come first
            stop = int(rng.integers(start + 1, t)) if row else start + 1  # row 0: a one-token response
            mask[row, start:stop] = True  # padding after the response
        logp, ref = -rng.random((n, t)) * 3, -rng.random((n, t)) * 3
        cases.append(
            Case(
                (rng.standard_normal(n), logp, ref, mask, beta),
                label=f"{n} responses in (N, T) = {(n, t)}, prompt before and padding after, beta={beta}",
            )
        )
    return cases


function_exercise(
    "kl_shaped_returns",
    CHAPTER,
    3,
    "kl_shaped_returns",
    "Per-token returns with a KL penalty",
    _returns_cases,
    kl_shaped_returns,
    ("returns",),
    mistakes=(
        (
            "the sequence's reward is given at the response's first token; it arrives with the "
            "last one (the response is judged once it is complete)",
            lambda r, lp, ref, m, beta: _returns(r, lp, ref, m, beta, at="first"),
        ),
        (
            "the penalty has the wrong sign: a token likelier under the policy than under the "
            "reference (logp > ref_logp) costs -beta (logp - ref_logp)",
            lambda r, lp, ref, m, beta: _returns(r, lp, ref, m, beta, kl_sign=-1.0),
        ),
        (
            "the returns sum the rewards up to t; a return sums the rewards from t to the end",
            lambda r, lp, ref, m, beta: _returns(r, lp, ref, m, beta, to_go=False),
        ),
        (
            "positions outside the response (the prompt) hold a return; they must hold 0",
            lambda r, lp, ref, m, beta: _returns(r, lp, ref, m, beta, masked=False),
        ),
    ),
    forbids=("minidl.nn.preference",),
    dtypes="float64",
    equivalent_mutants={
        "kl_shaped_returns > _returns: augassign: per_token[*] += rewards -> *": "per_token is the "
        "function's own array and the rows' indices differ: += and = + add the same",
        # the reward-to-go at a response token sums everything from it to the end of the row, so
        # a reward placed at the last response token or anywhere after it gives the same returns
        "kl_shaped_returns > _returns: reduce: positions.max(axis=1) -> positions.min(axis=1)": "the "
        "minimum is -1, the row's last column: after the response, which the reward-to-go still reaches",
        "kl_shaped_returns > _returns: axis: positions.max(axis=1) -> positions.max()": "the largest "
        "last position of all rows is at or after each row's own: the reward-to-go reaches it",
        "kl_shaped_returns > _returns: const: -1 -> 0": "a response never starts at position 0 (a "
        "prompt comes first), so 0 is below every response position as -1 is",
        "kl_shaped_returns > _returns: const: -1 -> -2": "-2 marks the positions outside the response "
        "as -1 does: below every response position",
    },
)


# ---------------------------------------------------------------- the response-only loss, repaired
def response_nll(logits, targets, prompt_len, length):
    """Mean -log softmax(logits)[target] over the response's targets, the positions
    prompt_len - 1 .. length - 2 of each row (the target at t is token t + 1), and its
    gradient dL/dlogits (N, T, V), zero elsewhere. Returns (loss, grad)."""
    return _response_nll(logits, targets, prompt_len, length, ())


RESPONSE_BUGS = {
    "padding": "the padding after the response is counted: a response's last target is at "
    "position length - 2 (the target at t is token t + 1)",
    "start": "the response's first target is missed: the target at position prompt_len - 1 is "
    "the response's first token",
    "divide": "the loss is divided by all N T positions; divide by the number of response targets",
    "grad_mask": "the gradient reaches positions outside the response; multiply it by the mask too",
    "overflow": "the softmax overflows for large logits: subtract each row's maximum before exp",
}


def _response_nll(logits, targets, prompt_len, length, bugs):
    N, T, V = logits.shape
    t = np.arange(T)[None, :]
    first = prompt_len[:, None] if "start" in bugs else prompt_len[:, None] - 1
    mask = t >= first
    if "padding" not in bugs:
        mask &= t <= length[:, None] - 2
    rows, cols = np.arange(N)[:, None], np.arange(T)[None, :]
    count = N * T if "divide" in bugs else mask.sum()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if "overflow" in bugs:  # the softmax as written, then its log
            p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            log_p = np.log(p)
        else:
            z = logits - logits.max(axis=-1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
            p = np.exp(log_p)
        loss = -(np.where(mask, log_p[rows, cols, targets], 0.0)).sum() / count
    grad = p.copy()
    grad[rows, cols, targets] -= 1.0
    if "grad_mask" not in bugs:
        grad = grad * mask[..., None]
    return float(loss), grad / count


def _response_cases(rng):
    cases = []
    for n, t, v, extreme in ((3, 8, 5, False), (2, 10, 7, False), (1, 6, 4, True)):
        prompt_len = rng.integers(2, 4, n)
        length = np.minimum(prompt_len + rng.integers(2, 4, n), t - 1)  # at least one padded target
        logits = 2.0 * rng.standard_normal((n, t, v))
        label = (
            f"logits of shape {(n, t, v)}, prompts of {prompt_len.tolist()} tokens, lengths {length.tolist()}"
        )
        if extreme:
            # rows from -1500 to 0 with one logit 800 above its row: exp overflows unless each
            # row's own maximum is subtracted (not its sum, its minimum or the array's maximum)
            logits += np.linspace(-1500.0, 0.0, t)[None, :, None]
            logits[..., 0] += 800.0
            label += ", logits from -1500 to 800"
        cases.append(Case((logits, rng.integers(0, v, (n, t)), prompt_len, length), label=label))
    return cases


function_exercise(
    "response_nll",
    CHAPTER,
    2,
    "response_nll",
    "A broken response-only loss, repaired",
    _response_cases,
    response_nll,
    ("loss", "grad"),
    mistakes=(
        (
            "this is the function as given, its bugs still in it: read it against the chapter's section 2",
            lambda lg, tg, pl, ln: _response_nll(lg, tg, pl, ln, tuple(RESPONSE_BUGS)),
        ),
    )
    + tuple(
        (
            f"{hint} (the other bugs are fixed)",
            lambda lg, tg, pl, ln, bug=bug: _response_nll(lg, tg, pl, ln, (bug,)),
        )
        for bug, hint in RESPONSE_BUGS.items()
    ),
    forbids=("minidl.nn.preference", "minidl.nn.losses"),
    dtypes=("number", "float64"),
    equivalent_mutants={
        "response_nll > _response_nll: augassign: mask &= * -> *": "mask is the function's own "
        "array: &= and = & give the same",
        "response_nll > _response_nll: augassign: grad[*] -= 1.0 -> *": "grad is the function's "
        "own copy and the indices of a row differ: -= and = - subtract the same",
        "response_nll > _response_nll: augassign: grad = grad * * -> grad *= *": "grad is the "
        "function's own array: *= and = * give the same",
        "response_nll > _response_nll: copy: p.copy() -> p": "p is not read after grad is made "
        "from it, so changing it in place changes nothing",
    },
)


# ---------------------------------------------------------------- edge cases
declare_edges(
    "cdpo_loss",
    ("size_one", "non_square", "extreme_magnitude", "varied_settings"),
    {"empty": "a batch holds at least one preference pair"},
)
declare_edges(
    "kl_shaped_returns",
    ("size_one", "non_square", "left_and_right_padding", "varied_settings"),
    {
        "empty": "every response has at least one token",
        "ties": "the largest of a row's response positions is one column number: positions never tie",
        "long_sequence": "the returns are one cumulative sum per row: a longer response adds terms to "
        "it, not steps whose state could go wrong",
    },
)
declare_edges(
    "response_nll",
    ("size_one", "non_square", "extreme_magnitude", "repeated_indices"),
    {
        "empty": "every response has at least one target",
        "ties": "the maximum is only subtracted from its row: two tied logits give the same shift",
    },
)
