"""The public cases as data: what ``check()`` judges against when no grader is installed.

``minidl-grade public-data`` (the grader, ``grader/``) writes two files here, in
``data/``: ``public.json`` (every exercise: its kind, entries, and for a code exercise its
visible cases at the public seed -- arguments, expected outputs, the outputs of the usual
mistakes, the constants that explain a scaled answer) and ``public.npz`` (the arrays those
refer to). They are data, never code: nothing in them runs, and a question's entry holds
its kind and choices, not its answer.

A value is written as JSON with its arrays moved out: ``{"array": "k12"}`` is array
``k12`` of the ``.npz``; ``{"tuple": [...]}`` a tuple, ``{"dict": {...}}`` a dict; lists,
strings, numbers, booleans and ``null`` stand for themselves.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["DATA_DIR", "encode", "decode", "load", "write"]

DATA_DIR = Path(__file__).resolve().parent / "data"
_INDEX, _ARRAYS = "public.json", "public.npz"


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
        return {k: decode(v, arrays) for k, v in data["dict"].items()}
    return data


def write(index: dict, arrays: dict[str, np.ndarray], folder: Path = DATA_DIR) -> list[Path]:
    """Write ``public.json`` and ``public.npz`` into ``folder``; return their paths."""
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


@functools.lru_cache(maxsize=None)
def load(folder: Path = DATA_DIR) -> tuple[dict, dict]:
    """``(index, arrays)`` of the public data (read once). ``FileNotFoundError`` if it was
    never generated."""
    folder = Path(folder)
    index = json.loads((folder / _INDEX).read_text(encoding="utf-8"))
    with np.load(folder / _ARRAYS, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    return index, arrays
