"""A fifth sweep (issue #62): twelve keras.io-style programs written fresh for an outside
measurement, run through ``minidl_keras`` with only their imports changed and, where Keras 3
is installed (PyTorch backend), in Keras as written. Both must report the same parameter
counts, layer counts, weight shapes, names in ``history`` and ``evaluate(return_dict=True)``,
and the same ``seen`` (what each program inspects); minidl's training loss must fall; minidl
given Keras's trained weights must predict what Keras predicts.

They follow keras.io's "The Sequential model" (``model.summary(print_fn=)``, ``get_config``,
``input_shape``, a feature extractor from ``layer.output``), "Customizing what happens in
evaluate()" (a ``test_step`` over ``self.metrics``), "Making new layers and models via
subclassing" (``ComputeSum``'s non-trainable weight and ``assign_add``, ``get_config``/
``from_config``, a subclassed model with ``Dropout`` and ``training=``), "Serialization"
(``to_json``'s structure, ``save``/``load_model``, ``save_weights``/``load_weights``),
"Writing your own callbacks" (``LambdaCallback``, ``EarlyStopping(restore_best_weights)``,
``TerminateOnNaN``), structured-data preprocessing (``CategoryEncoding``, ``Discretization``,
``Normalization``), standalone metrics and losses, ``keras.ops`` in a custom layer (``var``,
``where`` of ``x > 0``, ``cumsum``, ``stack``, ``one_hot``, ``arange``) and a
``SimpleRNN``/``GRU``/``TimeDistributed`` sequence model.

On the door as it was before this file one of the twelve ran the same as Keras (the subclassed
model); ten stopped (``LambdaCallback``, ``keras.metrics.Mean``, ``ops.ones``, ``CategoryEncoding``,
``Model.save_weights``, ``KerasTensor > 0``, ``self.metrics`` as pairs inside ``test_step``, a
Sequential's ``inputs`` in ``keras.Model``, ``get_config``'s structure twice) and one ran with a
difference (``Sequential.input_shape`` without the batch axis); behind the stops, ``argmax``
was int64 where Keras's is int32. Then nine ran the same; the last three (a layer's
``get_config`` naming its initializer by a string, the optimizer's class ``KerasAdam``, a loss
object's ``(y_pred, y_true)`` order) now run the same too: all twelve match.
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

SUMMARY_CONFIG = (
    """
import io
import numpy as np
import keras
from keras import layers

model = keras.Sequential(name="mlp")
model.add(keras.Input(shape=(6,)))
model.add(layers.Dense(8, activation="relu", name="d1"))
model.add(layers.Dense(3, activation="softmax", name="d2"))
lines = []
model.summary(print_fn=lambda line, **kw: lines.append(line))
text = "\\n".join(lines)
config = model.get_config()
dense = model.layers[0].get_config()
seen = (tuple(model.input_shape), tuple(model.output_shape), "Total params: 83" in text.replace(",", ""),
        config["name"], [l["class_name"] for l in config["layers"]],
        dense["units"], dense["activation"], dense["use_bias"], dense["name"],
        dense["kernel_initializer"]["class_name"])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
x = rng.normal(size=(60, 6)).astype("float32")
y = np.argmax(x[:, :3], axis=1)
history = model.fit(x, y, batch_size=20, epochs=5, verbose=0)
"""
    + REPORT
)

CUSTOM_EVALUATE = (
    """
import numpy as np
import keras
from keras import layers

class CustomModel(keras.Model):
    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name != "loss":
                metric.update_state(y, y_pred)
            else:
                metric.update_state(loss)
        return {m.name: m.result() for m in self.metrics}

inputs = keras.Input(shape=(4,))
outputs = layers.Dense(1)(layers.Dense(8, activation="relu")(inputs))
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
rng = np.random.default_rng(1)
x = rng.normal(size=(64, 4)).astype("float32")
y = x.sum(axis=1, keepdims=True)
history = model.fit(x, y, batch_size=16, epochs=6, verbose=0)
result = model.evaluate(x, y, verbose=0, return_dict=True)
seen = sorted(result)
"""
    + REPORT
)

LAYER_WEIGHTS = (
    """
import numpy as np
import keras
from keras import layers, ops

