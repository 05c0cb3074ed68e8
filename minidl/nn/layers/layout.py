"""Image layout: Keras's channels-last (N, H, W, C) at a layer's edges, (N, C, H, W) inside.

Image layers are written for (N, C, H, W), the layout of the kernels (and PyTorch's). A
layer that also takes Keras's layout

* inherits ``ImageLayout`` (``class Conv2D(ImageLayout, Layer)``) and calls
  ``self.set_data_format(data_format)`` in ``__init__``: the argument is checked, ``None``
  takes ``image_data_format()``, and the layer learns to translate shapes and error hints;
* is decorated with ``@accepts_channels_last``, which wraps ``forward``, ``backward``,
  ``backward_params`` and ``build`` so that with ``data_format="channels_last"`` the input is
  transposed to (N, C, H, W) on the way in and the output back on the way out.

The layer's own code and its kernels never see the other layout.
"""

from __future__ import annotations

import functools

import numpy as np

from ... import backend

__all__ = [
    "DATA_FORMATS",
    "ImageLayout",
    "accepts_channels_last",
    "check_data_format",
    "image_data_format",
    "set_image_data_format",
    "layout_hint",
]

DATA_FORMATS = ("channels_first", "channels_last")
_defaults = {"image_data_format": "channels_first"}


def image_data_format() -> str:
    """The ``data_format`` image layers get when none is given: ``"channels_first"`` unless
    ``set_image_data_format`` changed it."""
    return _defaults["image_data_format"]


def set_image_data_format(data_format: str) -> str:
    """Make every image layer created from now on use ``data_format`` (Keras's
    ``keras.config.set_image_data_format``); returns the previous setting.

    ``"channels_last"`` lets Keras programs that feed (N, H, W, C) images run unchanged.
    """
    previous = image_data_format()
    _defaults["image_data_format"] = check_data_format(data_format, "set_image_data_format")
    return previous


def check_data_format(data_format, who: str):
    """``data_format`` if it is None, ``"channels_first"`` or ``"channels_last"``, else a clear error."""
    if data_format is not None and data_format not in DATA_FORMATS:
        raise ValueError(
            f"{who} data_format must be 'channels_first' (N, C, H, W) or "
            f"'channels_last' (N, H, W, C), got {data_format!r}"
        )
    return data_format


class ImageLayout:
    """Mixin of the image layers: ``data_format`` and the shape translations it implies."""

    data_format = "channels_first"
    data_format_given = False
    input_layout: str  # the Layer's own, e.g. "(N, C, H, W)"
    #: set by ``@accepts_channels_last``: the layer's code sees (N, C, H, W) whatever ``data_format``
    transposes_at_edges = False

    def set_data_format(self, data_format) -> None:
        """Check ``data_format`` and store it (``None``: ``image_data_format()``)."""
        self.data_format = check_data_format(data_format, type(self).__name__) or image_data_format()
        self.data_format_given = data_format is not None

    @property
    def channels_last(self) -> bool:
        """True for an image layer with ``data_format="channels_last"``."""
        return getattr(self, "data_format", None) == "channels_last"

    def kernel_layout(self, shape: tuple) -> tuple:
        """A per-sample shape as the layer's code sees it: (H, W, C) -> (C, H, W) when channels-last."""
        if self.transposes_at_edges and self.channels_last and len(shape) == 3:
            return (shape[2], shape[0], shape[1])
        return tuple(shape)

    def user_layout(self, shape: tuple) -> tuple:
        """The inverse of ``kernel_layout``: (C, H, W) -> (H, W, C) when channels-last."""
        if self.transposes_at_edges and self.channels_last and len(shape) == 3:
            return (shape[1], shape[2], shape[0])
        return tuple(shape)

    def _layout_text(self) -> str:
        if self.channels_last:
            return self.input_layout.replace("(N, C, H, W)", "(N, H, W, C)")
        return self.input_layout

    def _mismatch_hint(self, got: tuple) -> str:
        return _swapped_layout_hint(self, got)


