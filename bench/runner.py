"""Time every workload on the NumPy reference tier, the Numba tier and PyTorch CPU.

    python -m bench [--quick] [--only SUBSTRING] [--cores 1,2,8,16] [--json PATH] [--no-cold-start]
                    [--threshold 2^17] [--rewarm-ms 20] [--idle-pause]

Method. Each workload's ``setup(tier)`` allocates everything and returns a zero-argument
``step``; only ``step()`` is timed. PyTorch (when installed) runs in a process of its own
(``bench.peer``), started with every OMP_/MKL_/OPENBLAS_/NUMBA_ variable removed
from its environment and ``torch`` imported before any minidl code, so nothing minidl or
the Makefile sets (thread counts, OMP_WAIT_POLICY) reaches it: it runs with its own
defaults. After a few warm-up calls of each contender (JIT compilation, caches,
allocator), the runner alternates rounds -- a few NumPy-tier calls, a few Numba-tier calls,
a few PyTorch calls, again -- so all three see the same machine noise, and reports each
one's median. Between turns it pauses 0.15 s: OpenBLAS's threads spin for about 0.1 s after
their last product (PyTorch's OpenMP threads too) and would otherwise take the cores from
the next contender. During the pause a spinner process on each CPU keeps it busy and is parked
before the turn (``bench.busy``): a VM's CPUs left idle ran the next turns slowly, a short
two-thread step most (``--idle-pause`` sleeps instead). After the pause each contender first
makes untimed calls for 20 ms (``--rewarm-ms``): the first call after a pause ran up to 26
times slower than the fifth (a sleeping CPU woken, its caches refilled), on both sides, which a
training loop's steps, back to back, never see. "spread" is the interquartile range of the
Numba (or NumPy) calls over their median: on a machine shared with other jobs, a large spread
says the row is noisy. "by round" is the interquartile range of Numba time / PyTorch time
computed round by round (each round's two medians were taken a second apart, so a machine that
drifts over minutes moves both): when it contains 1, the two are level on this machine,
whichever side the overall ratio fell.

Scaling (``bench.scaling``). Each CPU row is timed at every core count of ``--cores`` that the
machine has (default: 1 and all usable CPUs): minidl with that many Numba and BLAS threads,
PyTorch with ``torch.set_num_threads``, both pinned to the same CPUs with
``os.sched_setaffinity``; the counts take turns inside the same rounds as the contenders, so
a 1-thread time and an all-core time are taken seconds apart. The main table's columns are
the largest count; the scaling table after it gives each contender's times per count, its
speedup, the serial fraction of Amdahl's law fitted to them and the times it predicts at 8
and 16 cores. docs/performance.md says how to read it; ``python -m bench.verdict`` reads
several runs' JSON together (one run on a shared machine decides nothing).

After the table: cold start (fresh processes, minidl and PyTorch in turn: import + first
LeNet-5 step) and coexistence (a LeNet-5 step in a fresh process that imported torch and
ran a torch op first, against the same step in a process without torch, in turn).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from minidl import backend

from . import scaling
from .busy import BusyPause

__all__ = ["Workload", "main", "measure", "collect_workloads", "run_workload"]

BENCH_MODULES = ("bench.conv", "bench.recurrent", "bench.attention", "bench.gpu")
DEFAULT_JSON = os.path.join("benchmarks", "results", "bench.json")
TIERS = ("numpy", "numba")

# Variables through which minidl, the Makefile or a notebook may have set threads, their
# wait policy or glibc's malloc; PyTorch gets none of them and so runs with its own defaults.
THREAD_VARIABLE_PREFIXES = (
    "OMP_",
    "GOMP_",
    "KMP_",
    "MKL_",
    "OPENBLAS_",
    "GOTO",
    "NUMBA_",
    "MINIDL_",
    "MALLOC_",
)


@dataclass
class Workload:
    name: str  # table row label
    setup: Callable[
        [str], Callable[[], None]
    ]  # given tier "numpy" | "numba", returns a zero-argument step (all allocation/setup done outside the timed step)
    torch_setup: Callable[[], Callable[[], None]] | None = None  # same, in PyTorch (None if not applicable)
    flops: float | None = None


def layer_step(layer, x, dy) -> Callable[[], None]:
    """The step a layer's row times: its forward of ``x`` in training mode, then its backward of ``dy``."""

    def step():
        layer.forward(x, training=True)
        layer.backward(dy)

    return step


