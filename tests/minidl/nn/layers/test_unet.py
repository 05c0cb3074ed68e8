"""The U-Net layer: every parameter gradient-checked, shapes, errors, saving, and a check that fails without the skip's gradient."""

from __future__ import annotations

import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl.nn.gradcheck import check_layer


@pytest.mark.parametrize("filters", [(2,), pytest.param((2, 3), marks=pytest.mark.slow)])
def test_unet_gradient_check_every_parameter(filters):
    mdl.seed(1)
    unet = L.UNet(3, filters=filters)
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8))
    report = check_layer(unet, x)
    assert report.passed, str(report)
    assert "enc.0.0.W" in report.errors and "up.0.W" in report.errors and "head.b" in report.errors


def test_unet_shapes_params_and_errors():
    mdl.seed(0)
    unet = L.UNet(4, filters=(4, 8))
    y = unet.forward(np.zeros((3, 2, 16, 16), np.float32))
    assert y.shape == (3, 4, 16, 16) and y.dtype == np.float32
    assert unet.params["up.1.W"].shape == (16, 8, 2, 2)  # Conv2DTranspose: bottom 16 -> 8
    assert unet.params["dec.0.0.W"].shape == (4, 8, 3, 3)  # concatenation: 4 up + 4 skip
    model = mdl.Sequential([L.UNet(2, filters=(4,))], input_shape=(1, 8, 8))
    assert model.predict(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 2, 8, 8)
    with pytest.raises(ValueError, match=r"H and W of at least 4, got input \(N, 1, 3, 8\)"):
        L.UNet(2, filters=(2, 2)).forward(np.zeros((1, 1, 3, 8), np.float32))
    with pytest.raises(ValueError, match=r"at least one scale in filters \(or a bottom_filters\)"):
        L.UNet(2, filters=())


def test_unet_options_odd_sizes_and_its_blocks():
    """One convolution per block, a bottom of its own width, He's initializer; an odd size comes
    back through the upsampling's output_padding; blocks numbered in forward order."""
    mdl.seed(0)
    unet = L.UNet(2, filters=(3, 4), bottom_filters=5, convs=1, kernel_initializer="he_uniform")
    y = unet.forward(np.zeros((2, 1, 7, 10), np.float32))
    assert y.shape == (2, 2, 7, 10)
    assert [up.output_padding for up in unet.up] == [(1, 0), (1, 1)]  # 7 -> 3 -> 1; 10 -> 5 -> 2
    assert [block[0].filters for block in unet.blocks] == [3, 4, 5, 4, 3] and len(unet.blocks[0]) == 2
    assert unet.blocks[0][0].kernel_initializer == "he_uniform"
    assert unet.get_config()["bottom_filters"] == 5 and unet.get_config()["convs"] == 1
    bottom_only = L.UNet(1, filters=(), bottom_filters=2)
    assert bottom_only.forward(np.zeros((1, 1, 3, 3), np.float32)).shape == (1, 1, 3, 3)


def test_unet_saves_and_loads(tmp_path):
    mdl.seed(0)
    model = mdl.Sequential([L.UNet(3, filters=(4,))], input_shape=(1, 8, 8))
    x = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    model.save(tmp_path / "unet.npz")
    again = mdl.load_model(tmp_path / "unet.npz")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.layers[0].filters == (4,) and again.layers[0].num_classes == 3


@pytest.mark.slow
def test_unet_removing_the_skip_gradient_fails_the_check(monkeypatch):
    """The fan-out sum is what the check tests: dropping the skip's gradient is caught."""
    mdl.seed(1)
    unet = L.UNet(2, filters=(2,))
    original = L.Concatenate.backward
    monkeypatch.setattr(
        L.Concatenate,
        "backward",
        lambda self, dy: [g * 0 if i else g for i, g in enumerate(original(self, dy))],
    )
    assert not check_layer(unet, np.random.default_rng(2).standard_normal((1, 1, 4, 4))).passed
