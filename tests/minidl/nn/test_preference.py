"""Post-training losses: values against direct formulas, float64 gradients against finite
differences, the mask's zeros, and the identities that tie DPO to Bradley--Terry."""

import numpy as np
import pytest

from minidl.nn import preference
from minidl.nn.gradcheck import check_loss, numerical_gradient, rel_error


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 5, 4)) * 2
    targets = rng.integers(0, 4, (3, 5))
    mask = np.array([[0, 0, 1, 1, 0], [0, 1, 1, 1, 1], [0, 0, 0, 1, 0]], bool)
    return logits, targets, mask


def test_sequence_log_prob_is_the_sum_over_the_masked_positions(batch):
    logits, targets, mask = batch
    log_probs, _ = preference.sequence_log_prob(logits, np.where(mask, targets, -7), mask)
    lp = log_softmax(logits)
    expected = [sum(lp[n, t, targets[n, t]] for t in range(5) if mask[n, t]) for n in range(3)]
    np.testing.assert_allclose(log_probs, expected, rtol=1e-12)


def test_sequence_log_prob_backward_matches_finite_differences(batch):
    logits, targets, mask = batch
    d_out = np.array([0.7, -1.3, 2.0])
    _, cache = preference.sequence_log_prob(logits, targets, mask)
    analytic = preference.sequence_log_prob_backward(d_out, cache)
    numeric = numerical_gradient(
        lambda: preference.sequence_log_prob(logits, targets, mask)[0], logits, d_out
    )
    assert rel_error(analytic, numeric) < 1e-7
    assert np.all(analytic[~mask] == 0), "a masked position gets exactly no gradient"


def test_masked_crossentropy_is_the_mean_over_kept_tokens(batch):
    logits, targets, mask = batch
    loss = preference.MaskedSequenceCrossentropy()
    y = np.where(mask, targets, -1)
    expected = -log_softmax(logits)[mask, targets[mask]].mean()
    assert loss(logits, y) == pytest.approx(expected, rel=1e-12)
    assert check_loss(loss, logits, y).passed
    assert np.all(loss.backward()[~mask] == 0)
    with pytest.raises(ValueError, match="sample_weight"):
        loss(logits, y, sample_weight=np.ones(3))


def test_bradley_terry_value_gradient_and_shift_invariance():
    rng = np.random.default_rng(1)
    r = rng.standard_normal((6, 2)) * 3
    loss = preference.BradleyTerry()
    expected = np.mean(np.log1p(np.exp(-(r[:, 0] - r[:, 1]))))
    assert loss(r) == pytest.approx(expected, rel=1e-12)
    assert check_loss(loss, r, None).passed
    assert loss(r + 5.0) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        loss(r[:, :1])


def test_dpo_is_bradley_terry_on_beta_times_the_log_ratios():
    rng = np.random.default_rng(2)
    policy, reference = rng.standard_normal((5, 2)) * 4, rng.standard_normal((5, 2)) * 4
    beta = 0.3
    dpo = preference.DPO(beta)
    bt = preference.BradleyTerry()
    assert dpo(policy, reference) == pytest.approx(bt(beta * (policy - reference)), rel=1e-12)
    np.testing.assert_allclose(dpo.backward(), beta * bt.backward(), rtol=1e-12)
    assert check_loss(dpo, policy, reference).passed
    dpo(policy, reference)  # the check's last call was at a perturbed point
    # the pair's two gradients are equal and opposite, each -beta sigma(-h) / N on the chosen one
    h = beta * ((policy[:, 0] - reference[:, 0]) - (policy[:, 1] - reference[:, 1]))
    np.testing.assert_allclose(dpo.backward()[:, 0], -beta / (1 + np.exp(h)) / 5, rtol=1e-12)
    with pytest.raises(ValueError, match="beta"):
        preference.DPO(0.0)
    with pytest.raises(ValueError, match="reference"):
        dpo(policy, reference[:, :1])


def test_dpo_through_the_sequence_log_probability(batch):
    """The chain a chapter runs: logits -> log pi of two responses -> DPO -> dlogits."""
    logits, targets, mask = batch
    rng = np.random.default_rng(3)
    logits = np.concatenate([logits, rng.standard_normal((3, 5, 4))])  # chosen 0-2, rejected 3-5
    targets, mask = np.concatenate([targets, targets[::-1]]), np.concatenate([mask, mask])
    reference = rng.standard_normal((3, 2))
    dpo = preference.DPO(0.5)

    def loss_of_logits():
        lp = preference.sequence_log_prob(logits, targets, mask)[0]
        return dpo(np.stack([lp[:3], lp[3:]], axis=1), reference)

    lp, cache = preference.sequence_log_prob(logits, targets, mask)
    dpo(np.stack([lp[:3], lp[3:]], axis=1), reference)
    d = dpo.backward()
    analytic = preference.sequence_log_prob_backward(np.concatenate([d[:, 0], d[:, 1]]), cache)
    assert rel_error(analytic, numerical_gradient(loss_of_logits, logits)) < 1e-7
