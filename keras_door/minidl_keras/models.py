"""``keras.models``: ``Sequential``, ``Model`` (the functional API and subclassing,
``minidl_keras.functional``) and ``load_model``.

``keras.Sequential`` is ``KerasSequential``: a subclass of minidl's ``Sequential``
(``minidl.training.model``), exported here under Keras's name, so that there is one class named
``Sequential`` and a Keras model's MRO reads ``KerasSequential, KerasFit, KerasWeights,
Sequential, Trainer``. What it changes, where Keras's ways differ from minidl's own door:

* ``fit(x, y, batch_size, epochs, ...)`` takes its positional arguments in Keras's order
  (minidl's ``fit`` takes them by name only);
* ``compile`` reads names with Keras's defaults (``optimizer="rmsprop"``, ``"adam"`` with
  epsilon 1e-7) and calls a metric function as Keras does, ``fn(y_true, y_pred)``, logged under
  the name given;
* ``count_params()`` is one int; ``metrics_names`` and ``get_layer`` are there;
* its ``repr`` is Keras's (``<Sequential name=sequential, built=True>``);
* a model among the layers (a pretrained base) stays **one** layer, as in Keras:
  ``keras.Sequential([base, layers.Dense(10)])`` is built as a small ``keras.Model`` whose
  ``layers`` are ``[base, dense]``, so ``model.layers[0].trainable = False`` freezes the base.
"""

from __future__ import annotations

import contextlib
import re
import types

import numpy as np

from minidl import backend
from minidl.nn.layers.base import Layer
from minidl.training import model as _model
from minidl.training.data import yields_batches
from minidl.training.trainer import Trainer

from .custom import compiled_loss
from .fitting import KerasFit
from .functional import Input, InputLayer, Model, _metric, _unique_names, readable_size
from .graph import KerasTensor, record
from .keras_api import KerasAbsent
from .masking import attach_to_loss_and_metrics, call_layer, makes_mask
from .missing import KerasFeatureMissing
from .naming import name_layer, unique_name
from .weights import KerasWeights

__all__ = ["Sequential", "KerasSequential", "Model", "load_model", "model_from_json", "clone_model"]

#: compile's options that change nothing here, accepted and ignored (Keras compiles for speed)
IGNORED_COMPILE_OPTIONS = ("jit_compile", "run_eagerly", "auto_scale_loss")


def _is_model(layer) -> bool:
    return isinstance(layer, (Trainer, Model))


def _declared_input_shape(entry) -> tuple | None:
    """The per-sample shape a ``keras.Input(shape)`` or a ``layers.InputLayer(shape)`` among a
    Sequential's layers declares (it is not kept in ``layers``, as in Keras); None for a layer."""
    if isinstance(entry, InputLayer):
        return entry.shape
    if isinstance(entry, KerasTensor) and hasattr(entry, "input_layer"):
        return tuple(entry.shape[1:])
    return None


