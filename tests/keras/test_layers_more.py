"""Keras pieces added to the door: activations (strings, layers and ``keras.activations``),
``GlobalMaxPooling1D``/``2D``, ``ZeroPadding2D``, losses ``Huber`` and ``"mae"``,
``ReduceLROnPlateau``. Each backward is checked against finite differences in float64, and
against Keras 3 where it is installed."""

import minidl_keras as keras
import numpy as np
import pytest

import minidl as mdl
from minidl.nn import layers as L
from minidl.nn.gradcheck import check_layer, check_loss
from tests.keras.keras_oracle import HAVE_KERAS, real_keras

ACTIVATIONS = ["elu", "selu", "swish", "softplus", "relu6", "relu", "sigmoid", "tanh"]


@pytest.mark.parametrize(
    "make",
    [lambda: keras.layers.Activation("tanh"), lambda: keras.layers.Rescaling(0.5, offset=1.0)],
    ids=["Activation", "Rescaling"],
)
def test_the_doors_elementwise_layers_pass_gradient_checks(make):
    report = check_layer(make(), np.random.default_rng(1).standard_normal((3, 4)))
    assert report.passed, report


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_layers_pass_gradient_checks(name):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # keep finite differences off the kinks
    x[np.abs(x - 6) < 1e-3] = 5.5
    report = check_layer(L.activations.get(name), x)
    assert report.passed, report


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_by_string_function_and_layer_agree_with_keras(name):
    x = np.linspace(-8, 8, 33).astype(np.float32).reshape(3, 11)
    by_string = keras.layers.Dense(11, activation=name, use_bias=False)
    by_function = keras.layers.Dense(11, activation=getattr(keras.activations, name), use_bias=False)
    for dense in (by_string, by_function):
        dense.build((11,))
        dense.params["W"][...] = np.eye(11, dtype=np.float32)
    np.testing.assert_allclose(by_string.forward(x), by_function.forward(x))
    np.testing.assert_allclose(getattr(keras.activations, name)(x), by_string.forward(x), rtol=1e-6)
    if HAVE_KERAS:
        real = real_keras()
        theirs = np.asarray(real.ops.convert_to_numpy(getattr(real.activations, name)(x)))
        np.testing.assert_allclose(by_string.forward(x), theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: keras.layers.GlobalMaxPooling2D(), (2, 4, 5, 3)),
        (lambda: keras.layers.GlobalMaxPooling2D(data_format="channels_first", keepdims=True), (2, 3, 4, 5)),
        (lambda: keras.layers.GlobalMaxPooling1D(), (2, 6, 3)),
        (lambda: keras.layers.ZeroPadding2D(((1, 2), (0, 3))), (2, 4, 5, 3)),
        (lambda: keras.layers.ZeroPadding2D(1, data_format="channels_first"), (2, 3, 4, 5)),
    ],
)
def test_pooling_and_padding_layers_pass_gradient_checks_and_say_their_shape(make, shape):
    layer = make()
    x = np.random.default_rng(0).normal(size=shape)
    report = check_layer(layer, x)
    assert report.passed, report
    assert layer.forward(x).shape[1:] == layer.output_shape_for(shape[1:])


def test_pooling_and_padding_match_keras():
    real = real_keras()
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 3)).astype(np.float32)
    for name, args in (("GlobalMaxPooling2D", ()), ("ZeroPadding2D", (((1, 2), (0, 3)),))):
        ours, theirs = getattr(keras.layers, name)(*args), getattr(real.layers, name)(*args)
        np.testing.assert_allclose(ours.forward(x), real.ops.convert_to_numpy(theirs(x)))
    ours, theirs = keras.layers.GlobalMaxPooling1D(), real.layers.GlobalMaxPooling1D()
    np.testing.assert_allclose(ours.forward(x[:, 0]), real.ops.convert_to_numpy(theirs(x[:, 0])))


