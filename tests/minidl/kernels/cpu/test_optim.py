"""The Numba optimizer updates: the reference's steps in place, and views left to the reference."""

import numpy as np
import pytest

from minidl.kernels import reference
from minidl.kernels.cpu import optim as K

UPDATES = {
    "sgd": (lambda m, p, g, s: m.sgd_update(p, g, s[0], 0.1, 0.9, True, 0.01), 1),
    "adam": (lambda m, p, g, s: m.adam_update(p, g, s[0], s[1], 0.01, 0.9, 0.999, 1e-8, 3, 0.1, True), 2),
    "rmsprop": (lambda m, p, g, s: m.rmsprop_update(p, g, s[0], s[1], 0.01, 0.99, 1e-8, 0.5, 0.01), 2),
    "adagrad": (lambda m, p, g, s: m.adagrad_update(p, g, s[0], 0.1, 1e-10, 0.0), 1),
}


@pytest.mark.parametrize("name", sorted(UPDATES))
@pytest.mark.parametrize("transpose", [False, True])  # True: views, which take the reference's loop
def test_every_update_equals_the_reference_in_place(name, transpose):
    update, n_state = UPDATES[name]
    rng = np.random.default_rng(0)
    p0, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    state0 = [np.abs(rng.standard_normal((4, 3))) for _ in range(n_state)]
    if transpose:  # F-ordered copies: not C-contiguous
        p0, g, state0 = np.asfortranarray(p0), np.asfortranarray(g), [np.asfortranarray(s) for s in state0]
        assert not p0.flags.c_contiguous
    results = []
    for module in (K, reference):
        p, state = p0.copy(order="K"), [s.copy(order="K") for s in state0]
        update(module, p, g, state)
        results.append([p, *state])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert not np.array_equal(results[0][0], p0)
