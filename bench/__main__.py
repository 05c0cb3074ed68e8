"""``python -m bench`` from the repository's root (``make bench``): every row, see ``runner``."""

import argparse
import os
import sys

from .scaling import parse_cores, usable_cpus

#: the variables that size the thread pools of Numba, OpenBLAS, MKL and OpenMP when they load
POOL_VARIABLES = ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def pool_size(argv: list[str]) -> int | None:
    """The most cores this run gives minidl (``--cores``' largest count this machine has, or
    every usable CPU): the size its thread pools need. None when ``--cores`` is invalid
    (the runner's parser then says why)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--cores")
    known, _ = parser.parse_known_args(argv)
    try:
        kept, _ = parse_cores(known.cores, len(usable_cpus()))
    except ValueError:
        return None
    return max(kept) if kept else None


def run(argv: list[str] | None = None) -> int:
    """Set up the process as ``python -m minidl`` does, then time every row (``runner.main``).

    Before NumPy and Numba load, their pools are sized to the most cores the run uses (the
    Makefile exports 2 threads each, for repeatable notebooks, which would cap minidl at 2
    cores on a larger machine); each row then sets the threads in force per core count
    (``scaling.MinidlThreads``).
    """
    argv = sys.argv[1:] if argv is None else argv
    size = pool_size(argv)
    if size is not None and "numpy" not in sys.modules and "numba" not in sys.modules:
        for name in POOL_VARIABLES:
            os.environ[name] = str(size)
    # OPENBLAS_THREAD_TIMEOUT is left as the caller set it (OpenBLAS's default, 2^28 cycles of
    # spinning, when unset): the legend prints the value in force and the record keeps it
    from minidl import backend
    from minidl.kernels import blas_pool

    if not blas_pool.available():  # two pools: their idle threads should sleep, not spin
        backend.wait_passively()  # before any thread pool starts (see its docstring)
    backend.keep_freed_memory()  # reuse freed arrays instead of faulting fresh pages in (see its docstring)
    from .runner import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(run())
