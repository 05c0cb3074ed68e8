"""Metrics for dense predictions: IoU and Dice of masks; box IoU, NMS and mAP of detections.

Segmentation (one class per pixel), from the confusion counts of class k over all pixels:
TP_k (predicted k, truly k), FP_k (predicted k, truly not), FN_k (truly k, predicted not):

    IoU_k  = TP_k / (TP_k + FP_k + FN_k)      = |P ∩ T| / |P ∪ T|
    Dice_k = 2 TP_k / (2 TP_k + FP_k + FN_k)  = 2 |P ∩ T| / (|P| + |T|)      (= F1 score)
    mean IoU = the mean of IoU_k over the classes present in the prediction or the target

Detection (a list of scored boxes per image against the true boxes), Pascal VOC's protocol
(Everingham et al., 2010) for one class: sort every detection of the class, over all
images, by decreasing score (ties: the order given); each one is a true positive if its
best-overlapping true box of the same image has IoU >= 0.5 and was not matched before,
else a false positive (a second box on the same object is a false positive). After the
k-th detection, recall_k = TP / (number of true boxes), precision_k = TP / k. The average
precision is the area under the precision-recall curve after making precision monotone
("all-point interpolation", VOC 2010 onward):

    p_interp(r) = max_{r' >= r} precision(r')        AP = sum_k (r_k - r_{k-1}) p_interp(r_k)

and mAP@0.5 is the mean of AP over the classes that have at least one true box.
"""

from __future__ import annotations

import numpy as np

from .. import backend, plot
from ..kernels.boxes import box_iou, nms

__all__ = ["confusion_matrix", "iou_per_class", "dice_per_class", "mean_iou", "box_iou", "nms", "batched_nms"]
__all__ += ["average_precision", "mean_average_precision"]


# --------------------------------------------------------------------------- segmentation
def confusion_matrix(pred, true, num_classes: int) -> np.ndarray:
    """counts[i, j] = number of pixels of true class i predicted as class j: (K, K) int64
    (``minidl.plot.confusion_matrix`` over the pixels, each class checked to be below K)."""
    pred, true = (np.asarray(backend.to_numpy(a)).ravel() for a in (pred, true))
    for what, a in (("prediction", pred), ("target", true)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"{what} classes must be in [0, {num_classes}), got {a.min()}..{a.max()}")
    return plot.confusion_matrix(true, pred, num_classes)


def _tp_fp_fn(pred, true, num_classes):
    counts = confusion_matrix(pred, true, num_classes)
    tp = np.diag(counts).astype(np.float64)
    return tp, counts.sum(axis=0) - tp, counts.sum(axis=1) - tp


def iou_per_class(pred, true, num_classes: int) -> np.ndarray:
    """IoU_k for k in 0..K-1 (K,), NaN for a class in neither the prediction nor the target."""
    tp, fp, fn = _tp_fp_fn(pred, true, num_classes)
    union = tp + fp + fn
    return np.divide(tp, union, out=np.full(num_classes, np.nan), where=union > 0)


def dice_per_class(pred, true, num_classes: int) -> np.ndarray:
    """Dice_k for k in 0..K-1 (K,), NaN for a class in neither the prediction nor the target."""
    tp, fp, fn = _tp_fp_fn(pred, true, num_classes)
    total = 2 * tp + fp + fn
    return np.divide(2 * tp, total, out=np.full(num_classes, np.nan), where=total > 0)


def mean_iou(pred, true, num_classes: int) -> float:
    """The mean of ``iou_per_class`` over the classes present (NaNs left out)."""
    return float(np.nanmean(iou_per_class(pred, true, num_classes)))


# --------------------------------------------------------------------------- detection
def batched_nms(boxes, scores, classes, iou_threshold: float = 0.5) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other.

    Runs ``nms`` once per class; returns the kept indices in decreasing score order (ties:
    the lower index first).
    """
    boxes, scores, classes = np.asarray(boxes).reshape(-1, 4), np.asarray(scores), np.asarray(classes)
    kept = [
        np.flatnonzero(classes == c)[nms(boxes[classes == c], scores[classes == c], iou_threshold)]
        for c in np.unique(classes)
    ]
    keep = np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]  # ties: the lower index first


def average_precision(detections, ground_truth, iou_threshold: float = 0.5) -> float:
    """VOC all-point average precision of one class.

    Parameters
    ----------
    detections : list over images of (boxes (D_i, 4), scores (D_i,)).
    ground_truth : list over the same images of true boxes (G_i, 4).

    Returns
    -------
    AP in [0, 1]; NaN when there is no true box at all (AP is undefined then); 0 when
    there are true boxes but no detection.
    """
    if len(detections) != len(ground_truth):
        raise ValueError(f"{len(detections)} images of detections but {len(ground_truth)} of ground truth")
    n_true = sum(len(np.asarray(g).reshape(-1, 4)) for g in ground_truth)
    if n_true == 0:
        return float("nan")
    image_of, score_of, box_of = [], [], []
    for i, (boxes, scores) in enumerate(detections):
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        if len(scores) != len(boxes):
            raise ValueError(f"image {i}: {len(boxes)} boxes but {len(scores)} scores")
        image_of += [i] * len(boxes)
        score_of.append(scores)
        box_of.append(boxes)
    if not image_of:
        return 0.0
    scores, boxes = np.concatenate(score_of), np.concatenate(box_of)
    order = np.argsort(-scores, kind="stable")
    matched = [np.zeros(len(np.asarray(g).reshape(-1, 4)), bool) for g in ground_truth]
    true_positive = np.zeros(len(order))
    for rank, d in enumerate(order):
        image = image_of[d]
        truth = np.asarray(ground_truth[image], np.float64).reshape(-1, 4)
        if len(truth) == 0:
            continue
        overlaps = box_iou(boxes[d : d + 1], truth)[0]
        best = int(np.argmax(overlaps))
        if overlaps[best] >= iou_threshold and not matched[image][best]:
            matched[image][best] = True
            true_positive[rank] = 1
    tp = np.cumsum(true_positive)
    recall = tp / n_true
    precision = tp / np.arange(1, len(tp) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # max precision at any higher recall
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def mean_average_precision(detections, ground_truth, num_classes: int, iou_threshold: float = 0.5):
    """mAP over classes: (mAP, AP per class (K,)).

    detections : list over images of (boxes (D_i, 4), scores (D_i,), classes (D_i,)).
    ground_truth : list over images of (boxes (G_i, 4), classes (G_i,)).
    Classes with no true box get AP NaN and are left out of the mean.
    """
    ap = np.full(num_classes, np.nan)
    for c in range(num_classes):
        dets = [
            (np.asarray(b).reshape(-1, 4)[np.asarray(k) == c], np.asarray(s)[np.asarray(k) == c])
            for b, s, k in detections
        ]
        truth = [np.asarray(b).reshape(-1, 4)[np.asarray(k) == c] for b, k in ground_truth]
        ap[c] = average_precision(dets, truth, iou_threshold)
    present = ~np.isnan(ap)
    return (float(ap[present].mean()) if present.any() else float("nan")), ap
