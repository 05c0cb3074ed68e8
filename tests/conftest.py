"""Shared fixtures: a fresh seed for every test, and the kernel tier as a parameter."""
import numpy as np
import pytest

import minidl as mdl

TIERS = ["numpy", "numba"]  # numba is a dependency: a broken install fails, it is not skipped


@pytest.fixture(autouse=True)
def _isolated_backend():
    """Every test starts from seed 0 and gets back the kernel tier it found."""
    before = mdl.backend.current()
    mdl.seed(0)
    yield
    mdl.backend.use(before)


@pytest.fixture(params=TIERS)
def tier(request):
    """Run the test once per CPU kernel tier ("numpy" reference, "numba")."""
    mdl.backend.use(request.param)
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
