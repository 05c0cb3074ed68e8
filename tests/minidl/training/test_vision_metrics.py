"""IoU, Dice and average precision against brute-force references written here."""

from __future__ import annotations

import numpy as np
import pytest

from minidl.training import vision_metrics as VM
from tests.minidl.kernels.test_boxes import brute_iou, random_boxes


def test_iou_and_dice_metrics_against_sets():
    rng = np.random.default_rng(5)
    pred, true = rng.integers(0, 4, (3, 9, 9)), rng.integers(0, 4, (3, 9, 9))
    pred[pred == 3] = 0  # class 3: in the target only (IoU 0)
    iou, dice = VM.iou_per_class(pred, true, 5), VM.dice_per_class(pred, true, 5)
    for k in range(4):
        p, t = pred == k, true == k
        assert iou[k] == pytest.approx((p & t).sum() / (p | t).sum())
        assert dice[k] == pytest.approx(2 * (p & t).sum() / (p.sum() + t.sum()))
    assert iou[3] == 0 and np.isnan(iou[4]) and np.isnan(dice[4])  # class 4 nowhere: left out
    assert VM.mean_iou(pred, true, 5) == pytest.approx(iou[:4].mean())
    assert VM.mean_iou(true, true, 5) == 1.0
    with pytest.raises(ValueError, match=r"classes must be in \[0, 3\)"):
        VM.confusion_matrix(pred, true, 3)


# =========================================================================== average precision
def brute_ap(detections, truths, threshold=0.5):
    """VOC AP the long way: match, then for every recall level the best precision at or beyond it."""
    flat = [(s, i, box) for i, (boxes, scores) in enumerate(detections) for box, s in zip(boxes, scores)]
    order = sorted(range(len(flat)), key=lambda j: -flat[j][0])  # sorted() is stable: ties keep order
    used = [set() for _ in truths]
    hits = []
    for j in order:
        s, i, box = flat[j]
        if len(truths[i]) == 0:
            hits.append(0)
            continue
        overlaps = brute_iou(np.array([box]), np.asarray(truths[i]))[0]
        best = int(np.argmax(overlaps))
        hit = overlaps[best] >= threshold and best not in used[i]
        if hit:
            used[i].add(best)
        hits.append(int(hit))
    n_true = sum(len(t) for t in truths)
    points = [(sum(hits[: k + 1]) / n_true, sum(hits[: k + 1]) / (k + 1)) for k in range(len(hits))]
    ap, previous = 0.0, 0.0
    for recall in sorted({r for r, _ in points}):
        if recall > previous:
            ap += (recall - previous) * max(p for r, p in points if r >= recall)
            previous = recall
    return ap


def test_average_precision_against_brute_force():
    rng = np.random.default_rng(9)
    for _ in range(30):
        truths = [random_boxes(rng, int(rng.integers(0, 4)), integer=True) for _ in range(5)]
        detections = []
        for t in truths:
            near = t + rng.normal(0, 1.5, t.shape)
            extra = random_boxes(rng, int(rng.integers(0, 3)), integer=True)
            boxes = np.vstack([near, near[:1], extra]) if len(t) else extra  # a duplicate: a false positive
            detections.append((boxes, np.round(rng.random(len(boxes)), 1)))  # ties in scores
        if sum(len(t) for t in truths) == 0:
            continue
        assert VM.average_precision(detections, truths) == pytest.approx(
            brute_ap(detections, truths), abs=1e-12
        )


def test_average_precision_edge_cases():
    box = np.array([[0, 0, 10, 10]], float)
    assert VM.average_precision([(box, [0.9])], [box]) == 1.0
    assert VM.average_precision([(np.zeros((0, 4)), [])], [box]) == 0.0  # no detection
    assert np.isnan(VM.average_precision([(box, [0.9])], [np.zeros((0, 4))]))  # nothing to find
    # a duplicate ranked above the true match costs precision; ranked below, it costs nothing
    two = np.vstack([box, box])
    assert VM.average_precision([(two, [0.9, 0.8])], [box]) == 1.0
    far = np.array([[20, 20, 30, 30], [0, 0, 10, 10]], float)
    assert VM.average_precision([(far, [0.9, 0.8])], [box]) == 0.5
    # touching the true box is IoU 0: a miss
    assert VM.average_precision([(np.array([[10, 0, 20, 10]], float), [1.0])], [box]) == 0.0
    m, per_class = VM.mean_average_precision([(two, [0.9, 0.8], [0, 1])], [(box, [0])], num_classes=3)
    assert per_class[0] == 1.0 and np.isnan(per_class[1]) and np.isnan(per_class[2]) and m == 1.0
