"""The speech features: framing, the Hann window, the power spectrum against a direct DFT, the mel scale and filterbank, log-mel and MFCC."""

from pathlib import Path

import numpy as np
import pytest

from minidl.datasets import audio

ROOT = Path(__file__).resolve().parents[3]
GENERATOR = ROOT / "tools" / "make_spoken_digits.py"


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
