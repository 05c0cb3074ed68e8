"""Chapter 16's usual wrong answers and right answers written differently (the form of
``wrong_answers.py``: ``wrong(exercise, what it does, source)`` and ``right(...)``), written
from the tasks alone, not from the references."""

from __future__ import annotations

from tests.grader.specs.wrong_answers import right, wrong

# ------------------------------------------------------------------ 23 post-training
CDPO = """
def cdpo_loss(policy_logps, ref_logps, beta, eps):
    h = {h}
    loss = np.mean({loss})
    dh = {dh}
    return float(loss), np.stack([dh, -dh], axis=1)
"""
CDPO_RIGHT = {
    "h": "beta * ((policy_logps[:, 0] - ref_logps[:, 0]) - (policy_logps[:, 1] - ref_logps[:, 1]))",
    "loss": "(1 - eps) * np.logaddexp(0, -h) + eps * np.logaddexp(0, h)",
    "dh": "beta * (eps / (1 + np.exp(-h)) - (1 - eps) / (1 + np.exp(h))) / len(h)",
}
for label, slots in (
    (
        "-log sigma(h) as -log(1 / (1 + exp(-h))): overflows for large margins",
        {"loss": "-(1 - eps) * np.log(1 / (1 + np.exp(-h))) - eps * np.log(1 / (1 + np.exp(h)))"},
    ),
    ("plain DPO: eps ignored", {"loss": "np.logaddexp(0, -h)", "dh": "-beta / (1 + np.exp(h)) / len(h)"}),
    ("the gradient without beta", {"dh": "(eps / (1 + np.exp(-h)) - (1 - eps) / (1 + np.exp(h))) / len(h)"}),
    (
        "the gradient summed, not averaged",
        {"dh": "beta * (eps / (1 + np.exp(-h)) - (1 - eps) / (1 + np.exp(h)))"},
    ),
    ("the reference left out of h", {"h": "beta * (policy_logps[:, 0] - policy_logps[:, 1])"}),
    (
        "the gradient's sign flipped",
        {"dh": "beta * ((1 - eps) / (1 + np.exp(h)) - eps / (1 + np.exp(-h))) / len(h)"},
    ),
):
    wrong("cdpo_loss", label, CDPO.format(**{**CDPO_RIGHT, **slots}))
right("cdpo_loss", "the sigmoid as 1 / (1 + exp(-h)), an inf in it giving 0", CDPO.format(**CDPO_RIGHT))
right(
    "cdpo_loss",
    "a loop over the pairs with math.log1p on the smaller side",
    """
import math


def cdpo_loss(policy_logps, ref_logps, beta, eps):
    def softplus(x):  # log(1 + e^x), stable
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))

    def sig(x):
        return math.exp(-softplus(-x))

    n = len(policy_logps)
    total, grad = 0.0, np.zeros((n, 2))
    for i in range(n):
        h = beta * ((policy_logps[i, 0] - ref_logps[i, 0]) - (policy_logps[i, 1] - ref_logps[i, 1]))
        total += (1 - eps) * softplus(-h) + eps * softplus(h)
        g = beta * (eps * sig(h) - (1 - eps) * sig(-h)) / n
        grad[i] = (g, -g)
    return total / n, grad
""",
)

RETURNS = """
def kl_shaped_returns(rewards, logp, ref_logp, mask, beta):
    out = np.zeros(mask.shape)
    for n in range(mask.shape[0]):
        idx = np.flatnonzero(mask[n])
        r = {penalty}
        r[{where}] += rewards[n]
        out[n, idx] = {accumulate}
    return out
"""
RETURNS_RIGHT = {
    "penalty": "-beta * (logp[n, idx] - ref_logp[n, idx])",
    "where": "-1",
    "accumulate": "np.cumsum(r[::-1])[::-1]",
}
for label, slots in (
    ("the score at the response's first token", {"where": "0"}),
    ("the penalty's sign flipped", {"penalty": "beta * (logp[n, idx] - ref_logp[n, idx])"}),
    ("returns summed from the start (cumulative), not to the end", {"accumulate": "np.cumsum(r)"}),
    ("no KL penalty", {"penalty": "np.zeros(len(idx))"}),
    ("the penalty without beta", {"penalty": "-(logp[n, idx] - ref_logp[n, idx])"}),
):
    wrong("kl_shaped_returns", label, RETURNS.format(**{**RETURNS_RIGHT, **slots}))
