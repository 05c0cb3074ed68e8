"""keras.constraints: Keras's lower-case names and strings over minidl's constraints."""

import numpy as np
import pytest
from minidl_keras import constraints

from minidl.nn import constraints as core


def test_kerass_strings_and_class_names_give_the_same_constraint():
    assert constraints.get("max_norm") == core.MaxNorm() == constraints.get("MaxNorm")
    assert constraints.get("non_neg") == core.NonNeg()
    assert constraints.max_norm is core.MaxNorm and constraints.unit_norm is core.UnitNorm
    assert constraints.get(None) is None
    with pytest.raises(ValueError, match="unknown constraint 'max_normal'"):
        constraints.get("max_normal")


def test_a_layers_options_get_their_constraints_made_and_nothing_else_touched():
    options = constraints.with_keras_constraints(
        {"kernel_constraint": "unit_norm", "bias_constraint": None, "units": 3}
    )
    assert options == {"kernel_constraint": core.UnitNorm(), "bias_constraint": None, "units": 3}
    w = np.array([[3.0], [4.0]])
    np.testing.assert_allclose(options["kernel_constraint"](w), [[0.6], [0.8]], rtol=1e-6)
