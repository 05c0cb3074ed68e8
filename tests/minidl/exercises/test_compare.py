"""The explanations of a wrong answer: relative error, shapes, non-finite values, the named
mistakes, scale factors and dtypes, each message as a student reads it."""

import numpy as np
import pytest

from minidl.exercises import compare as C


def test_rel_error_is_scale_free_and_handles_non_finite_values():
    a = np.array([1.0, 2.0])
    assert C.rel_error(a, a) == 0.0
    assert C.rel_error(a, 2 * a) == pytest.approx(1 / 3)
    assert C.rel_error(1e200 * a, 2e200 * a) == pytest.approx(1 / 3)  # no overflow to inf/inf
    assert C.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert (
        C.rel_error([1.0, np.inf], [1.0, np.inf]) == 0.0 and C.rel_error([1.0, np.nan], [1.0, np.nan]) == 0.0
    )
    assert C.rel_error([1.0, np.inf], [1.0, 2.0]) == float("inf")
    with pytest.raises(ValueError, match=r"equal shapes, got \(2,\) and \(3,\)"):
        C.rel_error(a, np.zeros(3))


def test_a_right_answer_passes_and_a_named_mistake_is_hinted():
    expected, wrong = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])
    assert C.compare_outputs(expected + 1e-9, expected, ("y",)) is None
    message = C.compare_outputs(wrong, expected, ("y",), mistakes=[("the factor 2 twice", wrong)])
    assert message.startswith("`y` is wrong: relative error 3.33e-01 (tolerance 1e-06)")
    assert message.endswith("\n    hint: the factor 2 twice")


def test_a_scaled_answer_is_explained_by_a_factor():
    expected = np.array([1.0, -2.0, 0.5])
    message = C.compare_outputs(expected * 8, expected, ("dw",), factors={"the batch size N": 8})
    assert "hint:" in message and "the batch size N" in message


@pytest.mark.parametrize(
    "got, text",
    [
        (None, "expected 2 return values (dx, dw), got None -- did you forget `return`?"),
        ((1.0,), "expected 2 return values (dx, dw), got 1"),
        (np.zeros(2), "expected 2 return values (dx, dw), got an array of shape (2,)"),
        ((None, np.zeros(2)), "`dx` is None -- did you forget to `return` it?"),
        ((np.zeros((2, 1)), np.zeros(2)), "`dx` has shape (2, 1), expected (2,)"),
    ],
)
def test_the_wrong_number_shape_or_presence_of_outputs_is_said_plainly(got, text):
    message = C.compare_outputs(got, (np.zeros(2), np.zeros(2)), ("dx", "dw"))
    assert message.startswith(text), message


def test_a_nan_where_the_answer_is_finite_is_reported_as_such():
    message = C.compare_outputs(np.array([1.0, np.nan]), np.array([1.0, 2.0]), ("y",))
    assert "NaN" in message


def test_a_nan_that_a_known_mistake_makes_gets_that_mistakes_hint():
    """dy * (x > 0) turns an infinite dy at a dead unit into NaN: the hint names it; a NaN
    elsewhere is not that mistake."""
    dy, x = np.array([np.inf, 2.0, np.inf]), np.array([-1.0, 1.0, 1.0])
    with np.errstate(invalid="ignore"):
        times_step = dy * (x > 0)
    expected, mistake = np.where(x > 0, dy, 0.0), ("inf times 0", times_step)
    message = C.compare_outputs(times_step.copy(), expected, ("dx",), [mistake])
    assert "NaN" in message and "hint: inf times 0" in message
    message = C.compare_outputs(np.array([0.0, np.nan, np.inf]), expected, ("dx",), [mistake])
    assert "NaN" in message and "hint" not in message


def test_right_values_in_the_wrong_dtype_fail_with_the_reason():
    expected = np.array([1.0, 2.0])
    message = C.compare_outputs(expected.astype(np.float32), expected, ("y",))
    assert message.startswith(
        "`y`: the values are right, but it should be an array of dtype float64, got an array of dtype float32"
    )
    assert C.dtype_problem("i", np.array([1], np.int32), np.array([1], np.int64)) is None  # any integer width
    assert "booleans" in C.dtype_problem("m", np.array([1.0]), np.array([True]))
    assert "should be an int, got float 3.0" in C.dtype_problem("epoch", 3.0, 3)
    assert C.dtype_problem("epoch", np.int64(3), 3) is None


def test_describe_value_is_short_and_names_the_type():
    assert C.describe_value(None) == "None"
    assert C.describe_value(np.zeros((2, 3))) == "an array of shape (2, 3)"
    assert C.describe_value((1, 2)) == "a tuple of 2 values"
    assert C.describe_value("x" * 200).startswith("str 'xxx") and len(C.describe_value("x" * 200)) == 80


def test_scales_judge_each_element_against_what_it_is_made_of():
    """With ``scales``, an element may differ by ``tolerance`` times its own scale: a tiny
    gradient made of large cancelling terms passes whatever its digits, and a wrong small
    element fails where the whole array's relative error would hide it."""
    expected = np.array([[1e-40, -3e-40], [2e-41, 5e-41]])
    scale = np.ones((2, 2))  # every element made of terms near 1 that cancel
    rounded = np.array([[7e-41, 0.0], [2e-41, 5e-41]])  # other digits, within rounding of 1
    assert C.rel_error(rounded, expected) > 0.1  # the whole-array rule would fail it
    assert C.compare_outputs(rounded, expected, ("dq",), scales=scale) is None
    small = np.array([[1.0, 2.0], [1e-9, 1e-9]])
    small_scale = np.array([[1.0, 2.0], [1e-9, 1e-9]])
    wrong = small * np.array([[1.0, 1.0], [1.01, 1.0]])  # 1 % off in a row a billion times smaller
    assert C.rel_error(wrong, small) < 1e-9  # hidden from the whole-array rule
    message = C.compare_outputs(wrong, small, ("dq",), scales=small_scale)
    assert message is not None and "`dq` is wrong" in message and "(1, 0)" in message
    # an element made of nothing (scale 0) must be exactly right
    assert C.compare_outputs(np.array([0.0, 1e-30]), np.zeros(2), ("x",), scales=np.zeros(2)) is not None
    assert C.compare_outputs(np.zeros(2), np.zeros(2), ("x",), scales=np.zeros(2)) is None
    # several outputs: None keeps the whole-array rule for that one
    got = (np.array([1.0 + 1e-9]), rounded)
    assert C.compare_outputs(got, (np.array([1.0]), expected), ("a", "dq"), scales=(None, scale)) is None
