"""Benchmark workloads: convolutions, pooling, batch norm, LeNet-5 and MLP steps, a GEMM, a copy.

All float32, random data (the speed of a step does not depend on the values). Each
``setup`` builds layers and arrays outside the timed step; each ``torch_setup`` builds
the same computation in PyTorch (inputs that need gradients marked so, so that both
sides compute the same gradients).

``cold_start()`` measures a fresh Python process that imports minidl and runs its first
LeNet-5 step, once with an empty Numba cache (everything compiled) and once with the
on-disk cache that the first run filled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from minidl import backend
from minidl.models import lenet5

from .runner import TWO_TIMED_STEPS, Workload, clean_environment, layer_step, with_repository

F32 = np.float32


def _rng():
    return np.random.default_rng(0)


def _torch():
    import torch

    return torch


# ------------------------------------------------------------------ single layers
def _conv_flops(N, C, F, k, OH, OW):
    """Forward, dW and dx: three products of 2 * N * F * C * k * k * OH * OW flops each."""
    return 3 * 2 * N * F * C * k * k * OH * OW


def conv_workload(N, C, F, k, H, pad) -> Workload:
    """Conv2D forward + backward (dx, dW, db) on (N, C, H, H)."""

    def setup(tier):
        from minidl.nn.layers.conv import Conv2D

        layer = Conv2D(F, k, padding=pad)
        x = _rng().standard_normal((N, C, H, H)).astype(F32)
        dy = _rng().standard_normal((N,) + layer.compute_output_shape((C, H, H))).astype(F32)
        layer.build((C, H, H))
        return layer_step(layer, x, dy)

    def torch_setup():
        torch = _torch()
        x = torch.randn(N, C, H, H, requires_grad=True)
        W = torch.randn(F, C, k, k, requires_grad=True)
        b = torch.randn(F, requires_grad=True)
        dy = torch.randn(N, F, H + 2 * pad - k + 1, H + 2 * pad - k + 1)

        def step():
            for t in (x, W, b):
                t.grad = None
            torch.nn.functional.conv2d(x, W, b, padding=pad).backward(dy)

        return step

    OH = H + 2 * pad - k + 1
    return Workload(
        f"conv {C}->{F} {k}x{k} on {H}x{H} N={N} pad {pad}, fwd+bwd",
        setup,
        torch_setup,
        flops=_conv_flops(N, C, F, k, OH, OH),
    )


def maxpool_workload(N=64, C=32, H=28) -> Workload:
    def setup(tier):
        from minidl.nn.layers.conv import MaxPool2D

        layer = MaxPool2D(2)
        x = _rng().standard_normal((N, C, H, H)).astype(F32)
        dy = _rng().standard_normal((N, C, H // 2, H // 2)).astype(F32)
        return layer_step(layer, x, dy)

    def torch_setup():
        torch = _torch()
        x = torch.randn(N, C, H, H, requires_grad=True)
        dy = torch.randn(N, C, H // 2, H // 2)

        def step():
            x.grad = None
            torch.nn.functional.max_pool2d(x, 2).backward(dy)

        return step

    return Workload(f"max-pool 2x2 on N={N} C={C} {H}x{H}, fwd+bwd", setup, torch_setup)


def batchnorm_workload(shape) -> Workload:
    def setup(tier):
        from minidl.nn.layers.normalization import BatchNorm

        layer = BatchNorm()
        x = _rng().standard_normal(shape).astype(F32)
        dy = _rng().standard_normal(shape).astype(F32)
        return layer_step(layer, x, dy)

    def torch_setup():
        torch = _torch()
        bn = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(shape[1]).train()
        x = torch.randn(*shape, requires_grad=True)
        dy = torch.randn(*shape)

        def step():
            x.grad = bn.weight.grad = bn.bias.grad = None
            bn(x).backward(dy)

        return step

    return Workload(f"batch norm train {shape}, fwd+bwd", setup, torch_setup)


# ------------------------------------------------------------------ training steps
def torch_lenet5():
    """PyTorch's twin of ``minidl.models.lenet5()``: 1->6 conv 5x5 pad 2, pool, 6->16 conv 5x5,
    pool, dense 400->120->84->10, ReLU after every hidden layer."""
    nn = _torch().nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def mlp(input_shape=(784,)):
    from minidl.nn import layers as L
    from minidl.training.model import Sequential

    return Sequential(
        [L.Dense(256, activation="relu"), L.Dense(256, activation="relu"), L.Dense(10)],
        input_shape=input_shape,
    )


def torch_mlp():
    nn = _torch().nn
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def training_step_workload(name, build, build_torch, x_shape) -> Workload:
    """One SGD step (forward, softmax cross-entropy, backward, update) on a batch x_shape."""

    def setup(tier):
        from minidl.nn import losses, optim

        model = build(input_shape=x_shape[1:])
        model.compile(optimizer=optim.SGD(0.01), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        x = _rng().standard_normal(x_shape).astype(F32)
        y = _rng().integers(0, 10, x_shape[0])
        return lambda: model.train_on_batch(x, y)

    def torch_setup():
        torch = _torch()
        model = build_torch()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        loss_fn = torch.nn.CrossEntropyLoss()
        x = torch.randn(*x_shape)
        y = torch.randint(0, 10, (x_shape[0],))

        def step():
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()

        return step

    return Workload(name, setup, torch_setup)


def gemm_workload(n=1024) -> Workload:
    """C = A @ B in float32: NumPy's BLAS on both tiers, the machine's practical peak."""

    def setup(tier):
        a = _rng().standard_normal((n, n)).astype(F32)
        b = _rng().standard_normal((n, n)).astype(F32)
        out = np.empty((n, n), F32)
        return lambda: np.matmul(a, b, out=out)

    def torch_setup():
        torch = _torch()
        a, b = torch.randn(n, n), torch.randn(n, n)
        out = torch.empty(n, n)
        return lambda: torch.mm(a, b, out=out)

    return Workload(f"GEMM {n}^3 float32 (BLAS peak)", setup, torch_setup, flops=2.0 * n**3)


def copy_workload(shape) -> Workload:
    """y = x over float32 arrays of ``shape``: the memory's ceiling, as GEMM is the arithmetic's.

    A step that only streams its bytes (batch norm's kernels read each value once or twice and write
    it once) scales from one core to two as far as the memory lets it, and this row measures how far
    that is for each contender's threads: minidl's Numba tier with a ``prange`` over the flat arrays
    (a contiguous block a thread), PyTorch with ``copy_``. The NumPy tier's ``np.copyto`` runs on one
    core."""

    def setup(tier):
        x = _rng().standard_normal(shape).astype(F32).reshape(-1)
        y = np.empty_like(x)
        if tier == "numpy":
            return lambda: np.copyto(y, x)
        copy = _threaded_copy()
        copy(x, y)  # compiled here, not in a timed call
        return lambda: copy(x, y)

    def torch_setup():
        torch = _torch()
        x = torch.randn(*shape)
        y = torch.empty_like(x)
        return lambda: y.copy_(x)

    return Workload(f"copy {shape} float32 (memory peak)", setup, torch_setup)


def _threaded_copy():
    """``copy(x, y)``: y[i] = x[i] over flat arrays on Numba's threads (compiled at first use: the
    peer's process imports this module and never compiles)."""
    from numba import njit, prange

    def copy(x, y):
        for i in prange(x.size):
            y[i] = x[i]

    return njit(parallel=True)(copy)


