"""Chapter 8, fast CPU kernels: Numba versions of max pooling, the ReLU backward and the average-pooling backward."""

import numpy as np

from ..judge.feedback import compare_outputs
from ..judge.registry import Case, Exercise, register

CHAPTER = "08_fast_cpu_kernels"


# The "numba" probe (is it compiled? then call it) is in probes.py.


def maxpool2d_numba(x, pool, stride):
    """Reference (NumPy): max over windows; x (N, C, H, W) -> (N, C, OH, OW)."""
    n, c, h, w = x.shape
    oh, ow = (h - pool) // stride + 1, (w - pool) // stride + 1
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool].max(
                axis=(2, 3)
            )
    return out


def relu_backward_numba(dy, x):
    """Reference (NumPy): dx = dy where x > 0, else 0."""
    return dy * (x > 0)


def _judge(reference, names, mistakes=()):
    """Compiled by Numba (the probe compares the kernel's type with the dispatcher class
    captured before the notebook ran), then the numbers. Whether a kernel is parallel is read
    from its cell in the grader's process (``numba_parallel``), where the notebook cannot
    change the check."""

    def judge(case, got):
        if not isinstance(got, dict) or "is_numba" not in got:
            return "the grader could not read the result"
        if not got["is_numba"]:
            return (
                "this is a plain Python function: compile it with Numba "
                "(`from numba import njit` and `@njit` above the `def`)"
            )
        wrong = [(hint, fn(*case.args)) for hint, fn in mistakes]
        return compare_outputs(got["out"], reference(*case.args), names, wrong)

    return judge


def _pool_cases(rng):
    cases = []
    for shape, pool, stride in (((2, 3, 6, 6), 2, 2), ((1, 2, 7, 5), 3, 2), ((2, 1, 5, 5), 2, 1)):
        cases.append(
            Case((rng.standard_normal(shape), pool, stride), label=f"x {shape}, pool={pool}, stride={stride}")
        )
    return cases


register(
    Exercise(
        name="maxpool2d_numba",
        chapter=CHAPTER,
        points=3,
        entries=("maxpool2d_numba",),
        title="Max pooling as a Numba kernel",
        make_cases=_pool_cases,
        judge=_judge(
            maxpool2d_numba,
            ("out",),
            (
                (
                    "the windows do not move by `stride`: window (i, j) starts at row i * stride, "
                    "column j * stride",
                    lambda x, pool, stride: maxpool2d_numba(x, pool, 1)[
                        :, :, : (x.shape[2] - pool) // stride + 1, : (x.shape[3] - pool) // stride + 1
                    ],
                ),
            ),
        ),
        probe="numba",
        needs=("numba",),
        forbids=("minidl.nn.layers.MaxPool2D", "minidl.nn.layers.conv", "minidl.kernels"),
        catches=("windows that do not move by stride",),
    )
)


def _relu_cases(rng):
    cases = []
    for shape in ((4, 7), (2, 3, 5)):
        x = rng.standard_normal(shape)
        cases.append(Case((rng.standard_normal(shape), x), label=f"arrays of shape {shape}"))
    x = rng.integers(-1, 2, (3, 8)).astype(np.float32)  # exact zeros: relu'(0) = 0 here
    cases.append(
        Case(
            (rng.standard_normal((3, 8)).astype(np.float32), x),
            label="float32 arrays (3, 8) where a third of x is exactly 0",
        )
    )
    return cases


register(
    Exercise(
        name="relu_backward_numba",
        chapter=CHAPTER,
        points=1,
        entries=("relu_backward_numba",),
        title="The ReLU backward as a parallel Numba kernel",
        make_cases=_relu_cases,
        judge=_judge(
            relu_backward_numba,
            ("dx",),
            (
                (
                    "this is relu(dy); the gradient passes where the INPUT x is positive",
                    lambda dy, x: np.maximum(dy, 0),
                ),
                (
                    "the gradient passes where x == 0 too: ReLU's derivative at 0 is taken as 0 "
                    "(pass dy only where x > 0)",
                    lambda dy, x: dy * (x >= 0),
                ),
            ),
        ),
        probe="numba",
        needs=("numba",),
        forbids=("minidl.nn.layers.ReLU", "minidl.nn.layers.activations", "minidl.kernels"),
        numba_parallel=True,
        catches=(
            "not compiled with parallel=True",
            "a serial range loop where the task asks for prange",
            "relu(dy) instead of dy where x > 0",
            "the gradient passed where x == 0 (float32 cases with exact zeros)",
        ),
    )
)


def avgpool2d_backward_numba(dy, height, width, pool, stride):
    """Reference (NumPy): each output's gradient spread evenly over its pool x pool window;
    overlapping windows add up. dy (N, C, OH, OW) -> dx (N, C, height, width)."""
    n, c, oh, ow = dy.shape
    dx = np.zeros((n, c, height, width), dtype=dy.dtype)
    share = dy / (pool * pool)
    for i in range(oh):
        for j in range(ow):
            dx[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool] += share[:, :, i, j][
                :, :, None, None
            ]
    return dx


def _avg_cases(rng):
    cases = []
    for (n, c, h, w), pool, stride in (((2, 3, 6, 6), 2, 2), ((1, 2, 7, 5), 3, 2), ((2, 1, 5, 5), 2, 1)):
        oh, ow = (h - pool) // stride + 1, (w - pool) // stride + 1
        cases.append(
            Case(
                (rng.standard_normal((n, c, oh, ow)), h, w, pool, stride),
                label=f"x {(n, c, h, w)}, pool={pool}, stride={stride}",
            )
        )
    return cases


def _avg_assigned(dy, height, width, pool, stride):
    """Overlapping windows overwrite each other instead of adding up."""
    n, c, oh, ow = dy.shape
    dx = np.zeros((n, c, height, width), dtype=dy.dtype)
    for i in range(oh):
        for j in range(ow):
            dx[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool] = (
                dy[:, :, i, j] / (pool * pool)
            )[:, :, None, None]
    return dx


register(
    Exercise(
        name="avgpool2d_backward_numba",
        chapter=CHAPTER,
        points=2,
        entries=("avgpool2d_backward_numba",),
        title="The average-pooling backward as a Numba kernel",
        make_cases=_avg_cases,
        judge=_judge(
            avgpool2d_backward_numba,
            ("dx",),
            (
                (
                    "where windows overlap (stride < pool) their shares must add up; these overwrite "
                    "each other",
                    _avg_assigned,
                ),
                (
                    "each input gets the whole dy of its window; an average passes on 1 / (pool * pool) "
                    "of it",
                    lambda dy, h, w, pool, stride: (
                        avgpool2d_backward_numba(dy, h, w, pool, stride) * pool * pool
                    ),
                ),
            ),
        ),
        probe="numba",
        needs=("numba",),
        forbids=("minidl.nn.layers.AvgPool2D", "minidl.nn.layers.conv", "minidl.kernels"),
        catches=(
            "overlapping windows overwrite each other's share instead of adding",
            "the whole dy passed on instead of 1 / (pool * pool) of it",
        ),
    )
)
