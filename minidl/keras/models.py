"""``keras.models``: ``Sequential``, ``Model`` (the functional API and subclassing,
``minidl.keras.functional``) and ``load_model``.

``keras.Sequential`` is minidl's ``Sequential`` with Keras's ways where they differ from
minidl's own door:

* ``fit(x, y, batch_size, epochs, ...)`` takes its positional arguments in Keras's order
  (minidl's ``fit`` reads ``fit(x, y, epochs, batch_size)``);
* ``compile`` reads names with Keras's defaults (``optimizer="rmsprop"``, ``"adam"`` with
  epsilon 1e-7) and calls a metric function as Keras does, ``fn(y_true, y_pred)``, logged under
  the name given;
* ``count_params()`` is one int; ``metrics_names`` and ``get_layer`` are there;
* a model among the layers (a pretrained base) stays **one** layer, as in Keras:
  ``keras.Sequential([base, layers.Dense(10)])`` is built as a small ``keras.Model`` whose
  ``layers`` are ``[base, dense]``, so ``model.layers[0].trainable = False`` freezes the base.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..training import model as _model
from ..training.trainer import Trainer
from .functional import Input, Model, _metric
from .masking import attach_to_loss_and_metrics, call_layer, makes_mask
from .weights import KerasWeights

__all__ = ["Sequential", "Model", "load_model"]


def _is_model(layer) -> bool:
    return isinstance(layer, (Trainer, Model))


class Sequential(KerasWeights, _model.Sequential):
    """Keras's ``Sequential`` (see the module's docstring for what differs from minidl's)."""

    def __new__(cls, layers=None, *args, **kwargs):
        if layers is not None and any(_is_model(layer) for layer in layers):
            return ModelStack(layers, name=kwargs.get("name"))
        return super().__new__(cls)

    def add(self, layer) -> None:
        if _is_model(layer):
            raise NotImplementedError(
                "keras.Sequential.add(model): a model inside a Sequential built one add at a time is "
                "not in minidl.keras; pass it in the list, keras.Sequential([base, layers.Dense(10)]), "
                "or write x = base(inputs) with the functional API"
            )
        super().add(layer)

    def forward(self, x, training: bool = False):
        """minidl's ``Sequential.forward``, with Keras's masks passed from layer to layer
        (``minidl.keras.masking``) once a layer makes one (``Embedding(mask_zero=True)``)."""
        if not any(makes_mask(layer) for layer in self.layers):
            return super().forward(x, training)
        if self.input_shape is None:
            if not hasattr(x, "shape"):
                x = np.asarray(x)
            self.input_shape = tuple(x.shape[1:])
            if not self._device_chosen:  # the layers are built where this batch is
                self.device = backend.device_of(x)
        mask = None
        for layer in self.layers:
            frozen_inference = not layer.trainable and layer.inference_when_frozen
            x, mask = call_layer(layer, x, mask, training and not frozen_inference)
        self.output_mask = mask
        return x

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **unsupported) -> None:
        """Keras's ``compile``: Keras's names and defaults, metric functions called ``fn(y_true, y_pred)``."""
        from . import losses, optimizers

        if unsupported:
            raise NotImplementedError(
                f"compile({', '.join(sorted(unsupported))}=...) is not in minidl.keras's Sequential: "
                "it takes optimizer, loss and metrics"
            )
        super().compile(
            optimizer=optimizers.get(optimizer), loss=losses.get(loss) if loss is not None else None
        )
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        self.metrics = [_metric(m, self.loss, None, "") for m in (metrics or [])]
        attach_to_loss_and_metrics(self)

    # Keras 3's positional order (x, y, batch_size, epochs), not minidl's (x, y, epochs, batch_size)
    def fit(  # type: ignore[override]
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        **minidl_options,
    ):
        """Keras's ``fit``, its positional arguments in Keras's order (x, y, batch_size, epochs, ...)."""
        return super().fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            class_weight=class_weight,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            **minidl_options,
        )

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """Keras's ``evaluate``, its arguments in Keras's order."""
        return super().evaluate(
            x,
            y,
            batch_size,
            0 if verbose == "auto" else verbose,
            sample_weight,
            steps,
            return_dict=return_dict,
            callbacks=callbacks,
        )

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        if steps is not None:
            x = x[: steps * (batch_size or 32)]
        return super().predict(x, batch_size, verbose, callbacks=callbacks)

    def count_params(self) -> int:  # type: ignore[override]  # Keras 3 returns one int, minidl a pair
        """The number of scalars in the weights, trainable or not (Keras returns one int)."""
        return sum(_model.Sequential.count_params(self))

    def _weight_layers(self) -> list:
        return list(self.layers)

    def get_weights(self) -> list:
        """Every weight as Keras lays it out (a Conv2D kernel (KH, KW, C, F), ``minidl.keras.weights``),
        in Keras's order (``own_slots``: a layer's own weights, then its sub-layers')."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Assign weights laid out as Keras's ``get_weights`` returns them."""
        slots = self.weights
        if len(weights) != len(slots):
            raise ValueError(f"set_weights expected {len(slots)} arrays, got {len(weights)}")
        for slot, w in zip(slots, weights):
            slot.set(w, self.device)

    @property
    def metrics_names(self) -> list:
        return ["loss"] + [name for name, _ in self.metrics]

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; the layers are {[layer.name for layer in self.layers]}")


class ModelStack(Model):
    """``keras.Sequential([base, ...])`` with a model among the layers: a ``keras.Model`` whose
    ``call`` applies the entries in turn, each model one layer (as Keras keeps it)."""

    def __init__(self, layers, name=None):
        super().__init__(name=name)
        self.stack: list = []
        for layer in layers:
            self.add(layer)

    @property
    def layers(self) -> list:
        return list(self.stack)

    def add(self, layer) -> None:
        if hasattr(layer, "record_call") and getattr(layer, "node", True) is None:  # keras.Input
            return
        self.stack.append(layer)
        self._traces.clear()  # the next batch records the longer stack

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.stack:
            x = layer(x)
        return x


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Read a model file: a functional or subclassed ``keras.Model`` (its classes from
    ``custom_objects``), or a ``keras.Sequential`` (minidl's ``Sequential`` format)."""
    from . import model_file

    arrays = model_file.read(filepath)
    if model_file.KEY in arrays:
        return model_file.load(filepath, arrays, Input, Model, custom_objects, compile)
    model = _model.load_model(filepath, compile=compile)
    model.__class__ = Sequential
    return model
