"""Every script in ``examples/`` runs, at the small size of its ``--quick`` flag, and prints
what its docstring promises: each test reads the numbers from the output and checks one
claim that holds at that size (a printed baseline equals the one computed here, a result
beats chance, a threshold keeps its false-alarm rate).

The scripts run as a reader runs them (``python examples/NAME.py --quick``), in a fresh
process with this checkout first on the path.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minidl import datasets

pytestmark = pytest.mark.slow  # runs every example script end to end: make test, not make test-unit

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str) -> str:
    """stdout of ``python examples/<name>.py --quick *args``; fails with its stderr."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, f"examples/{name}.py --quick failed:\n{done.stderr[-3000:]}"
    return done.stdout


def number_after(label: str, text: str) -> float:
    """The number printed right after ``label`` (a regular expression) in ``text``."""
    match = re.search(label + r"\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)", text)
    assert match is not None, f"no number after {label!r} in:\n{text}"
    return float(match.group(1))


TESTED = {
    "rnn_sine",
    "char_model",
    "rnn_sequential_mnist",
    "gallery_autoencoders",
    "gallery_gan",
    "gallery_transfer",
}


def test_every_example_is_run_here():
    scripts = {path.stem for path in EXAMPLES.glob("*.py") if not path.name.startswith("_")}
    assert scripts == TESTED  # _arguments.py is the scripts' shared --quick, not an example


def test_rnn_sine_prints_the_naive_forecast_of_its_test_set_and_an_lstm_that_learned():
    out = run_example("rnn_sine")
    lstm, naive = number_after(r"test MSE: LSTM", out), number_after(r"naive last value", out)
    # --quick: 400 training series, so 100 test series drawn with the script's seed
    x_test, y_test = datasets.make_sine_sequences(n_series=100, length=50, noise=0.05, seed=2)
    assert naive == pytest.approx(float(np.mean((x_test[:, -1] - y_test) ** 2)), abs=1e-5)
    assert lstm < 0.5 * float(np.var(y_test)), "the LSTM should do far better than predicting the mean"
    assert number_after(r"naive MSE / LSTM MSE =", out) == pytest.approx(naive / lstm, abs=0.06)


def test_char_model_learns_more_than_a_uniform_guess():
    out = run_example("char_model")
    vocabulary = number_after(r"vocabulary", out)
    losses = [float(v) for v in re.findall(r"epoch \d+\s+loss (\d+\.\d+) nats/char", out)]
    assert len(losses) == 3, out
    assert losses[-1] < losses[0] and losses[-1] < math.log(vocabulary) - 0.5, (losses, vocabulary)
    assert "--- temperature 0.5" in out and "--- temperature 0.8" in out


def test_rnn_sequential_mnist_beats_chance():
    out = run_example("rnn_sequential_mnist")
    assert number_after(r"epochs run:", out) == 3
    assert number_after(r"test accuracy", out) > 0.2, "ten classes: chance is 0.1"


def test_gallery_autoencoders_runs_its_four_experiments():
    out = run_example("gallery_autoencoders")
    (x, _), (xt, _) = datasets.load_mnist()
    baseline = float(np.mean((x[:500].mean(axis=0) - xt) ** 2))  # --quick: the first 500 images
    assert number_after(r"gives test MSE", out) == pytest.approx(baseline, abs=1e-4)
    assert number_after(r"nearest class centroid = label for", out) > 15, "chance is 10 %"
    for section in ("1. dense", "2. convolutional", "3. denoising", "4. anomaly detection"):
        assert section in out
    # the threshold is the 95th percentile of held-out normal images: about 5 % false alarms
    assert number_after(r"false alarms", out) < 20


def test_gallery_gan_trains_a_discriminator_that_tells_real_from_fake():
    out = run_example("gallery_gan")
    ring = re.findall(r"^\s+\d+\s+(\d+\.\d+)\s+(\d+\.\d+)", out, flags=re.M)
    assert len(ring) == 5 + 1, out  # five ring epochs, one MNIST epoch
    assert all(math.isfinite(float(v)) and float(v) > 0 for row in ring for v in row)
    covered = re.search(r"final: (\d+)/8 modes covered", out)
    assert covered is not None and 0 <= int(covered.group(1)) <= 8
    real, fake = (float(v) for v in re.findall(r"(\d\.\d{3})\s+(\d\.\d{3})\s*$", out, flags=re.M)[-1])
    assert real > fake, "after an epoch the discriminator should rate real digits above fakes"


def test_gallery_transfer_beats_chance_with_ten_labels_per_class():
    out = run_example("gallery_transfer")
    rows = dict(re.findall(r"^\s+10\s+0\s+([\w-]+)\s+(\d\.\d+)", out, flags=re.M))
    assert set(rows) == {"scratch", "features", "cached", "fine-tune"}, out
    assert all(float(accuracy) > 0.4 for accuracy in rows.values()), "five classes: chance is 0.2"
