"""The VAE trained by hand (minidl/gallery/vae.py): its joined backward against finite differences,
its loss terms, training, sampling and the shapes it refuses."""

import numpy as np
import pytest

import minidl as mdl
from minidl.gallery import vae as V
from minidl.nn.gradcheck import numerical_gradient, rel_error


def _tiny(beta=1.0):
    mdl.seed(0)
    model = V.dense_vae(input_shape=(1, 2, 3), latent_dim=2, hidden=(4,), beta=beta)
    for layer in model.layers:
        layer.astype(np.float64)
    return model


@pytest.mark.parametrize("beta", [1.0, 2.5])
def test_the_joined_backward_matches_finite_differences(beta, rng):
    """rec + beta KL through decoder, sample and encoder: every weight's gradient, float64."""
    model = _tiny(beta)
    x = rng.uniform(0, 1, (5, 1, 2, 3))

    def loss():
        mdl.seed(7)  # the same eps at every evaluation
        rec, kl = model.losses(x)
        return rec + kl

    loss()
    model.backward()
    for layer in model.layers:
        for key, param in layer.params.items():
            analytic = layer.grads[key].copy()
            numeric = numerical_gradient(loss, param)
            assert rel_error(analytic, numeric) < 1e-6, f"{layer.label}.{key}"


def test_rec_is_summed_over_pixels_and_kl_carries_beta(rng):
    model = _tiny(beta=3.0)
    x = rng.uniform(0, 1, (4, 1, 2, 3))
    mdl.seed(1)
    rec, kl = model.losses(x)
    mdl.seed(1)
    rec_eval, kl_eval = model.evaluate(x)
    assert rec == pytest.approx(rec_eval)
    assert kl == pytest.approx(3.0 * kl_eval)  # evaluate reports the KL itself (the ELBO's term)
    # one pixel's cross-entropy is at least 0: the sum over 6 pixels is of that order, not a mean
    assert rec > 6 * 0.3


def test_training_lowers_the_negative_elbo():
    mdl.seed(0)
    x = (mdl.backend.rng().uniform(0, 1, (256, 1, 4, 4)) > 0.5).astype(np.float32)
    x[:128] = x[0]  # half the set is one repeated image: something to learn
    model = V.dense_vae(input_shape=(1, 4, 4), latent_dim=2, hidden=(32,))
    before = sum(model.evaluate(x))
    for _ in range(20):
        model.train_epoch(x, batch_size=32)
    assert sum(model.evaluate(x)) < before - 1.0


def test_sample_decode_and_encode_shapes():
    mdl.seed(0)
    model = V.dense_vae(input_shape=(1, 4, 4), latent_dim=3, hidden=(8,))
    images = model.sample(5)
    assert images.shape == (5, 1, 4, 4) and np.all((images > 0) & (images < 1))
    mu, logvar = model.encode(np.zeros((2, 1, 4, 4), np.float32))
    assert mu.shape == logvar.shape == (2, 3)
    with pytest.raises(ValueError, match=r"expected codes \(N, 3\), got shape \(2, 2\)"):
        model.decode(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"expected images \(N, 1, 4, 4\), got shape \(2, 1, 5, 5\)"):
        model.train_step(np.zeros((2, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match="at least batch_size=64"):
        model.train_epoch(np.zeros((10, 1, 4, 4), np.float32))
