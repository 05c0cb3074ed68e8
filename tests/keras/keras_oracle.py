"""Keras 3 itself, the optional oracle of the ``minidl_keras`` tests (PyTorch backend).

``HAVE_KERAS`` says whether Keras and PyTorch are installed; ``real_keras()`` imports Keras
on the PyTorch backend, or skips the calling test (saying why) where it cannot.
"""

import importlib.util
import os

import pytest

INSTALLED = importlib.util.find_spec("keras") is not None and importlib.util.find_spec("torch") is not None
# `make test-unit` sets MINIDL_KERAS_ORACLE=0: importing Keras and PyTorch costs seconds in every
# worker, so its comparisons with Keras are left to `make test` (tests that have a hand-computed
# expectation besides, `if HAVE_KERAS: ... else: ...`, take that branch).
WANTED = os.environ.get("MINIDL_KERAS_ORACLE", "1") != "0"
HAVE_KERAS = INSTALLED and WANTED


def real_keras():
    """The ``keras`` module on its PyTorch backend; skips the test without Keras or PyTorch,
    under ``MINIDL_KERAS_ORACLE=0`` (`make test-unit`), or where ``KERAS_BACKEND`` names another
    backend."""
    if not WANTED:
        pytest.skip("comparisons with Keras run in make test (MINIDL_KERAS_ORACLE=0 here)")
    if not INSTALLED:
        pytest.skip("Keras 3 with the PyTorch backend is not installed")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as real

    if real.backend.backend() != "torch":
        pytest.skip(f"Keras runs on {real.backend.backend()}, these comparisons use torch")
    return real
