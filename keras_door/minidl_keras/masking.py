"""Keras's masks: which steps of a padded sequence are real, passed from layer to layer.

``Embedding(mask_zero=True)`` (id 0 is padding) and ``Masking(mask_value)`` make a mask, a
boolean array (N, T); layers after them receive it, as in Keras 3, by these rules:

* **use it**: ``SimpleRNN``/``LSTM``/``GRU`` skip masked steps (the states are carried, the
  output repeats the previous one: ``minidl.nn.layers.recurrent``); ``Bidirectional`` gives
  both directions the mask (the backward one reversed with its input, so it reads the real
  steps last to first); ``GlobalAveragePooling1D`` averages over the real steps. A recurrent
  layer with ``return_sequences=True`` passes the mask on; the others end it.
* **pass it on** unchanged: ``Dense``, ``Dropout``, ``Activation``, ``ReLU``, ``LeakyReLU``,
  ``ELU``, ``LayerNormalization``, ``Rescaling``, ``TimeDistributed`` of one of those.
* **end it with a warning** (Keras's "this layer does not support masking"): ``Flatten``,
  ``Reshape``, ``Conv1D``, 1-D pooling, ``GlobalMaxPooling1D`` (the maximum is over every
  step, padding included, as in Keras), and a custom layer whose ``call`` takes no ``mask``
  (unless it sets ``self.supports_masking = True``: then it passes the mask on);
  ``keras.ops`` functions end it silently (Keras's ops carry no masks).
* a recurrent layer called with ``initial_state=`` gets no implicit mask, as in Keras 3 (a
  call with several tensor arguments is given none; a warning says so): pass ``mask=``;
* any other layer given a mask (``BatchNormalization``, ``Softmax``, merge layers, a nested
  model, a custom layer with ``call(..., mask=None)``) raises ``NotImplementedError``: there
  Keras would compute something minidl does not.

``call_layer`` is the one place these rules live: ``keras.Sequential.forward`` and the
functional tape (``minidl_keras.graph``) both call a layer through it. A mask gets no
gradient; each layer's ``backward`` knows from its cache which steps were masked.
"""

from __future__ import annotations

import functools
import inspect
import warnings

from minidl import backend
from minidl.nn import layers as _L
from minidl.nn.layers.base import Layer

from . import conv1d
from .elementwise import Activation, Rescaling
from .losses import masked_mean
from .metrics import Feeding
from .pooling import GlobalAvgPool1D
from .recurrent import KerasRecurrent
from .weights import KerasLayerAPI

__all__ = ["Masking", "call_layer", "makes_mask"]


