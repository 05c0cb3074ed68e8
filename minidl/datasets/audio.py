"""Features for sound, written out: frames, a window, the power spectrum, mel filters, log-mel, MFCC.

A recording is a waveform ``x[n]``: the air pressure at the microphone, sampled
``sample_rate`` times a second (8,000 for telephone speech). Speech is recognised not from
the waveform itself but from how its energy is spread over frequencies, and how that spread
changes every few milliseconds. The pipeline, one function per step::

    frames = frame_signal(x, frame_length, hop_length)          # (..., T, L)  short slices
    frames = frames * hann_window(frame_length)                 # taper each slice's ends
    power = power_spectrum(frames)                              # (..., T, L // 2 + 1)
    mel = power @ mel_filterbank(n_mels, frame_length, sample_rate).T   # (..., T, n_mels)
    log_mel = 10 * log10(max(mel, floor))                       # decibels
    coefficients = mfcc(log_mel, n_mfcc)                        # (..., T, n_mfcc), a DCT

``log_mel_spectrogram`` runs the first five steps with the defaults that
``minidl.datasets.load_spoken_digits`` used. Every function takes any number of leading
axes (a batch of clips), works in NumPy only and returns float64 unless said otherwise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hz_to_mel", "mel_to_hz", "frame_signal", "hann_window", "power_spectrum", "mel_filterbank"]
__all__ += ["log_mel_spectrogram", "dct_matrix", "mfcc", "SAMPLE_RATE", "FRAME_LENGTH", "HOP_LENGTH"]
__all__ += ["N_MELS", "FLOOR_DB"]

# The settings of the bundled spoken digits (and the defaults below): 8 kHz audio, frames
# of 256 samples (32 ms) every 128 samples (16 ms), 32 mel bands, energies floored at -100 dB.
SAMPLE_RATE = 8000
FRAME_LENGTH = 256
HOP_LENGTH = 128
N_MELS = 32
FLOOR_DB = -100.0


def hz_to_mel(f):
    """The mel scale of O'Shaughnessy (1987), as HTK uses it: ``m = 2595 log10(1 + f / 700)``.

    Roughly linear below 1 kHz and logarithmic above, like the pitch intervals a listener
    judges equal (Stevens, Volkmann and Newman, 1937). 1,000 Hz is about 1,000 mel.
    """
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    """The inverse of ``hz_to_mel``: ``f = 700 (10 ** (m / 2595) - 1)``."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def frame_signal(x, frame_length: int = FRAME_LENGTH, hop_length: int = HOP_LENGTH, pad_end: bool = False):
    """Cut a signal into overlapping frames: ``frames[..., t, i] = x[..., t * hop_length + i]``.

    x : (..., S) samples. Frame t covers samples ``t * hop .. t * hop + frame_length - 1``.
    pad_end : False (default) keeps only the frames that fit entirely,
        ``T = 1 + (S - frame_length) // hop_length`` of them (the samples after the last
        full frame are dropped, as a pooling window that does not fit is); a signal shorter
        than one frame is an error. True appends zeros so that every sample lies in some
        frame: ``T = 1 + ceil(max(S - frame_length, 0) / hop_length)``.

    Returns (..., T, frame_length), a copy (changing it leaves ``x`` alone).
    """
    x = np.asarray(x)
    if frame_length < 1 or hop_length < 1:
        raise ValueError(f"frame_length and hop_length must be >= 1, got {frame_length} and {hop_length}")
    if x.ndim < 1:
        raise ValueError(f"frame_signal expected samples (..., S), got a scalar of shape {x.shape}")
    length = x.shape[-1]
    if pad_end:
        n_frames = 1 + -(-max(length - frame_length, 0) // hop_length)  # ceiling division
        padded = (n_frames - 1) * hop_length + frame_length
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (padded - length,), dtype=x.dtype)], axis=-1)
    elif length < frame_length:
        raise ValueError(
            f"a signal of {length} samples is shorter than one frame of "
            f"{frame_length}; use pad_end=True or a shorter frame"
        )
    else:
        n_frames = 1 + (length - frame_length) // hop_length
    starts = hop_length * np.arange(n_frames)[:, None]  # (T, 1)
    return x[..., starts + np.arange(frame_length)]  # (..., T, L)


def hann_window(length: int = FRAME_LENGTH):
    """The periodic Hann window ``w[i] = 0.5 - 0.5 cos(2 pi i / L)``, i = 0 .. L - 1.

    Cutting a frame out of a signal multiplies it by a rectangle, whose sharp edges spread
    every frequency over the whole spectrum ("leakage"). The Hann window falls smoothly to
    zero at both ends, so a pure tone stays concentrated in a few bins. "Periodic" (the
    denominator is L, not L - 1): frames overlapped by half add up to a constant,
    ``w[i] + w[i + L/2] = 1``.
    """
    if length < 1:
        raise ValueError(f"window length must be >= 1, got {length}")
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


def power_spectrum(frames, n_fft: int | None = None):
    """The periodogram of each frame: ``P[k] = |X[k]| ** 2 / n_fft``, k = 0 .. n_fft // 2.

    ``X[k] = sum_i frames[i] exp(-2 pi j i k / n_fft)`` is the discrete Fourier transform,
    computed by the FFT in O(n log n) instead of O(n ** 2). Bin k is the frequency
    ``k * sample_rate / n_fft`` Hz; for a real signal the bins above n_fft / 2 mirror
    those below, so only ``n_fft // 2 + 1`` are kept (``numpy.fft.rfft``).

    frames : (..., L); n_fft : FFT length, default L (frames are zero-padded when larger).
    Returns (..., n_fft // 2 + 1), float64.
    """
    frames = np.asarray(frames, dtype=np.float64)
    n_fft = frames.shape[-1] if n_fft is None else int(n_fft)
    if n_fft < frames.shape[-1]:
        raise ValueError(f"n_fft must be at least the frame length {frames.shape[-1]}, got {n_fft}")
    spectrum = np.fft.rfft(frames, n=n_fft, axis=-1)
    return (spectrum.real**2 + spectrum.imag**2) / n_fft


