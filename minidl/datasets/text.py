"""Character-level text: a corpus that every Python installation carries, and its tools.

* ``load_text_corpus`` -- English prose (with some code) from the docstrings of the
  standard library, gathered deterministically.
* ``CharEncoder`` -- characters <-> integer ids.
* ``make_char_windows`` -- (inputs, next-character targets) training pairs.
* ``sample`` -- generate text from a trained next-character model.
"""

from __future__ import annotations

import ast
import functools
import inspect
import numbers
import re
import string
import sysconfig
import tokenize
import warnings
from pathlib import Path

import numpy as np

from .. import backend
from .synthetic import _check_count, _generator

__all__ = ["load_text_corpus", "CharEncoder", "make_char_windows", "sample"]

# Printable ASCII without tab, carriage return, vertical tab and form feed.
ALLOWED_CHARS = frozenset(string.printable) - set("\t\r\x0b\x0c")


# --------------------------------------------------------------------------- corpus
def load_text_corpus(max_chars: int = 200_000) -> str:
    """Docstrings of the Python standard library, as one string of at most ``max_chars``.

    How it is built, so that the same Python version always gives the same text:

    1. the public top-level modules of the standard library -- the files ``*.py``
       directly in ``sysconfig.get_paths()["stdlib"]`` whose names do not start with
       ``_`` -- in sorted order (``abc``, ``aifc``, ``antigravity``, ``argparse``, ...);
    2. in each, the docstrings of the module, its classes and functions, in source
       order, read with ``ast`` (the modules are not imported);
    3. each docstring dedented (``inspect.cleandoc``), tabs expanded, trailing spaces
       removed, runs of blank lines reduced to one, characters outside printable ASCII
       dropped; docstrings joined by a blank line;
    4. the text cut at ``max_chars``.

    The vocabulary is therefore at most 96 characters (95 printable plus newline).
    Different Python versions (and distributions that patch the library) give
    somewhat different text.
    """
    _check_count("max_chars", max_chars)
    return _stdlib_docstrings(int(max_chars))


@functools.lru_cache(maxsize=8)
def _stdlib_docstrings(max_chars: int) -> str:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    modules = sorted(p for p in stdlib.glob("*.py") if not p.name.startswith("_"))
    if not modules:
        raise FileNotFoundError(
            f"no standard-library sources (*.py) found in {stdlib}; "
            f"this Python installation ships only compiled modules"
        )
    pieces, total = [], 0
    for doc in (d for path in modules for d in _docstrings_of(path)):
        pieces.append(doc)
        total += len(doc) + 2
        if total >= max_chars:
            break
    return "\n\n".join(pieces)[:max_chars]


def _docstrings_of(path: Path):
    """Normalised docstrings of a source file in source order (nothing on a parse error)."""
    try:
        with tokenize.open(path) as f:  # honours the file's encoding line
            source = f.read()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escapes in old sources
            tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, OSError):
        return []
    docs = []

    def visit(node):
        doc = _normalise(ast.get_docstring(node, clean=False) or "")
        if doc:
            docs.append(doc)
        for child in node.body:
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child)

    visit(tree)
    return docs


def _normalise(doc: str) -> str:
    text = inspect.cleandoc(doc).expandtabs(4)
    text = "".join(c for c in text if c in ALLOWED_CHARS)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --------------------------------------------------------------------------- encoder