# ------------------------------------------------------------------ fresh processes
# The end of a cold-start script (minidl's and PyTorch's): it has set t0 before the imports,
# t_import after them and built a training ``step``; it times the first step and the second,
# and prints the four times as JSON.
TWO_TIMED_STEPS = """
step()
t_step = time.perf_counter()
step()
t_second = time.perf_counter()
print(json.dumps({"import_s": t_import - t0, "first_step_s": t_step - t_import,
                  "total_s": t_step - t0, "second_step_s": t_second - t_step}))
"""


# ------------------------------------------------------------------ the PyTorch peer's process
# bench/ is a tool of the repository, not part of the installed minidl: a process it starts
# finds it (and the minidl beside it) through PYTHONPATH.
REPOSITORY = Path(__file__).resolve().parents[1]


def with_repository(environ: dict) -> dict:
    """``environ`` with the repository's root first on PYTHONPATH, where ``bench`` is found."""
    paths = [str(REPOSITORY), *filter(None, [environ.get("PYTHONPATH")])]
    return {**environ, "PYTHONPATH": os.pathsep.join(paths)}


def clean_environment(environ=None) -> dict:
    """A copy of ``environ`` (default ``os.environ``) without any thread or wait-policy setting."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if not k.startswith(THREAD_VARIABLE_PREFIXES)}


def peer_command() -> list[str]:
    """The command line of the peer: torch is imported first, then this module runs."""
    return [
        sys.executable,
        "-c",
        "import os, runpy, torch; start = dict(os.environ); "
        "runpy.run_module('bench.peer', {'START_ENVIRON': start}, run_name='__main__')",
    ]


# ------------------------------------------------------------------ timing
def timed_calls(step: Callable[[], None], calls: int, rewarm_ms: float = 0.0) -> list[float]:
    """Milliseconds of each of ``calls`` calls of ``step()``, after untimed calls for
    ``rewarm_ms`` milliseconds (at least one call when above 0; see ``REWARM_MS``)."""
    if rewarm_ms > 0:
        start = time.perf_counter()
        step()
        while (time.perf_counter() - start) * 1e3 < rewarm_ms:
            step()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def statistics(times: list[float]) -> dict:
    """Median, quartiles, minimum and count of a list of milliseconds."""
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return {
        "median_ms": float(median),
        "q1_ms": float(q1),
        "q3_ms": float(q3),
        "min_ms": float(min(times)),
        "calls": len(times),
    }


def paired_ratios(a_rounds: list[float], b_rounds: list[float]) -> dict | None:
    """Quartiles of a / b taken round by round (``round_medians_ms`` of two contenders).

    The two medians of one round were measured within a second of each other, so a machine
    whose speed drifts over minutes moves both alike and their ratio hardly at all. The spread
    of these ratios says how far the table's ratio of overall medians can be trusted: a range
    that contains 1 says the two are level within this machine's round-to-round noise,
    whatever side the overall ratio is on.
    """
    ratios = [a / b for a, b in zip(a_rounds, b_rounds) if b > 0]
    if not ratios:
        return None
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "rounds": len(ratios)}


def measure(
    step: Callable[[], None], repeats: int = 25, warmup: int = 3, budget_seconds: float = 3.0
) -> dict:
    """Time ``step()`` alone: ``warmup`` untimed calls, then up to ``repeats`` timed ones.

    Stops early (after at least 5 timed calls) once ``budget_seconds`` have been spent, so
    slow workloads do not dominate the run. Returns ``statistics`` of the calls.
    """
    result = interleaved({"step": lambda calls: timed_calls(step, calls)}, repeats, warmup, budget_seconds)[
        "step"
    ]
    del result["round_medians_ms"]
    return result


# After its last matrix product OpenBLAS keeps its threads spinning for about 0.1 s (2^28
# cycles), and PyTorch's OpenMP threads spin too: without a pause, one contender's idle
# threads would take the cores from the next contender's first calls.
SETTLE_SECONDS = 0.15

# Untimed calls at the start of each turn, after that pause (the module's docstring says why;
# measured: docs/performance.md, section 21); the same for every contender, in its own process.
REWARM_MS = 20.0


def interleaved(
    contenders: dict,
    repeats: int = 25,
    warmup: int = 3,
    budget_seconds: float = 3.0,
    rounds: int = 5,
    settle_seconds: float | None = None,
    pause: Callable[[float], None] = time.sleep,
) -> dict:
    """Time several contenders in alternating rounds, so that they share the machine's noise.

    ``contenders`` maps a name to ``run(calls) -> list of milliseconds``. Each gets ``warmup``
    untimed calls, then rounds of ``repeats // rounds`` calls each, in turn, until each has
    ``repeats`` calls or (after at least 5 each) ``budget_seconds`` per contender are spent.
    Before each contender's turn the runner pauses ``settle_seconds`` (default
    ``SETTLE_SECONDS`` when there are several contenders), so the previous one's threads are
    asleep: ``pause(seconds)``, ``time.sleep`` unless given (``python -m bench`` gives
    ``busy.BusyPause.pause``, which keeps the CPUs busy meanwhile). Returns ``{name:
    statistics}``, each with ``round_medians_ms``: the median of each of its rounds, in order
    (for ``paired_ratios``).
    """
    if settle_seconds is None:
        settle_seconds = SETTLE_SECONDS if len(contenders) > 1 else 0.0
    for run in contenders.values():
        if warmup:
            run(warmup)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    round_medians: dict[str, list[float]] = {name: [] for name in contenders}
    chunk = max(1, repeats // rounds)
    started, slept = time.perf_counter(), 0.0
    while min(len(t) for t in times.values()) < repeats:
        for name, run in contenders.items():
            pause(settle_seconds)
            slept += settle_seconds
            this_round = run(chunk)
            times[name].extend(this_round)
            round_medians[name].append(float(np.median(this_round)))
        spent = time.perf_counter() - started - slept
        if min(len(t) for t in times.values()) >= 5 and spent > budget_seconds * len(contenders):
            break
    return {name: dict(statistics(t), round_medians_ms=round_medians[name]) for name, t in times.items()}


def _torch_installed() -> bool:
    """Whether PyTorch can be imported (checked without importing it into this process)."""
    return importlib.util.find_spec("torch") is not None


class Peer:
    """PyTorch in its own process (``bench.peer``), with its own thread defaults."""

    def __init__(self):
        self.process = subprocess.Popen(
            peer_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=with_repository(clean_environment()),
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # the two PIPEs
        self.requests: IO[str] = self.process.stdin
        self.answers: IO[str] = self.process.stdout
        self.info = self.ask(cmd="info")
        self._threads_at: int | None = None  # the count of the last "threads" request, and its answer
        self._threads_in_force: dict = {}

    def ask(self, **request) -> dict:
        self.requests.write(json.dumps(request) + "\n")
        self.requests.flush()
        line = self.answers.readline()
        if not line:
            raise RuntimeError(f"the PyTorch peer process ended (exit code {self.process.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"PyTorch peer: {answer['error']}")
        return answer

    def setup(
        self, name: str, device: str | None = None, rewarm_ms: float = 0.0
    ) -> Callable[[int], list[float]]:
        """Build the row's PyTorch step in the peer (on ``device="cuda"``: the row's
        ``torch_cuda_setup``, bench/gpu.py); returns ``run(calls) -> milliseconds``, each turn
        after ``rewarm_ms`` of untimed calls (``timed_calls``)."""
        self.ask(cmd="setup", name=name, **({"device": device} if device else {}))
        return lambda calls: self.ask(cmd="time", calls=calls, rewarm_ms=rewarm_ms)["times_ms"]

    def threads(self, count: int, cpus: list[int]) -> dict:
        """Give PyTorch ``count`` threads pinned to the first ``count`` of ``cpus``; returns
        ``{"threads": torch.get_num_threads(), "pinned": bool}`` (asked once per change)."""
        if self._threads_at != count:
            self._threads_in_force = self.ask(
                cmd="threads", count=count, cpus=sorted(scaling.cpu_set(count, cpus))
            )
            self._threads_at = count
        return self._threads_in_force

    def close(self) -> None:
        if self.process.poll() is None:
            self.requests.write(json.dumps({"cmd": "quit"}) + "\n")
            self.requests.close()
            self.process.wait(timeout=30)


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


def _tier_runner(tier: str, step: Callable[[], None], rewarm_ms: float = 0.0) -> Callable[[int], list[float]]:
    """``run(calls)`` for one minidl tier: layers pick their kernels at call time, so set the tier."""

    def run(calls):
        backend.use(tier)
        return timed_calls(step, calls, rewarm_ms)

    return run


@dataclass
class CoreCounts:
    """The core counts a run times each CPU row at, and how each contender gets them."""

    counts: list[int]  # sorted, at most the usable CPUs (scaling.parse_cores)
    cpus: list[int]  # the usable CPUs: count p runs on the first p
    minidl: scaling.MinidlThreads

    def in_force(self, peer: Peer | None) -> dict:
        """What each count gave each contender: ``{"minidl": {p: ...}, "torch": {p: ...}}``."""
        return {
            "minidl": {str(c): self.minidl.set(c) for c in self.counts},
            "torch": None if peer is None else {str(c): peer.threads(c, self.cpus) for c in self.counts},
        }


def run_workload(
    workload: Workload,
    repeats: int,
    warmup: int,
    budget_seconds: float,
    peer: Peer | None = None,
    cores: CoreCounts | None = None,
    rewarm_ms: float = 0.0,
    pause: Callable[[float], None] = time.sleep,
) -> dict:
    """Time one workload on each tier and, with a ``peer``, in PyTorch, interleaved, each
    contender's turn after ``rewarm_ms`` of untimed calls (``REWARM_MS``) and a ``pause``
    (``interleaved``).

    With ``cores`` (and a CPU row), the Numba tier and PyTorch are timed at each of its
    counts, in the same rounds (``numba@1``, ``torch@1``, ``numba@2``, ...); the NumPy tier
    at the largest. The row's ``numba`` and ``torch`` are then the largest count's, and its
    ``scaling`` holds every count's. Restores the kernel tier that was in use.
    """
    row: dict = {"name": workload.name, "flops": workload.flops, "torch": None}
    before = backend.current()
    counts = None if cores is None or hasattr(workload, "device_contenders") else cores.counts
    contenders: dict[str, Callable[[int], list[float]]] = {}
    try:
        minidl_runs, torch_run = {}, None
        for tier in TIERS:
            if tier == "numba" and not backend.numba_available():
                row[tier] = None
                continue
            backend.use(tier)
            backend.seed(0)
            minidl_runs[tier] = _tier_runner(tier, workload.setup(tier), rewarm_ms)
        if peer is not None and workload.torch_setup is not None:
            torch_run = peer.setup(workload.name, rewarm_ms=rewarm_ms)
        if counts is None or cores is None:
            if cores is not None:  # a GPU row: minidl's CPU side with the most cores, as the table's
                cores.minidl.set(cores.counts[-1])
            contenders.update(minidl_runs)
            if torch_run is not None:
                contenders["torch"] = torch_run
        else:
            minidl, most, cpus = cores.minidl, counts[-1], cores.cpus
            if "numpy" in minidl_runs:
                contenders["numpy"] = scaling.with_threads(minidl.set, most, minidl_runs["numpy"])
            for c in counts:
                if "numba" in minidl_runs:
                    contenders[f"numba@{c}"] = scaling.with_threads(minidl.set, c, minidl_runs["numba"])
                if torch_run is not None and peer is not None:
                    contenders[f"torch@{c}"] = scaling.with_threads(
                        functools.partial(peer.threads, cpus=cpus), c, torch_run
                    )
        if hasattr(workload, "device_contenders"):  # GPU rows: minidl and PyTorch on the GPU (bench/gpu.py)
            contenders.update(workload.device_contenders(peer, rewarm_ms))
        timed = interleaved(contenders, repeats, warmup, budget_seconds, pause=pause)
        if counts is not None:
            per_count = {
                who: {str(c): timed.pop(f"{who}@{c}") for c in counts if f"{who}@{c}" in timed} or None
                for who in ("numba", "torch")
            }
            row["scaling"] = {"cores": counts, **per_count}
            for who, times in per_count.items():
                if times is not None:
                    timed[who] = times[str(counts[-1])]
        row.update(timed)
    finally:
        backend.use(before)
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
    main_tier = row.get("numba") or row["numpy"]
    row["numba_over_torch_paired"] = (
        paired_ratios(row["numba"]["round_medians_ms"], row["torch"]["round_medians_ms"])
        if row.get("numba") and row.get("torch")
        else None
    )
    row["spread"] = (main_tier["q3_ms"] - main_tier["q1_ms"]) / main_tier["median_ms"]
    best = min(t for t in (numpy_ms, numba_ms) if t is not None)
    row["gflops"] = row["flops"] / (best * 1e6) if row.get("flops") else None
    if row.get("scaling"):
        summarise_scaling(row["scaling"])
    return row


def summarise_scaling(timed: dict) -> dict:
    """Add each contender's Amdahl fit (``numba_fit``, ``torch_fit``: ``scaling.amdahl_fit``)
    and its speedup taken round by round (``numba_speedup_paired``: quartiles of the fewest
    cores' time / the most cores' time, each pair from the same round) to a row's scaling."""
    for who in ("numba", "torch"):
        times = timed.get(who)
        fit = paired = None
        if times and len(times) >= 2:
            fit = scaling.amdahl_fit({int(c): t["median_ms"] for c, t in times.items()})
            fewest, most = (str(c) for c in (timed["cores"][0], timed["cores"][-1]))
            paired = paired_ratios(times[fewest]["round_medians_ms"], times[most]["round_medians_ms"])
        timed[f"{who}_fit"], timed[f"{who}_speedup_paired"] = fit, paired
    return timed


