"""Benchmark workload: multi-head self-attention, forward + backward.

One step = ``MultiHeadAttention(num_heads=4, key_dim=32)`` on x (N=32, T=64, D=128), causal,
forward and the full backward (dx and every weight's gradient) for a fixed random dL/dy,
in float32. PyTorch runs ``torch.nn.MultiheadAttention(128, 4, batch_first=True)`` on the
same shapes with a causal mask and ``x`` requiring a gradient, so both compute the same
gradients (PyTorch's default path is its fused scaled-dot-product kernel).

Where the time goes: the four projections (N T x D x D, three GEMMs each way) and the two
batched products per head (Q K^T and P V, and their backward twins) are BLAS; the masked
softmax and its backward are the hand-written kernel (``masked_softmax`` in minidl/kernels).
"""

from __future__ import annotations

import numpy as np

from .runner import Workload

F32 = np.float32
N, T, D, H = 32, 64, 128, 4


def _flops() -> float:
    """Matrix-product flops of one step: projections 4 x (2 N T D D) forward, twice that
    backward; attention 2 x (2 N T T D) forward (Q K^T, P V), twice that backward."""
    projections = 4 * 2 * N * T * D * D
    attention = 2 * 2 * N * T * T * D
    return 3 * (projections + attention)


def _workload() -> Workload:
    def setup(tier):
        from minidl.nn.layers.attention import MultiHeadAttention

        layer = MultiHeadAttention(num_heads=H, key_dim=D // H)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((N, T, D)).astype(F32)
        dy = rng.standard_normal((N, T, D)).astype(F32)
        layer.build((T, D))

        def step():
            layer.forward(x, training=True, use_causal_mask=True)
            layer.backward(dy)

        return step

    def torch_setup():
        import torch

        module = torch.nn.MultiheadAttention(D, H, batch_first=True)
        x = torch.randn(N, T, D, requires_grad=True)
        dy = torch.randn(N, T, D)
        mask = torch.nn.Transformer.generate_square_subsequent_mask(T)

        def step():
            x.grad = None
            module.zero_grad(set_to_none=True)
            y, _ = module(x, x, x, attn_mask=mask, need_weights=False, is_causal=True)
            y.backward(dy)

        return step

    return Workload(
        f"attention N={N} T={T} D={D} heads={H}, causal fwd+bwd", setup, torch_setup, flops=_flops()
    )


def workloads() -> list[Workload]:
    return [_workload()]
