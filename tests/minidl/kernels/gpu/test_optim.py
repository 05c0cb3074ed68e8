"""The CUDA optimizer launchers, run by the emulator: the reference's steps in place, and the
state arrays they refuse."""

import numpy as np
import pytest

from minidl.kernels import emulate, reference
from minidl.kernels.gpu import optim as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)

W, G = np.array([[1.0, -2.0, 0.5]]), np.array([[0.5, 0.25, -1.0]])


@pytest.mark.parametrize(
    "name, args, n_state",
    [
        ("sgd_update", (0.1, 0.9, True, 0.01), 1),
        ("adam_update", (0.01, 0.9, 0.999, 1e-8, 2, 0.1, True), 2),
        ("rmsprop_update", (0.01, 0.99, 1e-8, 0.5, 0.01), 2),
        ("adagrad_update", (0.1, 1e-10, 0.0), 1),
    ],
)
def test_each_update_equals_the_reference(name, args, n_state):
    results = []
    for module in (K, reference):
        p, state = W.copy(), [np.full_like(W, 0.5) for _ in range(n_state)]
        getattr(module, name)(p, G, *state, *args)
        results.append([p, *state])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_state_of_another_shape_or_not_contiguous_is_refused():
    with pytest.raises(
        ValueError, match=r"velocity must have param's shape \(1, 3\) and dtype float64, got \(3,\) float64"
    ):
        K.sgd_update(W.copy(), G, np.zeros(3), 0.1, 0.9, False, 0.0)
    p = np.zeros((3, 2)).T
    with pytest.raises(ValueError, match="must be C-contiguous to be updated in place"):
        K.adagrad_update(p, np.zeros((2, 3)), np.zeros((2, 3)), 0.1, 1e-8, 0.0)
