"""Make ``minidl/datasets/data/spoken_digits.npz``: the words "zero" .. "nine", synthesised.

    python tools/make_spoken_digits.py                      # the bundled file (about a minute)
    python tools/make_spoken_digits.py --out /tmp/x.npz --voices m1 f2 --accents en-us --digits 3

Needs the ``espeak-ng`` program (Debian/Ubuntu package ``espeak-ng``; free software, GPL v3)
and NumPy. Every clip is made the same way:

1. ``espeak-ng -v ACCENT+VOICE -s SPEED -p PITCH --stdout WORD`` speaks the word, at
   22,050 Hz. The accent is one of espeak-ng's English pronunciations (``en-us``,
   ``en-gb-scotland``, ...), the voice one of its variants (``m3``, ``f2``, ``klatt``, ...,
   which change the pitch, the formants, the breathiness: the "speaker"); the speed
   (words per minute) and the pitch (0-99) are drawn at random.
2. The waveform is resampled to 8,000 Hz (telephone quality) in the frequency domain and
   trimmed to where the word is audible (above 2 % of its peak).
3. It is scaled to a random peak level, placed at a random offset in a clip of 0.8 s
   (6,400 samples) and white noise at a random signal-to-noise ratio is added; the result
   is rounded to 16-bit integers, as a sound card would store it.
4. Its log-mel spectrogram is computed with ``minidl.datasets.audio.log_mel_spectrogram``
   (49 frames of 32 ms every 16 ms, 32 mel bands, in dB) and stored quantised to steps of
   0.5 dB (uint8).

The random draws of a clip come from a generator seeded by (seed, digit, voice, accent),
so a clip is the same whichever other clips are made with it. The file stores the log-mel
features of every clip and the 16-bit audio of 40 of them (``AUDIO_VOICES`` x
``AUDIO_ACCENTS``): compressed, a clip's audio takes about 11 kB against 1.3 kB for its
features, and the audio of all 1,680 clips would take 18 MB, six times the 3 MB budget
of a bundled file. The chapter computes the features of the stored audio with the same
functions and checks that they match the stored ones.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import wave
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from minidl.datasets import audio  # noqa: E402  (this checkout's minidl, found through ROOT)

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# espeak-ng's English pronunciations ("accents").
# ("en" is British English; "en-gb+VARIANT" would silently ignore the variant, and
# "en-us-nyc" says eight of the ten digits exactly as "en-us" does.)
ACCENTS = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
# espeak-ng's voice variants: the "speakers". m = male, f = female settings; klatt* use
# the Klatt synthesiser; croak and whisper change the voicing; the named ones are
# contributed variants with their own formants and pitch ranges.
VOICES = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "croak",
    "whisper",
    "Alex",
    "Andy",
    "Annie",
    "Denis",
    "steph",
)
# Held out by default: whole voices the model never hears in training.
TEST_VOICES = ("m3", "f4", "klatt2", "Annie")
# The clips also stored as audio: every digit by these voices (one heard in training, one
# held out) in these accents, 40 clips.
AUDIO_VOICES = ("m1", "f4")
AUDIO_ACCENTS = ("en-us", "en")

SPEED_RANGE = (140, 220)  # words per minute (espeak-ng's default is 175)
PITCH_RANGE = (25, 75)  # 0-99 (default 50)
PEAK_RANGE = (0.25, 0.9)  # peak amplitude of the word, full scale = 1
SNR_RANGE_DB = (15.0, 35.0)  # speech power over noise power
CLIP_SAMPLES = 6400  # 0.8 s at 8 kHz
DB_MIN, DB_STEP = -90.0, 0.5  # uint8 code q stands for DB_MIN + DB_STEP * q dB
ESPEAK_RATE = 22050


def espeak(word: str, voice: str, speed: int, pitch: int) -> tuple[int, np.ndarray]:
    """Speak one word with espeak-ng; returns (sample rate, float64 samples in [-1, 1])."""
    try:
        result = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
            capture_output=True,
            check=True,
        )
    except FileNotFoundError:
        raise SystemExit("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)") from None
    with wave.open(io.BytesIO(result.stdout)) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise RuntimeError(
                f"espeak-ng gave {w.getnchannels()} channels of {w.getsampwidth()} "
                "bytes; expected mono 16-bit"
            )
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    if samples.size == 0 or not np.any(samples):
        raise RuntimeError(f"espeak-ng -v {voice} gave silence for {word!r}")
    return rate, samples / 32768.0


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Change the sample rate by cutting the spectrum at the new Nyquist frequency.

    The signal is zero-padded to a whole number of input periods of the rate ratio, so the
    output length is exact; the top 10 % of the kept band is tapered (half a cosine) to avoid
    the ringing of a brick-wall filter.
    """
    g = np.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    n_in = -(-x.size // down) * down
    n_out = n_in * up // down
    spectrum = np.fft.rfft(x, n_in)[: n_out // 2 + 1]
    freq = np.arange(spectrum.size) * rate_in / n_in
    edge = 0.9 * rate_out / 2
    taper = np.where(
        freq <= edge, 1.0, 0.5 + 0.5 * np.cos(np.pi * np.clip((freq - edge) / (rate_out / 2 - edge), 0, 1))
    )
    return np.fft.irfft(spectrum * taper, n_out) * (n_out / n_in)


def clip_generator(seed: int, digit: int, voice: str, accent: str) -> np.random.Generator:
    key = [seed, digit, zlib.crc32(voice.encode()), zlib.crc32(accent.encode())]
    return np.random.default_rng(key)


def make_clip(seed: int, digit: int, voice: str, accent: str):
    """One clip: (int16 samples (CLIP_SAMPLES,), speed, pitch, snr_db)."""
    rng = clip_generator(seed, digit, voice, accent)
    speed = int(rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1))
    pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
    peak = rng.uniform(*PEAK_RANGE)
    snr_db = rng.uniform(*SNR_RANGE_DB)
    rate, x = espeak(DIGITS[digit], f"{accent}+{voice}", speed, pitch)
    x = resample(x, rate, audio.SAMPLE_RATE)
    loud = np.flatnonzero(np.abs(x) > 0.02 * np.abs(x).max())
    word = x[loud[0] : loud[-1] + 1]
    if word.size > CLIP_SAMPLES:
        raise RuntimeError(
            f"{DIGITS[digit]!r} by {accent}+{voice} at {speed} wpm lasts "
            f"{word.size} samples, more than the clip's {CLIP_SAMPLES}"
        )
    word = word * (peak / np.abs(word).max())
    clip = np.zeros(CLIP_SAMPLES)
    offset = int(rng.integers(0, CLIP_SAMPLES - word.size + 1))
    clip[offset : offset + word.size] = word
    noise_std = np.sqrt(np.mean(word**2) / 10 ** (snr_db / 10))
    clip += noise_std * rng.standard_normal(CLIP_SAMPLES)
    samples = np.clip(np.rint(clip * 32767), -32768, 32767).astype(np.int16)
    return samples, speed, pitch, snr_db


def quantise_db(log_mel: np.ndarray) -> np.ndarray:
    """dB values -> uint8 codes q with dB ~ DB_MIN + DB_STEP * q (clipped to 0..255)."""
    return np.clip(np.rint((log_mel - DB_MIN) / DB_STEP), 0, 255).astype(np.uint8)


def espeak_version() -> str:
    try:
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    except FileNotFoundError:
        raise SystemExit("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)") from None
    return out.stdout.split("Data at")[0].strip()


def build(
    out: Path,
    seed: int = 0,
    voices=VOICES,
    accents=ACCENTS,
    digits=range(10),
    test_voices=TEST_VOICES,
    audio_voices=AUDIO_VOICES,
    audio_accents=AUDIO_ACCENTS,
    quiet: bool = False,
) -> dict:
    voices, accents, digits = list(voices), list(accents), [int(d) for d in digits]
    unknown = sorted(set(test_voices) - set(voices))
    if unknown:
        raise SystemExit(f"test voices {unknown} are not among the voices {voices}")
    plan = [(d, v, a) for v in voices for a in accents for d in digits]
    order = np.random.default_rng(seed).permutation(len(plan))  # rows mix digits and voices
    plan = [plan[i] for i in order]
    clips, speeds, pitches, snrs = [], [], [], []
    for n, (digit, voice, accent) in enumerate(plan):
        samples, speed, pitch, snr_db = make_clip(seed, digit, voice, accent)
        clips.append(samples)
        speeds.append(speed)
        pitches.append(pitch)
        snrs.append(snr_db)
        if not quiet and (n + 1) % 200 == 0:
            print(f"  {n + 1} / {len(plan)} clips", flush=True)
    clips = np.stack(clips)  # (N, S) int16
    log_mel = audio.log_mel_spectrogram(clips / 32768.0)  # (N, T, M) dB
    clipped = np.mean((log_mel < DB_MIN) | (log_mel > DB_MIN + 255 * DB_STEP))
    keep_audio = np.flatnonzero([v in audio_voices and a in audio_accents for _, v, a in plan])
    arrays = dict(
        features=quantise_db(log_mel),
        labels=np.array([d for d, _, _ in plan], dtype=np.uint8),
        voice=np.array([voices.index(v) for _, v, _ in plan], dtype=np.uint8),
        accent=np.array([accents.index(a) for _, _, a in plan], dtype=np.uint8),
        speed=np.array(speeds, dtype=np.int16),
        pitch=np.array(pitches, dtype=np.int16),
        snr_db=np.array(snrs, dtype=np.float32),
        audio=clips[keep_audio],
        audio_index=keep_audio.astype(np.int32),
        voices=np.array(voices),
        accents=np.array(accents),
        digits=np.array(DIGITS),
        test_voices=np.array(list(test_voices)),
        sample_rate=np.int32(audio.SAMPLE_RATE),
        frame_length=np.int32(audio.FRAME_LENGTH),
        hop_length=np.int32(audio.HOP_LENGTH),
        n_mels=np.int32(audio.N_MELS),
        db_min=np.float32(DB_MIN),
        db_step=np.float32(DB_STEP),
        seed=np.int64(seed),
        espeak_version=np.array(espeak_version()),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    summary = dict(
        clips=len(plan),
        voices=len(voices),
        accents=len(accents),
        digits=len(digits),
        audio_clips=int(keep_audio.size),
        bytes=out.stat().st_size,
        db_range=(float(log_mel.min()), float(log_mel.max())),
        clipped=float(clipped),
    )
    if not quiet:
        print(f"wrote {out}: {summary}")
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "minidl/datasets/data/spoken_digits.npz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--voices", nargs="+", default=list(VOICES))
    parser.add_argument("--accents", nargs="+", default=list(ACCENTS))
    parser.add_argument("--digits", nargs="+", type=int, default=list(range(10)))
    parser.add_argument(
        "--test-voices", nargs="*", default=None, help="default: those of TEST_VOICES among --voices"
    )
    parser.add_argument(
        "--audio-voices",
        nargs="*",
        default=None,
        help="voices whose clips are also stored as audio (default: AUDIO_VOICES; "
        "all voices when none of those is among --voices)",
    )
    parser.add_argument(
        "--audio-accents",
        nargs="*",
        default=None,
        help="accents whose clips by --audio-voices are stored as audio (default: "
        "AUDIO_ACCENTS; all accents when none of those is among --accents)",
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    test_voices = (
        [v for v in TEST_VOICES if v in args.voices] if args.test_voices is None else args.test_voices
    )
    audio_voices = args.audio_voices
    if audio_voices is None:
        audio_voices = [v for v in AUDIO_VOICES if v in args.voices] or args.voices
    audio_accents = args.audio_accents
    if audio_accents is None:
        audio_accents = [a for a in AUDIO_ACCENTS if a in args.accents] or args.accents
    build(
        args.out,
        args.seed,
        args.voices,
        args.accents,
        args.digits,
        test_voices,
        audio_voices,
        audio_accents,
        args.quiet,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
