"""A seventh sweep (issue #78): keras.io-style programs on what round 4 found different or
missing, run through ``minidl_keras`` with only their imports changed and, where Keras 3 is
installed (PyTorch backend), in Keras as written. Each program computes ``seen``: what a
program looks up by name (class names, weight names, ``metrics_names``, a summary's rows) and
the keys its history holds; both must give the same ``seen``, and minidl's loss must fall.

The kinds: a custom loss function and a ``keras.losses.Loss`` subclass in ``keras.ops`` trained
by ``fit`` (keras.io "Customizing what happens in fit" / the losses guide), a
``keras.metrics.Metric`` subclass with ``add_variable`` (keras.io's ``BinaryTruePositives``),
``fit(validation_freq=2, validation_batch_size=...)``, fine-tuning lookups by
``type(layer).__name__`` and by weight name (``moving_mean``), a branching model's summary with
"Connected to", ``keras.random`` with ``Dropout(seed=)``, and ``model.losses`` with a regularizer.
"""

import pytest

from tests.keras.keras_oracle import HAVE_KERAS
from tests.keras.programs.test_io_programs import run

pytestmark = pytest.mark.slow  # whole programs trained in minidl and in Keras: make test


def same_seen(source: str):
    ours = run(source)
    losses = ours["history"].history["loss"]
    assert losses[-1] < losses[0], losses
    if HAVE_KERAS:
        theirs = run(source, real=True)
        assert ours["seen"] == theirs["seen"]
    return ours


CUSTOM_LOSSES = """
import numpy as np
import keras
from keras import layers, ops

def smooth_abs(y_true, y_pred):
    return ops.mean(ops.sqrt(ops.square(y_true - y_pred) + 0.01), axis=-1)

class WeightedMSE(keras.losses.Loss):
    def __init__(self, weight=2.0, name="weighted_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight = weight

    def call(self, y_true, y_pred):
        return self.weight * ops.mean(ops.square(y_true - y_pred), axis=-1)

rng = np.random.default_rng(3)
x = rng.normal(size=(96, 6)).astype("float32")
y = (x[:, :2].sum(axis=1, keepdims=True) - x[:, 2:3]).astype("float32")
runs = {}
for loss in (smooth_abs, WeightedMSE()):
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, metrics=["mae"])
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0)
    runs[getattr(loss, "name", getattr(loss, "__name__", ""))] = history.history
seen = (sorted(runs), [sorted(h) for h in runs.values()], model.metrics_names, WeightedMSE().get_config()["name"])
"""


def test_custom_losses_train_as_keras_trains_them():
    ours = same_seen(CUSTOM_LOSSES)
    assert ours["runs"]["smooth_abs"]["loss"][-1] < 0.5 * ours["runs"]["smooth_abs"]["loss"][0]


METRIC_SUBCLASS = """
import numpy as np
import keras
from keras import layers, ops

class BinaryTruePositives(keras.metrics.Metric):
    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "bool")
        y_pred = ops.cast(ops.greater(y_pred, 0.5), "bool")
        values = ops.cast(ops.logical_and(ops.equal(y_true, True), ops.equal(y_pred, True)), "float32")
        self.true_positives.assign(self.true_positives + ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0)

rng = np.random.default_rng(5)
x = rng.normal(size=(120, 4)).astype("float32")
y = (x[:, :1] + x[:, 1:2] > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=[BinaryTruePositives()])
history = model.fit(
    x, y, epochs=6, batch_size=20, validation_data=(x, y), validation_freq=2, validation_batch_size=40, verbose=0
)
metric = BinaryTruePositives()
metric.update_state(np.array([1.0, 1.0, 0.0]), np.array([0.9, 0.2, 0.8]))
seen = (
    sorted(history.history),
    len(history.history["loss"]),
    len(history.history["val_loss"]),
    float(metric.result()),
    [v.name for v in metric.variables],
    model.metrics_names,
    all(0 <= t <= 120 for t in history.history["binary_true_positives"]),
)
"""


def test_a_metric_subclass_and_validation_every_other_epoch():
    same_seen(METRIC_SUBCLASS)


NAMES = """
import numpy as np
import keras
from keras import layers

inputs = keras.Input((10,))
a = layers.Dense(8, activation="relu", name="a")(inputs)
b = layers.BatchNormalization(name="norm")(a)
c = layers.Dense(8, activation="relu", name="c", kernel_regularizer=keras.regularizers.L2(1e-3))(inputs)
joined = layers.Concatenate(name="joined")([b, c])
dropped = layers.Dropout(0.2, seed=1)(joined)
outputs = layers.Dense(1, name="out")(dropped)
model = keras.Model(inputs, outputs)
lines = []
model.summary(print_fn=lambda line, **kw: lines.append(line))
text = "\\n".join(lines)
norm = model.get_layer("norm")
moving = [w.name for w in norm.weights]
kinds = [type(layer).__name__ for layer in model.layers]
frozen = [layer.name for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
noise = keras.random.normal((4, 10), seed=keras.random.SeedGenerator(2))
x = np.concatenate([noise, keras.random.uniform((60, 10), seed=3)]).astype("float32")
y = x[:, :1] * 2
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
history = model.fit(x, y, epochs=10, batch_size=16, verbose=0)
seen = (
    kinds,
    moving,
    frozen,
    "Connected to" in text,
    "joined[0][0]" in text,
    "norm[0][0]" in text,
    "B)" in text,  # the totals' sizes in bytes
    len(model.losses),
    model.layers[0].output.shape,
    keras.saving.get_registered_name(layers.Dense),
    noise.shape,
)
"""


def test_lookups_by_class_weight_and_summary_names():
    same_seen(NAMES)


@pytest.mark.skipif(not HAVE_KERAS, reason="the refusals are checked against Keras's acceptance")
def test_what_is_refused_keras_takes():
    """Each option the door refuses is one Keras takes: the door says so in Keras's words."""
    from minidl_keras.missing import KerasFeatureMissing

    for source in (
        "layers.UpSampling2D(interpolation='bicubic')",
        "layers.Dropout(0.5, noise_shape=(None, 1))",
    ):
        run(f"from keras import layers\nmade = {source}\n", real=True)
        with pytest.raises(KerasFeatureMissing) as err:
            run(f"from keras import layers\nmade = {source}\n")
        assert "minidl_keras" in str(err.value) and "Trainer" not in str(err.value)
