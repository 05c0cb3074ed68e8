"""Keras programs, as keras.io and introductory texts print them, run through ``minidl_keras``
with only their imports changed -- and the pieces they rely on.

Each program in ``PROGRAMS`` is Keras source: ``run_program`` changes its imports
(``import keras`` -> ``import minidl_keras as keras``, ``from keras...`` ->
``from minidl_keras...``) and nothing else, executes it, and the test checks that it
trained (the loss fell, the accuracy beat chance). The data are small (a few batches) so
the whole file stays fast; the Simple MNIST convnet is keras.io's text verbatim, fed a
slice of the bundled MNIST subset.

The second half checks what the programs rely on: channels-last image layers agree with
channels-first ones and pass float64 gradient checks, frozen layers stay bit-identical,
Keras's names print and save under minidl's class names.
"""

import re
import textwrap

import minidl_keras
import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl.nn.gradcheck import check_layer


@pytest.fixture
def channels_last():
    """Keras's default image layout for the duration of one test (what a Keras program assumes)."""
    previous = minidl_keras.config.image_data_format()
    minidl_keras.config.set_image_data_format("channels_last")
    yield
    minidl_keras.config.set_image_data_format(previous)


def falls(history, key="loss", by=0.8):
    values = history.history[key]
    return values[-1] < by * values[0]


def as_minidl(source: str) -> str:
    """The one change a Keras program needs: its imports."""
    source = re.sub(r"^(\s*)import keras$", r"\1import minidl_keras as keras", source, flags=re.M)
    return re.sub(r"^(\s*)from keras(\.| )", r"\1from minidl_keras\2", source, flags=re.M)


def run_program(source: str, **data) -> dict:
    """Execute a Keras program (imports changed) with ``data`` as its globals; returns them."""
    namespace = dict(data)
    mdl.seed(0)
    exec(compile(as_minidl(textwrap.dedent(source)), "<keras program>", "exec"), namespace)
    return namespace


def mnist_slice(n_train=600, n_test=200):
    """A slice of the bundled subset in Keras's format (uint8 (N, 28, 28))."""
    (x, y), (xt, yt) = minidl_keras.datasets.mnist.load_data()
    return (x[:n_train], y[:n_train]), (xt[:n_test], yt[:n_test])


# ------------------------------------------------------------------ the programs
SIMPLE_MNIST_CONVNET = """
import numpy as np
import keras
from keras import layers

# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

# Load the data and split it between train and test sets
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")


# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

batch_size = 128
epochs = 15

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
"""


@pytest.mark.slow
def test_keras_io_simple_mnist_convnet_verbatim(monkeypatch, capsys):
    """keras.io's "Simple MNIST convnet" (Keras 3), unchanged but for the import; fed 128 of
    the bundled training images (one batch of 115 per epoch after the validation split: 15
    steps of Adam) so it runs in seconds."""
    data = mnist_slice(128, 200)
    monkeypatch.setattr(minidl_keras.datasets.mnist, "load_data", lambda: data)
    ns = run_program(SIMPLE_MNIST_CONVNET)
    model, score = ns["model"], ns["score"]
    history = model.history.history
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert isinstance(score, list) and len(score) == 2
    assert score[1] > 0.3, score  # chance is 0.1
    assert model.layers[0].data_format == "channels_last" and model.layers[0].output_shape == (26, 26, 32)
    out = capsys.readouterr().out
    assert "x_train shape: (128, 28, 28, 1)" in out and "Total params: 34,826" in out  # as on keras.io
    assert "Test accuracy:" in out


def test_mlp_with_sgd_momentum_and_from_logits():
    (x, y), (xt, yt) = mnist_slice(1000, 300)
    ns = run_program(
        """
        import keras
        from keras import layers

        x_train = x.reshape(-1, 784).astype("float32") / 255
        x_test = xt.reshape(-1, 784).astype("float32") / 255
        model = keras.Sequential([
            keras.Input(shape=(784,)),
            layers.Dense(64, activation="relu"),
            layers.Dense(10),
        ])
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        history = model.fit(x_train, y, batch_size=64, epochs=4, validation_split=0.2, verbose=0)
        test_loss, test_acc = model.evaluate(x_test, yt, verbose=0)
        print(f"Test accuracy: {test_acc:.3f}")
        """,
        x=x,
        y=y,
        xt=xt,
        yt=yt,
    )
    assert isinstance(ns["test_loss"], float) and ns["test_acc"] > 0.7, ns["test_acc"]
    assert falls(ns["history"], by=0.5)
    assert ns["model"].optimizer.momentum == 0.9


def _token_data(n=300, vocab=30, seed=0):
    """Lists of token ids of lengths 3..15; label 1 when token 7 occurs."""
    rng = np.random.default_rng(seed)
    seqs = [list(rng.integers(1, vocab, rng.integers(3, 16))) for _ in range(n)]
    for s, label in zip(seqs, rng.random(n) < 0.5):  # balance the classes
        if label and 7 not in s:
            s[rng.integers(len(s))] = 7
    return seqs, np.array([int(7 in s) for s in seqs])


