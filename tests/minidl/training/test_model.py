"""Sequential: training, determinism, saving, callbacks, and the errors users meet."""

import numpy as np
import pytest
from minidl_keras.layout import channels_last_class

import minidl as mdl
from minidl import callbacks, losses, optim
from minidl import layers as L
from tests.keras.keras_oracle import real_keras
from tests.minidl.training.small_problems import blobs


def make_model(dropout=0.1, **compile_kw):
    model = mdl.Sequential([L.Dense(16, activation="relu"), L.Dropout(dropout), L.Dense(3)], input_shape=(4,))
    model.compile(
        optimizer=compile_kw.get("optimizer", optim.Adam(1e-2)),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def test_fit_learns_and_reports_history():
    x, y = blobs()
    history = make_model().fit(x, y, epochs=8, batch_size=32, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 8 and history.epoch == list(range(8))
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    assert history.history["val_accuracy"][-1] > 0.9


def test_same_seed_same_history_to_the_last_digit(tier):
    x, y = blobs()
    runs = []
    for _ in range(2):
        mdl.seed(42)
        runs.append(make_model().fit(x, y, epochs=3, verbose=0, validation_split=0.2).history)
    assert runs[0] == runs[1]
    mdl.seed(43)
    assert make_model().fit(x, y, epochs=3, verbose=0, validation_split=0.2).history != runs[0]


def test_pytorch_style_loop_equals_train_on_batch():
    x, y = blobs(64)
    mdl.seed(1)
    a = make_model(dropout=0.0)
    mdl.seed(1)
    b = make_model(dropout=0.0)
    loss_fn, opt = losses.SparseCategoricalCrossentropy(from_logits=True), optim.Adam(1e-2)
    for _ in range(3):
        loss_a = a.train_on_batch(x, y)
        out = b.forward(x, training=True)
        loss_b = loss_fn(out, y)
        b.backward(loss_fn.backward())
        opt.step(b)
        b.zero_grad()
        assert loss_a == loss_b
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_training_step_skips_only_the_unread_input_gradient(data_format):
    """(The Keras door's Conv2D for either layout: minidl's own takes channels-first.)
    ``backward(dy, input_grad=False)`` (what train_on_batch runs) returns None and fills
    every gradient exactly as the full backward does, for a Conv2D or a Dense first layer."""
    rng = np.random.default_rng(0)
    for first, x in [
        (
            channels_last_class(L.Conv2D)(3, 3, padding=1, activation="relu", data_format=data_format),
            rng.standard_normal((4, 6, 6, 2) if data_format == "channels_last" else (4, 2, 6, 6)),
        ),
        (L.Dense(5, activation="relu"), rng.standard_normal((4, 7))),
    ]:
        model = mdl.Sequential([first, L.Flatten(), L.Dense(3)], input_shape=x.shape[1:])
        out = model.forward(x.astype(np.float32), training=True)
        dy = rng.standard_normal(out.shape).astype(np.float32)
        dx = model.backward(dy)
        assert dx.shape == x.shape
        full = [g.copy() for layer in model.layers for g in layer.grads.values()]
        model.zero_grad()
        assert model.backward(dy, input_grad=False) is None
        for got, expected in zip((g for layer in model.layers for g in layer.grads.values()), full):
            np.testing.assert_array_equal(got, expected)


def test_evaluate_and_predict_shapes():
    x, y = blobs(50)
    model = make_model()
    loss, accuracy = model.evaluate(x, y, batch_size=16)  # Keras's [loss, *metrics]
    assert loss > 0 and 0 <= accuracy <= 1
    result = model.evaluate(x, y, batch_size=16, return_dict=True)
    assert result == {"loss": loss, "accuracy": accuracy}
    model.compile(optimizer="sgd", loss=model.loss)
    assert model.evaluate(x, y) == pytest.approx(loss)  # no metrics: the loss alone, a float
    assert model.predict(x, batch_size=7).shape == (50, 3)
    assert isinstance(model.predict(x), np.ndarray)


def test_save_load_round_trip_is_bit_identical(tmp_path):
    x, y = blobs(60)
    model = mdl.Sequential(
        [
            L.Dense(8, activation="tanh", kernel_regularizer="l2"),
            L.Dropout(0.2),
            L.Dense(3, activation="softmax"),
        ],
        input_shape=(4,),
    )
    model.compile(
        optimizer=optim.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=2, verbose=0)
    model.layers[0].trainable = False
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = mdl.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [type(layer) for layer in loaded.layers] == [L.Dense, L.Dropout, L.Dense]
    assert loaded.layers[0].trainable is False
    assert isinstance(loaded.optimizer, optim.SGD) and loaded.optimizer.momentum == 0.9
    assert loaded.layers[0].kernel_regularizer.l2 == 0.01
    assert loaded.evaluate(x, y) == model.evaluate(x, y)


def test_loading_a_model_leaves_the_seeded_random_stream_alone(tmp_path):
    path = tmp_path / "model.npz"
    mdl.Sequential([L.Dense(8), L.Dense(3)], input_shape=(4,)).save(path)
    mdl.seed(7)
    expected = mdl.backend.rng().random(3)
    mdl.seed(7)
    mdl.load_model(path)
    np.testing.assert_array_equal(mdl.backend.rng().random(3), expected)


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    x, y = blobs(20)
    model = make_model()
    path = tmp_path / "model.npz"
    model.save(path)
    before = path.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left


def test_load_model_rejects_corrupt_and_foreign_files(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz file"):
        mdl.load_model(garbage)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a minidl model .*weights"):
        mdl.load_model(foreign)
    truncated = tmp_path / "truncated.npz"
    make_model().save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable .npz file"):
        mdl.load_model(truncated)


def test_early_stopping_restores_best_weights_even_without_an_early_stop():
    x, y = blobs(120)
    model = make_model(optimizer=optim.SGD(0.05))
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=100, restore_best_weights=True)
    history = model.fit(x, y, epochs=6, verbose=0, validation_split=0.3, callbacks=[stopper])
    assert stopper.stopped_epoch is None
    best = int(np.argmin(history.history["val_loss"]))
    assert stopper.best_epoch == best
    assert model.evaluate(x[84:], y[84:])[0] == pytest.approx(history.history["val_loss"][best], rel=1e-5)


@pytest.mark.parametrize("patience", [0, 1, 2, 5])
def test_early_stopping_stops_after_patience(patience):
    # As Keras counts: epoch 0 sets the best value; each later epoch fails to improve by
    # min_delta, and training stops after the epoch where the wait reaches patience.
    x, y = blobs(120)
    model = make_model(optimizer=optim.SGD(1e-9))  # cannot improve
    stopper = callbacks.EarlyStopping(monitor="loss", patience=patience, min_delta=1.0)
    history = model.fit(x, y, epochs=20, verbose=0, callbacks=[stopper])
    last = max(patience, 1)  # epoch 0 is always an improvement, so at least 2 epochs run
    assert len(history.epoch) == last + 1 and stopper.stopped_epoch == last


def test_early_stopping_names_missing_monitor():
    x, y = blobs(40)
    with pytest.raises(ValueError, match="monitors 'val_loss', which is not in the logs"):
        make_model().fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.EarlyStopping()])