def _swapped_layout_hint(layer, got: tuple) -> str:
    """A hint when a 4-D batch is the layer's built image shape with the channels moved."""
    built = layer.user_layout(layer.input_shape)
    if len(got) != 4 or len(built) != 3:
        return ""
    if tuple(got[1:]) == (built[1], built[2], built[0]) and not layer.channels_last:
        return (
            "; the images look channels-last (N, H, W, C): use data_format='channels_last' "
            "or x.transpose(0, 3, 1, 2)"
        )
    if tuple(got[1:]) == (built[2], built[0], built[1]) and layer.channels_last:
        return (
            "; the images look channels-first (N, C, H, W): use data_format='channels_first' "
            "or x.transpose(0, 2, 3, 1)"
        )
    return ""


def layout_hint(layer, kernel_shape) -> str:
    """For a shape error in an image layer: a hint when the image is so thin (one side at most
    4 pixels, the other more) that the channels are probably on the wrong axis."""
    if len(kernel_shape) != 3 or None in kernel_shape:
        return ""
    _, H, W = kernel_shape
    if not min(H, W) <= 4 < max(H, W):
        return ""
    if layer.channels_last:
        return (
            "; an image this thin usually means channels-first images (N, C, H, W) fed to a "
            "channels-last layer: use data_format='channels_first' or x.transpose(0, 2, 3, 1)"
        )
    return (
        "; an image this thin usually means channels-last images (N, H, W, C) fed to a "
        "channels-first layer: use data_format='channels_last' or x.transpose(0, 3, 1, 2)"
    )


def accepts_channels_last(cls):
    """Class decorator for an image layer written for (N, C, H, W).

    With ``data_format="channels_last"`` the decorated ``forward`` transposes a 4-D input
    (N, H, W, C) -> (N, C, H, W), runs the layer's own forward, and transposes a 4-D output
    back; ``backward`` does the same to the gradient, ``backward_params`` (when the layer
    has one) to its argument; ``build`` takes the per-sample shape in the layer's format,
    (H, W, C). Outputs with other ranks (GlobalAvgPool2D's (N, C)) pass unchanged. With
    ``"channels_first"`` the wrappers call straight through. A class that does not inherit
    ``ImageLayout`` gets its methods.
    """
    if not issubclass(cls, ImageLayout):
        for name, value in vars(ImageLayout).items():
            if not name.startswith("__") and name not in vars(cls):
                setattr(cls, name, value)
    forward, backward, build = cls.forward, cls.backward, cls.build
    backward_params = getattr(cls, "backward_params", None)

    def to_first(x):
        if x.ndim != 4:
            return x
        return backend.get_array_module(x).ascontiguousarray(x.transpose(0, 3, 1, 2))

    def to_last(y):
        if y.ndim != 4:
            return y
        return backend.get_array_module(y).ascontiguousarray(y.transpose(0, 2, 3, 1))

    @functools.wraps(forward)
    def forward_in_data_format(self, x, training=False):
        if not self.channels_last:
            return forward(self, x, training)
        if not hasattr(x, "ndim"):
            x = np.asarray(x, dtype=np.float32)
        return to_last(forward(self, to_first(x), training))

    @functools.wraps(backward)
    def backward_in_data_format(self, dy):
        if not self.channels_last:
            return backward(self, dy)
        return to_last(backward(self, to_first(dy)))

    if backward_params is not None:

        @functools.wraps(backward_params)
        def backward_params_in_data_format(self, dy):
            return backward_params(self, to_first(dy) if self.channels_last else dy)

        cls.backward_params = backward_params_in_data_format

    @functools.wraps(build)
    def build_in_data_format(self, input_shape, dtype=np.float32):
        return build(self, self.kernel_layout(tuple(input_shape)), dtype)

    cls.transposes_at_edges = True
    cls.forward, cls.backward, cls.build = (
        forward_in_data_format,
        backward_in_data_format,
        build_in_data_format,
    )
    return cls
