"""Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D: values, gradients (both tiers), errors, torch."""

import numpy as np
import pytest

import minidl as mdl
from minidl.nn.gradcheck import check_layer
from minidl.nn.layers.conv import AvgPool2D, Conv2D, GlobalAvgPool2D, MaxPool2D
from tests.minidl.nn.layers.torch_oracle import assert_layer_equals_torch, torch_grads


def conv_by_definition(x, W, b, stride, pad):
    """y[n, f, oh, ow] = b[f] + sum_{c,i,j} W[f, c, i, j] x_pad[n, c, sh*oh + i, sw*ow + j], by loops.

    ``pad`` (PH, PW) on both sides, or (top, bottom, left, right)."""
    sh, sw = stride
    top, bottom, left, right = (pad[0], pad[0], pad[1], pad[1]) if len(pad) == 2 else pad
    N, _, H, Wd = x.shape
    F, _, kh, kw = W.shape
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    OH, OW = (padded.shape[2] - kh) // sh + 1, (padded.shape[3] - kw) // sw + 1
    y = np.zeros((N, F, OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            window = padded[:, :, sh * oh : sh * oh + kh, sw * ow : sw * ow + kw]
            y[:, :, oh, ow] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return y


# (x shape, Conv2D arguments): stride 2 with padding, 1x1 kernels, non-square inputs and
# kernels, a batch of one, "same", a kernel exactly as large as the padded input.
CONV_CASES = [
    ((2, 3, 5, 6), dict(filters=2, kernel_size=3, padding=1)),
    ((2, 2, 7, 5), dict(filters=3, kernel_size=3, stride=2, padding=1)),
    ((1, 3, 4, 5), dict(filters=2, kernel_size=1)),
    ((2, 1, 6, 7), dict(filters=2, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
    ((1, 2, 5, 5), dict(filters=2, kernel_size=3, padding="same", activation="tanh")),
    ((2, 2, 3, 4), dict(filters=1, kernel_size=(5, 4), padding=(1, 0), kernel_regularizer="l2")),
    # Keras's "same" with a stride and with even kernels: unequal padding, odd zeros bottom/right
    ((2, 2, 7, 6), dict(filters=2, kernel_size=3, stride=2, padding="same")),
    ((1, 2, 5, 6), dict(filters=2, kernel_size=(2, 4), padding="same")),
    ((2, 1, 8, 5), dict(filters=3, kernel_size=(4, 1), stride=(3, 2), padding="same")),
]


@pytest.mark.parametrize("shape, kwargs", CONV_CASES)
def test_conv2d_matches_the_definition(shape, kwargs, tier, rng):
    layer = Conv2D(**{k: v for k, v in kwargs.items() if k not in ("activation",)})
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer.forward(x)
    expected = conv_by_definition(
        x.astype(np.float64),
        layer.params["W"].astype(np.float64),
        layer.params["b"].astype(np.float64),
        layer.stride,
        layer.pads_for(*shape[2:]),
    )
    assert y.shape == expected.shape == (shape[0],) + layer.output_shape
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape, kwargs", CONV_CASES)
def test_conv2d_gradients(shape, kwargs, tier, rng):
    layer = Conv2D(**kwargs)
    layer.build(shape[1:], dtype=np.float64)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)  # not all zero
    report = check_layer(layer, rng.standard_normal(shape))
    assert report.passed, str(report)


def test_conv2d_without_bias_and_with_relu(tier, rng):
    layer = Conv2D(3, 3, padding=1, use_bias=False, activation="relu")
    x = rng.standard_normal((2, 2, 4, 4))
    y = layer.forward(x)
    assert set(layer.params) == {"W"} and (y >= 0).all() and (y == 0).any()
    report = check_layer(layer, x)  # random inputs: no pre-activation sits on ReLU's kink
    assert report.passed, str(report)


def test_conv2d_regularizer_adds_its_loss_and_gradient(rng):
    plain, penalised = (
        Conv2D(2, 3, kernel_regularizer=None),
        Conv2D(2, 3, kernel_regularizer=mdl.regularizers.L2(0.1)),
    )
    x = rng.standard_normal((2, 1, 5, 5)).astype(np.float32)
    plain.build((1, 5, 5))
    penalised.build((1, 5, 5))
    penalised.params["W"][...] = plain.params["W"]
    dy = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    for layer in (plain, penalised):
        layer.forward(x)
        layer.backward(dy)
    np.testing.assert_array_equal(penalised.grads["W"], plain.grads["W"])  # backward is the data's
    for layer in (plain, penalised):
        layer.add_penalty_gradients()  # what the optimizer's step does before it updates
    W = plain.params["W"]
    assert plain.regularization_loss() == 0.0
    assert penalised.regularization_loss() == pytest.approx(
        0.1 * float((W.astype(np.float64) ** 2).sum()), rel=1e-5
    )
    np.testing.assert_allclose(penalised.grads["W"] - plain.grads["W"], 0.2 * W, rtol=1e-4, atol=1e-6)


def test_conv2d_same_padding_with_a_stride_gives_ceil_of_size_over_stride():
    """TensorFlow's rule: "same" gives ceil(H / SH) x ceil(W / SW); the odd zero goes after."""
    layer = Conv2D(4, 3, stride=2, padding="same")
    assert layer.forward(np.zeros((1, 1, 7, 8), np.float32)).shape == (1, 4, 4, 4)
    assert layer.pads_for(7, 8) == (1, 1, 0, 1)  # 7: total 2 -> 1 + 1; 8: total 1 -> 0 + 1
    assert Conv2D(2, 2, padding="same").pads_for(5, 5) == (0, 1, 0, 1)
    assert Conv2D(2, 3, padding="same").pads == (1, 1)  # stride 1, odd kernel: symmetric


def test_conv2d_same_padding_keeps_the_size_and_parameter_shapes():
    layer = Conv2D(8, 5, padding="same")
    assert layer.compute_output_shape((3, 11, 7)) == (8, 11, 7)
    layer.build((3, 11, 7))
    assert layer.params["W"].shape == (8, 3, 5, 5) and layer.params["b"].shape == (8,)
    assert Conv2D(4, 3, padding="valid").compute_output_shape((1, 6, 6)) == (4, 4, 4)


def test_conv2d_takes_other_heights_and_widths_but_not_other_channels(rng):
    layer = Conv2D(2, 3)
    layer.forward(rng.standard_normal((1, 3, 8, 8)).astype(np.float32))
    assert layer.forward(rng.standard_normal((2, 3, 5, 9)).astype(np.float32)).shape == (2, 2, 3, 7)
    with pytest.raises(ValueError, match=r"built for inputs \(N, 3, 8, 8\), got shape \(2, 4, 8, 8\)"):
        layer.forward(np.zeros((2, 4, 8, 8), np.float32))


def test_conv2d_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"Conv2D expected input \(N, C, H, W\), got shape \(64, 784\)"):
        Conv2D(6, 5).forward(np.zeros((64, 784), np.float32))
    with pytest.raises(ValueError, match=r"kernel 5x5 is larger than the padded input 5x3"):
        Conv2D(6, 5, padding=1).forward(np.zeros((2, 1, 3, 1), np.float32))
    built = Conv2D(2, 3)
    built.forward(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"kernel 3x3 is larger than the padded input 2x2"):
        built.forward(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="padding must be"):
        Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size must be an integer or a pair"):
        Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match="filters must be a positive integer"):
        Conv2D(0, 3)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Conv2D(2, 3).backward(np.zeros((1, 2, 1, 1)))


# ------------------------------------------------------------------ pooling
POOL_CASES = [
    ((2, 3, 4, 4), dict(pool_size=2)),
    ((1, 2, 5, 7), dict(pool_size=2)),  # floor: last row and column dropped
    ((2, 1, 5, 6), dict(pool_size=3, stride=1)),  # overlapping windows
    ((1, 2, 7, 5), dict(pool_size=(3, 2), stride=(2, 1))),  # non-square
    ((1, 1, 3, 3), dict(pool_size=3)),  # one window
]


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("shape, kwargs", POOL_CASES)
def test_pooling_gradients(cls, shape, kwargs, tier, rng):
    x = rng.standard_normal(shape)  # continuous values: no ties, max is differentiable
    report = check_layer(cls(**kwargs), x)
    assert report.passed, str(report)


@pytest.mark.parametrize("shape, kwargs", POOL_CASES)
def test_pooling_values_by_definition(shape, kwargs, tier, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    mx, av = MaxPool2D(**kwargs), AvgPool2D(**kwargs)
    (kh, kw), (sh, sw) = mx.pool_size, mx.stride
    y_max, y_avg = mx.forward(x), av.forward(x)
    assert y_max.shape == y_avg.shape == (shape[0],) + mx.compute_output_shape(shape[1:])
    for oh in range(y_max.shape[2]):
        for ow in range(y_max.shape[3]):
            window = x[:, :, sh * oh : sh * oh + kh, sw * ow : sw * ow + kw]
            np.testing.assert_array_equal(y_max[:, :, oh, ow], window.max(axis=(2, 3)))
            np.testing.assert_allclose(y_avg[:, :, oh, ow], window.mean(axis=(2, 3)), rtol=1e-6)


def test_max_pool_sends_a_tied_window_gradient_to_its_first_maximum(tier):
    x = np.array([[[[1, 3, 3, 0], [3, 2, 0, 0], [5, 5, 2, 2], [5, 5, 2, 2]]]], np.float32)
    layer = MaxPool2D(2)
    np.testing.assert_array_equal(layer.forward(x)[0, 0], [[3, 3], [5, 2]])
    dx = layer.backward(np.array([[[[1, 2], [3, 4]]]], np.float32))
    np.testing.assert_array_equal(dx[0, 0], [[0, 1, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])


def test_global_avg_pool(tier, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = GlobalAvgPool2D()
    np.testing.assert_allclose(layer.forward(x), x.mean(axis=(2, 3)))
    assert layer.compute_output_shape((3, 4, 5)) == (3,)
    report = check_layer(GlobalAvgPool2D(), x)
    assert report.passed, str(report)


def test_pooling_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"MaxPool2D pool 3x3 does not fit the input 2x5"):
        MaxPool2D(3).forward(np.zeros((1, 1, 2, 5), np.float32))
    with pytest.raises(ValueError, match=r"AvgPool2D pool 2x2 does not fit the input 4x1"):
        AvgPool2D(2).forward(np.zeros((1, 1, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"MaxPool2D expected input \(N, C, H, W\), got shape \(3, 4\)"):
        MaxPool2D().forward(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="pool_size must be >= 1"):
        MaxPool2D(0)


def test_layers_save_and_load_in_a_model(tmp_path, rng):
    model = mdl.Sequential(
        [
            Conv2D(4, 3, stride=2, padding=1, activation="relu", kernel_regularizer="l2"),
            MaxPool2D(2),
            AvgPool2D((1, 2), stride=1),
            GlobalAvgPool2D(),
        ],
        input_shape=(1, 9, 9),
    )
    x = rng.standard_normal((3, 1, 9, 9)).astype(np.float32)
    path = tmp_path / "convs.npz"
    model.save(path)
    loaded = mdl.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[0].get_config()["padding"] in ((1, 1), [1, 1])


# ------------------------------------------------------------------ PyTorch as an oracle


@pytest.mark.parametrize("shape, kwargs", [c for c in CONV_CASES if "activation" not in c[1]])
def test_conv2d_equals_torch(shape, kwargs, tier, rng):
    torch = pytest.importorskip("torch")
    layer = Conv2D(**{k: v for k, v in kwargs.items() if k != "kernel_regularizer"})
    x = rng.standard_normal(shape).astype(np.float32)
    layer.build(shape[1:])
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    pads = layer.pads_for(*shape[2:])
    if len(pads) == 4:  # (top, bottom, left, right): torch pads (left, right, top, bottom)
        top, bottom, left, right = pads
        oracle = torch_grads(
            lambda x, W, b: torch.nn.functional.conv2d(
                torch.nn.functional.pad(x, (left, right, top, bottom)), W, b, stride=layer.stride
            ),
            x,
            layer.params["W"],
            layer.params["b"],
        )
    else:
        oracle = torch_grads(
            lambda x, W, b: torch.nn.functional.conv2d(x, W, b, stride=layer.stride, padding=pads),
            x,
            layer.params["W"],
            layer.params["b"],
        )
    assert_layer_equals_torch(layer, x, oracle)


@pytest.mark.parametrize("shape, kwargs", POOL_CASES)
@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
def test_pooling_equals_torch_exactly(shape, kwargs, ties, tier, rng):
    torch = pytest.importorskip("torch")
    x = (rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)).astype(np.float32)
    for cls, fn in ((MaxPool2D, torch.nn.functional.max_pool2d), (AvgPool2D, torch.nn.functional.avg_pool2d)):
        layer = cls(**kwargs)
        y_t, dy, (dx_t,) = torch_grads(lambda x, fn=fn, layer=layer: fn(x, layer.pool_size, layer.stride), x)
        y, dx = layer.forward(x), layer.backward(dy)
        if cls is MaxPool2D:
            # a maximum and where it sits are exact; so is the routed gradient unless windows
            # overlap (then a pixel sums several windows, in an order PyTorch does not promise)
            np.testing.assert_array_equal(y, y_t)
            np.testing.assert_array_equal(dx != 0, dx_t != 0)
            overlapping = any(s < k for s, k in zip(layer.stride, layer.pool_size))
            np.testing.assert_allclose(dx, dx_t, rtol=1e-6 if overlapping else 0, atol=0)
        else:
            np.testing.assert_allclose(y, y_t, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(dx, dx_t, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_lenet5_learns_the_bundled_mnist():
    """LeNet-5 from these layers, trained with fit, reaches 0.96 on the bundled test split.

    8 epochs of Adam(1e-3) on the 4,000 training images: 0.969 test accuracy (seed 0); a
    few seconds of CPU time on the Numba tier.
    """
    from minidl import datasets, losses, optim
    from minidl.models import lenet5

    (x_train, y_train), (x_test, y_test) = datasets.load_mnist()
    model = lenet5()
    model.compile(
        optimizer=optim.Adam(1e-3),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=8, batch_size=64, verbose=0)
    assert model.evaluate(x_test, y_test, return_dict=True)["accuracy"] >= 0.96


def test_the_public_bases_keep_windows_as_their_window_method_says():
    """``Convolution`` and ``Pooling`` are part of the extension API ("Extending minidl"): a
    subclass decides how a window is kept (a 1-D layer keeps one integer), ``pair`` the 2-D way."""
    from minidl.nn.layers import conv

    class OneInteger(conv.Pooling, register=False):
        def window(self, value, what):
            return int(value)

    layer = OneInteger(3)
    assert (layer.pool_size, layer.stride, layer.padding) == (3, 3, "valid")
    assert conv.MaxPool2D(3).pool_size == conv.pair(3, "pool_size", "MaxPool2D") == (3, 3)
    with pytest.raises(ValueError, match="X size must be an integer or a pair of integers, got '3'"):
        conv.pair("3", "size", "X")
    assert issubclass(conv.Conv2D, conv.Convolution) and issubclass(conv.Conv2D, conv.ImageHints)
