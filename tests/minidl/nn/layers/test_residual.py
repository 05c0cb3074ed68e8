"""Residual (skip connections), the ResNet builder and the initializers: gradients in
float64 (both tiers), PyTorch as an oracle, saving, freezing, shape errors."""

import numpy as np
import pytest

import minidl as mdl
from minidl import initializers, losses, optim
from minidl import layers as L
from minidl.nn.gradcheck import check_layer


def _dense_block(width):
    return L.Residual([L.Dense(width), L.Tanh(), L.Dense(width)], activation="relu")


def _conv_block(c_in, c_out, stride):
    projection = [L.Conv2D(c_out, 1, stride=stride, use_bias=False), L.BatchNorm()]
    return L.Residual(
        [
            L.Conv2D(c_out, 3, stride=stride, padding=1, use_bias=False),
            L.BatchNorm(),
            L.ReLU(),
            L.Conv2D(c_out, 3, padding=1, use_bias=False),
            L.BatchNorm(),
        ],
        shortcut=projection if (stride != 1 or c_in != c_out) else None,
        activation="relu",
    )


# ------------------------------------------------------------------ gradients
def test_dense_residual_gradients(tier, rng):
    report = check_layer(_dense_block(5), rng.standard_normal((4, 5)))
    assert report.passed, report


@pytest.mark.slow
@pytest.mark.parametrize("c_in, c_out, stride", [(3, 3, 1), (2, 4, 2), (2, 4, 1)])
def test_conv_residual_gradients(c_in, c_out, stride, tier, rng):
    report = check_layer(
        _conv_block(c_in, c_out, stride), rng.standard_normal((3, c_in, 6, 6)), training=True
    )
    assert report.passed, report


def test_nested_residual_gradients(rng):
    inner = L.Residual([L.Dense(4), L.Sigmoid()])
    report = check_layer(L.Residual([inner, L.Dense(4)], shortcut=L.Dense(4)), rng.standard_normal((3, 4)))
    assert report.passed, report
    assert "block.0.block.0.W" in report.errors


def test_identity_skip_passes_the_gradient_unchanged(rng):
    """With a block whose output does not depend on x (all-zero weights), dL/dx is dy itself."""
    block = L.Residual([L.Dense(3, kernel_initializer="zeros")])
    x, dy = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    np.testing.assert_array_equal(block.forward(x), x)
    np.testing.assert_array_equal(block.backward(dy), dy)


