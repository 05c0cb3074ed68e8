"""Benchmark workloads: LSTM and GRU forward + backward through time.

One step = forward over the whole sequence (N=64, T=50, D=32, H=128, every hidden state
returned) and the full backward (dx, dWx, dWh, biases) for a fixed random dL/dy, in
float32. PyTorch runs ``torch.nn.LSTM`` / ``torch.nn.GRU`` (batch_first) on the same
shapes with ``x`` requiring a gradient, so both sides compute the same gradients.

Where the time goes: the per-step products h_{t-1} Wh (forward) and dL/da_t Wh^T
(backward) are 2 * T small GEMMs of (64 x 128) @ (128 x 4H); everything else is one
large GEMM each (input projection, dWx, dWh, dx) plus the fused pointwise kernels.
"""

from __future__ import annotations

import numpy as np

from .runner import Workload, layer_step

F32 = np.float32
N, T, D, H = 64, 50, 32, 128


def _flops(blocks: int) -> float:
    """Matrix-product flops of one step: forward x Wx and h Wh, backward dh, dWh, dWx, dx."""
    G = blocks * H
    input_side = 2 * N * T * D * G  # x Wx (forward), dWx and dx (backward): 3 of these
    recurrent = 2 * N * T * H * G  # h Wh (forward), dh and dWh (backward): 3 of these
    return 3 * input_side + 3 * recurrent


def _recurrent_workload(kind: str) -> Workload:
    def setup(tier):
        from minidl.nn.layers.recurrent import GRU, LSTM

        layer = (LSTM if kind == "LSTM" else GRU)(H, return_sequences=True)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((N, T, D)).astype(F32)
        dy = rng.standard_normal((N, T, H)).astype(F32)
        layer.build((T, D))
        return layer_step(layer, x, dy)

    def torch_setup():
        import torch

        module = (torch.nn.LSTM if kind == "LSTM" else torch.nn.GRU)(D, H, batch_first=True)
        x = torch.randn(N, T, D, requires_grad=True)
        dy = torch.randn(N, T, H)

        def step():
            x.grad = None
            module.zero_grad(set_to_none=True)
            y, _ = module(x)
            y.backward(dy)

        return step

    blocks = 4 if kind == "LSTM" else 3
    return Workload(
        f"{kind} N={N} T={T} D={D} H={H}, fwd+bwd through time", setup, torch_setup, flops=_flops(blocks)
    )


def workloads() -> list[Workload]:
    return [_recurrent_workload("LSTM"), _recurrent_workload("GRU")]
