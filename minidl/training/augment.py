"""Data augmentation: random changes to every training batch that keep its labels true.

A digit moved two pixels to the left is still the same digit; a photograph of a cat
mirrored left-right is still a cat (a mirrored 3 is not a 3: flips are for images whose
class does not depend on handedness). Training on such variations, drawn afresh for
every batch, shows the network many more distinct images than the training set holds
and teaches it the invariances we want, for the cost of a few array copies per batch.

    RandomShift(max_shift)        move each image by its own (dy, dx) in [-max_shift, max_shift]
    RandomCrop(size, padding)     pad, then cut a random size x size window (CIFAR's recipe)
    RandomFlip("horizontal")      mirror each image with probability 1/2
    GaussianNoise(stddev)         add N(0, stddev^2) to every value
    Compose([t1, t2, ...])        apply them in order

Each transform is called on a batch ``x`` of shape (N, C, H, W) (or (N, H, W); shifts
and crops need the image axes, noise takes any shape) and returns a new array; the
input is never changed. Randomness comes from ``seed``'s own generator, or from
``minidl.backend.rng()`` when ``seed`` is None, so ``minidl.seed`` makes a run
repeatable. ``DataLoader(..., transform=t)`` and ``model.fit(..., augment=t)`` apply
``t`` to every training batch (never to validation or test data).

These are transforms of the data pipeline, as in torchvision, so the model's layers stay
what is learned (the same ideas can also be layers that act only in training).

The work is a gather (each output pixel reads one input pixel) done by one fancy-indexing
expression for the whole batch: no per-image Python loop and no hot loop that a Numba or
CUDA kernel would speed up beyond the copy NumPy already makes.
"""

from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["Transform", "RandomShift", "RandomCrop", "RandomFlip", "GaussianNoise", "Compose"]


class Transform:
    """Base class: ``transform(x) -> x_new`` for a batch ``x``; draws from ``self.rng``."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    @property
    def rng(self) -> np.random.Generator:
        """This transform's generator: its own (``seed=``) or minidl's (``minidl.seed``)."""
        return self._rng if self._rng is not None else backend.rng()

    def __call__(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _images(x, who: str):
    """``x`` as (N, C, H, W) and a function that gives a result back the caller's shape."""
    if not hasattr(x, "ndim"):
        x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        return x[:, None], lambda y: y[:, 0]
    if x.ndim == 4:
        return x, lambda y: y
    raise ValueError(
        f"{who} expected images (N, C, H, W) or (N, H, W), got shape {tuple(x.shape)}; "
        "reshape flat rows first, e.g. x.reshape(-1, 1, 28, 28)"
    )


def _windows(padded, top, left, height: int, width: int):
    """Cut one window per image: ``out[n] = padded[n, :, top[n]:top[n]+height, left[n]:left[n]+width]``.

    padded (N, C, HP, WP); top, left (N,) integer arrays -> (N, C, height, width), by one gather.
    """
    xp = backend.get_array_module(padded)
    n, c = padded.shape[:2]
    top, left = (backend.to_device(np.asarray(a), backend.device_of(padded)) for a in (top, left))
    rows = top[:, None] + xp.arange(height)[None, :]  # (N, height)
    cols = left[:, None] + xp.arange(width)[None, :]  # (N, width)
    return padded[
        xp.arange(n)[:, None, None, None],
        xp.arange(c)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


def _pad(x, p: int, fill: float):
    xp = backend.get_array_module(x)
    return xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)


class RandomShift(Transform):
    """Move each image by its own integer offset, uniform in ``[-max_shift, max_shift]`` on
    each axis, filling the pixels that enter with ``fill``. Shapes are kept."""

    def __init__(self, max_shift: int = 2, fill: float = 0.0, seed: int | None = None):
        super().__init__(seed)
        if not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
            raise ValueError(f"RandomShift max_shift must be a non-negative integer, got {max_shift!r}")
        self.max_shift, self.fill = int(max_shift), float(fill)

    def __call__(self, x):
        images, back = _images(x, "RandomShift")
        n, _, h, w = images.shape
        m = self.max_shift
        # the window's corner in the image padded by m: corner k shifts the image by m - k
        corner = self.rng.integers(0, 2 * m + 1, size=(n, 2))
        return back(_windows(_pad(images, m, self.fill), corner[:, 0], corner[:, 1], h, w))


class RandomCrop(Transform):
    """Pad every side with ``padding`` pixels of ``fill``, then cut a random ``size`` window
    from each image (torchvision's ``RandomCrop(size, padding)``). ``size`` is an int (square) or (height, width)."""

    def __init__(self, size, padding: int = 0, fill: float = 0.0, seed: int | None = None):
        super().__init__(seed)
        size = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
            raise ValueError(f"RandomCrop size must be a positive int or (height, width), got {size!r}")
        if not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"RandomCrop padding must be a non-negative integer, got {padding!r}")
        self.size, self.padding, self.fill = tuple(int(s) for s in size), int(padding), float(fill)

    def __call__(self, x):
        images, back = _images(x, "RandomCrop")
        n, _, h, w = images.shape
        height, width = self.size
        room_h, room_w = h + 2 * self.padding - height, w + 2 * self.padding - width
        if room_h < 0 or room_w < 0:
            raise ValueError(
                f"RandomCrop cannot cut {self.size} from images {(h, w)} padded by "
                f"{self.padding} (at most {(h + 2 * self.padding, w + 2 * self.padding)})"
            )
        top = self.rng.integers(0, room_h + 1, size=n)
        left = self.rng.integers(0, room_w + 1, size=n)
        return back(_windows(_pad(images, self.padding, self.fill), top, left, height, width))


class RandomFlip(Transform):
    """Mirror each image with probability 1/2: ``"horizontal"`` (left-right),
    ``"vertical"`` (up-down) or ``"horizontal_and_vertical"`` (each axis on its own draw).
    Only for classes that a mirror does not change (not for digits)."""

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode: str = "horizontal", seed: int | None = None):
        super().__init__(seed)
        if mode not in self.MODES:
            raise ValueError(f"RandomFlip mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode

    def __call__(self, x):
        images, back = _images(x, "RandomFlip")
        xp = backend.get_array_module(images)
        out = images.copy()
        for axis, name in ((3, "horizontal"), (2, "vertical")):
            if name in self.mode:
                chosen = self.rng.random(images.shape[0]) < 0.5
                chosen = backend.to_device(np.flatnonzero(chosen), backend.device_of(images))
                out[chosen] = xp.flip(out[chosen], axis=axis)
        return back(out)


class GaussianNoise(Transform):
    """Add independent N(0, ``stddev``^2) noise to every value; any shape. The noise is drawn on the host in float32, so CPU and GPU runs see the same."""

    def __init__(self, stddev: float = 0.1, seed: int | None = None):
        super().__init__(seed)
        if not stddev >= 0:
            raise ValueError(f"GaussianNoise stddev must be >= 0, got {stddev!r}")
        self.stddev = float(stddev)

    def __call__(self, x):
        if not hasattr(x, "dtype"):
            x = np.asarray(x, dtype=np.float32)
        noise = self.rng.standard_normal(x.shape, dtype=np.float32) * np.float32(self.stddev)
        return x + backend.to_device(noise, backend.device_of(x)).astype(x.dtype, copy=False)


class Compose(Transform):
    """Apply ``transforms`` one after another (torchvision's name)."""

    def __init__(self, transforms):
        super().__init__(None)
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose takes callables x -> x, got {type(t).__name__}")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x
