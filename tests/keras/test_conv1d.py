"""Conv1D, MaxPool1D, AvgPool1D, GlobalAvgPool1D and Conv2DTranspose's string paddings:
float64 gradient checks (both tiers), the two data formats, PyTorch as an oracle."""

import numpy as np
import pytest
from minidl_keras import layers as keras_layers
from minidl_keras.conv1d import AvgPool1D, Conv1D, GlobalAvgPool1D, MaxPool1D
from minidl_keras.layout import channels_last_class

import minidl as mdl
from minidl.nn.gradcheck import check_layer
from minidl.nn.layers import Conv2DTranspose
from tests.minidl.nn.layers.torch_oracle import assert_layer_equals_torch, torch_grads

CONV1D_CASES = [
    ((2, 3, 7), dict(filters=3, kernel_size=3)),
    ((2, 2, 9), dict(filters=2, kernel_size=4, stride=3, padding=1)),
    ((1, 3, 6), dict(filters=2, kernel_size=2, stride=2, padding="same")),
    ((2, 1, 5), dict(filters=2, kernel_size=3, padding="causal", kernel_regularizer="l2")),
    ((2, 2, 5), dict(filters=4, kernel_size=1, activation="tanh")),
]


@pytest.mark.parametrize("data_format", [None, "channels_first", "channels_last"])
@pytest.mark.parametrize("shape, kwargs", CONV1D_CASES)
def test_conv1d_gradients(shape, kwargs, data_format, tier, rng):
    """minidl's Conv1D (N, C, L), and the Keras door's in either layout."""
    layer = (
        Conv1D(**kwargs)
        if data_format is None
        else channels_last_class(Conv1D)(**kwargs, data_format=data_format)
    )
    x = rng.standard_normal(shape)
    if data_format == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 1))
    report = check_layer(layer, x)
    assert report.passed, str(report)


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda f: MaxPool1D(2) if f is None else keras_layers.MaxPooling1D(2, data_format=f),
        lambda f: (
            AvgPool1D(3, stride=2)
            if f is None
            else keras_layers.AveragePooling1D(3, strides=2, data_format=f)
        ),
        lambda f: (
            MaxPool1D(2, stride=1) if f is None else keras_layers.MaxPooling1D(2, strides=1, data_format=f)
        ),
        lambda f: GlobalAvgPool1D() if f is None else keras_layers.GlobalAveragePooling1D(data_format=f),
    ],
)
@pytest.mark.parametrize("data_format", [None, "channels_first", "channels_last"])
def test_pool1d_gradients(make_layer, data_format, tier, rng):
    report = check_layer(make_layer(data_format), rng.standard_normal((2, 3, 7)))
    assert report.passed, str(report)


def test_shapes_and_the_two_layouts_agree(rng):
    x = rng.standard_normal((2, 3, 10)).astype(np.float32)  # (N, C, L)
    first = Conv1D(4, 3, stride=2, padding="same")
    last = keras_layers.Conv1D(4, 3, strides=2, padding="same", data_format="channels_last")
    y = first.forward(x)
    last.build((10, 3))
    last.params["W"][...], last.params["b"][...] = first.params["W"], first.params["b"]
    np.testing.assert_allclose(last.forward(x.transpose(0, 2, 1)), y.transpose(0, 2, 1), rtol=1e-6)
    assert y.shape == (2, 4, 5) and first.output_shape == (4, 5) and last.output_shape == (5, 4)
    assert first.params["W"].shape == last.params["W"].shape == (4, 3, 3)  # (F, C, K) either way
    assert Conv1D(2, 3, padding="causal").forward(x).shape == (2, 2, 10)
    assert MaxPool1D(2).forward(x).shape == (2, 3, 5) and GlobalAvgPool1D().forward(x).shape == (2, 3)
    assert keras_layers.MaxPooling1D(2).forward(x).shape == (2, 1, 10)
    assert keras_layers.GlobalAveragePooling1D().forward(x).shape == (2, 10)


def test_a_channels_last_conv1d_feeds_an_lstm():
    model = mdl.Sequential(
        [
            keras_layers.Conv1D(8, 3, activation="relu"),
            keras_layers.MaxPooling1D(2),
            mdl.layers.LSTM(5),
        ],
        input_shape=(20, 4),
    )
    assert model.predict(np.zeros((3, 20, 4), np.float32)).shape == (3, 5)
    assert model.layers[1].output_shape == (9, 8)