class KerasSequential(KerasFit, KerasWeights, KerasAbsent, _model.Sequential):  # fit in Keras's order
    """Keras's ``Sequential``, exported as ``keras.Sequential`` (see the module's docstring for
    what differs from minidl's)."""

    keras_kind = "Sequential"  # its row of keras_api.ABSENT

    display_name = "Sequential"  # the class name Keras shows (repr, a summary's rows)

    def __new__(cls, layers=None, *args, **kwargs):
        if layers is not None and any(_is_model(layer) for layer in layers):
            return ModelStack(layers, name=kwargs.get("name"))
        return super().__new__(cls)

    def __init__(self, layers=None, *args, **kwargs):
        with self._per_sample_shapes():  # minidl's own build calls pass the shape of one sample
            super().__init__(layers, *args, **kwargs)

    @contextlib.contextmanager
    def _per_sample_shapes(self):
        outer = self.__dict__.get("_minidl_build", False)
        self.__dict__["_minidl_build"] = True
        try:
            yield
        finally:
            self.__dict__["_minidl_build"] = outer

    @property  # minidl's is an attribute, the shape of one sample
    def input_shape(self) -> tuple | None:
        """Keras's ``model.input_shape``: ``(None, *shape of one sample)``, the batch axis
        ``None``; ``None`` until the model knows it. (minidl's ``Sequential.input_shape`` is the
        shape of one sample, which its training reads: here ``sample_shape()``.)"""
        shape = self.__dict__.get("_per_sample_input_shape")
        return None if shape is None else (None, *shape)

    @input_shape.setter
    def input_shape(self, shape) -> None:
        """minidl's ``Sequential`` sets the shape of one sample (``build``, the first batch)."""
        self.__dict__["_per_sample_input_shape"] = None if shape is None else tuple(shape)
        if shape is not None and "_input_name" not in self.__dict__:  # built by its first batch:
            self.__dict__["_input_name"] = unique_name("input_layer")  # Keras's InputLayer counts then

    def sample_shape(self) -> tuple | None:
        return self.__dict__.get("_per_sample_input_shape")

    def declare_input_shape(self, shape, source: str) -> None:
        with self._per_sample_shapes():
            super().declare_input_shape(shape, source)
        self._set_symbolic_calls()

    def build(self, input_shape=None) -> None:
        """Keras's ``build(input_shape)``: the shape of a batch, its first axis the batch
        (``model.build((None, 4))``: samples of 4 features). (minidl's ``Sequential.build``
        takes the shape of one sample; the door calls it with ``input_shape[1:]``.)"""
        if self.__dict__.get("_minidl_build"):
            super().build(input_shape)
            return
        if input_shape is None or len(tuple(input_shape)) < 2:
            raise ValueError(
                "Sequential.build takes Keras's input_shape, the batch axis first: "
                f"model.build((None, 4)) for samples of 4 features; got {input_shape!r}"
            )
        with self._per_sample_shapes():
            super().build(tuple(input_shape)[1:])
        self._set_symbolic_calls()

    def _set_symbolic_calls(self) -> None:
        """Each layer's ``input`` and ``output`` tensors (Keras's ``layer.output``) once the
        input shape is known, from the per-sample shapes the layers give."""
        shape = self.sample_shape()
        if shape is None:
            return
        if "_input_name" not in self.__dict__:
            self.__dict__["_input_name"] = unique_name("input_layer")
        dtype = self.__dict__.get("_input_dtype")
        x = Input(
            shape, dtype=dtype, name=self.__dict__["_input_name"]
        )  # a graph's input: keras.Model(seq.inputs, ...)
        recorded = True
        for layer in self.layers:
            y = None
            if recorded:  # a node of the tape, as Keras's Sequential calls its layers on its input
                try:
                    y = record(layer, x)
                except Exception:  # a layer the tape cannot record here: shapes only from here on
                    recorded = False
            if y is None or isinstance(y, list):
                try:
                    out = layer.output_shape_for(tuple(x.shape[1:]))
                except Exception:  # a layer without a shape rule: no tensors from here on
                    return
                y, recorded = KerasTensor((None, *out), name=getattr(layer, "name", None)), False
            layer.__dict__["_keras_input"], layer.__dict__["_keras_output"] = x, y
            x = y

    @property
    def output_shape(self) -> tuple:
        """Keras's ``model.output_shape``: ``(None, *per-sample output shape)``."""
        if self.input_shape is None:
            raise AttributeError(
                f"{self.name or 'sequential'} has no output_shape yet: it is known once the model "
                "knows its input shape (keras.Input(shape) first, model.build((None, ...)), or a batch)"
            )
        return (None, *self.output_shape_per_sample())

    @property
    def inputs(self) -> list:
        """Keras's ``model.inputs``: the symbolic input, once the input shape is known."""
        if self.input_shape is None or not self.layers:
            raise AttributeError(f"{self.name or 'sequential'} has no inputs yet (no input shape)")
        return [self.layers[0].input]  # type: ignore[attr-defined]  # every door layer has it (KerasLayerAPI)

    @property
    def outputs(self) -> list:
        if self.input_shape is None or not self.layers:
            raise AttributeError(f"{self.name or 'sequential'} has no outputs yet (no input shape)")
        return [self.layers[-1].output]  # type: ignore[attr-defined]

    @property
    def input(self):
        """Keras's ``model.input``: the symbolic input, once the input shape is known."""
        return self.inputs[0]

    @property
    def output(self):
        """Keras's ``model.output``: the last layer's output tensor."""
        return self.outputs[0]

    def get_config(self) -> dict:
        """Keras's ``Sequential.get_config()`` (``keras_config``): name, trainable, each layer as
        ``{"module", "class_name", "config", ...}`` (an ``InputLayer`` first), ``build_input_shape``."""
        from . import keras_config

        return keras_config.sequential_config(self)

    def minidl_config(self) -> dict:
        """minidl's ``Sequential.get_config()``, what the model file keeps (``save``, ``load_model``)."""
        return _model.Sequential.get_config(self)

    def save(self, path, include_optimizer: bool = True) -> None:
        """minidl's ``Sequential.save`` (its file keeps ``minidl_config()``)."""
        from minidl.training import saving

        if not self.built:
            raise ValueError("save needs a built model (give input_shape or run one batch first)")
        saving.write_model(
            path,
            self.minidl_config(),
            saving.layer_arrays(self.layers),
            model=self,
            layers=self.layers,
            include_optimizer=include_optimizer,
        )

    def to_json(self, **dumps_options) -> str:
        """Keras's ``to_json``: the architecture (no weights) as a JSON string, Keras's structure
        (``get_config``) with minidl_keras's own description beside it (``model_file.to_json``),
        which ``keras.models.model_from_json`` reads back."""
        from . import model_file

        return model_file.to_json(self, **dumps_options)

    def pop(self, rebuild: bool = True):
        """Remove and return the last layer (Keras's ``pop``)."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self.layers.pop()
        self._set_symbolic_calls()
        return layer

    def add(self, layer) -> None:
        if _is_model(layer):
            raise NotImplementedError(
                "keras.Sequential.add(model): a model inside a Sequential built one add at a time is "
                "not in minidl_keras; pass it in the list, keras.Sequential([base, layers.Dense(10)]), "
                "or write x = base(inputs) with the functional API"
            )
        shape = _declared_input_shape(layer)
        if shape is None:
            with self._per_sample_shapes():
                super().add(name_layer(layer))  # Keras's name ("dense", "dense_1", ...) if it has none
            self._set_symbolic_calls()
        elif self.layers:
            raise ValueError(
                f"Input(shape={shape}) must come first: this model already has "
                f"{len(self.layers)} layer(s); pass the shape to the first layer"
            )
        else:
            if isinstance(layer, KerasTensor):  # Keras keeps the Input's name and dtype
                self.__dict__["_input_name"], self.__dict__["_input_dtype"] = layer.name, layer.dtype
            self.declare_input_shape(shape, f"Input(shape={shape})")

    def __repr__(self) -> str:
        return f"<{self.display_name} name={self.name or 'sequential'}, built={self.built}>"

    def summary(self, print_fn=print) -> None:
        """minidl's table (a row per layer: name, type, output shape, parameters) with each
        total followed by its size in bytes, as Keras prints it (``Total params: 44 (176.00 B)``)."""
        tables: list[str] = []
        super().summary(print_fn=tables.append)
        size = np.dtype(self.dtype or "float32").itemsize

        def with_bytes(match) -> str:
            count = int(match.group(2).replace(",", ""))
            return f"{match.group(1)}: {match.group(2)} ({readable_size(count * size)})"

        for table in tables:
            print_fn(
                re.sub(
                    r"^((?:Total|Trainable|Non-trainable) params): ([\d,]+)$", with_bytes, table, flags=re.M
                )
            )

    def forward(self, x, training: bool = False):
        """minidl's ``Sequential.forward``, with Keras's masks passed from layer to layer
        (``minidl_keras.masking``) once a layer makes one (``Embedding(mask_zero=True)``)."""
        if not any(makes_mask(layer) for layer in self.layers):
            return super().forward(x, training)
        if self.input_shape is None:
            if not hasattr(x, "shape"):
                x = np.asarray(x)
            self.input_shape = tuple(x.shape[1:])  # the shape of one sample (the setter's)
            if not self.device_chosen:  # the layers are built where this batch is
                self.device = backend.device_of(x)
        mask = None
        for layer in self.layers:
            frozen_inference = not layer.trainable and layer.inference_when_frozen
            x, mask = call_layer(layer, x, mask, training and not frozen_inference)
        self.output_mask = mask
        return x

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **unsupported) -> None:
        """Keras's ``compile``: Keras's names and defaults, metric functions called ``fn(y_true, y_pred)``."""
        from . import optimizers

        for key in IGNORED_COMPILE_OPTIONS:
            unsupported.pop(key, None)
        steps = unsupported.pop("steps_per_execution", 1)
        if steps != 1:
            raise KerasFeatureMissing(
                f"compile(steps_per_execution={steps!r}) is not in minidl_keras: it runs one batch per "
                "step; leave steps_per_execution at 1 (Keras's default)"
            )
        if unsupported:
            raise NotImplementedError(
                f"compile({', '.join(sorted(unsupported))}=...) is not in minidl_keras's Sequential: "
                "it takes optimizer, loss and metrics"
            )
        if loss is None:  # Keras allows it: a train_step override computes its own losses
            self.optimizer, self.loss = optimizers.get(optimizer), None
            if self.device != "cpu":
                self.optimizer.to(self.device)
        else:
            super().compile(optimizer=optimizers.get(optimizer), loss=compiled_loss(loss))
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        self.metrics = _unique_names([_metric(m, self.loss, None, "") for m in (metrics or [])])
        attach_to_loss_and_metrics(self)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        if yields_batches(x):  # a PyDataset, a Sequence, a generator: batch by batch
            return self._predict_source(x, steps, callbacks)
        method = self._override("predict_step")
        if method is not None:
            return self._predict_by_step(method, [x], batch_size, steps, callbacks)
        if steps is not None:
            x = x[: steps * (batch_size or 32)]
        return super().predict(x, batch_size, verbose, callbacks=callbacks)

    def count_params(self) -> int:  # type: ignore[override]  # Keras 3 returns one int, minidl a pair
        """The number of scalars in the weights, trainable or not (Keras returns one int)."""
        return sum(_model.Sequential.count_params(self))

    def _weight_layers(self) -> list:
        return list(self.layers)


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
        if _declared_input_shape(layer) is not None:  # the shape each call brings
            return
        self.stack.append(name_layer(layer) if isinstance(layer, Layer) else layer)
        self._traces.clear()  # the next batch records the longer stack

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.stack:
            x = layer(x)
        return x


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Read a model file (``minidl.training.saving``'s): a functional or subclassed
    ``keras.Model`` (its classes and its ``Lambda`` functions from ``custom_objects``), or a
    ``keras.Sequential`` (minidl's ``Sequential`` format, read as a ``keras.Sequential``). ``safe_mode`` is Keras's switch for running a saved lambda's
    bytecode; minidl's files hold no code, so loading never runs any (a Python lambda is
    refused when saving instead)."""
    from . import model_file

    kinds = types.SimpleNamespace(Input=Input, Model=Model, ModelStack=ModelStack, Sequential=Sequential)
    return model_file.load(filepath, kinds, custom_objects, compile)