# ------------------------------------------------------------------ output
COLUMNS = [
    ("workload", 46),
    ("numpy ms", 9),
    ("numba ms", 9),
    ("np/nb", 6),
    ("torch ms", 9),
    ("nb/torch", 8),
    ("by round", 9),
    ("GFLOP/s", 8),
    ("spread", 7),
]


def _cell(value, fmt):
    return "-" if value is None else format(value, fmt)


def _quartile_range(paired) -> str:
    return "-" if paired is None else f"{paired['q1']:.2f}-{paired['q3']:.2f}"


def format_row(row: dict) -> str:
    cells = [
        row["name"],
        _cell(_median(row, "numpy"), ".3f"),
        _cell(_median(row, "numba"), ".3f"),
        _cell(row["numpy_over_numba"], ".2f"),
        _cell(_median(row, "torch"), ".3f"),
        _cell(row["numba_over_torch"], ".2f"),
        _quartile_range(row.get("numba_over_torch_paired")),
        _cell(row["gflops"], ".1f"),
        _cell(100 * row["spread"], ".0f") + "%",
    ]
    return "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS))
    )


def header() -> str:
    line = "  ".join(n.ljust(w) if i == 0 else n.rjust(w) for i, (n, w) in enumerate(COLUMNS))
    return line + "\n" + "-" * len(line)


