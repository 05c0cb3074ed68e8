"""CUDA versions of ``reference.py``: same names, same signatures, CuPy arrays in and out.

Each function below is a *launcher*: it checks and allocates arrays with CuPy, picks a grid,
and runs a hand-written CUDA C kernel from ``kernels/cuda/*.cu``. Matrix products are not
here: layers call ``xp.matmul`` and CuPy hands them to cuBLAS.

Kernels (file: launcher -> CUDA kernels):

* ``softmax_cross_entropy.cu``: ``softmax_cross_entropy`` -> ``softmax_cross_entropy_forward``
  (a team of threads per row, about K of them, up to 256: the row's max and sum of exp are
  tree reductions in shared memory); ``softmax_cross_entropy_backward`` (one thread per element).
* ``masked_softmax.cu``: ``masked_softmax`` -> ``masked_softmax_forward``,
  ``masked_softmax_backward`` (attention's softmax over the kept keys; one thread per row).
* ``dropout.cu``: ``dropout_forward``, ``dropout_backward`` (elementwise).
* ``optim.cu``: ``sgd_update``, ``rmsprop_update``, ``adagrad_update``, ``adam_update`` (fused,
  in place, elementwise).
* ``im2col.cu``: ``im2col`` (one thread per element of cols, a gather), ``col2im`` (one thread
  per pixel gathering the columns it went to: no atomics, deterministic sums).
  ``conv2d_forward`` and ``conv2d_backward`` (a whole convolution) are these two kernels and
  cuBLAS products, composed by ``common.conv2d_*_by_im2col`` (a documented delegation: the
  Numba tier's blocked route answers a CPU's small caches; no blocked CUDA kernel was written
  or measured, so this tier keeps the one big product).
* ``pooling.cu``: ``max_pool_forward``, ``max_pool_backward``, ``avg_pool_forward``,
  ``avg_pool_backward`` (one thread per output forward, per input pixel backward).
* ``batchnorm.cu``: ``batchnorm_forward`` -> ``batchnorm_partial_stats``, ``batchnorm_normalize``;
  ``batchnorm_backward`` -> ``batchnorm_partial_grads``, ``batchnorm_backward_dx`` (a block per
  chunk of BATCHNORM_CHUNK values of a channel, shared-memory tree reductions with
  ``__syncthreads``; the second kernel of each pair combines the chunks' sums).
* ``recurrent.cu``: ``lstm_cell_forward``, ``lstm_cell_backward``, ``gru_cell_forward``,
  ``gru_cell_backward`` (one thread per hidden unit computes all its gates); and a whole
  sequence per launch: ``lstm_forward_sequence``, ``lstm_backward_sequence``,
  ``gru_forward_sequence``, ``gru_backward_sequence`` (a block takes a few samples through
  every time step, h_{t-1} Wh computed by the block itself; for H <= 256 -- beyond, or with
  ``USE_SEQUENCE_KERNELS = False``, the same launchers loop over time with cuBLAS products
  and the cell kernels, the loop of ``common.lstm_steps``).

Every launcher has the name and signature of its ``reference.py`` twin. Outputs that the
reference writes in place (optimizer state, recurrent-cell buffers) are written in place
here too.

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

from . import common, emulate
from .common import C_REAL_TYPES, conv_output_length, pool_output_length
from .common import get_array_module as _array_module

__all__ = [
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "masked_softmax",
    "masked_softmax_backward",
    "dropout_forward",
    "dropout_backward",
    "sgd_update",
    "rmsprop_update",
    "adagrad_update",
    "adam_update",
    "im2col",
    "col2im",
    "conv2d_forward",
    "conv2d_backward",
    "max_pool_forward",
    "max_pool_backward",
    "avg_pool_forward",
    "avg_pool_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "lstm_cell_forward",
    "lstm_cell_backward",
    "gru_cell_forward",
    "gru_cell_backward",
    "lstm_forward_sequence",
    "lstm_backward_sequence",
    "gru_forward_sequence",
    "gru_backward_sequence",
    "sequence_kernels_fit",
    "CUDA_DIR",
    "THREADS",
    "cuda_sources",
    "compile_options",
]

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
    return _cuda_kernel(filename, name, dtype)


@functools.lru_cache(maxsize=None)
def _cuda_kernel(filename: str, name: str, dtype: np.dtype):
    return _cuda_module(filename, dtype).get_function(name)  # compiles the module on first use


def _blocks(size: int, threads: int = THREADS) -> tuple[int]:
    """Enough blocks of ``threads`` threads for ``size`` independent work items."""
    return (max(1, (size + threads - 1) // threads),)


def _launch(filename: str, name: str, items: int, args: tuple) -> None:
    """Run kernel ``name`` of ``filename`` with one thread per work item, ``THREADS`` to a
    block, compiled for the dtype (and device) of ``args[0]``, an array; nothing when
    ``items`` is 0 (a grid of no blocks is not a launch CUDA accepts)."""
    if items:
        _kernel(filename, name, args[0])(_blocks(items), (THREADS,), args)


def _contiguous(x):
    """(x's array module, x as a C-contiguous array of its own dtype): how a launcher starts."""
    xp = _array_module(x)
    return xp, _real_array(xp, x, x.dtype)


def _real_array(xp, x, dtype):
    """``x`` as a C-contiguous array of ``dtype`` (copies only when needed)."""
    return xp.ascontiguousarray(x, dtype=dtype)


def _check_in_place(name: str, arrays: dict, like):
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


# ============================================================ softmax cross-entropy
SOFTMAX_THREADS = 256  # must equal BLOCK in softmax_cross_entropy.cu


def softmax_threads_per_row(k: int) -> int:
    """Threads that share one row of K logits: the power of two >= K, at most SOFTMAX_THREADS."""
    threads = 1
    while threads < min(k, SOFTMAX_THREADS):
        threads *= 2
    return threads


def softmax_cross_entropy(logits, labels):
    """Per-sample cross-entropy of softmax(logits); see ``reference.softmax_cross_entropy``.

    logits (N, K) float, labels (N,) int -> losses (N,), probs (N, K).
    """
    xp, logits = _contiguous(logits)
    labels = xp.ascontiguousarray(labels, dtype=np.int64)
    n, k = logits.shape
    losses = xp.empty(n, dtype=logits.dtype)
    probs = xp.empty_like(logits)
    if n and k:
        per_row = softmax_threads_per_row(k)
        rows_per_block = SOFTMAX_THREADS // per_row
        _kernel("softmax_cross_entropy.cu", "softmax_cross_entropy_forward", logits)(
            _blocks(n, rows_per_block),
            (SOFTMAX_THREADS,),
            (logits, labels, losses, probs, np.int32(n), np.int32(k), np.int32(per_row)),
        )
    return losses, probs


def softmax_cross_entropy_backward(probs, labels, scale):
    """Gradient of ``scale * sum_i loss_i`` w.r.t. the logits: probs (N, K), labels (N,) -> (N, K)."""
    xp, probs = _contiguous(probs)
    labels = xp.ascontiguousarray(labels, dtype=np.int64)
    n, k = probs.shape
    dlogits = xp.empty_like(probs)
    _launch(
        "softmax_cross_entropy.cu",
        "softmax_cross_entropy_backward",
        probs.size,
        (probs, labels, dlogits, probs.dtype.type(scale), np.int32(n), np.int32(k)),
    )
    return dlogits


# ============================================================ masked softmax (attention)
def masked_softmax(scores, keep, scale):
    """Softmax of ``scale * scores`` over the kept keys; see ``reference.masked_softmax``.

    scores (G, Tq, Tk) float, keep (Gm, Tq, Tk) bool or uint8 with G % Gm == 0 -> probs (G, Tq, Tk).
    """
    xp, scores = _contiguous(scores)
    keep = xp.ascontiguousarray(keep).astype(np.uint8, copy=False)
    G, Tq, Tk = scores.shape
    if keep.shape[1:] != (Tq, Tk) or keep.shape[0] == 0 or G % keep.shape[0]:
        raise ValueError(
            f"masked_softmax: keep must be (Gm, {Tq}, {Tk}) with {G} a multiple of Gm, "
            f"got {tuple(keep.shape)}"
        )
    probs = xp.empty_like(scores)
    _launch(
        "masked_softmax.cu",
        "masked_softmax_forward",
        G * Tq if scores.size else 0,
        (
            scores,
            keep,
            probs,
            scores.dtype.type(scale),
            np.int32(G),
            np.int32(keep.shape[0]),
            np.int32(Tq),
            np.int32(Tk),
        ),
    )
    return probs


def masked_softmax_backward(probs, dprobs, scale):
    """dscores of ``masked_softmax``: probs, dprobs (G, Tq, Tk) -> (G, Tq, Tk)."""
    xp, probs = _contiguous(probs)
    dprobs = _real_array(xp, dprobs, probs.dtype)
    dscores = xp.empty_like(probs)
    rows = probs.size // probs.shape[-1] if probs.size else 0
    _launch(
        "masked_softmax.cu",
        "masked_softmax_backward",
        rows,
        (probs, dprobs, dscores, probs.dtype.type(scale), np.int64(rows), np.int32(probs.shape[-1])),
    )
    return dscores


# ============================================================ dropout
def dropout_forward(x, uniform, rate):
    """Inverted dropout: x, uniform (same shape), rate -> y, mask (see ``reference.dropout_forward``)."""
    xp, x = _contiguous(x)
    uniform = _real_array(xp, uniform, x.dtype)
    if uniform.shape != x.shape:
        raise ValueError(f"dropout_forward: uniform must have x's shape {x.shape}, got {uniform.shape}")
    y, mask = xp.empty_like(x), xp.empty_like(x)
    real = x.dtype.type
    keep_scale = real(1.0) / real(1.0 - rate)  # the reference's float arithmetic, exactly
    _launch(
        "dropout.cu",
        "dropout_forward",
        x.size,
        (x, uniform, y, mask, real(rate), real(keep_scale), np.int64(x.size)),
    )
    return y, mask


def dropout_backward(dy, mask):
    """dx = dy * mask, for dy and mask of the same shape."""
    xp, dy = _contiguous(dy)
    mask = _real_array(xp, mask, dy.dtype)
    dx = xp.empty_like(dy)
    _launch("dropout.cu", "dropout_backward", dy.size, (dy, mask, dx, np.int64(dy.size)))
    return dx


# ============================================================ optimizer updates
def _fused_update(name, param, grad, state, scalars):
    """Launch ``optim.cu``'s kernel ``name``: one thread per entry of ``param``, updating it
    and the optimizer's ``state`` arrays in place. ``scalars`` follow the arrays in the
    kernel's argument order: a float becomes the parameter's precision (``real_t``), a bool
    an ``int`` flag; the element count comes last."""
    xp = _array_module(param)
    _check_in_place(name, {"param": param, **state}, param)
    grad = _real_array(xp, grad, param.dtype)
    real = param.dtype.type
    scalar_args = tuple(np.int32(v) if isinstance(v, bool) else real(v) for v in scalars)
    _launch("optim.cu", name, param.size, (param, grad, *state.values(), *scalar_args, np.int64(param.size)))


def sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay):
    """One fused SGD step, in place on ``param`` and ``velocity`` (see ``reference.sgd_update``)."""
    _fused_update(
        "sgd_update", param, grad, {"velocity": velocity}, (lr, momentum, bool(nesterov), weight_decay)
    )


