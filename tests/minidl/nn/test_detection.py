"""The grid detector: targets that decode back to the boxes, and its loss gradient-checked."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import datasets
from minidl.nn.detection import GridDetectionLoss, decode_grid, encode_grid_targets
from minidl.nn.gradcheck import check_loss


# =========================================================================== the grid detector
def test_grid_targets_decode_back_to_the_boxes():
    scenes = datasets.make_shape_scenes(12, seed=3)
    targets = encode_grid_targets(scenes.boxes, scenes.labels, grid=4, image_size=32)
    assert targets.shape == (12, 6, 4, 4)
    logit = lambda p: np.log(np.clip(p, 1e-9, 1 - 1e-9) / (1 - np.clip(p, 1e-9, 1 - 1e-9)))  # noqa: E731
    y = np.zeros((12, 8, 4, 4))
    y[:, 0] = np.where(targets[:, 0] > 0, 30.0, -30.0)
    y[:, 1:5] = logit(targets[:, 1:5])
    y[:, 5:] = 30.0 * (np.arange(3)[None, :, None, None] == targets[:, 5:6])
    decoded = decode_grid(y, image_size=32, score_threshold=0.5)
    for (boxes, _scores, classes), truth, labels in zip(decoded, scenes.boxes, scenes.labels):
        cells = {(int((b[0] + b[2]) / 16), int((b[1] + b[3]) / 16)) for b in truth}
        if len(cells) < len(truth):
            continue  # two centres in one cell: only the larger box is a target
        order = np.lexsort((boxes[:, 0], boxes[:, 1]))
        expected = np.lexsort((truth[:, 0], truth[:, 1]))
        np.testing.assert_allclose(boxes[order], truth[expected], atol=1e-4)
        np.testing.assert_array_equal(classes[order], labels[expected])


def test_grid_detection_loss_gradient_check_and_errors():
    scenes = datasets.make_shape_scenes(3, seed=4)
    targets = encode_grid_targets(scenes.boxes, scenes.labels, grid=4, image_size=32)
    z = np.random.default_rng(10).standard_normal((3, 8, 4, 4))
    for loss in (GridDetectionLoss(), GridDetectionLoss(lambda_obj=0.5, lambda_box=2.0, lambda_cls=3.0)):
        report = check_loss(loss, z, targets)
        assert report.passed, str(report)
    with pytest.raises(ValueError, match=r"y_true \(N, 6, G, G\)"):
        GridDetectionLoss()(z, targets[:, :5])
    with pytest.raises(ValueError, match=r"class indices must be in \[0, 1\)"):
        GridDetectionLoss()(z[:, :6], targets)
