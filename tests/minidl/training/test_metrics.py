"""Tests for the scores of a binary test in minidl.training.metrics: sensitivity and
specificity, the ROC curve and its area, the reliability curve (calibration).

The accumulated metrics of ``compile(metrics=...)`` are tested through the model in
tests/minidl/training/test_model.py."""

import numpy as np
import pytest

from minidl.training import metrics as M

# a hand-worked example: scores with a tie across the classes (0.6) and within one class (0.3)
SCORES = np.array([0.9, 0.8, 0.6, 0.6, 0.3, 0.3, 0.1])
LABELS = np.array([1, 0, 1, 0, 1, 1, 0])
# P = 4, N = 3. Thresholds 0.9: TP 1 FP 0; 0.8: TP 1 FP 1; 0.6: TP 2 FP 2; 0.3: TP 4 FP 2; 0.1: TP 4 FP 3


def test_roc_curve_by_hand_with_ties():
    fpr, tpr, thresholds = M.roc_curve(SCORES, LABELS)
    np.testing.assert_allclose(fpr, [0, 0, 1 / 3, 2 / 3, 2 / 3, 1])
    np.testing.assert_allclose(tpr, [0, 1 / 4, 1 / 4, 2 / 4, 1, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.6, 0.3, 0.1])


def test_roc_auc_by_hand_is_the_pairwise_probability():
    # of the 12 (positive, negative) pairs, the positive scores higher in 6 (0.9 over all three
    # negatives, 0.6 over 0.1, each 0.3 over 0.1), ties in 1 (0.6, 0.6) and loses 5 -> 6.5 / 12
    assert M.roc_auc(SCORES, LABELS) == pytest.approx(6.5 / 12)
    assert M.auc(*M.roc_curve(SCORES, LABELS)[:2]) == pytest.approx(6.5 / 12)


def mann_whitney(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_matches_brute_force_on_tied_random_scores(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 60)
    labels[:2] = (0, 1)
    scores = np.round(rng.random(60) + 0.3 * labels, 1)  # many ties
    assert M.roc_auc(scores, labels) == pytest.approx(mann_whitney(scores, labels))
    # the order of the cases does not matter
    order = rng.permutation(60)
    assert M.roc_auc(scores[order], labels[order]) == pytest.approx(M.roc_auc(scores, labels))


def test_roc_auc_extremes_and_invariance():
    labels = np.array([0, 0, 1, 1])
    assert M.roc_auc([0.1, 0.2, 0.3, 0.4], labels) == 1.0
    assert M.roc_auc([0.4, 0.3, 0.2, 0.1], labels) == 0.0
    assert M.roc_auc([0.5, 0.5, 0.5, 0.5], labels) == 0.5  # one tie for everything: the diagonal
    scores = np.array([-2.0, 0.5, 0.1, 3.0])
    # any increasing map of the scores (logits -> probabilities) leaves the curve's points alone
    assert M.roc_auc(1 / (1 + np.exp(-scores)), labels) == M.roc_auc(scores, labels)
    # labels as floats, (N, 1) columns
    assert M.roc_auc(scores[:, None], labels[:, None].astype(np.float32)) == M.roc_auc(scores, labels)


def test_roc_against_sklearn_when_installed():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.standard_normal(200) + labels, 1)
    assert M.roc_auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores))
    fpr, tpr, _ = metrics.roc_curve(labels, scores, drop_intermediate=False)
    ours = M.roc_curve(scores, labels)
    np.testing.assert_allclose(ours[0], fpr)
    np.testing.assert_allclose(ours[1], tpr)


def test_roc_errors():
    with pytest.raises(ValueError, match="both classes"):
        M.roc_curve([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="as many scores as labels"):
        M.roc_auc([0.1, 0.2], [1, 0, 1])
    with pytest.raises(ValueError, match="0 or 1"):
        M.roc_auc([0.1, 0.2], [2, 0])
    with pytest.raises(ValueError, match="finite"):
        M.roc_auc([np.nan, 0.2], [1, 0])
    with pytest.raises(ValueError, match="increasing"):
        M.auc([0, 1, 0.5], [0, 1, 1])


def test_auc_trapezoid():
    assert M.auc([0, 1], [0, 1]) == 0.5
    assert M.auc([0, 0.5, 1], [0, 1, 1]) == pytest.approx(0.75)


def test_sensitivity_specificity_at_a_threshold():
    # threshold 0.6 (cases >= 0.6 called positive): 2 of 4 positives found, 1 of 3 negatives cleared
    assert M.sensitivity_specificity(SCORES, LABELS, 0.6) == pytest.approx((0.5, 1 / 3))
    assert M.sensitivity_specificity(SCORES, LABELS, 0.61) == pytest.approx((0.25, 2 / 3))
    assert M.sensitivity_specificity(SCORES, LABELS, -np.inf) == (1.0, 0.0)
    # each point of the ROC curve is (1 - specificity, sensitivity) at its threshold
    for f, t, th in zip(*M.roc_curve(SCORES, LABELS)):
        sens, spec = M.sensitivity_specificity(SCORES, LABELS, th)
        assert (sens, 1 - spec) == pytest.approx((t, f))
    sens, spec = M.sensitivity_specificity([0.2, 0.7], [1, 1], 0.5)
    assert sens == 0.5 and np.isnan(spec)


def test_reliability_curve_bins():
    probs = np.array([0.05, 0.15, 0.12, 0.5, 0.95, 1.0, 0.99])
    labels = np.array([0, 1, 0, 1, 1, 1, 0])
    mean_p, frac, count = M.reliability_curve(probs, labels, n_bins=5)
    np.testing.assert_array_equal(count, [3, 0, 1, 0, 3])  # 1.0 falls in the last bin
    np.testing.assert_allclose(mean_p[[0, 2, 4]], [(0.05 + 0.15 + 0.12) / 3, 0.5, (0.95 + 1.0 + 0.99) / 3])
    np.testing.assert_allclose(frac[[0, 2, 4]], [1 / 3, 1.0, 2 / 3])
    assert np.isnan(mean_p[1]) and np.isnan(frac[3])
    with pytest.raises(ValueError, match="probabilities"):
        M.reliability_curve([1.5, 0.2], [1, 0])
