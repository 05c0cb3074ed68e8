"""A safe wire format for values coming back from a submission's process.

The grader never unpickles what a submission sends: a crafted pickle would run code in
the grader's own process. Results travel as JSON instead, with arrays stored as ``.npy``
bytes (their header read by NumPy's own parser, never pickle), so the only things that
can come back are numbers, strings, ``None``, tuples, lists, dicts with string keys and
numeric arrays. Anything else arrives as a placeholder naming its type, which the checks
report.

A message is ``MAGIC``, the length of its JSON part, the JSON, then each array as its
length and its ``.npy`` bytes (the JSON names them by index: ``{"__ndarray__": 0}``).
Arrays travel as raw bytes, not base64 text inside the JSON, so decoding holds the
message once and each array once: at most about twice the message's size. The JSON part
is bounded before it is parsed (``MAX_ELEMENTS``), so a reply of nested empty lists
cannot turn 32 MiB into gigabytes of Python objects.
"""

from __future__ import annotations

import json
import struct

import numpy as np

__all__ = ["encode", "dumps", "loads", "Unsupported", "MAX_BYTES", "MAX_ELEMENTS"]

MAX_BYTES = 64 * 2**20  # a result bigger than this is refused, not decoded
MAX_ELEMENTS = 100_000  # values in lists, tuples and dicts (arrays count as one)
MAGIC = b"MDLR1"
_LENGTH = struct.Struct("!Q")
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


def encode(value, depth: int = 0, arrays: list | None = None):
    """``value`` as plain JSON data (see the module docstring for what is carried); arrays
    are appended to ``arrays`` as ``.npy`` bytes and stand as ``{"__ndarray__": index}``."""
    arrays = [] if arrays is None else arrays
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
        value = np.ascontiguousarray(value)
        header = np.lib.format.header_data_from_array_1_0(value)
        buffer = _HeaderWriter()
        np.lib.format.write_array_header_2_0(buffer, header)
        arrays.append(buffer.data + value.tobytes())
        return {"__ndarray__": len(arrays) - 1}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, depth + 1, arrays) for v in value]}
    if isinstance(value, list):
        return [encode(v, depth + 1, arrays) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(v, depth + 1, arrays) for k, v in value.items()}}
    return {"__unsupported__": type(value).__name__}


class _HeaderWriter:
    def __init__(self):
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


class _Plain(dict):
    """A JSON object that is not one of ``encode``'s: valid only as a ``__dict__``'s value."""


def _read_array(raw, start: int, end: int) -> np.ndarray:
    """The ``.npy`` bytes ``raw[start:end]`` as a new (writable) array; ``ValueError`` if
    they are not a numeric array of exactly that size."""
    import io

    head = io.BytesIO(bytes(raw[start : min(end, start + 65536 + 16)]))
    try:
        version = np.lib.format.read_magic(head)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
    except Exception as err:
        raise ValueError(f"malformed array ({str(err)[:100]})") from None
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise ValueError(f"unexpected array dtype {dtype}")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    offset = start + head.tell()
    if count < 0 or offset + count * dtype.itemsize != end:
        raise ValueError("malformed array (its size does not match its shape)")
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=offset).copy()
    return array.reshape(shape, order="F" if fortran else "C")


def dumps(value) -> bytes:
    """``value`` as one message: the JSON of ``encode`` and the arrays' bytes."""
    arrays: list[bytes] = []
    text = json.dumps(encode(value, 0, arrays)).encode("utf-8")
    parts = [MAGIC, _LENGTH.pack(len(text)), text]
    for blob in arrays:
        parts += [_LENGTH.pack(len(blob)), blob]
    return b"".join(parts)


def loads(raw):
    """Parse a message made by ``dumps`` (bytes or a bytearray); ``ValueError`` if it is
    malformed, too large, or holds too many values."""
    if len(raw) > MAX_BYTES:
        raise ValueError(f"result of {len(raw)} bytes is larger than the limit of {MAX_BYTES}")
    if bytes(raw[: len(MAGIC)]) != MAGIC or len(raw) < len(MAGIC) + _LENGTH.size:
        raise ValueError("malformed result (not a message of the grader's format)")
    (size,) = _LENGTH.unpack_from(raw, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    if size > len(raw) - start:
        raise ValueError("malformed result (truncated)")
    end = start + size
    # Bound the decoded size before parsing: every Python object a JSON text can make
    # follows a bracket or a comma, so their count bounds the objects -- 32 MiB of "[],"
    # would otherwise become 11 million lists. (Brackets inside strings count too: an
    # upper bound.)
    if sum(raw.count(mark, start, end) for mark in (b"[", b"{", b",")) > MAX_ELEMENTS:
        raise ValueError(f"result holds more than {MAX_ELEMENTS} values (return arrays, not long lists)")
    text = bytes(raw[start:end])
    arrays, position = [], end
    while position < len(raw):
        if len(raw) - position < _LENGTH.size:
            raise ValueError("malformed result (truncated array)")
        (length,) = _LENGTH.unpack_from(raw, position)
        position += _LENGTH.size
        if length > len(raw) - position:
            raise ValueError("malformed result (truncated array)")
        arrays.append((position, position + length))
        position += length

    def hook(data: dict):
        if len(data) == 1:
            ((key, inner),) = data.items()
            if key == "__ndarray__" and type(inner) is int and 0 <= inner < len(arrays):
                return _read_array(raw, *arrays[inner])
            if key == "__tuple__" and isinstance(inner, list):
                return tuple(inner)
            if key == "__dict__" and isinstance(inner, _Plain):
                return dict(inner)
            if key == "__unsupported__" and isinstance(inner, str):
                return Unsupported(inner)
        return _Plain(data)

    try:
        return _check(json.loads(text, object_hook=hook))
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, RecursionError) as err:
        raise ValueError(f"malformed result: {str(err)[:200]}") from None


def _check(value, depth: int = 0):
    """``value`` if it holds no stray JSON object and nests at most ``_MAX_DEPTH`` deep."""
    if depth > _MAX_DEPTH + 1:
        raise ValueError("value nested too deeply")
    if isinstance(value, _Plain):
        raise ValueError("malformed value of type dict")
    if isinstance(value, (list, tuple)):
        for item in value:
            _check(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _check(item, depth + 1)
    return value