SCALING_COLUMNS = [
    ("workload", 46),
    ("numba ms", 15),
    ("torch ms", 15),
    ("nb x", 5),
    ("torch x", 7),
    ("nb serial", 9),
    ("torch serial", 12),
    *((f"{who}@{n}", 9) for n in scaling.PREDICT_AT for who in ("nb", "torch")),
]


def _joined(times: dict | None, counts: list[int]) -> str:
    """Medians at each count, "5.23/5.20" (a count without a time: "-")."""
    if not times:
        return "-"
    return "/".join(_cell(times[str(c)]["median_ms"] if str(c) in times else None, ".2f") for c in counts)


def format_scaling_row(row: dict) -> str:
    """One line of the scaling table: times per core count, speedups, serial fractions,
    predicted times at ``scaling.PREDICT_AT``."""
    timed = row["scaling"]
    fits = {who: timed.get(f"{who}_fit") for who in ("numba", "torch")}
    cells = [
        row["name"],
        _joined(timed.get("numba"), timed["cores"]),
        _joined(timed.get("torch"), timed["cores"]),
        *(_cell(None if f is None else f["speedup"], ".2f") for f in fits.values()),
        # rounded first, so that a fit's -1e-17 prints as 0.00, not -0.00
        *(_cell(None if f is None else round(f["serial_fraction"], 2) + 0.0, ".2f") for f in fits.values()),
        *(
            _cell(None if f is None else f["predicted_ms"][str(n)], ".2f")
            for n in scaling.PREDICT_AT
            for f in fits.values()
        ),
    ]
    return "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, (_, w)) in enumerate(zip(cells, SCALING_COLUMNS))
    )