def workloads() -> list[Workload]:
    return [
        conv_workload(64, 1, 8, 5, 28, 2),
        conv_workload(64, 16, 32, 3, 14, 1),
        maxpool_workload(),
        batchnorm_workload((256, 512)),
        batchnorm_workload((64, 32, 14, 14)),
        training_step_workload("LeNet-5 SGD step, N=64", lenet5, torch_lenet5, (64, 1, 28, 28)),
        training_step_workload("MLP 784-256-256-10 SGD step, N=128", mlp, torch_mlp, (128, 784)),
        gemm_workload(),
        copy_workload((64, 32, 14, 14)),
    ]


# ------------------------------------------------------------------ fresh processes
_FIRST_STEP = (
    """
import json, time
t0 = time.perf_counter()
import minidl
t_import = time.perf_counter()
from bench.conv import training_step_workload, torch_lenet5
from minidl.models import lenet5
minidl.backend.use("numba")
step = training_step_workload("", lenet5, torch_lenet5, (64, 1, 28, 28)).setup("numba")
"""
    + TWO_TIMED_STEPS
)

_STEP_BESIDE_TORCH = """
import json, sys, time
if sys.argv[1] == "with torch":          # as a notebook that used PyTorch before minidl
    import torch
    x = torch.randn(64, 1, 28, 28)
    float(torch.nn.functional.conv2d(x, torch.randn(6, 1, 5, 5), padding=2).relu().sum())
import numpy as np
import minidl
from bench.conv import training_step_workload, torch_lenet5
from minidl.models import lenet5
minidl.backend.use("numba")
step = training_step_workload("", lenet5, torch_lenet5, (64, 1, 28, 28)).setup("numba")
for _ in range(5):
    step()
times = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
print(json.dumps({"median_ms": 1e3 * float(np.median(times))}))
"""


