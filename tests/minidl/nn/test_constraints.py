"""Weight constraints: each formula by hand, the norms along an axis, and ``get``."""

import numpy as np
import pytest

from minidl.nn import constraints as C


def test_max_norm_rescales_only_the_columns_above_the_limit():
    w = np.array([[3.0, 0.6], [4.0, 0.8]])  # column norms 5 and 1
    out = C.MaxNorm(max_value=2.0, axis=0)(w)
    np.testing.assert_allclose(out[:, 0], [1.2, 1.6], rtol=1e-6)  # scaled to norm 2
    np.testing.assert_allclose(out[:, 1], w[:, 1], rtol=1e-6)  # norm 1 < 2: kept
    rows = C.MaxNorm(max_value=1.0, axis=1)(w)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), [1.0, 1.0], rtol=1e-6)


def test_norms_are_taken_along_one_axis_or_several_and_broadcast():
    w = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(C.norms(w, 0), np.linalg.norm(w, axis=0, keepdims=True))
    several = C.norms(w, [1, 2])
    assert several.shape == (2, 1, 1)
    np.testing.assert_allclose(several.ravel(), np.linalg.norm(w.reshape(2, -1), axis=1))


def test_a_zero_column_stays_zero_not_nan():
    out = C.MaxNorm(1.0)(np.zeros((3, 2)))
    assert np.all(out == 0.0)


def test_get_takes_none_a_function_a_name_or_a_saved_config():
    assert C.get(None) is None
    identity = lambda w: w  # noqa: E731
    assert C.get(identity) is identity
    assert C.get("MaxNorm") == C.MaxNorm()
    saved = C.MaxNorm(3.0, axis=1).get_config()
    assert C.get({"class": "MaxNorm", "config": saved}) == C.MaxNorm(3.0, axis=1)
    with pytest.raises(ValueError, match=r"unknown constraint 'max_norm'; expected None, .*'MaxNorm'"):
        C.get("max_norm")


def test_a_subclass_defined_anywhere_is_found_by_its_name():
    class Halve(C.Constraint):
        def __call__(self, w):
            return w / 2

    assert C.Constraint.classes["Halve"] is Halve
    assert C.get("Halve")(np.array([4.0])).tolist() == [2.0]
    assert C.Constraint()(np.array([1.0])).tolist() == [1.0]  # the base class is the identity
