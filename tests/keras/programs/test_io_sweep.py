"""An independent sweep: twelve more keras.io-style programs, none of them in
``tests/keras/programs/test_io_programs.py`` or ``tests/keras/programs/test_programs.py``, run through ``minidl_keras`` with
only their imports changed and, where Keras 3 is installed (PyTorch backend), in Keras as
written: both must report the same parameter counts and the same names in ``history`` (and
whatever else each test names), and minidl's training loss must fall.

They follow keras.io's "Simple MNIST convnet" (with ModelCheckpoint and EarlyStopping), "The
Functional API" (two inputs, two outputs, ``loss_weights`` and per-output metrics), "Writing a
training loop" (``train_on_batch``), "Making new layers and models via subclassing"
(``get_config`` and saving), "Timeseries forecasting", "Convolutional autoencoder for image
denoising", "Structured data classification" (``Normalization.adapt``), "Text classification
from scratch" (``TextVectorization`` as a preprocessing step), "Writing your own callbacks" and
"The Sequential model" guide (``summary``, ``count_params``, ``predict`` in batches), at a
small size and on generated data (nothing is downloaded).
"""

import importlib.util

import minidl_keras
import numpy as np
import pytest

from tests.keras.keras_oracle import HAVE_KERAS
from tests.keras.programs.test_io_programs import run, same_report


@pytest.fixture
def channels_last():
    previous = minidl_keras.config.image_data_format()
    minidl_keras.config.set_image_data_format("channels_last")
    yield
    minidl_keras.config.set_image_data_format(previous)


MNIST_CONVNET_CALLBACKS = """
import os
import numpy as np
import keras
from keras import layers

num_classes = 3
input_shape = (12, 12, 1)
rng = np.random.default_rng(0)
x_train = rng.uniform(size=(120, 12, 12, 1)).astype("float32")
labels = rng.integers(0, num_classes, size=120)
for k in range(num_classes):  # a bright bar in row 2k+1 marks class k
    x_train[labels == k, 2 * k + 1, :, 0] += 1.5
y_train = keras.utils.to_categorical(labels, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
path = os.path.join(checkpoint_dir, "best.keras")
callbacks = [
    keras.callbacks.ModelCheckpoint(filepath=path, save_best_only=True, monitor="val_loss"),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2),
]
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=4, validation_split=0.2, callbacks=callbacks, verbose=0)
score = model.evaluate(x_train, y_train, verbose=0)
best = keras.models.load_model(path)
best_score = best.evaluate(x_train, y_train, verbose=0)
params = model.count_params()
names = sorted(history.history)
score_len = len(score)
"""


def test_mnist_style_convnet_with_checkpoint_and_early_stopping(channels_last, tmp_path):
    src = MNIST_CONVNET_CALLBACKS.replace("checkpoint_dir", repr(str(tmp_path)))
    ns = same_report(src, keys=("params", "names", "score_len"))
    assert ns["score_len"] == 2 and np.isfinite(ns["best_score"]).all()


TWO_IN_TWO_OUT = """
import numpy as np
import keras
from keras import layers

numbers = keras.Input(shape=(6,), name="numbers")
flags = keras.Input(shape=(3,), name="flags")
x = layers.concatenate([layers.Dense(16, activation="relu")(numbers), flags])
x = layers.Dense(16, activation="relu")(x)
amount = layers.Dense(1, name="amount")(x)
kind = layers.Dense(3, activation="softmax", name="kind")(x)
model = keras.Model(inputs=[numbers, flags], outputs=[amount, kind])
model.compile(
    optimizer=keras.optimizers.Adam(0.01),
    loss={"amount": "mse", "kind": "sparse_categorical_crossentropy"},
    loss_weights={"amount": 0.5, "kind": 1.0},
    metrics={"amount": ["mae"], "kind": ["accuracy"]},
)
rng = np.random.default_rng(0)
n = rng.normal(size=(160, 6)).astype("float32")
f = rng.integers(0, 2, size=(160, 3)).astype("float32")
y_amount = n[:, :2].sum(axis=1, keepdims=True)
y_kind = f.sum(axis=1).clip(0, 2).astype("int64")
history = model.fit(
    {"numbers": n, "flags": f}, {"amount": y_amount, "kind": y_kind},
    batch_size=32, epochs=4, validation_split=0.25, verbose=0,
)
results = model.evaluate({"numbers": n, "flags": f}, {"amount": y_amount, "kind": y_kind}, verbose=0, return_dict=True)
params = model.count_params()
names = sorted(history.history)
result_names = sorted(results)
"""


