"""Box kernels for object detection: the IoU matrix and greedy non-maximum suppression.

Boxes are rows (x1, y1, x2, y2) with x1 <= x2, y1 <= y2, in continuous coordinates (a box
covering pixels 3..5 is x1 = 3, x2 = 6), so area = (x2 - x1)(y2 - y1) and boxes that only
touch have an intersection of 0 (torchvision's convention).

    iou[i, j] = |A_i ∩ B_j| / (|A_i| + |B_j| - |A_i ∩ B_j|)        0 where the union is 0
    nms       visit boxes by decreasing score (ties: the lower index first); keep a box
              unless its IoU with a box already kept exceeds ``iou_threshold``

Each function has a NumPy reference (``*_reference``, written to be read, the ground truth)
and a Numba twin (``*_numba``) tested against it. These two are not part of the tier
contract (``contract.py``): no layer calls them, they run on NumPy arrays after a network's
forward, and a GPU twin would not pay for a few hundred boxes. ``box_iou`` and ``nms`` are
the ones the library uses, chosen by measurement (chapter 22 times both; see the note on
each below).
"""

from __future__ import annotations

import numpy as np

try:
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a dependency; keep the module importable without it
    HAVE_NUMBA = False

__all__ = ["box_iou", "nms", "box_iou_reference", "nms_reference", "box_iou_numba", "nms_numba"]


# --------------------------------------------------------------------------- reference (NumPy)
def box_iou_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (M, 4) with every box of ``b`` (P, 4): (M, P), by broadcasting."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def nms_reference(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices (int64) of the boxes greedy NMS keeps, in decreasing score order."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        overlap = box_iou_reference(boxes[best : best + 1], boxes[rest])[0]
        order = rest[overlap <= iou_threshold]
    return np.asarray(keep, np.int64)


# --------------------------------------------------------------------------- Numba twins
def _iou_pair(a, b):
    """IoU of two boxes (scalars only, so Numba keeps everything in registers)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _box_iou_loops(a, b, out):
    # one pass over the pairs, no (M, P) temporaries (the reference makes several)
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = _iou_pair(a[i], b[j])
    return out


def _nms_loops(boxes, order, iou_threshold, keep):
    # the greedy loop compiled: a suppressed flag per box instead of shrinking arrays
    suppressed = np.zeros(order.shape[0], np.bool_)
    count = 0
    for u in range(order.shape[0]):
        if suppressed[u]:
            continue
        i = order[u]
        keep[count] = i
        count += 1
        for v in range(u + 1, order.shape[0]):
            if not suppressed[v] and _iou_pair(boxes[i], boxes[order[v]]) > iou_threshold:
                suppressed[v] = True
    return count


if HAVE_NUMBA:
    _iou_pair = njit(cache=True, inline="always")(_iou_pair)
    _box_iou_loops = njit(cache=True)(_box_iou_loops)
    _nms_loops = njit(cache=True)(_nms_loops)


def box_iou_numba(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``box_iou_reference`` with the pair loop compiled by Numba."""
    a = np.ascontiguousarray(np.asarray(a, np.float64).reshape(-1, 4))
    b = np.ascontiguousarray(np.asarray(b, np.float64).reshape(-1, 4))
    return _box_iou_loops(a, b, np.empty((a.shape[0], b.shape[0]), np.float64))


def nms_numba(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """``nms_reference`` with the greedy loop compiled by Numba (the same visiting order)."""
    boxes = np.ascontiguousarray(np.asarray(boxes, np.float64).reshape(-1, 4))
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable").astype(np.int64)
    keep = np.empty(order.shape[0], np.int64)
    count = _nms_loops(boxes, order, float(iou_threshold), keep)
    return keep[:count].copy()


# The ones the library calls. Timed on one loaded core (chapter 22 repeats the timing): for
# 20 to 1,000 boxes the Numba IoU matrix took 7x to 70x less time than the broadcasting
# reference, and the Numba NMS 20x to 200x less than the reference's Python loop.
box_iou = box_iou_numba if HAVE_NUMBA else box_iou_reference
nms = nms_numba if HAVE_NUMBA else nms_reference