def rmsprop_update(param, grad, square_avg, buffer, lr, alpha, eps, momentum, weight_decay):
    """One fused RMSprop step, in place on ``param``, ``square_avg``, ``buffer`` (see ``reference.rmsprop_update``)."""
    state = {"square_avg": square_avg, "buffer": buffer}
    _fused_update("rmsprop_update", param, grad, state, (lr, alpha, eps, momentum, weight_decay))


def adagrad_update(param, grad, total, lr, eps, weight_decay):
    """One fused Adagrad step, in place on ``param`` and ``total`` (see ``reference.adagrad_update``)."""
    _fused_update("adagrad_update", param, grad, {"total": total}, (lr, eps, weight_decay))


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """One fused Adam / AdamW step, in place on ``param``, ``m`` and ``v`` (see ``reference.adam_update``)."""
    scalars = (lr, beta1, beta2, eps, 1.0 - beta1**step, 1.0 - beta2**step, weight_decay, bool(decoupled))
    _fused_update("adam_update", param, grad, {"m": m, "v": v}, scalars)


# ============================================================ convolution (im2col / col2im)
def _im2col_geometry(x_shape, kh, kw, sh, sw, ph, pw):
    """The ints ``im2col.cu``'s kernels take after their arrays (N, C, H, W, the window,
    strides, padding, OH, OW), and the shape of cols, (C*kh*kw, N*OH*OW)."""
    n, c, height, width = x_shape
    out_h, out_w = conv_output_length(height, kh, sh, ph), conv_output_length(width, kw, sw, pw)
    geometry = _int32(n, c, height, width, kh, kw, sh, sw, ph, pw, out_h, out_w)
    return geometry, (c * kh * kw, n * out_h * out_w)


