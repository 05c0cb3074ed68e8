"""The variational autoencoder (Kingma & Welling, 2014; Rezende et al., 2014), trained by hand.

An encoder maps an image to the mean and log-variance of a Gaussian over a code z, a
``GaussianSample`` layer draws z by the reparameterisation trick, and a decoder maps z to one
logit per pixel (a Bernoulli likelihood). Training minimises the negative evidence lower bound,
per image, in nats::

    -ELBO(x) = rec + beta * KL
    rec      = -log p(x | z) = sum over pixels of binary cross-entropy(decoder(z), x)
    KL       = KL(N(mu, sigma^2) || N(0, I)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)

One training step is three backward passes joined by hand (the sample's gradient and the KL's
gradient both land on the encoder's output ``[mu | logvar]`` and are added)::

    h = encoder(x)                       (N, 2D) = [mu | logvar]
    z = sampler(h, training=True)        (N, D)
    rec = pixels * bce(decoder(z), x)    mean over N of the sum over pixels
    kl  = GaussianKL(beta)(h)            mean over N of the sum over the code
    dh  = sampler.backward(decoder.backward(pixels * bce.backward())) + kl.backward()
    encoder.backward(dh)

With ``beta = 1`` the loss is the negative ELBO; ``beta > 1`` weighs the KL more (Higgins et al.,
2017's beta-VAE), which pulls the codes toward the prior at the cost of blurrier reconstructions.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..nn import optim
from ..nn.layers.activations import ReLU, sigmoid
from ..nn.layers.core import Dense, Flatten, Reshape
from ..nn.layers.gaussian import GaussianSample
from ..nn.losses import BinaryCrossentropy, GaussianKL
from ..training.model import Sequential
from .gan import _epoch_means

__all__ = ["VAE", "dense_vae"]


class VAE:
    """A variational autoencoder: ``encoder`` (x -> [mu | logvar]), ``sampler``, ``decoder`` (z -> logits).

    >>> vae = dense_vae(latent_dim=2)
    >>> rec, kl = vae.train_step(x_batch)          # one Adam step; nats per image
    >>> rec, kl = vae.evaluate(x_test)             # held-out terms (-ELBO = rec + kl with beta 1)
    >>> images = vae.sample(16)                    # z ~ N(0, I) through the decoder, pixels in (0, 1)

    ``layers`` lists every layer, so ``optimizer.step(vae)`` and ``vae.zero_grad()`` work on all.
    """

    def __init__(self, encoder: Sequential, decoder: Sequential, latent_dim: int, beta=1.0, optimizer=None):
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim = int(latent_dim)
        self.sampler = GaussianSample()
        self.kl = GaussianKL(beta)
        self.bce = BinaryCrossentropy(from_logits=True)
        self.optimizer = optimizer or optim.Adam(1e-3)
        self._pixels = 0  # pixels per image of the last ``losses`` call

    @property
    def beta(self) -> float:
        return self.kl.beta

    @property
    def layers(self) -> list:
        return list(self.encoder.layers) + [self.sampler] + list(self.decoder.layers)

    def zero_grad(self) -> None:
        self.encoder.zero_grad()
        self.decoder.zero_grad()

    def _check(self, x):
        expected = self.encoder.input_shape
        if expected is not None and tuple(x.shape[1:]) != tuple(expected):
            raise ValueError(f"VAE expected images (N, {', '.join(map(str, expected))}), got shape {x.shape}")

    def losses(self, x, training: bool = True) -> tuple[float, float]:
        """Forward pass on ``x`` with a sampled z; returns ``(rec, kl)`` in nats per image (``kl``
        already times beta) and leaves the caches for ``backward``."""
        self._check(x)
        h = self.encoder.forward(x, training=training)
        z = self.sampler.forward(h, training=True)  # the ELBO needs a sample, in training and in evaluation
        logits = self.decoder.forward(z, training=training)
        self._pixels = math.prod(x.shape[1:])
        rec = self._pixels * self.bce(logits, x)
        return rec, self.kl(h)

    def backward(self) -> None:
        """Gradients of ``rec + beta KL`` of the last ``losses`` call into every layer's ``grads``."""
        dz = self.decoder.backward(self._pixels * self.bce.backward())
        dh = self.sampler.backward(dz) + self.kl.backward()  # both paths reach [mu | logvar]
        self.encoder.backward(dh, input_grad=False)

    def train_step(self, x) -> tuple[float, float]:
        """One optimizer step on the batch ``x``; returns ``(rec, beta * KL)`` before the step."""
        rec, kl = self.losses(x, training=True)
        self.backward()
        self.optimizer.step(self)
        self.zero_grad()
        return rec, kl

    def train_epoch(self, x, batch_size: int = 64) -> tuple[float, float]:
        """One shuffled pass over ``x`` (an incomplete last batch dropped); mean ``(rec, beta KL)``."""
        return _epoch_means(self.train_step, x, batch_size)

    def evaluate(self, x, batch_size: int = 500) -> tuple[float, float]:
        """Mean ``(rec, KL)`` over ``x`` with one sample of z per image (an unbiased estimate of the
        negative ELBO's two terms; the KL is not multiplied by beta here)."""
        recs, kls = [], []
        beta, self.kl.beta = self.kl.beta, 1.0
        try:
            for start in range(0, len(x), batch_size):
                batch = x[start : start + batch_size]
                rec, kl = self.losses(batch, training=False)
                recs.append(rec * len(batch))
                kls.append(kl * len(batch))
        finally:
            self.kl.beta = beta
        return float(np.sum(recs) / len(x)), float(np.sum(kls) / len(x))

    def encode(self, x):
        """The codes' means ``mu`` (N, latent_dim) and log-variances (N, latent_dim)."""
        h = self.encoder.predict(x, batch_size=max(1, min(len(x), 1000)))
        return h[:, : self.latent_dim], h[:, self.latent_dim :]

    def decode(self, z):
        """Pixel probabilities ``sigmoid(decoder(z))`` for codes ``z`` (N, latent_dim)."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"VAE.decode expected codes (N, {self.latent_dim}), got shape {z.shape}")
        return sigmoid(self.decoder.predict(z, batch_size=max(1, min(len(z), 1000))))

    def sample(self, n: int):
        """``n`` images decoded from z ~ N(0, I) (drawn from ``minidl.backend.rng()``): probabilities in (0, 1)."""
        return self.decode(backend.rng().standard_normal((n, self.latent_dim)).astype(np.float32))


def dense_vae(
    input_shape=(1, 28, 28), latent_dim: int = 2, hidden=(256,), beta: float = 1.0, lr: float = 1e-3
) -> VAE:
    """A fully connected VAE.

    encoder: Flatten -> [Dense(h) -> ReLU] for h in ``hidden`` -> Dense(2 * latent_dim) = [mu | logvar]
    decoder: [Dense(h) -> ReLU] for h in reversed(``hidden``) -> Dense(pixels) -> Reshape(input_shape)
             (logits: the Bernoulli likelihood's sigmoid is inside the loss)
    """
    input_shape = tuple(int(d) for d in input_shape)
    pixels = math.prod(input_shape)
    encoder_layers: list = [Flatten()]
    for h in hidden:
        encoder_layers += [Dense(h, kernel_initializer="he_uniform"), ReLU()]
    decoder_layers: list = []
    for h in reversed(hidden):
        decoder_layers += [Dense(h, kernel_initializer="he_uniform"), ReLU()]
    encoder = Sequential(encoder_layers + [Dense(2 * latent_dim)], input_shape=input_shape, name="encoder")
    decoder = Sequential(
        decoder_layers + [Dense(pixels), Reshape(input_shape)], input_shape=(latent_dim,), name="decoder"
    )
    return VAE(encoder, decoder, latent_dim, beta=beta, optimizer=optim.Adam(lr))
