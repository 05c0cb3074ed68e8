"""A safe wire format for values coming back from a submission's process.

The grader never unpickles what a submission sends: a crafted pickle would run code in
the grader's own process. Results travel as JSON instead, with arrays stored as ``.npy``
bytes (read with ``allow_pickle=False``), so the only things that can come back are
numbers, strings, ``None``, tuples, lists, dicts with string keys and numeric arrays.
Anything else arrives as a placeholder naming its type, which the checks report.
"""
from __future__ import annotations

import base64
import io
import json

import numpy as np

__all__ = ["encode", "decode", "dumps", "loads", "Unsupported", "MAX_BYTES"]

MAX_BYTES = 256 * 2**20     # a result bigger than this is refused, not decoded
_MAX_DEPTH = 20


class Unsupported:
    """Stands for a returned value of a type the wire format does not carry."""

    def __init__(self, type_name: str):
        # the name comes from the submission: printable characters only, one line
        self.type_name = "".join(c if c.isprintable() else "?" for c in str(type_name)[:100])

    def __repr__(self) -> str:
        return f"<object of type {self.type_name}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Unsupported) and other.type_name == self.type_name


def encode(value, depth: int = 0):
    """``value`` as plain JSON data (see the module docstring for what is carried)."""
    if depth > _MAX_DEPTH:
        return {"__unsupported__": "deeply nested value"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return {"__unsupported__": f"ndarray of dtype {value.dtype}"}
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(value), allow_pickle=False)
        return {"__ndarray__": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(v, depth + 1) for k, v in value.items()}}
    return {"__unsupported__": type(value).__name__}


def decode(data, depth: int = 0):
    """Inverse of ``encode``; raises ``ValueError`` on anything it did not produce."""
    if depth > _MAX_DEPTH + 1:
        raise ValueError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    if isinstance(data, dict) and len(data) == 1:
        (key, inner), = data.items()
        if key == "__ndarray__" and isinstance(inner, str):
            array = np.load(io.BytesIO(base64.b64decode(inner)), allow_pickle=False)
            if array.dtype.kind not in "biuf":
                raise ValueError(f"unexpected array dtype {array.dtype}")
            return array
        if key == "__tuple__" and isinstance(inner, list):
            return tuple(decode(v, depth + 1) for v in inner)
        if key == "__dict__" and isinstance(inner, dict):
            return {str(k): decode(v, depth + 1) for k, v in inner.items()}
        if key == "__unsupported__" and isinstance(inner, str):
            return Unsupported(inner)
    raise ValueError(f"malformed value of type {type(data).__name__}")


def dumps(value) -> bytes:
    """``encode`` then JSON, as UTF-8 bytes."""
    return json.dumps(encode(value)).encode("utf-8")


def loads(raw: bytes):
    """Parse bytes made by ``dumps``; ``ValueError`` if they are malformed or too large."""
    if len(raw) > MAX_BYTES:
        raise ValueError(f"result of {len(raw)} bytes is larger than the limit of {MAX_BYTES}")
    try:
        return decode(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as err:
        raise ValueError(f"malformed result: {err}") from None
