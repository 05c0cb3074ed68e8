"""Where arrays live and which kernels run on them.

Two independent choices are made here:

* the **array module** -- NumPy for arrays in main memory, CuPy for arrays on a GPU.
  It is never a global switch: it follows the data. ``get_array_module(x)`` looks at
  an array and returns ``numpy`` or ``cupy``, and the rest of the library writes
  ``xp.exp(...)`` instead of ``np.exp(...)`` (the idea of DeZero's ``cuda.py``).
* the **CPU kernel tier** -- ``"numpy"`` (the readable reference in
  ``minidl/kernels/reference/``) or ``"numba"`` (the compiled versions of the same
  functions in ``minidl/kernels/cpu/``). ``use("numpy")`` switches every layer to the
  reference at once, which is how the tests compare the two.

Randomness is here too: every random number minidl draws (weight initialisation,
dropout masks, shuffling) comes from one ``numpy.random.Generator`` that ``seed(n)``
resets, so the same seed gives the same run.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import TypedDict

import numpy as np

from .kernels.common import get_array_module

__all__ = ["use", "current", "kernels", "kernels_for", "get_array_module", "seed", "rng", "numba_available"]
__all__ += ["wait_passively", "keep_freed_memory", "set_threads", "threads", "gpu_available", "gpu_status"]
__all__ += ["check_device", "to_device", "device_of", "to_numpy"]

KERNEL_BACKENDS = ("numpy", "numba")
_KERNEL_MODULES = {"numpy": "minidl.kernels.reference", "numba": "minidl.kernels.cpu"}


def numba_available() -> bool:
    """True when Numba can be imported (it is a runtime dependency, but may be absent)."""
    return importlib.util.find_spec("numba") is not None


def wait_passively() -> str:
    """Ask OpenMP thread pools to sleep, not spin, while they wait: ``OMP_WAIT_POLICY=PASSIVE``
    unless the variable is set already. Returns the policy in effect.

    For two pools (``kernels.blas_pool`` could not share one), whose spinning threads starve each
    other; a shared pool is fast because it spins briefly, so the command lines call this only when
    ``blas_pool.available()`` is False. It changes no result and acts only before a pool starts (a
    program's top, or the shell). ``import minidl`` changes no environment variable.
    """
    return os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


#: glibc's mallopt parameters (malloc.h) and the largest mmap threshold it accepts on 64 bits
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX = -1, -3, 32 << 20


def keep_freed_memory() -> bool:
    """Ask glibc's ``malloc`` to keep freed arrays of up to 32 MB for reuse instead of handing
    them back to the operating system; True when it agreed (Linux with glibc), else False.

    By default glibc maps every block above 128 KB afresh from the operating system (``mmap``)
    and unmaps it on ``free``, so each new NumPy array of a training step -- a ReLU's output,
    a pooling gradient -- has its pages mapped again, one page fault per 4 KB the first time
    it is written: a noticeable part of a LeNet-5 Numba step (measured: see
    docs/performance.md). glibc raises the
    threshold by itself after freeing a large mapped block, so how often it happens depends on
    which arrays a program happened to allocate before. The cost: up to 64 MB of freed memory
    stays with the process. Like ``wait_passively`` it is the program's choice, not an
    import's: ``python -m minidl`` calls it; a script can call it at its top, or start Python
    with ``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=67108864`` (the same settings).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library to ask, or not glibc
        return False
    global freed_memory_kept
    freed_memory_kept = bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        and mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)
    )
    return freed_memory_kept


#: whether ``keep_freed_memory`` has been called in this process and glibc agreed (the
#: benchmark records it: the same step differs with and without, see docs/performance.md)
freed_memory_kept = False