class Masking(KerasLayerAPI, Layer):
    """``Masking(mask_value=0.0)``: a step whose features all equal ``mask_value`` is padding.

    keep[n, t] = any_d x[n, t, d] != mask_value       y = x * keep[..., None]
    dx = dy * keep[..., None]                          the mask passed on: keep
    """

    input_ndims = (3,)
    input_layout = "(N, T, features)"

    def __init__(self, mask_value: float = 0.0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.mask_value = float(mask_value)

    def compute_mask(self, x):
        return backend.get_array_module(x).any(x != self.mask_value, axis=-1)

    def forward(self, x, training=False):
        x = self.check_input(x)
        keep = self.compute_mask(x)[..., None].astype(x.dtype)
        self.cache = keep
        return x * keep

    def backward(self, dy):
        return dy * self.require_cache()


# ---------------------------------------------------------------------- the rules
_PASS = (
    _L.Dense,
    _L.Dropout,
    Activation,
    _L.ReLU,
    _L.LeakyReLU,
    _L.ELU,
    _L.LayerNorm,
    Rescaling,
)
_DROP = (_L.Flatten, _L.Reshape, conv1d.Conv1D, conv1d.MaxPool1D, conv1d.AvgPool1D)


def makes_mask(layer) -> bool:
    """Whether ``layer`` starts a mask (``Embedding(mask_zero=True)``, ``Masking``)."""
    return isinstance(layer, Masking) or bool(getattr(layer, "mask_zero", False))


def _wrappers():
    from .wrappers import Bidirectional, TimeDistributed

    return Bidirectional, TimeDistributed


def _drops(layer) -> bool:
    from .pooling import _GlobalMax

    call = getattr(layer, "call", None)
    if isinstance(layer, Layer) and callable(call):  # a Keras custom layer
        return "mask" not in inspect.signature(call).parameters
    return isinstance(layer, _DROP + (_GlobalMax,))


def _is_op(layer) -> bool:
    return type(layer).__name__ == "Operation" and type(layer).__module__.endswith("keras.ops")


def _warn_dropped(layer) -> None:
    warnings.warn(
        f"Layer '{layer.label}' (of type {type(layer).__name__}) was passed an input with a mask "
        "attached to it. However, this layer does not support masking and will therefore destroy "
        "the mask information. Downstream layers will not see the mask.",
        UserWarning,
        stacklevel=4,
    )


def _warn_state_and_mask(layer) -> None:
    warnings.warn(
        f"{layer.label} was called with initial_state= on an input that carries a mask: as in "
        "Keras 3 (a layer call with several tensor arguments is given no implicit mask), it does "
        "not use that mask, though its output passes the mask on. Pass mask= explicitly to use it.",
        UserWarning,
        stacklevel=4,
    )


def _unsupported(layer, what: str) -> NotImplementedError:
    return NotImplementedError(
        f"{getattr(layer, 'label', type(layer).__name__)} ({type(layer).__name__}) {what}: Keras "
        "would use the mask there and minidl_keras does not. The layers that read a mask are "
        "SimpleRNN, LSTM, GRU, Bidirectional and GlobalAveragePooling1D; Dense, Dropout, "
        "Activation, LayerNormalization and TimeDistributed(Dense) pass it on"
    )


def call_layer(layer, x, mask=None, training: bool = False, explicit=None):
    """``layer.forward(x, training)`` under the mask rules; returns ``(y, mask of y)``.

    ``mask``: the mask that arrived with ``x`` (None: none), or for a layer taking a list, one
    per input. ``explicit``: the keyword arguments of the call (``mask=``, ``initial_state=``),
    which win over the mask that arrived.
    """
    explicit = dict(explicit or {})
    mask_given = "mask" in explicit
    if mask_given:
        mask = explicit.pop("mask")
    if _is_op(layer) and not explicit:  # keras.ops carry no masks
        return layer.forward(x, training=training), None
    if isinstance(mask, (list, tuple)):  # a layer of several inputs (a merge): no mask may arrive
        if any(m is not None for m in mask):
            raise _unsupported(layer, "got inputs with masks")
        mask = None
    Bidirectional, TimeDistributed = _wrappers()
    if explicit and not isinstance(layer, (KerasRecurrent, Bidirectional)):
        raise NotImplementedError(
            f"{layer.label} called with {', '.join(sorted(explicit))}=: minidl_keras takes "
            "initial_state= on SimpleRNN, LSTM and GRU (and Bidirectional)"
        )
    if makes_mask(layer):
        return layer.forward(x, training=training), layer.compute_mask(x)
    if isinstance(layer, (KerasRecurrent, Bidirectional)):
        used = mask
        if mask is not None and not mask_given and explicit.get("initial_state") is not None:
            used = None  # Keras 3: a call with several tensor arguments gets no implicit mask
            _warn_state_and_mask(layer)
        y = layer.forward(x, training=training, mask=used, **explicit)
        out = mask if layer.return_sequences else None
        return y, ([out] + [None] * (len(y) - 1) if layer.return_state else out)  # states: no mask
    if mask is None:
        return layer.forward(x, training=training), None
    if isinstance(layer, GlobalAvgPool1D):
        return layer.forward(x, training=training, mask=_on_device(mask, x)), None
    if isinstance(layer, _PASS) or (isinstance(layer, TimeDistributed) and isinstance(layer.layer, _PASS)):
        return layer.forward(x, training=training), mask
    if getattr(layer, "supports_masking", False) and _drops(layer):  # a custom layer that says so
        return layer.forward(x, training=training), mask
    if _drops(layer):
        _warn_dropped(layer)
        return layer.forward(x, training=training), None
    raise _unsupported(layer, "got an input with a mask")


def _on_device(mask, x):
    return (
        mask
        if backend.device_of(mask) == backend.device_of(x)
        else backend.to_device(mask, backend.device_of(x))
    )


# ---------------------------------------------------------------------- the loss and the metrics
def attach_to_loss_and_metrics(model) -> None:
    """After ``compile``: as in Keras, a model output that carries a mask (a sequence with
    padding) has its loss averaged over the real steps (``losses.masked_mean``) and
    its metrics computed on the real steps only. ``model.output_mask`` is the last forward's."""
    losses = getattr(model.loss, "losses", None)
    if losses is None:  # one output
        if model.loss is not None:
            mask_from = lambda: getattr(model, "output_mask", None)  # noqa: E731
            model.loss.set_reduction(functools.partial(masked_mean, mask_from))
        if _may_mask(model):
            model.metrics = [(name, _MaskedMetric(fn, model)) for name, fn in model.metrics]
        return
    for i, loss in enumerate(losses):
        if loss is not None:
            loss.set_reduction(functools.partial(masked_mean, functools.partial(_output_mask, model, i)))
    model.metrics = [  # "<output>_loss" reads the (masked) loss itself
        (name, fn if getattr(fn, "func", None) == model.loss.recorded else _UnmaskedOnly(fn, model, name))
        for name, fn in model.metrics
    ]


def _may_mask(model) -> bool:
    """Whether a layer of the model can make a mask (a subclassed model: not known before its call)."""
    if not hasattr(model, "graph"):  # a Sequential
        layers = model.layers
    elif model.graph is None:
        return True
    else:
        layers = model.graph.layers()
    return any(makes_mask(leaf) for layer in layers for leaf in _within(layer))


def _within(layer):
    if hasattr(layer, "leaf_layers"):
        return layer.leaf_layers()
    return getattr(layer, "layers", [layer])


def _output_mask(model, i):
    masks = getattr(model, "output_mask", None)
    return masks[i] if isinstance(masks, list) else None


class _MaskedMetric(Feeding):
    """A metric fed only the real steps of a masked sequence output (``model.output_mask``):
    accumulated over the epoch like the metric it wraps, so a batch counts by its real steps."""

    def __init__(self, metric, model):
        super().__init__(metric)
        self.model = model

    def update(self, y_pred, y_true) -> None:
        mask = getattr(self.model, "output_mask", None)
        if mask is not None:
            xp = backend.get_array_module(y_pred)
            keep = xp.asarray(mask).astype(bool)
            y_pred, y_true = y_pred[keep], xp.asarray(y_true)[keep]
        self.inner.update(y_pred, y_true)


class _UnmaskedOnly(Feeding):
    """A metric of a model with several outputs, refused once one of them carries a mask."""

    def __init__(self, metric, model, name):
        super().__init__(metric)
        self.model, self.label = model, name

    def update(self, y_pred, y_true) -> None:
        masks = getattr(self.model, "output_mask", None)
        if isinstance(masks, list) and any(m is not None for m in masks):
            raise NotImplementedError(
                f"metric {self.label!r} of a model with several outputs, one of them masked, is not in "
                "minidl_keras (the loss is masked as in Keras); compile without metrics"
            )
        self.inner.update(y_pred, y_true)
