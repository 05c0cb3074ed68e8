"""Small grey medical images with a yes/no finding: MedMNIST (downloaded) or generated scans.

``load_medmnist`` reads one of two binary sets of MedMNIST v2 (Yang et al., 2023), 28 x 28
grey images under CC BY 4.0, downloaded once from the authors' Zenodo record (10519652)
into ``$MINIDL_DATA/medmnist/`` and checked against the MD5 sums the authors publish (the
only sums they publish; see ``minidl.datasets.download``):

    "pneumoniamnist"  paediatric chest X-rays, 1 = pneumonia, 0 = normal;
                      4,708 / 524 / 624 images (train / val / test), 74 % / 74 % / 62 % pneumonia
    "breastmnist"     breast ultrasound, 1 = normal or benign, 0 = malignant;
                      546 / 78 / 156 images, 73 % label 1

``make_scans`` draws a stand-in that needs no download: GENERATED grey images, an oval
"organ" of random place, size and brightness on a darker, shaded field with noise, and in a
fraction ``positive_rate`` of them a faint round "finding" inside the organ. The finding is
small and dim against the organ's variation in brightness, so the mean pixel value tells
little, and the positives are the rarer class, as in screening. Nothing in it is medical:
it is a toy with the shape of the problem (a small, faint, rare signal).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .download import fetch
from .images import _to_float
from .synthetic import _check_count, _excluded

__all__ = ["MEDMNIST_CLASSES", "Scans", "load_medmnist", "make_scans"]

MEDMNIST_CLASSES = {
    "pneumoniamnist": ("normal", "pneumonia"),
    "breastmnist": ("malignant", "normal or benign"),
}


def load_medmnist(name: str = "pneumoniamnist", flatten: bool = False):
    """A binary MedMNIST v2 set at 28 x 28 (Yang et al., 2023; CC BY 4.0), with its own splits.

    Downloads ``<name>.npz`` once into the cache (folder ``medmnist/``) and checks its sum.
    Class names: ``MEDMNIST_CLASSES[name]`` (label 0, label 1).

    Returns
    -------
    ((x_train, y_train), (x_val, y_val), (x_test, y_test)) : images float32 in [0, 1] of shape
    (N, 1, 28, 28), or (N, 784) with ``flatten=True``; labels int64 (N,) in {0, 1}.
    The validation split is the one to choose a threshold or a stopping epoch on.
    """
    if name not in MEDMNIST_CLASSES:
        raise ValueError(f"name must be one of {sorted(MEDMNIST_CLASSES)}, got {name!r}")
    path = fetch("medmnist", [f"{name}.npz"])[f"{name}.npz"]
    return read_medmnist_npz(path, flatten=flatten)


def read_medmnist_npz(path, flatten: bool = False):
    """Read a MedMNIST ``.npz`` (keys ``train_images``, ``train_labels``, ``val_...``,
    ``test_...``: uint8 images (N, 28, 28), labels (N, 1)) already on disk; see ``load_medmnist``."""
    splits = []
    with np.load(path, allow_pickle=False) as f:
        for split in ("train", "val", "test"):
            images, labels = f[f"{split}_images"], f[f"{split}_labels"]
            if images.dtype != np.uint8 or images.ndim != 3:
                raise ValueError(
                    f"{path}: expected uint8 {split}_images (N, H, W), got {images.dtype} {images.shape}"
                )
            if labels.shape not in ((len(images), 1), (len(images),)):
                raise ValueError(f"{path}: expected {split}_labels ({len(images)}, 1), got {labels.shape}")
            splits.append((images, labels.reshape(-1)))
    return _to_float(splits, flatten)


class Scans(NamedTuple):
    """What ``make_scans`` returns.

    images   float32 (N, 1, S, S) in [0, 1]
    labels   int64 (N,): 1 where the image holds a finding
    layouts  int64 (N, 9): what defines a case apart from its noise and shading -- the organ's
             centre (row, column) and half-axes in pixels, the field's and the organ's
             brightness in hundredths, the finding's centre (row, column; -1 when there is
             none) and whether it is there; two images with one layout are one "patient"
    """

    images: np.ndarray
    labels: np.ndarray
    layouts: np.ndarray


def make_scans(
    n: int,
    size: int = 28,
    positive_rate: float = 0.2,
    contrast: float = 0.5,
    noise: float = 0.05,
    seed: int = 0,
    exclude=None,
) -> Scans:
    """``n`` GENERATED grey scans, a fraction ``positive_rate`` (rounded) with a faint finding.

    Parameters
    ----------
    n : number of images.
    size : side S in pixels (at least 16).
    positive_rate : the fraction of images with a finding; exactly ``round(n * positive_rate)``
        of them, at random places in the set.
    contrast : the finding's peak brightness over the organ, relative to the organ's own
        brightness above the field (each finding draws 0.6 to 1.4 times this); smaller is harder.
    noise : standard deviation of the Gaussian noise added to every pixel.
    seed : the random seed; the same seed gives the same images on every machine.
    exclude : None, or scans no returned one may repeat: a ``Scans`` or layouts (M, 9). A
        case whose layout equals one of them is drawn again (the layouts are integers, so small
        sets do repeat). Pass the training set here to draw a held-out set none of whose
        "patients" is a training one.

    Returns
    -------
    Scans(images, labels, layouts).
    """
    _check_count("n", n)
    if size < 16:
        raise ValueError(f"size must be at least 16, got {size!r}")
    if not 0.0 <= positive_rate <= 1.0:
        raise ValueError(f"positive_rate must be in [0, 1], got {positive_rate!r}")
    rng = np.random.default_rng(seed)
    excluded = _excluded(exclude, "layouts", (9,))
    labels = np.zeros(n, dtype=np.int64)
    labels[rng.permutation(n)[: int(round(n * positive_rate))]] = 1
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    layouts = np.empty((n, 9), dtype=np.int64)
    for i in range(n):
        while True:
            layout = _draw_layout(rng, size, bool(labels[i]))
            if layout.tobytes() not in excluded:
                break
        excluded.add(layout.tobytes())  # no two cases of one set share a layout either
        layouts[i] = layout
        images[i, 0] = _draw_image(rng, layout, rows, cols, contrast, noise)
    return Scans(images, labels, layouts)


def _draw_layout(rng, size, positive):
    half = size // 2
    cy, cx = (int(v) for v in rng.integers(half - size // 8, half + size // 8 + 1, 2))
    ry, rx = (int(v) for v in rng.integers(size // 4, size // 3 + 1, 2))
    field = int(rng.integers(5, 26))  # hundredths
    organ = int(rng.integers(25, 56))  # the organ's brightness above the field varies a lot
    # the finding: a point well inside the organ (within half its half-axes of the centre)
    fy = cy + int(rng.integers(-(ry // 2), ry // 2 + 1))
    fx = cx + int(rng.integers(-(rx // 2), rx // 2 + 1))
    if not positive:
        fy = fx = -1
    return np.array([cy, cx, ry, rx, field, organ, fy, fx, int(positive)], dtype=np.int64)


def _draw_image(rng, layout, rows, cols, contrast, noise):
    cy, cx, ry, rx, field_level, organ_level, fy, fx, positive = (int(v) for v in layout)
    field, organ = field_level / 100, organ_level / 100
    # a soft-edged oval, and a shading across the image (the exposure is never even)
    inside = np.clip(1.5 - 1.5 * ((rows - cy) ** 2 / ry**2 + (cols - cx) ** 2 / rx**2), 0.0, 1.0)
    slope = rng.uniform(-0.004, 0.004, 2)
    image = field + organ * inside + slope[0] * (rows - cy) + slope[1] * (cols - cx)
    if positive:
        radius = rng.uniform(1.2, 2.2)
        spot = np.exp(-((rows - fy) ** 2 + (cols - fx) ** 2) / (2 * radius**2))
        image = image + contrast * rng.uniform(0.6, 1.4) * organ * spot
    image = image + rng.normal(0.0, noise, image.shape)
    return np.clip(image, 0.0, 1.0)
