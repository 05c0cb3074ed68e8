"""The wire format between the submission's process and the grader: what it carries back
unchanged, what it replaces by a stand-in, and every malformed message it refuses."""

import struct

import numpy as np
import pytest
from minidl_grader.runtime import codec


def test_plain_values_arrays_tuples_and_dicts_come_back_as_they_went():
    value = {
        "a": (1, 2.5, None, True, "x"),
        "b": [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([True, False])],
        "c": np.int64(7),
        "d": np.float32(0.5),
        "e": np.bool_(True),
    }
    back = codec.loads(codec.dumps(value))
    assert back["a"] == (1, 2.5, None, True, "x") and isinstance(back["a"], tuple)
    np.testing.assert_array_equal(back["b"][0], value["b"][0])
    assert back["b"][0].dtype == np.float32 and back["b"][1].dtype == bool
    assert back["c"] == 7 and type(back["c"]) is int and back["d"] == 0.5 and back["e"] is True


def test_a_non_contiguous_array_comes_back_with_its_values():
    x = np.arange(12.0).reshape(3, 4).T
    np.testing.assert_array_equal(codec.loads(codec.dumps(x)), x)


def test_what_the_format_does_not_carry_comes_back_as_a_named_stand_in():
    back = codec.loads(codec.dumps([object(), np.array(["a"]), {1: 2}]))
    assert back == [
        codec.Unsupported("object"),
        codec.Unsupported("ndarray of dtype <U1"),
        codec.Unsupported("dict"),
    ]
    assert repr(back[0]) == "<object of type object>"
    assert codec.Unsupported("bad\nname\x00").type_name == "bad?name?"


def test_a_value_nested_past_the_limit_is_cut_off():
    deep: list = []
    for _ in range(30):
        deep = [deep]
    back = codec.loads(codec.dumps(deep))
    inner = back
    while isinstance(inner, list):
        inner = inner[0]
    assert inner == codec.Unsupported("deeply nested value")


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"JUNK" + bytes(20), "not a message of the grader's format"),
        (codec.MAGIC + struct.pack("!Q", 100) + b"[]", r"malformed result \(truncated\)"),
        (codec.MAGIC + struct.pack("!Q", 2) + b"[]" + b"\x00\x00", r"truncated array"),
        (codec.MAGIC + struct.pack("!Q", 4) + b"[1,]", "malformed result: "),
        (codec.MAGIC + struct.pack("!Q", 8) + b'{"x": 1}', "malformed value of type dict"),
    ],
)
def test_a_malformed_message_is_refused_with_the_reason(raw, message):
    with pytest.raises(ValueError, match=message):
        codec.loads(raw)


def test_too_many_values_or_too_many_bytes_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="holds more than 100000 values"):
        codec.loads(codec.dumps(list(range(200_000))))
    monkeypatch.setattr(codec, "MAX_BYTES", 100)
    with pytest.raises(ValueError, match="larger than the limit of 100"):
        codec.loads(codec.dumps(np.zeros(100)))


def test_an_array_index_that_points_nowhere_is_not_an_array():
    text = b'{"__ndarray__": 3}'
    with pytest.raises(ValueError, match="malformed value of type dict"):
        codec.loads(codec.MAGIC + struct.pack("!Q", len(text)) + text)
