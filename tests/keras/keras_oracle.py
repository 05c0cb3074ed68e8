"""Keras 3 itself, the optional oracle of the ``minidl_keras`` tests (PyTorch backend).

``HAVE_KERAS`` says whether Keras and PyTorch are installed; ``real_keras()`` imports Keras
on the PyTorch backend, or skips the calling test (saying why) where it cannot.
"""

import importlib.util
import os

import pytest

HAVE_KERAS = importlib.util.find_spec("keras") is not None and importlib.util.find_spec("torch") is not None


def real_keras():
    """The ``keras`` module on its PyTorch backend; skips the test without Keras or PyTorch, or
    where ``KERAS_BACKEND`` names another backend."""
    if not HAVE_KERAS:
        pytest.skip("Keras 3 with the PyTorch backend is not installed")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as real

    if real.backend.backend() != "torch":
        pytest.skip(f"Keras runs on {real.backend.backend()}, these comparisons use torch")
    return real
