"""Keras 3's image augmentation layers: ``RandomFlip``, ``RandomTranslation``,
``RandomRotation``, ``RandomZoom``, ``RandomContrast``.

Each draws one random transformation per image in training and is the identity in
inference (``model.predict``, ``evaluate``, ``training=False``); called directly on an array
it augments (Keras's default ``training=True`` outside a model). Images are (N, H, W, C)
(channels-last; (N, C, H, W) with ``data_format="channels_first"``) or one (H, W, C) image.

The geometric ones are Keras's affine resampling: output pixel (i, j) reads the input at

    row = b0 j + b1 i + b2,   col = a0 j + a1 i + a2        (Keras's 8-number transform)

    translation  a = (1, 0, -dx), b = (0, 1, -dy)            dx = u W, dy = v H
    zoom         a = (zx, 0, (W-1)/2 (1-zx)), b = (0, zy, (H-1)/2 (1-zy))
    rotation     a = (cos, -sin, cx - cx cos + cy sin), b = (sin, cos, cy - cx sin - cy cos)
                 about the centre (cx, cy) = ((W-1)/2, (H-1)/2)

with ``"bilinear"`` (four neighbours, weights (1-t) and t per axis) or ``"nearest"``
(rounded, half to even) interpolation, and a neighbour outside the image taken by
``fill_mode``: ``"reflect"`` (d c b a | a b c d | d c b a), ``"nearest"`` (a a | a b c d | d d),
``"wrap"`` (a b c d | a b c d) or ``"constant"`` (``fill_value``). The output is linear in
the input: y = S x + fill terms, so backward is the adjoint, dx = S^T dy -- each output's
gradient added back to the neighbours it read with the same weights (``np.add.at``).
A flip is a permutation (its own adjoint); contrast is y = f (x - m) + m with m the image's
per-channel mean, clipped to ``value_range`` (dx = f dy + (1 - f) mean(dy), zero where clipped).

What differs from Keras: the random numbers. Keras draws from its own ``SeedGenerator``;
these layers draw from minidl's generator (``minidl.seed``; the ``seed=`` argument gives a
layer a generator of its own), so the same seed does not give Keras's images -- the
distributions (which draws, from which ranges), the transformation for a given draw, and the
inference behaviour are Keras's (the tests compare with Keras at fixed factors such as
``RandomRotation((0.1, 0.1))``).
"""

from __future__ import annotations

import math

import numpy as np

from minidl import backend
from minidl.nn.layers.base import Layer

from . import config
from .weights import KerasLayerAPI