def scaling_header(counts: list[int]) -> str:
    title = f"scaling: ms at {'/'.join(map(str, counts))} cores"
    line = "  ".join(n.ljust(w) if i == 0 else n.rjust(w) for i, (n, w) in enumerate(SCALING_COLUMNS))
    return title + "\n" + line + "\n" + "-" * len(line)


def scaling_legend(counts: list[int], in_force: dict) -> str:
    """What the scaling table's columns mean, and the threads each count really had."""
    minidl = in_force["minidl"]
    had = "; ".join(
        f"{c} core{'s' if int(c) > 1 else ''}: Numba {m['numba']}, BLAS "
        f"{m['blas'] if m['blas'] is not None else 'unchanged (threadpoolctl not installed)'}"
        + ("" if in_force["torch"] is None else f", PyTorch {in_force['torch'][c]['threads']}")
        for c, m in minidl.items()
    )
    pinned = all(m["pinned"] for m in minidl.values())
    return (
        f"nb x, torch x: time at {counts[0]} core(s) / time at {counts[-1]} (speedup, measured); "
        "serial: the serial fraction s of Amdahl's law T(p) = T1 (s + (1 - s) / p) fitted to the "
        "times (above 1: slower with more threads); nb@N, torch@N: the time the fit predicts at N cores. "
        f"Threads in force: {had}; "
        + ("both pinned to the same CPUs (os.sched_setaffinity)." if pinned else "not pinned.")
    )


