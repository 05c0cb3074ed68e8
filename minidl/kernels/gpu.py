"""CUDA versions of ``reference.py``: same names, same signatures, CuPy arrays in and out.

Each function below is a *launcher*: it checks and allocates arrays with CuPy, picks a grid,
and runs a hand-written CUDA C kernel from ``kernels/cuda/*.cu``. Matrix products are not
here: layers call ``xp.matmul`` and CuPy hands them to cuBLAS.

Kernels (file: launcher -> CUDA kernels):

* ``softmax_cross_entropy.cu``: ``softmax_cross_entropy`` -> ``softmax_cross_entropy_forward``
  (one thread per row); ``softmax_cross_entropy_backward`` (one thread per element).
* ``dropout.cu``: ``dropout_forward``, ``dropout_backward`` (elementwise).
* ``optim.cu``: ``sgd_update``, ``adam_update`` (fused, in place, elementwise).

How the sources are compiled: each ``.cu`` file is compiled by NVRTC (through
``cupy.RawModule``) once per process and dtype, with ``-DREAL_T=float`` or
``-DREAL_T=double`` -- the kernels are written for a ``real_t`` so one source serves float32
training and float64 gradient checks. ``RawModule`` objects are cached here, and CuPy keeps
the compiled binaries in its own on-disk cache.

Without a GPU: every launcher also accepts **NumPy** arrays, and then runs the same CUDA
source on the CPU through :mod:`minidl.kernels.emulate` (slow: for tests). That is how the
tests check, on any machine, both the kernels and the launch code (argument order, C types
of the scalars, grid sizes) against the reference.

CuPy is imported only when a CuPy array arrives, so ``import minidl`` never needs it.
"""
from __future__ import annotations

import functools

import numpy as np

from . import emulate

__all__ = [
    "softmax_cross_entropy", "softmax_cross_entropy_backward",
    "dropout_forward", "dropout_backward", "sgd_update", "adam_update",
    "CUDA_DIR", "THREADS", "cuda_sources", "compile_options",
]

CUDA_DIR = emulate.CUDA_DIR
THREADS = 256  # threads per block for elementwise kernels: a multiple of the 32-thread warp
_C_REAL = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


# --------------------------------------------------------------------------- modules
def cuda_sources() -> list[str]:
    """File names of every CUDA source in ``kernels/cuda``."""
    return sorted(p.name for p in CUDA_DIR.glob("*.cu"))


def compile_options(dtype) -> tuple[str, ...]:
    """NVRTC options for compiling a source for ``dtype`` (float32 or float64)."""
    dtype = np.dtype(dtype)
    if dtype not in _C_REAL:
        raise TypeError(f"the CUDA kernels run in float32 or float64, got {dtype}")
    return ("--std=c++17", f"-DREAL_T={_C_REAL[dtype]}")


def _array_module(x):
    """``numpy`` or ``cupy`` for ``x``; ``cupy`` is looked up without importing it."""
    import sys
    cp = sys.modules.get("cupy")
    return cp if cp is not None and isinstance(x, cp.ndarray) else np


@functools.lru_cache(maxsize=None)
def _cuda_module(filename: str, dtype: np.dtype):
    import cupy as cp
    return cp.RawModule(code=(CUDA_DIR / filename).read_text(), options=compile_options(dtype))


def _kernel(filename: str, name: str, like):
    """Kernel ``name`` of ``filename`` compiled for ``like``'s dtype, on ``like``'s device.

    CuPy array -> a ``cupy.RawKernel``; NumPy array -> the CPU emulator's twin of it.
    """
    dtype = np.dtype(like.dtype)
    if _array_module(like) is np:
        return emulate.load_module(filename, dtype).get_function(name)
    return _cuda_module(filename, dtype).get_function(name)