__all__ = ["RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom", "RandomContrast"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("bilinear", "nearest")


# ---------------------------------------------------------------------- resampling and its adjoint
def _reflect(index, size):
    """Keras's "reflect" index (d c b a | a b c d | d c b a) for any integer index."""
    s = 2 * size  # the triangular wave of Keras's _mirror_index_fixer(2i + 1, 2 size + 1)
    mirrored = np.abs((2 * index + 1 + s) % (2 * s) - s)
    return (mirrored - 1) // 2


def _fix(index, size, fill_mode):
    """(the index to read, whether it is inside) for a neighbour at ``index`` of an axis of ``size``."""
    inside = (index >= 0) & (index < size)
    if fill_mode == "reflect":
        return _reflect(index, size), inside
    if fill_mode == "wrap":
        return index % size, inside
    return np.clip(index, 0, size - 1), inside


def _taps(rows, cols, H, W, interpolation, fill_mode):
    """The neighbours each output pixel reads: a list of (row index, col index, weight,
    inside) arrays of shape (N, H, W), from source coordinates ``rows``, ``cols`` (N, H, W)."""
    if interpolation == "nearest":
        per_axis = [[(np.round(rows).astype(np.int64), 1.0)], [(np.round(cols).astype(np.int64), 1.0)]]
    else:
        per_axis = []
        for c in (rows, cols):
            lower = np.floor(c)
            t = c - lower
            per_axis.append([(lower.astype(np.int64), 1.0 - t), (lower.astype(np.int64) + 1, t)])
    taps = []
    for r, wr in per_axis[0]:
        for c, wc in per_axis[1]:
            r_fixed, r_inside = _fix(r, H, fill_mode)
            c_fixed, c_inside = _fix(c, W, fill_mode)
            taps.append((r_fixed, c_fixed, wr * wc, r_inside & c_inside))
    return taps


def affine_resample(images, transforms, interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    """Keras's ``affine_transform`` of images (N, H, W, C) by ``transforms`` (N, 8); returns
    ``(out, taps)``, ``taps`` being what ``affine_resample_backward`` needs."""
    N, H, W, _ = images.shape
    i, j = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")
    t = np.asarray(transforms, dtype=np.float64)[:, :, None, None]  # (N, 8, 1, 1)
    cols = t[:, 0] * j + t[:, 1] * i + t[:, 2]  # (N, H, W)
    rows = t[:, 3] * j + t[:, 4] * i + t[:, 5]
    taps = _taps(rows, cols, H, W, interpolation, fill_mode)
    n = np.arange(N)[:, None, None]
    out = np.zeros(images.shape, dtype=np.float64)
    for r, c, weight, inside in taps:
        weight = np.broadcast_to(weight, r.shape)[..., None]  # (N, H, W, 1)
        read = images[n, r, c]  # (N, H, W, C)
        if fill_mode == "constant":
            read = np.where(inside[..., None], read, fill_value)
        out += weight * read
    keep = fill_mode == "constant"
    return out.astype(images.dtype), [
        (r, c, np.broadcast_to(w, r.shape) * (inside if keep else 1)) for r, c, w, inside in taps
    ]


def affine_resample_backward(dy, taps):
    """dx = S^T dy: each output's gradient back to the pixels it read, with their weights."""
    dx = np.zeros(dy.shape, dtype=np.float64)
    n = np.broadcast_to(np.arange(dy.shape[0])[:, None, None], taps[0][0].shape)
    for r, c, weight in taps:
        np.add.at(dx, (n, r, c), weight[..., None] * dy)
    return dx.astype(dy.dtype)


# ---------------------------------------------------------------------- the layers' common part
def _range(factor, name: str, symmetric: bool = True) -> tuple[float, float]:
    """Keras's factor: a number f means (-f, f) (``symmetric``), a pair (lower, upper)."""
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"{name} factor must be a number or a (lower, upper) pair, got {factor!r}")
        lower, upper = float(factor[0]), float(factor[1])
    else:
        lower, upper = (-float(factor), float(factor)) if symmetric else (float(factor), float(factor))
    if lower > upper:
        raise ValueError(f"{name} factor's lower bound {lower} is above its upper bound {upper}")
    return lower, upper


class _Augmentation(KerasLayerAPI, Layer):
    """One random transformation per image in training, the identity in inference."""

    def __init__(self, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.seed = seed
        self.data_format = data_format or config.image_data_format()
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"data_format must be 'channels_last' or 'channels_first', got {self.data_format!r}"
            )
        self._own_rng = None if seed is None else np.random.default_rng(seed)

    @property
    def channels_last(self) -> bool:
        """Whether images come (N, H, W, C) (what a model checks its first image layer for)."""
        return self.data_format == "channels_last"

    def rng(self) -> np.random.Generator:
        """The layer's own generator with ``seed=``, else minidl's (``minidl.seed``)."""
        return self._own_rng if self._own_rng is not None else backend.rng()

    def __call__(self, x, training=None, **kwargs):
        if hasattr(x, "record_call"):  # a KerasTensor: record; the model decides training
            return x.record_call(self, x, training=training, **kwargs)
        return self.forward(x, training=True if training is None else bool(training))  # Keras's default

    def _image_batch(self, x):
        """x as a float (N, H, W, C) NumPy batch, and how to give the result x's shape back."""
        x = np.asarray(backend.to_numpy(x))
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} expected images (N, H, W, C) or one (H, W, C), got shape {x.shape}"
            )
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        single = x.ndim == 3
        batch = x[None] if single else x
        if self.data_format == "channels_first":
            batch = batch.transpose(0, 2, 3, 1)

        def restore(y):
            if self.data_format == "channels_first":
                y = y.transpose(0, 3, 1, 2)
            return np.ascontiguousarray(y[0] if single else y)

        return batch, restore

    def forward(self, x, training=False):
        if not training:
            self.cache = None
            return x
        device = backend.device_of(x) if hasattr(x, "shape") else "cpu"
        images, restore = self._image_batch(x)  # NumPy (a GPU batch comes to the host and goes back)
        y, state = self.transform(images)
        self.cache = (state, restore, device)
        return backend.to_device(restore(y), device)

    def backward(self, dy):
        if self.cache is None:  # inference: the identity
            return dy
        state, restore, device = self.cache
        dimages, _ = self._image_batch(dy)
        return backend.to_device(restore(self.transform_backward(dimages, state)), device)

    def transform(self, images):
        raise NotImplementedError

    def transform_backward(self, dy, state):
        raise NotImplementedError


class _Affine(_Augmentation):
    """A random affine resampling (translation, rotation, zoom)."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", fill_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if fill_mode not in _FILL_MODES:
            raise ValueError(
                f"{type(self).__name__} fill_mode must be one of {_FILL_MODES}, got {fill_mode!r}"
            )
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"{type(self).__name__} interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}"
            )
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)

    def transforms(self, N, H, W):
        """(N, 8) Keras transforms for a batch of N images of H x W (one random draw each)."""
        raise NotImplementedError

    def transform(self, images):
        N, H, W, _ = images.shape
        return affine_resample(
            images, self.transforms(N, H, W), self.interpolation, self.fill_mode, self.fill_value
        )

    def transform_backward(self, dy, taps):
        return affine_resample_backward(dy, taps)


# ---------------------------------------------------------------------- the layers
class RandomFlip(_Augmentation):
    """Keras 3's ``RandomFlip(mode="horizontal_and_vertical", seed=None)``: each image is
    flipped with probability 1/2 (one draw per image; with "horizontal_and_vertical" that
    one draw flips both axes, as Keras's)."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, name=None, **kwargs):
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(
                f"RandomFlip mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical', got {mode!r}"
            )
        super().__init__(seed=seed, data_format=data_format, name=name, **kwargs)
        self.mode = mode

    def _flip(self, images, flips):
        axes = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (1, 2)}[self.mode]
        return np.where(flips[:, None, None, None], np.flip(images, axes), images)

    def transform(self, images):
        flips = self.rng().random(images.shape[0]) <= 0.5
        return self._flip(images, flips), flips

    def transform_backward(self, dy, flips):
        return self._flip(dy, flips)  # a flip is its own adjoint


