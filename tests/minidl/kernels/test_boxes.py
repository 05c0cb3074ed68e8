"""Box IoU and NMS (NumPy and Numba) against brute-force references, and torchvision where installed."""

from __future__ import annotations

import numpy as np
import pytest

from minidl.kernels import boxes as K
from minidl.training import vision_metrics as VM


def random_boxes(rng, n, size=32.0, integer=False):
    xy = rng.uniform(0, size - 4, (n, 2))
    wh = rng.uniform(1, size / 2, (n, 2))
    out = np.hstack([xy, xy + wh])
    return np.round(out) if integer else out


# =========================================================================== box IoU and NMS
def brute_iou(a, b):
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
            out[i, j] = w * h / union if union > 0 else 0.0
    return out


def brute_nms(boxes, scores, threshold):
    remaining, keep = list(range(len(boxes))), []
    while remaining:
        best = max(remaining, key=lambda i: (scores[i], -i))  # highest score, then lowest index
        keep.append(best)
        remaining = [
            i for i in remaining if i != best and brute_iou(boxes[[best]], boxes[[i]])[0, 0] <= threshold
        ]
    return keep


@pytest.mark.parametrize("iou", [K.box_iou_reference, K.box_iou_numba, VM.box_iou])
def test_box_iou_against_brute_force(iou):
    rng = np.random.default_rng(6)
    for integer in (False, True):
        a, b = random_boxes(rng, 17, integer=integer), random_boxes(rng, 9, integer=integer)
        np.testing.assert_allclose(iou(a, b), brute_iou(a, b), rtol=1e-12, atol=1e-15)
    touching = np.array([[0, 0, 2, 2], [2, 0, 4, 2], [0, 0, 2, 2], [1, 1, 1, 1]], float)
    np.testing.assert_array_equal(
        iou(touching, touching)[0], [1.0, 0.0, 1.0, 0.0]
    )  # touching: 0; empty box: 0
    assert iou(np.zeros((0, 4)), touching).shape == (0, 4)


@pytest.mark.parametrize("nms", [K.nms_reference, K.nms_numba, VM.nms])
def test_nms_against_brute_force_with_ties(nms):
    rng = np.random.default_rng(7)
    for trial in range(20):
        boxes = random_boxes(rng, 25, size=20.0, integer=trial % 2 == 0)
        scores = np.round(rng.random(25), 1)  # many ties
        for threshold in (0.3, 0.5):
            assert nms(boxes, scores, threshold).tolist() == brute_nms(boxes, scores, threshold)
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    # exactly the threshold is kept (suppression needs IoU > threshold)
    two = np.array([[0, 0, 2, 1], [1, 0, 3, 1]], float)  # IoU 1/3
    assert nms(two, np.array([0.9, 0.8]), 1 / 3).tolist() == [0, 1]


def test_batched_nms_keeps_overlapping_boxes_of_other_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], float)
    keep = VM.batched_nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1]), 0.5)
    assert keep.tolist() == [0, 2]
    # tied scores across classes: the lower index first, whatever the class
    tied = VM.batched_nms(boxes, np.array([0.5, 0.9, 0.5]), np.array([1, 2, 0]), 0.5)
    assert tied.tolist() == [1, 0, 2]
    with pytest.raises(ValueError, match="3 boxes but 2 scores"):
        VM.average_precision([(boxes, [0.1, 0.2])], [boxes])


def test_box_ops_agree_with_torchvision_where_installed():
    ops = pytest.importorskip(
        "torchvision.ops", reason="torchvision not installed: compared against the brute force only"
    )
    import torch

    rng = np.random.default_rng(8)
    a, b = random_boxes(rng, 30), random_boxes(rng, 20)
    np.testing.assert_allclose(
        VM.box_iou(a, b), ops.box_iou(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-10
    )
    scores = rng.random(30)
    assert VM.nms(a, scores, 0.4).tolist() == ops.nms(torch.tensor(a), torch.tensor(scores), 0.4).tolist()
