"""The gallery: upsampling layers, autoencoders, the hand-written GAN step, transfer learning."""

import numpy as np
import pytest

import minidl as mdl
from minidl import optim
from minidl.gallery import autoencoders as ae
from minidl.gallery import gan, transfer
from minidl.nn.gradcheck import check_layer, numerical_gradient, rel_error
from minidl.nn.layers import Dense, Flatten, ReLU
from minidl.nn.layers.conv import Conv2D
from minidl.nn.layers.upsampling import Conv2DTranspose, UpSampling2D

TRANSPOSE_CASES = [
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=4, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(0, 1)),
]


# ------------------------------------------------------------------ UpSampling2D
@pytest.mark.parametrize("size", [2, (1, 3)])
def test_upsampling_gradient(size, rng):
    report = check_layer(UpSampling2D(size), rng.standard_normal((2, 2, 3, 2)))
    assert report.passed, report


def test_upsampling_repeats_each_pixel_into_a_block():
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    y = UpSampling2D((2, 3)).forward(x)
    assert y.shape == (1, 1, 4, 6)
    assert y[0, 0].tolist() == [[0, 0, 0, 1, 1, 1]] * 2 + [[2, 2, 2, 3, 3, 3]] * 2


def test_upsampling_rejects_flat_input():
    with pytest.raises(ValueError, match=r"expected input \(N, C, H, W\), got shape \(4, 10\)"):
        UpSampling2D(2).forward(np.zeros((4, 10), np.float32))


# ------------------------------------------------------------------ Conv2DTranspose
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv2d_transpose_gradient(case, tier, rng):
    layer = Conv2DTranspose(3, activation="tanh", **case)
    report = check_layer(layer, rng.standard_normal((2, 2, 3, 4)))
    assert report.passed, report


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv2d_transpose_is_the_adjoint_of_conv2d(case, tier, rng):
    """<conv(u), v> == <u, conv_transpose(v)> with the same weights: the definition of the adjoint."""
    kwargs = {k: v for k, v in case.items() if k != "output_padding"}
    conv = Conv2D(2, use_bias=False, **kwargs)
    u = rng.standard_normal((2, 3, 6, 7))
    conv.build(u.shape[1:], dtype=np.float64)
    v = rng.standard_normal((2,) + conv.compute_output_shape(u.shape[1:]))
    # output_padding gives back the rows and columns that conv's floor division left over
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.pads
    leftover = ((6 + 2 * ph - kh) % sh, (7 + 2 * pw - kw) % sw)
    deconv = Conv2DTranspose(3, use_bias=False, output_padding=leftover, **kwargs)
    deconv.build(v.shape[1:], dtype=np.float64)
    deconv.params["W"][...] = conv.params["W"]
    out = deconv.forward(v)
    assert out.shape == u.shape
    assert np.sum(conv.forward(u) * v) == pytest.approx(np.sum(u * out), rel=1e-10)


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv2d_transpose_matches_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 2, 4, 3))
    layer = Conv2DTranspose(3, **case)
    layer.build(x.shape[1:], dtype=np.float64)
    layer.params["b"][...] = rng.standard_normal(3)
    y = layer.forward(x)
    reference = torch.nn.functional.conv_transpose2d(
        torch.tensor(x),
        torch.tensor(layer.params["W"]),
        torch.tensor(layer.params["b"]),
        stride=case["stride"],
        padding=case["padding"],
        output_padding=case.get("output_padding", 0),
    )
    assert y.shape == tuple(reference.shape)
    assert rel_error(y, reference.numpy()) < 1e-12


