"""Chapter 11, GPU kernels: a fused per-channel bias and ReLU, the ReLU backward with a
grid-stride loop, the SiLU backward and the backward of nearest upsampling (a gather), in CUDA C.

The CUDA sources are run by ``minidl.kernels.emulate`` in the submission's process (the
same code would run on a GPU through CuPy). The emulator stops a kernel that reads or writes
outside an array, and the grader fails it with the emulator's message (which array, which
index, which thread); arrays are also followed by guard values, so that a write past the
output through a plain pointer is caught too. The grid-stride task is launched with
``one_thread_per_element``: a loop that hands an element to several threads fails even when
its numbers are right.
"""

import numpy as np

from ..judge.registry import Case, declare_edges
from ._kernels import cuda_exercise, judge_cuda, per_case

CHAPTER = "11_gpu_kernels"


def blocks_for(n, threads):
    """Blocks needed so that blocks * threads >= n (ceiling division)."""
    return (n + threads - 1) // threads


# The "cuda" probe (compile with the emulator, launch, check the guard values) is in
# probes.py.


# ---------------------------------------------------------------- bias + ReLU, per channel
def bias_relu(x, b, shape):
    """y = max(x + b[c], 0) for x flattened from (N, C, H, W), b (C,): element i is in channel
    (i / (H W)) % C. Returns y flattened, float32."""
    return np.maximum(x.reshape(shape) + b[None, :, None, None], 0).ravel().astype(np.float32)


def _bias_by(x, b, index):
    """max(x + b[index], 0): the bias taken from the wrong place (``index`` stays inside b; a
    kernel reading past its end is stopped by the emulator, see ``_OUTSIDE_B``)."""
    return np.maximum(x + b[index], 0).astype(np.float32)


# i / (H*W) without the modulo reads past b from the second image on
_OUTSIDE_B = {
    "b": "the channel index runs past C: i / (H*W) counts the planes of every image, so from the "
    "second image on it is >= C; take it modulo C, c = (i / (H*W)) % C"
}


