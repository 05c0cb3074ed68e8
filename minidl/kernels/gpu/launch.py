"""How every launcher of the CUDA tier compiles and runs its kernels: what the family modules share.

``get_kernel`` gives a compiled kernel of ``cuda/<file>.cu`` for an array's dtype and device
(NVRTC through ``cupy.RawModule`` for a CuPy array, the CPU emulator for a NumPy one);
``launch`` runs it with one thread per work item; the rest check and prepare arrays.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import emulate
from ..common import C_REAL_TYPES
from ..common import get_array_module as _array_module

CUDA_DIR = emulate.CUDA_DIR
THREADS = 256  # threads per block for elementwise kernels: a multiple of the 32-thread warp


# --------------------------------------------------------------------------- modules
def cuda_sources() -> list[str]:
    """File names of every CUDA source in ``kernels/cuda``."""
    return sorted(p.name for p in CUDA_DIR.glob("*.cu"))


def compile_options(dtype) -> tuple[str, ...]:
    """NVRTC options for compiling a source for ``dtype`` (float32 or float64)."""
    dtype = np.dtype(dtype)
    if dtype not in C_REAL_TYPES:
        raise TypeError(f"the CUDA kernels run in float32 or float64, got {dtype}")
    return ("--std=c++17", f"-DREAL_T={C_REAL_TYPES[dtype]}")


@functools.cache
def _cuda_module(filename: str, dtype: np.dtype):
    import cupy as cp

    return cp.RawModule(code=(CUDA_DIR / filename).read_text(), options=compile_options(dtype))


def get_kernel(filename: str, name: str, like):
    """Kernel ``name`` of ``filename`` compiled for ``like``'s dtype, on ``like``'s device.

    CuPy array -> a ``cupy.RawKernel``; NumPy array -> the CPU emulator's twin of it.
    """
    dtype = np.dtype(like.dtype)
    if _array_module(like) is np:
        return emulate.load_module(filename, dtype).get_function(name)
    return _cuda_kernel(filename, name, dtype)


@functools.cache
def _cuda_kernel(filename: str, name: str, dtype: np.dtype):
    return _cuda_module(filename, dtype).get_function(name)  # compiles the module on first use


def blocks_for(size: int, threads: int = THREADS) -> tuple[int]:
    """Enough blocks of ``threads`` threads for ``size`` independent work items."""
    return (max(1, (size + threads - 1) // threads),)


def launch(filename: str, name: str, items: int, args: tuple) -> None:
    """Run kernel ``name`` of ``filename`` with one thread per work item, ``THREADS`` to a
    block, compiled for the dtype (and device) of ``args[0]``, an array; nothing when
    ``items`` is 0 (a grid of no blocks is not a launch CUDA accepts)."""
    if items:
        get_kernel(filename, name, args[0])(blocks_for(items), (THREADS,), args)


def contiguous(x):
    """(x's array module, x as a C-contiguous array of its own dtype): how a launcher starts."""
    xp = _array_module(x)
    return xp, real_array(xp, x, x.dtype)


def real_array(xp, x, dtype):
    """``x`` as a C-contiguous array of ``dtype`` (copies only when needed)."""
    return xp.ascontiguousarray(x, dtype=dtype)


def check_in_place(name: str, arrays: dict, like):
    """In-place kernels need arrays they can write through: contiguous, ``like``'s dtype and shape."""
    for arg, array in arrays.items():
        if _array_module(array) is not _array_module(like):
            raise TypeError(f"{name}: {arg} is on a different device than param")
        if array.dtype != like.dtype or array.shape != like.shape:
            raise ValueError(
                f"{name}: {arg} must have param's shape {like.shape} and dtype "
                f"{like.dtype}, got {array.shape} {array.dtype}"
            )
        if not array.flags.c_contiguous:
            raise ValueError(f"{name}: {arg} must be C-contiguous to be updated in place")


def int32s(*values):
    """The ints a kernel takes as C ``int`` (NumPy int32), in order."""
    return tuple(np.int32(v) for v in values)
