"""One pool of threads for the whole CPU step: OpenBLAS's parallel jobs run on Numba's threads.

With a pool each, the idle threads of each spin before they sleep (OpenBLAS's about 0.1 s after
a product), so a Numba kernel started after a product finds the cores held and waits for the
scheduler: the more cores, the worse (docs/performance.md, section 15). PyTorch runs products
and loops on one OpenMP pool; so can we. OpenBLAS 0.3.28+ hands each parallel call's jobs to the
callback set by ``openblas_set_threads_callback_function``: ``cb(sync, dojob, numjobs,
jobdata_elsize, jobdata, dojob_data)`` must run every ``dojob(i, jobdata + i * jobdata_elsize,
dojob_data)`` at once (a product's jobs wait on one another). ``_run_jobs`` does it with
``prange``, a job per Numba thread: same jobs, same sums, bitwise the same products. ``share()``
installs it where it can (importing the Numba tier calls it); elsewhere the two pools stay
apart and their idle threads should sleep (``backend.wait_passively``).
"""

import contextlib
import ctypes
import os
import threading
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import cfunc, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_POOL: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # the most threads the pool runs
_NO_JIT: bool = numba.config.DISABLE_JIT  # type: ignore[attr-defined]
# OpenBLAS's functions used here (NumPy's build names them scipy_<name>64_), arguments, result
_FUNCTIONS = (
    ("openblas_set_threads_callback_function", (ctypes.c_void_p,), None),
    ("openblas_get_num_threads", (), ctypes.c_int),
    ("openblas_set_num_threads", (ctypes.c_int,), None),
    ("cblas_sgemm", None, ctypes.c_int),  # not called here: ``gemm`` calls them from kernels
    ("cblas_dgemm", None, ctypes.c_int),
    ("openblas_get_corename", (), ctypes.c_char_p),
)
_state: dict[str, Any] = {"setter": None, "installed": False, "callback": None, "forked": False}
_state["one thread"] = threading.Lock()  # one_thread's, for one Python thread at a time
_state["addresses"] = {}  # gemm_address's answers, by the dtype asked about


@intrinsic
def _call_job(typingctx, dojob, job, jobdata, dojob_data):
    """Call the C function at address ``dojob`` as ``dojob(int job, void *jobdata, int dojob_data)``."""

    def codegen(context, builder, signature, args):
        address, job, data, extra = args
        void_p = ir.IntType(8).as_pointer()
        function = ir.FunctionType(ir.VoidType(), [ir.IntType(32), void_p, ir.IntType(32)])
        call = builder.inttoptr(address, function.as_pointer())
        builder.call(call, [job, builder.inttoptr(data, void_p), extra])
        return context.get_dummy_value()

    return types.void(types.intp, types.int32, types.intp, types.int32), codegen


@intrinsic
def _swap_threads(typingctx, count):
    """``numba.set_num_threads(count)`` returning the count it replaces, by the symbols parallel
    loops call (``numba.set_num_threads`` compiled bakes in an address: no cache)."""

    def codegen(context, builder, signature, args):
        get = ir.FunctionType(ir.IntType(64), [])  # declared as Numba's parfors declare it
        before = builder.call(cgutils.get_or_insert_function(builder.module, get, "get_num_threads"), [])
        put = ir.FunctionType(ir.VoidType(), [ir.IntType(64)])
        builder.call(cgutils.get_or_insert_function(builder.module, put, "set_num_threads"), args)
        return before

    return types.int64(types.int64), codegen


@njit(parallel=True, cache=True)
def _run_jobs(dojob, numjobs, elsize, jobdata, dojob_data):
    # every job on a thread of its own, all at once (share() caps BLAS's threads at the pool)
    if numjobs < 1:
        return
    before = _swap_threads(np.int64(min(numjobs, _POOL)))  # type: ignore[call-arg,var-annotated]
    for job in prange(numjobs):
        _call_job(dojob, np.int32(job), jobdata + job * elsize, dojob_data)
    _swap_threads(before)


