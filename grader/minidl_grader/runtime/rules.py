"""What the grader and the submission's process both hold of a kernel (issue 68), written
once: the limits of a kernel's description and the ``njit`` options it keeps. Constants
only: the submission's process imports this module (``isolation.RUNTIME_GRADING_FILES``),
and so does the grader's reading of the description (``judge/kernels.py``)."""

# the options a kernel keeps when it is compiled again (what changes how it compiles)
NJIT_OPTIONS = frozenset(
    {
        "parallel",
        "fastmath",
        "error_model",
        "boundscheck",
        "nogil",
        "inline",
        "looplift",
        "forceobj",
        "nopython",
    }
)
KERNEL_MODULES = ("numpy", "numba", "math", "cmath")  # what a kernel's globals may name
# what the globals of a function chapter 9 runs on a model may name (``minidl``: its layer
# classes, for ``isinstance``); nothing of the grader's runtime is among them
MODEL_MODULES = ("numpy", "math", "cmath", "itertools", "minidl")
MAX_KERNELS = 16  # kernels in one description (the kernel and those it calls)
MAX_ITEMS = 256  # globals, closure variables and defaults per kernel
MAX_CUDA_SOURCE = 200_000  # characters of a CUDA source sent back (a cell is read up to 250,000)
