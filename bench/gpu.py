"""GPU workloads: the LeNet-5 training step and the LSTM forward + backward of
``bench.conv`` and ``bench.recurrent`` at batch 64, 256 and 1024, and the hand-written CUDA
kernels, timed on the device beside the CPU tiers and beside PyTorch on the same device.

Each workload is a :class:`GpuWorkload`: a ``runner.Workload`` (whose ``setup(tier)`` builds
the CPU step for the ``"numpy"`` or ``"numba"`` tier, as every other row) with two more
fields: ``gpu_setup()`` builds the same step on the GPU (model or layer moved with
``.to("gpu")``, inputs already on the device, so a step times the GPU, not the PCIe copy),
and ``torch_cuda_setup(device="cuda")`` builds PyTorch's twin of it on the device. Every
step ends with a device synchronisation (kernel launches are asynchronous: without it the
timer would stop before the GPU finished).

``python -m bench`` on a machine with a GPU: ``workloads()`` returns these rows, and
the runner adds the columns of this module (``header``, ``summarise``, ``format_row``):

    gpu ms          minidl on the GPU
    cpu/gpu         the faster CPU tier's time / the GPU's (above 1: the GPU is faster)
    torch-cuda ms   PyTorch on the same GPU, timed in the peer process (``bench.peer``),
                    interleaved with minidl's calls like the CPU peer
    gpu/tcuda       minidl GPU time / PyTorch CUDA time (below 1: faster than PyTorch)

Without a GPU ``workloads()`` is empty and the table is exactly the CPU one.
``python -m bench.gpu`` prints the GPU rows alone (CPU tier vs GPU, no PyTorch).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from minidl import backend
from minidl.models import lenet5

from .runner import Workload, measure, timed_calls

__all__ = [
    "GpuWorkload",
    "workloads",
    "all_workloads",
    "main",
    "header",
    "summarise",
    "format_row",
    "legend",
    "environment",
]

F32 = np.float32
BATCH_SIZES = (64, 256, 1024)  # LeNet-5 and LSTM rows; 64 and 256 are where the LSTM meets cuDNN


@dataclass
class GpuWorkload(Workload):
    gpu_setup: Callable[[], Callable[[], None]] | None = None  # the step on the CUDA device
    torch_cuda_setup: Callable[..., Callable[[], None]] | None = None  # PyTorch's, device="cuda"

    def device_contenders(self, peer=None, rewarm_ms: float = 0.0) -> dict:
        """The runner's extra contenders for this row: ``{"gpu": run, "torch_cuda": run}``,
        each ``run(calls) -> milliseconds`` (PyTorch's in the peer process, when there is one),
        a turn after ``rewarm_ms`` of untimed calls (``runner.REWARM_MS``)."""
        contenders = {}
        if self.gpu_setup is not None:
            step = self.gpu_setup()
            contenders["gpu"] = lambda calls: timed_calls(step, calls, rewarm_ms)
        if peer is not None and self.torch_cuda_setup is not None:
            contenders["torch_cuda"] = peer.setup(self.name, device="cuda", rewarm_ms=rewarm_ms)
        return contenders

    @staticmethod
    def columns():
        """This module, whose ``header``, ``summarise``, ``format_row``, ``legend`` and
        ``environment`` the runner uses for the GPU columns (the runner imports no bench module)."""
        return sys.modules[__name__]


def _rng():
    return np.random.default_rng(0)


def _synchronize():
    import cupy as cp

    cp.cuda.get_current_stream().synchronize()


def _place(device, *arrays):
    return tuple(backend.to_device(a, device) for a in arrays)


# ------------------------------------------------------------------ training steps
def training_step(build, x_shape, device: str) -> Callable[[], None]:
    """One SGD step (forward, softmax cross-entropy, backward, update) on a random batch x_shape."""
    from minidl.nn import losses, optim

    model = build(input_shape=x_shape[1:])
    model.compile(optimizer=optim.SGD(0.01), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    x = _rng().standard_normal(x_shape).astype(F32)
    y = _rng().integers(0, 10, x_shape[0])
    if device == "gpu":
        model.to("gpu")
        x, y = _place("gpu", x, y)
    return lambda: model.train_on_batch(x, y)  # returns a float: waits for the device


def training_workload(name, build, x_shape) -> GpuWorkload:
    return GpuWorkload(
        f"{name} SGD step, N={x_shape[0]}",
        setup=lambda tier: training_step(build, x_shape, "cpu"),
        gpu_setup=lambda: training_step(build, x_shape, "gpu"),
        torch_cuda_setup=lambda device="cuda": torch_lenet_step(x_shape, device),
    )


# ------------------------------------------------------------------ PyTorch's twins (any device)
# Run by the peer process with device="cuda"; the tests run them with device="cpu".
def _torch_synchronizer(torch, device):
    return torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)


def torch_lenet_step(x_shape, device="cuda") -> Callable[[], None]:
    """PyTorch's LeNet-5 SGD step (``bench.conv.torch_lenet5``) on ``device``."""
    import torch

    from .conv import torch_lenet5

    model = torch_lenet5().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.randn(*x_shape, device=device)
    y = torch.randint(0, 10, (x_shape[0],), device=device)
    synchronize = _torch_synchronizer(torch, device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        synchronize()

    return step


def torch_layer_step(make_module, x_shape, device="cuda") -> Callable[[], None]:
    """Forward and backward of one PyTorch module on random data (x needing a gradient, as
    minidl's layers compute dx)."""
    import torch

    module = make_module(torch).to(device)
    x = torch.randn(*x_shape, device=device, requires_grad=True)
    with torch.no_grad():
        out = module(x)
    dy = torch.randn_like(out[0] if isinstance(out, tuple) else out)
    synchronize = _torch_synchronizer(torch, device)

    def step():
        x.grad = None
        module.zero_grad(set_to_none=True)
        out = module(x)
        (out[0] if isinstance(out, tuple) else out).backward(dy)
        synchronize()

    return step


def torch_softmax_step(n, k, device="cuda") -> Callable[[], None]:
    import torch

    logits = torch.randn(n, k, device=device, requires_grad=True)
    labels = torch.randint(0, k, (n,), device=device)
    synchronize = _torch_synchronizer(torch, device)

    def step():
        logits.grad = None
        torch.nn.functional.cross_entropy(logits, labels).backward()
        synchronize()

    return step


def torch_adam_step(size, device="cuda") -> Callable[[], None]:
    import torch

    param = torch.randn(size, device=device, requires_grad=True)
    param.grad = torch.randn(size, device=device)
    opt = torch.optim.Adam([param], lr=1e-3)  # PyTorch's default implementation for the device
    synchronize = _torch_synchronizer(torch, device)

    def step():
        opt.step()
        synchronize()

    return step


# ------------------------------------------------------------------ single layers / kernels
def layer_step(make_layer, x_shape, device: str) -> Callable[[], None]:
    """Forward (training) and backward of one layer on random data."""
    layer = make_layer()
    layer.build(tuple(x_shape[1:]))
    x = _rng().standard_normal(x_shape).astype(F32)
    dy = _rng().standard_normal((x_shape[0],) + tuple(layer.compute_output_shape(tuple(x_shape[1:]))))
    dy = dy.astype(F32)
    if device == "gpu":
        layer.to("gpu")
        x, dy = _place("gpu", x, dy)

    def step():
        layer.forward(x, training=True)
        layer.backward(dy)
        if device == "gpu":
            _synchronize()

    return step


def layer_workload(name, make_layer, x_shape, make_torch=None) -> GpuWorkload:
    torch_cuda_setup = None
    if make_torch is not None:

        def torch_cuda_setup(device="cuda"):
            return torch_layer_step(make_torch, x_shape, device)

    return GpuWorkload(
        name,
        setup=lambda tier: layer_step(make_layer, x_shape, "cpu"),
        gpu_setup=lambda: layer_step(make_layer, x_shape, "gpu"),
        torch_cuda_setup=torch_cuda_setup,
    )


def _conv(filters, size, padding):
    def make():
        from minidl.nn.layers.conv import Conv2D

        return Conv2D(filters, size, padding=padding)

    return make


def _lstm(hidden):
    from minidl.nn.layers.recurrent import LSTM

    return LSTM(hidden, return_sequences=True)


def _maxpool():
    from minidl.nn.layers.conv import MaxPool2D

    return MaxPool2D(2)


def _batchnorm():
    from minidl.nn.layers.normalization import BatchNorm

    return BatchNorm()


def adam_step(size: int, device: str) -> Callable[[], None]:
    """One fused Adam update of ``size`` parameters (the optimizer kernel alone)."""
    param, grad, m = (_rng().standard_normal(size).astype(F32) for _ in range(3))
    v = np.abs(grad)
    kernels = backend.kernels()
    if device == "gpu":
        from minidl.kernels import gpu as kernels

        param, grad, m, v = _place("gpu", param, grad, m, v)

    def step():
        kernels.adam_update(param, grad, m, v, 1e-3, 0.9, 0.999, 1e-8, 10, 0.0, False)
        if device == "gpu":
            _synchronize()

    return step


def softmax_step(n: int, k: int, device: str) -> Callable[[], None]:
    """Fused softmax cross-entropy forward and backward on (n, k) logits."""
    logits = _rng().standard_normal((n, k)).astype(F32)
    labels = _rng().integers(0, k, n)
    kernels = backend.kernels()
    if device == "gpu":
        from minidl.kernels import gpu as kernels

        logits, labels = _place("gpu", logits, labels)

    def step():
        _, probs = kernels.softmax_cross_entropy(logits, labels)
        kernels.softmax_cross_entropy_backward(probs, labels, 1.0 / n)
        if device == "gpu":
            _synchronize()

    return step


def all_workloads(batch_sizes=BATCH_SIZES, scale: int = 1) -> list[GpuWorkload]:
    """Every GPU row, whether or not a device is present (``scale`` divides the kernel sizes,
    for tests)."""
    rows = []
    hidden = max(8, 128 // scale)
    for n in batch_sizes:  # the rows of bench.conv (LeNet-5) and bench.recurrent (LSTM), larger N
        rows.append(training_workload("GPU LeNet-5", lenet5, (n, 1, 28, 28)))
        rows.append(
            layer_workload(
                f"GPU LSTM N={n} T=50 D=32 H={hidden}, fwd+bwd through time",
                functools.partial(_lstm, hidden),
                (n, 50, 32),
                lambda torch, h=hidden: torch.nn.LSTM(32, h, batch_first=True),
            )
        )
    n = max(1, 256 // scale)
    rows += [
        layer_workload(
            f"GPU conv 16->32 3x3 on 14x14 N={n}, fwd+bwd",
            _conv(32, 3, 1),
            (n, 16, 14, 14),
            lambda torch: torch.nn.Conv2d(16, 32, 3, padding=1),
        ),
        layer_workload(
            f"GPU max-pool 2x2 N={n} C=32 28x28, fwd+bwd",
            _maxpool,
            (n, 32, 28, 28),
            lambda torch: torch.nn.MaxPool2d(2),
        ),
        layer_workload(
            f"GPU batch norm train ({n}, 32, 14, 14), fwd+bwd",
            _batchnorm,
            (n, 32, 14, 14),
            lambda torch: torch.nn.BatchNorm2d(32).train(),
        ),
        GpuWorkload(
            f"GPU softmax cross-entropy ({4 * n}, 1000), fwd+bwd",
            setup=lambda tier: softmax_step(4 * n, 1000, "cpu"),
            gpu_setup=lambda: softmax_step(4 * n, 1000, "gpu"),
            torch_cuda_setup=lambda device="cuda": torch_softmax_step(4 * n, 1000, device),
        ),
        GpuWorkload(
            f"GPU Adam update, {4096 * n} params",
            setup=lambda tier: adam_step(4096 * n, "cpu"),
            gpu_setup=lambda: adam_step(4096 * n, "gpu"),
            torch_cuda_setup=lambda device="cuda": torch_adam_step(4096 * n, device),
        ),
    ]
    return rows


def workloads() -> list[GpuWorkload]:
    """The GPU rows for ``python -m bench``: none unless a CUDA device is usable."""
    return all_workloads() if backend.gpu_available() else []


# ------------------------------------------------------------------ the runner's GPU columns
# ``runner._run`` calls these (through ``GpuWorkload.columns()``) only when some row has
# ``device_contenders``, i.e. when a GPU is usable.
COLUMNS = [("gpu ms", 9), ("cpu/gpu", 7), ("torch-cuda ms", 13), ("gpu/tcuda", 9)]


def _median(row, key):
    return row[key]["median_ms"] if row.get(key) else None


def _ratio(a, b):
    return a / b if a is not None and b is not None and b > 0 else None


def header(cpu_header: str) -> str:
    """The runner's header (a line of names, a line of dashes) with the GPU columns added."""
    names = cpu_header.splitlines()[0] + "".join("  " + n.rjust(w) for n, w in COLUMNS)
    return names + "\n" + "-" * len(names)


def summarise(row: dict) -> dict:
    """Add ``cpu_over_gpu`` (the faster CPU tier / the GPU) and ``gpu_over_torch_cuda``."""
    cpu = [t for t in (_median(row, "numba"), _median(row, "numpy")) if t is not None]
    gpu = _median(row, "gpu")
    row["cpu_over_gpu"] = _ratio(min(cpu), gpu) if cpu else None
    row["gpu_over_torch_cuda"] = _ratio(gpu, _median(row, "torch_cuda"))
    return row


def format_row(row: dict, cpu_cells: str) -> str:
    """The runner's formatted row with the GPU cells added ("-" where a row has none)."""

    def cell(value, fmt):
        return "-" if value is None else format(value, fmt)

    cells = [
        cell(_median(row, "gpu"), ".3f"),
        cell(row.get("cpu_over_gpu"), ".1f"),
        cell(_median(row, "torch_cuda"), ".3f"),
        cell(row.get("gpu_over_torch_cuda"), ".2f"),
    ]
    return cpu_cells + "".join("  " + c.rjust(w) for c, (_, w) in zip(cells, COLUMNS))


def legend() -> str:
    return (
        "gpu ms: minidl on the GPU (synchronised); cpu/gpu: the faster CPU tier's time / the "
        "GPU's; torch-cuda ms: PyTorch on the same GPU in its own process (synchronised); "
        "gpu/tcuda: minidl GPU / PyTorch CUDA (below 1: faster than PyTorch)."
    )


def environment(peer=None) -> dict:
    """What the GPU numbers depend on: the device as minidl and PyTorch see it."""
    info = {"gpu": backend.gpu_status()[1]}
    if peer is not None and peer.info.get("cuda"):
        info["torch_cuda_device"] = peer.info["cuda"]
    return info


# ------------------------------------------------------------------ standalone table
def main(argv=None) -> int:
    """``python -m bench.gpu [--quick] [--tier numba]``: CPU tier vs GPU, per workload."""
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=main.__doc__)
    parser.add_argument("--quick", action="store_true", help="few repeats, batch 256 only")
    parser.add_argument(
        "--tier",
        default=backend.current(),
        choices=("numpy", "numba"),
        help="the CPU tier to compare with (default: the current one)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    available, status = backend.gpu_status()
    if not available:
        print(f"no GPU: {status}")
        return 1
    print(f"GPU: {status}; CPU tier: {args.tier}")
    repeats, budget = (5, 1.0) if args.quick else (25, 3.0)
    backend.use(args.tier)
    print(f"{'workload':52}  {'cpu ms':>9}  {'gpu ms':>9}  {'cpu/gpu':>7}")
    for workload in all_workloads((256,) if args.quick else BATCH_SIZES):
        if workload.gpu_setup is None:  # a row with no step on the device
            continue
        cpu = measure(workload.setup(args.tier), repeats, 1, budget)["median_ms"]
        gpu = measure(workload.gpu_setup(), repeats, 2, budget)["median_ms"]
        print(f"{workload.name:52}  {cpu:9.3f}  {gpu:9.3f}  {cpu / gpu:7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
