"""The PyTorch side of ``python -m bench``: a process of its own, with PyTorch's defaults.

PyTorch must not be timed inside minidl's process: ``python -m minidl`` sets
``OMP_WAIT_POLICY=PASSIVE`` (``backend.wait_passively``) for minidl's thread pools (which
slows PyTorch's OpenMP threads: see docs/performance.md), and the Makefile fixes thread
counts for repeatable notebooks. So the runner starts this module with
``runner.peer_command()`` in an environment from ``runner.clean_environment()`` (every
OpenMP, MKL, OpenBLAS and Numba variable removed), and ``torch`` is imported before any
minidl code runs, so PyTorch's OpenMP runtime reads its settings from that clean environment.

The two processes talk in JSON lines over the peer's stdin/stdout:

    {"cmd": "info"}                      -> {"torch": "2.13.0", "threads": 2, "env": {...}}
                                            (env: the thread variables torch started with)
    {"cmd": "setup", "name": ROW}        -> {"ok": true}     (builds the row's PyTorch step)
    {"cmd": "setup", "name": ROW, "device": "cuda"}            (a GPU row's PyTorch-CUDA step)
    {"cmd": "time", "calls": K, "rewarm_ms": W}
                                         -> {"times_ms": [K times, each around one step()]}
                                            (after untimed calls for W ms: runner.timed_calls)
    {"cmd": "threads", "count": P, "cpus": [CPU, ...]}
                                         -> {"threads": P, "pinned": true}
                                            (torch.set_num_threads(P); every thread of the
                                            process pinned to those CPUs: bench/scaling.py)
    {"cmd": "quit"}

The runner alternates: a few minidl calls, then a few PyTorch calls, and so on, so that
both see the same load on a shared machine. ``COLD_START_SCRIPT`` is PyTorch's cold-start
twin of minidl's: a fresh process that imports torch and runs its first LeNet-5 step.
"""

from __future__ import annotations

import json
import os
import sys

from .runner import THREAD_VARIABLE_PREFIXES, TWO_TIMED_STEPS, collect_workloads, timed_calls
from .scaling import pin_process

COLD_START_SCRIPT = (
    """
import json, time
t0 = time.perf_counter()
import torch
t_import = time.perf_counter()
nn = torch.nn
model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
def step():
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
"""
    + TWO_TIMED_STEPS
)


def _workloads_by_name():
    return {
        w.name: w
        for w in collect_workloads(log=lambda *_: None)
        if w.torch_setup is not None or getattr(w, "torch_cuda_setup", None) is not None
    }


def serve(stdin=sys.stdin, stdout=sys.stdout) -> None:
    """Answer the runner's requests until "quit" or end of input."""
    import torch

    workloads, step = _workloads_by_name(), None
    for line in stdin:
        request = json.loads(line)
        cmd = request["cmd"]
        if cmd == "quit":
            break
        try:
            if cmd == "info":
                # the environment torch started with (importing minidl afterwards changes nothing
                # for torch: its OpenMP runtime read its settings when torch was imported)
                start = globals().get("START_ENVIRON", os.environ)
                answer = {
                    "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                    "env": {k: v for k, v in start.items() if k.startswith(THREAD_VARIABLE_PREFIXES)},
                }
                if torch.cuda.is_available():  # the GPU rows' peer (bench/gpu.py)
                    answer["cuda"] = torch.cuda.get_device_name(0)
            elif cmd == "setup":
                torch.manual_seed(0)
                workload = workloads[request["name"]]
                if request.get("device") == "cuda":  # a GPU row (bench/gpu.py): PyTorch on the GPU
                    step = workload.torch_cuda_setup(device="cuda")
                else:
                    step = workload.torch_setup()
                answer = {"ok": True}
            elif cmd == "threads":
                torch.set_num_threads(int(request["count"]))
                pinned = pin_process(set(request["cpus"]))
                answer = {"threads": torch.get_num_threads(), "pinned": pinned}
            elif cmd == "time":
                if step is None:
                    raise RuntimeError("'time' before 'setup': no step to time")
                rewarm_ms = float(request.get("rewarm_ms", 0.0))
                answer = {"times_ms": timed_calls(step, int(request["calls"]), rewarm_ms)}
            else:
                answer = {"error": f"unknown command {cmd!r}"}
        except Exception as err:  # reported to the runner, which shows the row without PyTorch
            answer = {"error": f"{type(err).__name__}: {err}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


if __name__ == "__main__":
    serve()