class ComputeSum(layers.Layer):
    def __init__(self, input_dim, **kwargs):
        super().__init__(**kwargs)
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return inputs

class Linear(layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config

summer = ComputeSum(2)
first = summer(ops.ones((2, 2)))
second = summer(ops.ones((2, 2)))
lin = Linear(4)
lin(np.ones((1, 3), "float32"))
copy = Linear.from_config(lin.get_config())
seen = (np.asarray(summer.total).tolist(), len(summer.weights), len(summer.trainable_weights),
        len(summer.non_trainable_weights), [tuple(w.shape) for w in lin.weights], lin.get_config()["units"],
        copy.units, copy.name == lin.name)

inputs = keras.Input((3,))
model = keras.Model(inputs, Linear(1)(layers.Activation("tanh")(Linear(5)(inputs))))
model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
rng = np.random.default_rng(2)
x = rng.normal(size=(48, 3)).astype("float32")
y = (x[:, :1] * x[:, 1:2]).astype("float32")
history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
"""
    + REPORT
)

FEATURE_EXTRACTOR = (
    """
import numpy as np
import keras
from keras import layers

initial = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    layers.Conv2D(4, 3, strides=1, activation="relu", name="c1"),
    layers.Conv2D(6, 3, activation="relu", name="c2"),
    layers.GlobalAveragePooling2D(name="gap"),
    layers.Dense(2, activation="softmax", name="out"),
])
extractor = keras.Model(inputs=initial.inputs, outputs=[layer.output for layer in initial.layers])
features = extractor(np.ones((1, 8, 8, 1), "float32"))
single = keras.Model(inputs=initial.inputs, outputs=initial.get_layer(name="c2").output)
seen = ([tuple(f.shape) for f in features], tuple(single(np.ones((2, 8, 8, 1), "float32")).shape),
        len(extractor.layers), len(extractor.outputs))
model = initial
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(3)
x = rng.normal(size=(40, 8, 8, 1)).astype("float32")
y = (x.mean(axis=(1, 2, 3)) > 0).astype("int64")
history = model.fit(x, y, batch_size=10, epochs=4, verbose=0)
"""
    + REPORT
)

JSON_STRUCTURE = (
    """
import json
import numpy as np
import keras
from keras import layers

model = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="relu", name="a"), layers.Dense(1, name="b")],
                         name="tiny")
described = json.loads(model.to_json())
seen = (described["class_name"], described["config"]["name"],
        [layer["class_name"] for layer in described["config"]["layers"]],
        [layer["config"]["name"] for layer in described["config"]["layers"][1:]],
        described["config"]["layers"][1]["config"]["units"])
clone = keras.models.model_from_json(model.to_json())
clone.set_weights(model.get_weights())
rng = np.random.default_rng(4)
x = rng.normal(size=(32, 4)).astype("float32")
y = x[:, :1] + 2 * x[:, 1:2]
seen = seen + (bool(np.allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))), clone.name)
model.compile(optimizer="adam", loss="mse")
history = model.fit(x, y, batch_size=8, epochs=5, verbose=0)
"""
    + REPORT
)

OPS_ZOO = (
    """
import numpy as np
import keras
from keras import layers, ops

class Features(layers.Layer):
    def call(self, x):
        centered = x - ops.mean(x, axis=-1, keepdims=True)
        scaled = centered / ops.sqrt(ops.var(x, axis=-1, keepdims=True) + 1e-3)
        clipped = ops.clip(scaled, -2.0, 2.0)
        gated = ops.where(x > 0, x, ops.zeros_like(x))
        running = ops.cumsum(x, axis=-1)
        both = ops.stack([clipped, gated], axis=1)
        merged = ops.reshape(both, (-1, 2 * x.shape[-1]))
        return ops.concatenate([merged, ops.abs(running), ops.square(x), ops.exp(-ops.abs(x))], axis=-1)