def im2col(x, kh, kw, sh, sw, ph, pw):
    """Unfold the (kh, kw) windows of x (N, C, H, W) into cols (C*kh*kw, N*OH*OW); see ``reference.im2col``."""
    xp, x = _contiguous(x)
    geometry, cols_shape = _im2col_geometry(x.shape, kh, kw, sh, sw, ph, pw)
    cols = xp.empty(cols_shape, dtype=x.dtype)
    _launch("im2col.cu", "im2col", cols.size, (x, cols, *geometry))
    return cols


def col2im(cols, x_shape, kh, kw, sh, sw, ph, pw):
    """Add the columns back onto the pixels they came from: cols -> dx of shape x_shape (N, C, H, W)."""
    xp, cols = _contiguous(cols)
    geometry, expected = _im2col_geometry(x_shape, kh, kw, sh, sw, ph, pw)
    if cols.shape != expected:
        raise ValueError(
            f"col2im expected cols of shape {expected} for x_shape {tuple(x_shape)}, got {cols.shape}"
        )
    dx = xp.empty(tuple(x_shape), dtype=cols.dtype)
    _launch("im2col.cu", "col2im", dx.size, (cols, dx, *geometry))
    return dx


def conv2d_forward(x, weight, bias, sh, sw, ph, pw):
    """A whole convolution, forward: the ``im2col`` kernel above, then one cuBLAS product (through
    ``common.conv2d_forward_by_im2col``). Returns (y, None): the patch matrix (C*kh*kw times
    the images) is not kept for the backward, because device memory is scarcer than one more
    launch of a copy kernel. See ``reference.conv2d_forward``."""
    y, _ = common.conv2d_forward_by_im2col(im2col, x, weight, bias, sh, sw, ph, pw)
    return y, None


