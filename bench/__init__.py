"""Benchmarks: the NumPy reference kernels vs the Numba ones (vs PyTorch CPU when installed).

``python -m bench`` (or ``make bench``) runs ``runner.main``: every workload is
timed on each tier (median of repeats after a warm-up), printed as a table and written
as JSON. Workloads live in ``conv`` (convolution, pooling, batch norm, LeNet-5 and MLP
training steps, a GEMM for the machine's practical peak) and, when present,
``recurrent`` and ``gpu``; each such module exposes ``workloads() -> list[Workload]``.
``scaling`` times each row at 1 thread and at all cores (``--cores``) and fits Amdahl's law;
``verdict`` (``python -m bench.verdict RUN.json ...``) reads several runs' JSON together.

A tool of the repository, not a part of the library: ``pip install`` does not install it (the
package is ``minidl`` alone; tests/tools/test_line_budget.py counts what it installs), nothing
in minidl imports it, and it runs from a checkout, from the repository's root (the Makefile's
``bench`` target). Chapters 10 and 11 import a few of its functions with the repository's root
put on ``sys.path``. Its PyTorch side needs torch.

Importing this package loads nothing else (``Workload`` and ``main`` come from ``runner`` on
first use): ``python -m bench`` sizes the thread pools of Numba and BLAS before NumPy loads.
"""

__all__ = ["Workload", "main"]


def __getattr__(name):
    if name in __all__:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
