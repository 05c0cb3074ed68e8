"""Chapter 22's graded exercises: the references agree with the library (written
independently of it), and every named mistake is caught on at least one case with its hint.

Whole-notebook grading (solutions full marks, generated exercises 0) is in
tests/grader/test_runner.py and tests/grader/judge/test_feedback_verdict.py, which cover every chapter of the registry.
"""

from __future__ import annotations

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.specs import ch22

import minidl as mdl
from minidl import layers as L
from minidl.training import metrics
from minidl.training import vision_metrics as vm

EXERCISES = {
    "conv_transpose_backward": ch22.conv_transpose_backward,
    "soft_nms": ch22.soft_nms,
    "voc_ap_difficult": ch22.voc_ap_difficult,
    "auc_from_counts": ch22.auc_from_counts,
    "screening_report": ch22.screening_report,
    "ece_and_chance": ch22.ece_and_chance,
}


def test_the_chapter_has_six_code_exercises_and_four_questions():
    items = registry.for_chapter("22_detection_segmentation")
    assert sorted(e.name for e in items if not e.is_question) == sorted(EXERCISES)
    assert sorted(e.kind for e in items if e.is_question) == ["choice", "choice", "choice", "choice"]


@pytest.mark.parametrize("stride, kernel", [(2, 2), (2, 3), (1, 3)])
def test_conv_transpose_reference_equals_the_layers_backward(stride, kernel):
    rng = np.random.default_rng(stride * 10 + kernel)
    x = rng.standard_normal((2, 3, 4, 3))
    mdl.seed(0)
    layer = L.Conv2DTranspose(2, kernel, stride=stride)
    layer.build((3, 4, 3), dtype=np.float64)
    layer.astype(np.float64)
    layer.params["b"][...] = 0.0
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    ref_dx, ref_dW = ch22.conv_transpose_backward(dy, x, layer.params["W"], stride)
    np.testing.assert_allclose(ref_dx, dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ref_dW, layer.grads["W"], rtol=1e-10, atol=1e-12)


def test_soft_nms_with_a_tiny_sigma_is_the_librarys_hard_nms_at_iou_0():
    """exp(-IoU^2 / sigma) with sigma -> 0 takes any overlapping box below the threshold."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        corner = rng.integers(0, 20, (15, 2)).astype(float)
        boxes = np.hstack([corner, corner + rng.integers(2, 9, (15, 2))])
        scores = np.round(rng.uniform(0.1, 1.0, 15), 1)
        keep, kept_scores = ch22.soft_nms(boxes, scores, 1e-9, 1e-3)
        assert keep.tolist() == vm.nms(boxes, scores, 0.0).tolist()
        assert kept_scores.tolist() == scores[keep].tolist()


def test_soft_nms_by_hand():
    """Box 1 (IoU 0.9 with box 0) decays to 0.85 exp(-0.81 / 0.5) = 0.169, below box 2."""
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [40, 0, 50, 10]], float)
    keep, kept_scores = ch22.soft_nms(boxes, np.array([0.9, 0.85, 0.6]), 0.5, 0.001)
    assert keep.tolist() == [0, 2, 1]
    np.testing.assert_allclose(kept_scores, [0.9, 0.6, 0.85 * np.exp(-0.81 / 0.5)], rtol=1e-12)
    keep, _ = ch22.soft_nms(boxes, np.array([0.9, 0.85, 0.6]), 0.5, 0.85 * np.exp(-0.81 / 0.5) * 1.01)
    assert keep.tolist() == [0, 2]


def test_voc_ap_without_difficult_boxes_is_the_librarys_average_precision():
    rng = np.random.default_rng(2)
    truth = np.array([[10.0 * k, 0, 10.0 * k + 5, 5] for k in range(8)])
    for _ in range(20):
        d = int(rng.integers(0, 12))
        boxes = truth[rng.integers(0, 8, d)] + rng.normal(0, 1.0, (d, 1))
        scores = np.round(rng.random(d), 1)
        expected = vm.average_precision([(boxes, scores)], [truth])
        got = ch22.voc_ap_difficult(boxes, scores, truth, np.zeros(8, bool))
        assert got == pytest.approx(expected, abs=1e-12)


def test_voc_ap_with_difficult_boxes_by_hand():
    """Ranked: on the difficult box (ignored), a hit, on the difficult box again (ignored), a
    second detection on box 0 and a miss tied at 0.8, a miss, a hit at IoU 0.5: precisions 1
    and 2 / 5 at the hits, over the 2 boxes that are not difficult."""
    case = next(
        c
        for c in registry.get("voc_ap_difficult").make_cases(np.random.default_rng(0))
        if "IoU exactly" in c.label
    )
    assert ch22.voc_ap_difficult(*case.args) == pytest.approx((1 + 2 / 5) / 2, abs=1e-12)
    boxes, scores, true_boxes, difficult = case.args
    assert np.isnan(ch22.voc_ap_difficult(boxes, scores, true_boxes, np.ones(3, bool)))


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_named_mistake_scores_below_full_with_its_hint(name):
    exercise = registry.get(name)
    cases = exercise.make_cases(np.random.default_rng(3))
    reference = EXERCISES[name]
    assert all(exercise.judge(case, reference(*case.args)) is None for case in cases)
    caught: dict[str, list] = {}
    for case in cases:
        for hint, wrong in exercise.public(case)["mistakes"]:  # (hint, the output with that mistake)
            caught.setdefault(hint, []).append(exercise.judge(case, wrong))
    assert len(caught) >= 4
    for hint, messages in caught.items():
        failing = [m for m in messages if m is not None]
        assert failing, f"the mistake {hint!r} passes every case of {name}"
        assert any(hint in m for m in failing), f"{name}: no case names the mistake {hint!r}: {failing}"


def test_empty_detections_ties_and_difficult_boxes_are_cases():
    labels = {
        name: [c.label for c in registry.get(name).make_cases(np.random.default_rng(0))] for name in EXERCISES
    }
    assert any("single box" in label for label in labels["soft_nms"])
    assert any("same box twice" in label for label in labels["soft_nms"])
    assert any("equal to the threshold" in label for label in labels["soft_nms"])
    assert any("no detections" in label for label in labels["voc_ap_difficult"])
    assert any("every true box difficult" in label for label in labels["voc_ap_difficult"])
    assert any("tied" in label for label in labels["voc_ap_difficult"])


def test_auc_from_counts_reference_equals_the_librarys_roc_auc_on_the_expanded_scores():
    rng = np.random.default_rng(4)
    for case in registry.get("auc_from_counts").make_cases(rng):
        levels, positives, negatives = case.args
        if positives.max() > 1000:  # the 1e10 case: no list of scores to expand
            continue
        scores = np.concatenate([np.repeat(levels, positives), np.repeat(levels, negatives)])
        labels = np.repeat([1, 0], [positives.sum(), negatives.sum()])
        assert ch22.auc_from_counts(*case.args) == pytest.approx(metrics.roc_auc(scores, labels), abs=1e-12)


def test_auc_from_counts_is_exact_where_int64_products_overflow():
    """The 1e10 case against Python's exact integers; an int64 answer is wrong there."""
    case = next(
        c for c in registry.get("auc_from_counts").make_cases(np.random.default_rng(0)) if "1e10" in c.label
    )
    levels, positives, negatives = case.args
    merged: dict[float, list[int]] = {}
    for x, p, n in zip(levels.tolist(), positives.tolist(), negatives.tolist()):
        merged.setdefault(x, [0, 0])
        merged[x][0] += p
        merged[x][1] += n
    below = won2 = 0
    for x in sorted(merged):
        p, n = merged[x]
        won2 += p * (2 * below + n)
        below += n
    exact = won2 / (2 * int(positives.sum()) * int(negatives.sum()))
    assert ch22.auc_from_counts(*case.args) == pytest.approx(exact, rel=1e-12)
    assert int(positives.sum()) * int(negatives.sum()) > np.iinfo(np.int64).max


