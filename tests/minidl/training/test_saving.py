"""Stopping and resuming training: save -> load_model -> fit continues bit for bit.

An uninterrupted run of N + M epochs and a run of N epochs, saved, loaded and trained M
more must end with identical weights (same seed, same data, shuffling on, dropout on):
the optimizer's state (step counts, moments, velocity) and the random stream that orders
the data and draws the dropout masks are part of what ``save`` keeps.
"""

import numpy as np
import pytest

import minidl as mdl
from minidl import callbacks, losses, optim
from minidl import layers as L
from minidl.training import saving
from tests.minidl.training.small_problems import blobs

OPTIMIZERS = {
    "adam": lambda: optim.Adam(1e-2),
    "sgd-momentum": lambda: optim.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optim.RMSprop(1e-2, momentum=0.5),
    "adagrad": lambda: optim.Adagrad(0.05),
    "adamw": lambda: optim.AdamW(1e-2),
}


def fresh_model(make_optimizer):
    mdl.seed(0)
    model = mdl.Sequential(
        [L.Dense(16, activation="relu"), L.Dropout(0.2), L.BatchNorm(), L.Dense(3)], input_shape=(4,)
    )
    model.compile(
        optimizer=make_optimizer(),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def trained_and_saved(path, optimizer, epochs, batch_size=16, **save_options):
    """A fresh model with ``OPTIMIZERS[optimizer]`` trained ``epochs`` epochs on ``blobs(96)``,
    then saved to ``path``."""
    model = fresh_model(OPTIMIZERS[optimizer])
    model.fit(*blobs(96), epochs=epochs, batch_size=batch_size, verbose=0)
    model.save(path, **save_options)
    return model


def assert_same_weights(model, other):
    """The two models' weights are equal, array for array and bit for bit."""
    ours, theirs = model.get_weights(), other.get_weights()
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_save_load_fit_continues_bit_identically(tmp_path, name):
    x, y = blobs(96)
    uninterrupted = fresh_model(OPTIMIZERS[name])
    uninterrupted.fit(x, y, epochs=5, batch_size=16, verbose=0)

    trained_and_saved(tmp_path / "run.npz", name, epochs=3)
    mdl.backend.rng().random(10)  # other work in between moves the stream; resuming must not care
    resumed = mdl.load_model(tmp_path / "run.npz")
    assert resumed.epochs_completed == 3
    history = resumed.fit(x, y, epochs=5, batch_size=16, verbose=0, initial_epoch=3)

    assert history.epoch == [3, 4]
    assert_same_weights(resumed, uninterrupted)
    assert resumed.optimizer.iterations == uninterrupted.optimizer.iterations == 30


def test_without_the_optimizer_state_resuming_differs(tmp_path):
    """The control: what the test above would see if save forgot the optimizer."""
    x, y = blobs(96)
    uninterrupted = fresh_model(OPTIMIZERS["adam"])
    uninterrupted.fit(x, y, epochs=4, batch_size=16, verbose=0)
    trained_and_saved(tmp_path / "weights-only.npz", "adam", epochs=2, include_optimizer=False)
    resumed = mdl.load_model(tmp_path / "weights-only.npz")
    assert resumed.optimizer.iterations == 0 and resumed.optimizer.state == {}
    resumed.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(resumed.get_weights(), uninterrupted.get_weights()))


class SaveEachEpoch(callbacks.Callback):
    """A checkpoint after every epoch: ``model.save`` as a callback calls it."""

    def __init__(self, pattern):
        self.pattern = str(pattern)

    def on_epoch_end(self, epoch, logs=None):
        self.model.save(self.pattern.format(epoch=epoch + 1))


def test_checkpoint_files_resume_exactly(tmp_path):
    x, y = blobs(96)
    uninterrupted = fresh_model(OPTIMIZERS["adam"])
    uninterrupted.fit(x, y, epochs=4, batch_size=16, verbose=0)

    model = fresh_model(OPTIMIZERS["adam"])
    model.fit(
        x,
        y,
        epochs=4,
        batch_size=16,
        verbose=0,
        callbacks=[SaveEachEpoch(tmp_path / "ckpt-{epoch}.npz")],
    )
    resumed = mdl.load_model(tmp_path / "ckpt-2.npz")
    resumed.fit(x, y, epochs=4, batch_size=16, verbose=0, initial_epoch=resumed.epochs_completed)
    assert_same_weights(resumed, uninterrupted)


def test_reseeding_after_loading_wins_over_the_saved_stream(tmp_path):
    x, y = blobs(96)
    trained_and_saved(tmp_path / "m.npz", "sgd-momentum", epochs=1)
    a, b = mdl.load_model(tmp_path / "m.npz"), mdl.load_model(tmp_path / "m.npz")
    mdl.seed(1)
    a.fit(x, y, epochs=1, batch_size=16, verbose=0)
    mdl.seed(1)
    b._resume_rng = None
    b.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert_same_weights(a, b)


def test_saved_state_lands_on_the_right_parameters(tmp_path):
    model = trained_and_saved(tmp_path / "m.npz", "adam", epochs=1, batch_size=32)
    loaded = mdl.load_model(tmp_path / "m.npz")
    for old, new in zip(model.layers, loaded.layers):
        for key in old.params:
            saved = model.optimizer.state[(id(old), key)]
            restored = loaded.optimizer.state[(id(new), key)]
            assert restored["step"] == saved["step"] == 3
            np.testing.assert_array_equal(restored["m"], saved["m"])
            np.testing.assert_array_equal(restored["v"], saved["v"])


def test_a_learning_rate_schedule_resumes_with_initial_epoch(tmp_path):
    x, y = blobs(96)
    schedule = optim.StepDecay(0.05, step_size=2, gamma=0.5)
    uninterrupted = fresh_model(OPTIMIZERS["sgd-momentum"])
    uninterrupted.fit(
        x, y, epochs=5, batch_size=16, verbose=0, callbacks=[callbacks.LearningRateScheduler(schedule)]
    )
    first = fresh_model(OPTIMIZERS["sgd-momentum"])
    first.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[callbacks.LearningRateScheduler(schedule)])
    first.save(tmp_path / "run.npz")
    resumed = mdl.load_model(tmp_path / "run.npz")
    assert resumed.optimizer.lr == schedule(2)
    history = resumed.fit(
        x,
        y,
        epochs=5,
        batch_size=16,
        verbose=0,
        initial_epoch=resumed.epochs_completed,
        callbacks=[callbacks.LearningRateScheduler(schedule)],
    )
    assert history.history["lr"] == [schedule(3), schedule(4)]
    assert_same_weights(resumed, uninterrupted)


def test_layer_slots_name_every_array_in_the_order_of_get_weights():
    model = fresh_model(OPTIMIZERS["adam"])  # Dense, Dropout, BatchNorm (params and buffers), Dense
    slots = saving.layer_slots(model.layers)
    assert [name for name, *_ in slots] == [
        "layers/0/params/W",
        "layers/0/params/b",
        "layers/2/params/gamma",
        "layers/2/params/beta",
        "layers/2/buffers/running_mean",
        "layers/2/buffers/running_var",
        "layers/3/params/W",
        "layers/3/params/b",
    ]
    for (_, _, store, key), weight in zip(slots, model.get_weights(), strict=True):
        np.testing.assert_array_equal(store[key], weight)
    assert list(saving.layer_arrays(model.layers)) == [name for name, *_ in slots]