def test_conv2d_transpose_shapes_and_errors():
    layer = Conv2DTranspose(8, 4, stride=2, padding=1)
    assert layer.compute_output_shape((16, 7, 7)) == (8, 14, 14)
    odd_kernel = Conv2DTranspose(1, 3, stride=2, padding=1, output_padding=1)
    assert odd_kernel.compute_output_shape((4, 14, 14)) == (1, 28, 28)
    with pytest.raises(ValueError, match="output_padding must be smaller than the stride"):
        Conv2DTranspose(1, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"expected input \(N, C, H, W\), got shape \(5, 49\)"):
        layer.forward(np.zeros((5, 49), np.float32))
    layer.forward(np.zeros((1, 16, 7, 7), np.float32))
    with pytest.raises(ValueError, match=r"built for inputs \(N, 16, 7, 7\), got shape \(1, 3, 7, 7\)"):
        layer.forward(np.zeros((1, 3, 7, 7), np.float32))


def test_models_with_upsampling_layers_save_and_load(tmp_path, rng):
    model = mdl.Sequential(
        [
            Conv2DTranspose(2, 3, stride=2, padding=1, output_padding=1, activation="relu"),
            UpSampling2D((1, 2)),
        ],
        input_shape=(3, 4, 4),
    )
    path = tmp_path / "up.npz"
    model.save(path)
    again = mdl.load_model(path)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    assert np.array_equal(model.predict(x), again.predict(x))
    assert again.predict(x).shape == (2, 2, 8, 16)


# ------------------------------------------------------------------ autoencoders
@pytest.mark.parametrize(
    "build",
    [
        lambda: ae.dense_autoencoder(latent_dim=2, hidden=(16,)),
        lambda: ae.conv_autoencoder(latent_dim=3, channels=(2, 3), upsampling="transpose"),
        lambda: ae.conv_autoencoder(latent_dim=3, channels=(2, 3), upsampling="nearest"),
    ],
    ids=["dense", "conv-transpose", "conv-nearest"],
)
def test_autoencoder_views_share_their_layers(build, rng):
    encoder, decoder, model = build()
    x = rng.random((4, 1, 28, 28)).astype(np.float32)
    z = encoder.predict(x)
    assert z.shape[0] == 4 and z.ndim == 2
    assert np.allclose(decoder.predict(z), model.predict(x), atol=1e-6)
    assert model.predict(x).shape == x.shape and 0 <= model.predict(x).min() <= model.predict(x).max() <= 1
    model.train_on_batch(x, x)  # training the model trains the encoder
    assert not np.array_equal(encoder.predict(x), z)


def test_corrupt_adds_noise_and_stays_in_the_pixel_range():
    x = np.full((10, 1, 4, 4), 0.5, np.float32)
    noisy = ae.corrupt(x, noise_std=0.3)
    assert noisy.dtype == np.float32 and noisy.shape == x.shape
    assert noisy.min() >= 0 and noisy.max() <= 1 and np.abs(noisy - x).mean() > 0.1
    assert np.array_equal(ae.corrupt(x, noise_std=0.0), x)


class _ZeroModel:
    """Reconstructs everything as zeros, so the error of a sample is mean(x^2)."""

    def predict(self, x, batch_size=32):
        return np.zeros_like(x)


def test_detect_anomalies_threshold_and_rates():
    normal_val = np.sqrt(np.arange(1, 101, dtype=np.float64))[:, None]  # errors 1..100
    normal_test = np.sqrt(np.array([10.0, 50.0, 96.0, 200.0]))[:, None]
    anomalous = np.sqrt(np.array([90.0, 96.0, 97.0, 150.0, 300.0]))[:, None]
    report = ae.detect_anomalies(_ZeroModel(), normal_val, anomalous, normal_test, quantile=0.95)
    assert report.threshold == pytest.approx(np.quantile(np.arange(1, 101), 0.95))  # 95.05
    assert report.detection_rate == pytest.approx(4 / 5)
    assert report.false_alarm_rate == pytest.approx(2 / 4)
    assert "detection rate 80.0%" in str(report)


