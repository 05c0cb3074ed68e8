"""Chapter 21's library: Concatenate, UNet, the segmentation and detection losses (float64
gradient checks), IoU/Dice, box IoU, NMS and VOC mAP against brute-force references written
here (and against torchvision.ops / torch where installed), the Numba box kernels against
the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

import minidl as mdl
from minidl import datasets
from minidl import layers as L
from minidl.kernels import boxes as K
from minidl.nn.detection import GridDetectionLoss, decode_grid, encode_grid_targets
from minidl.nn.gradcheck import check_layer, check_loss, numerical_gradient, rel_error
from minidl.nn.segmentation import DiceLoss, PixelCrossentropy
from minidl.training import vision_metrics as VM


def random_boxes(rng, n, size=32.0, integer=False):
    xy = rng.uniform(0, size - 4, (n, 2))
    wh = rng.uniform(1, size / 2, (n, 2))
    out = np.hstack([xy, xy + wh])
    return np.round(out) if integer else out


# =========================================================================== layers
def test_concatenate_forward_backward_and_errors():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 5, 4, 4))
    cat = L.Concatenate(axis=1)
    y = cat.forward([a, b])
    np.testing.assert_array_equal(y, np.concatenate([a, b], axis=1))
    dy = rng.standard_normal(y.shape)
    da, db = cat.backward(dy)
    weights = rng.standard_normal(y.shape)
    for x, dx, i in ((a, da, 0), (b, db, 1)):

        def scalar(i=i):
            return float(np.sum(cat.forward([a, b]) * dy))

        assert rel_error(dx, numerical_gradient(scalar, x)) < 1e-7
    assert weights.shape == y.shape
    np.testing.assert_array_equal(L.Concatenate(axis=-1).forward([a, a]), np.concatenate([a, a], -1))
    with pytest.raises(ValueError, match="equal except on axis 1"):
        cat.forward([a, rng.standard_normal((2, 3, 5, 4))])
    with pytest.raises(ValueError, match="at least 2 arrays"):
        L.Concatenate().forward([a])
    with pytest.raises(ValueError, match="not a non-batch axis"):
        L.Concatenate(axis=0).forward([a, a])


@pytest.mark.parametrize("filters", [(2,), pytest.param((2, 3), marks=pytest.mark.slow)])
def test_unet_gradient_check_every_parameter(filters):
    mdl.seed(1)
    unet = L.UNet(3, filters=filters)
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8))
    report = check_layer(unet, x)
    assert report.passed, str(report)
    assert "enc.0.0.W" in report.errors and "up.0.W" in report.errors and "head.b" in report.errors


def test_unet_shapes_params_and_errors():
    mdl.seed(0)
    unet = L.UNet(4, filters=(4, 8))
    y = unet.forward(np.zeros((3, 2, 16, 16), np.float32))
    assert y.shape == (3, 4, 16, 16) and y.dtype == np.float32
    assert unet.params["up.1.W"].shape == (16, 8, 2, 2)  # Conv2DTranspose: bottom 16 -> 8
    assert unet.params["dec.0.0.W"].shape == (4, 8, 3, 3)  # concatenation: 4 up + 4 skip
    model = mdl.Sequential([L.UNet(2, filters=(4,))], input_shape=(1, 8, 8))
    assert model.predict(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 2, 8, 8)
    with pytest.raises(ValueError, match="divisible by 4"):
        L.UNet(2, filters=(2, 2)).forward(np.zeros((1, 1, 6, 8), np.float32))


def test_unet_saves_and_loads(tmp_path):
    mdl.seed(0)
    model = mdl.Sequential([L.UNet(3, filters=(4,))], input_shape=(1, 8, 8))
    x = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    model.save(tmp_path / "unet.npz")
    again = mdl.load_model(tmp_path / "unet.npz")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.layers[0].filters == (4,) and again.layers[0].num_classes == 3


@pytest.mark.slow
def test_unet_removing_the_skip_gradient_fails_the_check(monkeypatch):
    """The fan-out sum is what the check tests: dropping the skip's gradient is caught."""
    mdl.seed(1)
    unet = L.UNet(2, filters=(2,))
    original = L.Concatenate.backward
    monkeypatch.setattr(
        L.Concatenate,
        "backward",
        lambda self, dy: [g * 0 if i else g for i, g in enumerate(original(self, dy))],
    )
    assert not check_layer(unet, np.random.default_rng(2).standard_normal((1, 1, 4, 4))).passed


# =========================================================================== segmentation losses and metrics
@pytest.mark.parametrize("loss", [PixelCrossentropy(), DiceLoss(), DiceLoss(smooth=0.0)])
def test_segmentation_losses_gradient_check(loss):
    rng = np.random.default_rng(3)
    z, t = rng.standard_normal((2, 3, 4, 5)), rng.integers(0, 3, (2, 4, 5))
    report = check_loss(loss, z, t)
    assert report.passed, str(report)


def test_pixel_crossentropy_equals_torch_and_dice_values():
    rng = np.random.default_rng(4)
    z, t = rng.standard_normal((2, 3, 4, 5)), rng.integers(0, 3, (2, 4, 5))
    # an independent formula: average of -log softmax at the label, pixel by pixel
    expected = np.mean(
        [
            -z[n, t[n, h, w], h, w] + np.log(np.exp(z[n, :, h, w]).sum())
            for n in range(2)
            for h in range(4)
            for w in range(5)
        ]
    )
    assert PixelCrossentropy()(z, t) == pytest.approx(expected, rel=1e-12)
    torch = pytest.importorskip("torch")
    assert PixelCrossentropy()(z, t) == pytest.approx(
        torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(t)).item(), rel=1e-10
    )


def test_dice_loss_is_zero_for_a_perfect_and_near_one_for_a_wrong_prediction():
    t = np.array([[[0, 1], [2, 2]]])
    perfect = 50.0 * (np.arange(3)[None, :, None, None] == t[:, None]).astype(float)
    assert DiceLoss(smooth=0.0)(perfect, t) == pytest.approx(0.0, abs=1e-12)
    wrong = 50.0 * (np.arange(3)[None, :, None, None] == (t[:, None] + 1) % 3).astype(float)
    assert DiceLoss(smooth=0.0)(wrong, t) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"labels \(N, H, W\)"):
        DiceLoss()(perfect, t[0])
    with pytest.raises(ValueError, match=r"integer labels in \[0, 3\)"):
        PixelCrossentropy()(perfect, t + 1)


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
