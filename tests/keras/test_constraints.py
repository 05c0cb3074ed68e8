"""keras.constraints: Keras's lower-case names and strings over minidl's constraints, and the
door's own (UnitNorm, MinMaxNorm, NonNeg), each formula by hand."""

import numpy as np
import pytest
from minidl_keras import constraints

from minidl.nn import constraints as core


def test_kerass_strings_and_class_names_give_the_same_constraint():
    assert constraints.get("max_norm") == core.MaxNorm() == constraints.get("MaxNorm")
    assert constraints.get("non_neg") == constraints.NonNeg()
    assert constraints.max_norm is core.MaxNorm and constraints.unit_norm is constraints.UnitNorm
    assert constraints.get(None) is None
    with pytest.raises(ValueError, match="unknown constraint 'max_normal'"):
        constraints.get("max_normal")


def test_a_layers_options_get_their_constraints_made_and_nothing_else_touched():
    options = constraints.with_keras_constraints(
        {"kernel_constraint": "unit_norm", "bias_constraint": None, "units": 3}
    )
    assert options == {"kernel_constraint": constraints.UnitNorm(), "bias_constraint": None, "units": 3}
    w = np.array([[3.0], [4.0]])
    np.testing.assert_allclose(options["kernel_constraint"](w), [[0.6], [0.8]], rtol=1e-6)


# The door's own constraints (no chapter uses them): each formula by hand.
def test_unit_norm_over_several_axes_normalises_each_filter():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 2, 2))  # a Conv2D kernel: F filters
    out = constraints.UnitNorm(axis=(1, 2, 3))(w)
    np.testing.assert_allclose(np.sqrt((out**2).sum(axis=(1, 2, 3))), np.ones(4), rtol=1e-6)
    np.testing.assert_allclose(
        out / np.linalg.norm(out.reshape(4, -1), axis=1)[:, None, None, None], out, rtol=1e-6
    )


def test_min_max_norm_moves_a_fraction_rate_of_the_way():
    w = np.array([[3.0], [4.0]])  # norm 5
    full = constraints.MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0)(w)
    half = constraints.MinMaxNorm(min_value=0.0, max_value=1.0, rate=0.5)(w)
    assert np.linalg.norm(full) == pytest.approx(1.0, rel=1e-6)
    assert np.linalg.norm(half) == pytest.approx(0.5 * 1.0 + 0.5 * 5.0, rel=1e-6)
    small = np.array([[0.3], [0.4]])  # norm 0.5, raised to min_value 2
    raised = constraints.MinMaxNorm(min_value=2.0, max_value=3.0)(small)
    assert np.linalg.norm(raised) == pytest.approx(2.0, rel=1e-6)


def test_non_neg_zeroes_negative_entries_and_keeps_the_dtype():
    w = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    out = constraints.NonNeg()(w)
    assert out.tolist() == [0.0, 0.0, 2.0] and out.dtype == np.float32
