"""Keras's door into minidl: ``import minidl_keras as keras`` and a Keras 3 program runs.

    import minidl_keras as keras
    from minidl_keras import layers, models, optimizers, losses, callbacks, regularizers, utils, datasets

    model = keras.Sequential([keras.Input(shape=(28, 28, 1)),
                              layers.Conv2D(32, kernel_size=(3, 3), activation="relu"), ...])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=15, validation_split=0.1)
    score = model.evaluate(x_test, y_test, verbose=0)      # [loss, accuracy]

Everything here is a thin map onto minidl's own classes -- ``keras.Sequential`` is a
``minidl.Sequential`` with Keras's ``compile``/``fit`` order, the layers *are* minidl's layers --
with Keras 3's names, signatures and defaults where they differ from minidl's PyTorch-style ones:

* image and sequence layers are channels-last, (N, H, W, C) and (N, L, C), unless
  ``keras.config.set_image_data_format("channels_first")``; this setting is this
  namespace's own: ``minidl.nn.layers`` stays channels-first, as PyTorch;
* optimizers take Keras's argument names, defaults and update rules (``SGD(learning_rate=0.01)``,
  ``Adam(epsilon=1e-7)``, ``RMSprop(rho=0.9)``, epsilon where Keras puts it) and
  ``optimizers.schedules``;
* ``BatchNormalization(momentum=0.99, epsilon=1e-3)``, ``LeakyReLU(negative_slope=0.3)``,
  ``LayerNormalization(epsilon=1e-3)``, as Keras.

The functional API (``keras.Input``, ``keras.Model(inputs, outputs)``), subclassed models,
custom layers (``keras.layers.Layer`` with ``build``/``add_weight``/``call``), ``layers.Lambda``
and a ``keras.ops`` subset run on a layer-level tape (``minidl_keras/graph.py``): calling a
layer on a symbolic ``KerasTensor`` records a node, and the model runs the nodes forward in
topological order and their hand-written ``backward`` in reverse. Keras's masks
(``Embedding(mask_zero=True)``, ``layers.Masking``) flow between layers as in Keras
(``minidl_keras/masking.py``), and recurrent layers take ``mask=``, ``initial_state=`` and
``return_state=True``. ``docs/keras.md`` lists
what differs from Keras 3 on purpose and what is not there; what minidl does not have
(``keras.applications``, layers it lacks) raises an error that names the minidl way.
"""

from minidl.nn.layers.registry import library_package

library_package(__name__)  # the door's layers save and load by name, as minidl's own do

from . import (  # noqa: E402  (after the line above, which the layer classes' registration reads)
    activations,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    random,
    regularizers,
    saving,
    utils,
)
from .functional import Input, Model  # noqa: E402
from .graph import KerasTensor  # noqa: E402
from .missing import feature_missing  # noqa: E402
from .models import Sequential, load_model  # noqa: E402

__all__ = [
    "activations",
    "backend",
    "callbacks",
    "config",
    "constraints",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "random",
    "regularizers",
    "saving",
    "utils",
    "Input",
    "KerasTensor",
    "Model",
    "Sequential",
    "load_model",
]

_ABSENT = {
    "applications": "minidl has no pretrained ImageNet models; minidl.zoo holds the small "
    "models this course trains (minidl.zoo.available())",
    "Variable": "minidl's weights are NumPy arrays in layer.params",
    "mixed_precision": "minidl computes in float32 (or float64 for gradient checks)",
}


def __getattr__(name: str):
    if name in _ABSENT:
        raise feature_missing(f"keras.{name}", _ABSENT[name])
    raise AttributeError(f"module 'minidl_keras' has no attribute {name!r}")