def _blocks(size: int, threads: int = THREADS) -> tuple[int]:
    """Enough blocks of ``threads`` threads for ``size`` independent work items."""
    return (max(1, (size + threads - 1) // threads),)


def _real_array(xp, x, dtype):
    """``x`` as a C-contiguous array of ``dtype`` (copies only when needed)."""
    return xp.ascontiguousarray(x, dtype=dtype)


def _check_in_place(name: str, arrays: dict, like):
    """In-place kernels need arrays they can write through: contiguous, ``like``'s dtype and shape."""
    for arg, array in arrays.items():
        if _array_module(array) is not _array_module(like):
            raise TypeError(f"{name}: {arg} is on a different device than param")
        if array.dtype != like.dtype or array.shape != like.shape:
            raise ValueError(f"{name}: {arg} must have param's shape {like.shape} and dtype "
                             f"{like.dtype}, got {array.shape} {array.dtype}")
        if not array.flags.c_contiguous:
            raise ValueError(f"{name}: {arg} must be C-contiguous to be updated in place")


# ============================================================ softmax cross-entropy
def softmax_cross_entropy(logits, labels):
    """Per-sample cross-entropy of softmax(logits); see ``reference.softmax_cross_entropy``.

    logits (N, K) float, labels (N,) int -> losses (N,), probs (N, K).
    """
    xp = _array_module(logits)
    logits = _real_array(xp, logits, logits.dtype)
    labels = xp.ascontiguousarray(labels, dtype=np.int64)
    n, k = logits.shape
    losses = xp.empty(n, dtype=logits.dtype)
    probs = xp.empty_like(logits)
    if n:
        _kernel("softmax_cross_entropy.cu", "softmax_cross_entropy_forward", logits)(
            _blocks(n), (THREADS,), (logits, labels, losses, probs, np.int32(n), np.int32(k)))
    return losses, probs


def softmax_cross_entropy_backward(probs, labels, scale):
    """Gradient of ``scale * sum_i loss_i`` w.r.t. the logits: probs (N, K), labels (N,) -> (N, K)."""
    xp = _array_module(probs)
    probs = _real_array(xp, probs, probs.dtype)
    labels = xp.ascontiguousarray(labels, dtype=np.int64)
    n, k = probs.shape
    dlogits = xp.empty_like(probs)
    if probs.size:
        _kernel("softmax_cross_entropy.cu", "softmax_cross_entropy_backward", probs)(
            _blocks(probs.size), (THREADS,),
            (probs, labels, dlogits, probs.dtype.type(scale), np.int32(n), np.int32(k)))
    return dlogits


# ============================================================ dropout
def dropout_forward(x, uniform, rate):
    """Inverted dropout: x, uniform (same shape), rate -> y, mask (see ``reference.dropout_forward``)."""
    xp = _array_module(x)
    x = _real_array(xp, x, x.dtype)
    uniform = _real_array(xp, uniform, x.dtype)
    if uniform.shape != x.shape:
        raise ValueError(f"dropout_forward: uniform must have x's shape {x.shape}, got {uniform.shape}")
    y, mask = xp.empty_like(x), xp.empty_like(x)
    real = x.dtype.type
    keep_scale = real(1.0) / real(1.0 - rate)  # the reference's float arithmetic, exactly
    if x.size:
        _kernel("dropout.cu", "dropout_forward", x)(
            _blocks(x.size), (THREADS,),
            (x, uniform, y, mask, real(rate), real(keep_scale), np.int64(x.size)))
    return y, mask


def dropout_backward(dy, mask):
    """dx = dy * mask, for dy and mask of the same shape."""
    xp = _array_module(dy)
    dy = _real_array(xp, dy, dy.dtype)
    mask = _real_array(xp, mask, dy.dtype)
    dx = xp.empty_like(dy)
    if dy.size:
        _kernel("dropout.cu", "dropout_backward", dy)(
            _blocks(dy.size), (THREADS,), (dy, mask, dx, np.int64(dy.size)))
    return dx


# ============================================================ optimizer updates
def sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay):
    """One fused SGD step, in place on ``param`` and ``velocity`` (see ``reference.sgd_update``)."""
    xp = _array_module(param)
    _check_in_place("sgd_update", {"param": param, "velocity": velocity}, param)
    grad = _real_array(xp, grad, param.dtype)
    real = param.dtype.type
    if param.size:
        _kernel("optim.cu", "sgd_update", param)(
            _blocks(param.size), (THREADS,),
            (param, grad, velocity, real(lr), real(momentum), np.int32(bool(nesterov)),
             real(weight_decay), np.int64(param.size)))


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """One fused Adam / AdamW step, in place on ``param``, ``m`` and ``v`` (see ``reference.adam_update``)."""
    xp = _array_module(param)
    _check_in_place("adam_update", {"param": param, "m": m, "v": v}, param)
    grad = _real_array(xp, grad, param.dtype)
    real = param.dtype.type
    if param.size:
        _kernel("optim.cu", "adam_update", param)(
            _blocks(param.size), (THREADS,),
            (param, grad, m, v, real(lr), real(beta1), real(beta2), real(eps),
             real(1.0 - beta1 ** step), real(1.0 - beta2 ** step), real(weight_decay),
             np.int32(bool(decoupled)), np.int64(param.size)))
