"""Chapter 22, detection and segmentation: the backward pass of a transposed convolution,
Gaussian soft-NMS as an extension of the chapter's NMS, VOC average precision with "difficult"
objects, the AUC of a score histogram derived from the pair definition (levels unsorted and
repeated, counts beyond int64's products), a screening report whose threshold was chosen on the
test set, repaired, and the expected calibration error over bins of equal mass with its chance
level (its expectation for a perfectly calibrated model, derived); questions on the IoU of two
boxes, on what pixel accuracy and mean IoU say about a lazy segmenter, on the predictive value of
a good test at a low prevalence, and on probabilities learned on a balanced set and used at a low
prevalence.

References: Long et al. (2015), Ronneberger et al. (2015) for the transposed convolution of a
decoder; Bodla et al. (2017), "Soft-NMS -- improving object detection with one line of code",
for soft-NMS; Everingham et al. (2010) for Pascal VOC's all-point average precision and its
"difficult" objects (ignored: neither positives nor false positives); Hanley and McNeil (1982)
for the AUC as the probability that a positive scores above a negative, ties one half."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "22_detection_segmentation"


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


# ---------------------------------------------------------------- soft-NMS
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
    return inter / union


def soft_nms(boxes, scores, sigma, score_threshold):
    """Gaussian soft-NMS (Bodla et al., 2017): boxes (D, 4) (x1, y1, x2, y2) of positive
    area, scores (D,) -> the picked indices (int) in the order picked and each one's score
    when picked (float64). Boxes below ``score_threshold`` (initially or after a decay) are
    dropped; after each pick every box left has its score multiplied by exp(-IoU^2 / sigma)."""
    return _soft_nms(boxes, scores, sigma, score_threshold)


def _soft_nms(
    boxes,
    scores,
    sigma,
    score_threshold,
    power=2,
    spread=1.0,
    resort=True,
    lower_first=True,
    keep_equal=True,
    cut_decayed=True,
    decayed_scores=True,
):
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    current = np.array(scores, dtype=float)
    left = current >= score_threshold if keep_equal else current > score_threshold
    picked, picked_scores = [], []
    while left.any():
        if not resort:
            given = np.argsort(-np.asarray(scores, float), kind="stable")
            best = int(given[left[given]][0])
        elif lower_first:
            candidates = np.flatnonzero(left)
            best = int(candidates[np.argmax(current[candidates])])  # argmax: the first of a tie
        else:
            candidates = np.flatnonzero(left)[::-1]
            best = int(candidates[np.argmax(current[candidates])])
        picked.append(best)
        picked_scores.append(current[best] if decayed_scores else float(scores[best]))
        left[best] = False
        current = current * np.exp(-(_iou_one_to_many(boxes[best], boxes) ** power) / (spread * sigma))
        if cut_decayed:
            left = left & (current >= score_threshold)
    return np.array(picked, dtype=np.int64), np.array(picked_scores, dtype=float)


def _soft_nms_cases(rng):
    cases = []
    # clusters of jittered boxes around a few objects, in an image of 640 px; scores on a grid
    # of 0.05 (ties at the start; the decays then part them)
    for d, objects, sigma, threshold in ((12, 3, 0.5, 0.001), (25, 5, 0.1, 0.05), (80, 12, 2.0, 0.3)):
        centre = rng.uniform(60, 580, (objects, 2))[rng.integers(0, objects, d)]
        size = rng.uniform(30, 120, (d, 2))
        jitter = rng.normal(0, 12, (d, 2))
        boxes = np.hstack([centre + jitter - size / 2, centre + jitter + size / 2])
        scores = np.round(rng.uniform(0.05, 1.0, d) * 20) / 20
        cases.append(
            Case(
                (boxes, scores, sigma, threshold),
                label=f"{d} boxes around {objects} objects, scores on a grid of 0.05, sigma {sigma}, "
                f"threshold {threshold}",
            )
        )
    # picking again after each decay: box 1 decays below box 2, which is picked before it;
    # boxes 3 and 4 are the same box with the same score (the lower index first, the other
    # decayed by exp(-1 / sigma)); boxes 5 and 6 overlap box 7 by an IoU of 0.25 each and
    # tie after its decay (the lower index first); box 8's score equals the threshold (kept)
    boxes = np.array(
        [[0, 0, 10, 10], [0, 0, 10, 9], [40, 0, 50, 10], [60, 60, 80, 80], [60, 60, 80, 80]]
        + [[116, 0, 126, 10], [104, 0, 114, 10], [110, 0, 120, 10], [200, 200, 210, 220]],
        float,
    )
    scores = np.array([0.9, 0.85, 0.6, 0.7, 0.7, 0.5, 0.5, 0.95, 0.05])
    for sigma in (0.5, 0.2):
        cases.append(
            Case(
                (boxes, scores, sigma, 0.05),
                label=f"sigma {sigma}: a decay that reorders, the same box twice with tied scores, "
                "a tie after a decay, a score equal to the threshold",
            )
        )
    # the threshold between two decayed scores: box 1 decays to 0.8 exp(-0.81 / 0.5) = 0.158
    # (dropped at 0.16), box 2 to 0.8 exp(-0.64 / 0.5) = 0.222 (kept)
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [0, 0, 10, 8], [30, 30, 31, 31]], float)
    cases.append(
        Case(
            (boxes, np.array([0.9, 0.8, 0.8, 0.1]), 0.5, 0.16),
            label="one decayed score just below the threshold, one above; a box below it from the start",
        )
    )
    cases.append(Case((np.zeros((0, 4)), np.zeros(0), 0.5, 0.001), label="no boxes"))
    cases.append(Case((np.array([[3.0, 1.0, 7.0, 2.0]]), np.array([0.2]), 0.5, 0.001), label="a single box"))
    return cases


function_exercise(
    "soft_nms",
    CHAPTER,
    2,
    "soft_nms",
    "Soft non-maximum suppression",
    _soft_nms_cases,
    soft_nms,
    ("keep", "kept_scores"),
    mistakes=(
        (
            "pick again after every decay: the box left with the highest *current* score comes next, "
            "not the next one in the order of the scores given",
            lambda b, s, g, t: _soft_nms(b, s, g, t, resort=False),
        ),
        (
            "the Gaussian decay squares the IoU: exp(-IoU ** 2 / sigma)",
            lambda b, s, g, t: _soft_nms(b, s, g, t, power=1),
        ),
        (
            "the decay is exp(-IoU ** 2 / sigma), with no factor 2 under sigma",
            lambda b, s, g, t: _soft_nms(b, s, g, t, spread=2.0),
        ),
        (
            "ties in the current score: the lower index first",
            lambda b, s, g, t: _soft_nms(b, s, g, t, lower_first=False),
        ),
        (
            "a box whose score equals the threshold stays; only a score *below* it drops the box",
            lambda b, s, g, t: _soft_nms(b, s, g, t, keep_equal=False),
        ),
        (
            "drop a box as soon as a decay takes its score below the threshold, not only at the start",
            lambda b, s, g, t: _soft_nms(b, s, g, t, cut_decayed=False),
        ),
        (
            "report each box's score when it was picked, after the decays so far, not the score given",
            lambda b, s, g, t: _soft_nms(b, s, g, t, decayed_scores=False),
        ),
    ),
    forbids=("minidl.training.vision_metrics", "minidl.kernels.boxes"),
    dtypes=("int", "float64"),
    equivalent_mutants={
        "soft_nms > _soft_nms: delete: boxes = *": "the boxes are already a float array (D, 4) (the "
        "conversion is for callers with lists)",
        "soft_nms > _soft_nms: const: -1 -> -2": "NumPy reads any negative size in a reshape as the "
        "one it works out",
        "soft_nms > _soft_nms: augassign: current = current * *": "current is the function's own "
        "copy of the scores: *= and = * give the same",
    },
)


# ---------------------------------------------------------------- VOC's difficult objects
def voc_ap_difficult(boxes, scores, true_boxes, difficult):
    """VOC all-point AP of one class in one image with "difficult" true boxes: a detection
    (by decreasing score, ties in the order given) takes the true box of highest IoU (the
    first of a tie); at IoU >= 0.5 it is ignored if that box is difficult, else a true
    positive if the box is not taken yet (then taken), else a false positive; below 0.5 a
    false positive. Recall counts the boxes that are not difficult; none: NaN."""
    return _voc_ap(boxes, scores, true_boxes, difficult)


def _voc_hits(boxes, scores, true_boxes, difficult, skip_ignored=True, at_half=True, first_choice=True):
    """For each detection that counts, in decreasing score order (ties in the order given),
    whether it is a hit; a detection on a difficult box is left out."""
    taken = np.zeros(len(true_boxes), bool)
    hits = []
    for d in np.argsort(-scores, kind="stable"):
        overlap = _iou_one_to_many(boxes[d], true_boxes)
        if not first_choice:
            overlap = np.where(taken, -1.0, overlap)
        best = int(np.argmax(overlap))  # the first of a tie
        close = overlap[best] >= 0.5 if at_half else overlap[best] > 0.5
        if close and difficult[best]:
            if not skip_ignored:
                hits.append(False)
            continue
        hits.append(bool(close and not taken[best]))
        taken[best] = taken[best] or close
    return np.array(hits, dtype=bool)


def _voc_ap(
    boxes,
    scores,
    true_boxes,
    difficult,
    honour_flags=True,
    keep_difficult=True,
    skip_ignored=True,
    at_half=True,
    first_choice=True,
    interpolate=True,
):
    if not honour_flags:
        difficult = np.zeros_like(difficult)
    if not keep_difficult:
        true_boxes, difficult = true_boxes[~difficult], difficult[~difficult]
    positives = int(np.sum(~difficult))
    if positives == 0:
        return float("nan")
    hits = _voc_hits(
        boxes,
        scores,
        true_boxes,
        difficult,
        skip_ignored=skip_ignored,
        at_half=at_half,
        first_choice=first_choice,
    )
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    if interpolate:
        precision = np.maximum.accumulate(precision[::-1])[::-1]  # the best precision from here on
    return float(np.sum(precision[hits]) / positives)


def _voc_ap_penalising_repeats(boxes, scores, true_boxes, difficult):
    """The mistake: a second detection on a difficult box counted as a false positive."""
    true_boxes = np.asarray(true_boxes, float).reshape(-1, 4)
    positives = int(np.sum(~difficult))
    if positives == 0:
        return float("nan")
    taken = np.zeros(len(true_boxes), bool)
    flags = []
    for d in np.argsort(-np.asarray(scores, float), kind="stable"):
        overlap = _iou_one_to_many(np.asarray(boxes, float)[d], true_boxes)
        best = int(np.argmax(overlap))
        close = overlap[best] >= 0.5
        if close and difficult[best] and not taken[best]:
            taken[best] = True
            continue
        flags.append(bool(close and not taken[best]))
        taken[best] = taken[best] or close
    hits = np.array(flags, dtype=bool)
    precision = np.maximum.accumulate((np.cumsum(hits) / np.arange(1, hits.size + 1))[::-1])[::-1]
    return float(np.sum(precision[hits]) / positives)


def _voc_cases(rng):
    cases = []
    # G true boxes on a grid (IoU 0 between them), a share of them difficult; detections
    # jittered about them (some below IoU 0.5), second detections on the same box, and boxes
    # on nothing; scores on a grid of 0.1 (ties)
    for g, d in ((6, 10), (10, 25), (20, 80)):
        corner = np.stack([np.arange(g) % 5 * 100.0, np.arange(g) // 5 * 100.0], axis=1)
        true_boxes = np.hstack([corner, corner + rng.uniform(30, 60, (g, 2))])
        difficult = rng.random(g) < 0.3
        difficult[:2] = (True, False)
        target = rng.integers(0, g, d)
        size = true_boxes[target, 2:] - true_boxes[target, :2]
        shift = rng.normal(0, 0.15, (d, 2)) * size
        boxes = np.hstack([true_boxes[target, :2] + shift, true_boxes[target, 2:] + shift])
        nowhere = rng.random(d) < 0.2
        boxes[nowhere] += 1000.0
        scores = np.round(rng.random(d), 1)
        cases.append(
            Case(
                (boxes, scores, true_boxes, difficult),
                label=f"{d} detections of {g} true boxes, {int(difficult.sum())} difficult, tied scores",
            )
        )
    # box 1 is difficult: detections 0 and 2 on it are ignored (the first ranked first), 3 is
    # a second detection on box 0 (a false positive), 4 is on nothing, 5 has IoU 0.5 exactly
    # with box 2 (a hit); 6 ties with 3 in score
    true_boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 48, 10]], float)
    difficult = np.array([False, True, False])
    boxes = np.array(
        [[20, 0, 30, 10], [0, 0, 10, 10], [21, 0, 30, 10], [0, 0, 10, 9]]
        + [[100, 100, 110, 110], [40, 0, 44, 10], [80, 80, 90, 90]],
        float,
    )
    scores = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.8])
    cases.append(
        Case(
            (boxes, scores, true_boxes, difficult),
            label="the best detection and a second one on a difficult box, a second detection on a taken "
            "box, IoU exactly 0.5, tied scores",
        )
    )
    # box 0 is taken by detection 0; detection 1 overlaps box 0 most (taken: a false positive),
    # though it overlaps box 1 by more than 0.5 too; detection 2 overlaps the difficult box 2
    # most and box 3 by more than 0.5 (ignored); detection 3 is on box 3
    true_boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 12], [50, 0, 60, 10], [50, 0, 60, 12]], float)
    difficult = np.array([False, False, True, False])
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10.5], [50, 0, 60, 10], [50, 0, 60, 12]], float)
    cases.append(
        Case(
            (boxes, np.array([0.9, 0.8, 0.7, 0.6]), true_boxes, difficult),
            label="a detection whose best box is taken, another whose best box is difficult, "
            "each overlapping a free box by more than 0.5",
        )
    )
    # one score for a miss, a hit and a detection on a difficult box: the order given decides
    # (the miss ranks first); box 2 is found later
    true_boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], float)
    cases.append(
        Case(
            (
                np.array([[60, 0, 70, 10], [0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], float),
                np.array([0.5, 0.5, 0.5, 0.3]),
                true_boxes,
                np.array([False, True, False]),
            ),
            label="tied scores: a miss, a hit and a detection on a difficult box",
        )
    )
    # unit boxes: a detection 0.5 to the side of box 0 and one touching it from above overlap
    # it by nothing (the intersection's sides are clipped at 0, not at 1)
    cases.append(
        Case(
            (
                np.array([[1.5, 0, 2.5, 1], [0, 1, 1, 2], [3, 0, 4, 1]]),
                np.array([0.9, 0.8, 0.7]),
                np.array([[0.0, 0, 1, 1], [3, 0, 4, 1]]),
                np.array([False, False]),
            ),
            label="unit boxes 0.5 apart and touching: no overlap",
        )
    )
    every = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    cases.append(
        Case(
            (every + 1, np.array([0.9, 0.3]), every, np.array([True, True])),
            label="every true box difficult: AP undefined (NaN)",
        )
    )
    cases.append(Case((np.zeros((0, 4)), np.zeros(0), every, np.array([False, True])), label="no detections"))
    cases.append(
        Case(
            (
                np.array([[0.0, 0.0, 10.0, 10.0]]),
                np.array([0.4]),
                np.array([[0.0, 0.0, 10.0, 12.0]]),
                np.array([False]),
            ),
            label="a single detection and a single true box",
        )
    )
    return cases


function_exercise(
    "voc_ap_difficult",
    CHAPTER,
    2,
    "voc_ap_difficult",
    "Average precision with VOC's difficult objects",
    _voc_cases,
    voc_ap_difficult,
    ("ap",),
    mistakes=(
        (
            "a difficult box is not a positive: recall divides by the boxes that are not difficult, and "
            "a detection on a difficult box is ignored",
            lambda b, s, t, f: _voc_ap(b, s, t, f, honour_flags=False),
        ),
        (
            "keep the difficult boxes when matching: a detection whose best box is difficult is ignored, "
            "even if it also overlaps a box that is not",
            lambda b, s, t, f: _voc_ap(b, s, t, f, keep_difficult=False),
        ),
        (
            "an ignored detection leaves the ranking: it counts neither as a hit nor in the number of "
            "detections so far that divides the precision",
            lambda b, s, t, f: _voc_ap(b, s, t, f, skip_ignored=False),
        ),
        (
            "a detection matches at IoU >= 0.5: exactly 0.5 is a match",
            lambda b, s, t, f: _voc_ap(b, s, t, f, at_half=False),
        ),
        (
            "a detection whose best box is already taken is a false positive: it does not move on to "
            "the next box",
            lambda b, s, t, f: _voc_ap(b, s, t, f, first_choice=False),
        ),
        (
            "every detection on a difficult box is ignored, the second one too (no penalty, ever)",
            _voc_ap_penalising_repeats,
        ),
        (
            "VOC's all-point AP uses at each recall the best precision at that recall or higher",
            lambda b, s, t, f: _voc_ap(b, s, t, f, interpolate=False),
        ),
    ),
    catches=("a class whose every true box is difficult given an AP of 0 (it is undefined: NaN)",),
    forbids=("minidl.training.vision_metrics", "minidl.kernels.boxes"),
    dtypes=("number",),
    equivalent_mutants={
        "voc_ap_difficult > _voc_ap: const: 0 -> -1": "with no box that counts, the sum over no hit "
        "divided by 0 positives is NaN as well",
        "voc_ap_difficult > _iou_one_to_many: const: 0 -> -1 #2": "a side clipped at -1: boxes apart "
        "get an IoU of 0 or below, a miss all the same",
        "voc_ap_difficult > _iou_one_to_many: const: 0 -> -1 #3": "a side clipped at -1: boxes apart "
        "get an IoU of 0 or below, a miss all the same",
    },
)


# ---------------------------------------------------------------- the AUC of a score histogram
def auc_from_counts(levels, positives, negatives):
    """The AUC of a test known only by its histogram: at score ``levels[i]``, ``positives[i]``
    people with the finding and ``negatives[i]`` without. The fraction of (positive, negative)
    pairs in which the positive scores higher, a tie counting one half; entries with equal
    levels are one level. levels (L,) float, counts (L,) int >= 0 up to 1e10 (products of two
    counts overflow int64), both classes present."""
    return _auc_counts(levels, positives, negatives)


def _auc_counts(levels, positives, negatives, tie=0.5, merge=True, ordered=True, of_class="positive"):
    """The reference, with the named mistakes switched on by the keyword arguments."""
    if of_class == "negative":  # the mistake: the negatives' share of the pairs (1 - AUC)
        positives, negatives = negatives, positives
    if merge:
        levels, where = np.unique(levels, return_inverse=True)  # sorted, equal levels merged
        pos = np.bincount(where, weights=positives)  # summed in float64: no int64 overflow
        neg = np.bincount(where, weights=negatives)
    else:  # the mistake: each entry its own level, so equal levels in two entries are not a tie
        order = np.argsort(levels, kind="stable") if ordered else np.arange(len(levels))
        pos, neg = positives[order].astype(np.float64), negatives[order].astype(np.float64)
    below = np.cumsum(neg) - neg  # the negatives strictly below each level
    wins = np.sum(pos * (below + tie * neg))
    return float(wins / (np.sum(pos) * np.sum(neg)))


def _histogram(rng, n_levels, count, repeat=0):
    """``n_levels`` levels on a grid of 0.05 in a random order (``repeat`` of them listed twice),
    counts from 0 to ``count``; the positives higher on average."""
    grid = np.round(np.arange(0.0, 1.0001, 0.05), 2)
    levels = rng.choice(grid, size=n_levels, replace=False)
    if repeat:
        levels = np.concatenate([levels, levels[:repeat]])
    rng.shuffle(levels)
    weight = levels / levels.max()
    positives = rng.integers(0, count + 1, len(levels)) * (weight > 0.3)
    negatives = rng.integers(0, count + 1, len(levels)) * (weight < 0.8)
    positives[np.argmax(levels)] += 1  # both classes present
    negatives[np.argmin(levels)] += 1
    return levels, positives.astype(np.int64), negatives.astype(np.int64)


def _counts_cases(rng):
    cases = []
    for n_levels, count, repeat in ((6, 5, 0), (12, 20, 3), (20, 50, 6)):
        levels, positives, negatives = _histogram(rng, n_levels, count, repeat)
        label = f"{n_levels} levels in a random order ({repeat} of them in two entries), counts up to {count}"
        cases.append(Case((levels, positives, negatives), label=label))
    # a fine score: 300 entries at levels on a grid of 0.001 (repeats likely), counts up to 1000
    levels = np.round(rng.random(300), 3)
    positives = rng.integers(0, 1001, 300) * (levels > 0.2)
    negatives = rng.integers(0, 1001, 300) * (levels < 0.9)
    positives[0], negatives[1] = positives[0] + 1, negatives[1] + 1  # both classes present
    cases.append(
        Case(
            (levels, positives.astype(np.int64), negatives.astype(np.int64)),
            label="300 entries on a grid of 0.001 (some levels repeated), counts up to 1000",
        )
    )
    levels, positives, negatives = _histogram(rng, 15, 10**10, 4)
    cases.append(
        Case(
            (levels, positives, negatives),
            label="counts up to 1e10: P N and products of two counts beyond int64",
        )
    )
    # the chapter's seven scores [0.9, 0.8, 0.6, 0.6, 0.3, 0.3, 0.1], labels [1, 0, 1, 0, 1, 1, 0]
    cases.append(
        Case(
            (np.array([0.3, 0.9, 0.1, 0.6, 0.8]), np.array([2, 1, 0, 1, 0]), np.array([0, 0, 1, 1, 1])),
            label="the chapter's seven scores as a histogram: AUC 6.5 / 12",
        )
    )
    cases.append(
        Case(
            (np.array([0.5, 0.2, 0.5, 0.9]), np.array([3, 0, 0, 2]), np.array([0, 2, 4, 0])),
            label="level 0.5 in two entries: its positives tie with its negatives",
        )
    )
    cases.append(
        Case(
            (np.array([0.4]), np.array([3]), np.array([5])), label="a single level: every pair tied, AUC 0.5"
        )
    )
    cases.append(
        Case(
            (np.array([2.5, -1.0, 0.0, -3.5]), np.array([4, 0, 1, 0]), np.array([0, 3, 0, 2])),
            label="negative levels (logits), separated: AUC 1",
        )
    )
    cases.append(
        Case(
            (np.array([0.7, 0.1, 0.3]), np.array([0, 5, 2]), np.array([6, 0, 0])),
            label="reversed: AUC 0",
        )
    )
    cases.append(
        Case(
            (np.array([0.2, 0.6, 0.4, 0.8]), np.array([0, 0, 7, 1]), np.array([0, 3, 0, 0])),
            label="levels with no case at all, one with positives only",
        )
    )
    return cases


function_exercise(
    "auc_from_counts",
    CHAPTER,
    2,
    "auc_from_counts",
    "The AUC of a score histogram",
    _counts_cases,
    auc_from_counts,
    ("auc",),
    mistakes=(
        (
            "a tie counts one half: the positives at a level win against the negatives strictly below it "
            "and tie with the negatives at that level",
            lambda x, p, n: _auc_counts(x, p, n, tie=0.0),
        ),
        (
            "a tie counts one half, not a whole win: the negatives at the positive's own level are "
            "not below it",
            lambda x, p, n: _auc_counts(x, p, n, tie=1.0),
        ),
        (
            "entries with equal levels are one level: a positive of one entry ties with a negative "
            "of another entry at the same level (merge them before counting what lies below)",
            lambda x, p, n: _auc_counts(x, p, n, merge=False),
        ),
        (
            "the levels come in no particular order: what lies *below* a level is about the scores, "
            "not about the entries before it in the list",
            lambda x, p, n: _auc_counts(x, p, n, merge=False, ordered=False),
        ),
        (
            "this is the share of the pairs the negative wins (1 - AUC): the AUC counts the pairs "
            "in which the positive scores higher",
            lambda x, p, n: _auc_counts(x, p, n, of_class="negative"),
        ),
    ),
    forbids=("minidl.training.metrics", "scipy.stats", "sklearn.metrics"),
    catches=("P N or a product of two counts computed in int64: it overflows for counts near 1e10",),
    dtypes=("number",),
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
            "this is the report as given, its bugs still in it: read it against section 9's "
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


# ---------------------------------------------------------------- calibration error and its chance level
def ece_and_chance(probs, labels, n_bins):
    """The expected calibration error over bins of equal mass, and its chance level. The bins: the
    cases sorted by predicted probability (a stable sort: ties keep their order), cut into n_bins
    runs of consecutive cases whose sizes differ by at most one, the larger ones first
    (np.array_split's); ECE = sum over the bins of (n_b / n) |fraction of positives - mean
    probability|. The chance level: the expectation of that ECE, same bins, had every label been
    drawn independently, positive with its own probability (a perfectly calibrated model)."""
    order = np.argsort(probs, kind="stable")
    ece = chance = 0.0
    for run in np.array_split(order, n_bins):
        p = probs[run]
        weight = run.size / probs.size
        ece += weight * abs(np.mean(labels[run]) - np.mean(p))
        count = np.array([1.0])  # count[k]: the chance of k positives among the cases seen so far
        for q in p:
            count = np.append(count * (1.0 - q), 0.0) + np.append(0.0, count * q)
        chance += weight * np.sum(count * np.abs(np.arange(run.size + 1) / run.size - np.mean(p)))
    return float(ece), float(chance)


def _ece_runs(n, n_bins, sizes):
    """Consecutive runs of 0..n-1: equal mass with the remainder in the first bins ("split"),
    all of size n // B but the last, which takes the rest ("last"), or size ceil(n / B) ("ceil")."""
    if sizes == "split":
        return np.array_split(np.arange(n), n_bins)
    if sizes == "last":
        edges = [b * (n // n_bins) for b in range(n_bins)] + [n]
    else:
        step = -(-n // n_bins)
        edges = [min(b * step, n) for b in range(n_bins)] + [n]
    return [np.arange(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]


def _bin_chance(p, law):
    """E|K / m - mean(p)| for the count K of positives among m independent cases (m = p.size),
    under the right law ("poisson-binomial") or a mistaken one."""
    m, mean = p.size, np.mean(p)
    if law == "zero":  # the expectation taken inside the absolute value: E[K / m] - mean(p) = 0
        return 0.0
    if law == "normal":  # the central limit's normal, E|Z| = sigma sqrt(2 / pi)
        return float(np.sqrt(2 / np.pi * np.sum(p * (1 - p))) / m)
    if law == "rms":  # the standard deviation of K / m instead of its mean absolute deviation
        return float(np.sqrt(np.sum(p * (1 - p))) / m)
    if law == "binomial":  # every case of the bin given the bin's mean probability
        p = np.full(m, mean)
    count = np.array([1.0])
    for q in p:
        count = np.append(count * (1.0 - q), 0.0) + np.append(0.0, count * q)
    return float(np.sum(count * np.abs(np.arange(m + 1) / m - mean)))


def _ece_with(
    probs,
    labels,
    n_bins,
    sizes="split",
    weighted=True,
    gap=abs,
    decreasing=False,
    ties="kept",
    law="poisson-binomial",
):
    order = np.argsort(-probs if decreasing else probs, kind="stable")
    if ties == "reversed":  # equal probabilities, the later case first
        order = np.lexsort((-np.arange(probs.size), probs))
    p, y = probs[order], labels[order]
    runs = [run for run in _ece_runs(probs.size, n_bins, sizes) if run.size]
    weights = [run.size / probs.size if weighted else 1 / len(runs) for run in runs]
    ece = sum(w * gap(np.mean(y[run]) - np.mean(p[run])) for w, run in zip(weights, runs))
    chance = sum(w * _bin_chance(p[run], law) for w, run in zip(weights, runs))
    return float(ece), float(chance)


def _ece_equal_width(probs, labels, n_bins):
    """The reliability diagram's bins: [0, 1] cut into n_bins equal widths."""
    bins = np.minimum((probs * n_bins).astype(int), n_bins - 1)
    inside = [bins == b for b in np.unique(bins)]
    ece = sum(np.mean(i) * abs(labels[i].mean() - probs[i].mean()) for i in inside)
    return float(ece), float(sum(np.mean(i) * _bin_chance(probs[i], "poisson-binomial") for i in inside))


def _ece_cases(rng):
    cases = []
    for n, n_bins, slope in ((20, 5, 0.4), (23, 4, 0.3), (13, 5, 1.8), (10, 4, 0.2), (200, 10, 0.5)):
        # a model too confident (slope < 1: the true rate is nearer 1/2 than the probability) or
        # not enough (slope > 1): the bins' gaps take both signs
        probs = np.round(rng.random(n), 2)  # rounded to 0.01: ties occur
        rate = np.clip(0.5 + slope * (probs - 0.5), 0.0, 1.0)
        labels = (rng.random(n) < rate).astype(np.int64)
        label = f"{n} cases, {n_bins} bins" + (f" ({n % n_bins} one case larger)" if n % n_bins else "")
        kind = "too confident" if slope < 1 else "not confident enough"
        cases.append(Case((probs, labels, n_bins), label=f"{label}, a model {kind}, probabilities to 0.01"))
    probs = np.round(0.05 + 0.9 * rng.random(200), 2)
    labels = (rng.random(200) < probs).astype(np.int64)
    cases.append(
        Case(
            (probs, labels, 1),
            label="200 cases in one bin, a calibrated model: 2^200 ways to draw the labels",
        )
    )
    probs = np.array([0.9, 0.3, 0.3, 0.3, 0.1, 0.3, 0.8])
    labels = np.array([1, 1, 0, 0, 0, 0, 1])
    cases.append(
        Case(
            (probs, labels, 2),
            label="four equal probabilities (labels 1, 0, 0, 0 in order), three of them in the first bin",
        )
    )
    probs = np.array([0.5, 0.1, 0.7, 0.3, 0.6, 0.2, 0.4])
    labels = np.array([0, 0, 1, 1, 0, 0, 1])
    cases.append(Case((probs, labels, 3), label="seven cases, three bins of 3, 2 and 2 (not 3, 3 and 1)"))
    # runs of more than 16 equal probabilities: NumPy's default argsort (an introsort) keeps
    # the order of fewer ties, so only a long run tells a stable sort from an unstable one
    probs = np.repeat([0.3, 0.5, 0.7], [12, 41, 11])[np.argsort(np.arange(64) * 37 % 64)]
    labels = (np.arange(64) % 4 < 2).astype(np.int64)
    cases.append(
        Case((probs, labels, 4), label="64 cases, 4 bins of 16: a run of 41 ties cut by three edges")
    )
    n = 48
    probs = np.round(0.35 + 0.3 * rng.random(n), 1)  # about 16 cases at each of 0.4, 0.5, 0.6
    labels = (rng.random(n) < probs).astype(np.int64)
    cases.append(Case((probs, labels, 5), label="48 cases, 5 bins, probabilities to 0.1: long runs of ties"))
    cases.append(
        Case((np.array([0.8]), np.array([0]), 1), label="a single case: |0 - 0.8|, chance 2 (0.8)(0.2)")
    )
    probs = np.array([0.0, 1.0, 0.7, 0.2, 0.95])
    cases.append(
        Case(
            (probs, np.array([0, 1, 0, 0, 1]), 1),
            label="one bin: |mean label - mean probability|; probabilities 0 and 1 among them",
        )
    )
    cases.append(
        Case(
            (probs, np.array([1, 1, 0, 0, 1]), 5),
            label="one case per bin: mean |label - probability|, chance the mean of 2 p (1 - p)",
        )
    )
    return cases


function_exercise(
    "ece_and_chance",
    CHAPTER,
    3,
    "ece_and_chance",
    "The calibration error and its chance level",
    _ece_cases,
    ece_and_chance,
    ("ece", "chance"),
    mistakes=(
        (
            "the bins hold equal numbers of cases (the sorted cases cut into runs), not equal widths "
            "of [0, 1] as in the reliability diagram",
            _ece_equal_width,
        ),
        (
            "each bin's gap is weighted by its share of the cases, n_b / n",
            lambda p, y, b: _ece_with(p, y, b, weighted=False),
        ),
        (
            "the gap of a bin is an absolute value: a bin too confident and one not confident enough "
            "must not cancel",
            lambda p, y, b: _ece_with(p, y, b, gap=lambda x: x),
        ),
        (
            "when n_bins does not divide n, the first n mod n_bins bins hold one case more; here the "
            "last bin took the rest",
            lambda p, y, b: _ece_with(p, y, b, sizes="last"),
        ),
        (
            "the bins' sizes differ by at most one (np.array_split's); runs of ceil(n / n_bins) leave "
            "the last bins short",
            lambda p, y, b: _ece_with(p, y, b, sizes="ceil"),
        ),
        (
            "sort by increasing probability: the first bin holds the lowest probabilities",
            lambda p, y, b: _ece_with(p, y, b, decreasing=True),
        ),
        (
            "equal probabilities keep the order they were given in (a stable sort), so that a run of ties "
            "cut by a bin edge splits the same way everywhere; here the ties were taken last first",
            lambda p, y, b: _ece_with(p, y, b, ties="reversed"),
        ),
        (
            "the chance level is not 0: the absolute value of an expected gap is 0, but the expected "
            "absolute gap is not (E|X| >= |E X|)",
            lambda p, y, b: _ece_with(p, y, b, law="zero"),
        ),
        (
            "the cases of a bin have different probabilities: their count of positives is not the "
            "binomial of the bin's mean probability (its variance is smaller)",
            lambda p, y, b: _ece_with(p, y, b, law="binomial"),
        ),
        (
            "a bin of a few cases is far from normal: the chance level asks for the exact law of the "
            "bin's count of positives, not the central limit's approximation",
            lambda p, y, b: _ece_with(p, y, b, law="normal"),
        ),
        (
            "the expected absolute gap is not the gap's standard deviation (E|X| < sqrt(E X^2) unless "
            "|X| is constant)",
            lambda p, y, b: _ece_with(p, y, b, law="rms"),
        ),
    ),
    forbids=("minidl.training.metrics", "sklearn.calibration", "sklearn.metrics", "scipy.stats"),
    dtypes=("number", "number"),
    equivalent_mutants={
        "ece_and_chance: augassign: ece += weight * abs(np.mean(labels[run]) - np.mean(p)) -> "
        "ece = ece + weight * abs(np.mean(labels[run]) - np.mean(p))": "ece is a float: += and = + add the same number",
        "ece_and_chance: augassign: chance += weight * np.sum(count * np.abs(np.arange(run.siz"
        "e + 1) / run.size - np.mean(p))) -> chance = chance + weight * np.sum(count * np.abs("
        "np.arange(run.size + 1) / run.size - n...": "chance is a float: += and = + add the same number",
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
    "soft_nms",
    ("empty", "size_one", "non_square", "ties", "extreme_magnitude", "varied_settings", "long_sequence"),
)
declare_edges(
    "voc_ap_difficult",
    ("empty", "size_one", "non_square", "ties", "long_sequence"),
    {
        "inf_or_nan_input": "boxes and scores are finite: NaN is only the answer for a class with no box that counts"
    },
)
declare_edges(
    "auc_from_counts",
    ("ties", "repeated_indices", "size_one", "long_sequence"),
    {
        "empty": "the AUC needs a positive and a negative: the task promises both classes",
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
declare_edges(
    "ece_and_chance",
    ("ties", "repeated_indices", "size_one", "varied_settings", "long_sequence"),
    {"empty": "every bin holds at least one case: the task promises n_bins <= n"},
)