class RandomTranslation(_Affine):
    """Keras 3's ``RandomTranslation(height_factor, width_factor, fill_mode="reflect",
    interpolation="bilinear", seed=None, fill_value=0.0)``: shifts of u H rows and v W
    columns, u and v uniform in the factors' ranges (a number f: (-f, f))."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, name=None, **kwargs):  # fmt: skip
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, fill_value=fill_value,
                         seed=seed, data_format=data_format, name=name, **kwargs)  # fmt: skip
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = _range(height_factor, "RandomTranslation height")
        self.width_range = _range(width_factor, "RandomTranslation width")

    def transforms(self, N, H, W):
        (dy_low, dy_high), (dx_low, dx_high) = self.height_range, self.width_range
        dy = self.rng().uniform(dy_low, dy_high, size=N) * H
        dx = self.rng().uniform(dx_low, dx_high, size=N) * W
        one, zero = np.ones(N), np.zeros(N)
        return np.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1)


class RandomRotation(_Affine):
    """Keras 3's ``RandomRotation(factor, fill_mode="reflect", interpolation="bilinear",
    seed=None, fill_value=0.0)``: a turn by an angle uniform in ``factor`` x 360 degrees
    (a number f: (-f, f)) about the image's centre."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, name=None, **kwargs):  # fmt: skip
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, fill_value=fill_value,
                         seed=seed, data_format=data_format, name=name, **kwargs)  # fmt: skip
        self.factor = factor
        self.range = _range(factor, "RandomRotation")

    def transforms(self, N, H, W):
        angle = self.rng().uniform(self.range[0] * 360.0, self.range[1] * 360.0, size=N) * math.pi / 180.0
        cos, sin = np.cos(angle), np.sin(angle)
        cx, cy = 0.5 * (W - 1), 0.5 * (H - 1)
        zero = np.zeros(N)
        a2 = cx - cx * cos + cy * sin
        b2 = cy - cx * sin - cy * cos
        return np.stack([cos, -sin, a2, sin, cos, b2, zero, zero], axis=1)


class RandomZoom(_Affine):
    """Keras 3's ``RandomZoom(height_factor, width_factor=None, fill_mode="reflect",
    interpolation="bilinear", seed=None, fill_value=0.0)``: the input is read at a scale of
    1 + u (u uniform in the factor's range; positive u zooms out), about the centre;
    without ``width_factor`` the width uses the height's draw (the aspect is kept)."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, name=None, **kwargs):  # fmt: skip
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, fill_value=fill_value,
                         seed=seed, data_format=data_format, name=name, **kwargs)  # fmt: skip
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = _range(height_factor, "RandomZoom height")
        self.width_range = None if width_factor is None else _range(width_factor, "RandomZoom width")

    def transforms(self, N, H, W):
        low, high = self.height_range
        zy = 1.0 + self.rng().uniform(low, high, size=N)
        if self.width_range is None:
            zx = zy
        else:
            low, high = self.width_range
            zx = 1.0 + self.rng().uniform(low, high, size=N)
        zero = np.zeros(N)
        return np.stack(
            [zx, zero, (W - 1) / 2 * (1 - zx), zero, zy, (H - 1) / 2 * (1 - zy), zero, zero], axis=1
        )


class RandomContrast(_Augmentation):
    """Keras 3's ``RandomContrast(factor, value_range=(0, 255), seed=None)``: per image,
    y = f (x - m) + m with f uniform in [1 - lower, 1 + upper] (a number: lower = upper = it)
    and m the image's mean per channel, clipped to ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, name=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, name=name, **kwargs)
        self.factor, self.value_range = factor, tuple(value_range)
        lower, upper = _range(factor, "RandomContrast", symmetric=False)
        if lower < 0 or upper < 0 or lower > 1:
            raise ValueError(
                f"RandomContrast factor must be in [0, 1] (lower) and >= 0 (upper), got {factor!r}"
            )
        self.lower, self.upper = lower, upper

    def transform(self, images):
        f = self.rng().uniform(1.0 - self.lower, 1.0 + self.upper, size=(images.shape[0], 1, 1, 1))
        mean = images.mean(axis=(1, 2), keepdims=True)
        y = (images - mean) * f + mean
        inside = (y >= self.value_range[0]) & (y <= self.value_range[1])
        return np.clip(y, *self.value_range).astype(images.dtype), (f, inside)

    def transform_backward(self, dy, state):
        f, inside = state
        dy = dy * inside
        return (f * dy + (1 - f) * dy.mean(axis=(1, 2), keepdims=True)).astype(dy.dtype)
