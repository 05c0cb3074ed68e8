"""The public cases as data (written by the grader, ``minidl_grader.public``, whose tests cover
the writing): values decoded with their types, arrays fresh on reading, named functions, and
the shipped files readable."""

import numpy as np
import pytest

from minidl.exercises import data


def test_values_decode_with_their_types_and_named_functions():
    arrays = {"k0": np.arange(3.0)}
    encoded = {
        "dict": {
            "args": {"tuple": [{"array": "k0"}, [1, 2.5, None, "s", True]]},
            "f": {"function": "cubic"},
            "n": 4,
        }
    }
    back = data.decode(encoded, arrays)
    assert back["f"] is data.cubic and back["n"] == 4
    assert isinstance(back["args"], tuple) and back["args"][1] == [1, 2.5, None, "s", True]
    np.testing.assert_array_equal(back["args"][0], np.arange(3.0))
    back["args"][0][0] = 99.0  # a fresh copy: the stored array is unchanged
    np.testing.assert_array_equal(arrays["k0"], np.arange(3.0))


def test_the_case_functions_compute_what_they_say():
    x = np.array([1.0, 2.0])
    assert data.cubic(x) == pytest.approx((1 - 2) + (8 - 4))
    assert data.log_sum_exp(x) == pytest.approx(np.log(np.e + np.e**2))


def test_the_shipped_public_data_has_every_exercises_entry():
    index, arrays = data.load()
    assert index["exercises"] and all("chapter" in e and "kind" in e for e in index["exercises"].values())
    code = next(e for e in index["exercises"].values() if e["kind"] == "code" and e.get("cases"))
    case = code["cases"][0]
    assert isinstance(data.decode(case["args"], arrays), (list, tuple))