# --------------------------------------------------------------------------- threads
def set_threads(count: int | None = None) -> dict:
    """Give minidl ``count`` threads, shared by its two pools: Numba's (the kernels of the
    ``"numba"`` tier) and the BLAS library's (every ``@``); ``None`` means one per usable CPU.
    Returns the counts now in force, ``{"numba": n or None, "blas": n or None}`` (None for a
    pool that is not there).

    A step alternates products and kernels, each using every core. Where NumPy's OpenBLAS
    allows it, its products run on Numba's threads (``kernels.blas_pool``), split in at most the
    pool's size; elsewhere the pools take turns (``wait_passively``). Numba cannot go above the
    pool it started with (``NUMBA_NUM_THREADS``); BLAS is set through ``threadpoolctl``.
    """
    if count is None:
        count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"set_threads expects a positive number of threads (or None), received {count!r}")
    count = int(count)
    numba, threadpoolctl = _installed("numba"), _installed("threadpoolctl")
    if numba is not None:
        numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    if threadpoolctl is not None:  # a declared dependency, but an environment may lack it
        if numba is not None and importlib.import_module("minidl.kernels.blas_pool").shared():
            count = min(count, numba.config.NUMBA_NUM_THREADS)  # a product's jobs run at once on the pool
        threadpoolctl.threadpool_limits(limits=count, user_api="blas")  # stays in force (not a context)
    return threads()


def threads() -> dict:
    """The threads minidl's two pools use now: ``{"numba": n or None, "blas": n or None}``
    (BLAS's count is the largest over the BLAS libraries loaded; None where a pool, or
    ``threadpoolctl`` to ask it, is missing)."""
    numba, threadpoolctl = _installed("numba"), _installed("threadpoolctl")
    libraries = threadpoolctl.threadpool_info() if threadpoolctl is not None else []
    blas = [lib["num_threads"] for lib in libraries if lib["user_api"] == "blas"]
    return {"numba": numba.get_num_threads() if numba is not None else None, "blas": max(blas, default=None)}


def _installed(name: str):
    """The module ``name`` (``"numba"``, ``"threadpoolctl"``) imported, None where it is not installed."""
    return importlib.import_module(name) if importlib.util.find_spec(name) is not None else None


def _default_backend() -> str:
    requested = os.environ.get("MINIDL_BACKEND")
    if requested:
        if requested not in KERNEL_BACKENDS:
            raise ValueError(f"MINIDL_BACKEND must be one of {KERNEL_BACKENDS}, got {requested!r}")
        return requested
    return "numba" if numba_available() else "numpy"


class _State(TypedDict):
    backend: str  # the CPU kernel tier: "numpy" or "numba"
    rng: np.random.Generator  # every random draw in minidl


_state: _State = {"backend": _default_backend(), "rng": np.random.default_rng(0)}


# --------------------------------------------------------------------------- kernels
def use(name: str) -> None:
    """Choose the CPU kernel tier: ``"numpy"`` (reference) or ``"numba"`` (compiled).

    >>> import minidl as mdl
    >>> mdl.backend.use("numpy")   # every layer now runs the readable reference kernels
    """
    if name not in KERNEL_BACKENDS:
        raise ValueError(f"backend must be one of {KERNEL_BACKENDS}, got {name!r}")
    if name == "numba" and not numba_available():
        raise ImportError("backend 'numba' needs the numba package: pip install numba")
    _state["backend"] = name


def current() -> str:
    """The CPU kernel tier in use: ``"numpy"`` or ``"numba"``."""
    return _state["backend"]


def kernels():
    """The kernel module of the current CPU tier (``reference`` or ``cpu``).

    Both modules define the same functions with the same signatures.
    """
    return _module(_KERNEL_MODULES[_state["backend"]])


def kernels_for(x):
    """The kernel module for array ``x``: the GPU kernels for a CuPy array, else ``kernels()``."""
    if get_array_module(x) is not np:
        return _module("minidl.kernels.gpu")
    return kernels()


def _module(name: str):
    # every layer asks at every call: sys.modules answers in 0.04 us, import_module in 0.5
    return sys.modules.get(name) or importlib.import_module(name)


