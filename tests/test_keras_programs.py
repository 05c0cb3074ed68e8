"""Short Keras programs, as introductory texts print them, run with only their imports changed.

Each program below is Keras code: the lines between ``# --- Keras program`` and
``# --- end`` are what a Keras user writes, unchanged, and each must train (its loss falls).
The second half checks the pieces the programs rely on: channels-last image layers agree
with channels-first ones and pass float64 gradient checks, frozen layers stay
bit-identical, the Keras names print and save under minidl's.
"""
import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl.gradcheck import check_layer


@pytest.fixture
def channels_last():
    """Keras's default image layout for the duration of one test (what a Keras program assumes)."""
    previous = mdl.layers.set_image_data_format("channels_last")
    yield
    mdl.layers.set_image_data_format(previous)


def falls(history, key="loss", by=0.8):
    values = history.history[key]
    return values[-1] < by * values[0]


# ------------------------------------------------------------------ the programs
def test_mlp_with_add_input_shape_mse_and_mae():
    from minidl.models import Sequential
    from minidl.layers import Dense

    rng = np.random.default_rng(0)
    X_train = rng.standard_normal((256, 10)).astype("float32")
    y_train = np.tanh(X_train @ rng.standard_normal((10, 10))).astype("float32")
    X_test, y_test = X_train[:64], y_train[:64]
    # --- Keras program
    model = Sequential()
    model.add(Dense(64, activation='relu', input_shape=(10,)))
    model.add(Dense(64, activation='relu'))
    model.add(Dense(10, activation='softmax'))
    model.compile(loss='mean_squared_error', optimizer='adam', metrics=['mae'])
    history = model.fit(X_train, y_train, epochs=10, batch_size=32, validation_data=(X_test, y_test),
                        verbose=0)
    predictions = model.predict(X_test)
    score = model.evaluate(X_test, y_test, verbose=0)
    print('Test loss:', score[0])
    print('Test mae:', score[1])
    # --- end
    assert predictions.shape == (64, 10)
    assert falls(history, by=0.95) and falls(history, "val_mae", by=0.98)
    assert score[0] == score["loss"] and score[1] == score["mae"]
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense", "Dense"]


def test_small_cnn_on_mnist_channels_last(channels_last):
    from minidl.models import Sequential
    from minidl.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from minidl.utils import to_categorical

    (x_all, y_all), _ = mdl.datasets.load_mnist()
    x_train = x_all[:600].transpose(0, 2, 3, 1)          # what Keras's mnist.load_data() gives, scaled
    y_train = y_all[:600]
    # --- Keras program
    num_classes = 10
    input_shape = (28, 28, 1)
    y_train = to_categorical(y_train, num_classes)
    model = Sequential()
    model.add(Conv2D(8, kernel_size=(3, 3), activation='relu', input_shape=input_shape))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(32, activation='relu'))
    model.add(Dense(num_classes, activation='softmax'))
    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    history = model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=0, validation_split=0.1)
    # --- end
    assert falls(history, by=0.8)
    assert history.history["accuracy"][-1] > 0.45
    assert model.layers[0].data_format == "channels_last"
    assert model.layers[0].output_shape == (26, 26, 8)                   # (H, W, C), as Keras shows
    assert model.layers[0].params["W"].shape == (8, 1, 3, 3)             # kernels stay (F, C, KH, KW)


def test_lstm_regressor_with_a_free_time_axis():
    from minidl.models import Sequential
    from minidl.layers import LSTM, Dense

    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 12, 10)).astype("float32")
    y = x[:, :, :3].mean(axis=1).sum(axis=1, keepdims=True).astype("float32")
    # --- Keras program
    model = Sequential()
    model.add(LSTM(16, input_shape=(None, 10)))
    model.add(Dense(1))
    model.compile(loss='mse', optimizer='adam')
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    # --- end
    assert falls(history, by=0.7)
    assert model.input_shape == (None, 10)
    assert model.predict(x[:4, :5]).shape == (4, 1)                      # any sequence length
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 16)" in lines[0]


