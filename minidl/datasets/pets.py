"""The Oxford-IIIT Pet dataset (Parkhi et al., 2012): photographs with masks and boxes.

7,349 photographs of 37 breeds of cats and dogs, each with a *trimap* (a per-pixel mask:
1 pet, 2 background, 3 the uncertain border) and, for the 3,686 images of the
``trainval`` list, a box around the pet's head. Two archives, downloaded once into
``data_home() / "oxford_pets"`` and checked by SHA-256 (``download.SHA256``):

    images.tar.gz       792 MB   images/<Breed_name>_<k>.jpg
    annotations.tar.gz   19 MB   annotations/trimaps/<name>.png, annotations/xmls/<name>.xml,
                                 annotations/trainval.txt, annotations/test.txt

The lists hold one image per line, ``<name> <class 1..37> <species 1 cat, 2 dog> <breed id>``
(comment lines start with ``#``). The head boxes are Pascal VOC XML (``<bndbox>`` with
``xmin ymin xmax ymax``, 1-based inclusive pixel coordinates). Images are read straight from
the verified archives (nothing is unpacked to disk) and resized to ``size x size``: bilinear
for the photograph, nearest neighbour for the trimap, the box scaled with them.
Decoding JPEG needs Pillow, which matplotlib already depends on.
"""

from __future__ import annotations

import io
import tarfile
import xml.etree.ElementTree as ET
from typing import NamedTuple

import numpy as np

from .download import fetch
from .formats import _tar_member

__all__ = ["PetScenes", "load_oxford_pets", "PET_TRIMAP"]

#: trimap values as stored in the PNGs
PET_TRIMAP = {"pet": 1, "background": 2, "border": 3}
SPLITS = ("trainval", "test")


class PetScenes(NamedTuple):
    """What ``load_oxford_pets`` returns.

    images  float32 (N, 3, S, S) in [0, 1], channels red, green, blue
    masks   int64 (N, S, S): 0 background, 1 pet, 2 border (the trimap minus one, reordered)
    boxes   float32 (N, 4): the head box (x1, y1, x2, y2) in resized pixels, x2/y2 one past
            the last pixel; NaN where the image has no head annotation
    species int64 (N,): 0 cat, 1 dog
    breeds  int64 (N,): 0..36
    names   list of N str: the image names, e.g. "Abyssinian_1"
    """

    images: np.ndarray
    masks: np.ndarray
    boxes: np.ndarray
    species: np.ndarray
    breeds: np.ndarray
    names: list


