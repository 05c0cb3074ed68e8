"""How the loop nests of the Numba tier are compiled, in one place.

Every family module (``conv.py``, ``pool.py``, ...) compiles its ``prange`` loops twice, with
threads and without (``@threaded``), and picks one by the size of the work (``pick``,
``PARALLEL_MIN_ELEMENTS``); long sums may be reordered (``SUM_MATH``). Tune the threshold here:
``minidl.kernels.cpu.loops.PARALLEL_MIN_ELEMENTS = 0`` forces threads everywhere.
"""

import types as _pytypes

import numba
import numpy as np
from numba import njit

# ============================================================ one thread or all of them
# A call uses the threaded twin from PARALLEL_MIN_ELEMENTS elements. With one pool (``kernels.
# blas_pool``: products on Numba's threads, which spin a little after each region) a region starts
# in microseconds and 2^16 elements repay it (set on import); with two (``MINIDL_ONE_POOL=0``)
# Numba's threads sleep and a region after a product waits for OpenBLAS's spinning threads: 2^20
# (docs/performance.md, sections 12 and 15; chapter 10, section 6).
TWO_POOLS_MIN_ELEMENTS = 1 << 20
SHARED_POOL_MIN_ELEMENTS = 1 << 16
PARALLEL_MIN_ELEMENTS = TWO_POOLS_MIN_ELEMENTS  # in force: the tier's import lowers it with one pool


def serial_twin(kernel):
    """The same loop nest as ``kernel`` compiled without threads (under its own cache name)."""
    py_func = getattr(kernel, "py_func", kernel)  # plain function under NUMBA_DISABLE_JIT
    twin = _pytypes.FunctionType(
        py_func.__code__,
        py_func.__globals__,
        py_func.__name__ + "_serial",
        py_func.__defaults__,
        py_func.__closure__,
    )
    twin.__qualname__ = py_func.__qualname__ + "_serial"
    options = {
        k: v for k, v in getattr(kernel, "targetoptions", {}).items() if k in ("fastmath", "error_model")
    }  # the twin keeps the kernel's math flags
    return njit(cache=True, **options)(twin)


def threads_pay(elements: int) -> bool:
    """Whether a kernel over ``elements`` array elements should run its parallel version."""
    return elements >= PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1


def threaded(**options):
    """``njit(parallel=True, cache=True, error_model="numpy", **options)`` that also compiles the
    kernel's ``serial_twin`` as its ``.serial``: how this tier compiles a ``prange`` loop nest.

    ``error_model="numpy"``: a division by zero gives inf or NaN, as NumPy's, where Numba's
    default raises ZeroDivisionError -- a test and a branch at every division, which keeps LLVM
    from vectorising the loop (Adam's update, 182,000 float32: 1.45 -> 0.35 ms, the same bits)."""

    def compile_both(function):
        kernel = njit(parallel=True, cache=True, **{"error_model": "numpy", **options})(function)
        kernel.serial = serial_twin(kernel)
        return kernel

    return compile_both


def pick(kernel, serial, elements):
    """``kernel`` (threaded) when threads pay for ``elements`` elements, else its ``serial`` twin."""
    return kernel if threads_pay(elements) else serial


# Long sums (a channel's batch-norm statistics, a row of attention scores, a convolution's
# shifted dot products) are reductions: without permission to reorder them, each addition
# waits for the previous one (4 cycles): about 1 ns per element. With ``reassoc`` LLVM keeps
# several vector accumulators; the additions' order then differs from the reference's, at
# rounding. NaN and inf still propagate.
SUM_MATH = frozenset({"nsz", "contract", "reassoc"})  # (Numba takes a set: set(SUM_MATH))


# Index arithmetic in the copy kernels (``conv``, ``pool``, ``attention``): Numba checks every
# signed index for "negative means from the end" (a branch per element), which keeps LLVM from
# vectorising the inner loops; flat 1-D views indexed by unsigned offsets (``_u(offset)``) skip
# it, and ``conv._valid_range`` keeps the offsets in bounds (measured: docs/performance.md).
_u = np.uint64