def conv2d_backward(dy, x, cols, weight, sh, sw, ph, pw, input_grad):
    """The backward: ``im2col`` again unless ``cols`` is given, two cuBLAS products and ``col2im``
    (``common.conv2d_backward_by_im2col``). See ``reference.conv2d_backward``."""
    return common.conv2d_backward_by_im2col(im2col, col2im, dy, x, cols, weight, sh, sw, ph, pw, input_grad)


def _int32(*values):
    return tuple(np.int32(v) for v in values)


# ============================================================ pooling
def _pooled_shape(x_shape, kh, kw, sh, sw):
    """(N, C, OH, OW) for pooling windows that must fit (floor)."""
    n, c, height, width = x_shape
    return n, c, pool_output_length(height, kh, sh), pool_output_length(width, kw, sw)


def _pool_launch(name, arrays, items, x_shape, kh, kw, sh, sw):
    """Launch ``pooling.cu``'s kernel ``name`` on ``arrays``, one thread per element of its
    output, ``items`` of them; the geometry (planes = N*C, H, W, window, OH, OW) follows as ints."""
    n, c, out_h, out_w = _pooled_shape(x_shape, kh, kw, sh, sw)
    height, width = x_shape[2], x_shape[3]
    _launch("pooling.cu", name, items, (*arrays, *_int32(n * c, height, width, kh, kw, sh, sw, out_h, out_w)))


def max_pool_forward(x, kh, kw, sh, sw):
    """x (N, C, H, W) -> y (N, C, OH, OW), argmax (N, C, OH, OW) int64; see ``reference.max_pool_forward``."""
    xp, x = _contiguous(x)
    y = xp.empty(_pooled_shape(x.shape, kh, kw, sh, sw), dtype=x.dtype)
    argmax = xp.empty(y.shape, dtype=np.int64)
    _pool_launch("max_pool_forward", (x, y, argmax), y.size, x.shape, kh, kw, sh, sw)
    return y, argmax


