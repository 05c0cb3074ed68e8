"""The CUDA tier: twins of ``reference/``, same names, same signatures, CuPy arrays in and out.

Each kernel function is a *launcher*: it checks and allocates arrays with CuPy, picks a grid,
and runs a hand-written CUDA C kernel from ``kernels/cuda/*.cu``. Matrix products are not
here: layers call ``xp.matmul`` and CuPy hands them to cuBLAS.

One module per family of the contract, each beside its reference twin (``gpu/conv.py`` mirrors
``reference/conv.py``); ``launch.py`` holds what they share (compiling, launching, checking).
Kernels (CUDA source, module: launcher -> CUDA kernels):

* ``softmax_cross_entropy.cu``, ``loss.py``: ``softmax_cross_entropy`` -> ``softmax_cross_entropy_forward``
  (a team of threads per row, about K of them, up to 256: the row's max and sum of exp are
  tree reductions in shared memory); ``softmax_cross_entropy_backward`` (one thread per element).
* ``masked_softmax.cu``, ``attention.py``: ``masked_softmax`` -> ``masked_softmax_forward``,
  ``masked_softmax_backward`` (attention's softmax over the kept keys; one thread per row).
* ``dropout.cu``, ``dropout.py``: ``dropout_forward``, ``dropout_backward`` (elementwise).
* ``optim.cu``, ``optim.py``: ``sgd_update``, ``rmsprop_update``, ``adagrad_update``, ``adam_update`` (fused,
  in place, elementwise).
* ``im2col.cu``, ``conv.py``: ``im2col`` (one thread per element of cols, a gather), ``col2im`` (one thread
  per pixel gathering the columns it went to: no atomics, deterministic sums).
  ``conv2d_forward`` and ``conv2d_backward`` (a whole convolution) are these two kernels and
  cuBLAS products, composed by ``common.conv2d_*_by_im2col`` (a documented delegation: the
  Numba tier's blocked route answers a CPU's small caches; no blocked CUDA kernel was written
  or measured, so this tier keeps the one big product).
* ``pooling.cu``, ``pool.py``: ``max_pool_forward``, ``max_pool_backward``, ``avg_pool_forward``,
  ``avg_pool_backward`` (one thread per output forward, per input pixel backward).
* ``batchnorm.cu``, ``batchnorm.py``: ``batchnorm_forward`` -> ``batchnorm_partial_stats``, ``batchnorm_normalize``;
  ``batchnorm_backward`` -> ``batchnorm_partial_grads``, ``batchnorm_backward_dx`` (a block per
  chunk of BATCHNORM_CHUNK values of a channel, shared-memory tree reductions with
  ``__syncthreads``; the second kernel of each pair combines the chunks' sums).
* ``recurrent.cu``, ``recurrent.py``: ``lstm_cell_forward``, ``lstm_cell_backward``, ``gru_cell_forward``,
  ``gru_cell_backward`` (one thread per hidden unit computes all its gates); and a whole
  sequence per launch: ``lstm_forward_sequence``, ``lstm_backward_sequence``,
  ``gru_forward_sequence``, ``gru_backward_sequence`` (a block takes a few samples through
  every time step, h_{t-1} Wh computed by the block itself; for H <= 256 -- beyond, or with
  ``USE_SEQUENCE_KERNELS = False``, the same launchers loop over time with cuBLAS products
  and the cell kernels, the loop of ``common.lstm_steps``).

Every launcher has the name and signature of its ``reference/`` twin. Outputs that the
reference writes in place (optimizer state, recurrent-cell buffers) are written in place
here too.

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

from .attention import masked_softmax, masked_softmax_backward
from .batchnorm import batchnorm_backward, batchnorm_forward
from .conv import col2im, conv2d_backward, conv2d_forward, im2col
from .dropout import dropout_backward, dropout_forward
from .launch import CUDA_DIR, THREADS, compile_options, cuda_sources
from .loss import softmax_cross_entropy, softmax_cross_entropy_backward, softmax_threads_per_row
from .optim import adagrad_update, adam_update, rmsprop_update, sgd_update
from .pool import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward
from .recurrent import (
    SEQUENCE_MAX_HIDDEN,
    SEQUENCE_MAX_ROWS,
    gru_backward_sequence,
    gru_cell_backward,
    gru_cell_forward,
    gru_forward_sequence,
    lstm_backward_sequence,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward_sequence,
    sequence_kernels_fit,
    sequence_rows_per_block,
)

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
    "sequence_rows_per_block",
    "SEQUENCE_MAX_HIDDEN",
    "SEQUENCE_MAX_ROWS",
    "softmax_threads_per_row",
    "CUDA_DIR",
    "THREADS",
    "cuda_sources",
    "compile_options",
]