def test_the_anomaly_report_s_auc_is_the_pairwise_definition_with_anomalies_positive(rng):
    """``detect_anomalies`` scores with ``minidl.training.metrics.roc_auc`` (the one ROC AUC),
    the anomalies as positives: the fraction of (anomalous, normal) pairs ranked right, ties half."""
    neg, pos = rng.integers(1, 5, 30).astype(float), rng.integers(2, 8, 20).astype(float)
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    report = ae.detect_anomalies(_ZeroModel(), np.sqrt(neg)[:, None], np.sqrt(pos)[:, None])
    assert report.auc == pytest.approx(pairs.mean())
    from minidl.training import metrics

    assert ae.roc_auc is metrics.roc_auc and "roc_auc" not in ae.__all__  # written once


def test_anomaly_threshold_rejects_bad_input():
    with pytest.raises(ValueError, match="quantile must be in"):
        ae.anomaly_threshold([1.0, 2.0], quantile=1.5)
    with pytest.raises(ValueError, match=r"got shape \(2, 2\)"):
        ae.anomaly_threshold(np.ones((2, 2)))


# ------------------------------------------------------------------ GAN
def _tiny_gan(dtype=np.float32, g_optimizer=None):
    G = gan.ring_generator(latent_dim=2, hidden=8, depth=1).astype(dtype)
    D = gan.ring_discriminator(hidden=8, depth=1).astype(dtype)
    return gan.GANTrainer(G, D, latent_dim=2, g_optimizer=g_optimizer)


def test_generator_step_leaves_the_discriminator_bit_identical():
    trainer = _tiny_gan()
    x = gan.sample_ring(16)
    trainer.train_step(x)  # D now has optimizer state too
    d_before = trainer.D.get_weights()
    d_state = {k: {n: np.copy(v) for n, v in s.items()} for k, s in trainer.d_opt.state.items()}
    g_before = trainer.G.get_weights()
    trainer.generator_step(16)
    assert all(np.array_equal(a, b) for a, b in zip(d_before, trainer.D.get_weights()))
    assert all(
        np.array_equal(np.asarray(v), np.asarray(trainer.d_opt.state[k][n]))
        for k, s in d_state.items()
        for n, v in s.items()
    )
    assert all(not np.any(g) for layer in trainer.D.layers for g in layer.grads.values())
    assert any(not np.array_equal(a, b) for a, b in zip(g_before, trainer.G.get_weights()))


def test_discriminator_step_leaves_the_generator_unchanged():
    trainer = _tiny_gan()
    g_before, d_before = trainer.G.get_weights(), trainer.D.get_weights()
    trainer.discriminator_step(gan.sample_ring(16))
    assert all(np.array_equal(a, b) for a, b in zip(g_before, trainer.G.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, trainer.D.get_weights()))


def test_generator_step_follows_the_gradient_through_the_discriminator():
    """With plain SGD, G's step is -lr * dL_G/dtheta; compare it with finite differences
    of L_G = bce(D(G(z)), 1) for the same noise z (float64)."""
    lr = 1e-3
    trainer = _tiny_gan(np.float64, g_optimizer=optim.SGD(lr))
    mdl.seed(3)
    z = gan.sample_noise(5, 2).astype(np.float64)
    W = trainer.G.layers[0].params["W"]
    bce = mdl.losses.BinaryCrossentropy(from_logits=True)

    def loss_g():
        logits = trainer.D.forward(trainer.G.forward(z), training=True)
        return bce(logits, np.ones_like(logits))

    numeric = numerical_gradient(loss_g, W)
    before = W.copy()
    mdl.seed(3)  # the step draws the same z
    trainer.generator_step(5)
    analytic = (before - trainer.G.layers[0].params["W"]) / lr
    assert rel_error(analytic, numeric) < 1e-6


def test_mode_coverage_counts_reached_modes():
    centers = gan.ring_centers(8, radius=2.0)
    full = gan.mode_coverage(gan.sample_ring(800, std=0.05), centers, std=0.05)
    assert full.covered == 8 and full.high_quality > 0.95
    collapsed = gan.mode_coverage(np.repeat(centers[:1], 100, axis=0) + 0.01, centers, std=0.05)
    assert collapsed.covered == 1 and collapsed.counts[0] == 100
    far = gan.mode_coverage(np.zeros((50, 2)), centers, std=0.05)
    assert far.covered == 0 and far.high_quality == 0.0
    with pytest.raises(ValueError, match=r"expected samples \(n, 2\), got shape \(5, 3\)"):
        gan.mode_coverage(np.zeros((5, 3)), centers, std=0.05)