#: the instruction-set flags that decide which code paths BLAS and LLVM take
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "asimd", "sve")


def cpu_info(cpuinfo_text: str | None = None) -> dict:
    """The processor the numbers were taken on: model name, which of ``CPU_FLAGS`` it has,
    logical CPUs and the CPUs this process may use. Read from ``/proc/cpuinfo`` (Linux);
    elsewhere the model is ``platform.processor()`` and the flags are unknown (None)."""
    if cpuinfo_text is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo_text = f.read()
        except OSError:
            cpuinfo_text = ""
    fields: dict[str, str] = {}
    for line in cpuinfo_text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key not in fields:  # the first processor's entry
            fields[key] = value.strip()
    model = fields.get("model name") or fields.get("cpu model") or platform.processor() or platform.machine()
    flags_text = fields.get("flags") or fields.get("features")
    present = set(flags_text.split()) if flags_text is not None else None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": model,
        "cpu_flags": None if present is None else {flag: flag in present for flag in CPU_FLAGS},
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
    }


def blas_peak_gflops(n: int = 1024, repeats: int = 5) -> float:
    """The best rate (GFLOP/s) of ``repeats`` float32 n x n x n products through NumPy's BLAS:
    the measured ceiling the table's GFLOP/s column is read against (2 n^3 flops a product)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def cpu_line(env: dict) -> str:
    """One line naming the machine: model, flags present, CPUs, BLAS peak (when measured)."""
    flags = env.get("cpu_flags")
    flag_text = "flags unknown" if flags is None else " ".join(f for f, on in flags.items() if on) or "none"
    peak = env.get("blas_peak_gflops")
    return (
        f"CPU: {env['cpu_model']} ({flag_text}; {env['cpus_usable']} of {env['cpu_count']} CPUs usable)"
        + ("" if peak is None else f", BLAS float32 peak {peak:.0f} GFLOP/s (best 1024^3 product)")
    )


def environment() -> dict:
    """What the numbers depend on: machine (CPU model and flags), versions, thread counts."""
    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        **cpu_info(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # glibc keeps freed arrays for reuse (backend.keep_freed_memory, or the Makefile's MALLOC_
        # variables); the PyTorch peer always runs with glibc's defaults
        "malloc_keeps_freed_memory": backend.freed_memory_kept or "MALLOC_MMAP_THRESHOLD_" in os.environ,
        "env": {
            k: os.environ[k]
            for k in (
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "NUMBA_NUM_THREADS",
                "NUMBA_THREADING_LAYER",
                "OMP_WAIT_POLICY",
                "OPENBLAS_THREAD_TIMEOUT",
                "GOMP_SPINCOUNT",
                "MALLOC_MMAP_THRESHOLD_",
                "MALLOC_TRIM_THRESHOLD_",
            )
            if k in os.environ
        },
    }
    if backend.numba_available():
        import numba

        info["numba"] = numba.__version__
        info["numba_threads"] = numba.get_num_threads()
        from minidl.kernels.cpu import loops

        info["parallel_min_elements"] = loops.PARALLEL_MIN_ELEMENTS
        from minidl.kernels import blas_pool

        info["one_pool"] = blas_pool.shared()  # OpenBLAS's products on Numba's threads
    return info


def _threading_layer():
    """The threading layer Numba chose (known only after a parallel kernel has run)."""
    try:
        import numba

        return numba.threading_layer()
    except (ImportError, ValueError):
        return None


def _fresh_process_functions():
    """Each bench module's ``cold_start`` and ``coexistence`` (measured in fresh processes)."""
    for name in BENCH_MODULES:
        module = sys.modules.get(name)
        for function in ("cold_start", "coexistence"):
            if module is not None and hasattr(module, function):
                yield getattr(module, function)


