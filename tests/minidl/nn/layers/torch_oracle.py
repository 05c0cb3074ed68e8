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


def assert_layer_equals_torch(layer, x, oracle):
    """``layer``'s output for ``x``, its dx for the oracle's dy and its W and b gradients equal
    PyTorch's (``oracle``, what ``torch_grads`` returned for the layer's function) to float32 rounding."""
    y_t, dy, (dx_t, dW_t, db_t) = oracle
    np.testing.assert_allclose(layer.forward(x), y_t, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.backward(dy), dx_t, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.grads["W"], dW_t, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.grads["b"], db_t, rtol=1e-4, atol=1e-5)
