"""The kernel tiers that need more than NumPy and Numba, as pytest parameters that skip
(with the reason in one line) where the machine lacks what they need.

* ``EMULATOR`` -- ``minidl/kernels/gpu/`` given NumPy arrays, its CUDA sources run on the CPU
  by ``minidl.kernels.emulate``: needs a C++ compiler;
* ``gpu_tier(name)`` -- CuPy arrays on a CUDA device, marked ``gpu``: needs a usable device.
"""

import pytest

from minidl import backend
from minidl.kernels import emulate

GPU_AVAILABLE, GPU_STATUS = backend.gpu_status()

EMULATOR = pytest.param(
    "emulator",
    id="emulator",
    marks=pytest.mark.skipif(
        emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
    ),
)


def gpu_tier(name: str):
    """The parameter ``name`` for a tier on a CUDA device: marked ``gpu``, skipped without one."""
    return pytest.param(
        name,
        id=name,
        marks=[pytest.mark.gpu, pytest.mark.skipif(not GPU_AVAILABLE, reason=f"no usable GPU: {GPU_STATUS}")],
    )
