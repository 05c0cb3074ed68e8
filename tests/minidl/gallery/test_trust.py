"""Attacks, attributions and averaged predictions (minidl/gallery/trust.py): gradients against
finite differences, the attacks' ball and effect, completeness of integrated gradients, Grad-CAM
against its definition written out, and the ensemble and MC-dropout outputs."""

import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl.gallery import trust as T


def _mlp(seed=0, dropout=0.0):
    mdl.seed(seed)
    layers = [L.Flatten(), L.Dense(7, activation="tanh")]
    layers += [L.Dropout(dropout)] if dropout else []
    model = mdl.Sequential(layers + [L.Dense(3)], input_shape=(1, 2, 3), dtype="float64")
    return model


def _cnn(seed=0):
    mdl.seed(seed)
    model = mdl.Sequential(
        [L.Conv2D(3, 3, padding=1, activation="tanh"), L.Conv2D(2, 3, padding=1), L.Flatten(), L.Dense(3)],
        input_shape=(1, 5, 5),
        dtype="float64",
    )
    return model


def _cross_entropy(model, x, y):
    z = model.forward(x)
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))


def test_input_and_logit_gradients_match_finite_differences(rng):
    model, x, y = _mlp(), rng.uniform(0, 1, (4, 1, 2, 3)), np.array([0, 2, 1, 2])
    g, gz = T.input_gradient(model, x, y), T.logit_gradient(model, x, y)
    h = 1e-6
    for index in [(0, 0, 0, 0), (1, 0, 1, 2), (3, 0, 0, 1)]:
        e = np.zeros_like(x)
        e[index] = h
        numeric = (_cross_entropy(model, x + e, y) - _cross_entropy(model, x - e, y)) / (2 * h)
        assert g[index] == pytest.approx(numeric, rel=1e-5, abs=1e-9)
        n = index[0]
        dz = (model.forward(x + e)[n, y[n]] - model.forward(x - e)[n, y[n]]) / (2 * h)
        assert gz[index] == pytest.approx(dz, rel=1e-5, abs=1e-9)


def test_fgsm_and_pgd_stay_in_the_ball_and_the_pixel_range_and_raise_the_loss(rng):
    model, x, y = _mlp(), rng.uniform(0, 1, (6, 1, 2, 3)), np.array([0, 1, 2, 0, 1, 2])
    x[0, 0, 0, 0], x[1, 0, 0, 0] = 0.0, 1.0  # pixels at the ends of the range stay inside it
    eps = 0.1
    one = T.fgsm(model, x, y, eps)
    many = T.pgd(model, x, y, eps, step=0.03, steps=10)
    rand = T.pgd(model, x, y, eps, step=0.03, steps=10, rng=np.random.default_rng(0))
    for adv in (one, many, rand):
        assert np.abs(adv - x).max() <= eps + 1e-12 and adv.min() >= 0 and adv.max() <= 1
        assert _cross_entropy(model, adv, y) > _cross_entropy(model, x, y)
    inside = (x > eps) & (x < 1 - eps)
    assert np.allclose(np.abs(one - x)[inside], eps)  # a full step wherever the range allows
    assert _cross_entropy(model, many, y) >= _cross_entropy(model, one, y) - 1e-9
    assert np.array_equal(T.pgd(model, x, y, eps, 0.03, 0), x)


def test_integrated_gradients_are_complete_and_exact_for_a_linear_model(rng):
    model, x, target = _cnn(), rng.uniform(0, 1, (3, 1, 5, 5)), np.array([0, 1, 2])
    base = rng.uniform(0, 0.2, x.shape)
    ig = T.integrated_gradients(model, x, target, baseline=base, steps=64)
    gap = model.forward(x)[np.arange(3), target] - model.forward(base)[np.arange(3), target]
    assert np.allclose(ig.sum(axis=(1, 2, 3)), gap, rtol=1e-3, atol=1e-4)
    coarse = T.integrated_gradients(model, x, target, baseline=base, steps=2)
    assert np.abs(coarse.sum(axis=(1, 2, 3)) - gap).max() > np.abs(ig.sum(axis=(1, 2, 3)) - gap).max()
    linear = mdl.Sequential([L.Flatten(), L.Dense(3)], input_shape=(1, 5, 5), dtype="float64")
    W = linear.layers[1].params["W"]  # (25, 3): IG of a linear model is gradient x (x - 0)
    expected = x.reshape(3, 25) * W[:, target].T
    assert np.allclose(T.integrated_gradients(linear, x, target, steps=1).reshape(3, 25), expected)


def test_grad_cam_is_the_relu_of_the_gradient_weighted_maps(rng):
    model, x, target = _cnn(), rng.uniform(0, 1, (2, 1, 5, 5)), np.array([2, 0])
    cam = T.grad_cam(model, x, target, split=1)
    head = mdl.Sequential(model.layers[1:], input_shape=(3, 5, 5), dtype="float64")
    a = model.layers[0].forward(x)
    da = T.logit_gradient(head, a, target)
    expected = np.maximum((da.mean(axis=(2, 3), keepdims=True) * a).sum(axis=1), 0)
    assert cam.shape == (2, 5, 5) and np.allclose(cam, expected)
    assert (cam >= 0).all() and cam.max() > 0


def test_ensemble_and_mc_dropout_probabilities_and_entropy(rng):
    x = rng.uniform(0, 1, (5, 1, 2, 3))
    models = [_mlp(0), _mlp(1)]
    p = T.predict_proba(models, x)
    assert p.shape == (2, 5, 3) and np.allclose(p.sum(axis=-1), 1)
    assert not np.allclose(p[0], p[1])
    dropped = _mlp(0, dropout=0.5)
    mc = T.predict_proba([dropped], x, samples=4, dropout=True)
    assert mc.shape == (4, 5, 3) and not np.allclose(mc[0], mc[1])
    assert np.allclose(
        T.predict_proba([dropped], x, samples=3)[0], T.predict_proba([dropped], x, samples=3)[2]
    )
    assert np.allclose(T.predictive_entropy(np.full((2, 4, 3), 1 / 3)), np.log(3))
    sure = np.zeros((1, 2, 3))
    sure[0, :, 1] = 1.0
    assert np.allclose(T.predictive_entropy(sure), 0)
    split = np.stack([np.eye(3)[[0, 0]], np.eye(3)[[1, 1]]])  # two sure members that disagree
    assert np.allclose(T.predictive_entropy(split), np.log(2))
