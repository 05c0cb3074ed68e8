"""InfoNCE (minidl/nn/losses.py): SimCLR's NT-Xent and CLIP's symmetric loss, against a loop over
the rows written from the definition, and its hand-written backward (embeddings and temperature)
against float64 finite differences."""

import numpy as np
import pytest

from minidl import losses
from minidl.nn.gradcheck import check_loss, numerical_gradient, rel_error


def loop_loss(z, tau, within):
    """The mean over the 2N rows of -log softmax(cosines / tau)[partner], one row at a time."""
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    n2, n = len(z), len(z) // 2
    total = 0.0
    for r in range(n2):
        mine = r < n
        candidates = [c for c in range(n2) if c != r and (within or (c < n) != mine)]
        scores = np.array([u[r] @ u[c] / tau for c in candidates])
        partner = candidates.index((r + n) % n2)
        total += np.log(np.exp(scores).sum()) - scores[partner]
    return total / n2


@pytest.mark.parametrize("within", [True, False])
@pytest.mark.parametrize("tau", [0.05, 0.5, 2.0])
def test_info_nce_is_the_row_by_row_definition(within, tau):
    z = np.random.default_rng(3).standard_normal((8, 5))
    assert losses.InfoNCE(tau, within)(z) == pytest.approx(loop_loss(z, tau, within), rel=1e-10)


@pytest.mark.parametrize("within", [True, False])
@pytest.mark.parametrize("tau, n", [(0.1, 3), (1.0, 1), (0.3, 5)])
def test_info_nce_gradient_check_float64(within, tau, n):
    z = np.random.default_rng(n).standard_normal((2 * n, 4))
    report = check_loss(losses.InfoNCE(tau, within), z, None)
    assert report.passed, report


@pytest.mark.parametrize("within", [True, False])
def test_info_nce_temperature_gradient(within):
    z = np.random.default_rng(7).standard_normal((6, 3))
    loss = losses.InfoNCE(0.4, within)
    loss(z)
    tau = np.array([0.4])
    numeric = numerical_gradient(lambda: losses.InfoNCE(float(tau[0]), within)(z), tau)
    assert rel_error(np.array([loss.d_temperature]), numeric) < 1e-6


def test_info_nce_properties_and_refusals():
    z = np.random.default_rng(1).standard_normal((6, 4))
    loss = losses.InfoNCE(0.2)
    value = loss(z)
    assert loss(3.0 * z) == pytest.approx(value)  # cosines: the scale of a row does not matter
    order = np.array([2, 0, 1])
    assert loss(np.concatenate([z[:3][order], z[3:][order]])) == pytest.approx(value)  # pairs reordered
    swapped = losses.InfoNCE(0.2, within=False)
    assert swapped(np.concatenate([z[3:], z[:3]])) == pytest.approx(swapped(z))  # symmetric
    perfect = np.concatenate([np.eye(3), np.eye(3)])
    assert losses.InfoNCE(0.01, within=False)(perfect) < 1e-10
    with pytest.raises(ValueError, match=r"\(2N, D\).*\(5, 4\)"):
        loss(z[:5])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        losses.InfoNCE(0.0)