def test_embedding_lstm_on_padded_sequences():
    seqs, labels = _token_data()
    ns = run_program(
        """
        import keras
        from keras import layers
        from keras.utils import pad_sequences

        x_train = pad_sequences(seqs, maxlen=16)
        model = keras.Sequential([
            layers.Embedding(input_dim=30, output_dim=16),
            layers.LSTM(16, dropout=0.2, recurrent_dropout=0.2),
            layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=0.01),
                      metrics=["accuracy"])
        history = model.fit(x_train, labels, batch_size=32, epochs=6, validation_split=0.2, verbose=0)
        loss, accuracy = model.evaluate(x_train, labels, verbose=0)
        """,
        seqs=seqs,
        labels=labels,
    )
    assert ns["x_train"].shape == (300, 16) and ns["x_train"].dtype == np.int32
    assert falls(ns["history"], by=0.7) and ns["accuracy"] > 0.8, ns["accuracy"]


def _sine_windows(n=200, T=12, seed=0):
    rng = np.random.default_rng(seed)
    phase, freq = rng.uniform(0, 2 * np.pi, (n, 1)), rng.uniform(0.3, 0.6, (n, 1))
    t = np.arange(T + 1)
    wave = np.sin(freq * t + phase)
    return wave[:, :T, None], wave[:, T:]  # (n, T, 1) -> next value (n, 1)


def test_stacked_lstms_forecast_a_sine():
    x, y = _sine_windows()
    ns = run_program(
        """
        from keras.models import Sequential
        from keras.layers import LSTM, Dense

        model = Sequential()
        model.add(LSTM(16, return_sequences=True, input_shape=(12, 1)))
        model.add(LSTM(8))
        model.add(Dense(1))
        model.compile(optimizer="adam", loss="mse")
        history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
        mse = model.evaluate(x, y, verbose=0)
        """,
        x=x,
        y=y,
    )
    assert isinstance(ns["mse"], float)  # no metrics: the loss alone, as Keras
    assert falls(ns["history"], by=0.5) and ns["mse"] < 0.3, ns["history"].history["loss"]


def test_input_and_gru_on_sequences_of_any_length():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (256, 10, 3)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True) / 3
    ns = run_program(
        """
        import keras
        from keras import layers

        inputs = keras.Input(shape=(None, 3))
        model = keras.Sequential([inputs, layers.GRU(16), layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
        history = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
        loss, mae = model.evaluate(x, y, verbose=0)
        short = model.predict(x[:4, :5], verbose=0)
        """,
        x=x,
        y=y,
    )
    assert falls(ns["history"], by=0.3) and ns["short"].shape == (4, 1)
    assert ns["model"].input_shape == (None, None, 3)  # Keras's: the batch axis, then the free time axis


