"""Chapter 21, detection and segmentation: the backward pass of a transposed convolution,
class-aware non-maximum suppression, VOC average precision from a ranked list, the AUC from
ranks with ties, and a screening report whose threshold was chosen on the test set, repaired;
questions on the IoU of two boxes, on what pixel accuracy and mean IoU say about a lazy
segmenter, and on the predictive value of a good test at a low prevalence.

References: Long et al. (2015), Ronneberger et al. (2015) for the transposed convolution of a
decoder; Redmon et al. (2016) for NMS in a grid detector; Everingham et al. (2010) for the
all-point interpolated average precision of Pascal VOC; Hanley and McNeil (1982) for the AUC
as the Mann-Whitney statistic."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "21_detection_segmentation"


# ---------------------------------------------------------------- transposed convolution backward
def conv_transpose_backward(dy, x, W, stride):
    """y[n, f, i s + p, j s + q] += x[n, c, i, j] W[c, f, p, q] (no padding, no bias);
    x (N, C, H, W), W (C, F, KH, KW), dy (N, F, (H-1)s+KH, (W-1)s+KW) -> dx (like x), dW (like W)."""
    _, _, h, w = x.shape
    _, _, kh, kw = W.shape
    dx = np.zeros_like(x)
    dW = np.zeros_like(W)
    for i in range(h):
        for j in range(w):
            window = dy[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]  # (N, F, KH, KW)
            dx[:, :, i, j] = np.einsum("nfpq,cfpq->nc", window, W)
            dW += np.einsum("nc,nfpq->cfpq", x[:, :, i, j], window)
    return dx, dW


def _ct_flipped_kernel(dy, x, W, stride):
    return conv_transpose_backward(dy, x, W[:, :, ::-1, ::-1].copy(), stride)


def _ct_stride_ignored(dy, x, W, stride):
    """Windows read one pixel apart instead of ``stride`` apart."""
    return conv_transpose_backward(dy, x, W, 1)


def _ct_batch_mean(dy, x, W, stride):
    dx, dW = conv_transpose_backward(dy, x, W, stride)
    return dx, dW / x.shape[0]


def _ct_dx_without_channel_sum(dy, x, W, stride):
    """dx from the first output channel only (the sum over F forgotten)."""
    dx, dW = conv_transpose_backward(dy[:, :1], x, W[:, :1], stride)
    return dx, conv_transpose_backward(dy, x, W, stride)[1]


def _ct_cases(rng):
    cases = []
    # (N, C, H, W), F, K, stride: stride 2 with K 2 (no overlap, a U-Net's up-sampling),
    # overlapping stamps (K 3, stride 2), stride 1, a non-square kernel, C != F
    for (n, c, h, w), f, (kh, kw), s in (
        ((2, 3, 3, 3), 2, (2, 2), 2),
        ((3, 2, 4, 3), 4, (3, 3), 2),
        ((2, 3, 2, 4), 3, (3, 2), 1),
        ((1, 1, 3, 2), 2, (4, 4), 3),
    ):
        x = rng.standard_normal((n, c, h, w))
        W = rng.standard_normal((c, f, kh, kw))
        dy = rng.standard_normal((n, f, (h - 1) * s + kh, (w - 1) * s + kw))
        cases.append(Case((dy, x, W, s), label=f"x {(n, c, h, w)}, W {(c, f, kh, kw)}, stride {s}"))
    return cases


function_exercise(
    "conv_transpose_backward",
    CHAPTER,
    3,
    "conv_transpose_backward",
    "The backward pass of a transposed convolution",
    _ct_cases,
    conv_transpose_backward,
    ("dx", "dW"),
    mistakes=(
        (
            "no flip: the forward stamps W[c, f, p, q] at offset (p, q), so the backward reads dy at "
            "the same offset (a cross-correlation with W, as Conv2D's forward)",
            _ct_flipped_kernel,
        ),
        (
            "input pixel (i, j) stamps its kernel at (i * stride, j * stride): read the window of dy there",
            _ct_stride_ignored,
        ),
        ("dW is a sum over the batch, not a mean: the loss already carries any 1/N", _ct_batch_mean),
        (
            "every output channel f receives x[n, c, i, j] W[c, f]: dx sums over f",
            _ct_dx_without_channel_sum,
        ),
    ),
    forbids=("minidl.nn.layers.Conv2DTranspose", "minidl.nn.layers.upsampling", "minidl.kernels"),
    dtypes="float64",
    equivalent_mutants={
        "conv_transpose_backward: augassign: dW += *": "dW is the function's own accumulator: += "
        "and = + add the same",
    },
)


# ---------------------------------------------------------------- class-aware NMS
def _iou_one_to_many(box, boxes):
    left = np.maximum(box[0], boxes[:, 0])
    top = np.maximum(box[1], boxes[:, 1])
    right = np.minimum(box[2], boxes[:, 2])
    bottom = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = (
        (box[2] - box[0]) * (box[3] - box[1])
        + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        - inter
    )
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _nms(boxes, scores, classes, iou_threshold, order_key, overlap, class_aware=True, strict=True):
    boxes, scores, classes = np.asarray(boxes, float).reshape(-1, 4), np.asarray(scores), np.asarray(classes)
    order = list(order_key(scores))
    keep = []
    while order:
        best = order.pop(0)
        keep.append(best)
        rest = np.array(order, dtype=np.int64)
        if rest.size == 0:
            break
        o = overlap(boxes[best], boxes[rest])
        hit = o > iou_threshold if strict else o >= iou_threshold
        if class_aware:
            hit &= classes[rest] == classes[best]
        order = [int(r) for r, h in zip(rest, hit) if not h]
    return np.array(keep, dtype=np.int64)


def _by_score(scores):
    return np.argsort(-np.asarray(scores, float), kind="stable")


def class_aware_nms(boxes, scores, classes, iou_threshold):
    """Greedy NMS per class: boxes (D, 4) (x1, y1, x2, y2), scores (D,), classes (D,) ->
    the kept indices (int) in decreasing score order, ties the lower index first; a box is
    suppressed by a kept box of its own class whose IoU with it exceeds the threshold."""
    return _nms(boxes, scores, classes, iou_threshold, _by_score, _iou_one_to_many)


def _nms_plus_one(box, boxes):
    """The old VOC pixel convention: widths x2 - x1 + 1, so touching boxes overlap."""
    grown = np.array(box, float) + np.array([0, 0, 1, 1])
    return _iou_one_to_many(grown, np.asarray(boxes, float) + np.array([0, 0, 1, 1]))


def _nms_cases(rng):
    cases = []
    for d in (12, 20, 80):
        corner = rng.integers(0, 20, (d, 2)).astype(float)
        boxes = np.hstack([corner, corner + rng.integers(3, 10, (d, 2))])
        scores = np.round(rng.random(d), 1)  # many ties
        classes = rng.integers(0, 3, d)
        cases.append(Case((boxes, scores, classes, 0.3), label=f"{d} random boxes, tied scores, 3 classes"))
    # edge cases: same box in two classes; boxes that touch; IoU exactly the threshold; ties
    # (and a pair of class 3 with IoU 24 / 56 = 0.43: above this case's threshold, below 0.5)
    boxes = np.array(
        [[0, 0, 4, 4], [0, 0, 4, 4], [4, 0, 8, 4], [2, 0, 6, 4], [10, 10, 14, 14], [10, 10, 14, 14]]
        + [[20, 20, 30, 24], [24, 20, 34, 24]],
        float,
    )
    scores = np.array([0.9, 0.8, 0.7, 0.7, 0.5, 0.5, 0.45, 0.4])
    classes = np.array([0, 1, 0, 0, 2, 2, 3, 3])
    cases.append(
        Case(
            (boxes, scores, classes, 1 / 3),
            label="the same box in two classes, touching boxes, IoU = threshold, tied duplicates, IoU 0.43",
        )
    )
    # tiny boxes (areas below 1), boxes of zero area (IoU 0 by convention), unit boxes that touch,
    # and boxes apart by 0.5 on both axes: the intersection's sides are clipped at 0, not at 1
    boxes = np.array(
        [[0, 0, 0.5, 0.5], [0.1, 0.1, 0.5, 0.5], [5, 5, 5, 9], [5, 5, 5, 9]]
        + [[10, 10, 11, 11], [11, 10, 12, 11], [30, 30, 31, 31], [30, 31, 31, 32]]
        + [[20, 20, 20.5, 20.5], [21, 21, 21.5, 21.5]],
        float,
    )
    scores = np.linspace(0.9, 0.1, 10)
    cases.append(
        Case(
            (boxes, scores, np.zeros(10, dtype=np.int64), 0.2),
            label="tiny boxes, two boxes of zero area, unit boxes touching side by side and one above the other, boxes 0.5 apart on both axes",
        )
    )
    # no detection at all: an empty array of ints (np.array([]) is float)
    cases.append(
        Case(
            (np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64), 0.5),
            label="no detections: an empty int array",
        )
    )
    cases.append(
        Case(
            (np.array([[3.0, 1.0, 7.0, 2.0]]), np.array([0.2]), np.array([1]), 0.5),
            label="a single detection",
        )
    )
    return cases


function_exercise(
    "class_aware_nms",
    CHAPTER,
    2,
    "class_aware_nms",
    "Non-maximum suppression, class by class",
    _nms_cases,
    class_aware_nms,
    ("keep",),
    mistakes=(
        (
            "boxes of different classes must not suppress each other (a dog's box does not hide the cat under it)",
            lambda b, s, c, t: _nms(b, s, c, t, _by_score, _iou_one_to_many, class_aware=False),
        ),
        (
            "a box is suppressed when its IoU *exceeds* the threshold; at exactly the threshold it is kept",
            lambda b, s, c, t: _nms(b, s, c, t, _by_score, _iou_one_to_many, strict=False),
        ),
        (
            "ties in score: visit the lower index first (a stable sort of -scores); "
            "np.argsort(scores)[::-1] puts the higher index first",
            lambda b, s, c, t: _nms(
                b, s, c, t, lambda v: np.argsort(np.asarray(v), kind="stable")[::-1], _iou_one_to_many
            ),
        ),
        (
            "boxes that only touch overlap by 0: the width of the intersection is min(x2) - max(x1), with no + 1",
            lambda b, s, c, t: _nms(b, s, c, t, _by_score, _nms_plus_one),
        ),
        (
            "return the kept indices in decreasing score order, not sorted by index",
            lambda b, s, c, t: np.sort(class_aware_nms(b, s, c, t)),
        ),
    ),
    forbids=("minidl.training.vision_metrics", "minidl.kernels.boxes"),
    dtypes=("int",),
    equivalent_mutants={
        "class_aware_nms > _nms: delete: boxes, scores, classes = *": "the inputs are already arrays "
        "of the right shapes (the conversion is for callers with lists)",
        "class_aware_nms > _nms: const: -1 -> -2": "NumPy reads any negative size in a reshape as the "
        "one it works out",
        "class_aware_nms > _nms: augassign: hit &= *": "hit is the function's own array: &= and = & "
        "give the same flags",
        "class_aware_nms > _nms: delete: break -> pass": "with no box left, the loop compares with "
        "nothing and ends",
        "class_aware_nms > _nms: const: 0 -> -1 #2": "rest.size == -1 never holds: the same as no "
        "break, which changes nothing",
        "class_aware_nms > _iou_one_to_many: compare: union > 0 -> union >= 0 #2": "the divisor "
        "guard: at union 0 the outer where gives 0 whatever is divided",
        "class_aware_nms > _iou_one_to_many: const: 1.0 -> *": "the divisor where union is 0, where "
        "the outer where gives 0 anyway",
        "class_aware_nms > _iou_one_to_many: const: 0 -> -1 #6": "the divisor guard union > -1: at "
        "union 0 the outer where gives 0 whatever is divided",
        "class_aware_nms > _iou_one_to_many: compare: union > 0 -> union >= 0": "at union 0 the "
        "intersection is 0 too: 0 / 1 is the 0 the reference gives",
        "class_aware_nms > _iou_one_to_many: const: 0 -> -1 #4": "union > -1: at union 0 the "
        "intersection is 0 too, 0 / 1 = 0",
        "class_aware_nms > _iou_one_to_many: const: 0.0 -> -1.0": "an IoU of -1 where the union is "
        "0: like 0, below every threshold",
        "class_aware_nms > _iou_one_to_many: const: 0 -> -1 #2": "one side clipped at -1, the other "
        "at 0: the intersection of boxes apart is 0 or negative, an IoU below every threshold",
        "class_aware_nms > _iou_one_to_many: const: 0 -> -1 #3": "one side clipped at -1, the other "
        "at 0: the intersection of boxes apart is 0 or negative, an IoU below every threshold",
    },
)


# ---------------------------------------------------------------- average precision from a ranked list
def _true_positives_by_rank(scores, is_true_positive):
    """The running count of true positives down the detections ranked by decreasing score
    (ties in the order given): ``tp[k]`` counts the hits among the first k + 1."""
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    return np.cumsum(np.asarray(is_true_positive, float)[order])


def average_precision_ranked(scores, is_true_positive, n_true):
    """VOC all-point AP of one class: scores (D,), is_true_positive (D,) bool (already matched),
    n_true >= 1 true boxes. Sort by decreasing score, ties in the order given."""
    tp = _true_positives_by_rank(scores, is_true_positive)
    if tp.size == 0:
        return 0.0
    recall = tp / n_true
    precision = tp / np.arange(1, tp.size + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * envelope))


def _ap_no_envelope(scores, hits, n_true):
    tp = _true_positives_by_rank(scores, hits)
    if tp.size == 0:
        return 0.0
    return float(np.sum(np.diff(np.concatenate([[0.0], tp / n_true])) * tp / np.arange(1, tp.size + 1)))


def _ap_eleven_points(scores, hits, n_true):
    tp = _true_positives_by_rank(scores, hits)
    if tp.size == 0:
        return 0.0
    recall, precision = tp / n_true, tp / np.arange(1, tp.size + 1)
    return float(
        np.mean([precision[recall >= r].max() if (recall >= r).any() else 0.0 for r in np.linspace(0, 1, 11)])
    )


def _ap_recall_over_detections(scores, hits, n_true):
    d = len(np.asarray(hits))
    return average_precision_ranked(scores, hits, d) if d else 0.0


def _ap_ties_reversed(scores, hits, n_true):
    order = np.argsort(np.asarray(scores, float), kind="stable")[::-1]
    return average_precision_ranked(np.asarray(scores, float)[order], np.asarray(hits)[order], n_true)


def _ap_cases(rng):
    cases = []
    for d, n_true in ((10, 6), (15, 9), (100, 45)):
        scores = np.round(rng.random(d), 1)  # ties
        hits = rng.random(d) < 0.5
        hits[np.argmax(scores)] = False  # the best-scored detection is a false positive
        cases.append(Case((scores, hits, n_true), label=f"{d} detections, {n_true} true boxes, tied scores"))
    cases.append(
        Case(
            (np.array([0.9, 0.8, 0.8, 0.7, 0.7]), np.array([True, False, True, True, False]), 4),
            label="tied scores with a hit and a miss at each tie",
        )
    )
    cases.append(Case((np.zeros(0), np.zeros(0, bool), 3), label="no detections"))
    cases.append(Case((np.array([0.5, 0.4]), np.array([False, False]), 2), label="only false positives"))
    cases.append(Case((np.array([0.7]), np.array([True]), 3), label="one detection, a hit, 3 true boxes"))
    return cases


function_exercise(
    "average_precision_ranked",
    CHAPTER,
    2,
    "average_precision_ranked",
    "Average precision from a ranked list",
    _ap_cases,
    average_precision_ranked,
    ("ap",),
    mistakes=(
        (
            "interpolate: use at each recall the best precision at that recall *or higher* "
            "(np.maximum.accumulate over the reversed precisions)",
            _ap_no_envelope,
        ),
        (
            "that is VOC 2007's 11-point AP; the chapter's (VOC 2010 on) sums over every recall step",
            _ap_eleven_points,
        ),
        (
            "recall divides by the number of true boxes, n_true, not by the number of detections",
            _ap_recall_over_detections,
        ),
        (
            "ties in score keep the order given (a stable sort of -scores); "
            "np.argsort(scores)[::-1] reverses them",
            _ap_ties_reversed,
        ),
    ),
    forbids=("minidl.training.vision_metrics",),
    dtypes=("number",),
    equivalent_mutants={
        "average_precision_ranked: const: 0 -> -1": "with no detection the general formula sums "
        "nothing: 0.0 as well",
    },
)


# ---------------------------------------------------------------- AUC from ranks, ties as midranks
def _midranks(scores):
    """1-based ranks of the scores in increasing order; a run of equal scores shares the mean
    of the ranks it spans (below + 1 .. up_to: their mean is (below + 1 + up_to) / 2)."""
    ordered = np.sort(scores)
    below = np.searchsorted(ordered, scores, side="left")
    up_to = np.searchsorted(ordered, scores, side="right")
    return (below + 1 + up_to) / 2


def auc_by_ranks(scores, labels):
    """AUC = (R_pos - P (P + 1) / 2) / (P N): R_pos the sum of the positives' ranks among all the
    scores (ties: midranks), P positives, N negatives; scores (n,) float, labels (n,) int in {0, 1}
    with both classes present."""
    positive = labels == 1
    n_pos = int(np.sum(positive))
    n_neg = labels.size - n_pos
    rank_sum = np.sum(_midranks(scores)[positive])
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _auc_ranks_with(scores, labels, ranks=_midranks, offset=1, denominator=None, of_class=1):
    positive = labels == of_class
    n_pos = int(np.sum(positive))
    n_neg = labels.size - n_pos
    rank_sum = np.sum(ranks(scores)[positive])
    return float((rank_sum - n_pos * (n_pos + offset) / 2) / (denominator or n_pos * n_neg))


def _ordinal_ranks(scores):
    """Ties broken by position: 1..n in a stable sort."""
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return ranks


def _min_ranks(scores):
    return np.searchsorted(np.sort(scores), scores, side="left") + 1.0


def _ranks_cases(rng):
    cases = []
    for n in (12, 30):
        labels = rng.integers(0, 2, n)
        labels[:2] = (0, 1)
        scores = np.round(rng.random(n) + 0.4 * labels, 1)  # many ties, across and within classes
        cases.append(Case((scores, labels), label=f"{n} scores rounded to 0.1 (ties), both classes"))
    cases.append(
        Case(
            (np.array([0.9, 0.8, 0.6, 0.6, 0.3, 0.3, 0.1]), np.array([1, 0, 1, 0, 1, 1, 0])),
            label="the chapter's seven scores: a tie across the classes and one within (AUC 6.5 / 12)",
        )
    )
    cases.append(Case((np.full(5, 0.5), np.array([1, 0, 0, 1, 0])), label="every score tied: AUC 0.5"))
    cases.append(
        Case(
            (np.array([-3.0, -1.0, 2.0, 5.0]), np.array([0, 0, 1, 1])), label="negative scores, separated: 1"
        )
    )
    cases.append(
        Case((np.array([4.0, 3.0, 2.0, 1.0]), np.array([1, 1, 0, 0])[::-1].copy()), label="reversed: 0")
    )
    cases.append(Case((np.array([0.2, 0.7, 0.4]), np.array([0, 1, 0])), label="a single positive"))
    cases.append(
        Case(
            (np.array([0.3, 0.3, 0.9, 0.1]), np.array([1, 0, 0, 0])),
            label="a single positive tied with a negative",
        )
    )
    return cases


function_exercise(
    "auc_by_ranks",
    CHAPTER,
    2,
    "auc_by_ranks",
    "The AUC from ranks, ties included",
    _ranks_cases,
    auc_by_ranks,
    ("auc",),
    mistakes=(
        (
            "tied scores share the mean of the ranks they span (midranks); ranks from a sort break "
            "ties by position, so a tie counts 0 or 1 instead of one half",
            lambda s, y: _auc_ranks_with(s, y, ranks=_ordinal_ranks),
        ),
        (
            "tied scores share the *mean* of the ranks they span, not the lowest",
            lambda s, y: _auc_ranks_with(s, y, ranks=_min_ranks),
        ),
        (
            "the positives' smallest possible rank sum is 1 + 2 + ... + P = P (P + 1) / 2",
            lambda s, y: _auc_ranks_with(s, y, offset=-1),
        ),
        (
            "divide by the number of (positive, negative) pairs, P N, not by P times all the cases",
            lambda s, y: _auc_ranks_with(s, y, denominator=int(np.sum(y == 1)) * y.size),
        ),
        (
            "sum the ranks of the positives (label 1); the negatives' rank sum gives 1 - AUC",
            lambda s, y: _auc_ranks_with(s, y, of_class=0),
        ),
    ),
    forbids=("minidl.training.metrics", "scipy.stats", "sklearn.metrics"),
    dtypes=("number",),
    equivalent_mutants={
        "auc_by_ranks: arith: n_pos * (n_pos + 1) / 2 -> n_pos * (n_pos + 1) // 2": "n (n + 1) is "
        "always even: // 2 divides it exactly",
    },
)


# ---------------------------------------------------------------- a screening report, repaired
def screening_report(val_scores, val_labels, test_scores, test_labels, target):
    """The highest validation score t whose test "score >= t" finds at least ``target`` of the
    validation positives, then the test set's sensitivity and specificity at t."""
    return _screening_report(val_scores, val_labels, test_scores, test_labels, target, ())


