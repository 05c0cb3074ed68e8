"""The kernel-conformance table: every kernel of ``minidl/kernels``, its cases and tolerances, once.

``reference/`` (NumPy) is the ground truth. Every other tier -- ``cpu/`` (Numba) and
``gpu/`` (CUDA, run through the CPU emulator or on a device) -- must return what the
reference returns for every case below. ``tests/minidl/kernels/test_conformance.py`` runs this table over
every tier present; ``tests/minidl/kernels/cpu/test_loops.py`` reuses it for the Numba-only checks.

Adding a kernel means adding ONE entry to ``TABLE``: a function ``(rng, dtype) -> list of
argument tuples`` and, when the default is wrong for it, ``exact=True`` (the tiers must agree
bit for bit) or a looser ``scale`` of the tolerance (rtol, atol). A public function of ``reference/``
without an entry fails ``test_every_reference_kernel_has_an_entry``.

How a case is compared (``compare``): each tier gets its own copy of the arguments (aliasing
inside a case -- ``dc_prev`` given as the very array ``dc_next`` -- is kept in every copy),
then the results (an array, a tuple of arrays, or None) and every array argument after the
call (in-place kernels) must have the reference's shape and dtype and equal its values within
the tolerance; an argument the reference returns (an output written in place) must be
returned by the tier as the same object.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from minidl.kernels import reference

F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]

# float32 / float64 rounding, for kernels that do a handful of operations per output.
TOLERANCE = {F32: dict(rtol=2e-5, atol=2e-6), F64: dict(rtol=1e-10, atol=1e-12)}


@dataclass(frozen=True)
class Kernel:
    """One row of the table: how to make the inputs of ``reference.<name>``, and how close."""

    name: str
    cases: Callable[[np.random.Generator, type], list]
    exact: bool = False  # copies, comparisons, sums in a fixed order: equal bit for bit
    scale: tuple = (1, 1)  # multiplies TOLERANCE's (rtol, atol): sums of many terms, in another order
    # results a tier may return as None (a cache for the backward that it chose not to build:
    # conv2d_forward's patch matrix); where it returns an array, it must equal the reference's
    optional: tuple = ()
    # results a tier may return in another integer type holding the same values (max-pool's
    # argmax: offsets within a window, which the Numba tier keeps in bytes)
    any_integer: tuple = ()

    def tolerance(self, dtype) -> dict:
        if self.exact:
            return dict(rtol=0, atol=0)
        base = TOLERANCE[np.dtype(dtype).type]
        return dict(rtol=base["rtol"] * self.scale[0], atol=base["atol"] * self.scale[1])

    def make_cases(self, dtype) -> list:
        """The argument tuples for ``dtype``: the same on every run and for every tier."""
        rng = np.random.default_rng(zlib.crc32(f"{self.name}/{np.dtype(dtype).name}".encode()))
        cases = self.cases(rng, dtype)
        assert cases, f"{self.name}: the table produced no cases"
        return cases


# ------------------------------------------------------------------ input generators
def _normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _ties(rng, shape, dtype):
    """Small integers: most pooling windows hold several equal maxima."""
    return rng.integers(0, 3, size=shape).astype(dtype)


def output_size(size, kernel, stride, pad=0):
    return (size + 2 * pad - kernel) // stride + 1


def _softmax_cases(rng, dtype):
    cases = [
        (_normal(rng, (N, K), dtype, scale), rng.integers(0, K, size=N))
        for N, K, scale in [
            (1, 2, 1.0),
            (7, 10, 3.0),
            (64, 10, 30.0),
            (5, 1000, 1.0),
            # GPU: several rows per block, a last block part full;
            # rows longer than a block's 256 threads
            (300, 3, 4.0),
            (3, 3000, 10.0),
        ]
    ]
    logits = _normal(rng, (37, 10), dtype, 5.0)
    logits[3] += 100  # large logits: the max subtraction must keep exp finite
    cases.append((logits, rng.integers(0, 10, size=37)))
    return cases


def _softmax_backward_cases(rng, dtype):
    cases = []
    for logits, labels in _softmax_cases(rng, dtype):
        _, probs = reference.softmax_cross_entropy(logits, labels)
        cases.append((probs, labels, 1.0 / len(labels)))
    return cases


def _masked_softmax_cases(rng, dtype):
    """Scores (G, Tq, Tk) with a causal mask shared by all groups, a padding mask per sample
    (Gm = N, shared by H heads), no mask, a fully masked row, rows longer than 256 keys, and
    large scores (the max subtraction must keep exp finite)."""
    cases = []
    for G, Gm, Tq, Tk, scale, kind in [
        (1, 1, 1, 1, 1.0, "none"),
        (6, 1, 5, 5, 0.5, "causal"),
        (8, 4, 7, 9, 0.25, "random"),
        (3, 3, 4, 300, 0.1, "random"),
        (2, 1, 3, 6, 1.0, "none"),
        (4, 2, 6, 6, 8.0, "random"),
    ]:
        scores = _normal(rng, (G, Tq, Tk), dtype, 3.0)
        if kind == "causal":
            keep = np.tril(np.ones((Tq, Tk), dtype=bool))[None]
        elif kind == "random":
            keep = rng.random((Gm, Tq, Tk)) < 0.7
            keep[0, 0] = False  # a query that may attend to nothing
        else:
            keep = np.ones((Gm, Tq, Tk), dtype=bool)
        cases.append((scores, keep, scale))
    return cases


def _masked_softmax_backward_cases(rng, dtype):
    return [
        (reference.masked_softmax(scores, keep, scale), _normal(rng, scores.shape, dtype), scale)
        for scores, keep, scale in _masked_softmax_cases(rng, dtype)
    ]


def _batched_matmul_cases(rng, dtype):
    """Heads as views of one projection (rows of each matrix strided), a transposed operand
    (columns contiguous), a copy-needing one (neither), 3-D batches, a product above the size
    the threads take (``cpu.attention.BATCH_MAX_MNK``), batches that broadcast, an empty one;
    products written into a given ``out``."""
    N, T, H, d = 2, 5, 3, 4
    qkv = _normal(rng, (N, T, 3 * H * d), dtype)
    q, k = (qkv[..., s * H * d : (s + 1) * H * d].reshape(N, T, H, d).transpose(0, 2, 1, 3) for s in (0, 1))
    wide = _normal(rng, (4, 7, 14), dtype)
    return [
        (q, np.swapaxes(k, -1, -2)),  # Q K^T
        (np.swapaxes(_normal(rng, (N, H, T, T), dtype), -1, -2), k),  # P^T V
        (np.swapaxes(_normal(rng, (N, H, 3, T), dtype), -1, -2), _normal(rng, (N, H, 3, 2), dtype)),
        (_normal(rng, (4, 6, 7), dtype), wide[..., ::2]),  # every other column: copied
        (_normal(rng, (3, 1, 1), dtype), _normal(rng, (3, 1, 2), dtype)),
        (_normal(rng, (2, 70, 70), dtype), _normal(rng, (2, 70, 60), dtype)),  # 294,000 > 2^18
        (_normal(rng, (1, 3, 4, 5), dtype), _normal(rng, (2, 3, 5, 2), dtype)),  # broadcast
        (_normal(rng, (0, 4, 5), dtype), _normal(rng, (0, 5, 3), dtype)),
        (q, np.swapaxes(k, -1, -2), np.full((N, H, T, T), np.nan, dtype)),  # into out
        (_normal(rng, (4, 6, 7), dtype), _normal(rng, (4, 7, 3), dtype), np.zeros((4, 6, 3), dtype)),
    ]


def _linear_forward_cases(rng, dtype):
    """Projections with and without a bias; rows enough for the Numba tier's threads (R N >= 2^16:
    a block of rows per thread), x transposed (copied first); no rows at all."""
    W, b = _normal(rng, (7, 70), dtype), _normal(rng, (70,), dtype)
    return [
        (_normal(rng, (5, 3), dtype), _normal(rng, (3, 4), dtype), _normal(rng, (4,), dtype)),
        (_normal(rng, (5, 3), dtype), _normal(rng, (3, 4), dtype), None),
        (_normal(rng, (1001, 7), dtype), W, b),  # 70,070 outputs
        (_normal(rng, (7, 1001), dtype).T, W, b),
        (_normal(rng, (0, 7), dtype), W, b),
    ]


def _weight_gradient_cases(rng, dtype):
    """x^T dy for few rows, and for rows enough for the Numba tier's threads (a block of rows each),
    dy wider than x (summed as dy^T x) and narrower; x transposed (copied first); no rows at all."""
    x, dy = _normal(rng, (1001, 7), dtype), _normal(rng, (1001, 70), dtype)
    return [
        (_normal(rng, (5, 3), dtype), _normal(rng, (5, 4), dtype)),
        (x, dy),  # 77,077 elements
        (dy, x),
        (_normal(rng, (7, 1001), dtype).T, dy),
        (_normal(rng, (0, 7), dtype), _normal(rng, (0, 3), dtype)),
    ]


def _relu_forward_cases(rng, dtype):
    x = _normal(rng, (5, 3, 7, 11), dtype)
    x[0, 0, 0, :4] = [0, -0.0, np.inf, -np.inf]  # zeros of both signs, both infinities
    x[1, 0, 0, 0] = np.nan  # passes through, as in max(x, 0)
    return [(_normal(rng, (3, 4), dtype),), (x,), (_normal(rng, (1000,), dtype),)]


def _relu_backward_cases(rng, dtype):
    return [
        (_normal(rng, x.shape, dtype), reference.relu_forward(x)) for (x,) in _relu_forward_cases(rng, dtype)
    ]


def _dropout_forward_cases(rng, dtype):
    return [
        (_normal(rng, shape, dtype), rng.random(shape, dtype=F32), rate)
        for shape, rate in [
            ((3, 4), 0.5),
            ((2, 3, 5, 7), 0.1),
            ((1000,), 0.9),
            ((4, 4), 0.0),
            ((5, 3, 7, 11), 0.3),
        ]
    ]


def _dropout_backward_cases(rng, dtype):
    return [
        (_normal(rng, x.shape, dtype), reference.dropout_forward(x, u, rate)[1])
        for x, u, rate in _dropout_forward_cases(rng, dtype)
    ]


def _sgd_cases(rng, dtype):
    cases = []
    for shape, momentum, nesterov, weight_decay in [
        ((5, 3), 0.0, False, 0.0),
        ((7,), 0.9, False, 0.0),
        ((2, 3, 4), 0.9, True, 1e-2),
        ((50, 20), 0.5, False, 1e-3),
        ((33, 17), 0.0, False, 1e-2),
    ]:
        velocity = _normal(rng, shape, dtype) if momentum else np.zeros(shape, dtype)
        cases.append(
            (
                _normal(rng, shape, dtype),
                _normal(rng, shape, dtype),
                velocity,
                0.1,
                momentum,
                nesterov,
                weight_decay,
            )
        )
    return cases


def _adam_cases(rng, dtype):
    cases = []
    for shape, step, weight_decay, decoupled in [
        ((5, 3), 1, 0.0, False),
        ((7,), 10, 1e-2, False),
        ((2, 3, 4), 3, 1e-2, True),
        ((60, 20), 1000, 0.0, True),
    ]:
        m = _normal(rng, shape, dtype, 0.1)
        v = np.abs(_normal(rng, shape, dtype, 0.1))
        cases.append(
            (
                _normal(rng, shape, dtype),
                _normal(rng, shape, dtype),
                m,
                v,
                1e-3,
                0.9,
                0.999,
                1e-8,
                step,
                weight_decay,
                decoupled,
            )
        )
    return cases


def _rmsprop_cases(rng, dtype):
    cases = []
    for shape, momentum, weight_decay in [
        ((5, 3), 0.0, 0.0),
        ((7,), 0.9, 0.0),
        ((2, 3, 4), 0.5, 1e-2),
        ((50, 20), 0.0, 1e-3),
    ]:
        square_avg = np.abs(_normal(rng, shape, dtype, 0.1))
        buffer = _normal(rng, shape, dtype, 0.1) if momentum else np.zeros(shape, dtype)
        cases.append(
            (
                _normal(rng, shape, dtype),
                _normal(rng, shape, dtype),
                square_avg,
                buffer,
                1e-2,
                0.99,
                1e-8,
                momentum,
                weight_decay,
            )
        )
    return cases


def _adagrad_cases(rng, dtype):
    cases = []
    for shape, weight_decay in [((5, 3), 0.0), ((7,), 1e-2), ((2, 3, 4), 0.0), ((50, 20), 1e-3)]:
        cases.append(
            (
                _normal(rng, shape, dtype),
                _normal(rng, shape, dtype),
                np.abs(_normal(rng, shape, dtype)),
                1e-2,
                1e-10,
                weight_decay,
            )
        )
    return cases


# (N, C, H, W, kh, kw, sh, sw, ph, pw): stride 2 with padding, 1x1 kernels, non-square
# inputs and kernels, a batch of one, a kernel as large as the padded input, unequal
# strides and paddings, a stride larger than the kernel.
CONV_GEOMETRIES = [
    (2, 3, 7, 5, 3, 3, 1, 1, 1, 1),
    (3, 2, 9, 8, 3, 2, 2, 2, 1, 1),
    (1, 4, 5, 6, 1, 1, 1, 1, 0, 0),
    (2, 1, 6, 11, 5, 3, 2, 3, 2, 0),
    (1, 2, 3, 3, 5, 5, 1, 1, 1, 1),
    (8, 6, 12, 12, 5, 5, 1, 1, 2, 2),
    (2, 2, 9, 8, 5, 3, 2, 1, 2, 0),
    (1, 1, 5, 5, 2, 2, 3, 2, 0, 1),
]

# (N, C, H, W, kh, kw, sh, sw): non-overlapping, overlapping, floor at the edges, non-square,
# a stride larger than the window; 2x2 stride 2 (the Numba tier's unrolled forward) on even
# and on odd sizes.
POOL_GEOMETRIES = [
    (2, 3, 8, 8, 2, 2, 2, 2),
    (2, 2, 9, 7, 2, 2, 2, 2),
    (2, 2, 7, 9, 3, 3, 1, 1),
    (1, 3, 7, 5, 2, 2, 2, 2),
    (3, 2, 6, 7, 3, 2, 2, 1),
    (4, 5, 13, 11, 3, 3, 2, 2),
    (1, 2, 5, 7, 2, 3, 3, 1),
    (2, 3, 7, 6, 3, 2, 2, 2),
]


def _im2col_cases(rng, dtype):
    return [
        (_normal(rng, (N, C, H, W), dtype), kh, kw, sh, sw, ph, pw)
        for N, C, H, W, kh, kw, sh, sw, ph, pw in CONV_GEOMETRIES
    ]


def _col2im_cases(rng, dtype):
    cases = []
    for N, C, H, W, kh, kw, sh, sw, ph, pw in CONV_GEOMETRIES:
        columns = N * output_size(H, kh, sh, ph) * output_size(W, kw, sw, pw)
        cases.append((_normal(rng, (C * kh * kw, columns), dtype), (N, C, H, W), kh, kw, sh, sw, ph, pw))
    return cases


# (N, C, F, H, W, kh, kw, sh, sw, ph, pw, bias) for the whole-convolution kernels: stride 1
# (the Numba tier's blocked route) with N = 1, C = 1, F = 1, no padding, non-square images and
# kernels, a batch that several tiles hold (the last one partial); strides (the im2col route).
CONV2D_GEOMETRIES = [
    (2, 3, 4, 7, 5, 3, 3, 1, 1, 1, 1, True),
    (1, 1, 6, 28, 28, 5, 5, 1, 1, 2, 2, True),
    (3, 6, 16, 14, 14, 5, 5, 1, 1, 0, 0, True),
    (2, 2, 1, 6, 11, 3, 5, 1, 1, 0, 2, False),
    (1, 4, 3, 5, 6, 1, 1, 1, 1, 0, 0, True),
    (37, 16, 32, 14, 14, 3, 3, 1, 1, 1, 1, True),
    (3, 2, 5, 9, 8, 3, 2, 2, 2, 1, 1, True),
    (2, 1, 3, 6, 11, 5, 3, 2, 3, 2, 0, False),
]


def _conv2d_inputs(rng, dtype):
    for N, C, F, H, W, kh, kw, sh, sw, ph, pw, bias in CONV2D_GEOMETRIES:
        x = _normal(rng, (N, C, H, W), dtype)
        weight = _normal(rng, (F, C, kh, kw), dtype, 1 / np.sqrt(C * kh * kw))
        b = _normal(rng, (F,), dtype) if bias else None
        yield x, weight, b, (sh, sw, ph, pw)


def _conv2d_forward_cases(rng, dtype):
    return [(x, weight, b, *geometry) for x, weight, b, geometry in _conv2d_inputs(rng, dtype)]


def _conv2d_backward_cases(rng, dtype):
    """Every other case hands the backward the forward's patch matrix, the rest None (then the
    tier builds what it needs from x); dx is skipped in a third of them."""
    cases = []
    for k, (x, weight, _, geometry) in enumerate(_conv2d_inputs(rng, dtype)):
        y, cols = reference.conv2d_forward(x, weight, None, *geometry)
        kept = cols if k % 2 == 0 else None
        cases.append((_normal(rng, y.shape, dtype), x, kept, weight, *geometry, k % 3 != 1))
    return cases


def _pool_inputs(rng, dtype):
    """For each geometry: a tie-heavy input, and a continuous one."""
    for N, C, H, W, kh, kw, sh, sw in POOL_GEOMETRIES:
        for make in (_ties, _normal):
            yield make(rng, (N, C, H, W), dtype), (kh, kw, sh, sw)


def _max_pool_forward_cases(rng, dtype):
    return [(x, *window) for x, window in _pool_inputs(rng, dtype)]


def _max_pool_backward_cases(rng, dtype):
    cases = []
    for x, window in _pool_inputs(rng, dtype):
        y, argmax = reference.max_pool_forward(x, *window)
        cases.append((_normal(rng, y.shape, dtype), argmax, x.shape, *window))
    return cases


def _avg_pool_forward_cases(rng, dtype):
    return [(_normal(rng, x.shape, dtype), *window) for x, window in _pool_inputs(rng, dtype)]


def _avg_pool_backward_cases(rng, dtype):
    cases = []
    for x, (kh, kw, sh, sw) in _pool_inputs(rng, dtype):
        N, C, H, W = x.shape
        dy = _normal(rng, (N, C, output_size(H, kh, sh), output_size(W, kw, sw)), dtype)
        cases.append((dy, x.shape, kh, kw, sh, sw))
    return cases


# (N, C, L): dense batches, images, a channel of more values than a CUDA block has threads
# (600 > 256), a batch of one channel of two values; channels of more values than one GPU
# block takes (gpu.BATCHNORM_CHUNK = 4096: two and three chunks, the last one short); features
# in three of the Numba tier's column blocks (``_FEATURE_BLOCK`` = 64), the last one short.
BATCHNORM_SHAPES = [
    (8, 5, 1),
    (6, 150, 1),
    (2, 3, 10),
    (256, 16, 1),
    (16, 8, 49),
    (2, 1, 1),
    (8, 3, 50),
    (600, 2, 1),
    (64, 2, 100),
    (5000, 1, 2),
]


def _batchnorm_forward_cases(rng, dtype):
    return [
        (
            _normal(rng, shape, dtype, 2.0) + dtype(3.0),
            _normal(rng, shape[1], dtype),
            _normal(rng, shape[1], dtype),
            1e-5,
        )
        for shape in BATCHNORM_SHAPES
    ]


def _batchnorm_backward_cases(rng, dtype):
    cases = []
    for x, gamma, beta, eps in _batchnorm_forward_cases(rng, dtype):
        _, mean, var = reference.batchnorm_forward(x, gamma, beta, eps)
        cases.append((_normal(rng, x.shape, dtype), x, gamma, mean, var, eps))
    return cases


# (N, H, scale of the pre-activations) for the recurrent cells: one row, a few, enough to
# split across threads, and H = 19 (not a multiple of a SIMD width: loop tails) with large
# pre-activations that reach the saturated ends of sigmoid and tanh.
CELL_SHAPES = [(1, 1, 2.0), (3, 5, 2.0), (64, 32, 2.0), (5, 19, 6.0)]


def _lstm_forward_cases(rng, dtype):
    cases = []
    for N, H, scale in CELL_SHAPES:
        xw = _normal(rng, (N, 4 * H), dtype, scale)
        xw[0, 0] = -200  # sigmoid of a very negative number: exp overflows, the gate must be 0
        cases.append(
            (
                xw,
                _normal(rng, (N, 4 * H), dtype, 2.0),
                _normal(rng, 4 * H, dtype),
                _normal(rng, (N, H), dtype),
                np.zeros((N, 4 * H), dtype),
                np.zeros((N, H), dtype),
                np.zeros((N, H), dtype),
            )
        )
    return cases


def _lstm_backward_cases(rng, dtype):
    cases = []
    for xw, hw, b, c_prev, gates, c, h in _lstm_forward_cases(rng, dtype):
        reference.lstm_cell_forward(xw, hw, b, c_prev, gates, c, h)
        N, H = c.shape
        dh, dc_next = _normal(rng, (N, H), dtype), _normal(rng, (N, H), dtype)
        cases.append((dh, dc_next, gates, c_prev, c, np.zeros((N, 4 * H), dtype), np.zeros((N, H), dtype)))
        dc_next = dc_next.copy()
        cases.append((dh, dc_next, gates, c_prev, c, np.zeros((N, 4 * H), dtype), dc_next))  # in place
    return cases


def _gru_forward_cases(rng, dtype):
    cases = []
    for N, H, scale in CELL_SHAPES:
        xw = _normal(rng, (N, 3 * H), dtype, scale)
        xw[0, 0] = -200
        cases.append(
            (
                xw,
                _normal(rng, (N, 3 * H), dtype, 2.0),
                _normal(rng, 3 * H, dtype),
                _normal(rng, 3 * H, dtype),
                _normal(rng, (N, H), dtype),
                np.zeros((N, 3 * H), dtype),
                np.zeros((N, H), dtype),
                np.zeros((N, H), dtype),
            )
        )
    return cases


def _gru_backward_cases(rng, dtype):
    cases = []
    for xw, hw, bx, bh, h_prev, gates, hn, h in _gru_forward_cases(rng, dtype):
        reference.gru_cell_forward(xw, hw, bx, bh, h_prev, gates, hn, h)
        N, H = h.shape

        def outputs(N=N, H=H):
            return np.zeros((N, 3 * H), dtype), np.zeros((N, 3 * H), dtype)

        dh = _normal(rng, (N, H), dtype)
        cases.append((dh, gates, hn, h_prev, *outputs(), np.zeros((N, H), dtype)))
        dh = dh.copy()
        cases.append((dh, gates, hn, h_prev, *outputs(), dh))  # dh_prev written over dh
    return cases


# (T, N, H) for the loops over time: one step of one unit, a few, N = 7 (a CUDA block of
# several samples left part full), and H = 260 > 256, where the CUDA tier loops over cells.
SEQUENCE_SHAPES = [(1, 1, 1), (4, 3, 5), (6, 7, 19), (2, 2, 260)]


def _lstm_sequence_inputs(rng, dtype):
    for T, N, H in SEQUENCE_SHAPES:
        xw = _normal(rng, (T, N, 4 * H), dtype, 2.0)
        Wh = _normal(rng, (H, 4 * H), dtype, 1 / np.sqrt(H))
        cells, hs = np.zeros((T + 1, N, H), dtype), np.zeros((T + 1, N, H), dtype)
        cells[0], hs[0] = _normal(rng, (N, H), dtype), _normal(rng, (N, H), dtype)
        yield xw, Wh, _normal(rng, 4 * H, dtype), np.zeros((T, N, 4 * H), dtype), cells, hs


def _lstm_forward_sequence_cases(rng, dtype):
    return list(_lstm_sequence_inputs(rng, dtype))


def _lstm_backward_sequence_cases(rng, dtype):
    cases = []
    for xw, Wh, b, gates, cells, hs in _lstm_sequence_inputs(rng, dtype):
        reference.lstm_forward_sequence(xw, Wh, b, gates, cells, hs)
        T, N, H = hs[1:].shape
        cases.append(
            (
                _normal(rng, (T, N, H), dtype),
                np.ascontiguousarray(Wh.T),
                gates,
                cells,
                np.zeros((T, N, 4 * H), dtype),
                np.zeros((N, H), dtype),
                np.zeros((N, H), dtype),
            )
        )
    return cases


def _gru_sequence_inputs(rng, dtype):
    for T, N, H in SEQUENCE_SHAPES:
        xw = _normal(rng, (T, N, 3 * H), dtype, 2.0)
        Wh = _normal(rng, (H, 3 * H), dtype, 1 / np.sqrt(H))
        hs = np.zeros((T + 1, N, H), dtype)
        hs[0] = _normal(rng, (N, H), dtype)
        yield (
            xw,
            Wh,
            _normal(rng, 3 * H, dtype),
            _normal(rng, 3 * H, dtype),
            np.zeros((T, N, 3 * H), dtype),
            np.zeros((T, N, H), dtype),
            hs,
        )


def _gru_forward_sequence_cases(rng, dtype):
    return list(_gru_sequence_inputs(rng, dtype))


def _gru_backward_sequence_cases(rng, dtype):
    cases = []
    for xw, Wh, bx, bh, gates, hn, hs in _gru_sequence_inputs(rng, dtype):
        reference.gru_forward_sequence(xw, Wh, bx, bh, gates, hn, hs)
        T, N, H = hn.shape
        cases.append(
            (
                _normal(rng, (T, N, H), dtype),
                np.ascontiguousarray(Wh.T),
                gates,
                hn,
                hs,
                np.zeros((T, N, 3 * H), dtype),
                np.zeros((T, N, 3 * H), dtype),
                np.zeros((N, H), dtype),
            )
        )
    return cases


def _swap_batch_time_cases(rng, dtype):
    # a row of 32 values (the threaded copy from 2^16 elements, and below), rows too short for it
    # (NumPy's copy), one step, one sample, a 2-D and a 4-D array, and strided views
    shapes = [(64, 50, 32), (3, 5, 32), (4, 7, 8), (1, 6, 20), (5, 1, 20), (6, 9), (4, 3, 2, 16)]
    cases = [(_normal(rng, shape, dtype),) for shape in shapes]
    return cases + [
        (_normal(rng, (5, 8, 40), dtype)[:, ::2, 3:37],),
        (_normal(rng, (9, 4, 33), dtype).transpose(1, 0, 2),),
    ]


# ------------------------------------------------------------------ the table
TABLE = {
    kernel.name: kernel
    for kernel in [
        Kernel("softmax_cross_entropy", _softmax_cases),
        Kernel("softmax_cross_entropy_backward", _softmax_backward_cases),
        Kernel("masked_softmax", _masked_softmax_cases),
        Kernel("masked_softmax_backward", _masked_softmax_backward_cases, scale=(5, 5)),
        Kernel("batched_matmul", _batched_matmul_cases),
        Kernel("linear_forward", _linear_forward_cases),
        Kernel("weight_gradient", _weight_gradient_cases, scale=(5, 50)),  # 1001 terms, summed by blocks
        Kernel("relu_forward", _relu_forward_cases, exact=True),
        Kernel("relu_backward", _relu_backward_cases, exact=True),
        Kernel("dropout_forward", _dropout_forward_cases),
        Kernel("dropout_backward", _dropout_backward_cases),
        Kernel("sgd_update", _sgd_cases),
        Kernel("rmsprop_update", _rmsprop_cases),
        Kernel("adagrad_update", _adagrad_cases),
        Kernel("adam_update", _adam_cases),
        Kernel("im2col", _im2col_cases, exact=True),
        Kernel("col2im", _col2im_cases),
        # sums of C*kh*kw products (forward), N*OH*OW products (dweight), each tier in its order
        Kernel("conv2d_forward", _conv2d_forward_cases, scale=(10, 10), optional=(1,)),
        Kernel("conv2d_backward", _conv2d_backward_cases, scale=(10, 100)),
        Kernel("max_pool_forward", _max_pool_forward_cases, exact=True, any_integer=(1,)),
        Kernel("max_pool_backward", _max_pool_backward_cases, exact=True),
        Kernel("avg_pool_forward", _avg_pool_forward_cases, exact=True),
        Kernel("avg_pool_backward", _avg_pool_backward_cases, exact=True),
        Kernel("batchnorm_forward", _batchnorm_forward_cases),
        # dbeta, dgamma: sums of M = N * L products that cancel; each tier sums in its own order
        Kernel("batchnorm_backward", _batchnorm_backward_cases, scale=(10, 100)),
        Kernel("lstm_cell_forward", _lstm_forward_cases),
        Kernel("lstm_cell_backward", _lstm_backward_cases),
        Kernel("gru_cell_forward", _gru_forward_cases),
        Kernel("gru_cell_backward", _gru_backward_cases),
        # T steps of products and cells: rounding compounds along the sequence
        Kernel("swap_batch_time", _swap_batch_time_cases, exact=True),
        Kernel("lstm_forward_sequence", _lstm_forward_sequence_cases, scale=(10, 10)),
        Kernel("lstm_backward_sequence", _lstm_backward_sequence_cases, scale=(10, 10)),
        Kernel("gru_forward_sequence", _gru_forward_sequence_cases, scale=(10, 10)),
        Kernel("gru_backward_sequence", _gru_backward_sequence_cases, scale=(10, 10)),
    ]
}


# ------------------------------------------------------------------ comparing
def copy_args(args, place=None):
    """A deep copy of ``args`` that keeps aliasing (one array passed twice stays one array),
    with every array passed through ``place`` (e.g. to a device) when given."""
    copied = copy.deepcopy(args)
    if place is None:
        return copied
    moved = {}
    for a in copied:
        if isinstance(a, np.ndarray) and id(a) not in moved:
            moved[id(a)] = place(a)
    return tuple(moved.get(id(a), a) for a in copied)


def arrays_in(value):
    """The arrays in a kernel's result: one array, a tuple of them, or None."""
    if value is None:
        return []
    if isinstance(value, tuple):
        return [a for item in value for a in arrays_in(item)]
    return [value]