def test_screening_reference_equals_the_librarys_roc_and_rates():
    """The threshold is the validation ROC curve's first point with sensitivity >= target; the
    rates are the library's at that threshold on the test set."""
    rng = np.random.default_rng(5)
    for case in registry.get("screening_report").make_cases(rng):
        val_scores, val_labels, test_scores, test_labels, target = case.args
        _, tpr, thresholds = metrics.roc_curve(val_scores, val_labels)
        expected = thresholds[1:][np.argmax(tpr[1:] >= target)]
        threshold, sensitivity, specificity = ch22.screening_report(*case.args)
        assert threshold == expected
        assert (sensitivity, specificity) == metrics.sensitivity_specificity(
            test_scores, test_labels, threshold
        )


def test_ties_and_edges_of_the_section_21_9_exercises_are_cases():
    labels = {
        name: [c.label for c in registry.get(name).make_cases(np.random.default_rng(0))]
        for name in ("auc_from_counts", "screening_report")
    }
    assert any("single level" in label for label in labels["auc_from_counts"])
    assert any("two entries" in label for label in labels["auc_from_counts"])
    assert any("inside a tie" in label for label in labels["screening_report"])
    assert any("on the threshold" in label for label in labels["screening_report"])


def test_ece_chance_level_equals_the_enumeration_of_every_labelling():
    """The chance level against the expectation over all 2^n_b labellings of each bin."""
    import itertools

    rng = np.random.default_rng(6)
    for case in registry.get("ece_and_chance").make_cases(rng):
        probs, labels, n_bins = case.args
        runs = np.array_split(np.argsort(probs, kind="stable"), n_bins)
        if max(run.size for run in runs) > 12:
            continue
        expected = 0.0
        for run in runs:
            p = probs[run]
            for draw in itertools.product((0, 1), repeat=run.size):
                y = np.array(draw)
                expected += (
                    run.size / probs.size * np.prod(np.where(y == 1, p, 1 - p)) * abs(y.mean() - p.mean())
                )
        assert ch22.ece_and_chance(*case.args)[1] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_ece_chance_level_with_one_bin_per_case_is_the_mean_of_2p_1_minus_p():
    probs = np.array([0.0, 1.0, 0.7, 0.2, 0.95])
    ece, chance = ch22.ece_and_chance(probs, np.array([1, 1, 0, 0, 1]), 5)
    assert chance == pytest.approx(np.mean(2 * probs * (1 - probs)), rel=1e-12)
    assert ece == pytest.approx(np.mean(np.abs(np.array([1, 1, 0, 0, 1]) - probs)), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 20240101])
def test_an_unstable_argsort_is_caught_at_every_seed_public_included(seed):
    """NumPy's default argsort keeps short runs of ties in order: a run of more than 16 ties cut
    by a bin edge (the 64-case run of 41) must tell it from the stable sort at every seed."""
    for case in registry.get("ece_and_chance").make_cases(np.random.default_rng(seed)):
        if "run of 41 ties" not in case.label:
            continue
        probs, labels, n_bins = case.args
        unstable = sum(
            run.size / probs.size * abs(labels[run].mean() - probs[run].mean())
            for run in np.array_split(np.argsort(probs), n_bins)
        )
        assert abs(unstable - ch22.ece_and_chance(*case.args)[0]) > 1e-3
        return
    raise AssertionError("no case holds the run of 41 ties")
