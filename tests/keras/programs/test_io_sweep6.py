"""A sixth sweep (issue #62): six keras.io-style programs written fresh after sweep 5 matched,
run through ``minidl_keras`` with only their imports changed and, where Keras 3 is installed
(PyTorch backend), in Keras as written. Both must report the same parameter counts, layer
counts, weight shapes, names in ``history`` and ``evaluate(return_dict=True)``, and the same
``seen`` (what each program inspects); minidl's training loss must fall; minidl given Keras's
trained weights must predict what Keras predicts.

They follow keras.io's "The Functional API" (two named inputs joined by ``Concatenate``, fed as
a dict, the summary's parameter count, ``keras.models.clone_model``: new layers, new weights), "Making new layers and models via subclassing" (a
layer with ``add_weight`` whose ``get_config``/``from_config`` round trip rebuilds it inside a
model), "Writing your own callbacks" and the callbacks API (``ModelCheckpoint(save_best_only=
True)`` beside ``EarlyStopping(restore_best_weights=True)``), "Imbalanced classification"
(``class_weight`` and ``sample_weight`` in ``fit``), a ``Conv1D``/``MaxPooling1D``/
``GlobalAveragePooling1D`` sequence classifier, and the serialization guide's configs of an
optimizer and a loss (``get_config``, ``serialize``, ``from_config``).

Run on the door as it was before this file (with sweep 5's last three differences fixed), four
of the six ran the same as Keras; one stopped (``keras.models.clone_model`` was missing) and
one ran with a difference (a ``Conv1D``'s ``get_config()["kernel_size"]`` was ``3``, Keras's
``(3,)``). Both are fixed: all six match.
"""

import numpy as np
import pytest

from tests.keras.keras_oracle import HAVE_KERAS
from tests.keras.programs.test_io_programs import run, same_report

pytestmark = pytest.mark.slow  # whole programs trained in minidl and in Keras: make test

KEYS = ("params", "layer_count", "shapes", "names", "evaluated", "seen")

REPORT = """
params = model.count_params()
layer_count = len(model.layers)
shapes = [tuple(w.shape) for w in model.get_weights()]
names = sorted(history.history)
evaluated = sorted(model.evaluate(x, y, verbose=0, return_dict=True))
"""

TWO_INPUTS = (
    """
import numpy as np
import keras
from keras import layers

left = keras.Input(shape=(5,), name="left")
right = keras.Input(shape=(3,), name="right")
a = layers.Dense(6, activation="relu", name="left_dense")(left)
b = layers.Dense(4, activation="relu", name="right_dense")(right)
joined = layers.Concatenate(name="joined")([a, b])
out = layers.Dense(1, name="score")(joined)
model = keras.Model(inputs=[left, right], outputs=out, name="two_towers")
lines = []
model.summary(print_fn=lambda line, **kw: lines.append(line))
text = "\\n".join(lines).replace(",", "")
rng = np.random.default_rng(20)
x = {"left": rng.normal(size=(48, 5)).astype("float32"), "right": rng.normal(size=(48, 3)).astype("float32")}
y = x["left"][:, :1] - x["right"][:, :1]
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
history = model.fit(x, y, batch_size=12, epochs=6, verbose=0)
clone = keras.models.clone_model(model)
clone.compile(optimizer="sgd", loss="mse")
clone.fit(x, y, batch_size=12, epochs=1, verbose=0)
seen = (model.name, [t.name for t in model.inputs], tuple(joined.shape), "Total params: 91" in text,
        [layer.name for layer in model.layers], tuple(model.predict(x, verbose=0).shape),
        [layer.name for layer in clone.layers], clone.count_params(), clone.optimizer is model.optimizer,
        [tuple(w.shape) for w in clone.get_weights()] == [tuple(w.shape) for w in model.get_weights()],
        bool(np.allclose(clone.get_weights()[0], model.get_weights()[0])))
"""
    + REPORT
)

CUSTOM_LAYER_CONFIG = (
    """
import numpy as np
import keras
from keras import layers, ops

class Gated(layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                      trainable=True, name="kernel")
        self.gate = self.add_weight(shape=(self.units,), initializer="ones", trainable=True, name="gate")

    def call(self, inputs):
        return ops.matmul(inputs, self.kernel) * ops.sigmoid(self.gate)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config

first = Gated(3, name="gated")
config = first.get_config()
again = Gated.from_config(config)
inputs = keras.Input((4,))
model = keras.Model(inputs, layers.Dense(1)(again(inputs)))
model.compile(optimizer="adam", loss="mse")
rng = np.random.default_rng(21)
x = rng.normal(size=(40, 4)).astype("float32")
y = x[:, :1] * 2 - x[:, 1:2]
history = model.fit(x, y, batch_size=10, epochs=6, verbose=0)
seen = (config["units"], config["name"], again.name, again.units, [tuple(w.shape) for w in again.weights],
        len(again.trainable_weights), type(again).__name__)
"""
    + REPORT
)