inputs = keras.Input((5,))
f = Features()(inputs)
model = keras.Model(inputs, layers.Dense(1)(layers.Dense(8, activation="relu")(f)))
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
rng = np.random.default_rng(5)
x = rng.normal(size=(64, 5)).astype("float32")
y = np.abs(x).sum(axis=1, keepdims=True)
history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
seen = (tuple(f.shape), str(ops.convert_to_numpy(ops.argmax(ops.ones((2, 3)), axis=-1)).dtype),
        ops.convert_to_numpy(ops.one_hot(ops.array([0, 2]), 3)).tolist(),
        ops.shape(ops.expand_dims(ops.zeros((2, 3)), 0)),
        ops.convert_to_numpy(ops.arange(0, 6, 2)).tolist())
"""
    + REPORT
)

CALLBACK_SUITE = (
    """
import numpy as np
import keras
from keras import layers

epochs_seen = []
log = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs_seen.append((epoch, sorted(logs))))
stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True, min_delta=1e9)
model = keras.Sequential([keras.Input((3,)), layers.Dense(6, activation="relu"), layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
rng = np.random.default_rng(6)
x = rng.normal(size=(50, 3)).astype("float32")
y = x @ np.array([[1.0], [-1.0], [0.5]], "float32")
history = model.fit(x, y, batch_size=10, epochs=20, verbose=0, validation_data=(x[:10], y[:10]),
                    callbacks=[log, stop, keras.callbacks.TerminateOnNaN()])
seen = (len(epochs_seen), epochs_seen[0], stop.stopped_epoch, history.epoch, model.history is history,
        sorted(history.params))
"""
    + REPORT
)

PREPROCESSING = (
    """
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(7)
n = 64
age = rng.normal(40, 10, size=(n, 1)).astype("float32")
color = rng.integers(0, 3, size=(n, 1))
y = ((age[:, 0] > 40) ^ (color[:, 0] == 1)).astype("float32")[:, None]
encode = layers.CategoryEncoding(num_tokens=3, output_mode="one_hot")
bins = layers.Discretization(bin_boundaries=[30.0, 40.0, 50.0])
norm = layers.Normalization()
norm.adapt(age)
age_in = keras.Input((1,), name="age")
color_in = keras.Input((1,), name="color", dtype="int32")
feats = layers.concatenate([norm(age_in), encode(color_in)])
h = layers.Dense(8, activation="relu")(feats)
model = keras.Model([age_in, color_in], layers.Dense(1, activation="sigmoid")(h))
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
x = [age, color]
history = model.fit(x, y, batch_size=16, epochs=6, verbose=0)
seen = (np.asarray(encode(np.array([[0], [2]]))).tolist(), np.asarray(bins(np.array([[25.0], [45.0], [60.0]]))).tolist())
"""
    + REPORT
)

# (the metrics are named: Keras numbers an unnamed Precision "precision_1" when another was made
# earlier in the process, which depends on the tests that ran before in the worker)
METRICS_STANDALONE = (
    """
import numpy as np
import keras
from keras import layers

acc = keras.metrics.BinaryAccuracy()
acc.update_state([[1.0], [0.0], [1.0], [1.0]], [[0.9], [0.2], [0.4], [0.7]])
first = float(acc.result())
acc.reset_state()
mse = keras.metrics.MeanSquaredError()
mse.update_state(np.array([[1.0, 2.0]]), np.array([[1.5, 2.0]]))
mean = keras.metrics.Mean()
mean.update_state([1.0, 2.0, 3.0])
cat = keras.metrics.SparseCategoricalAccuracy()
cat.update_state([1, 0], [[0.1, 0.9], [0.3, 0.7]])
bce = keras.losses.BinaryCrossentropy()
loss_value = float(bce(np.array([[1.0], [0.0]]), np.array([[0.8], [0.1]])))
mae_value = np.asarray(keras.losses.mean_absolute_error(np.array([[1.0, 2.0]]), np.array([[0.0, 2.0]]))).tolist()
seen = (round(first, 5), round(float(acc.result()), 5), round(float(mse.result()), 5), round(float(mean.result()), 5),
        round(float(cat.result()), 5), round(loss_value, 4), mae_value, acc.name, mse.name, cat.name)
model = keras.Sequential([keras.Input((4,)), layers.Dense(6, activation="relu"), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy",
              metrics=[keras.metrics.BinaryAccuracy(name="acc"), keras.metrics.Precision(name="precision"),
                       keras.metrics.Recall(name="recall")])
rng = np.random.default_rng(8)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x[:, :1] > 0).astype("float32")
history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
"""
    + REPORT
)

SAVE_RELOAD = (
    """
import os
import tempfile
import numpy as np
import keras
from keras import layers

def get_model():
    inputs = keras.Input(shape=(6,))
    outputs = layers.Dense(1)(layers.Dense(4, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mean_squared_error")
    return model

rng = np.random.default_rng(9)
x = rng.normal(size=(40, 6)).astype("float32")
y = x[:, :1] - x[:, 1:2]
model = get_model()
history = model.fit(x, y, batch_size=8, epochs=4, verbose=0)
folder = tempfile.mkdtemp()
model.save(os.path.join(folder, "my_model.keras"))
reconstructed = keras.models.load_model(os.path.join(folder, "my_model.keras"))
same = bool(np.allclose(model.predict(x, verbose=0), reconstructed.predict(x, verbose=0)))
model.save_weights(os.path.join(folder, "w.weights.h5"))
fresh = get_model()
fresh.load_weights(os.path.join(folder, "w.weights.h5"))
same_weights = bool(np.allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0)))
reconstructed.fit(x, y, batch_size=8, epochs=1, verbose=0)
seen = (same, same_weights, reconstructed.optimizer.__class__.__name__, len(reconstructed.layers))
"""
    + REPORT
)

RNN_SEQUENCE = (
    """
import numpy as np
import keras
from keras import layers

model = keras.Sequential()
model.add(keras.Input(shape=(None, 3)))
model.add(layers.SimpleRNN(8, return_sequences=True))
model.add(layers.GRU(6, return_sequences=True))
model.add(layers.TimeDistributed(layers.Dense(2)))
rng = np.random.default_rng(10)
x = rng.normal(size=(32, 7, 3)).astype("float32")
y = np.cumsum(x[:, :, :2], axis=1) / 3
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
history = model.fit(x, y, batch_size=8, epochs=5, verbose=0)
seen = (tuple(model.output_shape), tuple(model.input_shape), [type(layer).__name__ for layer in model.layers],
        tuple(model.predict(x[:2, :4], verbose=0).shape))
"""
    + REPORT
)

SUBCLASS_DROPOUT = (
    """
import numpy as np
import keras
from keras import layers

class MLP(keras.Model):
    def __init__(self, hidden=16, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.dense1 = layers.Dense(hidden, activation="relu")
        self.dropout = layers.Dropout(0.5)
        self.dense2 = layers.Dense(3)

    def call(self, inputs, training=False):
        return self.dense2(self.dropout(self.dense1(inputs), training=training))

    def get_config(self):
        return {"hidden": self.hidden}

model = MLP(12)
rng = np.random.default_rng(11)
x = rng.normal(size=(60, 5)).astype("float32")
model(x[:1])
built = (model.built, model.count_params(), len(model.trainable_weights), len(model.layers))
y = np.argmax(x[:, :3], axis=1)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
history = model.fit(x, y, batch_size=15, epochs=6, verbose=0)
a, b = model(x[:4], training=False), model(x[:4], training=False)
seen = built + (bool(np.allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))), MLP.from_config(model.get_config()).hidden)
"""
    + REPORT
)

PROGRAMS = {
    "summary_config": SUMMARY_CONFIG,
    "custom_evaluate": CUSTOM_EVALUATE,
    "layer_weights": LAYER_WEIGHTS,
    "feature_extractor": FEATURE_EXTRACTOR,
    "json_structure": JSON_STRUCTURE,
    "ops_zoo": OPS_ZOO,
    "callback_suite": CALLBACK_SUITE,
    "preprocessing": PREPROCESSING,
    "metrics_standalone": METRICS_STANDALONE,
    "save_reload": SAVE_RELOAD,
    "rnn_sequence": RNN_SEQUENCE,
    "subclass_dropout": SUBCLASS_DROPOUT,
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


def test_compute_sum_updates_its_weight_once_per_call():
    ours = run(LAYER_WEIGHTS)
    assert ours["seen"][0] == [4.0, 4.0]  # two calls on ops.ones((2, 2)): 2 + 2 per entry
