"""A third sweep: four more keras.io-style programs run through ``minidl_keras`` with only their
imports changed and, where Keras 3 is installed (PyTorch backend), in Keras as written. Both must
report the same parameter counts, layer counts, weight shapes and names in ``history`` and
``evaluate(return_dict=True)``; minidl's training loss must fall; and minidl given Keras's
trained weights (``set_weights``) must predict what Keras predicts.

They follow keras.io's "Siamese networks" (one embedding and one GRU shared by two inputs,
``Subtract``/``Multiply``/``Concatenate``), "Bidirectional LSTM on IMDB" (``Embedding(mask_zero=
True)`` into a ``Bidirectional(GRU)`` and ``GlobalMaxPooling1D``), "Xception-style" separable
convolutions (``SeparableConv2D``, ``BatchNormalization``, ``MaxPooling2D(padding="same")``,
``TopKCategoricalAccuracy``) and a residual regressor (``swish``/``elu``, ``Add``,
``LayerNormalization``, ``Huber``, ``RootMeanSquaredError``). Before this file, the third
stopped at ``keras.metrics.TopKCategoricalAccuracy`` (a clear ``NotImplementedError``); the
other three ran unchanged.
"""

import minidl_keras
import numpy as np
import pytest

from tests.keras.keras_oracle import HAVE_KERAS
from tests.keras.programs.test_io_programs import run, same_report

pytestmark = pytest.mark.slow  # whole programs trained in minidl and in Keras: make test

KEYS = ("params", "layer_count", "shapes", "names", "evaluated")

REPORT = """
history = model.fit(x, y, batch_size=16, epochs=6, verbose=0, shuffle=False)
params = model.count_params()
layer_count = len(model.layers)
shapes = [tuple(w.shape) for w in model.get_weights()]
names = sorted(history.history)
evaluated = sorted(model.evaluate(x, y, verbose=0, return_dict=True))
"""

SIAMESE = (
    """
import numpy as np
import keras
from keras import layers

left = keras.Input(shape=(12,), dtype="int32")
right = keras.Input(shape=(12,), dtype="int32")
embed, encode = layers.Embedding(50, 8), layers.GRU(6)
a, b = encode(embed(left)), encode(embed(right))
merged = layers.Concatenate()([a, b, layers.Subtract()([a, b]), layers.Multiply()([a, b])])
hidden = layers.Dense(8, activation="relu")(merged)
model = keras.Model([left, right], layers.Dense(1, activation="sigmoid")(hidden))
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
xa, xb = rng.integers(1, 50, (64, 12)), rng.integers(1, 50, (64, 12))
same = rng.integers(0, 2, 64).astype(bool)
xb[same] = xa[same]  # a pair is "the same" when both sequences are equal
x, y = [xa, xb], same.astype("float32")[:, None]
"""
    + REPORT
)

BIDIRECTIONAL_MASKED = (
    """
import numpy as np
import keras
from keras import layers

tokens = keras.Input(shape=(None,), dtype="int32")
x = layers.Embedding(40, 8, mask_zero=True)(tokens)
x = layers.Bidirectional(layers.GRU(5, return_sequences=True))(x)
x = layers.GlobalMaxPooling1D()(x)
model = keras.Model(tokens, layers.Dense(3, activation="softmax")(x))
model.compile(optimizer=keras.optimizers.RMSprop(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(1)
x = rng.integers(1, 40, (48, 10))
x[:, 7:] = 0  # padding after the words
y = x[:, 0] % 3  # the class is in the first word
"""
    + REPORT
)

SEPARABLE = (
    """
import numpy as np
import keras
from keras import layers

model = keras.Sequential([
    keras.Input((16, 16, 3)),
    layers.SeparableConv2D(8, 3, padding="same", activation="relu"),
    layers.BatchNormalization(),
    layers.MaxPooling2D(3, strides=2, padding="same"),
    layers.SeparableConv2D(12, 3, activation="relu"),
    layers.GlobalAveragePooling2D(),
    layers.Dropout(0.3),
    layers.Dense(4, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy",
              metrics=["accuracy", keras.metrics.TopKCategoricalAccuracy(k=2)])
rng = np.random.default_rng(2)
labels = rng.integers(0, 4, 32)
x = rng.normal(size=(32, 16, 16, 3)).astype("float32")
x[np.arange(32), 4 * labels, :, 0] += 3.0  # a bright row marks the class
y = keras.utils.to_categorical(labels, 4)
"""
    + REPORT
)

RESIDUAL_REGRESSOR = (
    """
import numpy as np
import keras
from keras import layers

inputs = keras.Input((6,))
h = layers.Dense(16, activation="swish")(inputs)
h = layers.Add()([h, layers.Dense(16, activation="elu")(h)])
h = layers.LayerNormalization()(h)
model = keras.Model(inputs, layers.Dense(1)(h))
model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss=keras.losses.Huber(delta=0.5),
              metrics=[keras.metrics.RootMeanSquaredError(), "mae"])
rng = np.random.default_rng(3)
x = rng.normal(size=(64, 6)).astype("float32")
y = (x.sum(axis=1, keepdims=True) ** 2).astype("float32")
"""
    + REPORT
)


@pytest.fixture
def channels_last():
    previous = minidl_keras.config.image_data_format()
    minidl_keras.config.set_image_data_format("channels_last")
    yield
    minidl_keras.config.set_image_data_format(previous)


@pytest.mark.parametrize(
    "source",
    [SIAMESE, BIDIRECTIONAL_MASKED, SEPARABLE, RESIDUAL_REGRESSOR],
    ids=["siamese", "bidirectional", "separable", "residual"],
)
def test_program_reports_and_predicts_as_keras(source, channels_last):
    ours = same_report(source, keys=KEYS)
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