SCREENING_BUGS = {
    "test": "the threshold is read off the test set, which then reports a number tuned on itself: "
    "choose it on the validation scores and labels, and only measure on the test set",
    "strict": "a case whose score equals the threshold is called positive (score >= threshold); "
    "with > the case that made the target is dropped",
    "share": "the fraction found divides the positives found by the number of *positives*, not by every case",
}


def _screening_report(val_scores, val_labels, test_scores, test_labels, target, bugs):
    if "test" in bugs:
        val_scores, val_labels = test_scores, test_labels
    order = np.argsort(-val_scores, kind="stable")
    found = np.cumsum(val_labels[order] == 1)
    found = found / (val_labels.size if "share" in bugs else np.sum(val_labels == 1))
    threshold = float(val_scores[order][np.argmax(found >= target)])
    called = test_scores > threshold if "strict" in bugs else test_scores >= threshold
    sensitivity = float(np.mean(called[test_labels == 1]))
    specificity = float(np.mean(~called[test_labels == 0]))
    return threshold, sensitivity, specificity


def _screening_cases(rng):
    cases = []
    # validation positives P in {7, 11, 13} and targets whose P * target is never a whole number
    # (so that no case rests on how a float compares at the boundary), plus 1.0 and 0.0
    for n_val, p_val, n_test, target in (
        (20, 7, 25, 0.8),
        (30, 11, 40, 0.5),
        (35, 13, 30, 0.9),
        (20, 7, 24, 1.0),
        (200, 47, 300, 0.75),  # long sets
    ):
        val_labels = np.zeros(n_val, dtype=np.int64)
        val_labels[rng.permutation(n_val)[:p_val]] = 1
        test_labels = rng.integers(0, 2, n_test)
        test_labels[:2] = (0, 1)
        # scores on a grid of 0.05: ties within each set and between the two sets
        val_scores = np.round(rng.random(n_val) * 0.7 + 0.3 * val_labels, 2) // 0.05 * 0.05
        test_scores = np.round(rng.random(n_test) * 0.7 + 0.25 * test_labels, 2) // 0.05 * 0.05
        val_scores, test_scores = np.round(val_scores, 2), np.round(test_scores, 2)
        test_scores[:3] = _screening_report(val_scores, val_labels, test_scores, test_labels, target, ())[0]
        cases.append(
            Case(
                (val_scores, val_labels, test_scores, test_labels, target),
                label=f"{n_val} validation cases ({p_val} positive), {n_test} test cases, target {target}, "
                "scores on a grid of 0.05, three test scores on the threshold",
            )
        )
    val_scores = np.array([0.9, 0.7, 0.7, 0.7, 0.4, 0.2])
    val_labels = np.array([0, 1, 0, 1, 1, 0])
    test_scores = np.array([0.7, 0.7, 0.3, 0.8, 0.1])
    test_labels = np.array([1, 0, 1, 0, 0])
    cases.append(
        Case(
            (val_scores, val_labels, test_scores, test_labels, 0.5),
            label="the target reached inside a tie: the whole tie is called (threshold 0.7)",
        )
    )
    cases.append(
        Case(
            (val_scores, val_labels, test_scores, test_labels, 0.0),
            label="target 0: the highest validation score",
        )
    )
    return cases