# --------------------------------------------------------------------------- arrays
# get_array_module(x) -- numpy, or cupy for a CuPy array -- is imported above from its one home,
# kernels/common.py, where the GPU launchers find it too.


def device_of(x) -> str:
    """``"gpu"`` for a CuPy array, ``"cpu"`` otherwise."""
    return "cpu" if get_array_module(x) is np else "gpu"


# the CuPy module (its id) -> its successful status, so fit's per-batch moves stay cheap
_gpu_found: dict[int, tuple[bool, str]] = {}


def gpu_status() -> tuple[bool, str]:
    """``(available, description)``: whether a CUDA device can be used, and what it is or why not."""
    loaded = sys.modules.get("cupy")
    if loaded is not None and id(loaded) in _gpu_found:
        return _gpu_found[id(loaded)]
    if importlib.util.find_spec("cupy") is None:
        return False, 'CuPy is not installed (pip install "minidl[gpu]")'
    try:
        import cupy as cp

        count = cp.cuda.runtime.getDeviceCount()
    except Exception as err:  # no driver, no device, broken CUDA install: all mean "no GPU"
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return False, f"CuPy is installed but no CUDA device is usable: {message}"
    if count == 0:
        return False, "CuPy is installed but no CUDA device was found"
    props = cp.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    version = cp.cuda.runtime.runtimeGetVersion()
    status = True, f"{name} (CUDA runtime {version // 1000}.{version % 1000 // 10}, CuPy {cp.__version__})"
    _gpu_found[id(cp)] = status
    return status


def gpu_available() -> bool:
    """True when CuPy is installed and a CUDA device answers."""
    return gpu_status()[0]


def _require_gpu():
    available, why = gpu_status()
    if not available:
        raise RuntimeError(f"cannot use the GPU: {why}")
    import cupy as cp

    return cp


def device_name(device) -> str:
    """``"cpu"`` or ``"gpu"`` for a device name: PyTorch's ``"cuda"`` and ``"cuda:0"`` mean
    ``"gpu"`` (minidl uses the first CUDA device); anything else is a clear error."""
    name = device.lower() if isinstance(device, str) else device
    if name in ("cuda", "cuda:0"):
        return "gpu"
    if name not in ("cpu", "gpu"):
        hint = (
            "minidl uses one GPU, the first: 'gpu', 'cuda' or 'cuda:0'"
            if str(name).startswith("cuda:")
            else "PyTorch's 'cuda' and 'cuda:0' mean 'gpu'"
        )
        raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r} ({hint})")
    return name


def check_device(device: str) -> str:
    """``device``'s canonical name (``device_name``) if it can be used: ``"cpu"``, or
    ``"gpu"`` when a CUDA device answers; otherwise an error that says why."""
    device = device_name(device)
    if device == "gpu":
        _require_gpu()
    return device


def to_device(x, device: str):
    """Return ``x`` as an array on ``device`` (``"cpu"`` or ``"gpu"``), copying only if needed."""
    device = device_name(device)
    if device == "cpu":
        return to_numpy(x)
    return x if get_array_module(x) is not np else _require_gpu().asarray(x)


def to_numpy(x):
    """``x`` as a NumPy array (copies a CuPy array back from the GPU)."""
    xp = get_array_module(x)
    return np.asarray(x) if xp is np else xp.asnumpy(x)


# --------------------------------------------------------------------------- randomness
def seed(n: int) -> None:
    """Make every random choice in minidl repeatable.

    Resets minidl's generator (initialisers, dropout, shuffling) and, for the reader's
    own code in notebooks, NumPy's legacy global generator (``np.random.rand`` etc.).
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"seed expects a non-negative integer, got {n!r}")
    _state["rng"] = np.random.default_rng(int(n))
    np.random.seed(int(n) % 2**32)


def rng() -> np.random.Generator:
    """The generator every random draw in minidl uses (reset by ``seed``)."""
    return _state["rng"]
