"""Weight penalties: losses and gradients by hand, the gradient against finite differences, ``get``."""

import numpy as np
import pytest

from minidl.nn import regularizers as R
from minidl.nn.gradcheck import numerical_gradient

W = np.array([[1.0, -2.0], [0.0, 3.0]])


def test_l1_and_l2_losses_and_gradients_by_hand():
    assert R.L1(0.1).loss(W) == pytest.approx(0.1 * 6.0)
    assert R.L2(0.1).loss(W) == pytest.approx(0.1 * 14.0)  # no 1/2
    np.testing.assert_allclose(R.L1(0.1).gradient(W), 0.1 * np.sign(W))
    np.testing.assert_allclose(R.L2(0.1).gradient(W), 0.2 * W)
    both = R.L1L2(l1=0.1, l2=0.1)
    assert both.loss(W) == pytest.approx(0.6 + 1.4)
    np.testing.assert_allclose(both.gradient(W), 0.1 * np.sign(W) + 0.2 * W)


@pytest.mark.parametrize("reg", [R.L2(0.3), R.L1L2(l1=0.05, l2=0.2)])
def test_the_gradient_is_the_derivative_of_the_loss(reg):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 4))  # away from 0, where |w| has no derivative
    numeric = numerical_gradient(lambda: reg.loss(w), w)
    np.testing.assert_allclose(reg.gradient(w), numeric, rtol=1e-5, atol=1e-7)


def test_the_gradient_keeps_the_weights_dtype():
    w = W.astype(np.float32)
    assert R.L1L2(0.1, 0.1).gradient(w).dtype == np.float32


def test_negative_factors_are_refused():
    with pytest.raises(ValueError, match="must be >= 0, got l1=-1.0, l2=0.0"):
        R.L1(-1.0)


def test_configs_and_reprs_name_only_their_own_factor():
    assert R.L2(0.5).get_config() == {"l2": 0.5}
    assert R.L1(0.5).get_config() == {"l1": 0.5}
    assert R.L1L2(0.1, 0.2).get_config() == {"l1": 0.1, "l2": 0.2}
    assert repr(R.L2(0.5)) == "L2(l2=0.5)"
    assert R.L2(0.5) == R.L2(0.5) != R.L2(0.4)


def test_get_takes_none_an_object_a_name_or_a_saved_config():
    assert R.get(None) is None
    reg = R.L2(0.3)
    assert R.get(reg) is reg
    assert R.get("l2").l2 == 0.01 and R.get("l1").l1 == 0.01
    again = R.get({"class": "L1L2", "config": {"l1": 0.1, "l2": 0.2}})
    assert (again.l1, again.l2) == (0.1, 0.2)
    with pytest.raises(ValueError, match="unknown regularizer 'l3'"):
        R.get("l3")
    with pytest.raises(NotImplementedError):
        R.Regularizer().loss(W)
