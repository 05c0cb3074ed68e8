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


def test_unit_norm_over_several_axes_normalises_each_filter():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 2, 2))  # a Conv2D kernel: F filters
    out = C.UnitNorm(axis=(1, 2, 3))(w)
    np.testing.assert_allclose(np.sqrt((out**2).sum(axis=(1, 2, 3))), np.ones(4), rtol=1e-6)
    np.testing.assert_allclose(
        out / np.linalg.norm(out.reshape(4, -1), axis=1)[:, None, None, None], out, rtol=1e-6
    )


def test_min_max_norm_moves_a_fraction_rate_of_the_way():
    w = np.array([[3.0], [4.0]])  # norm 5
    full = C.MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0)(w)
    half = C.MinMaxNorm(min_value=0.0, max_value=1.0, rate=0.5)(w)
    assert np.linalg.norm(full) == pytest.approx(1.0, rel=1e-6)
    assert np.linalg.norm(half) == pytest.approx(0.5 * 1.0 + 0.5 * 5.0, rel=1e-6)
    small = np.array([[0.3], [0.4]])  # norm 0.5, raised to min_value 2
    assert np.linalg.norm(C.MinMaxNorm(min_value=2.0, max_value=3.0)(small)) == pytest.approx(2.0, rel=1e-6)


def test_non_neg_zeroes_negative_entries_and_keeps_the_dtype():
    w = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    out = C.NonNeg()(w)
    assert out.tolist() == [0.0, 0.0, 2.0] and out.dtype == np.float32


def test_a_zero_column_stays_zero_not_nan():
    out = C.MaxNorm(1.0)(np.zeros((3, 2)))
    assert np.all(out == 0.0)


def test_get_takes_none_a_function_a_name_or_a_saved_config():
    assert C.get(None) is None
    identity = lambda w: w  # noqa: E731
    assert C.get(identity) is identity
    assert C.get("NonNeg") == C.NonNeg()
    saved = C.MaxNorm(3.0, axis=1).get_config()
    assert C.get({"class": "MaxNorm", "config": saved}) == C.MaxNorm(3.0, axis=1)
    with pytest.raises(
        ValueError, match=r"unknown constraint 'max_norm'.*\['MaxNorm', 'MinMaxNorm', 'NonNeg', 'UnitNorm'"
    ):
        C.get("max_norm")


def test_a_subclass_defined_anywhere_is_found_by_its_name():
    class Halve(C.Constraint):
        def __call__(self, w):
            return w / 2

    assert C.Constraint.classes["Halve"] is Halve
    assert C.get("Halve")(np.array([4.0])).tolist() == [2.0]
    assert C.Constraint()(np.array([1.0])).tolist() == [1.0]  # the base class is the identity