def max_pool_backward(dy, argmax, x_shape, kh, kw, sh, sw):
    """dy, argmax (N, C, OH, OW) -> dx of shape x_shape: each window's gradient to its first maximum."""
    xp, dy = _contiguous(dy)
    argmax = xp.ascontiguousarray(argmax, dtype=np.int64)
    dx = xp.empty(tuple(x_shape), dtype=dy.dtype)
    _pool_launch("max_pool_backward", (dy, argmax, dx), dx.size, x_shape, kh, kw, sh, sw)
    return dx


def avg_pool_forward(x, kh, kw, sh, sw):
    """x (N, C, H, W) -> y (N, C, OH, OW), the window means; see ``reference.avg_pool_forward``."""
    xp, x = _contiguous(x)
    y = xp.empty(_pooled_shape(x.shape, kh, kw, sh, sw), dtype=x.dtype)
    _pool_launch("avg_pool_forward", (x, y), y.size, x.shape, kh, kw, sh, sw)
    return y


def avg_pool_backward(dy, x_shape, kh, kw, sh, sw):
    """dy (N, C, OH, OW) -> dx of shape x_shape: each pixel gets dy / (kh*kw) from every window holding it."""
    xp, dy = _contiguous(dy)
    dx = xp.empty(tuple(x_shape), dtype=dy.dtype)
    _pool_launch("avg_pool_backward", (dy, dx), dx.size, x_shape, kh, kw, sh, sw)
    return dx


# ============================================================ batch normalization
BATCHNORM_THREADS = 256  # must equal BLOCK in batchnorm.cu
BATCHNORM_CHUNK = 4096  # values of a channel per block: (256, 32, 14, 14) -> 32 x 13 blocks


