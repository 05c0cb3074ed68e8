"""Spoken digits: the bundled set and its loader, the feature pipeline, and the generator script."""

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


# --------------------------------------------------------------------------- the features
def test_frame_signal_shapes_contents_and_edges():
    x = np.arange(10.0)
    frames = audio.frame_signal(x, frame_length=4, hop_length=3)  # starts 0, 3, 6
    assert frames.shape == (3, 4)
    assert np.array_equal(frames, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    frames = audio.frame_signal(np.arange(11.0), 4, 3)  # sample 10 left out
    assert frames.shape == (3, 4) and frames.max() == 9
    padded = audio.frame_signal(np.arange(11.0), 4, 3, pad_end=True)  # starts 0, 3, 6, 9
    assert padded.shape == (4, 4)
    assert np.array_equal(padded[-1], [9, 10, 0, 0])
    assert audio.frame_signal(np.ones(2), 4, 3, pad_end=True).shape == (1, 4)
    batch = np.random.default_rng(0).standard_normal((2, 5, 6400))
    frames = audio.frame_signal(batch)
    assert frames.shape == (2, 5, 49, 256)
    assert np.array_equal(frames[1, 3, 7], batch[1, 3, 7 * 128 : 7 * 128 + 256])
    frames[0, 0, 0, 0] = 1e9
    assert batch.max() < 1e9, "frames must be a copy"
    with pytest.raises(ValueError, match="3 samples is shorter than one frame of 4"):
        audio.frame_signal(np.ones(3), 4, 2)


def test_hann_window():
    w = audio.hann_window(8)
    assert w[0] == 0 and np.isclose(w[4], 1.0) and np.allclose(w[1:], w[1:][::-1])
    w = audio.hann_window(256)
    assert np.allclose(w[:128] + w[128:], 1.0), "periodic Hann: half-overlapped frames sum to 1"


def test_power_spectrum_matches_a_direct_dft():
    frame = np.random.default_rng(3).standard_normal((2, 12))
    for n_fft in (12, 20):
        n = np.arange(n_fft)
        padded = np.concatenate([frame, np.zeros((2, n_fft - 12))], axis=1)
        dft = np.array(
            [
                [np.sum(row * np.exp(-2j * np.pi * k * n / n_fft)) for k in range(n_fft // 2 + 1)]
                for row in padded
            ]
        )
        assert np.allclose(audio.power_spectrum(frame, n_fft), np.abs(dft) ** 2 / n_fft, atol=1e-10)
    # Parseval: the full periodogram sums to the frame's energy
    full = np.abs(np.fft.fft(frame[0])) ** 2 / 12
    assert np.isclose(full.sum(), np.sum(frame[0] ** 2))
    with pytest.raises(ValueError, match="n_fft must be at least the frame length 12, got 8"):
        audio.power_spectrum(frame, 8)


def test_mel_scale():
    assert np.isclose(audio.hz_to_mel(1000.0), 1000.0, atol=0.1)
    f = np.array([0.0, 50.0, 440.0, 4000.0])
    assert np.allclose(audio.mel_to_hz(audio.hz_to_mel(f)), f)
    assert np.all(np.diff(audio.hz_to_mel(np.linspace(0, 4000, 50))) > 0)


def test_mel_filterbank_rows_are_triangles_that_tile_the_band():
    fb = audio.mel_filterbank(32, 256, 8000)
    assert fb.shape == (32, 129)
    centres = fb.argmax(axis=1)
    assert np.all(np.diff(centres) > 0), "centres must rise with the band index"
    assert np.allclose(fb[np.arange(32), centres], 1.0), "each filter peaks at exactly 1"
    for m, row in enumerate(fb):
        support = np.flatnonzero(row)
        assert np.all(row[support[0] : support[-1] + 1] > 0), "one contiguous support"
        rising, falling = row[support[0] : centres[m] + 1], row[centres[m] : support[-1] + 1]
        assert np.all(np.diff(rising) > 0) and np.all(np.diff(falling) < 0)
        for side in (rising, falling):  # straight edges: constant slope
            assert np.allclose(np.diff(side, 2), 0, atol=1e-12)
        if 0 < m < 31:  # a triangle ends where each neighbour peaks
            assert row[centres[m - 1]] == 0 and row[centres[m + 1]] == 0
            assert support[0] == centres[m - 1] + 1 and support[-1] == centres[m + 1] - 1
    total = fb.sum(axis=0)
    assert np.allclose(total[centres[0] : centres[-1] + 1], 1.0), "filters must sum to 1 inside the band"
    widths = np.diff(centres)
    assert widths[-1] > 3 * widths[1], "filters widen toward high frequencies"
    with pytest.raises(ValueError, match="too narrow for n_fft=64"):
        audio.mel_filterbank(64, 64, 8000)
    with pytest.raises(ValueError, match="f_max"):
        audio.mel_filterbank(10, 256, 8000, f_max=5000)


@pytest.mark.parametrize("frequency", [300.0, 1000.0, 2500.0])
def test_log_mel_of_a_pure_tone_peaks_in_the_band_around_it(frequency):
    t = np.arange(6400) / 8000.0
    tone = 0.5 * np.sin(2 * np.pi * frequency * t)
    log_mel = audio.log_mel_spectrogram(tone)
    assert log_mel.shape == (49, 32)
    centres_hz = audio.mel_filterbank().argmax(axis=1) * 8000 / 256
    expected = int(np.argmin(np.abs(centres_hz - frequency)))
    assert np.all(log_mel.argmax(axis=1) == expected), (log_mel.argmax(axis=1), expected)
    louder = audio.log_mel_spectrogram(2 * tone)
    above_floor = log_mel > audio.FLOOR_DB + 10
    assert above_floor[:, expected].all()
    assert np.allclose((louder - log_mel)[above_floor], 20 * np.log10(2), atol=1e-6), (
        "twice the amplitude = +6 dB in every band above the floor"
    )


def test_log_mel_floor_keeps_silence_finite():
    assert np.all(audio.log_mel_spectrogram(np.zeros(1000)) == audio.FLOOR_DB)


def test_mfcc_is_an_orthonormal_dct_ii():
    c = audio.dct_matrix(32, 32)
    assert np.allclose(c @ c.T, np.eye(32))
    v = np.random.default_rng(5).standard_normal(32)
    # the DCT-II through the FFT of the mirrored sequence (Makhoul, 1980)
    y = np.fft.fft(np.concatenate([v, v[::-1]]))[:32]
    unnormalised = np.real(np.exp(-1j * np.pi * np.arange(32) / 64) * y) / 2
    scale = np.full(32, np.sqrt(2 / 32))
    scale[0] = np.sqrt(1 / 32)
    assert np.allclose(audio.mfcc(v[None, :], 32)[0], scale * unnormalised)
    flat = np.full((3, 32), -20.0)
    coefficients = audio.mfcc(flat)
    assert coefficients.shape == (3, 13)
    assert np.allclose(coefficients[:, 0], -20.0 * np.sqrt(32)) and np.allclose(coefficients[:, 1:], 0)


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
