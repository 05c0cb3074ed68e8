"""The public cases as data: values encoded without code, arrays stored once, fresh on reading,
bytes that do not depend on the day they were written, and the shipped files readable."""

import numpy as np
import pytest

from minidl.exercises import data


def test_values_round_trip_with_their_types_and_named_functions():
    arrays: dict = {}
    value = {"args": (np.arange(3.0), [1, 2.5, None, "s", True]), "f": data.cubic, "n": np.int64(4)}
    encoded = data.encode(value, arrays)
    assert encoded["dict"]["f"] == {"function": "cubic"} and encoded["dict"]["n"] == 4
    back = data.decode(encoded, arrays)
    assert back["f"] is data.cubic and back["n"] == 4
    assert isinstance(back["args"], tuple) and back["args"][1] == [1, 2.5, None, "s", True]
    np.testing.assert_array_equal(back["args"][0], np.arange(3.0))
    back["args"][0][0] = 99.0  # a fresh copy: the stored array is unchanged
    np.testing.assert_array_equal(arrays["k0"], np.arange(3.0))


def test_code_is_never_stored():
    with pytest.raises(TypeError, match="cannot store a value of type function as public data"):
        data.encode(lambda x: x, {})
    with pytest.raises(TypeError, match="of type object"):
        data.encode(object(), {})


def test_the_case_functions_compute_what_they_say():
    x = np.array([1.0, 2.0])
    assert data.cubic(x) == pytest.approx((1 - 2) + (8 - 4))
    assert data.log_sum_exp(x) == pytest.approx(np.log(np.e + np.e**2))


def test_equal_arrays_are_stored_once_and_the_files_do_not_depend_on_the_day(tmp_path):
    arrays: dict = {}
    index = {
        "a": data.encode(np.ones(4), arrays),
        "b": data.encode(np.ones(4), arrays),
        "c": data.encode(np.zeros(4), arrays),
    }
    first = data.write(index, arrays, tmp_path / "one")
    second = data.write(index, arrays, tmp_path / "two")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    loaded, stored = data.load(tmp_path / "one")
    assert loaded["a"] == loaded["b"] == {"array": "k0"} and sorted(stored) == ["k0", "k2"]
    np.testing.assert_array_equal(data.decode(loaded["c"], stored), np.zeros(4))


def test_the_shipped_public_data_has_every_exercises_entry():
    index, arrays = data.load()
    assert index["exercises"] and all("chapter" in e and "kind" in e for e in index["exercises"].values())
    code = next(e for e in index["exercises"].values() if e["kind"] == "code" and e.get("cases"))
    case = code["cases"][0]
    assert isinstance(data.decode(case["args"], arrays), (list, tuple))