class CharEncoder:
    """Maps characters to ids 0 .. vocab_size - 1 (sorted by character) and back.

    ``text``: if given, ``fit`` on it at once. ``unknown``: what to do with a character not
    seen by ``fit``. ``None`` (default): ``encode`` raises a ValueError listing the unknown
    characters. A single character, e.g. ``"?"``: it is added to the vocabulary and every
    unknown character is encoded as its id.

    >>> enc = CharEncoder("hello")
    >>> enc.vocab_size, enc.encode("hole").tolist(), enc.decode([3, 1])
    (4, [1, 3, 2, 0], 'oh')
    """

    def __init__(self, text: str | None = None, unknown: str | None = None):
        if unknown is not None and (not isinstance(unknown, str) or len(unknown) != 1):
            raise ValueError(f"unknown must be None or a single character, got {unknown!r}")
        self.unknown = unknown
        self.chars: tuple = ()
        self.char_to_id: dict = {}
        if text is not None:
            self.fit(text)

    def fit(self, text: str) -> CharEncoder:
        """Build the vocabulary from the characters of ``text``; returns ``self``."""
        if not isinstance(text, str):
            raise TypeError(f"CharEncoder.fit expects a str, got {type(text).__name__}")
        chars = set(text) if self.unknown is None else set(text) | {self.unknown}
        if not chars:
            raise ValueError("CharEncoder.fit got an empty text: no characters to learn")
        self.chars = tuple(sorted(chars))
        self.char_to_id = {c: i for i, c in enumerate(self.chars)}
        return self

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids."""
        return len(self.chars)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"CharEncoder(vocab_size={self.vocab_size}, unknown={self.unknown!r})"

    def encode(self, text: str) -> np.ndarray:
        """``text`` -> int64 ids of shape (len(text),)."""
        self._require_fitted()
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        missing = sorted(set(text) - self.char_to_id.keys())
        if missing and self.unknown is None:
            shown = "".join(missing[:20])
            raise ValueError(
                f"encode got {len(missing)} character(s) not in the vocabulary: {shown!r}"
                f"{' ...' if len(missing) > 20 else ''}; fit on a text containing them, or "
                f"create the encoder with unknown='?' to map them to one id"
            )
        fallback = self.char_to_id.get(self.unknown, -1)
        return np.fromiter((self.char_to_id.get(c, fallback) for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        """ids (any shape; read in row-major order) -> the string they stand for."""
        self._require_fitted()
        ids = np.asarray(backend.to_numpy(ids)).ravel()
        if ids.size == 0:
            return ""
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"decode expects integer ids, got dtype {ids.dtype}")
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(
                f"ids must be in 0..{self.vocab_size - 1}, got values from {ids.min()} to {ids.max()}"
            )
        return "".join(self.chars[i] for i in ids.tolist())

    def _require_fitted(self):
        if not self.chars:
            raise RuntimeError("CharEncoder is not fitted yet: call fit(text) first")


# --------------------------------------------------------------------------- training pairs
def make_char_windows(ids, window: int, stride: int | None = None):
    """Cut a 1-D id sequence into (input, target) windows for next-character prediction.

    Window i starts at ``s = i * stride``: ``inputs[i] = ids[s : s + window]`` and
    ``targets[i] = ids[s + 1 : s + window + 1]`` -- at every step the target is the
    character that comes next.

    ids : 1-D integer array (e.g. ``encoder.encode(text)``), length L > window.
    window : T, the number of time steps per window.
    stride : distance between window starts; default ``window`` (non-overlapping
        windows, every character is a target once). A smaller stride gives more,
        overlapping windows (memory grows as L / stride * T).

    Returns inputs, int64 (N, T), and targets, int64 (N, T), N = (L - 1 - T) // stride + 1.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"make_char_windows expects a 1-D integer array, got shape {ids.shape} dtype {ids.dtype}"
        )
    _check_count("window", window)
    stride = window if stride is None else stride
    _check_count("stride", stride)
    if len(ids) < window + 1:
        raise ValueError(
            f"need at least window + 1 = {window + 1} ids to make one (input, target) pair, got {len(ids)}"
        )
    spans = np.lib.stride_tricks.sliding_window_view(ids, window + 1)[::stride]
    spans = spans.astype(np.int64)  # copies the strided view
    return spans[:, :-1], spans[:, 1:]


# --------------------------------------------------------------------------- generation
def sample(
    model,
    encoder: CharEncoder,
    prompt: str,
    length: int,
    temperature: float = 1.0,
    window: int | None = None,
    seed=None,
) -> str:
    """Generate ``length`` characters after ``prompt``, one at a time.

    At each step the model sees the ids so far (only the last ``window`` of them if
    ``window`` is given; models trained on windows of T steps do best with
    ``window=T``), ``model.predict(ids)`` with ids of shape (1, t) returns logits of
    shape (1, t, V) (or (1, V)), and the next character is drawn from
    ``softmax(logits[last step] / temperature)``. Temperature below 1 sharpens the
    distribution (towards always taking the likeliest character), above 1 flattens it.
    Returns ``prompt`` followed by the ``length`` generated characters.
    """
    if not isinstance(temperature, numbers.Real) or not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(
            f"temperature must be a finite number > 0, got {temperature!r} "
            f"(for the likeliest character every time use a small value, e.g. 0.01)"
        )
    _check_count("length", length, minimum=0)
    if window is not None and (not isinstance(window, numbers.Integral) or window < 1):
        raise ValueError(f"window must be None or a positive integer, got {window!r}")
    if not prompt:
        raise ValueError("sample needs a non-empty prompt to start from")
    rng = _generator(seed)
    ids = list(encoder.encode(prompt))
    for _ in range(length):
        context = ids[-window:] if window else ids
        output = model.predict(np.asarray([context], dtype=np.int64))
        z = _last_step_logits(output, len(context), encoder.vocab_size) / temperature
        e = np.exp(z - z.max())  # softmax(z) = e / sum(e), without overflow
        ids.append(int(rng.choice(encoder.vocab_size, p=e / e.sum())))
    return encoder.decode(np.asarray(ids))


def _last_step_logits(output, steps: int, vocab_size: int) -> np.ndarray:
    logits = np.asarray(backend.to_numpy(output), dtype=np.float64)
    if logits.ndim == 3 and logits.shape[0] == 1 and logits.shape[2] == vocab_size:
        logits = logits[0, -1]
    elif logits.ndim == 2 and logits.shape == (1, vocab_size):
        logits = logits[0]
    else:
        raise ValueError(
            f"sample expected model.predict to return logits (1, {steps}, {vocab_size}) or "
            f"(1, {vocab_size}) for input (1, {steps}), got shape {logits.shape}"
        )
    if not np.all(np.isfinite(logits)):
        raise ValueError("model.predict returned non-finite logits (NaN or inf)")
    return logits
