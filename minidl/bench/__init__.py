"""Benchmarks: the NumPy reference kernels vs the Numba ones (vs PyTorch CPU when installed).

``python -m minidl bench`` (or ``make bench``) runs ``runner.main``: every workload is
timed on each tier (median of repeats after a warm-up), printed as a table and written
as JSON. Workloads live in ``conv`` (convolution, pooling, batch norm, LeNet-5 and MLP
training steps, a GEMM for the machine's practical peak) and, when present,
``recurrent`` and ``gpu``; each such module exposes ``workloads() -> list[Workload]``.
"""
from .runner import Workload, main

__all__ = ["Workload", "main"]
