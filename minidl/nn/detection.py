"""A single-stage grid detector's targets, loss and decoding (YOLO v1 style; Redmon et al., 2016).

The image is cut into a G x G grid of cells of ``cell = image_size / G`` pixels. The cell
that holds an object's centre is *responsible* for it and predicts, from one feature vector,
5 + K numbers: an objectness score, the box and K class scores. A network's head returns
them as a map ``y`` (N, 5 + K, G, G), all raw (logits):

    channel 0        o    objectness: sigmoid(o) = P(an object's centre is in this cell)
    channels 1, 2    tx, ty   sigmoid(tx) = the centre's offset inside the cell, in [0, 1]
    channels 3, 4    tw, th   sigmoid(tw) = sqrt(box width / image_size) (likewise height)
    channels 5..     the K class logits

The target (``encode_grid_targets``) has the same layout with 6 channels: obj in {0, 1},
the four box values (as probabilities, the sigmoid's range), and the class index. The loss,
summed over cells and divided by the batch size N (mask m = obj, sigma the sigmoid):

    L = (1/N) [ lambda_obj   sum_cells  BCE(sigma(o), obj)
              + lambda_box   sum_cells  m sum_{c in x,y,w,h} (sigma(t_c) - g_c)^2
              + lambda_cls   sum_cells  m CE(softmax(z), class) ]

    dL/do   = lambda_obj (sigma(o) - obj) / N
    dL/dt_c = lambda_box m 2 (sigma(t_c) - g_c) sigma(t_c) (1 - sigma(t_c)) / N
    dL/dz   = lambda_cls m (softmax(z) - onehot(class)) / N

Square roots of the sizes (YOLO's choice) make the same error in pixels cost more on a
small box than on a large one. Only the responsible cell learns the box and the class; two
objects whose centres share a cell keep the larger (a known limit of YOLO v1).
``decode_grid`` turns a map back into scored boxes: score = sigmoid(o) * max_k softmax(z)_k.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..kernels.common import sigmoid
from .losses import Loss
from .segmentation import softmax_channels

__all__ = ["encode_grid_targets", "decode_grid", "GridDetectionLoss"]


def encode_grid_targets(boxes, labels, grid: int, image_size: int) -> np.ndarray:
    """Targets (N, 6, G, G) float32 from per-image boxes (M_i, 4) and classes (M_i,).

    Channels: obj, gx, gy (the centre's offset in its cell), gw, gh (sqrt of the size over
    the image size), class (a float holding the integer class; 0 where obj = 0).
    """
    if len(boxes) != len(labels):
        raise ValueError(f"{len(boxes)} images of boxes but {len(labels)} of labels")
    cell = image_size / grid
    out = np.zeros((len(boxes), 6, grid, grid), np.float32)
    for n, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
        image_boxes = np.asarray(image_boxes, np.float64).reshape(-1, 4)
        area = (image_boxes[:, 2] - image_boxes[:, 0]) * (image_boxes[:, 3] - image_boxes[:, 1])
        for b in np.argsort(area, kind="stable"):  # larger boxes written last: they win a shared cell
            x1, y1, x2, y2 = image_boxes[b]
            cx, cy = (x1 + x2) / 2 / cell, (y1 + y2) / 2 / cell
            col, row = min(int(cx), grid - 1), min(int(cy), grid - 1)
            gw, gh = np.sqrt((x2 - x1) / image_size), np.sqrt((y2 - y1) / image_size)
            out[n, :, row, col] = (1.0, cx - col, cy - row, gw, gh, image_labels[b])
    return out


def decode_grid(y, image_size: int, score_threshold: float = 0.05):
    """Scored boxes from a head's output (N, 5 + K, G, G).

    Returns a list over images of (boxes (D, 4) float64 in pixels, scores (D,), classes (D,))
    for the cells whose score ``sigmoid(o) * max_k p_k`` is at least ``score_threshold``.
    """
    y = np.asarray(backend.to_numpy(y), np.float64)
    n, channels, grid, _ = y.shape
    cell = image_size / grid
    p = softmax_channels(y[:, 5:])  # (N, K, G, G) class probabilities
    scores = sigmoid(y[:, 0]) * p.max(axis=1)
    classes = p.argmax(axis=1)
    rows, cols = np.mgrid[0:grid, 0:grid]
    cx, cy = (cols + sigmoid(y[:, 1])) * cell, (rows + sigmoid(y[:, 2])) * cell
    w, h = sigmoid(y[:, 3]) ** 2 * image_size, sigmoid(y[:, 4]) ** 2 * image_size
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)  # (N, G, G, 4)
    out = []
    for i in range(n):
        keep = scores[i] >= score_threshold
        out.append((boxes[i][keep], scores[i][keep], classes[i][keep]))
    return out


class GridDetectionLoss(Loss):
    """The YOLO-v1-style loss above: ``y_pred`` (N, 5 + K, G, G) logits, ``y_true`` (N, 6, G, G).

    Parameters
    ----------
    lambda_obj, lambda_box, lambda_cls : float
        The weights of the three terms.
    """

    accuracy = None
    from_logits = True

    def __init__(self, lambda_obj: float = 1.0, lambda_box: float = 5.0, lambda_cls: float = 1.0):
        super().__init__()
        self.lambda_obj, self.lambda_box = float(lambda_obj), float(lambda_box)
        self.lambda_cls = float(lambda_cls)

    def compute(self, y_pred, y_true):
        xp = backend.get_array_module(y_pred)
        y_true = xp.asarray(y_true)
        if y_pred.ndim != 4 or y_pred.shape[1] < 6:
            raise ValueError(
                f"GridDetectionLoss expected y_pred (N, 5 + K, G, G) with K >= 1, got {tuple(y_pred.shape)}"
            )
        n, channels, g1, g2 = y_pred.shape
        if tuple(y_true.shape) != (n, 6, g1, g2):
            raise ValueError(
                f"GridDetectionLoss expected y_true (N, 6, G, G) = {(n, 6, g1, g2)} "
                f"(encode_grid_targets), got {tuple(y_true.shape)}"
            )
        obj, goal, cls = y_true[:, 0], y_true[:, 1:5], y_true[:, 5].astype(np.int64)
        k = channels - 5
        if int(cls.max()) >= k or int(cls.min()) < 0:
            raise ValueError(
                f"GridDetectionLoss: class indices must be in [0, {k}), got up to {int(cls.max())}"
            )
        grad = xp.zeros_like(y_pred)
        # objectness: binary cross-entropy with logits, every cell
        o = y_pred[:, 0]
        p_obj = sigmoid(o)
        bce = xp.maximum(o, 0) - o * obj + xp.log1p(xp.exp(-xp.abs(o)))
        grad[:, 0] = self.lambda_obj * (p_obj - obj)
        # box: squared error of the sigmoids, responsible cells only
        s = sigmoid(y_pred[:, 1:5])
        m = obj[:, None]
        box = (m * (s - goal) ** 2).sum(axis=1)
        grad[:, 1:5] = self.lambda_box * m * 2 * (s - goal) * s * (1 - s)
        # class: softmax cross-entropy, responsible cells only
        z = y_pred[:, 5:]
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        onehot = (cls[:, None] == xp.arange(k).reshape(1, k, 1, 1)).astype(y_pred.dtype)
        ce = -(onehot * log_p).sum(axis=1) * obj
        grad[:, 5:] = self.lambda_cls * obj[:, None] * (xp.exp(log_p) - onehot)
        per_image = (self.lambda_obj * bce + self.lambda_box * box + self.lambda_cls * ce).sum(axis=(1, 2))
        return per_image, (grad / n).astype(y_pred.dtype)