def test_two_inputs_two_outputs_with_loss_weights_and_per_output_metrics():
    same_report(TWO_IN_TWO_OUT, keys=("params", "names", "result_names"))


TRAIN_ON_BATCH = """
import numpy as np
import keras
from keras import layers

model = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="tanh"), layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse", metrics=["mae"])
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x @ rng.normal(size=(8, 1))).astype("float32")
losses = []
for epoch in range(4):
    for start in range(0, 256, 32):
        logs = model.train_on_batch(x[start:start + 32], y[start:start + 32])
    losses.append(float(logs[0]))
    model.reset_metrics()
test_logs = model.test_on_batch(x[:64], y[:64], return_dict=True)
batch_pred = model.predict_on_batch(x[:5])


class History:  # the sweep's tests read ``history.history["loss"]``
    history = {"loss": losses}


history = History()
params = model.count_params()
names = sorted(test_logs)
train_logs_len = len(logs)
pred_shape = tuple(batch_pred.shape)
"""


def test_custom_loop_with_train_on_batch_and_test_on_batch():
    same_report(TRAIN_ON_BATCH, keys=("params", "names", "train_logs_len", "pred_shape"), loss_falls_to=0.8)


CUSTOM_LAYER_SAVED = """
import os
import numpy as np
import keras
from keras import layers


@keras.saving.register_keras_serializable(package="sweep")
class ScaledDense(layers.Layer):
    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return self.scale * (keras.ops.matmul(inputs, self.kernel) + self.bias)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "scale": self.scale})
        return config


inputs = keras.Input(shape=(5,))
x = ScaledDense(12, scale=0.5)(inputs)
x = layers.Activation("relu")(x)
outputs = ScaledDense(1)(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="mse")
rng = np.random.default_rng(0)
x_train = rng.normal(size=(128, 5)).astype("float32")
y_train = np.abs(x_train).sum(axis=1, keepdims=True).astype("float32")
history = model.fit(x_train, y_train, epochs=5, batch_size=16, verbose=0)
path = os.path.join(save_dir, "custom.keras")
model.save(path)
restored = keras.models.load_model(path, custom_objects={"ScaledDense": ScaledDense})
same_predictions = bool(np.allclose(model.predict(x_train, verbose=0), restored.predict(x_train, verbose=0)))
config = model.layers[1].get_config()
params = model.count_params()
names = sorted(history.history)
config_items = (config["units"], config["scale"])
"""


def test_custom_layer_with_get_config_saves_and_loads(tmp_path):
    src = CUSTOM_LAYER_SAVED.replace("save_dir", repr(str(tmp_path)))
    ns = same_report(src, keys=("params", "names", "config_items", "same_predictions"))
    assert ns["same_predictions"]


SUBCLASSED_TRAINING_ARG = """
import numpy as np
import keras
from keras import layers


class Classifier(keras.Model):
    def __init__(self, num_classes=3):
        super().__init__()
        self.hidden = layers.Dense(32, activation="relu")
        self.norm = layers.BatchNormalization()
        self.dropout = layers.Dropout(0.3)
        self.out = layers.Dense(num_classes)

    def call(self, inputs, training=False):
        x = self.hidden(inputs)
        x = self.norm(x, training=training)
        if training:
            x = self.dropout(x, training=training)
        return self.out(x)


rng = np.random.default_rng(0)
x = rng.normal(size=(192, 10)).astype("float32")
y = np.argmax(x[:, :3], axis=1)
model = Classifier()
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-2),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
)
history = model.fit(x[:160], y[:160], batch_size=32, epochs=5, validation_data=(x[160:], y[160:]), verbose=0)
eval_a = model(x[:8], training=False)
eval_b = model(x[:8], training=False)
deterministic = bool(np.allclose(keras.ops.convert_to_numpy(eval_a), keras.ops.convert_to_numpy(eval_b)))
params = model.count_params()
names = sorted(history.history)
weight_count = len(model.weights)
trainable_count = len(model.trainable_weights)
"""