@pytest.mark.parametrize(
    "loss", [keras.losses.Huber(), keras.losses.Huber(0.3), keras.losses.MeanAbsoluteError()]
)
def test_huber_and_mae_pass_gradient_checks(loss):
    rng = np.random.default_rng(0)
    report = check_loss(loss.library_loss, rng.normal(size=(6, 3)), rng.normal(size=(6, 3)))
    assert report.passed, report


def test_huber_and_mae_by_name_match_keras():
    rng = np.random.default_rng(0)
    y_true, y_pred = (
        rng.normal(size=(6, 3)).astype(np.float32),
        rng.normal(size=(6, 3)).astype(np.float32) * 2,
    )
    assert keras.losses.get("mae") is keras.losses.mean_absolute_error  # Keras's: the function
    assert isinstance(keras.losses.get("Huber"), keras.losses.Huber)
    ours = {
        "huber": keras.losses.Huber()(y_true, y_pred),
        "mae": float(keras.losses.get("mae")(y_true, y_pred).mean()),
    }
    assert ours["mae"] == pytest.approx(float(np.abs(y_pred - y_true).mean()), rel=1e-6)
    if HAVE_KERAS:
        real = real_keras()
        assert ours["huber"] == pytest.approx(float(real.losses.Huber()(y_true, y_pred)), rel=1e-5)
        assert ours["mae"] == pytest.approx(float(real.losses.MeanAbsoluteError()(y_true, y_pred)), rel=1e-5)


def test_reduce_lr_on_plateau_follows_kerass_rule():
    """The same sequence of losses through ours and (where installed) Keras's callback."""
    losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9]

    def run(callback, optimizer_lr):
        class Model:
            pass

        model = Model()
        model.optimizer = optimizer_lr
        callback.set_model(model)
        callback.on_train_begin()
        rates = []
        for epoch, value in enumerate(losses):
            callback.on_epoch_end(epoch, {"val_loss": value})
            rates.append(float(model.optimizer.learning_rate))
        return rates

    ours = run(keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.2),
               keras.optimizers.SGD(1.0))  # fmt: skip
    assert ours == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]
    if HAVE_KERAS:
        real = real_keras()
        theirs = run(real.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.2),
                     real.optimizers.SGD(1.0))  # fmt: skip
        assert ours == pytest.approx(theirs)


def test_a_functional_cnn_with_the_new_layers_trains():
    mdl.seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(64, 8, 8, 1)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype("int64")
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.ZeroPadding2D(1)(inputs)
    h = keras.layers.Conv2D(8, 3, activation="elu")(h)
    h = keras.layers.GlobalMaxPooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(2, activation=keras.activations.softplus)(h))
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0, validation_data=(x, y),
                        callbacks=[keras.callbacks.ReduceLROnPlateau(patience=1)])  # fmt: skip
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert "learning_rate" in history.history


# ------------------------------------------------------------------ wrappers
@pytest.mark.slow
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
@pytest.mark.parametrize("rnn", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_passes_gradient_checks(rnn, merge_mode, return_sequences):
    mdl.seed(0)
    layer = keras.layers.Bidirectional(getattr(keras.layers, rnn)(3, return_sequences=return_sequences),
                                       merge_mode=merge_mode)  # fmt: skip
    report = check_layer(layer, np.random.default_rng(0).normal(size=(2, 4, 3)))
    assert report.passed, report
    assert set(layer.params) == {f"{part}.{key}" for part in ("forward_layer", "backward_layer")
                                 for key in layer.forward_layer.params}  # fmt: skip


def test_time_distributed_passes_a_gradient_check_and_shares_one_layer_over_time():
    mdl.seed(0)
    layer = keras.layers.TimeDistributed(keras.layers.Dense(2, activation="tanh"))
    x = np.random.default_rng(0).normal(size=(3, 4, 5))
    report = check_layer(layer, x)
    assert report.passed, report
    y = layer.forward(x)
    np.testing.assert_allclose(y[:, 2], layer.layer.forward(x[:, 2]))
    assert layer.output_shape_for((4, 5)) == (4, 2)


def test_bidirectional_and_time_distributed_match_keras():
    real = real_keras()
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    for return_sequences in (False, True):
        theirs = real.layers.Bidirectional(real.layers.LSTM(4, return_sequences=return_sequences))
        theirs_y = real.ops.convert_to_numpy(theirs(x))
        ours = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=return_sequences))
        ours.build((5, 3))
        weights = theirs.get_weights()  # forward kernel, recurrent kernel, bias, then backward's
        for i, key in enumerate(["forward_layer.Wx", "forward_layer.Wh", "forward_layer.b",
                                 "backward_layer.Wx", "backward_layer.Wh", "backward_layer.b"]):  # fmt: skip
            ours.params[key][...] = weights[i]
        np.testing.assert_allclose(ours.forward(x), theirs_y, rtol=1e-5, atol=1e-5)
    theirs = real.layers.TimeDistributed(real.layers.Dense(2))
    theirs_y = real.ops.convert_to_numpy(theirs(x))
    ours = keras.layers.TimeDistributed(keras.layers.Dense(2))
    ours.build((5, 3))
    ours.params["layer.W"][...], ours.params["layer.b"][...] = theirs.get_weights()
    np.testing.assert_allclose(ours.forward(x), theirs_y, rtol=1e-5, atol=1e-6)


