"""Time every workload on the NumPy reference tier, the Numba tier and PyTorch CPU.

    python -m minidl bench [--quick] [--only SUBSTRING] [--json PATH] [--no-cold-start]

Each workload's ``setup(tier)`` allocates everything and returns a zero-argument ``step``;
only ``step()`` is timed: a few warm-up calls (JIT compilation, caches, allocator), then
the median of repeated calls. The table shows, per workload, the NumPy and Numba times
and their ratio, PyTorch's time in the same run (when ``torch`` is installed) and
Numba / PyTorch (below 1: Numba is faster). "spread" is the interquartile range of the
Numba (or NumPy) repeats over their median: on a machine shared with other jobs, a large
spread says the row is noisy.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import backend

__all__ = ["Workload", "main", "measure", "collect_workloads", "run_workload"]

BENCH_MODULES = ("minidl.bench.conv", "minidl.bench.recurrent", "minidl.bench.gpu")
DEFAULT_JSON = os.path.join("benchmarks", "results", "bench.json")
TIERS = ("numpy", "numba")


@dataclass
class Workload:
    name: str                                   # table row label
    setup: Callable[[str], Callable[[], None]]  # given tier "numpy" | "numba", returns a zero-argument step (all allocation/setup done outside the timed step)
    torch_setup: Callable[[], Callable[[], None]] | None = None   # same, in PyTorch (None if not applicable)
    flops: float | None = None


# ------------------------------------------------------------------ timing
def measure(step: Callable[[], None], repeats: int = 25, warmup: int = 3,
            budget_seconds: float = 3.0) -> dict:
    """Time ``step()``: ``warmup`` untimed calls, then up to ``repeats`` timed ones.

    Stops early (after at least 5 timed calls) once ``budget_seconds`` have been spent, so
    slow workloads do not dominate the run. Returns the median, the quartiles and the
    number of calls, in milliseconds.
    """
    for _ in range(warmup):
        step()
    times = []
    started = time.perf_counter()
    while len(times) < repeats:
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 5 and time.perf_counter() - started > budget_seconds:
            break
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return {"median_ms": float(median), "q1_ms": float(q1), "q3_ms": float(q3),
            "min_ms": float(min(times)), "calls": len(times)}


def _torch():
    """The torch module when installed (an optional peer, never a dependency), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


# ------------------------------------------------------------------ workloads
def collect_workloads(only: str | None = None, log=print) -> list[Workload]:
    """Workloads of every benchmark module that exists, filtered by ``only`` (a substring)."""
    workloads = []
    for name in BENCH_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            log(f"(skipping {name}: module not present)")
            continue
        workloads.extend(module.workloads())
    if only:
        workloads = [w for w in workloads if only.lower() in w.name.lower()]
    return workloads


def run_workload(workload: Workload, repeats: int, warmup: int, budget_seconds: float) -> dict:
    """Time one workload on each available tier and in PyTorch; restores the kernel tier."""
    row = {"name": workload.name, "flops": workload.flops}
    before = backend.current()
    try:
        for tier in TIERS:
            if tier == "numba" and not backend.numba_available():
                row[tier] = None
                continue
            backend.use(tier)
            backend.seed(0)
            row[tier] = measure(workload.setup(tier), repeats, warmup, budget_seconds)
    finally:
        backend.use(before)
    torch = _torch()
    row["torch"] = (measure(workload.torch_setup(), repeats, warmup, budget_seconds)
                    if torch is not None and workload.torch_setup is not None else None)
    return row


def _median(row, key):
    return row[key]["median_ms"] if row.get(key) else None


def _ratio(a, b):
    return a / b if a is not None and b is not None and b > 0 else None