def test_frozen_base_with_a_new_head_keeps_the_base_bit_identical():
    from minidl.models import Sequential
    from minidl.layers import BatchNormalization, Dense, Input
    from minidl.optim import Adam

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    base = Sequential([Input(shape=(8,)), Dense(16, activation="relu"), BatchNormalization(),
                       Dense(8, activation="relu")])
    base.compile(optimizer="adam", loss="mse")
    base.fit(x, x, epochs=2, verbose=0)                   # "pretrained"
    before = base.get_weights()
    # --- Keras program
    base.trainable = False
    model = Sequential([base, Dense(2, activation='softmax')])
    model.compile(optimizer=Adam(learning_rate=0.01), loss='sparse_categorical_crossentropy',
                  metrics=['accuracy'])
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    # --- end
    assert falls(history, by=0.9)
    assert base.trainable is False and model.trainable is True
    for a, b in zip(before, base.get_weights()):       # params and BatchNorm's running statistics
        np.testing.assert_array_equal(a, b)
    trainable, frozen = model.count_params()
    assert trainable == 8 * 2 + 2 and frozen == sum(w.size for w in before)
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Non-trainable params: {frozen:,}" in lines[0]


# ------------------------------------------------------------------ what the programs rely on
def test_channels_last_layers_compute_what_channels_first_ones_do(rng):
    """The same CNN on NHWC and NCHW data, with the same weights, gives the same numbers."""
    def net(data_format):
        mdl.seed(3)
        return mdl.Sequential([L.Conv2D(4, 3, padding="same", activation="relu"), L.BatchNorm(),
                               L.MaxPooling2D(2), L.Conv2D(6, 3), L.AveragePooling2D(2, strides=1),
                               L.UpSampling2D(2), L.GlobalAveragePooling2D(), L.Dense(3)],
                              input_shape=(9, 9, 2) if data_format == "channels_last" else (2, 9, 9),
                              data_format=data_format)

    first, last = net("channels_first"), net("channels_last")
    last.set_weights(first.get_weights())
    x = rng.standard_normal((5, 2, 9, 9)).astype(np.float32)
    x_last = x.transpose(0, 2, 3, 1)
    for training in (False, True):
        np.testing.assert_allclose(last.forward(x_last, training), first.forward(x, training),
                                   rtol=1e-5, atol=1e-6)
    dy = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(last.backward(dy), first.backward(dy).transpose(0, 2, 3, 1),
                               rtol=1e-4, atol=1e-6)
    for a, b in zip(last.layers, first.layers):
        for key in a.grads:
            np.testing.assert_allclose(a.grads[key], b.grads[key], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("make_layer, training", [
    (lambda: L.Conv2D(3, 3, padding=1, data_format="channels_last"), False),
    (lambda: L.Conv2D(2, (2, 3), strides=2, data_format="channels_last"), False),
    (lambda: L.MaxPooling2D(2, data_format="channels_last"), False),
    (lambda: L.AveragePooling2D(2, strides=1, data_format="channels_last"), False),
    (lambda: L.GlobalAveragePooling2D(), False),
    (lambda: L.GlobalAveragePooling2D(data_format="channels_last"), False),
    (lambda: L.BatchNormalization(data_format="channels_last"), True),
    (lambda: L.BatchNormalization(data_format="channels_last"), False),
    (lambda: L.UpSampling2D(2, data_format="channels_last"), False),
    (lambda: L.Conv2DTranspose(2, 3, stride=2, data_format="channels_last"), False),
    (lambda: L.Activation("tanh"), False),
], ids=lambda v: repr(v()) if callable(v) else f"training={v}")
def test_keras_layers_pass_float64_gradient_checks(make_layer, training, rng):
    x = rng.standard_normal((2, 5, 6, 3))                # (N, H, W, C) or (N, C, H, W): any works
    report = check_layer(make_layer(), x, training=training)
    assert report.passed, str(report)


def test_dense_acts_on_the_last_axis(rng):
    layer = L.Dense(4, input_shape=(5, 3))
    x = rng.standard_normal((2, 5, 3))
    y = mdl.Sequential([layer]).forward(x)
    np.testing.assert_allclose(y, x @ layer.params["W"] + layer.params["b"], rtol=1e-6)
    assert y.shape == (2, 5, 4)
    assert check_layer(L.Dense(4), rng.standard_normal((2, 5, 3))).passed


def test_keras_names_print_and_save_under_minidl_names(tmp_path):
    model = mdl.Sequential([L.Input((6, 6, 1)), L.Conv2D(2, 3, data_format="channels_last"),
                            L.BatchNormalization(), L.MaxPooling2D(2), L.GlobalAveragePooling2D(),
                            L.Activation("relu"), L.Dense(2)], data_format="channels_last")
    assert repr(model.layers[1]).startswith("BatchNorm(") and "channels_last" in repr(model.layers[1])
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "BatchNorm", "MaxPool2D", "GlobalAvgPool2D", "Activation", "Dense"]
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.npz")
    loaded = mdl.load_model(tmp_path / "m.npz")
    assert [layer.data_format for layer in loaded.layers[:4]] == ["channels_last"] * 4
    x = np.random.default_rng(0).random((3, 6, 6, 1)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert L.MaxPooling2D is L.MaxPool2D and L.BatchNormalization is L.BatchNorm


def test_the_global_setting_does_not_change_saved_channels_first_models(tmp_path, channels_last):
    """Files written before data_format existed (the zoo's) stay channels-first when loaded."""
    model = mdl.zoo.load("lenet-mnist-0to4")
    assert model.layers[0].data_format == "channels_first"
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
        mdl.Sequential([L.Dense(4), L.Input((3,))])
    with pytest.raises(ValueError, match="input_shape must hold positive integers"):
        L.Dense(4, input_shape=(0, 3))
    with pytest.raises(TypeError, match="unexpected keyword argument.*activaton.*it takes units"):
        L.Dense(4, activaton="relu")
    with pytest.raises(ValueError, match="data_format must be 'channels_first'.*got 'NHWC'"):
        L.Conv2D(4, 3, data_format="NHWC")
    assert L.Dense(4, input_dim=3).declared_input_shape == (3,)


def test_to_categorical_matches_one_hot():
    y = np.array([0, 2, 1, 2])
    expected = mdl.data.one_hot(y, 3)
    np.testing.assert_array_equal(mdl.utils.to_categorical(y), expected)
    np.testing.assert_array_equal(mdl.utils.to_categorical(y[:, None].astype(float), 3), expected)
    assert mdl.utils.to_categorical(y, 4).shape == (4, 4)


def test_setting_model_trainable_sets_every_layer():
    model = mdl.Sequential([L.Dense(4), L.BatchNorm(), L.Dense(2)], input_shape=(3,))
    model.trainable = False
    assert [layer.trainable for layer in model.layers] == [False] * 3 and model.trainable is False
    assert model.count_params()[0] == 0
    model.trainable = True
    assert all(layer.trainable for layer in model.layers)


def test_frozen_zoo_base_trains_a_new_head_and_saves_frozen(tmp_path):
    from minidl.models import Sequential, load_model
    from minidl.layers import Dense

    (x, y), _ = mdl.datasets.load_mnist()
    keep = y >= 5
    x, y = x[keep][:300], y[keep][:300] - 5
    base = mdl.zoo.load("lenet-mnist-0to4")
    base.trainable = False
    before = base.get_weights()[:-2]                      # all but the old head's W, b
    model = Sequential(base.layers[:-1] + [Dense(5)])
    model.compile(optimizer="adam", loss=mdl.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert falls(history, by=0.8)
    for a, b in zip(before, model.get_weights()[:-2]):
        np.testing.assert_array_equal(a, b)
    model.save(tmp_path / "transfer.npz")
    loaded = load_model(tmp_path / "transfer.npz")
    assert [layer.trainable for layer in loaded.layers] == [False] * (len(model.layers) - 1) + [True]
    assert loaded.count_params() == model.count_params()
