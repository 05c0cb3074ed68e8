"""keras.regularizers: Keras's names over minidl's penalties, with Keras's defaults."""

import numpy as np
import pytest
from minidl_keras import regularizers

from minidl.nn import regularizers as core


def test_kerass_names_are_minidls_classes():
    assert regularizers.l2 is core.L2 and regularizers.l1 is core.L1 and regularizers.L1L2 is core.L1L2


def test_l1_l2_defaults_to_both_factors_001_unlike_the_class():
    both = regularizers.l1_l2()
    assert (both.l1, both.l2) == (0.01, 0.01)
    assert (regularizers.L1L2().l1, regularizers.L1L2().l2) == (0.0, 0.0)
    w = np.array([1.0, -2.0])
    assert regularizers.l1_l2(0.1, 0.2).loss(w) == pytest.approx(0.1 * 3 + 0.2 * 5)