def _waves(n=240, L=64, seed=0):
    """Sines (class 0) and square waves (class 1) with random frequency, phase and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(L)
    freq, phase = rng.uniform(0.1, 0.4, (n, 1)), rng.uniform(0, 2 * np.pi, (n, 1))
    y = rng.integers(0, 2, n)
    s = np.sin(freq * t + phase)
    x = np.where(y[:, None] == 1, np.sign(s), s) + 0.2 * rng.standard_normal((n, L))
    return x[:, :, None].astype("float32"), y


def test_conv1d_classifier():
    x, y = _waves()
    ns = run_program(
        """
        import keras
        from keras import layers

        model = keras.Sequential([
            keras.Input(shape=(64, 1)),
            layers.Conv1D(filters=8, kernel_size=5, activation="relu"),
            layers.MaxPooling1D(pool_size=2),
            layers.Conv1D(filters=16, kernel_size=3, strides=2, padding="same", activation="relu"),
            layers.GlobalAveragePooling1D(),
            layers.Dense(2, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=32, epochs=8, validation_split=0.2, verbose=0)
        """,
        x=x,
        y=y,
    )
    assert falls(ns["history"], by=0.6)
    assert ns["history"].history["val_accuracy"][-1] > 0.75, ns["history"].history
    assert [layer.output_shape for layer in ns["model"].layers[:4]] == [(60, 8), (30, 8), (15, 16), (16,)]


def test_convolutional_autoencoder_with_strides_and_transposed_convolutions():
    (x, _), _ = mnist_slice(128)
    ns = run_program(
        """
        import keras
        from keras import layers

        x_train = x.astype("float32") / 255.0
        x_train = x_train.reshape((len(x_train), 28, 28, 1))
        autoencoder = keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(8, (3, 3), activation="relu", padding="same", strides=2),
            layers.Conv2D(8, (3, 3), activation="relu", padding="same", strides=2),
            layers.Conv2DTranspose(8, kernel_size=3, strides=2, activation="relu", padding="same"),
            layers.Conv2DTranspose(8, kernel_size=3, strides=2, activation="relu", padding="same"),
            layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same"),
        ])
        autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
        history = autoencoder.fit(x_train, x_train, epochs=5, batch_size=32, shuffle=True, verbose=0)
        decoded = autoencoder.predict(x_train[:8], verbose=0)
        """,
        x=x,
    )
    assert ns["decoded"].shape == (8, 28, 28, 1)
    assert [layer.output_shape for layer in ns["autoencoder"].layers] == [
        (14, 14, 8),
        (7, 7, 8),
        (14, 14, 8),
        (28, 28, 8),
        (28, 28, 1),
    ]
    assert falls(ns["history"], by=0.7), ns["history"].history["loss"]


def test_batchnorm_callbacks_checkpoint_and_load_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (x, y), (xt, yt) = mnist_slice(800, 200)
    ns = run_program(
        """
        import keras
        from keras import layers, callbacks

        x_train = x.reshape(-1, 784).astype("float32") / 255
        x_test = xt.reshape(-1, 784).astype("float32") / 255
        model = keras.Sequential([
            layers.Dense(64, input_shape=(784,)),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        cbs = [
            callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
            callbacks.ModelCheckpoint("best_model.keras", monitor="val_loss", save_best_only=True),
        ]
        history = model.fit(x_train, y, validation_split=0.2, epochs=6, batch_size=64,
                            callbacks=cbs, verbose=0)
        best = keras.models.load_model("best_model.keras")
        test_loss, test_acc = best.evaluate(x_test, yt, verbose=0)
        """,
        x=x,
        y=y,
        xt=xt,
        yt=yt,
    )
    assert (tmp_path / "best_model.keras").exists()
    assert ns["test_acc"] > 0.7 and falls(ns["history"], by=0.7)
    best_val = min(ns["history"].history["val_loss"])
    val = ns["x_train"][640:], ns["y"][640:]
    assert ns["best"].evaluate(*val)[0] == pytest.approx(best_val, rel=1e-4)  # the best epoch's model
    assert (
        type(ns["best"].layers[1]).__name__ == "BatchNormalization" and ns["best"].layers[1].momentum == 0.99
    )


def test_learning_rate_schedule_and_class_weight():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 1.2).astype("int64")  # about 1 in 10 positive
    ns = run_program(
        """
        import keras
        from keras import layers

        lr_schedule = keras.optimizers.schedules.ExponentialDecay(
            initial_learning_rate=1e-2, decay_steps=20, decay_rate=0.9)
        model = keras.Sequential([
            keras.Input(shape=(4,)),
            layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4)),
            layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr_schedule),
                      loss="binary_crossentropy", metrics=["accuracy"])
        neg, pos = np.bincount(y)
        class_weight = {0: (1 / neg) * (len(y) / 2.0), 1: (1 / pos) * (len(y) / 2.0)}
        history = model.fit(x, y, batch_size=32, epochs=8, class_weight=class_weight, verbose=0)
        predicted = model.predict(x, verbose=0)[:, 0] > 0.5
        """,
        x=x,
        y=y,
        np=np,
    )
    model, predicted = ns["model"], ns["predicted"]
    assert falls(ns["history"], by=0.7)
    recall = predicted[y == 1].mean()
    assert recall > 0.85, recall  # the rare class is found
    steps = 8 * 19  # 600 / 32 -> 19 batches an epoch
    assert model.optimizer.iterations == steps
    assert model.optimizer.lr == pytest.approx(1e-2 * 0.9 ** (steps / 20))  # the next step's, as Keras


@pytest.mark.slow
def test_first_network_on_a_csv_file(tmp_path, monkeypatch):
    """The classic "your first neural network" program: a CSV read with np.loadtxt (float64)."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 1, (400, 8))
    outcome = (features[:, 1] + features[:, 5] + 0.2 * rng.standard_normal(400) > 1.0).astype(float)
    np.savetxt("data.csv", np.column_stack([features, outcome]), delimiter=",", fmt="%.4f")
    ns = run_program("""
        from numpy import loadtxt
        from keras.models import Sequential
        from keras.layers import Dense

        dataset = loadtxt('data.csv', delimiter=',')
        X = dataset[:, 0:8]
        y = dataset[:, 8]
        model = Sequential()
        model.add(Dense(12, input_shape=(8,), activation='relu'))
        model.add(Dense(8, activation='relu'))
        model.add(Dense(1, activation='sigmoid'))
        model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
        model.fit(X, y, epochs=30, batch_size=10, verbose=0)
        _, accuracy = model.evaluate(X, y)
        print('Accuracy: %.2f' % (accuracy * 100))
        """)
    assert ns["X"].dtype == np.float64
    assert ns["model"].layers[0].params["W"].dtype == np.float32  # cast, as Keras: no float64 model
    assert ns["accuracy"] > 0.8, ns["accuracy"]