def test_conv1d_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"Conv1D expected input \(N, C, L\), got shape \(4, 10\)"):
        Conv1D(2, 3).forward(np.zeros((4, 10), np.float32))
    with pytest.raises(ValueError, match=r"kernel of 5 is longer than the padded sequence 3"):
        Conv1D(2, 5).forward(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="causal' needs stride 1"):
        Conv1D(2, 3, stride=2, padding="causal")
    with pytest.raises(ValueError, match="kernel_size must be an integer"):
        Conv1D(2, (3, 3))
    with pytest.raises(ValueError, match=r"pool of 4 does not fit the sequence of 3"):
        MaxPool1D(4).forward(np.zeros((1, 2, 3), np.float32))


@pytest.mark.parametrize("shape, kwargs", CONV1D_CASES[:2] + CONV1D_CASES[3:4])
def test_conv1d_equals_torch(shape, kwargs, tier, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer = Conv1D(**{k: v for k, v in kwargs.items() if k != "kernel_regularizer"})
    x = rng.standard_normal(shape).astype(np.float32)
    layer.build(shape[1:])
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    start, end = layer.pads_for(shape[2])
    oracle = torch_grads(
        lambda x, W, b: F.conv1d(F.pad(x, (start, end)), W, b, stride=layer.stride),
        x,
        layer.params["W"],
        layer.params["b"],
    )
    assert_layer_equals_torch(layer, x, oracle)


@pytest.mark.parametrize(
    "cls, name, pool, stride", [(MaxPool1D, "max_pool1d", 2, None), (AvgPool1D, "avg_pool1d", 3, 2)]
)
def test_pool1d_and_global_pool_equal_torch(cls, name, pool, stride, tier, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 9)).astype(np.float32)
    layer = cls(pool, stride=stride)
    y_t, dy, (dx_t,) = torch_grads(lambda x: getattr(torch.nn.functional, name)(x, pool, stride), x)
    np.testing.assert_allclose(layer.forward(x), y_t, rtol=1e-6)
    np.testing.assert_allclose(layer.backward(dy), dx_t, rtol=1e-6)
    y_t, dy, (dx_t,) = torch_grads(lambda x: x.mean(dim=2), x)
    layer = GlobalAvgPool1D()
    np.testing.assert_allclose(layer.forward(x), y_t, rtol=1e-6)
    np.testing.assert_allclose(layer.backward(dy), dx_t, rtol=1e-6)


# ------------------------------------------------------------------ Conv2DTranspose, Keras's paddings
@pytest.mark.parametrize(
    "kernel, stride, padding, out",
    [
        (3, 2, "same", (10, 12)),
        (4, 2, "same", (10, 12)),
        (3, 1, "same", (5, 6)),
        (1, 2, "same", (10, 12)),
        (3, 2, "valid", (11, 13)),
        (1, 2, "valid", (10, 12)),
    ],
)
def test_conv2d_transpose_keras_paddings(kernel, stride, padding, out, tier, rng):
    layer = Conv2DTranspose(2, kernel, stride=stride, padding=padding)
    assert layer.forward(np.zeros((1, 3, 5, 6), np.float32)).shape == (1, 2) + out  # H * stride for "same"
    report = check_layer(
        Conv2DTranspose(2, kernel, stride=stride, padding=padding), rng.standard_normal((2, 3, 3, 4))
    )
    assert report.passed, str(report)


def test_conv2d_transpose_same_crops_as_tensorflow(rng):
    """k - s odd: the full output loses its extra row at the bottom (PyTorch's padding=1,
    output_padding=1 loses it at the top): the "same" output is the full one's first rows."""
    full = Conv2DTranspose(2, 3, stride=2, padding="valid")
    same = Conv2DTranspose(2, 3, stride=2, padding="same")
    x = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
    y_full = full.forward(x)
    same.build((3, 4, 4))
    same.params["W"][...], same.params["b"][...] = full.params["W"], full.params["b"]
    np.testing.assert_array_equal(same.forward(x), y_full[:, :, :8, :8])
    with pytest.raises(ValueError, match="output_padding goes with an integer padding"):
        Conv2DTranspose(2, 3, stride=2, padding="same", output_padding=1)