def summarise(row: dict) -> dict:
    """Add the ratios and the spread to a timed row."""
    numpy_ms, numba_ms, torch_ms = _median(row, "numpy"), _median(row, "numba"), _median(row, "torch")
    row["numpy_over_numba"] = _ratio(numpy_ms, numba_ms)
    row["numba_over_torch"] = _ratio(numba_ms, torch_ms)
    main_tier = row.get("numba") or row.get("numpy")
    row["spread"] = (main_tier["q3_ms"] - main_tier["q1_ms"]) / main_tier["median_ms"]
    best = min(t for t in (numpy_ms, numba_ms) if t is not None)
    row["gflops"] = row["flops"] / (best * 1e6) if row.get("flops") else None
    return row


# ------------------------------------------------------------------ output
COLUMNS = [("workload", 46), ("numpy ms", 9), ("numba ms", 9), ("np/nb", 6), ("torch ms", 9),
           ("nb/torch", 8), ("GFLOP/s", 8), ("spread", 7)]


def _cell(value, fmt):
    return "-" if value is None else format(value, fmt)


def format_row(row: dict) -> str:
    cells = [row["name"], _cell(_median(row, "numpy"), ".3f"), _cell(_median(row, "numba"), ".3f"),
             _cell(row["numpy_over_numba"], ".2f"), _cell(_median(row, "torch"), ".3f"),
             _cell(row["numba_over_torch"], ".2f"), _cell(row["gflops"], ".1f"),
             _cell(100 * row["spread"], ".0f") + "%"]
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS)))


def header() -> str:
    line = "  ".join(n.ljust(w) if i == 0 else n.rjust(w) for i, (n, w) in enumerate(COLUMNS))
    return line + "\n" + "-" * len(line)


def environment() -> dict:
    """What the numbers depend on: machine, versions, thread counts."""
    info = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                               "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER")
                    if k in os.environ}}
    if backend.numba_available():
        import numba
        info["numba"] = numba.__version__
        info["numba_threads"] = numba.get_num_threads()
    torch = _torch()
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def _threading_layer():
    """The threading layer Numba chose (known only after a parallel kernel has run)."""
    try:
        import numba
        return numba.threading_layer()
    except (ImportError, ValueError):
        return None


def _cold_start_functions():
    for name in BENCH_MODULES:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "cold_start"):
            yield module.cold_start


# ------------------------------------------------------------------ command line
def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m minidl bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a rough table in seconds)")
    parser.add_argument("--only", metavar="SUBSTRING", help="run only the workloads whose name contains it")
    parser.add_argument("--json", metavar="PATH", default=DEFAULT_JSON,
                        help=f"where to write the results (default {DEFAULT_JSON})")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per tier (default 25, quick 5)")
    parser.add_argument("--no-cold-start", action="store_true", help="skip the fresh-process measurements")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    repeats = args.repeats or (5 if args.quick else 25)
    warmup = 1 if args.quick else 3
    budget = 1.0 if args.quick else 3.0

    env = environment()
    torch = _torch()
    print(f"minidl bench: NumPy {env['numpy']}, Numba {env.get('numba', 'absent')} "
          f"({env.get('numba_threads', '-')} threads), PyTorch {env.get('torch', 'absent')}"
          f"{'' if torch is None else ' (' + str(env['torch_threads']) + ' threads)'}, "
          f"{env['cpu_count']} CPUs; median of up to {repeats} calls after {warmup} warm-up")
    workloads = collect_workloads(args.only)
    if not workloads:
        print(f"no workload matches {args.only!r}")
        return 1
    print(header())
    rows = []
    for workload in workloads:
        row = summarise(run_workload(workload, repeats, warmup, budget))
        rows.append(row)
        print(format_row(row), flush=True)
    print("np/nb: NumPy reference time / Numba time (higher is better); nb/torch: Numba time / "
          "PyTorch time (below 1: faster than PyTorch); GFLOP/s from the faster minidl tier. "
          f"Numba threading layer: {_threading_layer()}.")

    env["numba_threading_layer"] = _threading_layer()
    cold = []
    if not args.no_cold_start and not args.only:
        for cold_start in _cold_start_functions():
            for result in cold_start(quick=args.quick):
                cold.append(result)
                print(result["description"])

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"environment": env, "repeats": repeats, "warmup": warmup, "workloads": rows,
                   "cold_start": cold}, f, indent=2)
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
