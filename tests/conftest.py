"""Shared fixtures: a fresh seed for every test, the kernel tier as a parameter, a data cache
with no network behind it, and chapter 3's solutions with one exercise cell replaced (the
grader's tests build their submissions from it)."""

import os
import urllib.error

import numpy as np
import pytest

import minidl as mdl
from minidl.datasets import download, images
from tests.grader.grading_answers import chapter3_with_cell

TIERS = ["numpy", "numba"]  # numba is a dependency: a broken install fails, it is not skipped


@pytest.fixture(autouse=True)
def _isolated_backend():
    """Every test starts from seed 0 and gets back the kernel tier it found."""
    before = mdl.backend.current()
    mdl.seed(0)
    yield
    mdl.backend.use(before)


@pytest.fixture
def reference_kernels():
    """The NumPy reference tier for the test (``_isolated_backend`` puts the previous one back)."""
    mdl.backend.use("numpy")


@pytest.fixture(params=TIERS)
def tier(request):
    """Run the test once per CPU kernel tier ("numpy" reference, "numba")."""
    mdl.backend.use(request.param)
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty $MINIDL_DATA, a network that fails loudly, and a fresh in-process cache of
    decoded images: ``(folder, calls)``, ``calls`` the URLs the loaders tried."""
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path))
    monkeypatch.setattr(images, "_decoded", {})
    calls = []

    def no_network(request, *args, **kwargs):
        calls.append(request.full_url)
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(download, "urlopen", no_network)
    return tmp_path, calls


@pytest.fixture
def chapter3(tmp_path):
    """``chapter3(exercise, source, ...)`` -> the path of a submission: chapter 3's solutions with
    that exercise's cell replaced, written as ``03_backpropagation.ipynb`` in a fresh folder."""
    made = []

    def make(exercise=None, source=None, extra_cell=None, keep=True, name="03_backpropagation.ipynb"):
        folder = tmp_path / f"submission{len(made)}"
        folder.mkdir()
        made.append(chapter3_with_cell(folder / name, exercise, source, extra_cell, keep))
        return made[-1]

    return make


# CI installs PyTorch and Keras (.ci/run) and sets MINIDL_REQUIRE_ORACLES=1: there, a test that
# would skip because an oracle is missing fails instead, so that no comparison with PyTorch or
# Keras silently stops running. Elsewhere they skip, saying why.
_ORACLE_MISSING = ("could not import 'torch'", "could not import 'keras'", "Keras 3 with the PyTorch backend")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and os.environ.get("MINIDL_REQUIRE_ORACLES") == "1"):
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(missing in reason for missing in _ORACLE_MISSING):
        report.outcome = "failed"
        report.longrepr = f"MINIDL_REQUIRE_ORACLES=1, but the oracle is missing: {reason}"