_CALLBACK = "void(int32, intp, int32, intp, intp, int32)"  # int sync, dojob, int, size_t, void *, int


def _jobs_on_numba_threads(sync, dojob, numjobs, jobdata_elsize, jobdata, dojob_data):
    # OpenBLAS's callback, compiled as a C function by ``share`` (pointers as integers)
    _run_jobs(dojob, numjobs, jobdata_elsize, jobdata, dojob_data)


def _openblas_functions():
    """``_FUNCTIONS`` of the OpenBLAS in this process's memory map (threadpoolctl's import would
    set an environment variable), or None: another BLAS, OpenBLAS before 0.3.28, not Linux."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if "openblas" in line.lower()}
        library = ctypes.CDLL(paths.pop()) if len(paths) == 1 else None
    except OSError:
        return None
    found = []
    for name, argtypes, restype in _FUNCTIONS:
        names = (f"scipy_{name}64_", name)
        function = next((getattr(library, n) for n in names if hasattr(library, n)), None)
        if function is not None:
            function.argtypes, function.restype = argtypes, restype
        found.append(function)
    return tuple(found) if all(found) else None


def available() -> bool:
    """Whether OpenBLAS's products can run on Numba's threads here (an OpenBLAS with the hook,
    Numba compiling, a pool above one thread, ``MINIDL_ONE_POOL`` not ``0``); starts no thread."""
    if os.environ.get("MINIDL_ONE_POOL", "1") == "0" or _NO_JIT or _POOL < 2:
        return False
    return bool(_functions())


def _functions():
    """``_openblas_functions()``, looked up once."""
    if _state["setter"] is None:
        _state["setter"] = _openblas_functions() or False
    return _state["setter"]


def share() -> bool:
    """Make Numba's threads run OpenBLAS's parallel jobs from now on; True when they do. BLAS's
    thread count stays as set (``backend.set_threads``), capped at Numba's pool."""
    if _state["installed"] or not available():
        return _state["installed"]
    setter, get_count, set_count, *_ = _state["setter"]
    set_count(min(get_count(), _POOL))  # a product's jobs must all run at once on the pool
    _run_jobs(0, 0, 0, 0, np.int32(0))  # compile (or load) and start the pool before BLAS may call in
    _state["callback"] = _state["callback"] or cfunc(_CALLBACK, cache=True)(_jobs_on_numba_threads)
    setter(_state["callback"].address)
    _state["installed"] = True
    return True


def _unshare() -> None:
    """In a forked child: OpenBLAS's own threads, serial kernels (a forked OpenMP pool is unusable:
    Numba's omp layer ends a child that starts a parallel region), with one pool or two."""
    _state["forked"] = True
    if _state["installed"]:
        _state["setter"][0](None)
        _state["installed"] = False
    numba.set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_unshare)


def forked() -> bool:
    """Whether this process is a child forked from minidl's: no parallel region may start here."""
    return _state["forked"]


def shared() -> bool:
    """Whether OpenBLAS's parallel jobs run on Numba's threads now."""
    return _state["installed"]


# ============================================================ products called from kernels
# A kernel whose tasks each need a product of their own (a tile, a block of rows, a head) calls
# ``cblas_?gemm`` by its address, an argument (one compiled in would break Numba's cache).
@intrinsic
def gemm(typingctx, address, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc):
    """``cblas_?gemm`` at ``address`` on row-major matrices at the addresses ``a``, ``b``, ``c``:
    C (m, n) = op(A) op(B) + beta C, op(X) = X^T where ``trans_*`` is 1; ``beta``'s type (float32
    or float64) says which precision the function at ``address`` is."""

    def codegen(context, builder, signature, args):
        address, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc = args
        real, i32, i64 = beta.type, ir.IntType(32), ir.IntType(64)
        arguments = [i32, i32, i32, i64, i64, i64, real, real.as_pointer(), i64]
        function = ir.FunctionType(ir.VoidType(), arguments + arguments[7:] + [real, real.as_pointer(), i64])
        # CblasRowMajor = 101; CblasNoTrans = 111, CblasTrans = 112
        trans = [builder.trunc(builder.add(t, ir.Constant(i64, 111)), i32) for t in (trans_a, trans_b)]
        a, b, c = (builder.inttoptr(p, real.as_pointer()) for p in (a, b, c))
        values = [ir.Constant(i32, 101), *trans, m, n, k, ir.Constant(real, 1.0), a, lda, b, ldb]
        values += [beta, c, ldc]
        builder.call(builder.inttoptr(address, function.as_pointer()), values)
        return context.get_dummy_value()

    integer = types.intp
    return types.void(*[integer] * 10, beta, integer, integer), codegen


