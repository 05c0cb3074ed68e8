"""Scores of generated images (minidl/gallery/sample_quality.py): the Fréchet distance against its
closed form, the classifier score on probabilities whose answer is known, and the features."""

import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl.gallery import sample_quality as Q


def test_frechet_distance_is_zero_for_one_set_and_the_closed_form_for_a_scaled_shift(rng):
    a = rng.standard_normal((300, 4))
    assert abs(Q.frechet_distance(a, a)) < 1e-9
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    b = 2.0 * a + shift  # C_b = 4 C_a exactly: tr(C_a + 4 C_a - 2 * 2 C_a) = tr(C_a)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(np.cov(a, rowvar=False))
    assert Q.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert Q.frechet_distance(b, a) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_names_bad_shapes():
    with pytest.raises(ValueError, match=r"got shapes \(3, 2\) and \(3, 4\)"):
        Q.frechet_distance(np.zeros((3, 2)), np.zeros((3, 4)))


def test_classifier_score():
    sure = np.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]]
    score = Q.classifier_score(sure)
    assert score.confidence == 1.0 and score.entropy == pytest.approx(0.0, abs=1e-9)
    assert score.class_entropy == pytest.approx(np.log(4)) and score.class_counts == [2, 2, 2, 2]
    unsure = np.full((5, 4), 0.25)
    score = Q.classifier_score(unsure)
    assert score.confidence == 0.25 and score.entropy == pytest.approx(np.log(4))
    assert score.class_entropy == 0.0  # argmax picks class 0 every time: one class produced
    assert "confidence 0.250" in str(score)
    with pytest.raises(ValueError, match=r"probabilities \(N, K\), got shape \(4,\)"):
        Q.classifier_score(np.ones(4))


def test_features_and_probabilities(rng):
    mdl.seed(0)
    net = mdl.Sequential([L.Dense(6, activation="relu"), L.Dense(3)], input_shape=(5,))
    x = rng.standard_normal((7, 5)).astype(np.float32)
    feats, probs = Q.features_and_probabilities(net, x, batch_size=3)
    assert feats.shape == (7, 6) and probs.shape == (7, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probs.argmax(1), net.predict(x).argmax(1))
