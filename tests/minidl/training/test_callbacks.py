"""Callbacks (callbacks.py), the progress bar of ``fit(verbose=1)`` above all: it moves with
every batch, reaches the number of batches, shows the loss and the time left. (The other
callbacks are exercised by test_model.py and test_saving.py.)"""

import io
import re

import pytest

import minidl as mdl
from minidl import layers as L
from minidl import losses, optim
from minidl.training import callbacks
from tests.minidl.training.small_problems import blobs


def model():
    mdl.seed(0)
    net = mdl.Sequential([L.Dense(8, activation="relu"), L.Dense(3)], input_shape=(4,))
    net.compile(
        optimizer=optim.SGD(0.1),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return net


class Terminal(io.StringIO):
    """Captured output that says it is a terminal."""

    def isatty(self):
        return True


def test_fit_verbose_1_moves_the_bar_batch_by_batch_to_the_last(monkeypatch):
    x, y = blobs(50)  # batch_size 10: 5 batches an epoch
    out = Terminal()
    monkeypatch.setattr("sys.stdout", out)
    # redrawn at every batch (interval 0), not at most every 0.2 s
    monkeypatch.setattr(callbacks.ProgressBar.__init__, "__defaults__", (20, 0.0, "auto", None))
    model().fit(x, y, epochs=2, batch_size=10, verbose=1)
    text = out.getvalue()
    # every batch redraws the line in place (\r), the count going 0..5 in each epoch
    for epoch in (1, 2):
        counts = re.findall(rf"\rEpoch {epoch}/2  (\d+)/5 ", text)
        assert counts == ["0", "1", "2", "3", "4", "5", "5"], counts  # the last: the finished line
    assert re.search(
        r"Epoch 1/2  3/5 \[############--------\] loss: \d\.\d{4} - accuracy: \d\.\d{4} - \d+s left", text
    )
    assert re.search(r"Epoch 2/2  5/5 \[#{20}\] loss: .* - \d+s \(\d+ ms/batch\)\x1b\[K\n", text)
    assert text.count("\n") == 2  # one finished line per epoch


def test_fit_verbose_1_into_a_file_prints_one_finished_line_per_epoch(capsys):
    x, y = blobs(40)
    model().fit(x, y, epochs=2, batch_size=8, verbose=1, validation_data=(x[:8], y[:8]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("Epoch 1/2  5/5 [####################] loss: ")
    assert "val_loss: " in lines[1] and "ms/batch)" in lines[1]


def test_in_jupyter_the_bar_is_one_display_updated_in_place(monkeypatch):
    shown = []

    class Handle:
        def update(self, bundle, raw):
            shown.append(("update", bundle["text/plain"]))

    def display(bundle, raw, display_id):
        assert raw and display_id
        shown.append(("display", bundle["text/plain"]))
        return Handle()

    monkeypatch.setattr("IPython.display.display", display)
    x, y = blobs(30)
    bar = callbacks.ProgressBar(1, 3, interval=0.0, mode="jupyter")
    model().fit(x, y, epochs=1, batch_size=10, verbose=0, callbacks=[bar])
    assert [kind for kind, _ in shown] == ["display", "update", "update", "update", "update"]
    assert [re.match(r"Epoch 1/1  (\d)/3", text).group(1) for _, text in shown] == ["0", "1", "2", "3", "3"]
    assert "ms/batch" in shown[-1][1]


def test_a_generator_without_a_length_counts_without_a_total():
    bar = callbacks.ProgressBar(1, None, mode="terminal", stream=io.StringIO(), interval=0.0)
    bar.on_epoch_begin(0)
    bar.on_train_batch_end(6, {"loss": 0.5})
    assert bar.line({"loss": 0.5}).startswith("Epoch 1/1  7 loss: 0.5000")


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be 'auto', 'jupyter', 'terminal' or 'lines', got 'tqdm'"):
        callbacks.ProgressBar(1, 3, mode="tqdm")


@pytest.mark.parametrize("seconds, text", [(4.4, "4s"), (65, "1m05s"), (3725, "1h02m")])
def test_durations_read_as_seconds_minutes_hours(seconds, text):
    assert callbacks._duration(seconds) == text


def test_a_watching_callback_reads_its_value_and_which_way_is_better():
    """``improvement_sign`` and ``monitored``: what EarlyStopping (and a library's checkpoint)
    watch a logged value with (docs/ARCHITECTURE.md, "Extending minidl")."""
    assert callbacks.improvement_sign("val_loss", "auto") == -1
    assert callbacks.improvement_sign("val_accuracy", "auto") == 1
    assert callbacks.improvement_sign("val_auc", "auto") == 1
    assert callbacks.improvement_sign("val_accuracy", "min") == -1
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max', got 'best'"):
        callbacks.improvement_sign("loss", "best")
    assert callbacks.monitored("loss", {"loss": 0.25}, "Mine") == 0.25
    with pytest.raises(ValueError, match=r"Mine monitors 'val_loss', which is not in the logs \['loss'\]"):
        callbacks.monitored("val_loss", {"loss": 0.25}, "Mine")
