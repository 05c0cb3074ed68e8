"""The public cases as data: what ``check()`` judges against when no grader is installed.

``minidl-grade public-data`` (the grader, ``grader/``) writes two files here, in
``data/``: ``public.json`` (every exercise: its kind, entries, and for a code exercise its
visible cases at the public seed -- arguments, expected outputs, the outputs of the usual
mistakes, the constants that explain a scaled answer) and ``public.npz`` (the arrays those
refer to). They are data, never code: nothing in them runs, and a question's entry holds
its kind and choices, not its answer.

A value is written as JSON with its arrays moved out: ``{"array": "k12"}`` is array
``k12`` of the ``.npz``; ``{"tuple": [...]}`` a tuple, ``{"dict": {...}}`` a dict; lists,
strings, numbers, booleans and ``null`` stand for themselves; ``{"function": "cubic"}`` is
one of the functions that a case hands to the answer as an input (``FUNCTIONS``: chapter 3's
gradient checks take the function to differentiate), named, never stored as code.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["DATA_DIR", "FUNCTIONS", "encode", "decode", "load", "write"]

DATA_DIR = Path(__file__).resolve().parent / "data"
_INDEX, _ARRAYS = "public.json", "public.npz"


def cubic(x):
    """sum(x**3 - 2x): a function whose gradient a case checks."""
    return float(np.sum(x**3 - 2.0 * x))


def log_sum_exp(x):
    """log(sum(exp(x))): a function whose gradient a case checks."""
    return float(np.log(np.sum(np.exp(x))))


# the functions a case may pass to an answer, by name (the grader's probes define the same)
FUNCTIONS = {"cubic": cubic, "log_sum_exp": log_sum_exp}


def encode(value, arrays: dict[str, np.ndarray]):
    """``value`` as JSON-ready data; each array goes into ``arrays`` under a fresh key."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.ndarray):
        key = f"k{len(arrays)}"
        arrays[key] = value
        return {"array": key}
    if isinstance(value, tuple):
        return {"tuple": [encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v, arrays) for k, v in value.items()}}
    name = getattr(value, "__name__", None)
    if callable(value) and name in FUNCTIONS:
        return {"function": name}
    raise TypeError(f"cannot store a value of type {type(value).__name__} as public data")


def decode(data, arrays):
    """The value ``encode`` wrote (``arrays``: the loaded ``.npz``); arrays come back as
    fresh copies, so a function that edits its inputs changes nothing stored."""
    if isinstance(data, list):
        return [decode(v, arrays) for v in data]
    if isinstance(data, dict):
        if "array" in data:
            return np.array(arrays[data["array"]])
        if "tuple" in data:
            return tuple(decode(v, arrays) for v in data["tuple"])
        if "function" in data:
            return FUNCTIONS[data["function"]]
        return {k: decode(v, arrays) for k, v in data["dict"].items()}
    return data


def _shared(index: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """``index`` with each array that equals an earlier one (dtype, shape and bytes) referred
    to by that one's key, and the arrays left: a mistake's output that is another's, an input
    stored twice, are stored once (``decode`` copies what it reads, so nothing is shared)."""
    first: dict[tuple, str] = {}
    alias: dict[str, str] = {}
    for key in sorted(arrays, key=lambda k: (len(k), k)):  # k2 before k10
        array = np.asarray(arrays[key])
        content = (array.dtype.str, array.shape, hashlib.sha256(array.tobytes()).hexdigest())
        alias[key] = first.setdefault(content, key)

    def point(value):
        if isinstance(value, list):
            return [point(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"array"} and isinstance(value["array"], str):
                return {"array": alias[value["array"]]}
            return {k: point(v) for k, v in value.items()}
        return value

    return point(index), {key: arrays[key] for key in first.values()}


def write(index: dict, arrays: dict[str, np.ndarray], folder: Path = DATA_DIR) -> list[Path]:
    """Write ``public.json`` and ``public.npz`` into ``folder`` (an array stored once however
    often it occurs); return their paths."""
    index, arrays = _shared(index, arrays)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / _INDEX, folder / _ARRAYS]
    paths[0].write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    # an .npz is a zip of .npy files; written by hand with a fixed date, so that the same
    # arrays give the same bytes (np.savez stamps the current time)
    with zipfile.ZipFile(paths[1], "w", zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    load.cache_clear()
    return paths


@functools.cache
def load(folder: Path = DATA_DIR) -> tuple[dict, dict]:
    """``(index, arrays)`` of the public data (read once). ``FileNotFoundError`` if it was
    never generated."""
    folder = Path(folder)
    index = json.loads((folder / _INDEX).read_text(encoding="utf-8"))
    with np.load(folder / _ARRAYS, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    return index, arrays
