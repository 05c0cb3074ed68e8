"""When not to trust a classifier (chapter 23): attacks, attributions, averaged predictions.

Every function takes a ``Sequential`` whose output is logits (N, K) and uses its own
``backward`` for the gradient with respect to the input; none changes the weights.

* ``fgsm`` (Goodfellow et al., 2015) and ``pgd`` (Madry et al., 2018): inputs moved within
  an L-infinity ball of radius ``eps`` to raise the cross-entropy;
* ``logit_gradient``, ``integrated_gradients`` (Sundararajan et al., 2017) and ``grad_cam``
  (Selvaraju et al., 2017): how much each pixel (or each place of a feature map) counts;
* ``predict_proba``: softmax outputs of one model, of several (a deep ensemble,
  Lakshminarayanan et al., 2017) or of one model with dropout left on (MC dropout, Gal and
  Ghahramani, 2016), and ``predictive_entropy`` of their mean.
"""

from __future__ import annotations

import numpy as np

from ..nn.losses import SparseCategoricalCrossentropy
from ..nn.segmentation import softmax_channels


def input_gradient(model, x, y):
    """dL/dx (the shape of x) of the mean cross-entropy of ``model(x)`` against labels y (N,)."""
    loss = SparseCategoricalCrossentropy(from_logits=True)
    loss(model.forward(x), y)
    return model.backward(loss.backward())


def fgsm(model, x, y, eps, lo=0.0, hi=1.0):
    """The fast gradient sign method: x + eps sign(dL/dx), clipped to the pixel range [lo, hi]."""
    return np.clip(x + eps * np.sign(input_gradient(model, x, y)), lo, hi).astype(x.dtype)


def pgd(model, x, y, eps, step, steps, rng=None, lo=0.0, hi=1.0):
    """Projected gradient descent on the loss (ascent): ``steps`` signed steps of size ``step``,
    each followed by the projection onto ||x' - x||_inf <= eps and the pixel range. With a
    Generator ``rng`` it starts from a uniform point of the ball (Madry et al.), else from x."""
    start = x if rng is None else x + rng.uniform(-eps, eps, x.shape)
    adv = np.clip(start, lo, hi).astype(x.dtype)
    for _ in range(steps):
        adv = adv + step * np.sign(input_gradient(model, adv, y))
        adv = np.clip(np.clip(adv, x - eps, x + eps), lo, hi).astype(x.dtype)
    return adv


def logit_gradient(model, x, target):
    """d z_target / dx for each example: x (N, ...), target (N,) class indices -> the shape of x."""
    z = model.forward(x)
    dz = np.zeros_like(z)
    dz[np.arange(len(z)), target] = 1.0
    return model.backward(dz)


def integrated_gradients(model, x, target, baseline=None, steps=32):
    """(x - x') times the mean of d z_target/dx at x' + (k + 1/2)/steps (x - x'), k < steps:
    the midpoint rule for the path integral, whose sum over the pixels tends to
    z_target(x) - z_target(x') (completeness). The baseline x' defaults to zeros."""
    baseline = np.zeros_like(x) if baseline is None else baseline
    total = np.zeros(x.shape, dtype=np.float64)
    for k in range(steps):
        total += logit_gradient(model, baseline + (k + 0.5) / steps * (x - baseline), target)
    return (x - baseline) * total / steps


def grad_cam(model, x, target, split):
    """Grad-CAM: the feature maps A (N, C, H, W) after ``model.layers[:split]``, weighted per
    channel by the mean over the map of d z_target / dA, summed over channels, ReLU -> (N, H, W)."""
    a = x
    for layer in model.layers[:split]:
        a = layer.forward(a, training=False)
    z = a
    for layer in model.layers[split:]:
        z = layer.forward(z, training=False)
    dz = np.zeros_like(z)
    dz[np.arange(len(z)), target] = 1.0
    for layer in reversed(model.layers[split:]):
        dz = layer.backward(dz)
    weights = dz.mean(axis=(2, 3), keepdims=True)
    return np.maximum((weights * a).sum(axis=1), 0.0)


def predict_proba(models, x, samples=1, dropout=False):
    """Softmax outputs (M, N, K): one row per model of the list ``models``, each run ``samples``
    times; ``dropout=True`` keeps Dropout on (MC dropout: the model must hold no BatchNorm,
    which would switch to batch statistics too)."""
    rows = [softmax_channels(m.forward(x, training=dropout)) for m in models for _ in range(samples)]
    return np.stack(rows)


def predictive_entropy(probs):
    """The entropy (nats) of the mean of probs (M, N, K) over its first axis -> (N,)."""
    p = probs.mean(axis=0)
    return -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=-1)
