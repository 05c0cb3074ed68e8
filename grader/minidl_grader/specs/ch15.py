"""Chapter 15, speech: features computed around the chapter's log-mel spectrogram."""

import numpy as np

from ..judge.registry import Case, function_exercise

CHAPTER = "15_speech"


# ---------------------------------------------------------------- delta features
def delta_features(features, width):
    """Deltas over time of features (T, F), as HTK and librosa define them:
    d_t = sum_{n=1..width} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..width} n^2),
    frames beyond either end replaced by the first or the last frame."""
    t = features.shape[0]
    padded = np.concatenate(
        [np.repeat(features[:1], width, axis=0), features, np.repeat(features[-1:], width, axis=0)]
    )
    numerator = sum(
        n * (padded[width + n : width + n + t] - padded[width - n : width - n + t])
        for n in range(1, width + 1)
    )
    return numerator / (2 * sum(n * n for n in range(1, width + 1)))


def _delta_zero_pad(features, width):
    t = features.shape[0]
    padded = np.pad(features, ((width, width), (0, 0)))
    numerator = sum(
        n * (padded[width + n : width + n + t] - padded[width - n : width - n + t])
        for n in range(1, width + 1)
    )
    return numerator / (2 * sum(n * n for n in range(1, width + 1)))


def _delta_cases(rng):
    return [
        Case((rng.standard_normal((9, 4)), 2), label="features (9, 4), width 2"),
        Case((rng.standard_normal((6, 3)) + 5.0, 1), label="features (6, 3) around 5, width 1"),
        Case((rng.standard_normal((12, 2)), 3), label="features (12, 2), width 3"),
    ]


function_exercise(
    "delta_features",
    CHAPTER,
    2,
    "delta_features",
    "Delta features: the slope of each band over time",
    _delta_cases,
    delta_features,
    ("deltas",),
    mistakes=(
        (
            "the frames beyond the ends are zeros; they are copies of the first and last "
            "frame (with zeros the deltas at the ends jump by the features' level)",
            _delta_zero_pad,
        ),
        (
            "the normaliser is missing its factor 2: divide by 2 * sum(n**2)",
            lambda f, w: 2 * delta_features(f, w),
        ),
    ),
    factors=lambda f, w: {"2": 2.0},
    forbids=("minidl.datasets.audio", "minidl.datasets.speech"),
)


# ---------------------------------------------------------------- masked normalisation
def masked_cmvn(features, lengths):
    """Per-utterance mean and variance normalisation of a padded batch (N, T, F): each
    utterance n uses only its first lengths[n] frames; padded frames come back as 0."""
    out = np.zeros_like(features)
    for n, length in enumerate(lengths):
        valid = features[n, :length]
        out[n, :length] = (valid - valid.mean(axis=0)) / valid.std(axis=0)
    return out


def _cmvn_padding_counted(features, lengths):
    mean = features.mean(axis=1, keepdims=True)
    std = features.std(axis=1, keepdims=True)
    out = (features - mean) / std
    for n, length in enumerate(lengths):
        out[n, length:] = 0.0
    return out


def _cmvn_cases(rng):
    cases = []
    for n, t, f in ((3, 8, 4), (2, 10, 3)):
        lengths = [t] + [int(v) for v in rng.integers(3, t, n - 1)]
        x = rng.standard_normal((n, t, f)) * 2.0 + 3.0
        for i, length in enumerate(lengths):
            x[i, length:] = 0.0  # the padding, as a batch carries it
        cases.append(Case((x, lengths), label=f"batch {(n, t, f)}, lengths {lengths}"))
    return cases


function_exercise(
    "masked_cmvn",
    CHAPTER,
    2,
    "masked_cmvn",
    "Mean and variance normalisation of a padded batch",
    _cmvn_cases,
    masked_cmvn,
    ("normalised",),
    mistakes=(
        (
            "the padded frames are counted in the mean and the standard deviation: their "
            "zeros pull the mean towards 0; use each utterance's first lengths[n] frames only",
            _cmvn_padding_counted,
        ),
    ),
    forbids=("minidl.datasets.audio", "minidl.datasets.speech"),
)


