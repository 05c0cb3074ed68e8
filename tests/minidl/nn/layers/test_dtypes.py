"""float32 in, float32 out: every layer of the gradient check's table (``CASES``), built in
float32 and given a float32 input, returns float32 from its forward and its backward and keeps
its gradients in float32. A float64 constant in a layer's formula (a NumPy float64 scalar
times a float32 array is float64) would carry float64 through every layer after it, at twice
the memory and, in the products, twice the time."""

import numpy as np
import pytest

import minidl as mdl
from tests.minidl.nn.test_gradcheck import CASES


@pytest.mark.parametrize("name", sorted(set(CASES) - {"UNet"}))  # (UNet: tests/minidl/nn/layers/test_unet.py)
def test_a_float32_layer_computes_in_float32(name):
    make, x, kwargs = CASES[name]
    mdl.seed(0)
    layer = make()
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    if not layer.built:
        layer.build(x.shape[1:], np.float32)
    y = layer.forward(x, training=kwargs.get("training", False))
    assert y.dtype == np.float32, f"{name}: forward returns {y.dtype} for a float32 input"
    dx = layer.backward(np.ones_like(y))
    if kwargs.get("wrt_input", True):
        assert dx.dtype == np.float32, f"{name}: backward returns {dx.dtype}"
    for key, grad in layer.grads.items():
        assert grad.dtype == np.float32, f"{name}: the gradient of {key} is {grad.dtype}"
