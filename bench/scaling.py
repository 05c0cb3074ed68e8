"""Scaling: each row timed with 1 thread and with all cores, and Amdahl's law fitted to both.

``python -m bench --cores 1,2,8,16`` times every CPU row once per core count ``p`` the
machine has: minidl with ``p`` Numba threads and ``p`` BLAS threads, PyTorch (in its own
process) with ``torch.set_num_threads(p)``, and both pinned to the same first ``p`` usable
CPUs with ``os.sched_setaffinity`` (every thread of each process, as ``taskset`` would).
Counts the machine lacks are skipped and named. Without ``--cores`` the counts are 1 and all
usable CPUs.

Amdahl's law: if a fraction ``s`` of a step's one-thread time ``T1`` cannot run in parallel
and the rest divides perfectly among ``p`` threads, the step takes

    T(p) = T1 * (s + (1 - s) / p) = a + b / p,   with a = s * T1 and b = (1 - s) * T1,

and no number of cores makes it faster than ``s * T1`` (speedup at most ``1 / s``).
``amdahl_fit`` fits ``a`` and ``b`` to the measured medians by least squares on the relative
error (each point weighs by its own size, so the fast many-core times count as much as the
slow one-thread one); with two core counts the line goes through both points exactly. From
the fit it predicts the time at 8 and 16 cores (``PREDICT_AT``). A serial fraction above 1
means the step got *slower* with more threads (``b < 0``): Amdahl's law does not describe
that, and the "prediction" only extends the fitted line; one below 0 (more than ``p`` times
faster on ``p`` cores) predicts as 0 would, ``T1 / n``. See docs/performance.md, "Reading
the scaling table", for what a 2-core machine can and cannot show.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = [
    "PREDICT_AT",
    "amdahl_fit",
    "cpu_set",
    "load_average",
    "load_line",
    "parse_cores",
    "pin_process",
    "plan",
    "usable_cpus",
    "MinidlThreads",
]

#: core counts at which the table gives the time that Amdahl's law predicts
PREDICT_AT = (8, 16)


def usable_cpus() -> list[int]:
    """The CPUs this process may run on, in order (all of ``os.cpu_count()`` where the system
    cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def parse_cores(text: str | None, usable: int) -> tuple[list[int], list[int]]:
    """The core counts of ``--cores`` that this machine has, and those it skips.

    ``text`` is a comma-separated list of positive integers ("1,2,8,16"); ``None`` means
    "1 and every usable CPU". ``usable`` is the number of CPUs the process may use. Returns
    ``(kept, skipped)``, each sorted without repeats: kept counts are at most ``usable``.
    """
    if usable < 1:
        raise ValueError(f"the number of usable CPUs must be at least 1, received {usable}")
    if text is None:
        return sorted({1, usable}), []
    counts = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(
                f"--cores expects positive integers separated by commas (e.g. 1,2,8,16), received {text!r}"
            )
        counts.add(int(part))
    kept = sorted(c for c in counts if c <= usable)
    skipped = sorted(c for c in counts if c > usable)
    return kept, skipped


def cpu_set(count: int, cpus: list[int]) -> set[int]:
    """The first ``count`` of ``cpus`` (the usable CPUs, in order): where ``count`` threads run."""
    if not 1 <= count <= len(cpus):
        raise ValueError(f"count must be between 1 and {len(cpus)} (the usable CPUs), received {count}")
    return set(cpus[:count])


def plan(cores_text: str | None, cpus: list[int] | None = None) -> dict:
    """What a run measures: ``{"counts", "skipped", "cpus", "pinning"}``.

    ``counts``: the kept core counts (``parse_cores``); ``cpus``: the usable CPUs;
    ``pinning``: whether threads can be pinned here (``os.sched_setaffinity`` exists).
    """
    cpus = usable_cpus() if cpus is None else cpus
    kept, skipped = parse_cores(cores_text, len(cpus))
    return {
        "counts": kept,
        "skipped": skipped,
        "cpus": cpus,
        "pinning": hasattr(os, "sched_setaffinity") and os.path.isdir("/proc/self/task"),
    }


def plan_line(run_plan: dict) -> str:
    """One line saying which core counts the run measures, where, and which it skipped."""
    counts, cpus = run_plan["counts"], run_plan["cpus"]
    where = (
        ", ".join(f"{c}: CPU{'s' if c > 1 else ''} {_cpu_range(cpus[:c])}" for c in counts)
        if run_plan["pinning"]
        else "not pinned (no os.sched_setaffinity here)"
    )
    line = f"cores: {', '.join(map(str, counts))} ({where})"
    if run_plan["skipped"]:
        line += (
            f"; skipped {', '.join(map(str, run_plan['skipped']))}: "
            f"this process may use {len(cpus)} CPU{'s' if len(cpus) > 1 else ''}"
        )
    if len(counts) < 2:
        line += "; one core count: no speedup or Amdahl fit"
    return line


def load_average() -> float | None:
    """Runnable processes on average over the last minute (``os.getloadavg``), None where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def load_line(load: float | None, usable: int) -> str:
    """One line on how busy the machine is. At a load of at least the usable CPUs, other
    processes want the cores this run times: an all-core time then waits for them at every
    parallel region's barrier, and the speedups measure the neighbours as much as the code."""
    if load is None:
        return "load average: unknown"
    line = f"load average {load:.2f} over the last minute on {usable} usable CPU{'s' if usable > 1 else ''}"
    if load >= usable:
        line += ": busy, other processes compete for the cores (the all-core times measure them too)"
    return line


def _cpu_range(cpus: list[int]) -> str:
    """``[0]`` -> "0", ``[0, 1, 2, 3]`` -> "0-3", ``[0, 2, 5]`` -> "0,2,5"."""
    if len(cpus) == 1:
        return str(cpus[0])
    if cpus == list(range(cpus[0], cpus[-1] + 1)):
        return f"{cpus[0]}-{cpus[-1]}"
    return ",".join(map(str, cpus))


# ------------------------------------------------------------------ pinning and threads
def task_ids() -> list[int]:
    """The ids of this process's threads (Linux: ``/proc/self/task``)."""
    return [int(t) for t in os.listdir("/proc/self/task")]


def pin_process(cpus: set[int]) -> bool:
    """Pin every thread of this process to ``cpus`` (threads started later inherit the mask of
    the thread that starts them). ``os.sched_setaffinity(0, ...)`` alone would pin only the
    calling thread, not the BLAS, Numba or OpenMP workers already running. Returns False
    where the system cannot pin."""
    if not hasattr(os, "sched_setaffinity") or not os.path.isdir("/proc/self/task"):
        return False
    for tid in task_ids():
        try:
            os.sched_setaffinity(tid, cpus)
        except (ProcessLookupError, PermissionError):  # a thread that ended meanwhile
            continue
    return True


class MinidlThreads:
    """Sets minidl's thread budget in this process: Numba's threads, BLAS's threads
    (through ``threadpoolctl``, where installed) and the CPUs every thread may run on.

    Numba cannot run more threads than its pool was started with (``NUMBA_NUM_THREADS``,
    read when Numba is imported: ``python -m bench`` sizes it to the largest count before
    importing anything); ``set`` returns the counts actually in force.
    """

    def __init__(self, cpus: list[int]):
        self.cpus = cpus
        self.original_affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        self.numba = None
        try:
            import numba

            self.numba = numba
            # starts Numba's pool (and OpenMP) before ``set`` pins anything: OpenMP counts the CPUs it
            # may use once, at its start, and a pool started on fewer CPUs than it has threads barely
            # spins, so every region wakes a sleeping thread (docs/performance.md, section 23)
            self.original_numba = numba.get_num_threads()
        except ImportError:
            pass
        self.blas = None
        try:
            from threadpoolctl import ThreadpoolController

            self.blas = ThreadpoolController()
            self.original_blas = self.blas.info()
        except ImportError:
            pass
        self.current: int | None = None
        self.in_force: dict = {}

    def set(self, count: int) -> dict:
        """Give minidl ``count`` cores: ``{"numba": threads, "blas": threads or None, "pinned"}``."""
        if count == self.current:
            return self.in_force
        numba_threads = None
        if self.numba is not None:
            numba_threads = min(count, self.numba.config.NUMBA_NUM_THREADS)
            self.numba.set_num_threads(numba_threads)
        blas_threads = None
        if self.blas is not None:
            self.blas.limit(limits=count, user_api="blas")
            blas_threads = count
        pinned = pin_process(cpu_set(count, self.cpus))
        self.current = count
        self.in_force = {"numba": numba_threads, "blas": blas_threads, "pinned": pinned}
        return self.in_force

    def restore(self) -> None:
        """Back to the thread counts and CPUs the process had before."""
        if self.numba is not None:
            self.numba.set_num_threads(self.original_numba)
        if self.blas is not None:
            for lib in self.original_blas:
                if lib["user_api"] == "blas":
                    self.blas.select(filepath=lib["filepath"]).limit(limits=lib["num_threads"])
        if self.original_affinity is not None:
            pin_process(self.original_affinity)
        self.current = None


def with_threads(set_count: Callable[[int], object], count: int, run: Callable[[int], list[float]]):
    """``run(calls)`` that first gives its contender ``count`` cores (``set_count(count)``)."""

    def run_at(calls: int) -> list[float]:
        set_count(count)
        return run(calls)

    return run_at


# ------------------------------------------------------------------ Amdahl's law
def amdahl_fit(times_ms: dict[int, float]) -> dict | None:
    """Fit ``T(p) = a + b / p`` to median times by core count; ``None`` for fewer than 2 counts.

    Least squares on the relative error: minimise sum over p of (1 - (a + b/p) / T(p))^2.
    Returns ``serial_fraction`` (``a / (a + b)``), ``t1_ms`` (the fitted one-core time
    ``a + b``), ``speedup`` (measured: time at the fewest cores / time at the most),
    ``from_cores`` and ``to_cores`` (those two counts) and ``predicted_ms`` (``{"8": ms,
    "16": ms}``: ``T1 (s + (1 - s) / n)`` at ``PREDICT_AT``; a serial fraction below 0, a
    step more than p times faster on p cores, counts as 0 there).
    """
    import numpy as np  # here, not at the top: python -m bench reads this module before NumPy loads

    counts = sorted(times_ms)
    if len(counts) < 2:
        return None
    p = np.array(counts, dtype=np.float64)
    t = np.array([times_ms[c] for c in counts], dtype=np.float64)
    if np.any(t <= 0):
        raise ValueError(f"times must be positive, received {dict(zip(counts, t.tolist()))}")
    design = np.stack([1.0 / t, 1.0 / (p * t)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    t1 = a + b
    serial = a / t1
    # below 0 (faster than p times at p cores: caches, noise) Amdahl's law has no meaning and the
    # line would reach negative times: predict as if perfectly parallel, T1 / n
    s = max(serial, 0.0)
    return {
        "serial_fraction": float(serial),
        "t1_ms": float(t1),
        "speedup": float(t[0] / t[-1]),
        "from_cores": counts[0],
        "to_cores": counts[-1],
        "predicted_ms": {str(n): float(t1 * (s + (1 - s) / n)) for n in PREDICT_AT},
    }