def _fresh_process(script: str, env: dict, *args) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", script, *args], env=with_repository(env), capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["total_s"])[len(runs) // 2]


def cold_start(quick: bool = False, torch: bool = True) -> list[dict]:
    """A fresh process: import + the first LeNet-5 step, minidl (without and with Numba's
    cache) and, in turn with minidl's warm-cache runs, PyTorch (clean environment).

    The empty-cache run uses an empty temporary NUMBA_CACHE_DIR (every kernel compiled); the
    warm runs reuse the cache it wrote. Returns one dict per case (the median of the runs).
    """
    if not backend.numba_available():
        return []
    from .peer import COLD_START_SCRIPT

    results = []
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="minidl-numba-cache-") as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        cases = {
            "minidl, empty Numba cache": [_fresh_process(_FIRST_STEP, env)],
            "minidl, warm Numba cache": [],
        }
        if torch:
            cases["PyTorch"] = []
        for _ in range(rounds):  # alternate, so both see the same load
            cases["minidl, warm Numba cache"].append(_fresh_process(_FIRST_STEP, env))
            if torch:
                cases["PyTorch"].append(_fresh_process(COLD_START_SCRIPT, clean_environment()))
    for case, runs in cases.items():
        result = _median_run(runs)
        result["case"] = f"cold start, {case}"
        result["description"] = (
            f"cold start, {case + ':':<27} import {result['import_s']:.2f} s + first "
            f"LeNet-5 step {result['first_step_s']:.2f} s = {result['total_s']:.2f} s "
            f"(second step {1e3 * result['second_step_s']:.1f} ms)"
            + ("" if len(runs) == 1 else f"; median of {len(runs)}")
        )
        results.append(result)
    if torch:
        ratio = results[1]["total_s"] / results[2]["total_s"]
        results.append(
            {
                "case": "cold start ratio",
                "minidl_over_torch": ratio,
                "description": f"cold start, minidl (warm cache) / PyTorch: {ratio:.2f}",
            }
        )
    return results


def coexistence(quick: bool = False, torch: bool = True) -> list[dict]:
    """LeNet-5 steps in a fresh process that imported torch and ran a torch op first, against
    the same steps in a fresh process without torch, in turn (both with a clean environment:
    nobody's thread settings, as in a notebook that uses both libraries).

    Returns one dict: each case's median step (median over the processes) and the ratio.
    """
    if not torch or not backend.numba_available():
        return []
    env, calls = clean_environment(), "10" if quick else "30"
    runs: dict[str, list[float]] = {"alone": [], "with torch": []}
    for _ in range(1 if quick else 3):
        for case in runs:
            runs[case].append(_fresh_process(_STEP_BESIDE_TORCH, env, case, calls)["median_ms"])
    alone, beside = (float(np.median(runs[case])) for case in runs)
    return [
        {
            "case": "coexistence",
            "alone_ms": alone,
            "with_torch_ms": beside,
            "ratio": beside / alone,
            "description": f"coexistence: LeNet-5 step (Numba tier) {alone:.2f} ms alone, {beside:.2f} ms "
            f"in a process that imported and ran torch first: {beside / alone:.2f}x",
        }
    ]
