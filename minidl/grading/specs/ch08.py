"""Chapter 8, fast CPU kernels: Numba versions of max pooling and the ReLU backward."""
import numpy as np

from ..feedback import compare_outputs
from ..registry import Case, Exercise, register

CHAPTER = "08_fast_cpu_kernels"


# The "numba" probe (is it compiled? then call it) is in probes.py.


def maxpool2d_numba(x, pool, stride):
    """Reference (NumPy): max over windows; x (N, C, H, W) -> (N, C, OH, OW)."""
    n, c, h, w = x.shape
    oh, ow = (h - pool) // stride + 1, (w - pool) // stride + 1
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + pool,
                                j * stride:j * stride + pool].max(axis=(2, 3))
    return out


def relu_backward_numba(dy, x):
    """Reference (NumPy): dx = dy where x > 0, else 0."""
    return dy * (x > 0)


def _judge(reference, names, mistakes=()):
    def judge(case, got):
        if not isinstance(got, dict) or "is_numba" not in got:
            return "the grader could not read the result"
        if not got["is_numba"]:
            return ("this is a plain Python function: compile it with Numba "
                    "(`from numba import njit` and `@njit` above the `def`)")
        wrong = [(hint, fn(*case.args)) for hint, fn in mistakes]
        return compare_outputs(got["out"], reference(*case.args), names, wrong)
    return judge


def _pool_cases(rng):
    cases = []
    for shape, pool, stride in (((2, 3, 6, 6), 2, 2), ((1, 2, 7, 5), 3, 2), ((2, 1, 5, 5), 2, 1)):
        cases.append(Case((rng.standard_normal(shape), pool, stride),
                          label=f"x {shape}, pool={pool}, stride={stride}"))
    return cases


register(Exercise(
    name="maxpool2d_numba", chapter=CHAPTER, points=3, entries=("maxpool2d_numba",),
    title="Max pooling as a Numba kernel", make_cases=_pool_cases,
    judge=_judge(maxpool2d_numba, ("out",), (
        ("the windows do not move by `stride`: window (i, j) starts at row i * stride, "
         "column j * stride", lambda x, pool, stride: maxpool2d_numba(x, pool, 1)[
             :, :, :(x.shape[2] - pool) // stride + 1, :(x.shape[3] - pool) // stride + 1]),)),
    probe="numba", needs=("numba",)))


def _relu_cases(rng):
    cases = []
    for shape in ((4, 7), (2, 3, 5)):
        x = rng.standard_normal(shape)
        cases.append(Case((rng.standard_normal(shape), x), label=f"arrays of shape {shape}"))
    return cases


register(Exercise(
    name="relu_backward_numba", chapter=CHAPTER, points=1, entries=("relu_backward_numba",),
    title="The ReLU backward as a parallel Numba kernel", make_cases=_relu_cases,
    judge=_judge(relu_backward_numba, ("dx",), (
        ("this is relu(dy); the gradient passes where the INPUT x is positive",
         lambda dy, x: np.maximum(dy, 0)),)),
    probe="numba", needs=("numba",)))


# ---------------------------------------------------------------- questions
# Graded like the code exercises; the answers and the explanations stay here, in the
# grader's process (see questions.py).
from ..questions import multiple_choice, number_question, shape_question  # noqa: E402

multiple_choice(
    "numba_first_call", CHAPTER, 1, "Why the first call of an @njit function is slow",
    choices={"a": "Numba compiles the function for the argument types of that first call",
             "b": "the CPU's caches are cold on the first call",
             "c": "NumPy allocates its memory pool on the first call",
             "d": "Numba interprets the first call and records a trace to replay"},
    answer="a",
    wrong={"b": "cold caches cost microseconds; the first call of a kernel costs a large fraction "
                "of a second, which is LLVM compiling machine code",
           "c": "NumPy has no memory pool to warm; the delay is in Numba, before the kernel runs",
           "d": "Numba is not a tracing JIT: it compiles the whole function ahead of running it, "
                "once per new combination of argument types"},
    explanation="@njit compiles lazily per type signature (cache=True stores the result on disk), "
                "so time a kernel after a first warm-up call.")

number_question(
    "im2col_memory_ratio", CHAPTER, 1, "How much memory im2col costs",
    value=9.0, tolerance=1e-3,
    mistakes=((1.0, "im2col copies each input value once for every window that covers it, not once"),
              (3.0, "that counts one kernel axis; a 3x3 window covers each pixel 3 * 3 times"),
              (27.0, "27 = C * K * K is the number of rows; compare the whole matrix with the whole input"),
              (1.0 / 9.0, "that is the inverse ratio: the im2col matrix is the larger one")),
    hint="count the elements of the (C*K*K, H_out*W_out) matrix and of the (C, H, W) input",
    explanation="(27, 1024) = 27648 elements for a 3072-element input: 9 = K*K times more, which "
                "is why a direct kernel that needs no im2col buffer can win on memory.")