def describe(args) -> str:
    """A case in one line: array dtypes and shapes, scalars as they are."""
    return ", ".join(f"{a.dtype}{a.shape}" if isinstance(a, np.ndarray) else repr(a) for a in args)


def _assert_same(where, ref, ours, tolerance, to_numpy, any_integer=False):
    ours = to_numpy(ours)
    assert ours.shape == ref.shape, f"{where}: shape {ours.shape}, reference {ref.shape}"
    integers = any_integer and ours.dtype.kind in "iu" and ref.dtype.kind in "iu"
    assert integers or ours.dtype == ref.dtype, f"{where}: dtype {ours.dtype}, reference {ref.dtype}"
    if tolerance["rtol"] == tolerance["atol"] == 0:
        np.testing.assert_array_equal(
            ours, ref, err_msg=f"{where}: differs from the reference (must be exact)"
        )
    else:
        np.testing.assert_allclose(ours, ref, err_msg=f"{where}: differs from the reference", **tolerance)


def compare(tier, name, dtype, args, label=None, place=None, to_numpy=np.asarray, is_array=None):
    """Run ``reference.<name>`` and ``tier.<name>`` on copies of ``args`` and require equal results.

    ``label`` names the tier in messages (default: the module's name); ``place`` moves a NumPy
    array to the tier's device and ``to_numpy`` brings one back; ``is_array`` says whether a
    value is an array of the tier (default: a NumPy array).
    """
    kernel = TABLE[name]
    tolerance = kernel.tolerance(dtype)
    is_array = is_array or (lambda a: isinstance(a, np.ndarray))
    where = f"{label or tier.__name__}: {name}({describe(args)})"

    ref_args, tier_args = copy_args(args), copy_args(args, place)
    ref_result = getattr(reference, name)(*ref_args)
    tier_result = getattr(tier, name)(*tier_args)
    if kernel.optional:  # drop the optional results the tier did not return
        assert isinstance(tier_result, tuple) and len(tier_result) == len(ref_result), (
            f"{where}: returns {type(tier_result).__name__}, the reference a tuple of {len(ref_result)}"
        )
        assert all(ref_result[i] is not None for i in kernel.optional), f"{name}: the reference returns None"
        kept = [i for i in range(len(ref_result)) if i not in kernel.optional or tier_result[i] is not None]
        ref_result, tier_result = tuple(ref_result[i] for i in kept), tuple(tier_result[i] for i in kept)

    ref_out, tier_out = arrays_in(ref_result), arrays_in(tier_result)
    assert len(tier_out) == len(ref_out), f"{where}: {len(tier_out)} results, reference {len(ref_out)}"
    for i, (r, ours) in enumerate(zip(ref_out, tier_out)):
        assert is_array(ours), f"{where}: result {i} is a {type(ours).__name__}, not an array of the tier"
        _assert_same(f"{where}, result {i}", r, ours, tolerance, to_numpy, i in kernel.any_integer)
        returned = [j for j, a in enumerate(ref_args) if a is r]
        if returned:  # an output the reference writes in place and returns: the tier returns it too
            assert ours is tier_args[returned[0]], (
                f"{where}: result {i} is not argument {returned[0]}, which the reference writes and returns"
            )
    for i, (r, ours) in enumerate(zip(ref_args, tier_args)):  # arguments updated in place
        if isinstance(r, np.ndarray):
            _assert_same(f"{where}, argument {i} after the call", r, ours, tolerance, to_numpy)


def check_kernel(tier, name, dtype, limit=None, **how):
    """``compare`` every case of ``name`` for ``dtype`` (the first ``limit`` cases if given);
    returns the number of cases compared."""
    cases = TABLE[name].make_cases(dtype)[:limit]
    for args in cases:
        compare(tier, name, dtype, args, **how)
    return len(cases)
