"""The public cases as data: what ``check()`` judges against when no grader is installed.

``minidl-grade public-data`` (the grader, ``grader/``, whose ``public.py`` writes them) writes two files here, in
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
import json
from pathlib import Path

import numpy as np

__all__ = ["DATA_DIR", "FUNCTIONS", "decode", "load"]

DATA_DIR = Path(__file__).resolve().parent / "data"
INDEX, ARRAYS = "public.json", "public.npz"


def cubic(x):
    """sum(x**3 - 2x): a function whose gradient a case checks."""
    return float(np.sum(x**3 - 2.0 * x))


def log_sum_exp(x):
    """log(sum(exp(x))): a function whose gradient a case checks."""
    return float(np.log(np.sum(np.exp(x))))


# the functions a case may pass to an answer, by name (the grader's probes define the same)
FUNCTIONS = {"cubic": cubic, "log_sum_exp": log_sum_exp}


def decode(data, arrays):
    """The value the grader's ``encode`` wrote (``arrays``: the loaded ``.npz``); arrays come back as
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


@functools.cache
def load(folder: Path = DATA_DIR) -> tuple[dict, dict]:
    """``(index, arrays)`` of the public data (read once). ``FileNotFoundError`` if it was
    never generated."""
    folder = Path(folder)
    index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
    with np.load(folder / ARRAYS, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    return index, arrays