# ------------------------------------------------------------------ command line
def _elements(text: str) -> int:
    """``--threshold``'s value: an element count, written out or as a power of two (``2^17``)."""
    base, power = text.partition("^")[::2] if "^" in text else (text, "1")
    if not (base.isdigit() and power.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a count such as 131072 or 2^17, got {text!r}")
    return int(base) ** int(power)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="few repeats (a rough table in seconds)")
    parser.add_argument("--only", metavar="SUBSTRING", help="run only the workloads whose name contains it")
    parser.add_argument(
        "--json",
        metavar="PATH",
        default=DEFAULT_JSON,
        help=f"where to write the results (default {DEFAULT_JSON})",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed calls per tier (default 25, quick 5)"
    )
    parser.add_argument(
        "--no-cold-start",
        action="store_true",
        help="skip the fresh-process measurements (cold start, coexistence)",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave out the PyTorch column")
    parser.add_argument(
        "--cores",
        metavar="LIST",
        help="core counts to time each CPU row at, e.g. 1,2,8,16 (default: 1 and all usable CPUs); "
        "both contenders get that many threads, pinned to the same CPUs; counts the machine lacks "
        "are skipped and named",
    )
    parser.add_argument(
        "--rewarm-ms",
        metavar="MS",
        type=_milliseconds,
        default=REWARM_MS,
        help=f"untimed calls for this many milliseconds at the start of each contender's turn, after "
        f"the pause between turns (default {REWARM_MS:g}; 0: time the turn's first calls too)",
    )
    parser.add_argument(
        "--idle-pause",
        action="store_true",
        help=f"sleep through the {SETTLE_SECONDS:g} s pause before each turn, the CPUs idle (by default "
        "a spinner on each CPU keeps it busy meanwhile: bench.busy says why)",
    )
    parser.add_argument(
        "--threshold",
        metavar="ELEMENTS",
        type=_elements,
        help="elements from which minidl's Numba kernels use threads, e.g. 131072 or 2^17 "
        "(cpu.loops.PARALLEL_MIN_ELEMENTS: 2^16 with one pool, else 2^20): to measure another threshold",
    )
    args = parser.parse_args(argv)
    try:
        args.plan = scaling.plan(args.cores)
    except ValueError as err:
        parser.error(str(err))
    if not args.plan["counts"]:
        parser.error(
            f"none of the core counts {args.cores} is on this machine: this process may use "
            f"{len(args.plan['cpus'])} CPUs"
        )
    return args


def _milliseconds(text: str) -> float:
    """``--rewarm-ms``: a number of milliseconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"expected milliseconds, 0 or more (e.g. 20), received {text!r}")
    return value


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    repeats = args.repeats or (5 if args.quick else 25)
    warmup = 1 if args.quick else 3
    budget = 1.0 if args.quick else 3.0

    threshold = _set_threshold(args.threshold)
    try:
        return _main(args, repeats, warmup, budget)
    finally:
        _set_threshold(threshold)


def _set_threshold(elements):
    """Set minidl's thread threshold (None: leave it); returns the value it had (None without Numba)."""
    if not backend.numba_available():
        return None
    from minidl.kernels.cpu import loops

    previous = loops.PARALLEL_MIN_ELEMENTS
    if elements is not None:
        loops.PARALLEL_MIN_ELEMENTS = elements
    return previous


def _main(args, repeats, warmup, budget) -> int:
    env = environment()
    run_plan = args.plan
    cores = CoreCounts(run_plan["counts"], run_plan["cpus"], scaling.MinidlThreads(run_plan["cpus"]))
    peer = Peer() if _torch_installed() and not args.no_torch else None
    if peer is not None:
        env["torch"], env["torch_threads"] = peer.info["torch"], peer.info["threads"]
        env["torch_env"] = peer.info["env"]
    pause = "the CPUs idle" if args.idle_pause else "every CPU kept busy"
    print(
        f"minidl bench: NumPy {env['numpy']}, Numba {env.get('numba', 'absent')} "
        f"({env.get('numba_threads', '-')} threads), PyTorch {env.get('torch', 'absent')}"
        f"{'' if peer is None else ' (own process, ' + str(env['torch_threads']) + ' threads)'}, "
        f"{env['cpu_count']} CPUs; median of up to {repeats} calls per contender after {warmup} "
        f"warm-up, in alternating rounds; untimed calls for {args.rewarm_ms:g} ms at the start of each "
        f"turn, after a {SETTLE_SECONDS:g} s pause with {pause}"
    )
    print(scaling.plan_line(run_plan))
    env["load_average_start"] = scaling.load_average()
    print(scaling.load_line(env["load_average_start"], len(run_plan["cpus"])))
    cores.minidl.set(cores.counts[-1])  # the peak with the threads of the table's main columns
    env["blas_peak_gflops"] = round(blas_peak_gflops(repeats=2 if args.quick else 5), 1)
    print(cpu_line(env))
    settle = BusyPause([] if args.idle_pause else run_plan["cpus"])
    env["busy_pause"] = settle.busy
    try:
        return _run(args, env, peer, repeats, warmup, budget, cores, settle.pause)
    finally:
        settle.close()
        cores.minidl.restore()
        if peer is not None:
            peer.close()


def _device_columns(workloads):
    """The GPU columns (``bench.gpu``: GPU, PyTorch CUDA) when a row runs on a GPU, else
    None: without a GPU the table is the CPU one, unchanged."""
    return next((w.columns() for w in workloads if hasattr(w, "device_contenders")), None)


def _run(args, env, peer, repeats, warmup, budget, cores: CoreCounts, pause=time.sleep) -> int:
    workloads = collect_workloads(args.only)
    if not workloads:
        print(f"no workload matches {args.only!r}")
        return 1
    device = _device_columns(workloads)
    print(header() if device is None else device.header(header()))
    rows = []
    for workload in workloads:
        row = summarise(run_workload(workload, repeats, warmup, budget, peer, cores, args.rewarm_ms, pause))
        rows.append(row)
        if device is None:
            print(format_row(row), flush=True)
        else:
            print(device.format_row(device.summarise(row), format_row(row)), flush=True)
    print(
        "np/nb: NumPy reference time / Numba time (higher is better); nb/torch: Numba time / "
        "PyTorch time (below 1: faster than PyTorch; PyTorch in its own process with its own "
        "thread defaults); by round: the middle half (quartiles) of the same ratio taken round "
        "by round (a range containing 1: level on this machine); GFLOP/s from the faster minidl tier. "
        f"Numba threading layer: {_threading_layer()}. glibc keeps freed arrays for reuse: "
        f"{'yes' if env['malloc_keeps_freed_memory'] else 'no'} for minidl, glibc's default for PyTorch. "
        + (
            "One pool: OpenBLAS's products run on Numba's threads (minidl.kernels.blas_pool). "
            if env.get("one_pool")
            else "Two pools: OpenBLAS's idle threads spin "
            f"2^{os.environ.get('OPENBLAS_THREAD_TIMEOUT', '28 (its default)')} cycles before they sleep "
            "(OPENBLAS_THREAD_TIMEOUT). "
        )
        + "Numba kernels use threads from "
        f"{env.get('parallel_min_elements', '-')} elements (cpu.loops.PARALLEL_MIN_ELEMENTS); Numba's idle threads: "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
        f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', 'unset')}."
    )

    if device is not None:
        print(device.legend())
        env.update(device.environment(peer))
    env["numba_threading_layer"] = _threading_layer()
    env["openblas_thread_timeout"] = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    # PyTorch's threads per count, where a row was timed in PyTorch at several counts
    torch_scaled = any((row.get("scaling") or {}).get("torch") for row in rows)
    in_force = cores.in_force(peer if torch_scaled else None)
    env["scaling"] = {
        **args.plan,
        "threads_in_force": in_force,
        "threadpoolctl": cores.minidl.blas is not None,
        "predict_at": list(scaling.PREDICT_AT),
    }
    scaled = [row for row in rows if row.get("scaling")]
    if len(cores.counts) >= 2 and scaled:
        print()
        print(scaling_header(cores.counts))
        for row in scaled:
            print(format_scaling_row(row))
        print(scaling_legend(cores.counts, in_force))
    cores.minidl.restore()  # the fresh processes below inherit this process's CPUs
    env["load_average_end"] = scaling.load_average()
    print(scaling.load_line(env["load_average_end"], len(cores.cpus)) + " (after the table)")
    cold = []
    if not args.no_cold_start and not args.only:
        for fresh_process in _fresh_process_functions():
            for result in fresh_process(quick=args.quick, torch=peer is not None):
                cold.append(result)
                print(result["description"])

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(
            {
                "environment": env,
                "repeats": repeats,
                "warmup": warmup,
                "rewarm_ms": args.rewarm_ms,
                "workloads": rows,
                "cold_start": cold,
            },
            f,
            indent=2,
        )
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
