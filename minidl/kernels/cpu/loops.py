"""How the loop nests of the Numba tier are compiled, in one place.

Every family module (``conv.py``, ``pool.py``, ...) compiles its ``prange`` loops twice, with
threads and without, and picks one by the size of the work (``PARALLEL_MIN_ELEMENTS``,
``threads_pay``); long sums may be reordered (``SUM_MATH``). Tune the threshold here:
``minidl.kernels.cpu.loops.PARALLEL_MIN_ELEMENTS = 0`` forces threads everywhere.
"""

import types as _pytypes

import numba
from numba import njit

# ============================================================ one thread or all of them
# Every loop nest of this tier that is written with ``prange`` is compiled twice: with threads
# (``parallel=True``) and without (``_serial`` twin, where prange runs as range), and a call
# uses threads only when its array has at least PARALLEL_MIN_ELEMENTS elements (512 KB of
# float32): waking the pool's sleeping threads costs some microseconds per kernel, which
# smaller arrays do not repay. Threads pay only if the cores are free: OpenBLAS's threads spin
# for up to 2^28 cycles (about 0.1 s) after every matrix product by default and held the
# cores a Numba kernel wanted, which once made a LeNet-5 step twice as slow with threads and
# set this threshold at 2^21 elements, where no kernel of a course network used them (a step
# then ran serially but for its products, whatever the cores). Now both pools sleep when idle
# (``OMP_WAIT_POLICY=PASSIVE`` and ``OPENBLAS_THREAD_TIMEOUT=19``, exported by the Makefile
# and set by ``python -m bench``; ``backend.set_threads`` gives both the same count), and the
# pooling, im2col/col2im, batch-norm and dW kernels of a LeNet-5 step run on every thread
# (measured: see docs/performance.md, section 12).
PARALLEL_MIN_ELEMENTS = 1 << 17


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
# vectorising the inner loops. Flat 1-D views indexed by unsigned offsets (``_u = np.uint64``,
# defined beside the loops that use it) skip that check; the ranges computed by
# ``conv._valid_range`` guarantee the offsets are in bounds (measured: see docs/performance.md).
