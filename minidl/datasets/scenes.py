"""Scenes of overlapping shapes: a per-pixel mask and a box and class per object, offline.

Classification gives one label per image. Segmentation asks for one label per *pixel*,
detection for a box and a class per *object*. ``make_shape_scenes`` draws small grey images
with one to ``max_objects`` filled shapes (a square, a disk, a triangle) at random places,
sizes and brightnesses over a noisy background, later shapes painted over earlier ones, and
returns all three targets at once:

    images  float32 (N, 1, S, S) in [0, 1]
    masks   int64   (N, S, S): 0 background, k + 1 where the visible pixel belongs to class k
    boxes   list of N float32 arrays (M_i, 4): (x1, y1, x2, y2) in pixels, the tight box
            of each object's *visible* pixels, x2 and y2 one past the last pixel
            (so a 1-pixel object at column 3 has x1 = 3, x2 = 4; width x2 - x1)
    labels  list of N int64 arrays (M_i,): the class k in 0..K-1 of each box

The class is only in the *shape*: brightness is drawn independently of it. Occlusion is
limited: every object keeps at least ``min_visible`` of its own pixels, so every box has
something to see. The same ``seed`` gives the same scenes on every machine (only integer
and comparison arithmetic decide which pixel is which).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .synthetic import _check_count, _excluded

__all__ = ["SHAPE_CLASSES", "Scenes", "make_shape_scenes", "masks_to_boxes"]

SHAPE_CLASSES = ("square", "disk", "triangle")


class Scenes(NamedTuple):
    """What ``make_shape_scenes`` returns (see the module docstring for shapes)."""

    images: np.ndarray
    masks: np.ndarray
    boxes: list
    labels: list


def make_shape_scenes(
    n: int,
    size: int = 32,
    max_objects: int = 3,
    min_extent: int = 7,
    max_extent: int = 14,
    min_visible: float = 0.5,
    noise: float = 0.08,
    seed: int = 0,
    exclude=None,
) -> Scenes:
    """``n`` scenes of ``size x size`` pixels with 1..``max_objects`` shapes each.

    Parameters
    ----------
    n : number of images.
    size : image side S in pixels.
    max_objects : each image holds between 1 and this many objects (uniformly).
    min_extent, max_extent : a shape's side (square, triangle) or diameter (disk) in pixels.
    min_visible : the fraction of its pixels every object keeps after later objects are
        painted over it; a placement that would hide more is drawn again.
    noise : standard deviation of the Gaussian noise added to every pixel.
    seed : the random seed; the same seed gives the same scenes.
    exclude : None, or scenes that no returned scene may repeat: a ``Scenes`` or masks
        (M, S, S). A scene whose mask (the layout of classes over the pixels, what a
        segmenter predicts) equals one of them is drawn again. Small scenes do repeat: of
        ``make_shape_scenes(300, seed=1)``, 3 have the mask of a scene of
        ``make_shape_scenes(1500, seed=0)`` (one shape of the same class, size and place).
        Pass the training scenes here to draw a held-out set that is held out.

    Returns
    -------
    Scenes(images, masks, boxes, labels).
    """
    _check_count("n", n)
    _check_count("max_objects", max_objects)
    if not 2 <= min_extent <= max_extent <= size:
        raise ValueError(
            f"need 2 <= min_extent <= max_extent <= size, got {min_extent}, {max_extent}, {size}"
        )
    if not 0.0 <= min_visible <= 1.0:
        raise ValueError(f"min_visible must be in [0, 1], got {min_visible!r}")
    excluded = _excluded(exclude, "masks", (size, size))
    rng = np.random.default_rng(seed)
    images = np.empty((n, 1, size, size), np.float32)
    masks = np.zeros((n, size, size), np.int64)
    boxes, labels = [], []
    i = 0
    while i < n:
        count = int(rng.integers(1, max_objects + 1))
        owner, classes = _place_objects(rng, size, count, min_extent, max_extent, min_visible)
        background = rng.uniform(0.0, 0.35)
        image = np.full((size, size), background)
        for k in range(len(classes)):
            image[owner == k] = rng.uniform(background + 0.3, 1.0)
        image += noise * rng.standard_normal((size, size))
        mask = np.where(owner >= 0, np.asarray(classes)[np.maximum(owner, 0)] + 1, 0)
        if mask.tobytes() in excluded:
            continue
        images[i, 0] = np.clip(image, 0.0, 1.0)
        masks[i] = mask
        i += 1
        boxes.append(masks_to_boxes(owner, len(classes)))
        labels.append(np.asarray(classes, np.int64))
    return Scenes(images, masks, boxes, labels)


def masks_to_boxes(owner: np.ndarray, count: int) -> np.ndarray:
    """Tight boxes (count, 4) float32 of the pixels ``owner == k`` for k in 0..count-1.

    ``owner`` (H, W) holds an object index per pixel (-1: none). Boxes are (x1, y1, x2, y2)
    with x2, y2 one past the last pixel. An object with no pixel is an error.
    """
    out = np.zeros((count, 4), np.float32)
    for k in range(count):
        rows, cols = np.nonzero(owner == k)
        if rows.size == 0:
            raise ValueError(f"object {k} has no visible pixel")
        out[k] = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    return out


# --------------------------------------------------------------------------- drawing
def _shape_pixels(kind: int, top: int, left: int, extent: int, size: int) -> np.ndarray:
    """Boolean (size, size) image of one filled shape in the square [top, top+extent) x [left, left+extent)."""
    rows, cols = np.mgrid[0:size, 0:size]
    r, c = rows - top, cols - left  # pixel coordinates inside the shape's square
    inside = (r >= 0) & (r < extent) & (c >= 0) & (c < extent)
    if kind == 0:  # square
        return inside
    if kind == 1:  # disk: pixel centres within extent / 2 of the square's centre
        d = 2 * r + 1 - extent, 2 * c + 1 - extent  # twice the offset from the centre (integers)
        return inside & (d[0] ** 2 + d[1] ** 2 <= extent * extent)
    # triangle, apex up: row r (0 at the top) spans the middle r + 1 of every 2 columns
    return inside & (np.abs(2 * c + 1 - extent) <= r + 1)


def _place_objects(rng, size, count, min_extent, max_extent, min_visible, tries=50):
    """Paint ``count`` shapes one over another; returns (owner (S, S) int, classes list)."""
    owner = np.full((size, size), -1, np.int64)
    classes: list[int] = []
    areas: list[int] = []
    for _ in range(count):
        for _attempt in range(tries):
            kind = int(rng.integers(len(SHAPE_CLASSES)))
            extent = int(rng.integers(min_extent, max_extent + 1))
            top, left = (int(v) for v in rng.integers(0, size - extent + 1, size=2))
            pixels = _shape_pixels(kind, top, left, extent, size)
            trial = np.where(pixels, len(classes), owner)
            if all(np.count_nonzero(trial == k) >= min_visible * areas[k] for k in range(len(classes))):
                owner = trial
                classes.append(kind)
                areas.append(int(pixels.sum()))
                break
    if not classes:  # cannot happen for count >= 1 (an empty image accepts any shape)
        raise RuntimeError("no object could be placed")
    return owner, classes