def test_pydataset_and_generator_with_steps_per_epoch_and_sample_weight():
    rng = np.random.default_rng(0)
    x_all = rng.standard_normal((320, 5)).astype("float32")
    y_all = (x_all @ np.array([1.0, -2.0, 0.5, 0.0, 1.0]) > 0).astype("int64")
    ns = run_program(
        """
        import numpy as np
        import keras
        from keras import layers

        class Batches(keras.utils.PyDataset):
            def __init__(self, x, y, batch_size, **kwargs):
                super().__init__(**kwargs)
                self.x, self.y, self.batch_size = x, y, batch_size
                self.epochs_seen = 0

            def __len__(self):
                return int(np.ceil(len(self.x) / self.batch_size))

            def __getitem__(self, idx):
                low = idx * self.batch_size
                high = min(low + self.batch_size, len(self.x))
                return self.x[low:high], self.y[low:high]

            def on_epoch_end(self):
                self.epochs_seen += 1

        def forever(x, y, batch_size):
            while True:
                for i in range(0, len(x), batch_size):
                    yield x[i:i + batch_size], y[i:i + batch_size], np.ones(len(x[i:i + batch_size]))

        model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(8, activation="relu"),
                                  layers.Dense(2, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        data = Batches(x_all, y_all, batch_size=32)
        h1 = model.fit(data, epochs=5, verbose=0)
        h2 = model.fit(forever(x_all, y_all, 32), steps_per_epoch=10, epochs=5, verbose=0)
        weights = np.where(y_all == 1, 2.0, 1.0)
        h3 = model.fit(x_all, y_all, sample_weight=weights, epochs=2, verbose=0)
        loss, acc = model.evaluate(data, verbose=0)
        """,
        x_all=x_all,
        y_all=y_all,
    )
    assert ns["data"].epochs_seen == 5 + 1  # on_epoch_end after each epoch and evaluate
    assert ns["model"].optimizer.iterations == 5 * 10 + 5 * 10 + 2 * 10
    assert falls(ns["h1"], by=0.8) and ns["acc"] > 0.85


def test_rescaling_inside_the_model_on_uint8_images():
    (x, y), _ = mnist_slice(300)
    ns = run_program(
        """
        import keras
        from keras import layers

        model = keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x[..., None], y, epochs=4, batch_size=32, verbose=0)
        results = model.evaluate(x[..., None], y, return_dict=True, verbose=0)
        """,
        x=x,
        y=y,
    )
    assert ns["x"].dtype == np.uint8 and falls(ns["history"], by=0.5)
    assert set(ns["results"]) == {"loss", "accuracy"} and ns["results"]["accuracy"] > 0.6


def test_only_the_import_changes():
    assert as_minidl("import keras\nfrom keras import layers\nfrom keras.models import Sequential\n") == (
        "import minidl_keras as keras\nfrom minidl_keras import layers\n"
        "from minidl_keras.models import Sequential\n"
    )


# ------------------------------------------------------------------ Keras names in minidl's own door
def test_mlp_with_add_input_shape_mse_and_mae():
    from minidl.models import Sequential
    from minidl.nn.layers import Dense

    rng = np.random.default_rng(0)
    X_train = rng.standard_normal((256, 10)).astype("float32")
    y_train = np.tanh(X_train @ rng.standard_normal((10, 10))).astype("float32")
    X_test, y_test = X_train[:64], y_train[:64]
    # --- Keras program
    model = Sequential()
    model.add(Dense(64, activation="relu", input_shape=(10,)))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="mean_squared_error", optimizer="adam", metrics=["mae"])
    history = model.fit(
        X_train, y_train, epochs=10, batch_size=32, validation_data=(X_test, y_test), verbose=0
    )
    predictions = model.predict(X_test)
    score = model.evaluate(X_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test mae:", score[1])
    # --- end
    assert predictions.shape == (64, 10)
    assert falls(history, by=0.95) and falls(history, "val_mae", by=0.98)
    assert score == list(model.evaluate(X_test, y_test, return_dict=True).values())
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense", "Dense"]


def test_small_cnn_on_mnist_channels_last(channels_last):
    from minidl_keras.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from minidl_keras.models import Sequential
    from minidl_keras.utils import to_categorical

    (x_all, y_all), _ = mdl.datasets.load_mnist()
    x_train = x_all[:600].transpose(0, 2, 3, 1)  # what Keras's mnist.load_data() gives, scaled
    y_train = y_all[:600]
    # --- Keras program
    num_classes = 10
    input_shape = (28, 28, 1)
    y_train = to_categorical(y_train, num_classes)
    model = Sequential()
    model.add(Conv2D(8, kernel_size=(3, 3), activation="relu", input_shape=input_shape))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(32, activation="relu"))
    model.add(Dense(num_classes, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=0, validation_split=0.1)
    # --- end
    assert falls(history, by=0.8)
    assert history.history["accuracy"][-1] > 0.45
    assert model.layers[0].data_format == "channels_last"
    assert model.layers[0].output_shape == (26, 26, 8)  # (H, W, C), as Keras shows
    assert model.layers[0].params["W"].shape == (8, 1, 3, 3)  # kernels stay (F, C, KH, KW)


def test_lstm_regressor_with_a_free_time_axis():
    from minidl.models import Sequential
    from minidl.nn.layers import LSTM, Dense

    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 12, 10)).astype("float32")
    y = x[:, :, :3].mean(axis=1).sum(axis=1, keepdims=True).astype("float32")
    # --- Keras program
    model = Sequential()
    model.add(LSTM(16, input_shape=(None, 10)))
    model.add(Dense(1))
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    # --- end
    assert falls(history, by=0.7)
    assert model.input_shape == (None, 10)
    assert model.predict(x[:4, :5]).shape == (4, 1)  # any sequence length
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 16)" in lines[0]


