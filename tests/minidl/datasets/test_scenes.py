"""Data for chapter 22: the shape-scene generator (the Pet loader: tests/minidl/datasets/test_pets.py)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from minidl import datasets
from minidl.datasets import scenes

PIL = pytest.importorskip("PIL.Image")


# =========================================================================== scenes
def test_scenes_shapes_types_and_determinism():
    a = datasets.make_shape_scenes(40, size=32, max_objects=3, seed=5)
    b = datasets.make_shape_scenes(40, size=32, max_objects=3, seed=5)
    c = datasets.make_shape_scenes(40, size=32, max_objects=3, seed=6)
    assert a.images.shape == (40, 1, 32, 32) and a.images.dtype == np.float32
    assert a.masks.shape == (40, 32, 32) and a.masks.dtype == np.int64
    assert 0.0 <= a.images.min() and a.images.max() <= 1.0
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert all(np.array_equal(x, y) for x, y in zip(a.boxes, b.boxes))
    assert not np.array_equal(a.masks, c.masks)
    counts = [len(lab) for lab in a.labels]
    assert min(counts) >= 1 and max(counts) <= 3 and len(set(counts)) > 1
    assert set(np.concatenate(a.labels).tolist()) == {0, 1, 2}


def test_scene_masks_agree_with_boxes_and_labels():
    s = datasets.make_shape_scenes(30, size=40, max_objects=4, seed=1)
    overlapping = 0
    for mask, boxes, labels in zip(s.masks, s.boxes, s.labels):
        assert boxes.dtype == np.float32 and boxes.shape == (len(labels), 4)
        for (x1, y1, x2, y2), k in zip(boxes.astype(int), labels):
            assert 0 <= x1 < x2 <= 40 and 0 <= y1 < y2 <= 40
            inside = mask[y1:y2, x1:x2]
            assert (inside == k + 1).any()  # the object is visible inside its own box
            # the box is tight: the class appears on each of its four edges
            for edge in (inside[0], inside[-1], inside[:, 0], inside[:, -1]):
                assert (edge == k + 1).any() or len(labels) > 1
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                overlapping += bool(min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]))
        # every labelled class is in the mask, and no other class is
        assert set(np.unique(mask[mask > 0]).tolist()) <= set((labels + 1).tolist())
    assert overlapping > 0  # objects do overlap


def test_single_object_masks_give_exact_boxes():
    s = datasets.make_shape_scenes(20, size=32, max_objects=1, seed=2)
    for mask, boxes in zip(s.masks, s.boxes):
        owner = np.where(mask > 0, 0, -1)
        np.testing.assert_array_equal(boxes, datasets.masks_to_boxes(owner, 1))


def test_shapes_are_what_their_names_say():
    square = scenes._shape_pixels(0, 2, 3, 5, 12)
    disk = scenes._shape_pixels(1, 0, 0, 7, 12)
    triangle = scenes._shape_pixels(2, 0, 0, 7, 12)
    assert square.sum() == 25 and square[2:7, 3:8].all()
    assert disk[3, 3] and not disk[0, 0] and disk.sum() < 49 and (disk == disk.T).all()
    assert triangle[0, 3] and not triangle[0, 0] and triangle[6].sum() == 7 and triangle.sum() < 49


def test_scenes_without_exclude_are_those_of_earlier_versions():
    a = datasets.make_shape_scenes(50, seed=3)
    digest = hashlib.sha256(a.masks.tobytes())
    for array in (*a.boxes, *a.labels):
        digest.update(array.tobytes())
    assert digest.hexdigest() == "4948396097982368b19cedb0f9def3304f563058113b25c8b77a1e3638952b65"
    assert abs(float(a.images.astype(np.float64).sum()) - 14565.916393) < 1e-3
    b = datasets.make_shape_scenes(50, seed=3, exclude=np.zeros((0, 32, 32), np.int64))
    np.testing.assert_array_equal(a.images, b.images)


@pytest.mark.slow
def test_held_out_scenes_repeat_no_training_mask():
    train = datasets.make_shape_scenes(1500, seed=0)
    seen = {m.tobytes() for m in train.masks}
    plain = datasets.make_shape_scenes(300, seed=1)
    assert sum(m.tobytes() in seen for m in plain.masks) > 0  # what `exclude` is for
    held = datasets.make_shape_scenes(300, seed=1, exclude=train)
    assert held.images.shape == (300, 1, 32, 32) and len(held.boxes) == len(held.labels) == 300
    assert sum(m.tobytes() in seen for m in held.masks) == 0
    for mask, boxes, labels in zip(held.masks, held.boxes, held.labels):
        assert set(np.unique(mask).tolist()) - {0} <= set((labels + 1).tolist())
        assert len(boxes) == len(labels)
    again = datasets.make_shape_scenes(300, seed=1, exclude=train.masks)
    np.testing.assert_array_equal(held.images, again.images)
    with pytest.raises(ValueError, match=r"masks of shape \(M, 32, 32\), got shape \(3, 8, 8\)"):
        datasets.make_shape_scenes(2, exclude=np.zeros((3, 8, 8)))


def test_scene_arguments_are_checked():
    with pytest.raises(ValueError, match="min_extent <= max_extent <= size"):
        datasets.make_shape_scenes(2, size=8, max_extent=10)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        datasets.make_shape_scenes(0)
    with pytest.raises(ValueError, match="no visible pixel"):
        datasets.masks_to_boxes(np.full((4, 4), -1), 1)
