"""Transfer learning: reuse a trained network's early layers for a new task.

The early layers of an image classifier compute features (edges, strokes, loops) that
are useful beyond the classes it was trained on. With few labels for a new task:

1. **load** a pretrained model (``minidl.zoo.load("lenet-mnist-0to4")``);
2. **replace the head** -- the last layer(s), which answer the old question -- with new
   ones for the new classes (``replace_head``);
3. **feature extraction** -- ``freeze`` the body (``trainable = False``: the optimizer
   skips it, gradients still flow through it) and train only the new head;
4. **fine-tuning** -- ``unfreeze`` everything and train on with a *lower* learning rate,
   so the pretrained weights move only a little.

``extract_features`` runs the body once, so a head can also be trained on the stored
features directly (fastest when the body is frozen anyway).
"""

from __future__ import annotations

import numpy as np

from ..nn.layers.base import Layer
from ..training.model import Sequential

__all__ = ["freeze", "unfreeze", "trainable_layers", "split_head", "replace_head", "extract_features"]


def _as_layers(target) -> list:
    if isinstance(target, Sequential):
        return list(target.layers)
    if isinstance(target, Layer):
        return [target]
    layers = list(target)
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"expected a Sequential, a layer or a list of layers, got {type(layer).__name__}")
    return layers


def freeze(target) -> list:
    """Set ``trainable = False`` on a model's layers, one layer, or a list of layers.

    Frozen parameters are skipped by every optimizer, so ``fit`` leaves them bit-identical;
    ``backward`` still passes gradients *through* frozen layers to the ones before them.
    Returns the layers frozen. Example: ``freeze(model.layers[:-1])`` freezes all but the head.
    """
    layers = _as_layers(target)
    for layer in layers:
        layer.trainable = False
    return layers


def unfreeze(target) -> list:
    """Set ``trainable = True`` (the opposite of ``freeze``); returns the layers."""
    layers = _as_layers(target)
    for layer in layers:
        layer.trainable = True
    return layers


def trainable_layers(model) -> list:
    """The layers of ``model`` that have parameters and are trainable."""
    return [layer for layer in model.layers if layer.params and layer.trainable]


def split_head(model: Sequential) -> int:
    """Index where the default head starts: the last layer with parameters (activations after it included).

    For LeNet ``[..., Dense(84), ReLU, Dense(5)]`` this is the index of ``Dense(5)``.
    """
    with_params = [i for i, layer in enumerate(model.layers) if layer.params]
    if not with_params:
        raise ValueError("replace_head: the model has no layer with parameters, so no head to replace")
    return with_params[-1]


def replace_head(
    model: Sequential, new_layers, head_start: int | None = None, name: str | None = None
) -> Sequential:
    """A new ``Sequential``: ``model``'s body followed by ``new_layers``.

    Parameters
    ----------
    model : a built ``Sequential`` (e.g. from ``minidl.zoo.load``).
    new_layers : the new head, a layer or a list of layers (built or not).
    head_start : index of the first layer to drop; default ``split_head(model)``, the last
        layer with parameters.

    The body layers are *shared*, not copied: training the new model changes ``model``'s
    body too (load the pretrained model again to keep a pristine copy). The new model is
    not compiled.

    Raises ``ValueError`` naming both shapes when the new head cannot take the body's
    output: e.g. a head built for 120 features put on a body that gives 84.
    """
    if not model.built or model.input_shape is None:
        raise ValueError("replace_head needs a built model (give input_shape or run one batch first)")
    head = _as_layers(new_layers)
    if not head:
        raise ValueError("replace_head needs at least one new layer")
    start = split_head(model) if head_start is None else int(head_start)
    if not 0 <= start <= len(model.layers):
        raise ValueError(f"head_start must be in [0, {len(model.layers)}], got {head_start!r}")
    body = model.layers[:start]
    features = model.input_shape
    for layer in body:
        features = layer.compute_output_shape(features)
    _check_head_fits(head[0], tuple(features))
    return Sequential(body + head, input_shape=model.input_shape, name=name or model.name)


def _check_head_fits(first: Layer, features: tuple) -> None:
    """The body's output (N, *features) must be an input ``first`` accepts."""
    got = "(N, " + ", ".join(map(str, features)) + ")"
    if first.built:
        expected = first.built_input_shape
        if tuple(expected) != features:
            raise ValueError(
                f"replace_head: the body outputs {got} but the new head's first layer "
                f"{first.label} was built for inputs (N, {', '.join(map(str, expected))})"
            )
        return
    if first.input_ndims is not None and len(features) + 1 not in first.input_ndims:
        raise ValueError(
            f"replace_head: the body outputs {got} but the new head's first layer "
            f"{first.label} expects inputs {first.input_layout}"
        )


def extract_features(
    model: Sequential, x, head_start: int | None = None, batch_size: int = 256
) -> np.ndarray:
    """Run ``model``'s body (the layers before ``head_start``, default ``split_head``) in
    inference mode on ``x``; returns the features as a NumPy array (N, *feature_shape)."""
    start = split_head(model) if head_start is None else int(head_start)
    if start == 0:
        raise ValueError("extract_features: the body is empty (head_start=0)")
    body = Sequential(model.layers[:start], input_shape=model.input_shape)
    return body.predict(x, batch_size=batch_size)