def test_a_bidirectional_lstm_classifier_trains_in_a_sequential_and_a_functional_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 2)).astype("float32")
    y = (x[:, 0, 0] > x[:, -1, 0]).astype("int64")  # needs both ends of the sequence
    for functional in (False, True):
        mdl.seed(0)
        if functional:
            inputs = keras.Input((6, 2))
            h = keras.layers.Bidirectional(keras.layers.LSTM(8))(inputs)
            model = keras.Model(inputs, keras.layers.Dense(2)(h))
        else:
            model = keras.Sequential([keras.Input((6, 2)), keras.layers.Bidirectional(keras.layers.LSTM(8)),
                                      keras.layers.Dense(2)])  # fmt: skip
        model.compile(optimizer=keras.optimizers.Adam(0.02),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])  # fmt: skip
        history = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
        assert history.history["accuracy"][-1] > 0.85, functional
        assert model.count_params() == 2 * 4 * (8 * (2 + 8) + 8) + 16 * 2 + 2


# ------------------------------------------------------------------ initializers and what is refused
def test_keras_initializers_draw_with_kerass_fans_and_save(tmp_path):
    mdl.seed(0)
    dense = keras.layers.Dense(
        64, kernel_initializer=keras.initializers.HeUniform(), bias_initializer="zeros"
    )
    dense.build((400,))
    assert dense.params["W"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    model = keras.Sequential([keras.Input((400,)), dense])
    model.save(tmp_path / "m.keras")  # the initializer saves as its class and config
    assert (
        keras.models.load_model(tmp_path / "m.keras").layers[0].kernel_initializer
        == keras.initializers.HeUniform()
    )
    kernel = keras.initializers.GlorotUniform()((3, 3, 16, 32))  # Keras's fans: 9 * 16 in, 9 * 32 out
    assert np.abs(kernel).max() <= np.sqrt(6 / (9 * 16 + 9 * 32))
    assert keras.initializers.RandomNormal(stddev=1.0)((2000,)).std() == pytest.approx(1.0, rel=0.1)


def test_keras_options_minidl_lacks_raise_not_implemented():
    assert keras.layers.MaxPooling2D(2, padding="valid").pool_size == (2, 2)
    for missing in ("AdditiveAttention", "Hashing"):
        with pytest.raises(NotImplementedError):
            getattr(keras.layers, missing)
        assert not hasattr(keras.layers, missing)  # also an AttributeError
    for metric in ("F1Score", "MeanIoU"):
        with pytest.raises(NotImplementedError, match=f"keras.metrics.{metric} is not in minidl_keras"):
            getattr(keras.metrics, metric)
    with pytest.raises(NotImplementedError, match="multi_label"):
        keras.metrics.AUC(multi_label=True)
    with pytest.raises(NotImplementedError, match="top_k"):
        keras.metrics.Precision(top_k=2)