def mel_filterbank(
    n_mels: int = N_MELS,
    n_fft: int = FRAME_LENGTH,
    sample_rate: float = SAMPLE_RATE,
    f_min: float = 0.0,
    f_max: float | None = None,
):
    """Triangular filters evenly spaced on the mel scale, as a matrix (n_mels, n_fft // 2 + 1).

    Take ``n_mels + 2`` points evenly spaced in mel from ``hz_to_mel(f_min)`` to
    ``hz_to_mel(f_max)`` (default: the Nyquist frequency ``sample_rate / 2``), convert them
    to Hz and round each to the nearest FFT bin ``b_0 < b_1 < ... < b_{M+1}``. Filter m
    (m = 1 .. M, row m - 1) is a triangle over the bins k:

        rises   (k - b_{m-1}) / (b_m - b_{m-1})   for b_{m-1} <= k <= b_m,
        falls   (b_{m+1} - k) / (b_{m+1} - b_m)   for b_m <= k <= b_{m+1},
        0 elsewhere.

    Each filter peaks at exactly 1 at its centre bin ``b_m``; each falls to 0 where its
    neighbour peaks, so between the first and the last centre the filters sum to 1 (they
    tile the band). Narrow at low frequencies and wide at high ones, they measure energy
    with the ear's resolution. (These are HTK's unit-height triangles; librosa's "slaney"
    filters are instead scaled to unit area.) ``mel_energies = power @ fbank.T``.
    """
    n_bins = n_fft // 2 + 1
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    if n_mels < 1:
        raise ValueError(f"n_mels must be >= 1, got {n_mels}")
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ValueError(
            f"need 0 <= f_min < f_max <= sample_rate / 2 = {sample_rate / 2}, "
            f"got f_min={f_min}, f_max={f_max}"
        )
    hz = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    bins = np.rint(hz * n_fft / sample_rate).astype(np.int64)  # b_0 .. b_{M+1}
    if np.any(np.diff(bins) <= 0):
        raise ValueError(
            f"{n_mels} mel bands are too narrow for n_fft={n_fft} at "
            f"{sample_rate} Hz: two band edges fall on the same FFT bin "
            f"(bins {bins.tolist()}); use fewer bands or a larger n_fft"
        )
    k = np.arange(n_bins)[None, :]  # (1, K)
    left, centre, right = bins[:-2, None], bins[1:-1, None], bins[2:, None]  # (M, 1) each
    rising = (k - left) / (centre - left)
    falling = (right - k) / (right - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)  # (M, K)


def log_mel_spectrogram(
    x,
    sample_rate: float = SAMPLE_RATE,
    frame_length: int = FRAME_LENGTH,
    hop_length: int = HOP_LENGTH,
    n_mels: int = N_MELS,
    floor_db: float = FLOOR_DB,
):
    """Log-mel energies in decibels: frames, Hann window, power spectrum, mel filters, log.

    x : (..., S) waveform, any scale (the bundled clips are in [-1, 1]).
    Returns (..., T, n_mels) with T = 1 + (S - frame_length) // hop_length:
    ``10 log10(max(E, 10 ** (floor_db / 10)))`` where E are the mel energies. The log turns
    loudness into an offset (twice as loud = +3 dB in every band) and compresses the huge
    range of energies, as hearing does; the floor keeps silence finite.
    """
    frames = frame_signal(x, frame_length, hop_length) * hann_window(frame_length)
    energies = power_spectrum(frames) @ mel_filterbank(n_mels, frame_length, sample_rate).T
    return 10.0 * np.log10(np.maximum(energies, 10.0 ** (floor_db / 10.0)))


def dct_matrix(n_out: int, n_in: int):
    """The orthonormal DCT-II as a matrix C (n_out, n_in): ``y = C @ v``.

    ``C[k, m] = s_k cos(pi k (m + 1/2) / n_in)`` with ``s_0 = sqrt(1 / n_in)`` and
    ``s_k = sqrt(2 / n_in)`` for k > 0 (the rows are orthonormal; ``scipy.fft.dct(v,
    norm="ortho")`` computes the same). Row 0 is the mean level, row 1 the overall tilt,
    higher rows ever finer ripples across the bands.
    """
    if not 1 <= n_out <= n_in:
        raise ValueError(f"need 1 <= n_out <= n_in, got n_out={n_out}, n_in={n_in}")
    k = np.arange(n_out)[:, None]
    m = np.arange(n_in)[None, :]
    scale = np.where(k == 0, np.sqrt(1.0 / n_in), np.sqrt(2.0 / n_in))
    return scale * np.cos(np.pi * k * (m + 0.5) / n_in)


def mfcc(log_mel, n_mfcc: int = 13):
    """Mel-frequency cepstral coefficients (Davis and Mermelstein, 1980): a DCT of the log-mel.

    log_mel : (..., T, n_mels). Returns (..., T, n_mfcc): ``log_mel @ dct_matrix(n_mfcc,
    n_mels).T``. Neighbouring mel bands are strongly correlated; the DCT concentrates what
    they share into the first few coefficients (the smooth outline of the spectrum, which
    the vocal tract shapes), and dropping the rest discards the fine ripple of the pitch
    harmonics. Thirteen coefficients were the classic input of speech recognisers.
    """
    log_mel = np.asarray(log_mel, dtype=np.float64)
    return log_mel @ dct_matrix(n_mfcc, log_mel.shape[-1]).T
