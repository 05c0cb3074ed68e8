"""Chapter 9, GPU kernels: a launch configuration, a fused per-channel bias and ReLU, the ReLU
backward with a grid-stride loop and the SiLU backward, in CUDA C.

The CUDA sources are run by ``minidl.kernels.emulate`` in the submission's process (the
same code would run on a GPU through CuPy). Arrays are surrounded by guard values so a
kernel that writes past the end of its output is caught instead of corrupting memory
silently.
"""

import numpy as np

from ..judge.feedback import compare_outputs
from ..judge.registry import Case, Exercise, function_exercise, register
from ..runtime.probes import _GUARD, _SENTINEL

CHAPTER = "09_gpu_kernels"


def blocks_for(n, threads):
    """Blocks needed so that blocks * threads >= n (ceiling division)."""
    return (n + threads - 1) // threads


def _blocks_cases(rng):
    return [
        Case((n, t), label=f"n={n}, threads={t}")
        for n, t in ((1000, 256), (1024, 256), (1, 128), (int(rng.integers(2000, 9000)), 128))
    ]


function_exercise(
    "blocks_for",
    CHAPTER,
    1,
    "blocks_for",
    "How many blocks a launch needs",
    _blocks_cases,
    blocks_for,
    ("blocks",),
    mistakes=(
        (
            "n // threads rounds down, leaving the last elements without a thread: "
            "round up with (n + threads - 1) // threads",
            lambda n, t: n // t,
        ),
        ("one block too many when n is a multiple of threads", lambda n, t: n // t + 1),
    ),
    forbids=("minidl.kernels",),
)


# The "cuda" probe (compile with the emulator, launch, check the guard values) is in
# probes.py.


def _judge_cuda(reference, name, mistakes=()):
    def judge(case, got):
        if not isinstance(got, dict) or "out" not in got:
            return "the grader could not read the result"
        if not got.get("guard_ok", False):
            return (
                f"the kernel wrote past the end of `{name}`: threads with an index >= n must "
                "do nothing (check `if (i < n)`)"
            )
        expected = reference(*case.args)
        wrong = [(hint, fn(*case.args)) for hint, fn in mistakes]
        return compare_outputs(got["out"], expected, (name,), wrong, tolerance=1e-6)

    return judge


# ---------------------------------------------------------------- bias + ReLU, per channel
def bias_relu(x, b, shape):
    """y = max(x + b[c], 0) for x flattened from (N, C, H, W), b (C,): element i is in channel
    (i / (H W)) % C. Returns y flattened, float32."""
    return np.maximum(x.reshape(shape) + b[None, :, None, None], 0).ravel().astype(np.float32)


def _bias_by(x, b, index):
    """max(x + b[index], 0) with the probe's guard values after b, as a kernel reading past
    the end of b would see them."""
    padded = np.concatenate([b, np.full(_GUARD, _SENTINEL, dtype=np.float32)])
    return np.maximum(x + padded[index], 0).astype(np.float32)


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
            "i / (H*W) counts the planes of every image, so it runs past C from the second image "
            "on (reading past the end of b): take it modulo C",
            _bias_by(x, b, i // (h * w)),
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


def _judge_bias_relu(case, got):
    x, b = case.args
    shape = case.extra["shape"]
    mistakes = tuple(
        (hint, lambda *_, wrong=wrong: wrong) for hint, wrong in _bias_relu_mistakes(x, b, shape)
    )
    return _judge_cuda(lambda x, b: bias_relu(x, b, shape), "y", mistakes)(case, got)


register(
    Exercise(
        name="bias_relu_cuda",
        chapter=CHAPTER,
        points=2,
        entries=("BIAS_RELU_SOURCE",),
        title="Bias and ReLU fused in one CUDA kernel, per channel of an (N, C, H, W) array",
        make_cases=_bias_relu_cases,
        judge=_judge_bias_relu,
        probe="cuda",
        forbids=("minidl.kernels",),
        catches=(
            "the bias indexed by i % C (channels-last)",
            "the channel index i / (H*W) not taken modulo C",
            "the bias indexed by the image",
            "the ReLU applied before the bias",
            "a write past the output when the grid has more threads than n",
        ),
    )
)


def _first_pass_only(dy, x, covered):
    dx = np.zeros_like(dy)
    dx[:covered] = (dy * (x > 0))[:covered]
    return dx


def _relu_backward_cases(rng):
    cases = []
    for n, threads, blocks in ((3000, 128, 4), (100, 32, 1)):
        cases.append(
            Case(
                (rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)),
                label=f"n={n} launched as {blocks} block(s) of {threads} threads",
                extra={"kernel": "relu_backward", "n": n, "threads": threads, "blocks": blocks},
            )
        )
    return cases


def _judge_relu_backward(case, got):
    dy, x = case.args
    covered = case.extra["threads"] * case.extra["blocks"]
    hints = (
        (
            "only the first blocks * threads elements were written: use a grid-stride loop "
            "(for (i = ...; i < n; i += blockDim.x * gridDim.x))",
            lambda dy, x: _first_pass_only(dy, x, covered),
        ),
    )
    return _judge_cuda(lambda dy, x: (dy * (x > 0)).astype(np.float32), "dx", hints)(case, got)


register(
    Exercise(
        name="relu_backward_cuda",
        chapter=CHAPTER,
        points=2,
        entries=("RELU_BACKWARD_SOURCE",),
        title="ReLU backward as a CUDA kernel with a grid-stride loop",
        make_cases=_relu_backward_cases,
        judge=_judge_relu_backward,
        probe="cuda",
        forbids=("minidl.kernels",),
        catches=(
            "no grid-stride loop: only the first blocks * threads elements written when the grid is smaller than n",
        ),
    )
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


register(
    Exercise(
        name="silu_backward_cuda",
        chapter=CHAPTER,
        points=2,
        entries=("SILU_BACKWARD_SOURCE",),
        title="The SiLU backward as a CUDA kernel",
        make_cases=_silu_cases,
        judge=_judge_cuda(
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
        probe="cuda",
        forbids=("minidl.kernels",),
        catches=(
            "dy * sigmoid(x): the product rule's x sigmoid'(x) missing",
            "dy * silu(x), the forward value",
            "expf(-x) overflowing to inf for x = -100, giving inf * 0 = NaN",
        ),
    )
)