function_exercise(
    "screening_report",
    CHAPTER,
    2,
    "screening_report",
    "A screening report, repaired",
    _screening_cases,
    screening_report,
    ("threshold", "sensitivity", "specificity"),
    mistakes=(
        (
            "this is the report as given, its bugs still in it: read it against section 21.9's "
            "rule, threshold on validation and measures on test",
            lambda vs, vy, ts, ty, t: _screening_report(vs, vy, ts, ty, t, tuple(SCREENING_BUGS)),
        ),
    )
    + tuple(
        (
            f"{hint} (the other bugs are fixed)",
            lambda vs, vy, ts, ty, t, bug=bug: _screening_report(vs, vy, ts, ty, t, (bug,)),
        )
        for bug, hint in SCREENING_BUGS.items()
    ),
    forbids=("minidl.training.metrics", "sklearn.metrics"),
    dtypes=("number", "number", "number"),
    equivalent_mutants={
        "screening_report > _screening_report: argsort: np.argsort(-val_scores, kind='stable') -> "
        "__mutant_argsort(-val_scores)": "the order inside a tie moves where the count of positives "
        "found crosses the target within the tie, never the tied score that becomes the threshold",
    },
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "conv_transpose_backward",
    ("size_one", "non_square", "varied_settings"),
    {
        "empty": "the task takes at least one image, channel and filter",
        "long_sequence": "its loops run over the kernel's offsets, a few",
    },
)
declare_edges(
    "class_aware_nms",
    ("empty", "size_one", "non_square", "ties", "repeated_indices", "varied_settings", "long_sequence"),
)
declare_edges(
    "average_precision_ranked",
    ("empty", "size_one", "ties", "varied_settings", "long_sequence"),
)
declare_edges(
    "auc_by_ranks",
    ("ties", "repeated_indices"),
    {
        "empty": "the AUC needs a positive and a negative: the task promises both classes",
        "size_one": "both classes present: at least two scores",
    },
)
declare_edges(
    "screening_report",
    ("ties", "repeated_indices", "varied_settings", "long_sequence"),
    {
        "empty": "a report needs validation and test scores of both classes",
        "size_one": "both classes present in each set: at least two scores",
    },
)