def test_subclassed_model_with_a_training_argument():
    same_report(
        SUBCLASSED_TRAINING_ARG, keys=("params", "names", "weight_count", "trainable_count", "deterministic")
    )


TIMESERIES = """
import numpy as np
import keras
from keras import layers

t = np.arange(600, dtype="float32")
series = np.sin(t / 8.0) + 0.5 * np.cos(t / 3.0)
window = 16
x = np.stack([series[i:i + window] for i in range(400)])[..., None]
y = series[window:window + 400][:, None]

inputs = keras.Input(shape=(window, 1))
h = layers.Conv1D(filters=8, kernel_size=3, padding="causal", activation="relu")(inputs)
h = layers.LSTM(16)(h)
outputs = layers.Dense(1)(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=[keras.metrics.RootMeanSquaredError()])
stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
history = model.fit(x, y, epochs=5, batch_size=50, validation_split=0.2, callbacks=[stop], verbose=0)
params = model.count_params()
names = sorted(history.history)
"""


def test_timeseries_conv1d_lstm_with_early_stopping():
    same_report(TIMESERIES, loss_falls_to=0.7)


DENOISING_AUTOENCODER = """
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(0)
clean = np.zeros((96, 16, 16, 1), dtype="float32")
for i, (r, c) in enumerate(rng.integers(2, 12, size=(96, 2))):
    clean[i, r:r + 4, c:c + 4, 0] = 1.0
noisy = np.clip(clean + 0.3 * rng.normal(size=clean.shape), 0.0, 1.0).astype("float32")

input = layers.Input(shape=(16, 16, 1))
# Encoder
x = layers.Conv2D(8, (3, 3), activation="relu", padding="same")(input)
x = layers.MaxPooling2D((2, 2), padding="same")(x)
x = layers.Conv2D(8, (3, 3), activation="relu", padding="same")(x)
x = layers.MaxPooling2D((2, 2), padding="same")(x)
# Decoder
x = layers.Conv2DTranspose(8, (3, 3), strides=2, activation="relu", padding="same")(x)
x = layers.Conv2DTranspose(8, (3, 3), strides=2, activation="relu", padding="same")(x)
x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)

autoencoder = keras.Model(input, x)
autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
history = autoencoder.fit(x=noisy, y=clean, epochs=4, batch_size=16, shuffle=True, validation_data=(noisy[:32], clean[:32]), verbose=0)
denoised = autoencoder.predict(noisy[:4], verbose=0)
params = autoencoder.count_params()
names = sorted(history.history)
out_shape = tuple(denoised.shape)
"""


def test_denoising_autoencoder_with_conv2d_transpose(channels_last):
    same_report(DENOISING_AUTOENCODER, keys=("params", "names", "out_shape"))


STRUCTURED_NORMALIZATION = """
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(0)
features = np.column_stack([rng.normal(50, 10, 300), rng.normal(0.01, 0.002, 300), rng.uniform(0, 1000, 300)]).astype("float32")
target = ((features[:, 0] - 50) / 10 + (features[:, 2] - 500) / 300 > 0).astype("float32")

normalizer = layers.Normalization()
normalizer.adapt(features)
inputs = keras.Input(shape=(3,))
x = normalizer(inputs)
x = layers.Dense(16, activation="relu")(x)
x = layers.Dropout(0.2)(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.compile(
    optimizer="adam",
    loss="binary_crossentropy",
    metrics=["accuracy", keras.metrics.AUC(name="auc"), keras.metrics.Precision(name="precision"), keras.metrics.Recall(name="recall")],
)
history = model.fit(features, target, epochs=4, batch_size=32, validation_split=0.2, verbose=0)
params = model.count_params()
names = sorted(history.history)
mean = np.asarray(normalizer.mean).ravel().round(3).tolist()
"""