def test_scheduler_sets_and_logs_the_rate_each_epoch():
    x, y = blobs(80)
    model = make_model(optimizer=optim.SGD(0.1))
    history = model.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        callbacks=[callbacks.LearningRateScheduler(optim.StepDecay(0.1, step_size=1, gamma=0.5))],
    )
    assert history.history["lr"] == [0.1, 0.05, 0.025]
    assert model.optimizer.lr == 0.025


def test_non_finite_loss_stops_with_epoch_and_batch():
    x, y = blobs(64)
    x[40] = np.nan
    model = make_model()
    with pytest.raises(mdl.NonFiniteLossError, match=r"epoch 1, batch 3 of 4") as info:
        model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert info.value.history is model.history


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_non_finite_loss_keeps_completed_epochs():
    x, y = blobs(64)
    model = make_model(optimizer=optim.SGD(1e6))  # diverges after some epochs
    with pytest.raises(mdl.NonFiniteLossError):
        model.fit(x, y, epochs=50, batch_size=64, verbose=0)
    assert 1 <= len(model.history.history["loss"]) < 50


def test_usage_errors():
    x, y = blobs(20)
    model = mdl.Sequential([L.Dense(3)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y)
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="empty dataset"):
        model.fit(x[:0], y[:0])
    with pytest.raises(ValueError, match="same number of samples, got 20 and 19"):
        model.fit(x, y[:-1])
    with pytest.raises(ValueError, match="unknown optimizer"):
        model.compile(optimizer="adamax", loss="mse")
    with pytest.raises(ValueError, match="compile needs a loss"):
        model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="summary needs a built model"):
        mdl.Sequential([L.Dense(2)]).summary()
    built = make_model()
    with pytest.raises(ValueError, match=r"Dense was built for inputs \(N, 4\), got shape \(20, 5\)"):
        built.predict(np.zeros((20, 5), np.float32))


