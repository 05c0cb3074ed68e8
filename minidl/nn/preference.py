"""Losses of post-training a language model: the response-only loss of supervised
fine-tuning, a reward model's Bradley--Terry loss and direct preference optimisation (DPO).

All of them rest on one quantity, the log-probability a causal language model gives a whole
response: with logits z (N, T, V), targets y (N, T) (the next token at every position) and a
mask m (N, T) that is 1 on the response's tokens and 0 on the prompt and the padding,

    log pi(y_n) = sum_t m_nt log softmax(z_nt)[y_nt]                      (N,)
    d log pi(y_n) / dz_ntk = m_nt ([k = y_nt] - softmax(z_nt)_k)

    MaskedSequenceCrossentropy   L = -sum_n log pi(y_n) / sum_nt m_nt: the mean over response tokens
    BradleyTerry                 L = -mean_n log sigma(r_n,chosen - r_n,rejected)
    DPO                          the same with r = beta (log pi - log pi_ref) (Rafailov et al., 2023)

The two preference losses share the gradient of -log sigma(h), which is -sigma(-h): a pair
already ranked well (h large) pushes little, a pair ranked the wrong way pushes with up to 1.
"""

from __future__ import annotations

import numpy as np

from .losses import Loss, positive

__all__ = ["sequence_log_prob", "sequence_log_prob_backward", "MaskedSequenceCrossentropy", "BradleyTerry"]
__all__ += ["DPO"]


def sequence_log_prob(logits, targets, mask):
    """Summed log-probability of the masked targets of each sequence.

    logits (N, T, V), targets (N, T) ints (any value where ``mask`` is 0), mask (N, T) bool or
    0/1. Returns ``(log_probs (N,), cache)``; ``cache`` is what the backward needs.
    """
    logits = np.asarray(logits)
    targets, mask = np.asarray(targets), np.asarray(mask)
    if logits.ndim != 3 or targets.shape != logits.shape[:2] or mask.shape != targets.shape:
        raise ValueError(
            "sequence_log_prob expected logits (N, T, V) with targets and mask (N, T), got shapes "
            f"{logits.shape}, {targets.shape} and {mask.shape}"
        )
    m = mask.astype(logits.dtype)
    y = np.where(mask.astype(bool), targets, 0)  # any valid index where the mask hides the target
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # (N, T, V) log softmax
    picked = np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]  # (N, T)
    return (picked * m).sum(axis=1), (log_p, y, m)


def sequence_log_prob_backward(d_log_probs, cache):
    """(N,) gradient of a loss with respect to ``sequence_log_prob``'s output -> dL/dlogits (N, T, V).

    dL/dz_ntk = dL/dlog pi(y_n) * m_nt ([k = y_nt] - softmax(z_nt)_k): no gradient reaches a
    position the mask hides, whatever its logits.
    """
    log_p, y, m = cache
    grad = -np.exp(log_p)  # (N, T, V): -softmax
    np.put_along_axis(grad, y[..., None], np.take_along_axis(grad, y[..., None], axis=-1) + 1.0, axis=-1)
    scale = np.asarray(d_log_probs, dtype=log_p.dtype)[:, None] * m  # (N, T)
    return grad * scale[..., None]


class MaskedSequenceCrossentropy(Loss):
    """Next-token cross-entropy over the tokens a mask keeps: supervised fine-tuning's loss.

    ``loss(logits, targets)``: logits (N, T, V), targets (N, T) ints; a target equal to
    ``ignore_index`` (the prompt's positions and the padding) is not predicted and gets no
    gradient. L = -(1 / M) sum over kept (n, t) of log softmax(z_nt)[y_nt], M the number of
    kept tokens (a mean over tokens, not over sequences: a long response weighs more).
    """

    accuracy = None

    def __init__(self, ignore_index: int = -1):
        super().__init__()
        self.ignore_index = int(ignore_index)

    def compute(self, y_pred, y_true):
        targets = np.asarray(y_true)
        mask = targets != self.ignore_index
        self._count = max(int(mask.sum()), 1)
        log_probs, cache = sequence_log_prob(y_pred, targets, mask)
        grad = sequence_log_prob_backward(np.full(len(log_probs), -1.0 / self._count), cache)
        return -log_probs, grad.astype(y_pred.dtype)

    def mean(self, losses, y_pred, sample_weight=None) -> float:
        if sample_weight is not None:
            raise ValueError("MaskedSequenceCrossentropy takes no sample_weight: mask with ignore_index")
        return float(losses.sum() / self._count)


def _pair_scores(y_pred, who):
    if y_pred.ndim != 2 or y_pred.shape[1] != 2:
        raise ValueError(
            f"{who} expected scores (N, 2): [chosen, rejected] per pair, got shape {y_pred.shape}"
        )
    return y_pred[:, 0] - y_pred[:, 1]


def _minus_log_sigmoid(h, scale):
    """-log sigma(h) per pair, and dL/dy_pred (N, 2) for h = scale (y_chosen - y_rejected)."""
    d_h = -np.exp(-np.logaddexp(0.0, h))  # d(-log sigma(h))/dh = -sigma(-h), stable for any h
    grad = scale * np.stack([d_h, -d_h], axis=1) / len(h)
    return np.logaddexp(0.0, -h), grad


class BradleyTerry(Loss):
    """A reward model's loss on preference pairs (Bradley & Terry, 1952; Christiano et al., 2017).

    ``loss(rewards)``: rewards (N, 2), column 0 the preferred response's score, column 1 the
    other's. P(chosen preferred) = sigma(r_c - r_r); L = -mean log sigma(r_c - r_r), and
    dL/dr_c = -sigma(r_r - r_c) / N = -dL/dr_r. Only the difference is learned: adding a
    constant to every reward changes nothing.
    """

    accuracy = None
    symmetric = True  # y_true is not read

    def compute(self, y_pred, y_true):
        losses, grad = _minus_log_sigmoid(_pair_scores(y_pred, "BradleyTerry"), 1.0)
        return losses, grad.astype(y_pred.dtype)


class DPO(Loss):
    """Direct preference optimisation: Bradley--Terry on the implicit reward beta log(pi / pi_ref).

    ``loss(policy_log_probs, reference_log_probs)``: both (N, 2), [chosen, rejected] sequence
    log-probabilities (``sequence_log_prob``) of the trained policy and of the frozen reference.
    The KL-regularised objective max E[r] - beta KL(pi || pi_ref) is solved by
    pi* = pi_ref exp(r / beta) / Z, so r = beta log(pi* / pi_ref) + beta log Z; in a
    difference of two responses to one prompt Z cancels, which gives, with
    h = beta [(log pi_c - log ref_c) - (log pi_r - log ref_r)],
    L = -mean log sigma(h),   dL/dlog pi_c = -beta sigma(-h) / N = -dL/dlog pi_r.
    The reference gets no gradient.
    """

    accuracy = None

    def __init__(self, beta: float = 0.1):
        super().__init__()
        self.beta = positive(beta, "DPO beta")

    def compute(self, y_pred, y_true):
        reference = np.asarray(y_true, dtype=y_pred.dtype)
        if reference.shape != y_pred.shape:
            raise ValueError(
                f"DPO expected reference log-probabilities shaped like the policy's {y_pred.shape}, "
                f"got {reference.shape}"
            )
        h = self.beta * _pair_scores(y_pred - reference, "DPO")
        losses, grad = _minus_log_sigmoid(h, self.beta)
        return losses, grad.astype(y_pred.dtype)