def model_from_json(json_string, custom_objects=None):
    """Keras's ``keras.models.model_from_json``: the model a door model's ``to_json()``
    describes, with new weights (move them with ``get_weights``/``set_weights``)."""
    from . import model_file

    kinds = types.SimpleNamespace(Input=Input, Model=Model, ModelStack=ModelStack, Sequential=Sequential)
    return model_file.from_json(json_string, kinds, custom_objects)


Sequential = KerasSequential  # Keras's name for it: keras.Sequential, keras.models.Sequential


def clone_model(
    model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs
):
    """Keras's ``keras.models.clone_model``: a new model of the same architecture (a
    ``keras.Sequential`` or a functional ``keras.Model``, a subclassed one through its
    ``get_config``) with new layers and freshly drawn weights, not compiled, as Keras's. Its
    options (``input_tensors``, ``clone_function``, ``call_function``, ``recursive``) are not in
    minidl_keras."""
    from .missing import KerasFeatureMissing

    given = {
        "input_tensors": input_tensors,
        "clone_function": clone_function,
        "call_function": call_function,
        **kwargs,
    }
    given = {key: value for key, value in given.items() if value is not None}
    if given or recursive:
        names = ", ".join(sorted(given) + (["recursive"] if recursive else []))
        raise KerasFeatureMissing(
            f"keras.models.clone_model({names}=...) is not in minidl_keras: it clones the whole "
            "model with new weights (model_from_json(model.to_json()) is the same)"
        )
    return model_from_json(model.to_json())