@njit(inline="always")
def matmul_rows(gemm_at, a, lo, hi, b, c, piece):
    """c[lo:hi] = a[lo:hi] @ b for C-contiguous matrices a (M, K), b (K, N), c (M, N), by the
    ``cblas_?gemm`` at ``gemm_at`` (``gemm_address``), ``piece`` columns of b and c a call."""
    K, N, size = a.shape[1], b.shape[1], a.itemsize
    top_a, top_c = a.ctypes.data + lo * K * size, c.ctypes.data + lo * N * size
    for j in range(0, N, piece):
        top_b, width = b.ctypes.data + j * size, min(piece, N - j)
        gemm(gemm_at, 0, 0, hi - lo, width, K, top_a, K, top_b, N, c.dtype.type(0), top_c + j * size, N)  # type: ignore[call-arg]


# OpenBLAS's AVX-512 cores take a float32 product of m n k <= 2^19 without packing b (their "direct"
# sgemm, a small-matrix kernel); every other call packs all of b, K x N, first. The LSTM's blocks of
# 32 rows ran their products faster in such pieces (2 threads: 1.8-1.9 ms against 2.0-2.2), blocks of
# 64 rows and Haswell's kernels slower: docs/performance.md, section 17.
_UNPACKED_PIECE, _UNPACKED_MAX_ROWS = 1 << 19, 32


def product_piece(dtype, m, n, k) -> int:
    """Columns of b per call for ``matmul_rows`` on at most ``m`` rows: all ``n``, or pieces of
    m n k <= 2^19 where OpenBLAS's AVX-512 kernels take them unpacked (float32, m <= 32)."""
    functions = _functions()
    core = (functions[5]() or b"").decode().lower() if functions else ""
    avx512 = core in ("skylakex", "cooperlake", "sapphirerapids") and np.dtype(dtype) == np.float32
    if avx512 and m <= _UNPACKED_MAX_ROWS and m * n * k > _UNPACKED_PIECE:
        return max(1, _UNPACKED_PIECE // (m * k))
    return n


def gemm_address(dtype) -> int:
    """Address of OpenBLAS's ``cblas_sgemm`` (float32) or ``cblas_dgemm`` (float64) for
    ``gemm``; 0 where there is none to call (another BLAS or dtype, an OpenBLAS before 0.3.28 whose
    thread count this module does not set, Numba not compiling)."""
    addresses = _state["addresses"]
    if dtype not in addresses:  # once per dtype: kernels' wrappers ask at every call
        index = {"float32": 3, "float64": 4}.get(np.dtype(dtype).name)
        functions = None if _NO_JIT or index is None else _functions()
        addresses[dtype] = ctypes.cast(functions[index], ctypes.c_void_p).value or 0 if functions else 0
    return addresses[dtype]


@contextlib.contextmanager
def one_thread():
    """OpenBLAS's products one thread each inside (``gemm`` from a kernel's threads: a product
    that split its jobs over the pool from inside the pool would wait for itself); one Python
    thread at a time, so that each puts back the count it found."""
    _, get_count, set_count, *_ = _functions()  # found: ``gemm_address`` gave an address
    with _state["one thread"]:
        before = get_count()
        set_count(1)
        try:
            yield
        finally:
            set_count(before)
