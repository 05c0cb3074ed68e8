"""The CUDA tier: twins of ``reference/``, same names, same signatures, CuPy arrays in and out.

Each kernel function is a *launcher*: it checks and allocates arrays with CuPy, picks a grid,
and runs a hand-written CUDA C kernel from ``kernels/cuda/*.cu``. Matrix products are not
here: layers call ``xp.matmul`` and CuPy hands them to cuBLAS.

One module per family of the contract, each beside its reference twin (``gpu/conv.py`` mirrors
``reference/conv.py``); ``launch.py`` holds what they share (compiling, launching, checking).
Each family module's docstring names its CUDA source and how its kernels share the work; the
package's names are the contract's kernels taken from those modules (``contract.tier_kernels``),
with what ``launch.py`` and ``recurrent.py`` add.

Outputs that the reference writes in place (optimizer state, recurrent-cell buffers) are
written in place here too.

How the sources are compiled: each ``.cu`` file is compiled by NVRTC (through
``cupy.RawModule``) once per process and dtype, with ``-DREAL_T=float`` or
``-DREAL_T=double`` -- the kernels are written for a ``real_t`` so one source serves float32
training and float64 gradient checks. ``RawModule`` objects are cached in ``launch.py``, and CuPy keeps
the compiled binaries in its own on-disk cache.

Without a GPU: every launcher also accepts **NumPy** arrays, and then runs the same CUDA
source on the CPU through :mod:`minidl.kernels.emulate` (slow: for tests). That is how the
tests check, on any machine, both the kernels and the launch code (argument order, C types
of the scalars, grid sizes) against the reference.

CuPy is imported only when a CuPy array arrives, so ``import minidl`` never needs it.
"""

from ..contract import KERNELS, tier_kernels
from .launch import CUDA_DIR, THREADS, compile_options, cuda_sources
from .recurrent import SEQUENCE_MAX_HIDDEN, sequence_kernels_fit, sequence_rows_per_block

globals().update(tier_kernels(__name__))  # every kernel of the contract, from its family's module

# the contract's kernels, then what this tier adds: where the sources are and how they compile,
# and when a whole sequence runs in one launch
__all__ = [*KERNELS, "CUDA_DIR", "THREADS", "compile_options", "cuda_sources", "SEQUENCE_MAX_HIDDEN"]
__all__ += ["sequence_kernels_fit", "sequence_rows_per_block"]
