"""An eighth sweep (issue #78, the attribute walk's differences): programs that read layers'
configs by Keras's keys, make layers again from them, spell out Keras's options at their
defaults, and use the callbacks' and ``Lambda``'s options the door gained, run through
``minidl_keras`` with only their imports changed and, where Keras 3 is installed (PyTorch
backend), in Keras as written. Both must compute the same ``seen``.
"""

import pytest

from tests.keras.keras_oracle import HAVE_KERAS
from tests.keras.programs.test_io_programs import run

pytestmark = pytest.mark.slow  # whole programs trained in minidl and in Keras: make test


def same_seen(source: str):
    ours = run(source)
    if HAVE_KERAS:
        theirs = run(source, real=True)
        assert ours["seen"] == theirs["seen"]
    return ours


CONFIGS = """
import numpy as np
import keras
from keras import layers

model = keras.Sequential([
    keras.Input((8, 8, 3)),
    layers.Conv2D(4, 3, strides=(1, 1), padding="same", dilation_rate=1, groups=1, dtype="float32"),
    layers.BatchNormalization(epsilon=1e-3, renorm=False, synchronized=False, gamma_initializer="ones"),
    layers.LeakyReLU(negative_slope=0.2),
    layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2)),
    layers.ReLU(max_value=None, negative_slope=0.0, threshold=0.0),
    layers.Flatten(data_format=None),
    layers.Dense(6, trainable=True),
    layers.LayerNormalization(epsilon=1e-5, center=True, scale=True, rms_scaling=False),
    layers.Dense(1),
])
read = []
for layer in model.layers:
    config = layer.get_config()
    again = type(layer).from_config(config)
    read.append((
        type(layer).__name__,
        config["trainable"],
        config["dtype"]["config"]["name"],
        config.get("epsilon"),
        config.get("strides"),
        config.get("negative_slope"),
        config.get("renorm"),
        sorted(again.get_config()) == sorted(config),
    ))
x = np.random.default_rng(0).normal(size=(32, 8, 8, 3)).astype("float32")
y = x.mean(axis=(1, 2, 3))[:, None]
model.compile(optimizer="adam", loss="mse")
history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
seen = (read, sorted(history.history), model.layers[-2].get_config()["epsilon"])
"""


def test_configs_read_by_keras_keys_and_layers_made_again_from_them():
    ours = same_seen(CONFIGS)
    assert ours["history"].history["loss"][-1] < ours["history"].history["loss"][0]


CALLBACKS = """
import os
import tempfile
import numpy as np
import keras
from keras import layers

x = np.random.default_rng(1).normal(size=(40, 3)).astype("float32")
y = x.sum(axis=1, keepdims=True)

def epochs_run(callback, **fit):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-6), loss="mse")  # a flat loss
    history = model.fit(x, y, epochs=8, batch_size=10, verbose=0, callbacks=[callback], **fit)
    return len(history.history["loss"])

stops = [
    epochs_run(keras.callbacks.EarlyStopping(monitor="loss", patience=2, baseline=0.0, min_delta=1.0)),
    epochs_run(keras.callbacks.EarlyStopping(monitor="loss", patience=2, baseline=0.0, min_delta=1.0,
                                             start_from_epoch=3)),
    epochs_run(keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1.0)),
]
folder = tempfile.mkdtemp()
saved = []
for threshold in (-1.0, 1e9):
    path = os.path.join(folder, f"best{len(saved)}.keras")
    epochs_run(keras.callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True,
                                               initial_value_threshold=threshold))
    saved.append(os.path.exists(path))

bad = x.copy()
bad[0, 0] = np.nan
model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
try:
    model.fit(bad, y, epochs=2, batch_size=40, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)])
    raised = None
except RuntimeError as error:
    raised = str(error).split(".")[0]

def scaled(t, factor):
    return t * factor

double = keras.Sequential([keras.Input((3,)), layers.Lambda(scaled, arguments={"factor": 3.0})])
seen = (stops, saved, raised, np.asarray(double.predict(x[:2], verbose=0)).round(5).tolist())
"""


def test_early_stopping_baseline_checkpoint_threshold_nan_error_and_lambda_arguments():
    ours = same_seen(CALLBACKS)
    assert ours["stops"] == [2, 5, 2] and ours["saved"] == [False, True]
    assert ours["raised"] == "NaN or Inf loss encountered at batch 0"


NAMES = """
import keras

losses = [keras.losses.MeanSquaredError(), keras.losses.Huber(), keras.losses.BinaryCrossentropy(),
          keras.losses.SparseCategoricalCrossentropy()]
metrics = [keras.metrics.Mean(), keras.metrics.Sum(), keras.metrics.AUC(), keras.metrics.Precision(thresholds=[0.3, 0.6]),
           keras.metrics.BinaryAccuracy(threshold=0.7), keras.metrics.TopKCategoricalAccuracy(k=3)]
auc = keras.metrics.AUC(num_thresholds=50, curve="PR").get_config()
seen = (
    [loss.name for loss in losses],
    [m.name for m in metrics],
    [sorted(m.get_config()) for m in metrics],
    (auc["num_thresholds"], auc["curve"], auc["summation_method"], auc["multi_label"]),
    metrics[3].get_config()["thresholds"],
    metrics[4].get_config()["threshold"],
    metrics[5].get_config()["k"],
    keras.optimizers.AdamW().get_config()["weight_decay"],
    keras.optimizers.Adam().get_config()["weight_decay"],
)
"""


def test_losses_and_metrics_default_names_and_configs():
    same_seen(NAMES)


@pytest.mark.skipif(not HAVE_KERAS, reason="the refusals are checked against Keras's acceptance")
def test_options_refused_at_other_values_are_ones_keras_takes():
    """Each option the door takes at Keras's default only is one Keras takes at another value:
    the door says so in Keras's words, naming the option."""
    from minidl_keras.missing import KerasFeatureMissing

    for source in (
        "layers.ReLU(max_value=6.0)",
        "layers.BatchNormalization(renorm=True)",
        "layers.Conv2D(2, 3, dilation_rate=2)",
        "layers.LayerNormalization(rms_scaling=True)",
        "layers.LSTM(3, stateful=True)",
        "layers.Dense(2, dtype='float64')",
        "keras.callbacks.ModelCheckpoint('m.keras', save_freq=5)",
    ):
        program = f"import keras\nfrom keras import layers\nmade = {source}\n"
        run(program, real=True)
        with pytest.raises(KerasFeatureMissing) as err:
            run(program)
        option = source.split("(", 1)[1].split(",")[-1].split("=")[0].strip()
        assert f"({option}=" in str(err.value) and "is not in minidl_keras" in str(err.value)