def test_sample_ring_is_seeded():
    mdl.seed(5)
    a = gan.sample_ring(10)
    mdl.seed(5)
    assert np.array_equal(a, gan.sample_ring(10)) and a.shape == (10, 2) and a.dtype == np.float32


def test_mnist_gan_networks_fit_together(rng):
    G, D = gan.mnist_generator(latent_dim=8, hidden=(16,)), gan.mnist_discriminator(hidden=(16,))
    trainer = gan.GANTrainer(G, D, latent_dim=8)
    d_loss, g_loss = trainer.train_step(rng.random((4, 1, 28, 28)).astype(np.float32) * 2 - 1)
    assert np.isfinite(d_loss) and np.isfinite(g_loss)
    assert trainer.sample(3).shape == (3, 1, 28, 28)


def test_mnist_gan_networks_take_other_image_shapes(rng):
    G = gan.mnist_generator(latent_dim=8, hidden=(16,), image_shape=(1, 14, 14))
    D = gan.mnist_discriminator(hidden=(16,), image_shape=(1, 14, 14))
    assert G.layers[-3].units == 196 and D.layers[1].params["W"].shape == (196, 16)
    trainer = gan.GANTrainer(G, D, latent_dim=8)
    d_loss, g_loss = trainer.train_step(rng.random((4, 1, 14, 14)).astype(np.float32) * 2 - 1)
    assert np.isfinite(d_loss) and np.isfinite(g_loss)
    assert trainer.sample(3).shape == (3, 1, 14, 14)


# ------------------------------------------------------------------ transfer learning
def _small_classifier():
    return mdl.Sequential([Flatten(), Dense(12), ReLU(), Dense(6), ReLU(), Dense(3)], input_shape=(1, 4, 4))


def _data(rng, n=40, classes=3):
    return rng.random((n, 1, 4, 4)).astype(np.float32), rng.integers(0, classes, n)


def test_freezing_really_freezes(rng):
    model = _small_classifier()
    frozen = transfer.freeze(model.layers[:-1])
    assert all(not layer.trainable for layer in frozen) and model.layers[-1].trainable
    before = model.get_weights()
    model.compile(optimizer=optim.Adam(1e-2), loss=mdl.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(*_data(rng), epochs=2, batch_size=8, verbose=0)
    after = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before[:4], after[:4]))  # both hidden Dense layers
    assert not np.array_equal(before[4], after[4])  # the head learned
    assert model.count_params() == (6 * 3 + 3, 16 * 12 + 12 + 12 * 6 + 6)
    transfer.unfreeze(model)
    model.fit(*_data(rng), epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(after[0], model.get_weights()[0])


def test_replace_head_keeps_the_body_and_swaps_the_head(rng):
    model = _small_classifier()
    new = transfer.replace_head(model, [Dense(5)])
    assert new.layers[:-1] == model.layers[:-1] and len(new.layers) == len(model.layers)
    x, _ = _data(rng, 4)
    assert new.predict(x).shape == (4, 5)
    assert transfer.extract_features(model, x).shape == (4, 6)
    assert transfer.trainable_layers(new)[-1] is new.layers[-1]


def test_replace_head_mismatch_names_both_shapes():
    model = _small_classifier()
    head = Dense(5)
    head.build((12,))
    with pytest.raises(ValueError, match=r"body outputs \(N, 6\) .* built for inputs \(N, 12\)"):
        transfer.replace_head(model, [head])
    with pytest.raises(ValueError, match=r"body outputs \(N, 6\) .* Conv2D expects inputs \(N, C, H, W\)"):
        transfer.replace_head(model, [Conv2D(2, 3)])


def test_freeze_rejects_things_that_are_not_layers():
    with pytest.raises(TypeError, match="got int"):
        transfer.freeze([1, 2])
