"""Spoken digits: "zero" .. "nine" said by 24 synthetic voices in 7 English accents.

The clips are made by this repository (``tools/make_spoken_digits.py``, with the free
speech synthesiser espeak-ng), so they ship with minidl and work offline. The bundled
file, ``datasets/data/spoken_digits.npz`` (2.6 MB), holds the log-mel spectrogram of all
1,680 clips and the 16-bit audio of 40 of them; ``datasets/data/README.md`` describes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_spoken_digits", "load_spoken_digit_clips", "SPOKEN_DIGITS"]

BUNDLED_SPOKEN_DIGITS = Path(__file__).with_name("data") / "spoken_digits.npz"
SPOKEN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_KEYS = (
    "features labels voice accent voices accents test_voices audio audio_index sample_rate db_min db_step"
).split()


def _read(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"spoken digits file not found: expected {path}. It is bundled with minidl "
            f"(minidl/datasets/data/spoken_digits.npz); rebuild it with "
            f"`python tools/make_spoken_digits.py` (needs espeak-ng)"
        )
    with np.load(path) as data:
        missing = [key for key in _KEYS if key not in data.files]
        if missing:
            raise ValueError(
                f"{path} is not a spoken-digits file: expected arrays {list(_KEYS)}, missing {missing}"
            )
        return {key: data[key] for key in data.files}


def _decibels(raw, codes):
    """uint8 codes -> float32 dB: ``db_min + db_step * code`` (steps of 0.5 dB)."""
    return (float(raw["db_min"]) + float(raw["db_step"]) * codes.astype(np.float32)).astype(np.float32)


def load_spoken_digits(test_voices=None, return_voices: bool = False, path=None):
    """Log-mel spectrograms of spoken digits, split so that the test voices are never heard in training.

    Every clip is one word, "zero" .. "nine", spoken by espeak-ng with one of 24 voice
    variants (``m1`` .. ``m8``, ``f1`` .. ``f5``, ``klatt`` .. ``klatt4``, ``croak``,
    ``whisper``, ``Alex``, ``Andy``, ``Annie``, ``Denis``, ``steph``) in one of 7 accents
    (``en-us``, ``en`` (British), ``en-gb-scotland``, ``en-gb-x-rp``, ``en-029``,
    ``en-gb-x-gbclan``, ``en-gb-x-gbcwmd``) at a random speed (140-220 words a minute) and
    pitch; resampled to 8 kHz, placed at a random offset in 0.8 s (6,400 samples), at a
    random level, with white noise 15-35 dB below the speech. Each (digit, voice, accent)
    occurs once: 1,680 clips, 168 of each digit, 70 per voice.

    Features: ``minidl.datasets.audio.log_mel_spectrogram`` of each clip -- frames of 256
    samples (32 ms) every 128 samples (16 ms), Hann window, power spectrum, 32 mel bands
    from 0 to 4 kHz, ``10 log10`` -- stored to the nearest 0.5 dB.

    Parameters
    ----------
    test_voices : names of the voices held out for testing; default the four the file
        names, ``("m3", "f4", "klatt2", "Annie")`` (280 clips, 28 of each digit).
    return_voices : also return the voice name of every clip.
    path : another file written by ``tools/make_spoken_digits.py`` (default: the bundled one).

    Returns
    -------
    ((x_train, y_train), (x_test, y_test)) : x float32 (N, T, M) = (N, 49, 32), log-mel
    energies in dB (time steps along axis 1, mel bands along axis 2, low to high), roughly
    -90 .. +10; y int64 (N,), the digit 0..9. With the default split N = 1,400 and 280.
    With ``return_voices=True`` each split is a triple ``(x, y, voices)`` with ``voices``
    a str array (N,). Rows are in the file's fixed shuffled order; every call returns
    fresh arrays.

    >>> (x, y), (xt, yt) = load_spoken_digits()
    >>> x.shape, xt.shape, y.dtype
    ((1400, 49, 32), (280, 49, 32), dtype('int64'))
    """
    if isinstance(test_voices, str):
        raise TypeError(f"test_voices must be a list of voice names, got the string {test_voices!r}")
    raw = _read(BUNDLED_SPOKEN_DIGITS if path is None else path)
    names = raw["voices"]
    held_out = [str(v) for v in (raw["test_voices"] if test_voices is None else test_voices)]
    unknown = sorted(set(held_out) - set(names.tolist()))
    if unknown:
        raise ValueError(f"unknown test voices {unknown}; expected names from {names.tolist()}")
    voice = names[raw["voice"]]
    is_test = np.isin(voice, held_out)
    x = _decibels(raw, raw["features"])
    y = raw["labels"].astype(np.int64)
    splits = []
    for rows in (~is_test, is_test):
        split = (x[rows], y[rows])
        splits.append(split + (voice[rows],) if return_voices else split)
    return tuple(splits)


def load_spoken_digit_clips(path=None):
    """The 40 clips stored as audio, with everything known about them.

    Every digit by voice ``m1`` (a training voice) and ``f4`` (held out), in the accents
    ``en-us`` and ``en``. Returns a dict:

    * ``"audio"`` float32 (40, 6400): samples in [-1, 1) (the stored int16 / 32768);
    * ``"sample_rate"`` int, 8000;
    * ``"labels"`` int64 (40,); ``"voices"``, ``"accents"`` str arrays (40,);
    * ``"features"`` float32 (40, 49, 32): the stored log-mel (dB) of the same clips, as
      ``load_spoken_digits`` returns them -- to check a feature pipeline against.
    """
    raw = _read(BUNDLED_SPOKEN_DIGITS if path is None else path)
    rows = raw["audio_index"]
    return {
        "audio": (raw["audio"].astype(np.float32) / 32768.0).astype(np.float32),
        "sample_rate": int(raw["sample_rate"]),
        "labels": raw["labels"][rows].astype(np.int64),
        "voices": raw["voices"][raw["voice"][rows]],
        "accents": raw["accents"][raw["accent"][rows]],
        "features": _decibels(raw, raw["features"][rows]),
    }
