"""Spoken digits: the bundled set and its loader, and the generator script."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minidl import datasets
from minidl.datasets import audio

ROOT = Path(__file__).resolve().parents[3]
GENERATOR = ROOT / "tools" / "make_spoken_digits.py"


# --------------------------------------------------------------------------- the bundled set
def test_loader_shapes_dtypes_and_balance():
    (x, y), (xt, yt) = datasets.load_spoken_digits()
    assert x.shape == (1400, 49, 32) and xt.shape == (280, 49, 32), (x.shape, xt.shape)
    assert x.dtype == xt.dtype == np.float32 and y.dtype == yt.dtype == np.int64
    assert np.array_equal(np.bincount(y, minlength=10), np.full(10, 140)), np.bincount(y)
    assert np.array_equal(np.bincount(yt, minlength=10), np.full(10, 28)), np.bincount(yt)
    assert np.isfinite(x).all() and -90.0 <= x.min() and x.max() < 40.0, (x.min(), x.max())
    # quantised to 0.5 dB steps from -90 dB
    assert np.allclose((x[:50] + 90.0) * 2, np.rint((x[:50] + 90.0) * 2), atol=1e-4)


def test_train_and_test_share_no_voice():
    (_, _, voices), (_, _, test_voices) = datasets.load_spoken_digits(return_voices=True)
    assert set(test_voices) == {"m3", "f4", "klatt2", "Annie"}, set(test_voices)
    assert not set(voices) & set(test_voices)
    assert len(set(voices)) == 20
    counts = {v: int(np.sum(voices == v)) for v in set(voices)}
    assert set(counts.values()) == {70}, counts  # 10 digits x 7 accents per voice


def test_no_test_clip_repeats_a_training_clip():
    (x, y), (xt, yt) = datasets.load_spoken_digits()
    seen = {row.tobytes() for row in x}
    assert sum(row.tobytes() in seen for row in xt) == 0
    assert len({row.tobytes() for row in np.concatenate([x, xt])}) == len(x) + len(xt)


def test_other_held_out_voices_and_clear_errors(tmp_path):
    (x, y, v), (xt, yt, vt) = datasets.load_spoken_digits(test_voices=["m1", "whisper"], return_voices=True)
    assert len(xt) == 140 and set(vt) == {"m1", "whisper"} and "m1" not in set(v)
    assert len(x) + len(xt) == 1680
    with pytest.raises(ValueError, match=r"unknown test voices \['nobody'\].*expected names from"):
        datasets.load_spoken_digits(test_voices=["nobody"])
    with pytest.raises(TypeError, match="list of voice names"):
        datasets.load_spoken_digits(test_voices="m1")
    missing = tmp_path / "gone.npz"
    with pytest.raises(FileNotFoundError, match="expected .*gone.npz.*make_spoken_digits"):
        datasets.load_spoken_digits(path=missing)
    np.savez(tmp_path / "other.npz", features=np.zeros(3))
    with pytest.raises(ValueError, match="not a spoken-digits file.*missing"):
        datasets.load_spoken_digits(path=tmp_path / "other.npz")


def test_loader_returns_fresh_arrays():
    (x, _), _ = datasets.load_spoken_digits()
    x[:] = 0
    (x2, _), _ = datasets.load_spoken_digits()
    assert x2.std() > 1


def test_stored_audio_gives_the_stored_features():
    clips = datasets.load_spoken_digit_clips()
    assert clips["audio"].shape == (40, 6400) and clips["audio"].dtype == np.float32
    assert clips["sample_rate"] == 8000
    assert np.abs(clips["audio"]).max() <= 1.0
    assert sorted(np.bincount(clips["labels"])) == [4] * 10
    assert set(clips["voices"]) == {"m1", "f4"} and set(clips["accents"]) == {"en-us", "en"}
    ours = audio.log_mel_spectrogram(clips["audio"].astype(np.float64))
    assert ours.shape == clips["features"].shape == (40, 49, 32)
    error = np.abs(ours - clips["features"]).max()
    assert error <= 0.25 + 1e-4, f"features differ by {error} dB, more than half a 0.5 dB step"


# --------------------------------------------------------------------------- the generator
@pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed: the generator script cannot run"
)
def test_generator_makes_a_file_the_loader_reads(tmp_path):
    out = tmp_path / "two.npz"
    subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            "--out",
            str(out),
            "--voices",
            "m1",
            "f4",
            "--accents",
            "en-us",
            "--digits",
            "3",
            "--quiet",
        ],
        check=True,
        cwd=tmp_path,
        timeout=120,
    )
    with np.load(out) as data:
        assert data["features"].shape == (2, 49, 32) and data["features"].dtype == np.uint8
        assert data["audio"].shape == (2, 6400) and data["audio"].dtype == np.int16
        assert list(data["labels"]) == [3, 3]
        assert sorted(data["voices"][data["voice"]]) == ["f4", "m1"]
        assert list(data["test_voices"]) == ["f4"] and int(data["sample_rate"]) == 8000
        made = {str(data["voices"][v]): a for v, a in zip(data["voice"], data["audio"])}
        version = str(data["espeak_version"])
    (x, y, v), (xt, yt, vt) = datasets.load_spoken_digits(path=out, return_voices=True)
    assert list(v) == ["m1"] and list(vt) == ["f4"] and x.shape == (1, 49, 32)
    clips = datasets.load_spoken_digit_clips(path=out)
    assert np.abs(audio.log_mel_spectrogram(clips["audio"]) - clips["features"]).max() <= 0.25 + 1e-4
    # A clip depends only on (seed, digit, voice, accent): the same espeak-ng must give the
    # bundled clip of "three" by m1 in en-us, sample for sample.
    with np.load(ROOT / "minidl/datasets/data/spoken_digits.npz") as bundled:
        if str(bundled["espeak_version"]) != version:
            return  # another espeak-ng speaks differently
        rows = bundled["audio_index"]
        names = bundled["voices"][bundled["voice"][rows]]
        accents = bundled["accents"][bundled["accent"][rows]]
        match = np.flatnonzero((bundled["labels"][rows] == 3) & (names == "m1") & (accents == "en-us"))
        assert match.size == 1
        assert np.array_equal(bundled["audio"][match[0]], made["m1"])