CHECKPOINT_EARLY_STOP = (
    """
import os
import tempfile
import numpy as np
import keras
from keras import layers

folder = tempfile.mkdtemp()
path = os.path.join(folder, "best.keras")
checkpoint = keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
rng = np.random.default_rng(22)
x = rng.normal(size=(60, 4)).astype("float32")
y = x @ np.array([[0.5], [-1.0], [0.25], [1.0]], "float32")
history = model.fit(x, y, batch_size=10, epochs=8, verbose=0, validation_split=0.25,
                    callbacks=[checkpoint, stop])
best = keras.models.load_model(path)
seen = (os.path.exists(path), sorted(history.history), len(best.layers), best.count_params(),
        stop.monitor, checkpoint.monitor, checkpoint.save_best_only)
"""
    + REPORT
)

CLASS_WEIGHTS = (
    """
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(23)
x = rng.normal(size=(80, 6)).astype("float32")
y = (x[:, 0] + 0.5 * x[:, 1] > 0.8).astype("int64")
model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(2, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
counts = np.bincount(y, minlength=2)
weights = {0: 1.0, 1: float(counts[0] / max(counts[1], 1))}
history = model.fit(x, y, batch_size=16, epochs=5, verbose=0, class_weight=weights)
per_sample = np.where(y == 1, 2.0, 1.0).astype("float32")
more = model.fit(x, y, batch_size=16, epochs=2, verbose=0, sample_weight=per_sample)
seen = (sorted(more.history), len(more.history["loss"]), counts.tolist())
"""
    + REPORT
)

CONV1D_SEQUENCE = (
    """
import numpy as np
import keras
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(20, 2)),
    layers.Conv1D(8, 3, activation="relu", padding="same", name="conv_a"),
    layers.MaxPooling1D(2, name="pool"),
    layers.Conv1D(6, 3, activation="relu", name="conv_b"),
    layers.GlobalAveragePooling1D(name="gap"),
    layers.Dense(3, activation="softmax", name="classes"),
])
rng = np.random.default_rng(24)
x = rng.normal(size=(48, 20, 2)).astype("float32")
y = np.argmax(np.stack([x[:, :, 0].mean(1), x[:, :, 1].mean(1), -x.mean(axis=(1, 2))], 1), axis=1)
model.compile(optimizer=keras.optimizers.RMSprop(0.005), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x, y, batch_size=12, epochs=6, verbose=0)
seen = (tuple(model.output_shape), [tuple(layer.output.shape) for layer in model.layers],
        [layer.name for layer in model.layers], model.layers[0].get_config()["kernel_size"],
        model.layers[0].get_config()["padding"], model.layers[0].get_config()["kernel_initializer"]["class_name"])
"""
    + REPORT
)

OPTIMIZER_LOSS_CONFIG = (
    """
import numpy as np
import keras
from keras import layers

opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.8, name="my_adam")
config = opt.get_config()
copy = keras.optimizers.Adam.from_config(config)
wrapped = keras.optimizers.serialize(keras.optimizers.SGD(momentum=0.5, nesterov=True, name="sgd_n"))
loss = keras.losses.CategoricalCrossentropy(from_logits=True)
loss_config = loss.get_config()
value = float(loss(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.5, 2.0], [1.0, -1.0]])))
model = keras.Sequential([keras.Input((3,)), layers.Dense(5, activation="tanh"), layers.Dense(2)])
model.compile(optimizer=copy, loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
rng = np.random.default_rng(25)
x = rng.normal(size=(40, 3)).astype("float32")
y = keras.utils.to_categorical((x[:, 0] > x[:, 1]).astype("int64"), 2)
history = model.fit(x, y, batch_size=10, epochs=5, verbose=0)
seen = (type(opt).__name__, sorted(config), config["name"], config["beta_1"], config["epsilon"], config["amsgrad"],
        type(copy).__name__, copy.name, wrapped["class_name"], wrapped["config"]["momentum"],
        wrapped["config"]["nesterov"], wrapped["config"]["name"], loss_config, round(value, 5),
        isinstance(model.optimizer, keras.optimizers.Adam))
"""
    + REPORT
)

PROGRAMS = {
    "two_inputs": TWO_INPUTS,
    "custom_layer_config": CUSTOM_LAYER_CONFIG,
    "checkpoint_early_stop": CHECKPOINT_EARLY_STOP,
    "class_weights": CLASS_WEIGHTS,
    "conv1d_sequence": CONV1D_SEQUENCE,
    "optimizer_loss_config": OPTIMIZER_LOSS_CONFIG,
}

#: programs that stop in the door (strict: one that starts to run fails here, to be moved on)
STOPS: dict[str, str] = {}

#: programs that run but whose ``seen`` differs from Keras's on purpose or for now
SEEN_DIFFERS: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=STOPS[n], strict=True)) if n in STOPS else n
        for n in sorted(PROGRAMS)
    ],
)
def test_program_reports_and_predicts_as_keras(name):
    source = PROGRAMS[name]
    keys = tuple(k for k in KEYS if not (k == "seen" and name in SEEN_DIFFERS))
    ours = same_report(source, keys=keys)
    if not HAVE_KERAS:
        return
    theirs = run(source, real=True)
    ours["model"].set_weights(theirs["model"].get_weights())
    np.testing.assert_allclose(
        np.asarray(ours["model"].predict(theirs["x"], verbose=0)),
        np.asarray(theirs["model"].predict(theirs["x"], verbose=0)),
        rtol=1e-4,
        atol=1e-5,
    )
