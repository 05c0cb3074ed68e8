"""Keras's channels-last layout at the door (keras_door/minidl_keras/layout.py): what the
classes made by ``channels_last_class`` promise."""

import numpy as np
import pytest
from minidl_keras.layout import channels_last_class

import minidl as mdl
from minidl.nn.layers import BatchNorm, Conv2D, Layer


def test_backward_params_takes_the_gradient_in_the_layers_data_format():
    """Channels-last Conv2D: ``backward_params`` fills the same weight gradients as ``backward``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 5, 3))  # (N, H, W, C)
    mdl.seed(0)
    layer = channels_last_class(Conv2D)(4, 3, padding="same", data_format="channels_last")
    y = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape)
    layer.backward(dy)
    full = {k: g.copy() for k, g in layer.grads.items()}
    layer.zero_grad()
    layer.forward(x, training=True)
    assert layer.backward_params(dy) is None
    for key, grad in full.items():
        np.testing.assert_allclose(layer.grads[key], grad, rtol=1e-12, err_msg=key)


def test_data_format_is_checked_and_defaults_to_the_doors_setting():
    DoorBatchNorm = channels_last_class(BatchNorm)
    assert DoorBatchNorm().data_format == "channels_last" and DoorBatchNorm().channels_last
    layer = DoorBatchNorm(data_format="channels_first")
    assert not layer.channels_last and layer.get_config()["data_format"] == "channels_first"
    with pytest.raises(ValueError, match="BatchNorm data_format must be 'channels_first'.*got 'NHWC'"):
        DoorBatchNorm(data_format="NHWC")
    assert not hasattr(BatchNorm(), "data_format")  # minidl's own: (N, C, H, W) only


def test_any_channels_first_layer_gets_a_channels_last_twin():
    class Shift(Layer):
        input_ndims = (4,)

        def forward(self, x, training=False):
            x = self.check_input(x)
            assert x.shape[1] == 3, "the layer's code sees (N, C, H, W)"
            return x + np.arange(3)[None, :, None, None]

        def backward(self, dy):
            return dy

    layer = channels_last_class(Shift)()
    y = layer.forward(np.zeros((1, 4, 5, 3)))
    assert y.shape == (1, 4, 5, 3) and (y[0, 0, 0] == [0, 1, 2]).all()
    assert layer.input_shape == (3, 4, 5) and layer.output_shape == (4, 5, 3)


def test_the_chapter3_fixture_replaces_one_exercise_cell(chapter3):
    """The shared scaffolding of the grader's tests (tests/conftest.py) does what it says."""
    import json

    path = chapter3(
        "weight_norm_backward", "def weight_norm_backward(*a):\n    return None\n", extra_cell="x = 1"
    )
    cells = json.loads(path.read_text())["cells"]
    replaced = [
        c for c in cells if c.get("metadata", {}).get("minidl", {}).get("exercise") == "weight_norm_backward"
    ]
    assert [c["source"] for c in replaced] == ["def weight_norm_backward(*a):\n    return None\n"]
    assert cells[2]["source"] == "x = 1" and path.name == "03_backpropagation.ipynb"
    removed = json.loads(chapter3("weight_norm_backward", keep=False).read_text())["cells"]
    assert len(removed) == len(cells) - 2


def test_a_users_channels_last_class_is_no_door_for_minidls_own():
    """A class made from a user's layer (as the test above does) does not become the door's class
    for minidl's base ``Layer``: a saved custom layer then loads as itself, whatever ran before."""
    from minidl_keras.layout import DOOR_CLASSES

    class Mine(Layer):
        input_ndims = (4,)

    channels_last_class(Mine)
    assert Layer not in DOOR_CLASSES