# ------------------------------------------------------------------ PyTorch as an oracle
def test_conv_residual_equals_torch(rng):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    ours = _conv_block(2, 4, 2)
    x = rng.standard_normal((5, 2, 7, 7)).astype(np.float32)
    ours.build(x.shape[1:])
    for key in ours.params:
        if key.endswith(("gamma", "beta")):
            ours.params[key][...] = rng.uniform(0.5, 1.5, ours.params[key].shape)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = (
                nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(4, momentum=0.1),
            )
            self.conv2, self.bn2 = nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4, momentum=0.1)
            self.proj, self.bn_proj = (
                nn.Conv2d(2, 4, 1, stride=2, bias=False),
                nn.BatchNorm2d(4, momentum=0.1),
            )

        def forward(self, x):
            h = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(h + self.bn_proj(self.proj(x)))

    theirs = Block()
    pairs = {
        "block.0.W": theirs.conv1.weight,
        "block.1.gamma": theirs.bn1.weight,
        "block.1.beta": theirs.bn1.bias,
        "block.3.W": theirs.conv2.weight,
        "block.4.gamma": theirs.bn2.weight,
        "block.4.beta": theirs.bn2.bias,
        "shortcut.0.W": theirs.proj.weight,
        "shortcut.1.gamma": theirs.bn_proj.weight,
        "shortcut.1.beta": theirs.bn_proj.bias,
    }
    assert sorted(pairs) == sorted(ours.params)
    with torch.no_grad():
        for key, p in pairs.items():
            p.copy_(torch.tensor(ours.params[key]))
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs.train()(xt)
    dy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    (yt * torch.tensor(dy)).sum().backward()

    np.testing.assert_allclose(ours.forward(x, training=True), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for key, p in pairs.items():
        np.testing.assert_allclose(ours.grads[key], p.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=key)
    np.testing.assert_allclose(
        ours.buffers["shortcut.1.running_var"], theirs.bn_proj.running_var.numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        ours.forward(x, training=False), theirs.eval()(xt).detach().numpy(), rtol=1e-4, atol=1e-5
    )


def test_dense_residual_equals_torch(rng):
    torch = pytest.importorskip("torch")
    ours = _dense_block(6)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    ours.build((6,))
    first, second = torch.nn.Linear(6, 6), torch.nn.Linear(6, 6)
    with torch.no_grad():
        for lin, i in ((first, 0), (second, 2)):
            lin.weight.copy_(torch.tensor(ours.params[f"block.{i}.W"].T))
            lin.bias.copy_(torch.tensor(ours.params[f"block.{i}.b"]))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.relu(second(torch.tanh(first(xt))) + xt)
    dy = rng.standard_normal((4, 6)).astype(np.float32)
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(ours.forward(x), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.grads["block.0.W"], first.weight.grad.numpy().T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.grads["block.2.b"], second.bias.grad.numpy(), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ the layer in a model
def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(1, 8, 8\) to \(4, 8, 8\).*identity.*\(1, 8, 8\).*Conv2D\(4, 1"):
        mdl.Sequential([L.Residual([L.Conv2D(4, 3, padding=1)])], input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="at least one layer"):
        L.Residual([])
    shared = L.Dense(3)
    with pytest.raises(ValueError, match="twice"):
        L.Residual([shared, shared])


def test_optimizer_updates_the_inner_layers_and_freezing_stops_it(rng):
    mdl.seed(0)
    block = _conv_block(2, 2, 1)
    model = mdl.Sequential([block, L.GlobalAvgPool2D(), L.Dense(3)], input_shape=(2, 6, 6))
    model.compile(optim.SGD(0.1), losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = rng.standard_normal((8, 2, 6, 6)).astype(np.float32), rng.integers(0, 3, 8)
    conv = block.block[0]
    before = conv.params["W"].copy()
    model.train_on_batch(x, y)
    assert not np.allclose(conv.params["W"], before)
    assert block.params["block.0.W"] is conv.params["W"]
    block.trainable = False
    frozen, running = conv.params["W"].copy(), block.block[1].buffers["running_mean"].copy()
    model.train_on_batch(x, y)
    np.testing.assert_array_equal(conv.params["W"], frozen)
    np.testing.assert_array_equal(block.block[1].buffers["running_mean"], running)  # BatchNorm in inference
    assert model.count_params()[0] == model.layers[2].count_params()[0]


def test_resnet_saves_and_loads(tmp_path, rng):
    mdl.seed(0)
    model = mdl.models.resnet(num_classes=3, input_shape=(1, 12, 12), stages=(4, 8))
    model.compile(optim.Adam(1e-3), losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = rng.standard_normal((6, 1, 12, 12)).astype(np.float32), rng.integers(0, 3, 6)
    model.fit(x, y, epochs=1, batch_size=3, verbose=0)
    model.layers[3].block[0].trainable = False
    model.save(tmp_path / "resnet.npz")
    loaded = mdl.load_model(tmp_path / "resnet.npz")
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert loaded.layers[3].block[0].trainable is False
    assert loaded.layers[4].shortcut and not loaded.layers[3].shortcut
    assert loaded.count_params() == model.count_params()


def test_resnet_shapes_and_counts():
    model = mdl.models.resnet()
    assert model.layers[-3].output_shape == (32, 7, 7)
    assert sum(model.count_params()) == 20_146
    assert mdl.models.resnet(stem_stride=2, stages=(8, 16)).layers[-3].output_shape == (16, 7, 7)
    with pytest.raises(ValueError, match="H, W >= 8"):
        mdl.models.resnet(input_shape=(1, 6, 6), stages=(4, 8, 16, 32))


# ------------------------------------------------------------------ initializers
@pytest.mark.parametrize(
    "name, variance",
    [
        ("glorot_uniform", lambda i, o: 2 / (i + o)),
        ("glorot_normal", lambda i, o: 2 / (i + o)),
        ("he_uniform", lambda i, o: 2 / i),
        ("he_normal", lambda i, o: 2 / i),
        ("lecun_uniform", lambda i, o: 1 / i),
        ("lecun_normal", lambda i, o: 1 / i),
        ("random_normal", lambda i, o: 0.05**2),
        ("random_uniform", lambda i, o: 0.05**2 / 3),
    ],
)
def test_initializer_variances(name, variance):
    mdl.seed(0)
    w = initializers.get(name)((400, 300), 400, 300, np.float64)
    assert w.var() == pytest.approx(variance(400, 300), rel=0.02)
    assert abs(w.mean()) < 0.01 * np.sqrt(variance(400, 300))


@pytest.mark.parametrize(
    "mode, distribution", [("fan_in", "normal"), ("fan_out", "uniform"), ("fan_avg", "normal")]
)
def test_variance_scaling(mode, distribution):
    mdl.seed(0)
    w = initializers.variance_scaling(2.0, mode, distribution)((300, 500), 300, 500, np.float64)
    n = {"fan_in": 300, "fan_out": 500, "fan_avg": 400}[mode]
    assert w.var() == pytest.approx(2.0 / n, rel=0.02)
    with pytest.raises(ValueError, match="mode"):
        initializers.variance_scaling(1.0, "fan_sum")


def test_orthogonal_and_layers_take_initializers_by_name():
    mdl.seed(0)
    q = initializers.orthogonal((6, 2, 3, 3), dtype=np.float64)
    flat = q.reshape(6, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(6), atol=1e-12)
    wide = initializers.orthogonal((10, 4), dtype=np.float64, gain=2.0)
    np.testing.assert_allclose(wide.T @ wide, 4 * np.eye(4), atol=1e-12)
    for name in ("orthogonal", "lecun_normal", "he_normal"):
        dense = L.Dense(4, kernel_initializer=name)
        dense.build((5,))
        conv = L.Conv2D(3, 3, kernel_initializer=name)
        conv.build((2, 6, 6))
        assert dense.params["W"].shape == (5, 4) and conv.params["W"].shape == (3, 2, 3, 3)
    with pytest.raises(ValueError, match="unknown initializer 'he'"):
        L.Dense(3, kernel_initializer="he").build((2,))


def test_recurrent_layers_take_initializers_by_name_and_keep_their_defaults():
    mdl.seed(0)
    default = L.LSTM(3)
    default.build((4, 2))
    mdl.seed(0)
    expected_wx = initializers.glorot_uniform((2, 12), 2, 12)
    np.testing.assert_array_equal(default.params["Wx"], expected_wx)
    np.testing.assert_array_equal(default.params["Wh"], initializers.orthogonal((3, 12)))
    gru = L.GRU(3, kernel_initializer="he_normal", recurrent_initializer="glorot_uniform")
    gru.build((4, 5))
    assert gru.get_config()["recurrent_initializer"] == "glorot_uniform"
    with pytest.raises(ValueError, match="unknown initializer"):
        L.SimpleRNN(3, recurrent_initializer="orthogonall")
