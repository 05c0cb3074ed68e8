"""keras.callbacks: the door's own ModelCheckpoint and CSVLogger (written on minidl's
``Callback``, ``improvement_sign`` and ``monitored``) on a minidl model's ``fit``."""

import csv

import numpy as np
import pytest
from minidl_keras import callbacks

import minidl as mdl
from minidl import layers as L
from minidl import losses, optim
from tests.minidl.training.small_problems import blobs


def make_model():
    model = mdl.Sequential([L.Dense(16, activation="relu"), L.Dense(3)], input_shape=(4,))
    model.compile(
        optimizer=optim.SGD(0.1),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def test_checkpoint_keeps_the_best_epoch_and_the_logger_writes_one_row_each(tmp_path):
    x, y = blobs(80)
    model = make_model()
    best, log = tmp_path / "best.npz", tmp_path / "log.csv"
    history = model.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        validation_split=0.25,
        callbacks=[callbacks.ModelCheckpoint(best, save_best_only=True), callbacks.CSVLogger(log)],
    )
    assert best.exists() and mdl.load_model(best).predict(x).shape == (80, 3)
    rows = list(csv.DictReader(open(log)))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert [float(r["val_loss"]) for r in rows] == pytest.approx(history.history["val_loss"])


def test_checkpoint_saves_only_improvements_and_names_a_missing_monitor(tmp_path):
    x, y = blobs(80)
    saved = []

    class Recording(callbacks.ModelCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            before = self.best
            super().on_epoch_end(epoch, logs)
            saved.append(self.best != before)

    model = make_model()
    check = Recording(str(tmp_path / "m-{epoch}.npz"), monitor="loss", save_best_only=True)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[check])
    losses_seen = model.history.history["loss"]
    expected = [i == 0 or v < min(losses_seen[:i]) for i, v in enumerate(losses_seen)]
    assert saved == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"m-{i + 1}.npz" for i, was in enumerate(expected) if was
    ]
    with pytest.raises(ValueError, match="ModelCheckpoint monitors 'val_loss', which is not in the logs"):
        checkpoint = callbacks.ModelCheckpoint(tmp_path / "x.npz", save_best_only=True)
        make_model().fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])


def test_csv_logger_appends_without_a_second_header(tmp_path):
    x, y = blobs(40)
    log = tmp_path / "log.csv"
    make_model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(log)])
    make_model().fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.CSVLogger(log, append=True)])
    lines = open(log).read().splitlines()
    assert lines[0].startswith("epoch,") and len(lines) == 4
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "0", "1"]
    assert np.isfinite([float(line.split(",")[2]) for line in lines[1:]]).all()