def _batchnorm_grid(n, c, length):
    """Grid (channels, chunks per channel) and the chunk size, for ``batchnorm.cu``."""
    chunk = max(1, int(BATCHNORM_CHUNK))
    return (c, max(1, -(-(n * length) // chunk))), np.int32(chunk)


def _batchnorm_partials(x):
    """Two arrays of one value per block of x's grid: the first pass's partial sums per chunk."""
    grid, _ = _batchnorm_grid(*x.shape)
    xp = _array_module(x)
    return xp.empty(grid, dtype=x.dtype), xp.empty(grid, dtype=x.dtype)


def _batchnorm_launch(name, x, arrays, *scalars):
    """``batchnorm.cu``'s kernel ``name``, a block per (channel, chunk) of x (N, C, L), on
    ``arrays``, then N, C, L, the chunk size and ``scalars``."""
    grid, chunk = _batchnorm_grid(*x.shape)
    _kernel("batchnorm.cu", name, x)(
        grid, (BATCHNORM_THREADS,), (*arrays, *_int32(*x.shape), chunk, *scalars)
    )


def batchnorm_forward(x, gamma, beta, eps):
    """x (N, C, L), gamma, beta (C,) -> y (N, C, L), mean (C,), var (C,); see ``reference.batchnorm_forward``."""
    xp, x = _contiguous(x)
    gamma, beta = _real_array(xp, gamma, x.dtype), _real_array(xp, beta, x.dtype)
    y = xp.empty_like(x)
    mean, var = xp.empty(x.shape[1], dtype=x.dtype), xp.empty(x.shape[1], dtype=x.dtype)
    if x.shape[1]:  # channels
        part_mean, part_m2 = _batchnorm_partials(x)
        _batchnorm_launch("batchnorm_partial_stats", x, (x, part_mean, part_m2))
        stats = (part_mean, part_m2, y, mean, var)
        _batchnorm_launch("batchnorm_normalize", x, (x, gamma, beta, *stats), x.dtype.type(eps))
    return y, mean, var


def batchnorm_backward(dy, x, gamma, mean, var, eps):
    """dy, x (N, C, L); gamma, mean, var (C,) -> dx (N, C, L), dgamma (C,), dbeta (C,)."""
    xp, x = _contiguous(x)
    dy = _real_array(xp, dy, x.dtype)
    gamma, mean, var = (_real_array(xp, a, x.dtype) for a in (gamma, mean, var))
    dx = xp.empty_like(x)
    dgamma, dbeta = xp.empty(x.shape[1], dtype=x.dtype), xp.empty(x.shape[1], dtype=x.dtype)
    if x.shape[1]:
        eps = x.dtype.type(eps)
        part_dbeta, part_dgamma = _batchnorm_partials(x)
        _batchnorm_launch("batchnorm_partial_grads", x, (dy, x, mean, var, part_dbeta, part_dgamma), eps)
        sums = (part_dbeta, part_dgamma, dx, dgamma, dbeta)
        _batchnorm_launch("batchnorm_backward_dx", x, (dy, x, gamma, mean, var, *sums), eps)
    return dx, dgamma, dbeta


# ============================================================ recurrent cells
def _output_buffer(xp, out, dtype):
    """A buffer the kernel can write for output ``out``: ``out`` itself when it is C-contiguous
    with the right dtype, else a temporary that ``_copy_back`` copies into ``out`` afterwards
    (a layer may pass a time slice ``buffer[:, t]`` of a larger array)."""
    return out if out.flags.c_contiguous and out.dtype == dtype else xp.empty(out.shape, dtype)


def _copy_back(pairs):
    for out, buffer in pairs:
        if buffer is not out:
            out[...] = buffer


def _launch_cell(kernel, like, inputs, outputs, n, hidden):
    """Run a recurrent-cell kernel, one thread per (sample, unit), writing into ``outputs`` in place."""
    xp = _array_module(like)
    inputs = [_real_array(xp, a, like.dtype) for a in inputs]
    buffers = [_output_buffer(xp, out, like.dtype) for out in outputs]
    _launch("recurrent.cu", kernel, n * hidden, (*inputs, *buffers, *_int32(n, hidden)))
    _copy_back(zip(outputs, buffers))
    return tuple(outputs)


def lstm_cell_forward(xw, hw, b, c_prev, gates, c, h):
    """One LSTM step's pointwise part: xw, hw (N, 4H), b (4H,), c_prev (N, H) -> gates, c, h (in place)."""
    n, hidden = c_prev.shape
    return _launch_cell("lstm_cell_forward", xw, [xw, hw, b, c_prev], [gates, c, h], n, hidden)


def lstm_cell_backward(dh, dc_next, gates, c_prev, c, da, dc_prev):
    """Backward of ``lstm_cell_forward`` -> da (N, 4H), dc_prev (N, H), in place (dc_prev may be dc_next)."""
    n, hidden = c_prev.shape
    return _launch_cell("lstm_cell_backward", dh, [dh, dc_next, gates, c_prev, c], [da, dc_prev], n, hidden)


def gru_cell_forward(xw, hw, bx, bh, h_prev, gates, hn, h):
    """One GRU step's pointwise part: xw, hw (N, 3H), bx, bh (3H,), h_prev (N, H) -> gates, hn, h (in place)."""
    n, hidden = h_prev.shape
    return _launch_cell("gru_cell_forward", xw, [xw, hw, bx, bh, h_prev], [gates, hn, h], n, hidden)


def gru_cell_backward(dh, gates, hn, h_prev, dxw, dhw, dh_prev):
    """Backward of ``gru_cell_forward`` -> dxw, dhw (N, 3H), dh_prev (N, H), in place (dh_prev may be dh)."""
    n, hidden = h_prev.shape
    return _launch_cell("gru_cell_backward", dh, [dh, gates, hn, h_prev], [dxw, dhw, dh_prev], n, hidden)


# ============================================================ recurrent sequences (one launch each)
# Twins of ``reference.lstm_forward_sequence`` & co.: the loop over time in ONE kernel launch
# when ``sequence_kernels_fit(hidden)``, else the per-step loop (a cuBLAS product and a cell
# kernel per step, ``common.lstm_steps``). The conformance table holds both to the reference,
# tests/test_gpu_device.py holds the one-launch kernels to the per-step loop.
SEQUENCE_MAX_HIDDEN = 256  # SEQ_MAX_HIDDEN in recurrent.cu
SEQUENCE_MAX_ROWS = 4  # SEQ_MAX_ROWS in recurrent.cu
USE_SEQUENCE_KERNELS = True  # False: the layers take the per-step path (for comparisons)


def sequence_kernels_fit(hidden: int) -> bool:
    """Whether the ``*_sequence`` kernels serve a layer of ``hidden`` units (and are switched on)."""
    return bool(USE_SEQUENCE_KERNELS) and 1 <= hidden <= SEQUENCE_MAX_HIDDEN


def sequence_rows_per_block(n: int) -> int:
    """Samples a block takes through the sequence: about n / 128 (1 for n <= 128, so that a
    small batch still spreads over many multiprocessors), at most SEQUENCE_MAX_ROWS.
    Untuned: a first guess to measure on a device."""
    return max(1, min(SEQUENCE_MAX_ROWS, -(-n // 128)))


def _sequence_shapes(steps: int, n: int, hidden: int, gate_blocks: int) -> dict:
    """The shape of each array a ``*_sequence`` kernel takes, by its name: T = ``steps``,
    N = ``n``, H = ``hidden`` and G*H columns for the G gate blocks (4 in the LSTM, 3 in the GRU)."""
    T, N, H, GH = steps, n, hidden, gate_blocks * hidden
    per_step, states = (T, N, GH), (T + 1, N, H)
    return {
        **dict.fromkeys(("xw", "gates", "da", "dxw", "dhw"), per_step),
        **dict.fromkeys(("cells", "hs"), states),  # [0] the initial state
        **dict.fromkeys(("b", "bx", "bh"), (GH,)),
        **dict.fromkeys(("dh0", "dc0"), (N, H)),
        "dy": (T, N, H),
        "hn": (T, N, H),
        "Wh": (H, GH),
        "Wh_T": (GH, H),
    }


def _launch_sequence(name, gate_blocks, inputs: dict, outputs: dict, steps, n, hidden):
    """Launch ``recurrent.cu``'s kernel ``name`` on ``inputs`` and ``outputs`` (by their names
    in the kernel, in its argument order), after checking their shapes (``_sequence_shapes``);
    the outputs are written in place and returned."""
    if not 1 <= hidden <= SEQUENCE_MAX_HIDDEN:  # the dispatchers below never pass more
        raise ValueError(f"{name}: at most {SEQUENCE_MAX_HIDDEN} hidden units, got {hidden}")
    shapes = _sequence_shapes(steps, n, hidden, gate_blocks)
    for arg, array in {**inputs, **outputs}.items():
        if tuple(array.shape) != shapes[arg]:
            raise ValueError(f"{name}: {arg} must have shape {shapes[arg]}, got {tuple(array.shape)}")
    like = next(iter(inputs.values()))
    xp = _array_module(like)
    arrays = [_real_array(xp, a, like.dtype) for a in inputs.values()]
    for arg, out in outputs.items():
        if _array_module(out) is not xp or out.dtype != like.dtype or not out.flags.c_contiguous:
            raise ValueError(
                f"{name}: output {arg} must be a C-contiguous {like.dtype} array on "
                f"the inputs' device, got {type(out).__name__} {out.dtype}"
            )
    rows = sequence_rows_per_block(n)
    threads = -(-gate_blocks * hidden // 32) * 32  # one per column of h Wh, whole warps
    if steps and n:
        _kernel("recurrent.cu", name, like)(
            _blocks(n, rows), (threads,), (*arrays, *outputs.values(), *_int32(steps, n, hidden, rows))
        )
    return tuple(outputs.values())


def _lstm_forward_sequence_launch(xw, Wh, b, gates, cells, hs):
    """The LSTM forward over all T steps in one launch.

    xw (T, N, 4H) = x_t Wx for every t (no bias); Wh (H, 4H); b (4H,); cells, hs (T + 1, N, H)
    with [0] the initial state. Writes gates (T, N, 4H), cells[1:], hs[1:] in place -- what T
    products h_{t-1} Wh and T ``lstm_cell_forward`` calls write. Returns (gates, cells, hs).
    """
    steps, n, width = xw.shape
    inputs, outputs = {"xw": xw, "Wh": Wh, "b": b}, {"gates": gates, "cells": cells, "hs": hs}
    return _launch_sequence("lstm_forward_sequence", 4, inputs, outputs, steps, n, width // 4)


def _lstm_backward_sequence_launch(dy, Wh_T, gates, cells, da, dh0, dc0):
    """Backpropagation through time of ``lstm_forward_sequence`` in one launch.

    dy (T, N, H) = dL/dh_t from the layer's output; Wh_T (4H, H) = Wh^T; gates, cells from the
    forward. Writes da (T, N, 4H) = dL/d pre-activations, dh0, dc0 (N, H). Returns (da, dh0, dc0).
    """
    inputs = {"dy": dy, "Wh_T": Wh_T, "gates": gates, "cells": cells}
    outputs = {"da": da, "dh0": dh0, "dc0": dc0}
    return _launch_sequence("lstm_backward_sequence", 4, inputs, outputs, *dy.shape)


def _gru_forward_sequence_launch(xw, Wh, bx, bh, gates, hn, hs):
    """The GRU forward over all T steps in one launch.

    xw (T, N, 3H) = x_t Wx for every t (no bias); Wh (H, 3H); bx, bh (3H,); hs (T + 1, N, H)
    with hs[0] = h0. Writes gates (T, N, 3H), hn (T, N, H) = h_{t-1} Wh_n + bh_n, hs[1:] in
    place, as T ``gru_cell_forward`` calls would. Returns (gates, hn, hs).
    """
    steps, n, width = xw.shape
    inputs, outputs = {"xw": xw, "Wh": Wh, "bx": bx, "bh": bh}, {"gates": gates, "hn": hn, "hs": hs}
    return _launch_sequence("gru_forward_sequence", 3, inputs, outputs, steps, n, width // 3)


def _gru_backward_sequence_launch(dy, Wh_T, gates, hn, hs, dxw, dhw, dh0):
    """Backpropagation through time of ``gru_forward_sequence`` in one launch.

    dy (T, N, H); Wh_T (3H, H) = Wh^T; gates, hn, hs from the forward. Writes dxw, dhw
    (T, N, 3H) = dL/d(x_t Wx + bx), dL/d(h_{t-1} Wh + bh), and dh0 (N, H). Returns (dxw, dhw, dh0).
    """
    inputs = {"dy": dy, "Wh_T": Wh_T, "gates": gates, "hn": hn, "hs": hs}
    outputs = {"dxw": dxw, "dhw": dhw, "dh0": dh0}
    return _launch_sequence("gru_backward_sequence", 3, inputs, outputs, *dy.shape)


def lstm_forward_sequence(xw, Wh, b, gates, cells, hs):
    """Twin of ``reference.lstm_forward_sequence``: one launch for H <= 256, else a loop of cells."""
    if sequence_kernels_fit(xw.shape[2] // 4):
        return _lstm_forward_sequence_launch(xw, Wh, b, gates, cells, hs)
    return common.lstm_steps(lstm_cell_forward, xw, Wh, b, gates, cells, hs)


def lstm_backward_sequence(dy, Wh_T, gates, cells, da, dh0, dc0):
    """Twin of ``reference.lstm_backward_sequence``: one launch for H <= 256, else a loop of cells."""
    if sequence_kernels_fit(dy.shape[2]):
        return _lstm_backward_sequence_launch(dy, Wh_T, gates, cells, da, dh0, dc0)
    return common.lstm_steps_backward(lstm_cell_backward, dy, Wh_T, gates, cells, da, dh0, dc0)


def gru_forward_sequence(xw, Wh, bx, bh, gates, hn, hs):
    """Twin of ``reference.gru_forward_sequence``: one launch for H <= 256, else a loop of cells."""
    if sequence_kernels_fit(xw.shape[2] // 3):
        return _gru_forward_sequence_launch(xw, Wh, bx, bh, gates, hn, hs)
    return common.gru_steps(gru_cell_forward, xw, Wh, bx, bh, gates, hn, hs)


def gru_backward_sequence(dy, Wh_T, gates, hn, hs, dxw, dhw, dh0):
    """Twin of ``reference.gru_backward_sequence``: one launch for H <= 256, else a loop of cells."""
    if sequence_kernels_fit(dy.shape[2]):
        return _gru_backward_sequence_launch(dy, Wh_T, gates, hn, hs, dxw, dhw, dh0)
    return common.gru_steps_backward(gru_cell_backward, dy, Wh_T, gates, hn, hs, dxw, dhw, dh0)
