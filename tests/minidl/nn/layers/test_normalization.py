"""BatchNorm and LayerNorm: statistics, running averages, gradients (both tiers), errors, torch."""

import numpy as np
import pytest

import minidl as mdl
from minidl.nn.gradcheck import check_layer
from minidl.nn.layers.normalization import BatchNorm, LayerNorm

BN_SHAPES = [(5, 4), (2, 3, 3, 2), (1, 2, 3, 3), (3, 1, 1, 1)]


def _randomise_affine(layer, rng):
    layer.params["gamma"][...] = rng.uniform(0.5, 1.5, layer.params["gamma"].shape)
    layer.params["beta"][...] = rng.standard_normal(layer.params["beta"].shape)


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_gradients(shape, training, tier, rng):
    layer = BatchNorm()
    layer.build(shape[1:], dtype=np.float64)
    _randomise_affine(layer, rng)
    layer.buffers["running_mean"][...] = rng.standard_normal(shape[1])
    layer.buffers["running_var"][...] = rng.uniform(0.5, 2.0, shape[1])
    report = check_layer(layer, rng.standard_normal(shape) * 2 + 1, training=training)
    assert report.passed, str(report)


@pytest.mark.parametrize("shape", [(64, 3), (8, 4, 5, 3)])
def test_batchnorm_training_normalises_each_channel(shape, tier, rng):
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    y = BatchNorm().forward(x, training=True)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=axes), 1, atol=1e-3)
    assert y.dtype == np.float32 and y.shape == shape


def test_batchnorm_running_statistics(tier, rng):
    x = (rng.standard_normal((6, 3, 2, 2)) * 2 + 5).astype(np.float32)
    layer = BatchNorm(momentum=0.8)
    layer.forward(x, training=True)
    count = 6 * 2 * 2
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.2 * mean, rtol=1e-5)
    np.testing.assert_allclose(layer.buffers["running_var"], 0.8 + 0.2 * var * count / (count - 1), rtol=1e-5)
    layer.forward(x, training=True)
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.8 * 0.2 * mean + 0.2 * mean, rtol=1e-5)
    # inference reads only the running statistics
    y = layer.forward(x, training=False)
    rm, rv = layer.buffers["running_mean"], layer.buffers["running_var"]
    expected = (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.buffers["running_mean"], rm)


def test_batchnorm_starts_as_identity_at_inference():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    layer = BatchNorm()
    np.testing.assert_allclose(layer.forward(x), x / np.sqrt(1 + 1e-5), rtol=1e-6)
    assert layer.params["gamma"].shape == layer.params["beta"].shape == (4,)
    assert set(layer.buffers) == {"running_mean", "running_var"}
    assert layer.count_params() == (8, 8)


def test_batchnorm_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"more than one value per channel.*shape \(1, 16\)"):
        BatchNorm().forward(np.zeros((1, 16), np.float32), training=True)
    BatchNorm().forward(np.zeros((1, 16), np.float32), training=False)  # fine at inference
    BatchNorm().forward(np.ones((1, 2, 3, 3), np.float32), training=True)  # 9 values per channel
    with pytest.raises(
        ValueError, match=r"BatchNorm expected input \(N, D\) or \(N, C, H, W\), got shape \(2, 3, 4\)"
    ):
        BatchNorm().forward(np.zeros((2, 3, 4), np.float32))
    layer = BatchNorm()
    layer.forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"built for inputs \(N, 3\), got shape \(2, 4\)"):
        layer.forward(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="momentum must be in"):
        BatchNorm(momentum=1.5)


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4), (1, 6)])
def test_layernorm_gradients(shape, tier, rng):
    layer = LayerNorm()
    layer.build(shape[1:], dtype=np.float64)
    _randomise_affine(layer, rng)
    report = check_layer(layer, rng.standard_normal(shape) * 2 + 1)
    assert report.passed, str(report)


def test_layernorm_normalises_each_sample(rng):
    x = (rng.standard_normal((4, 7, 16)) * 3 + 2).astype(np.float32)
    y = LayerNorm().forward(x)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=-1), 1, atol=1e-3)
    assert y.dtype == np.float32


def test_normalization_layers_save_and_load(tmp_path, rng):
    model = mdl.Sequential([BatchNorm(momentum=0.5), LayerNorm(eps=1e-3)], input_shape=(6,))
    x = rng.standard_normal((8, 6)).astype(np.float32)
    model.forward(x, training=True)
    path = tmp_path / "norms.npz"
    model.save(path)
    loaded = mdl.load_model(path)
    np.testing.assert_array_equal(
        loaded.layers[0].buffers["running_var"], model.layers[0].buffers["running_var"]
    )
    np.testing.assert_allclose(loaded.predict(x), model.predict(x))


# ------------------------------------------------------------------ PyTorch as an oracle
@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 6)])
def test_batchnorm_equals_torch(shape, tier, rng):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    C = shape[1]
    ours = BatchNorm(momentum=0.9, eps=1e-5)
    ours.build(shape[1:])
    _randomise_affine(ours, rng)
    theirs = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(C, eps=1e-5, momentum=0.1)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.params["gamma"]))
        theirs.bias.copy_(torch.tensor(ours.params["beta"]))
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs.train()(xt)
    dy = rng.standard_normal(shape).astype(np.float32)
    (yt * torch.tensor(dy)).sum().backward()

    np.testing.assert_allclose(ours.forward(x, training=True), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.grads["gamma"], theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.grads["beta"], theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        ours.buffers["running_mean"], theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(ours.buffers["running_var"], theirs.running_var.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ours.forward(x, training=False), theirs.eval()(xt).detach().numpy(), rtol=1e-4, atol=1e-5
    )


def test_layernorm_equals_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4, 8)).astype(np.float32)
    ours = LayerNorm()
    ours.build((4, 8))
    _randomise_affine(ours, rng)
    theirs = torch.nn.LayerNorm(8, eps=1e-5)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.params["gamma"]))
        theirs.bias.copy_(torch.tensor(ours.params["beta"]))
    xt = torch.tensor(x, requires_grad=True)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    yt = theirs(xt)
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(ours.forward(x), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.grads["gamma"], theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