def test_structured_data_with_normalization_adapt_and_auc_precision_recall():
    ns = same_report(STRUCTURED_NORMALIZATION)
    assert ns["params"] == 7 + 3 * 16 + 16 + 16 + 1  # mean, variance (3 each) and count
    if HAVE_KERAS:
        theirs = run(STRUCTURED_NORMALIZATION, real=True)
        np.testing.assert_allclose(ns["mean"], theirs["mean"], rtol=1e-4)


TEXT_VECTORIZATION = """
import numpy as np
import keras
from keras import layers

good = ["a great film", "loved it", "wonderful acting", "great fun", "a lovely story"]
bad = ["a boring film", "hated it", "awful acting", "dull and slow", "a terrible story"]
rng = np.random.default_rng(0)
texts = np.array([good[i % 5] if i % 2 == 0 else bad[i % 5] for i in range(120)])
labels = np.array([1.0 if i % 2 == 0 else 0.0 for i in range(120)], dtype="float32")

max_features = 50
sequence_length = 6
vectorize_layer = layers.TextVectorization(
    max_tokens=max_features, output_mode="int", output_sequence_length=sequence_length
)
vectorize_layer.adapt(texts)
x_train = vectorize_layer(texts)

inputs = keras.Input(shape=(None,), dtype="int64")
x = layers.Embedding(max_features, 8)(inputs)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dense(8, activation="relu")(x)
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
model = keras.Model(inputs, predictions)
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, labels, epochs=4, batch_size=16, verbose=0)

# An end-to-end model that takes raw strings
string_input = keras.Input(shape=(1,), dtype="string")
end_to_end = keras.Model(string_input, model(vectorize_layer(string_input)))
probabilities = end_to_end.predict(np.array([["a great story"], ["a boring story"]]), verbose=0)
params = model.count_params()
names = sorted(history.history)
vocabulary = vectorize_layer.get_vocabulary()[:2]
"""


def test_text_vectorization_as_a_preprocessing_step():
    # Keras 3's TextVectorization needs TensorFlow even on the PyTorch backend: compare where it is
    keys = ("params", "names", "vocabulary") if importlib.util.find_spec("tensorflow") else ()
    ns = run(TEXT_VECTORIZATION)
    losses = ns["history"].history["loss"]
    assert losses[-1] < losses[0], losses
    if HAVE_KERAS and keys:
        theirs = run(TEXT_VECTORIZATION, real=True)
        for key in keys:
            assert ns[key] == theirs[key], key
    assert ns["probabilities"].shape == (2, 1)


OPS_IN_LAMBDA = """
import numpy as np
import keras
from keras import layers, ops

inputs = keras.Input(shape=(4,))
features = layers.Lambda(lambda t: ops.concatenate([t, ops.square(t), ops.sin(t)], axis=-1))(inputs)
centred = layers.Lambda(lambda t: t - ops.mean(t, axis=-1, keepdims=True))(features)
x = layers.Dense(16, activation="gelu")(centred)
outputs = layers.Dense(1)(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.Huber(), metrics=["mae"])
rng = np.random.default_rng(0)
x_train = rng.uniform(-2, 2, size=(256, 4)).astype("float32")
y_train = (x_train**2).sum(axis=1, keepdims=True) - np.sin(x_train[:, :1])
history = model.fit(x_train, y_train, epochs=6, batch_size=32, verbose=0)
params = model.count_params()
names = sorted(history.history)
"""


def test_keras_ops_inside_lambda_layers():
    same_report(OPS_IN_LAMBDA, loss_falls_to=0.7)


