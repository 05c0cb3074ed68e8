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
# Every loop nest of this tier that is written with ``prange`` is compiled twice (``@threaded``):
# with threads (``parallel=True``) and without (its ``.serial`` twin, where prange runs as
# range), and a call uses threads only when its array has at least PARALLEL_MIN_ELEMENTS
# elements (4 MB of float32): waking the pool's sleeping threads (``OMP_WAIT_POLICY=PASSIVE``)
# costs some microseconds per kernel, which smaller arrays do not repay. The threshold was 2^21
# while OpenBLAS's spinning threads made threaded kernels lose, then 2^17 for a while; measured
# on a quiet 2-core machine, 2^17 made the small batch-norm kernels slower with threads
# (bn (256, 512), 131,072 elements: 0.18 -> 0.47 ms) while max-pool's 1.6 M-element input gained
# from them. 2^20 keeps both: max-pool over (64, 32, 28, 28) and larger arrays use threads, the
# batch-norm rows and every kernel of a LeNet-5 step at batch 64 (960,000 elements at most) stay
# serial (docs/performance.md, section 12; chapter 10, section 6).
# ``backend.set_threads`` gives Numba and BLAS the same count; OpenBLAS keeps its default spin.
PARALLEL_MIN_ELEMENTS = 1 << 20


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
    """``njit(parallel=True, cache=True, **options)`` that also compiles the kernel's
    ``serial_twin`` as its ``.serial``: how this tier compiles a ``prange`` loop nest."""

    def compile_both(function):
        kernel = njit(parallel=True, cache=True, **options)(function)
        kernel.serial = serial_twin(kernel)
        return kernel

    return compile_both


def pick(kernel, serial, elements):
    """``kernel`` (threaded) when threads pay for ``elements`` elements, else its ``serial`` twin."""
    return kernel if threads_pay(elements) else serial


# Long sums (a channel's batch-norm statistics, a row of attention scores, a convolution's
# shifted dot products) are reductions: without permission to reorder them, each addition
# waits for the previous one (4 cycles), and a pass costs about 1 ns per element. With
# ``reassoc`` LLVM keeps several vector accumulators instead; the order of the additions then
# differs from the reference's, at rounding. NaN and inf still propagate.
SUM_MATH = frozenset({"nsz", "contract", "reassoc"})  # (Numba takes a set: set(SUM_MATH))


# Index arithmetic in the copy kernels (``conv``, ``pool``, ``attention``): Numba checks every
# signed index for "negative means from the end" (a branch per element), which keeps LLVM from
# vectorising the inner loops. Flat 1-D views indexed by unsigned offsets (``_u(offset)``, which
# those modules import from here) skip that check; the ranges computed by ``conv._valid_range``
# guarantee the offsets are in bounds (measured: see docs/performance.md).
_u = np.uint64
