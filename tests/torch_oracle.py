"""PyTorch as the oracle of a layer's forward and backward (the tests that use it skip without torch)."""

import numpy as np
import pytest


def torch_grads(fn, x, *params):
    """Output and gradients of sum(fn(x, *params) * dy) in PyTorch, for a fixed dy:
    returns (y, dy, [dx, d params...]) as NumPy arrays."""
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, *params)]
    y = fn(*tensors)
    dy = torch.tensor(np.random.default_rng(7).standard_normal(tuple(y.shape)).astype(x.dtype))
    (y * dy).sum().backward()
    return y.detach().numpy(), dy.numpy(), [t.grad.numpy() for t in tensors]