# ---------------------------------------------------------------- voice activity
def energy_vad(x, frame_length, hop_length, threshold_db):
    """Which frames hold speech: frame x (S,) like the chapter (frame t starts at t * hop,
    only whole frames), take each frame's energy sum(x**2) in dB relative to the loudest
    frame, and keep the frames within threshold_db of it. Returns a bool array (T,)."""
    energy = _frame_energies(x, frame_length, hop_length)
    relative = 10 * np.log10(np.maximum(energy, 1e-20) / energy.max())
    return relative >= -threshold_db


def _frame_energies(x, frame_length, hop_length):
    """sum(x**2) of every whole frame."""
    count = 1 + (len(x) - frame_length) // hop_length
    return np.array([np.sum(x[t * hop_length : t * hop_length + frame_length] ** 2) for t in range(count)])


def _vad_cases(rng):
    cases = []
    for seconds, frame, hop, threshold in ((0.25, 64, 32, 30.0), (0.3, 100, 40, 20.0)):
        s = int(8000 * seconds)
        t = np.arange(s) / 8000
        loud = (t > 0.08) & (t < 0.18)
        x = 0.001 * rng.standard_normal(s) + loud * np.sin(2 * np.pi * 440 * t) * (0.2 + rng.random())
        cases.append(
            Case(
                (x, frame, hop, threshold),
                label=f"{s} samples, frames of {frame} every {hop}, {threshold} dB",
            )
        )
    # a fade over 60 dB, so every threshold splits the frames differently; the threshold
    # sits in the middle of the widest gap between frame levels (no frame on the boundary)
    frame, hop = 80, 40
    fade = 10 ** (-np.linspace(0, 3, 4000))  # amplitude: 0 dB down to -60 dB
    x = fade * np.sin(2 * np.pi * 300 * np.arange(4000) / 8000) + 1e-6 * rng.standard_normal(4000)
    levels = np.sort(10 * np.log10(_frame_energies(x, frame, hop) / _frame_energies(x, frame, hop).max()))
    target = rng.uniform(8.0, 35.0)
    below = levels[levels < -target].max()
    above = levels[levels >= -target].min()
    threshold = round(float(-(below + above) / 2), 6)
    cases.append(
        Case(
            (x, frame, hop, threshold),
            label=f"a tone fading over 60 dB, frames of {frame} every {hop}, {threshold:.2f} dB",
        )
    )
    return cases


function_exercise(
    "energy_vad",
    CHAPTER,
    2,
    "energy_vad",
    "Find the frames that hold speech",
    _vad_cases,
    energy_vad,
    ("speech",),
    mistakes=(
        (
            "the decibels are taken of the amplitude with 10 log10: energy is already a power "
            "(a sum of squares), so 10 log10(energy) is right and the square root is not",
            lambda x, f, h, th: _vad_amplitude(x, f, h, th),
        ),
        (
            "the threshold is not the one given: use the argument threshold_db (a frame is "
            "speech when its level is >= -threshold_db dB below the loudest)",
            lambda x, f, h, th: energy_vad(x, f, h, 30.0),
        ),
        (
            "the levels are relative to the mean frame energy; the task measures them "
            "against the loudest frame",
            lambda x, f, h, th: (
                10 * np.log10(np.maximum(_frame_energies(x, f, h), 1e-20) / _frame_energies(x, f, h).mean())
                >= -th
            ),
        ),
    ),
    forbids=("minidl.datasets.audio", "minidl.datasets.speech"),
    catches=("a threshold fixed at one value (the cases use several, one drawn at random)",),
)


def _vad_amplitude(x, frame_length, hop_length, threshold_db):
    rms = np.sqrt(_frame_energies(x, frame_length, hop_length))
    return 10 * np.log10(np.maximum(rms, 1e-20) / rms.max()) >= -threshold_db