wrong(
    "kl_shaped_returns",
    "returns over the whole row: the prompt's positions hold the full return",
    """
def kl_shaped_returns(rewards, logp, ref_logp, mask, beta):
    r = np.where(mask, -beta * (logp - ref_logp), 0.0)
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    r[np.arange(len(r)), last] += rewards
    return np.cumsum(r[:, ::-1], axis=1)[:, ::-1]
""",
)
right("kl_shaped_returns", "a loop over the response's tokens", RETURNS.format(**RETURNS_RIGHT))
right(
    "kl_shaped_returns",
    "total minus what came before (an exclusive cumulative sum)",
    """
def kl_shaped_returns(rewards, logp, ref_logp, mask, beta):
    r = np.where(mask, -beta * (logp - ref_logp), 0.0)
    total = r.sum(axis=1) + rewards
    before = np.cumsum(r, axis=1) - r
    return np.where(mask, total[:, None] - before, 0.0)
""",
)

NLL = """
def response_nll(logits, targets, prompt_len, length):
    N, T, V = logits.shape
    t = np.arange(T)[None, :]
    mask = {mask}
    z = {shift}
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    count = {count}
    loss = -(picked * mask).sum() / count
    grad = np.exp(logp)
    np.put_along_axis(grad, targets[..., None], np.take_along_axis(grad, targets[..., None], axis=-1) - 1, axis=-1)
    return float(loss), grad * {grad_mask} / count
"""
NLL_RIGHT = {
    "mask": "(t >= prompt_len[:, None] - 1) & (t <= length[:, None] - 2)",
    "shift": "logits - logits.max(axis=-1, keepdims=True)",
    "count": "mask.sum()",
    "grad_mask": "mask[..., None]",
}
for label, slots in (
    (
        "the given function unchanged but for the overflow",
        {"mask": "t >= prompt_len[:, None]", "count": "N * T", "grad_mask": "1"},
    ),
    ("padding counted", {"mask": "t >= prompt_len[:, None] - 1"}),
    (
        "the response's first target missed",
        {"mask": "(t >= prompt_len[:, None]) & (t <= length[:, None] - 2)"},
    ),
    (
        "the end token's target dropped",
        {"mask": "(t >= prompt_len[:, None] - 1) & (t <= length[:, None] - 3)"},
    ),
    ("divided by every position", {"count": "N * T"}),
    ("divided by the number of sequences", {"count": "N"}),
    ("the gradient not masked", {"grad_mask": "1"}),
    ("no max shift: overflows", {"shift": "logits"}),
    ("shifted by the array's maximum: underflows", {"shift": "logits - logits.max()"}),
):
    wrong("response_nll", label, NLL.format(**{**NLL_RIGHT, **slots}))
right("response_nll", "take_along_axis and a float mask", NLL.format(**NLL_RIGHT))
right(
    "response_nll",
    "a loop over the response's positions with a log-sum-exp",
    """
def response_nll(logits, targets, prompt_len, length):
    grad = np.zeros_like(logits)
    total, count = 0.0, 0
    for n in range(logits.shape[0]):
        for t in range(prompt_len[n] - 1, length[n] - 1):
            z = logits[n, t]
            lse = z.max() + np.log(np.exp(z - z.max()).sum())
            total -= z[targets[n, t]] - lse
            grad[n, t] = np.exp(z - lse)
            grad[n, t, targets[n, t]] -= 1
            count += 1
    return total / count, grad / count
""",
)