def test_frozen_base_with_a_new_head_keeps_the_base_bit_identical():
    from minidl_keras import Input
    from minidl_keras.layers import BatchNormalization, Dense
    from minidl_keras.models import Sequential
    from minidl_keras.optimizers import Adam

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    base = Sequential(
        [Input(shape=(8,)), Dense(16, activation="relu"), BatchNormalization(), Dense(8, activation="relu")]
    )
    base.compile(optimizer="adam", loss="mse")
    base.fit(x, x, epochs=2, verbose=0)  # "pretrained"
    before = base.get_weights()
    # --- Keras program
    base.trainable = False
    model = Sequential([base, Dense(2, activation="softmax")])
    model.compile(
        optimizer=Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    # --- end
    assert falls(history, by=0.9)
    assert base.trainable is False and model.trainable is True
    for a, b in zip(before, base.get_weights()):  # params and BatchNorm's running statistics
        np.testing.assert_array_equal(a, b)
    frozen = sum(w.size for w in before)
    assert model.count_params() == 8 * 2 + 2 + frozen
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Non-trainable params: {frozen:,}" in lines[0]


# ------------------------------------------------------------------ what the programs rely on
def test_channels_last_layers_compute_what_channels_first_ones_do(rng):
    """The same CNN on NHWC and NCHW data, with the same weights, gives the same numbers: minidl's
    layers, and the door's (``minidl_keras.layout``) made from them."""
    from minidl_keras.layout import channels_last_class

    def net(data_format):
        def made(cls, *args, **kwargs):
            if data_format == "channels_first":
                return cls(*args, **kwargs)
            return channels_last_class(cls)(*args, data_format=data_format, **kwargs)

        mdl.seed(3)
        return mdl.Sequential(
            [
                made(L.Conv2D, 4, 3, padding="same", activation="relu"),
                made(L.BatchNorm),
                made(L.MaxPool2D, 2),
                made(L.Conv2D, 6, 3),
                made(L.AvgPool2D, 2, stride=1),
                made(L.UpSampling2D, 2),
                made(L.GlobalAvgPool2D),
                L.Dense(3),
            ],
            input_shape=(9, 9, 2) if data_format == "channels_last" else (2, 9, 9),
        )

    first, last = net("channels_first"), net("channels_last")
    last.set_weights(first.get_weights())
    x = rng.standard_normal((5, 2, 9, 9)).astype(np.float32)
    x_last = x.transpose(0, 2, 3, 1)
    for training in (False, True):
        np.testing.assert_allclose(
            last.forward(x_last, training), first.forward(x, training), rtol=1e-5, atol=1e-6
        )
    dy = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(
        last.backward(dy), first.backward(dy).transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-6
    )
    for a, b in zip(last.layers, first.layers):
        for key in a.grads:
            np.testing.assert_allclose(a.grads[key], b.grads[key], rtol=1e-4, atol=1e-6)


K = minidl_keras.layers


@pytest.mark.parametrize(
    "make_layer, training",
    [
        (lambda: K.Conv2D(3, 3, padding=1), False),
        (lambda: K.Conv2D(2, (2, 3), strides=2), False),
        (lambda: K.MaxPooling2D(2), False),
        (lambda: K.AveragePooling2D(2, strides=1), False),
        (lambda: L.GlobalAvgPool2D(), False),
        (lambda: K.GlobalAveragePooling2D(), False),
        (lambda: K.BatchNormalization(), True),
        (lambda: K.BatchNormalization(), False),
        (lambda: K.UpSampling2D(2), False),
        (lambda: K.Conv2DTranspose(2, 3, strides=2), False),
        (lambda: L.Tanh(), False),
    ],
    ids=lambda v: repr(v()) if callable(v) else f"training={v}",
)
def test_keras_layers_pass_float64_gradient_checks(make_layer, training, rng):
    x = rng.standard_normal((2, 5, 6, 3))  # (N, H, W, C) or (N, C, H, W): any works
    report = check_layer(make_layer(), x, training=training)
    assert report.passed, str(report)


def test_dense_acts_on_the_last_axis(rng):
    layer = L.Dense(4, input_shape=(5, 3))
    x = rng.standard_normal((2, 5, 3))
    y = mdl.Sequential([layer]).forward(x)
    np.testing.assert_allclose(y, x @ layer.params["W"] + layer.params["b"], rtol=1e-6)
    assert y.shape == (2, 5, 4)
    assert check_layer(L.Dense(4), rng.standard_normal((2, 5, 3))).passed


def test_keras_names_print_as_keras_and_save_under_minidl_names(tmp_path):
    """The door's layers have Keras's class names (issue #78) and a file keeps minidl's."""
    layers = minidl_keras.layers
    model = minidl_keras.Sequential(
        [
            layers.InputLayer((6, 6, 1)),
            layers.Conv2D(2, 3),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.GlobalAveragePooling2D(),
            layers.Activation("relu"),
            layers.Dense(2),
        ]
    )
    assert repr(model.layers[1]).startswith("BatchNormalization(") and "channels_last" in repr(
        model.layers[1]
    )
    assert [type(layer).__name__ for layer in model.layers] == [  # Keras's class names (issue #78)
        "Conv2D",
        "BatchNormalization",
        "MaxPooling2D",
        "GlobalAveragePooling2D",
        "Activation",
        "Dense",
    ]
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.npz")
    loaded = minidl_keras.models.load_model(tmp_path / "m.npz")
    assert [layer.data_format for layer in loaded.layers[:4]] == ["channels_last"] * 4
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    x = np.random.default_rng(0).random((3, 6, 6, 1)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert isinstance(model.layers[2], L.MaxPool2D) and isinstance(model.layers[1], L.BatchNorm)


def test_the_global_setting_does_not_change_saved_channels_first_models(tmp_path, channels_last):
    """minidl's files (the zoo's) hold minidl's channels-first layers, whatever the door's setting."""
    model = mdl.zoo.load("lenet-mnist-0to4")
    assert type(model.layers[0]) is L.Conv2D and not hasattr(model.layers[0], "data_format")
    (x, _), _ = mdl.datasets.load_mnist()
    assert model.predict(x[:4]).shape == (4, 5)


def test_input_shape_errors_say_which_shapes_disagree():
    with pytest.raises(ValueError, match=r"disagrees .*\(3,\).*give it once"):
        mdl.Sequential([L.Dense(4, input_shape=(3,))], input_shape=(5,))
    with pytest.raises(ValueError, match=r"input_shape=\(7,\).*output \(None, 4\).*first layer only"):
        mdl.Sequential([L.Dense(4, input_shape=(3,)), L.Dense(2, input_shape=(7,))])
    model = mdl.Sequential([L.Dense(4, input_shape=(3,)), L.Dense(2, input_shape=(4,))])  # agrees: fine
    assert model.input_shape == (3,)
    with pytest.raises(ValueError, match="Input.*must come first"):
        minidl_keras.Sequential([minidl_keras.layers.Dense(4), minidl_keras.Input((3,))])
    with pytest.raises(TypeError, match="takes minidl layers, got KerasTensor.*input_shape="):
        mdl.Sequential([minidl_keras.Input((3,)), L.Dense(4)])
    with pytest.raises(ValueError, match="input_shape must hold positive integers"):
        L.Dense(4, input_shape=(0, 3))
    with pytest.raises(TypeError, match="unexpected keyword argument.*activaton.*it takes units"):
        L.Dense(4, activaton="relu")
    with pytest.raises(ValueError, match="data_format must be 'channels_first'.*got 'NHWC'"):
        minidl_keras.layers.Conv2D(4, 3, data_format="NHWC")
    with pytest.raises(TypeError, match="unexpected keyword argument.*data_format"):
        L.Conv2D(4, 3, data_format="channels_last")  # minidl's layers take (N, C, H, W) only
    assert L.Dense(4, input_dim=3).declared_input_shape == (3,)


def test_to_categorical_matches_one_hot():
    y = np.array([0, 2, 1, 2])
    expected = mdl.data.one_hot(y, 3)
    to_categorical = minidl_keras.utils.to_categorical
    np.testing.assert_array_equal(to_categorical(y), expected)
    np.testing.assert_array_equal(to_categorical(y[:, None].astype(float), 3), expected)
    assert to_categorical(y, 4).shape == (4, 4)


def test_setting_model_trainable_sets_every_layer():
    model = mdl.Sequential([L.Dense(4), L.BatchNorm(), L.Dense(2)], input_shape=(3,))
    model.trainable = False
    assert [layer.trainable for layer in model.layers] == [False] * 3 and model.trainable is False
    assert model.count_params()[0] == 0
    model.trainable = True
    assert all(layer.trainable for layer in model.layers)


def test_frozen_zoo_base_trains_a_new_head_and_saves_frozen(tmp_path):
    from minidl.models import Sequential, load_model
    from minidl.nn.layers import Dense

    (x, y), _ = mdl.datasets.load_mnist()
    keep = y >= 5
    x, y = x[keep][:300], y[keep][:300] - 5
    base = mdl.zoo.load("lenet-mnist-0to4")
    base.trainable = False
    before = base.get_weights()[:-2]  # all but the old head's W, b
    model = Sequential(base.layers[:-1] + [Dense(5)])
    model.compile(
        optimizer="adam",
        loss=mdl.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert falls(history, by=0.8)
    for a, b in zip(before, model.get_weights()[:-2]):
        np.testing.assert_array_equal(a, b)
    model.save(tmp_path / "transfer.npz")
    loaded = load_model(tmp_path / "transfer.npz")
    assert [layer.trainable for layer in loaded.layers] == [False] * (len(model.layers) - 1) + [True]
    assert loaded.count_params() == model.count_params()


# ------------------------------------------------------------------ the Keras door's own pieces
def test_channels_last_is_the_keras_doors_default_only():
    from minidl_keras import layers

    assert layers.Conv2D(4, 3).data_format == "channels_last"
    assert layers.MaxPooling1D().data_format == "channels_last"
    assert not hasattr(mdl.layers.Conv2D(4, 3), "data_format")  # native: (N, C, H, W) only
    minidl_keras.config.set_image_data_format("channels_first")
    try:
        assert layers.Conv2D(4, 3).data_format == "channels_first"
    finally:
        minidl_keras.config.set_image_data_format("channels_last")
    assert layers.Conv2D(4, 3, data_format="channels_first").data_format == "channels_first"
    bn = layers.BatchNormalization()
    assert (bn.momentum, bn.eps, bn.data_format) == (0.99, 0.001, "channels_last")
    assert layers.LeakyReLU().alpha == 0.3 and layers.LayerNormalization().eps == 0.001


def test_keras_optimizer_names_and_defaults():
    from minidl_keras import optimizers

    from minidl import optim

    sgd = optimizers.SGD()
    assert isinstance(sgd, optim.SGD) and sgd.lr == 0.01 and sgd.momentum == 0.0
    adam = optimizers.Adam()
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps) == (0.001, 0.9, 0.999, 1e-7)

    # Keras decays decoupled: Adam(weight_decay=...) steps as minidl's AdamW, not as Adam
    def one_step(optimizer):
        mdl.seed(0)
        model = mdl.Sequential([mdl.layers.Dense(3)], input_shape=(4,))
        y = model.forward(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32), training=True)
        model.backward(np.ones_like(y))
        optimizer.step(model)
        return model.layers[0].params["W"].copy()

    decayed = one_step(optimizers.Adam(learning_rate=0.1, weight_decay=0.5))
    assert np.allclose(decayed, one_step(optim.AdamW(0.1, weight_decay=0.5, eps=1e-7)), atol=1e-5)
    assert not np.allclose(decayed, one_step(optimizers.Adam(learning_rate=0.1)), atol=1e-3)
    assert type(optimizers.Adam()).__name__ == "Adam"
    rms = optimizers.RMSprop(learning_rate=0.01, rho=0.8)
    assert (rms.lr, rms.alpha, rms.eps) == (0.01, 0.8, 1e-7)
    assert optimizers.AdamW().weight_decay == 0.004
    assert optimizers.Adam(clipvalue=1.0).clipvalue == 1.0


def test_schedules_follow_keras_formulas_and_save_with_the_model(tmp_path):
    from minidl_keras.optimizers import schedules

    decay = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert decay(0) == 0.1 and decay(10) == pytest.approx(0.05) and decay(5) == pytest.approx(0.1 * 0.5**0.5)
    assert schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)(19) == pytest.approx(0.05)
    assert schedules.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])(7) == 0.5
    assert schedules.InverseTimeDecay(1.0, 1, 1.0)(3) == 0.25
    assert schedules.CosineDecay(1.0, 10)(10) == pytest.approx(0.0, abs=1e-12)
    model = minidl_keras.Sequential([minidl_keras.Input((3,)), minidl_keras.layers.Dense(1)])
    model.compile(optimizer=minidl_keras.optimizers.SGD(learning_rate=decay), loss="mse")
    x = np.ones((8, 3), np.float32)
    model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=0)  # 4 steps
    assert model.optimizer.lr == pytest.approx(decay(4))  # the next step's rate, as Keras reports it
    model.save(tmp_path / "m.keras")
    loaded = minidl_keras.models.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.iterations == 4 and isinstance(
        loaded.optimizer.schedule, schedules.ExponentialDecay
    )
    loaded.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0)
    assert loaded.optimizer.lr == pytest.approx(decay(6))


