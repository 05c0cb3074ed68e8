"""Benchmarks: the NumPy reference kernels vs the Numba ones (vs PyTorch CPU when installed).

``python -m minidl bench`` (or ``make bench``) runs ``runner.main``: every workload is
timed on each tier (median of repeats after a warm-up), printed as a table and written
as JSON. Workloads live in ``conv`` (convolution, pooling, batch norm, LeNet-5 and MLP
training steps, a GEMM for the machine's practical peak) and, when present,
``recurrent`` and ``gpu``; each such module exposes ``workloads() -> list[Workload]``.

An optional sub-package, a tool of the repository more than a part of the library: nothing
in minidl imports it, ``import minidl`` does not load it (tests/test_architecture.py checks),
and it is loaded on first use, by ``python -m minidl bench``. Its PyTorch side needs torch.
"""

from .runner import Workload, main

__all__ = ["Workload", "main"]