def test_summary_counts_trainable_and_frozen():
    model = make_model()
    model.layers[0].trainable = False
    printed = []
    assert model.summary(print_fn=printed.append) is None  # as Keras: printed, not returned
    (text,) = printed
    assert "Total params: 131" in text and "Trainable params: 51" in text
    assert "Non-trainable params: 80" in text and "[frozen]" in text


def test_set_weights_checks_shapes():
    model = make_model()
    weights = model.get_weights()
    with pytest.raises(ValueError, match="expected 4 arrays, got 3"):
        model.set_weights(weights[:3])
    weights[0] = np.zeros((5, 16))
    with pytest.raises(ValueError, match=r"has shape \(4, 16\), got \(5, 16\)"):
        model.set_weights(weights)


def test_freezing_keeps_weights_bit_identical():
    x, y = blobs(64)
    model = make_model()
    model.layers[0].trainable = False
    frozen = [w.copy() for w in model.layers[0].params.values()]
    model.fit(x, y, epochs=2, verbose=0)
    for before, after in zip(frozen, model.layers[0].params.values()):
        np.testing.assert_array_equal(before, after)


def test_progress_bar_and_epoch_lines(capsys):
    x, y = blobs(40)
    make_model().fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2 - loss:" in out and "Epoch 2/2" in out
    make_model().fit(x, y, epochs=1, verbose=1)
    assert "Epoch 1/1" in capsys.readouterr().out


def test_moving_to_gpu_without_cupy_says_how_to_install(monkeypatch):
    monkeypatch.setattr(
        mdl.backend, "gpu_status", lambda: (False, 'CuPy is not installed (pip install "minidl[gpu]")')
    )
    with pytest.raises(RuntimeError, match=r'cannot use the GPU: .*pip install "minidl\[gpu\]"'):
        make_model().to("gpu")


@pytest.mark.parametrize("patience", [0, 1, 2, 5])
def test_early_stopping_counts_patience_as_keras(patience):
    # The same sequence of monitored values through Keras's EarlyStopping and minidl's: the
    # same epoch ends training. Skipped where Keras (with its torch backend) is not installed.
    keras = real_keras()
    values = [1.0, 0.5, 0.6, 0.55, 0.7, 0.4, 0.45, 0.5, 0.45, 0.6, 0.7, 0.8]

    def stop_epoch(callback, model):
        callback.set_model(model)
        model.stop_training = False
        callback.on_train_begin()
        for epoch, value in enumerate(values):
            callback.on_epoch_end(epoch, {"loss": value})
            if model.stop_training:
                return epoch
        return None

    keras_model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    theirs = stop_epoch(keras.callbacks.EarlyStopping(monitor="loss", patience=patience), keras_model)
    ours = stop_epoch(callbacks.EarlyStopping(monitor="loss", patience=patience), make_model())
    assert ours == theirs