def test_mnist_load_data_is_the_bundled_subset_in_keras_format():
    (x, y), (xt, yt) = minidl_keras.datasets.mnist.load_data()
    assert x.shape == (4000, 28, 28) and xt.shape == (1000, 28, 28)
    assert x.dtype == y.dtype == np.uint8 and x.max() == 255
    (xm, ym), _ = mdl.datasets.load_mnist()
    np.testing.assert_array_equal(x / np.float32(255), xm[:, 0])  # the same pictures
    np.testing.assert_array_equal(y, ym)
    with pytest.raises(NotImplementedError, match="keras.datasets.imdb is not in minidl.*np.savez"):
        minidl_keras.datasets.imdb.load_data(num_words=10000)


def test_what_minidl_lacks_says_so_and_names_the_minidl_way():
    import minidl_keras as keras

    with pytest.raises(TypeError, match="needs inputs and outputs.*or a subclass that defines call"):
        keras.Model(inputs=None, outputs=None)
    with pytest.raises(AttributeError, match="AdditiveAttention is not in minidl_keras: chapter 'attention'"):
        keras.layers.AdditiveAttention
    with pytest.raises(AttributeError, match="keras.applications is not in minidl_keras.*minidl.zoo"):
        keras.applications
    with pytest.raises(AttributeError, match="keras.losses.KLDivergence is not in minidl_keras"):
        keras.losses.KLDivergence