CALLBACKS = """
import os
import numpy as np
import keras
from keras import layers


class CountingCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = {}

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def on_train_begin(self, logs=None):
        self._count("train_begin")

    def on_epoch_end(self, epoch, logs=None):
        self._count("epoch_end")
        self.last_epoch_keys = sorted(logs)

    def on_train_batch_end(self, batch, logs=None):
        self._count("train_batch_end")

    def on_test_batch_end(self, batch, logs=None):
        self._count("test_batch_end")


def scheduler(epoch, lr):
    return lr if epoch < 2 else lr * 0.5


model = keras.Sequential([keras.Input(shape=(6,)), layers.Dense(12, activation="relu"), layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
rng = np.random.default_rng(0)
x = rng.normal(size=(200, 6)).astype("float32")
y = x[:, :1] - 2 * x[:, 1:2]
counter = CountingCallback()
log_path = os.path.join(log_dir, "training.csv")
history = model.fit(
    x, y, epochs=4, batch_size=40, validation_split=0.2, verbose=0,
    callbacks=[
        keras.callbacks.LearningRateScheduler(scheduler),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-4),
        keras.callbacks.CSVLogger(log_path),
        counter,
    ],
)
with open(log_path) as f:
    csv_header = f.readline().strip().split(",")
csv_rows = sum(1 for _ in open(log_path)) - 1
params = model.count_params()
names = sorted(history.history)
calls = counter.calls
epoch_keys = counter.last_epoch_keys
lrs = [round(float(v), 6) for v in history.history["learning_rate"]]
"""


def test_learning_rate_scheduler_reduce_on_plateau_csv_logger_and_a_custom_callback(tmp_path):
    src = CALLBACKS.replace("log_dir", repr(str(tmp_path)))
    ns = same_report(src, keys=("params", "names", "calls", "epoch_keys", "csv_header", "csv_rows"))
    assert ns["calls"] == {"train_begin": 1, "epoch_end": 4, "train_batch_end": 16, "test_batch_end": 4}
    assert ns["lrs"][:3] == [0.05, 0.05, 0.025]


SUMMARY_AND_PREDICT = """
import io
import contextlib
import numpy as np
import keras
from keras import layers

model = keras.Sequential(name="my_sequential")
model.add(keras.Input(shape=(7,)))
model.add(layers.Dense(10, activation="relu", name="layer1"))
model.add(layers.Dense(6, activation="relu", name="layer2"))
model.add(layers.Dense(2, name="layer3"))
buffer = io.StringIO()
with contextlib.redirect_stdout(buffer):
    model.summary()
summary_text = buffer.getvalue()
model.compile(optimizer="adam", loss=keras.losses.MeanSquaredError(), metrics=[keras.metrics.MeanAbsoluteError()])
rng = np.random.default_rng(0)
x = rng.normal(size=(100, 7)).astype("float32")
y = np.column_stack([x.sum(axis=1), x[:, 0]]).astype("float32")
history = model.fit(x, y, epochs=5, batch_size=20, verbose=0)
predictions = model.predict(x, batch_size=16, verbose=0)
first_layer = model.get_layer("layer1")
kernel, bias = first_layer.get_weights()
params = model.count_params()
names = sorted(history.history)
layer_params = [layer.count_params() for layer in model.layers]
shapes = (tuple(predictions.shape), kernel.shape, bias.shape)
metrics_names = list(model.metrics_names)
evaluated = model.evaluate(x, y, batch_size=25, verbose=0, return_dict=True)
evaluated_names = sorted(evaluated)
"""


def test_summary_count_params_get_layer_and_batched_predict():
    ns = same_report(
        SUMMARY_AND_PREDICT,
        keys=("params", "names", "shapes", "evaluated_names"),
        loss_falls_to=0.95,
    )
    # a layer's count_params() is minidl's (trainable, non_trainable) pair where Keras gives one int
    assert [sum(c) for c in ns["layer_params"]] == [80, 66, 14]
    text = ns["summary_text"]
    assert "my_sequential" in text and "layer1" in text and "Total params: 160" in text.replace(",", "")