def _bias_relu_mistakes(x, b, shape):
    n, c, h, w = shape
    i = np.arange(x.size)
    return (
        (
            "the bias is indexed by i % C, the channel of a channels-last (N, H, W, C) array; in "
            "(N, C, H, W) the C planes of H*W elements come one after another: c = (i / (H*W)) % C",
            _bias_by(x, b, i % c),
        ),
        (
            "b is indexed by the image i / (C*H*W), not by the channel (i / (H*W)) % C",
            _bias_by(x, b, i // (c * h * w)),
        ),
        (
            "the ReLU comes before the bias: y = max(x + b, 0) applies it to the sum",
            (np.maximum(x.reshape(shape), 0) + b[None, :, None, None]).ravel().astype(np.float32),
        ),
        ("the ReLU is missing: y = max(x + b, 0)", (x.reshape(shape) + b[None, :, None, None]).ravel()),
    )


def _bias_relu_cases(rng):
    cases = []
    for shape, threads in (((2, 3, 4, 5), 32), ((3, 4, 3, 3), 64)):
        n = int(np.prod(shape))
        cases.append(
            Case(
                (
                    rng.standard_normal(n).astype(np.float32),
                    rng.standard_normal(shape[1]).astype(np.float32),
                ),
                label=f"x of shape {shape}, {threads} threads per block",
                extra={
                    "kernel": "bias_relu",
                    "n": n,
                    "ints": (shape[1], shape[2] * shape[3]),
                    "shape": shape,
                    "threads": threads,
                    "blocks": blocks_for(n, threads),
                },
            )
        )
    return cases


def _bias_relu_judge(case):
    x, b = case.args
    shape = case.extra["shape"]
    mistakes = tuple(
        (hint, lambda *_, wrong=wrong: wrong) for hint, wrong in _bias_relu_mistakes(x, b, shape)
    )
    return judge_cuda(lambda x, b: bias_relu(x, b, shape), "y", mistakes, _OUTSIDE_B)


_judge_bias_relu = per_case(_bias_relu_judge)


cuda_exercise(
    "bias_relu_cuda",
    CHAPTER,
    2,
    "BIAS_RELU_SOURCE",
    "Bias and ReLU fused in one CUDA kernel, per channel of an (N, C, H, W) array",
    _bias_relu_cases,
    _judge_bias_relu,
    catches=(
        "the bias indexed by i % C (channels-last)",
        "the channel index i / (H*W) not taken modulo C (a read past the end of b)",
        "the bias indexed by the image",
        "the ReLU applied before the bias",
        "a write past the output when the grid has more threads than n",
    ),
)


def _relu_backward(dy, x):
    """dx = dy where x > 0, else exactly 0, whatever dy holds there (an infinite dy at a dead
    unit gives 0; dy * (x > 0) would make it NaN)."""
    return np.where(x > 0, dy, np.float32(0.0)).astype(np.float32)


def _times_step(dy, x):
    """The mistake dy * (x > 0): NaN where dy is infinite and x <= 0."""
    with np.errstate(invalid="ignore"):
        return dy * (x > 0)


def _first_pass_only(dy, x, covered):
    dx = np.zeros_like(dy)
    dx[:covered] = _relu_backward(dy, x)[:covered]
    return dx


def _relu_backward_cases(rng):
    cases = []
    for n, threads, blocks in ((3000, 128, 4), (100, 32, 1)):
        dy, x = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
        x[::7] = 0.0  # exact zeros: relu'(0) = 0 here, so `x >= 0` does not pass
        # an overflowed upstream gradient: inf and -inf at live units and at dead ones (x < 0 and
        # x == 0), where dx is 0, not the NaN of dy * 0
        for where in (x > 0, x < 0, x == 0):
            dy[rng.choice(np.flatnonzero(where), size=2, replace=False)] = (np.inf, -np.inf)
        cases.append(
            Case(
                (dy, x),
                label=f"n={n} launched as {blocks} block(s) of {threads} threads, every 7th x exactly 0, "
                "dy inf or -inf at six elements (two with x > 0, two with x < 0, two with x == 0)",
                extra={
                    "kernel": "relu_backward",
                    "n": n,
                    "threads": threads,
                    "blocks": blocks,
                    "one_thread_per_element": True,
                },
            )
        )
    return cases


def _relu_backward_judge(case):
    dy, x = case.args
    covered = case.extra["threads"] * case.extra["blocks"]
    hints = (
        (
            "only the first blocks * threads elements were written: use a grid-stride loop "
            "(for (i = ...; i < n; i += blockDim.x * gridDim.x))",
            lambda dy, x: _first_pass_only(dy, x, covered),
        ),
        (
            "the gradient passes where x == 0 too: relu'(0) is taken as 0 here (pass dy only where x > 0)",
            lambda dy, x: np.where(x >= 0, dy, np.float32(0.0)).astype(np.float32),
        ),
        (
            "an infinite dy at an element with x <= 0 became NaN: dy * 0 is NaN when dy is inf; "
            "write 0 there instead of multiplying (dx is exactly 0 wherever x <= 0)",
            lambda dy, x: _times_step(dy, x).astype(np.float32),
        ),
    )
    return judge_cuda(_relu_backward, "dx", hints)


_judge_relu_backward = per_case(_relu_backward_judge)


cuda_exercise(
    "relu_backward_cuda",
    CHAPTER,
    1,
    "RELU_BACKWARD_SOURCE",
    "ReLU backward as a CUDA kernel with a grid-stride loop",
    _relu_backward_cases,
    _judge_relu_backward,
    catches=(
        "no grid-stride loop: only the first blocks * threads elements written when the grid is smaller than n",
        "the gradient passed where x == 0 (x >= 0)",
        "dy * (x > 0): an infinite dy at an element with x <= 0 becomes NaN instead of 0",
        "a loop stepping by blockDim.x: right numbers, but every block redoes the elements of the blocks after it",
    ),
)


# ---------------------------------------------------------------- SiLU backward
def _silu_backward(dy, x):
    """d/dx of x * sigmoid(x) = s (1 + x (1 - s)), times dy (float64, then float32)."""
    s = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    return (dy * s * (1.0 + x * (1.0 - s))).astype(np.float32)


def _silu_overflowing(dy, x):
    """s + x e s^2 with e = exp(-x) in float32: NaN where e overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-x.astype(np.float32))
        s = np.float32(1) / (np.float32(1) + e)
        return (dy * (s + x * e * s * s)).astype(np.float32)


def _silu_cases(rng):
    cases = []
    for n, threads in ((777, 128), (40, 32)):
        x = (rng.standard_normal(n) * 4).astype(np.float32)
        # saturated on both sides, zero, and past float32's exp range (expf(100) = inf)
        x[:5] = (-30.0, 30.0, 0.0, -100.0, 100.0)
        cases.append(
            Case(
                (rng.standard_normal(n).astype(np.float32), x),
                label=f"n={n} with {threads} threads per block, |x| up to 100",
                extra={
                    "kernel": "silu_backward",
                    "n": n,
                    "threads": threads,
                    "blocks": blocks_for(n, threads),
                },
            )
        )
    return cases


cuda_exercise(
    "silu_backward_cuda",
    CHAPTER,
    2,
    "SILU_BACKWARD_SOURCE",
    "The SiLU backward as a CUDA kernel",
    _silu_cases,
    judge_cuda(
        _silu_backward,
        "dx",
        (
            (
                "this is dy * sigmoid(x), the derivative of sigmoid's *input* path only; the product "
                "rule adds x * sigmoid'(x)",
                lambda dy, x: (dy / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32),
            ),
            (
                "NaN or inf where x << 0: expf(-x) overflows to inf there and inf * 0 is NaN; "
                "write the derivative with s = 1 / (1 + expf(-x)) alone, s (1 + x (1 - s))",
                lambda dy, x: _silu_overflowing(dy, x),
            ),
            (
                "this is dy * silu(x), the forward value; the backward multiplies dy by the derivative",
                lambda dy, x: (dy * x / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32),
            ),
        ),
    ),
    catches=(
        "dy * sigmoid(x): the product rule's x sigmoid'(x) missing",
        "dy * silu(x), the forward value",
        "expf(-x) overflowing to inf for x = -100, giving inf * 0 = NaN",
    ),
)


# ---------------------------------------------------------------- nearest upsampling, backward
def upsample_backward(dy, shape, factor, row_stride=None, average=False, corner_only=False, one_plane=False):
    """dx (flattened, float32) of nearest-neighbour upsampling by ``factor``: y (N, C, H f, W f)
    repeats x[n, c, h, w] over an f x f block, so dx[n, c, h, w] is the sum of dy over that
    block. ``dy`` is flat; ``shape`` = (N, C, H, W) of x. The keywords apply a mistake: dy's
    rows taken ``row_stride`` apart, the block averaged, its corner only, plane 0 only."""
    n, c, h, w = shape
    planes, rows, cols = np.meshgrid(np.arange(n * c), np.arange(h), np.arange(w), indexing="ij")
    stride = w * factor if row_stride is None else row_stride
    base = ((0 if one_plane else planes) * h * factor + rows * factor) * stride + cols * factor
    flat = dy.astype(np.float64)
    block = range(1) if corner_only else range(factor)
    dx = sum(flat[base + a * stride + b] for a in block for b in block)
    return (dx / factor**2 if average else dx).ravel().astype(np.float32)


def _upsample_cases(rng):
    cases = []
    for shape, factor, threads in (((2, 3, 4, 5), 2, 32), ((1, 2, 3, 3), 3, 64), ((2, 2, 5, 4), 2, 128)):
        n, c, h, w = shape
        size = n * c * h * w
        cases.append(
            Case(
                (rng.standard_normal(size * factor * factor).astype(np.float32),),
                label=f"x of shape {shape}, factor {factor}, {threads} threads per block",
                extra={
                    "kernel": "upsample_backward",
                    "n": size,
                    "ints": (h, w, factor),
                    "shape": shape,
                    "factor": factor,
                    "threads": threads,
                    "blocks": blocks_for(size, threads),
                },
            )
        )
    return cases


def _upsample_backward_judge(case):
    shape, factor = case.extra["shape"], case.extra["factor"]
    hints = (
        (
            "the forward copies x[n, c, h, w] into f*f places, so its gradient is the SUM of their "
            "dy, not their average",
            {"average": True},
        ),
        (
            "a row of dy holds width * factor elements: row r of the plane starts at r * width * factor",
            {"row_stride": shape[3]},
        ),
        ("only the block's top-left dy is taken; dx sums all factor * factor of them", {"corner_only": True}),
        (
            "every thread reads the first plane of dy: plane p = i / (height * width) starts at "
            "p * (height * factor) * (width * factor)",
            {"one_plane": True},
        ),
    )
    mistakes = tuple(
        (hint, lambda dy, kw=kw: upsample_backward(dy, shape, factor, **kw)) for hint, kw in hints
    )
    return judge_cuda(lambda dy: upsample_backward(dy, shape, factor), "dx", mistakes)


_judge_upsample_backward = per_case(_upsample_backward_judge)


cuda_exercise(
    "upsample_backward_cuda",
    CHAPTER,
    2,
    "UPSAMPLE_BACKWARD_SOURCE",
    "The backward of nearest-neighbour upsampling as a gathering CUDA kernel",
    _upsample_cases,
    _judge_upsample_backward,
    catches=(
        "the block's dy averaged instead of summed",
        "dy's rows taken width apart instead of width * factor",
        "only the block's top-left dy taken",
        "the plane offset forgotten (every thread reads plane 0)",
    ),
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply. The kernels are
# launched by the "cuda" probe on the cases' shapes: n from 18 to 3000 elements
# (long_sequence), never a multiple of the block, so the last block's bounds check is tested.

_ONE_THREAD_EACH = (
    "one thread per element: a length of 0 or 1 is one more n whose last block is partly "
    "idle, which every case's n (not a multiple of the block) already tests"
)
declare_edges(
    "bias_relu_cuda",
    ("float32", "long_sequence"),
    {"empty": _ONE_THREAD_EACH, "size_one": _ONE_THREAD_EACH},
)
declare_edges(
    "relu_backward_cuda",
    ("float32", "inf_or_nan_input", "long_sequence"),
    {"empty": _ONE_THREAD_EACH, "size_one": _ONE_THREAD_EACH},
)
declare_edges(
    "silu_backward_cuda",
    ("extreme_magnitude", "float32", "long_sequence"),
    {"empty": _ONE_THREAD_EACH, "size_one": _ONE_THREAD_EACH},
)
declare_edges(
    "upsample_backward_cuda",
    ("float32", "long_sequence"),
    {"empty": _ONE_THREAD_EACH, "size_one": _ONE_THREAD_EACH},
)