def test_keras_metrics_log_under_keras_names():
    import minidl_keras as keras

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 3)).astype("float32"), rng.integers(0, 2, 40)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    history = model.fit(x, y, epochs=1, verbose=0)
    assert list(history.history) == ["loss", "sparse_categorical_accuracy"]
    loss, accuracy = model.evaluate(x, y)
    assert accuracy == pytest.approx(float((model.predict(x).argmax(1) == y).mean()))


def test_keras_utils():
    from minidl_keras.utils import pad_sequences, to_categorical

    seqs = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=4), [[0, 1, 2, 3], [0, 0, 0, 4], [6, 7, 8, 9]])
    np.testing.assert_array_equal(
        pad_sequences(seqs, maxlen=4, padding="post", truncating="post"),
        [[1, 2, 3, 0], [4, 0, 0, 0], [5, 6, 7, 8]],
    )
    assert pad_sequences(seqs).shape == (3, 5) and pad_sequences(seqs).dtype == np.int32
    assert to_categorical([0, 2], 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    minidl_keras.utils.set_random_seed(5)
    a = mdl.backend.rng().random()
    mdl.seed(5)
    assert mdl.backend.rng().random() == a


def test_inputs_are_cast_to_the_models_dtype_as_keras_does():
    x64 = np.random.default_rng(0).standard_normal((16, 3))  # float64
    model = mdl.Sequential([L.Dense(4), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x64, x64[:, :1], epochs=1, verbose=0)
    assert model.layers[0].params["W"].dtype == np.float32
    assert model.predict(x64.tolist()).dtype == np.float32  # Python lists too
    assert isinstance(model.evaluate(x64, x64[:, :1]), float)
    on_purpose = mdl.Sequential([L.Dense(4), L.Dense(1)], input_shape=(3,), dtype="float64")
    on_purpose.compile(optimizer="sgd", loss="mse")
    on_purpose.fit(x64.astype(np.float32), x64[:, :1], epochs=1, verbose=0)
    assert (
        on_purpose.layers[0].params["W"].dtype == np.float64 and on_purpose.predict(x64).dtype == np.float64
    )
    ids = mdl.Sequential([L.Embedding(10, 2), L.Flatten(), L.Dense(1)])  # token ids stay integers
    ids.compile(optimizer="sgd", loss="mse")
    ids.fit(np.array([[1, 2], [3, 9]]), np.zeros((2, 1)), epochs=1, verbose=0)


def test_saved_models_follow_the_umask(tmp_path):
    import os

    model = mdl.Sequential([L.Dense(2)], input_shape=(3,))
    previous = os.umask(0o022)
    try:
        model.save(tmp_path / "a.npz")
        assert (os.stat(tmp_path / "a.npz").st_mode & 0o777) == 0o644
        os.umask(0o077)
        model.save(tmp_path / "b.npz")
        assert (os.stat(tmp_path / "b.npz").st_mode & 0o777) == 0o600
        os.chmod(tmp_path / "a.npz", 0o664)  # an existing file keeps its mode
        model.save(tmp_path / "a.npz")
        assert (os.stat(tmp_path / "a.npz").st_mode & 0o777) == 0o664
    finally:
        os.umask(previous)


def test_weights_only_checkpoints_and_load_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = x[:, :1] * 2
    ns = run_program(
        """
        import keras
        from keras import layers

        def make():
            return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"), layers.Dense(1)])

        model = make()
        model.compile(optimizer="adam", loss="mse")
        checkpoint = keras.callbacks.ModelCheckpoint("model.weights.h5", save_weights_only=True)
        model.fit(x, y, epochs=2, verbose=0, callbacks=[checkpoint])
        fresh = make()
        fresh.load_weights("model.weights.h5")
        """,
        x=x,
        y=y,
    )
    np.testing.assert_array_equal(ns["fresh"].predict(x), ns["model"].predict(x))
    with pytest.raises(ValueError, match="no weights list; it was not written by model.save_weights"):
        np.savez(tmp_path / "other.npz", a=np.zeros(2))
        ns["fresh"].load_weights(tmp_path / "other.npz")