def load_oxford_pets(split: str = "trainval", size: int = 64, limit: int | None = None) -> PetScenes:
    """Oxford-IIIT Pet images with their trimaps and head boxes, resized to ``size``.

    Parameters
    ----------
    split : ``"trainval"`` (3,680 images) or ``"test"`` (3,669), the dataset's own lists.
    size : the side S of the square images and masks returned.
    limit : keep only the first ``limit`` names of the list (quick experiments).

    The first call downloads the two archives (811 MB in all); without a network the
    error names both files, their sums and the folder to place them in.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if int(size) < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    paths = fetch("oxford_pets")
    with tarfile.open(paths["annotations.tar.gz"], "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        listing = _parse_list(_read(tar, members, f"annotations/{split}.txt"))
        if limit is not None:
            listing = listing[: int(limit)]
        trimaps, heads = {}, {}
        for name, *_ in listing:
            trimaps[name] = _read(tar, members, f"annotations/trimaps/{name}.png")
            xml_name = f"annotations/xmls/{name}.xml"
            if xml_name in members:
                heads[name] = parse_voc_box(_read(tar, members, xml_name))
    wanted = {f"images/{name}.jpg": name for name, *_ in listing}
    photos = {}
    with tarfile.open(paths["images.tar.gz"], "r:gz") as tar:
        for member in tar:  # one pass over the (sequential) gzip stream
            if member.name in wanted:
                photos[wanted[member.name]] = _tar_member(tar, member, "images.tar.gz")
    missing = [name for name in wanted.values() if name not in photos]
    if missing:
        raise ValueError(f"{paths['images.tar.gz']}: no image for {missing[:5]} ({len(missing)} in all)")
    n = len(listing)
    images = np.empty((n, 3, size, size), np.float32)
    masks = np.empty((n, size, size), np.int64)
    boxes = np.full((n, 4), np.nan, np.float32)
    for i, (name, *_) in enumerate(listing):
        image, (height, width) = _decode_image(photos[name], size)
        images[i] = image
        masks[i] = _decode_trimap(trimaps[name], size, name, (height, width))
        if name in heads:
            x1, y1, x2, y2 = heads[name]  # 1-based inclusive -> 0-based, one past the end
            boxes[i] = np.array([x1 - 1, y1 - 1, x2, y2]) * size / (width, height, width, height)
    breeds = np.array([breed - 1 for _, breed, _ in listing], np.int64)
    species = np.array([kind - 1 for _, _, kind in listing], np.int64)
    return PetScenes(images, masks, boxes, species, breeds, [name for name, *_ in listing])


def parse_voc_box(xml_bytes: bytes) -> tuple[int, int, int, int]:
    """(xmin, ymin, xmax, ymax) of the first ``<object><bndbox>`` of a Pascal VOC XML file."""
    root = ET.fromstring(xml_bytes)
    box = root.find("object/bndbox")
    if box is None:
        raise ValueError("VOC annotation without <object><bndbox>")

    def coordinate(tag: str) -> int:
        text = box.findtext(tag)
        if text is None:
            raise ValueError(f"VOC <bndbox> without <{tag}>")
        return int(float(text))

    return coordinate("xmin"), coordinate("ymin"), coordinate("xmax"), coordinate("ymax")


def _parse_list(text: bytes) -> list[tuple[str, int, int]]:
    """``trainval.txt`` / ``test.txt`` -> [(name, breed 1..37, species 1..2)]."""
    out = []
    for line in text.decode("utf-8").splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 4:
            raise ValueError(f"list line {line!r}: expected '<name> <class> <species> <breed id>'")
        out.append((fields[0], int(fields[1]), int(fields[2])))
    return out


def _read(tar: tarfile.TarFile, members: dict, name: str) -> bytes:
    """Member ``name`` of the annotations, looked up in ``members`` (tar's own lookup is a linear search)."""
    return _tar_member(
        tar, members.get(name, name), "annotations.tar.gz (not the Oxford-IIIT Pet annotations?)"
    )


def _resampling(name: str):
    """Pillow's resampling filter ``name`` (``Image.Resampling`` since Pillow 9.1, module constants before)."""
    from PIL import Image

    return getattr(getattr(Image, "Resampling", Image), name)


def _decode_image(data: bytes, size: int):
    """JPEG bytes -> (float32 (3, size, size) in [0, 1], original (height, width))."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        picture = picture.convert("RGB")  # a few of the photographs are grey or CMYK
        original = (picture.height, picture.width)
        resized = picture.resize((size, size), _resampling("BILINEAR"))
        pixels = np.asarray(resized, np.float32) / np.float32(255)
    return pixels.transpose(2, 0, 1), original


def _decode_trimap(data: bytes, size: int, name: str, shape) -> np.ndarray:
    """Trimap PNG (1 pet, 2 background, 3 border) -> int64 (size, size): 0 background, 1 pet, 2 border."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        if (picture.height, picture.width) != tuple(shape):
            raise ValueError(
                f"trimap of {name} is {picture.height}x{picture.width}, its image {shape[0]}x{shape[1]}"
            )
        values = np.asarray(picture.resize((size, size), _resampling("NEAREST")), np.int64)
    if values.ndim != 2 or not np.isin(values, (1, 2, 3)).all():
        raise ValueError(f"trimap of {name}: expected one channel of values 1, 2, 3, got {np.unique(values)}")
    return np.choose(values - 1, (1, 0, 2))
