"""Residual: a block of layers with a skip connection around it (He et al., 2016).

    forward     y = act(F(x) + S(x))        F: the block, S: the shortcut (the identity by default)
    backward    dz = act'(dy)               z = F(x) + S(x)
                dx = F^T(dz) + S^T(dz)      (the identity shortcut sends dz back unchanged)

The sum is the whole idea. Its backward copies ``dz`` to both branches, so whatever the
block's layers do to the gradient, ``dz`` itself reaches the layers below through the
shortcut: a stack of residual blocks has a path from the loss to the input on which no
weight multiplies the gradient. When the block changes the shape (more channels, a
stride), the identity no longer fits and the shortcut becomes a 1x1 convolution with the
same stride (a *projection*), whose backward is a convolution's.

A framework with a graph API writes this as a sum of two branches; minidl's models are
``Sequential``, so the graph lives inside one layer:

    Residual([Conv2D(16, 3, padding="same"), BatchNorm(), ReLU(),
              Conv2D(16, 3, padding="same"), BatchNorm()], activation="relu")

The inner layers are its ``sublayers()`` (the mechanism of ``base.py`` for layers that hold
layers): their parameters appear in ``params`` / ``grads`` / ``buffers`` under
``"block.<i>.<name>"`` and ``"shortcut.<i>.<name>"`` (PyTorch's ``state_dict`` style), views
onto the inner layers' own arrays, so an optimizer, ``save`` and ``load_model`` see and update
them with no copy. ``trainable = False`` on the Residual freezes all of them and runs the
whole block in inference mode inside a model (BatchNorm on its running statistics, as a
frozen BatchNorm runs; Dropout off too); on an inner layer, that layer alone.
"""

from __future__ import annotations

import numpy as np

from . import activations
from .base import Layer
from .registry import LAYER_CLASSES


def _as_layers(layers, what: str) -> list:
    """A list of layers from a layer, a list of layers, or saved ``{"class", "config"}`` specs."""
    if layers is None:
        return []
    if isinstance(layers, (Layer, dict)):
        layers = [layers]
    out: list[Layer] = []
    for layer in layers:
        if isinstance(layer, dict):  # a saved layer (load_model)
            cls = LAYER_CLASSES.get(str(layer.get("class")))
            if cls is None:
                raise ValueError(f"Residual {what}: unknown layer type {layer.get('class')!r}")
            spec, layer = layer, cls(**layer.get("config", {}))
            layer.trainable = spec.get("trainable", True)
        if not isinstance(layer, Layer):
            raise TypeError(f"Residual {what} takes minidl layers, got {type(layer).__name__}")
        if any(layer is seen for seen in out):
            raise ValueError(f"Residual {what}: {layer.label} appears twice; create a new layer instead")
        out.append(layer)
    return out


class Residual(Layer):
    """``y = activation(block(x) + shortcut(x))``: a skip connection around ``block``.

    Parameters
    ----------
    block : list of Layer (or one Layer)
        The residual branch F, applied in order.
    shortcut : list of Layer, one Layer, or None
        The skip branch S; None is the identity, which needs F to keep the shape. When F
        changes it, use a projection such as ``[Conv2D(F_out, 1, stride=s, use_bias=False),
        BatchNorm()]``.
    activation : str or None
        Applied after the sum (``"relu"`` in the original ResNet).

    Shapes: x (N, ...) -> y with the block's output shape, which must equal the shortcut's
    (checked when the layer is built, with both shapes in the message).
    """

    inference_when_frozen = True

    def __init__(self, block, shortcut=None, activation=None, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.block = _as_layers(block, "block")
        if not self.block:
            raise ValueError("Residual needs a block of at least one layer, got none")
        self.shortcut = _as_layers(shortcut, "shortcut")
        if any(a is b for a in self.block for b in self.shortcut):
            raise ValueError("Residual: a layer cannot be both in the block and in the shortcut")
        self.activation = activation
        self.activation_layer = activations.get(activation)

    @property
    def layers(self) -> list:
        """The inner layers: the block's, then the shortcut's."""
        return self.block + self.shortcut

    def sublayers(self) -> dict:
        """``{"block.<i>": layer, ..., "shortcut.<i>": layer, ...}``."""
        return {
            f"{branch}.{i}": layer
            for branch in ("block", "shortcut")
            for i, layer in enumerate(getattr(self, branch))
        }

    # ------------------------------------------------------------------ building
    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        out_block = self._build_branch(self.block, input_shape, dtype)
        out_skip = self._build_branch(self.shortcut, input_shape, dtype)
        self._check_shapes(tuple(input_shape), out_block, out_skip)

    def _build_branch(self, layers, shape, dtype):
        shape = tuple(shape)
        for layer in layers:
            if layer.device is None:
                layer.device = self.device
            if not layer.built:
                layer.build(shape, dtype=dtype)
            shape = layer.output_shape_for(shape)
        return shape

    def _check_shapes(self, input_shape, out_block, out_skip):
        if tuple(out_block) != tuple(out_skip):
            skip = "the identity shortcut keeps it" if not self.shortcut else "the shortcut maps it to"
            raise ValueError(
                f"{self.label}: the block maps the per-sample shape {input_shape} to {tuple(out_block)} "
                f"but {skip} {tuple(out_skip)}; the two are added, so they must match. When the "
                f"block changes the shape, give a projection shortcut, e.g. "
                f"shortcut=[Conv2D({out_block[0]}, 1, stride=...)] for images"
            )

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.block:
            shape = layer.output_shape_for(shape)
        return shape

    # ------------------------------------------------------------------ computing
    def _inner_training(self, layer, training):
        frozen = not layer.trainable and layer.inference_when_frozen
        return training and not frozen

    def forward(self, x, training=False):
        x = self.check_input(x)
        h = x
        for layer in self.block:
            h = layer.forward(h, training=self._inner_training(layer, training))
        s = x
        for layer in self.shortcut:
            s = layer.forward(s, training=self._inner_training(layer, training))
        if h.shape != s.shape:
            self._check_shapes(tuple(x.shape[1:]), h.shape[1:], s.shape[1:])
        z = h + s
        self.cache = True  # the inner layers keep their own caches
        return z if self.activation_layer is None else self.activation_layer.forward(z, training)

    def backward(self, dy):
        self.require_cache()
        dz = dy if self.activation_layer is None else self.activation_layer.backward(dy)
        d_block = dz
        for layer in reversed(self.block):
            d_block = layer.backward(d_block)
        d_skip = dz  # the identity's gradient: dz itself
        for layer in reversed(self.shortcut):
            d_skip = layer.backward(d_skip)
        return d_block + d_skip

    # ------------------------------------------------------------------ bookkeeping
    def get_config(self) -> dict:
        def specs(layers):
            return [
                {"class": type(layer).__name__, "config": layer.get_config(), "trainable": layer.trainable}
                for layer in layers
            ]

        return {
            "block": specs(self.block),
            "shortcut": specs(self.shortcut) or None,
            "activation": self.activation,
            "name": self.name,
        }

    def __repr__(self) -> str:
        inner = ", ".join(map(repr, self.block))
        skip = f"[{', '.join(map(repr, self.shortcut))}]" if self.shortcut else "identity"
        return f"Residual([{inner}], shortcut={skip}, activation={self.activation!r})"
