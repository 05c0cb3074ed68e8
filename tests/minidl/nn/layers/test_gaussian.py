"""GaussianSample (minidl/nn/layers/gaussian.py) and the KL term that goes with it.

The reparameterised sample is gradient-checked in float64 in both modes (the per-layer table of
tests/minidl/nn/test_gradcheck.py holds its training case too); its samples have the mean and
spread asked for; its backward is the formula of the module docstring; a seed repeats the noise.
"""

import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl import losses
from minidl.nn.gradcheck import check_layer


def _mean_logvar(rng, n=4, d=3):
    return np.concatenate([rng.standard_normal((n, d)), 0.5 * rng.standard_normal((n, d))], axis=1)


@pytest.mark.parametrize("training", [True, False])
def test_gradient_check_in_both_modes(tier, rng, training):
    report = check_layer(L.GaussianSample(), _mean_logvar(rng), training=training)
    assert report.passed, str(report)


def test_sequences_sample_on_the_last_axis(rng):
    report = check_layer(L.GaussianSample(), rng.standard_normal((2, 5, 6)), training=True)
    assert report.passed, str(report)
    assert L.GaussianSample().forward(np.zeros((2, 5, 6), np.float32), training=True).shape == (2, 5, 3)


def test_backward_is_the_written_out_formula(rng):
    h = _mean_logvar(rng)
    layer = L.GaussianSample()
    z = layer.forward(h, training=True)
    dz = rng.standard_normal(z.shape)
    dh = layer.backward(dz)
    mu = h[:, :3]
    np.testing.assert_allclose(dh[:, :3], dz)  # dz/dmu = 1
    np.testing.assert_allclose(dh[:, 3:], dz * (z - mu) / 2)  # dz/dlogvar = sigma eps / 2


def test_samples_have_the_mean_and_spread_asked_for():
    mdl.seed(0)
    mu, logvar = np.array([1.0, -2.0, 0.0]), np.log(np.array([0.25, 1.0, 4.0]))
    h = np.tile(np.concatenate([mu, logvar]), (20000, 1)).astype(np.float32)
    z = L.GaussianSample().forward(h, training=True)
    np.testing.assert_allclose(z.mean(axis=0), mu, atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [0.5, 1.0, 2.0], rtol=0.03)
    assert z.dtype == np.float32


def test_inference_returns_the_mean_unless_told_to_sample(rng):
    h = _mean_logvar(rng).astype(np.float32)
    np.testing.assert_array_equal(L.GaussianSample().forward(h), h[:, :3])
    sampled = L.GaussianSample(mean_at_inference=False).forward(h)
    assert not np.allclose(sampled, h[:, :3])


def test_a_seed_repeats_the_noise(rng):
    h = _mean_logvar(rng)
    mdl.seed(3)
    first = L.GaussianSample().forward(h, training=True)
    mdl.seed(3)
    np.testing.assert_array_equal(first, L.GaussianSample().forward(h, training=True))


def test_an_odd_last_axis_is_refused_with_its_shape():
    with pytest.raises(ValueError, match=r"even last axis, got shape \(2, 5\)"):
        L.GaussianSample().forward(np.zeros((2, 5), np.float32), training=True)
    with pytest.raises(ValueError, match=r"got shape \(2, 5\)"):
        losses.GaussianKL()(np.zeros((2, 5)))


def test_output_shape_halves_the_last_axis():
    assert L.GaussianSample().compute_output_shape((8,)) == (4,)
    model = mdl.Sequential([L.Dense(6), L.GaussianSample(), L.Dense(2)], input_shape=(5,))
    assert model.layers[1].output_shape == (3,)


# ------------------------------------------------------------------ with the KL loss
def test_kl_matches_a_monte_carlo_estimate():
    """KL(q || p) = E_q[log q(z) - log p(z)], estimated with 200,000 samples of z."""
    mu, logvar = np.array([0.7, -1.2]), np.array([-0.5, 0.8])
    mdl.seed(1)
    h = np.tile(np.concatenate([mu, logvar]), (200000, 1))
    z = L.GaussianSample().forward(h, training=True)
    var = np.exp(logvar)
    log_q = -0.5 * (((z - mu) ** 2) / var + logvar + np.log(2 * np.pi)).sum(axis=1)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi)).sum(axis=1)
    assert losses.GaussianKL()(h[:1]) == pytest.approx(np.mean(log_q - log_p), abs=0.01)


def test_a_model_with_the_sample_saves_and_loads(tmp_path, rng):
    mdl.seed(0)
    model = mdl.Sequential(
        [L.Dense(4), L.GaussianSample(mean_at_inference=False), L.Dense(2)], input_shape=(3,)
    )
    path = tmp_path / "vae_part.npz"
    model.save(path)
    again = mdl.load_model(path)
    assert isinstance(again.layers[1], L.GaussianSample) and again.layers[1].mean_at_inference is False
    x = rng.standard_normal((5, 3)).astype(np.float32)
    mdl.seed(4)
    first = model.predict(x)
    mdl.seed(4)
    np.testing.assert_allclose(again.predict(x), first, rtol=1e-6)
