"""Generative adversarial networks, trained by hand with two ``Sequential`` models.

A generator G turns noise z into samples; a discriminator D gives each sample a logit,
"how real does it look". They are trained in turn (Goodfellow et al., 2014), both with
binary cross-entropy on logits, ``bce(logit, target)``:

    D step   real batch x, fake batch G(z):
             L_D = bce(D([x; G(z)]), [1; 0])            -> update D only
    G step   fresh noise z:
             L_G = bce(D(G(z)), 1)                      -> update G only
             ("non-saturating" loss: G maximises log D(G(z)) rather than minimising
             log(1 - D(G(z))), which has no gradient while D wins easily)

The G step is the chain rule across two models. L_G depends on G's weights only through
the fake images, so

    d_logits = bce.backward()            dL/d(logits)
    d_x      = D.backward(d_logits)      dL/d(fake images): D's backward, D's weights untouched
    G.backward(d_x)                      dL/d(G's weights)
    g_opt.step(G)                        only G moves

``D.backward`` also fills D's ``grads`` on the way; they are thrown away (``D.zero_grad()``),
never applied, so D is bit-for-bit the same before and after the G step.

The toy problem is a ring of Gaussians: 8 small blobs on a circle. A GAN that suffers
*mode collapse* puts all its samples on a few of them, which ``mode_coverage`` counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..nn import optim
from ..nn.layers.activations import LeakyReLU, Tanh
from ..nn.layers.core import Dense, Reshape
from ..nn.losses import BinaryCrossentropy
from ..training.model import Sequential

__all__ = ["ring_centers", "sample_ring", "mode_coverage", "ModeCoverage", "sample_noise", "ring_generator"]
__all__ += ["ring_discriminator", "mnist_generator", "mnist_discriminator", "GANTrainer"]


# ------------------------------------------------------------------ the toy distribution
def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The ``modes`` centres ``radius (cos 2 pi k / modes, sin 2 pi k / modes)``; shape (modes, 2)."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def sample_ring(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05) -> np.ndarray:
    """``n`` points from an equal mixture of Gaussians (std ``std``) at ``ring_centers``; (n, 2) float32.

    Draws from ``minidl.backend.rng()`` (so ``minidl.seed`` makes it repeatable).
    """
    rng = backend.rng()
    which = rng.integers(0, modes, size=n)
    noise = std * rng.standard_normal((n, 2))
    return (ring_centers(modes, radius)[which] + noise).astype(np.float32)


@dataclass
class ModeCoverage:
    """How well a set of 2-D samples covers the modes of the ring."""

    covered: int  # modes that received at least ``min_count`` close samples
    modes: int  # number of modes
    counts: list = field(default_factory=list)  # close samples per mode
    high_quality: float = 0.0  # fraction of all samples within the distance of some mode

    def __str__(self):
        return (
            f"{self.covered}/{self.modes} modes covered, {self.high_quality:.1%} of samples "
            f"within reach of a mode (per mode: {self.counts})"
        )


def mode_coverage(samples, centers, std: float, n_std: float = 3.0, min_share: float = 0.01) -> ModeCoverage:
    """Count the modes a generator reaches (the measure of Metz et al., "Unrolled GANs", 2017).

    A sample is *high quality* if it lies within ``n_std * std`` of its nearest centre;
    a mode is *covered* if at least ``min_share`` of all samples are high-quality samples
    of that mode (at least one sample in any case).

    Parameters: samples (n, 2); centers (modes, 2); std the modes' standard deviation.
    """
    samples = np.asarray(samples, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"mode_coverage expected samples (n, {centers.shape[1]}), got shape {samples.shape}")
    distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=2)  # (n, modes)
    nearest = distances.argmin(axis=1)
    close = distances.min(axis=1) <= n_std * std
    counts = np.bincount(nearest[close], minlength=len(centers))
    min_count = max(1, int(np.ceil(min_share * len(samples))))
    return ModeCoverage(
        covered=int((counts >= min_count).sum()),
        modes=len(centers),
        counts=counts.tolist(),
        high_quality=float(close.mean()),
    )


def sample_noise(n: int, latent_dim: int) -> np.ndarray:
    """Generator input: z ~ N(0, I), shape (n, latent_dim) float32, from ``minidl.backend.rng()``."""
    return backend.rng().standard_normal((n, latent_dim)).astype(np.float32)


# ------------------------------------------------------------------ the two networks
def _leaky_blocks(widths) -> list:
    """``Dense(h)`` (He-uniform) then ``LeakyReLU(0.2)``, for each width h in ``widths``."""
    return [layer for h in widths for layer in (Dense(h, kernel_initializer="he_uniform"), LeakyReLU(0.2))]


def ring_generator(latent_dim: int = 2, hidden: int = 128, depth: int = 3) -> Sequential:
    """z (N, latent_dim) -> point (N, 2): ``depth`` Dense(hidden) + LeakyReLU(0.2) blocks, then Dense(2)."""
    layers = _leaky_blocks([hidden] * depth) + [Dense(2)]
    return Sequential(layers, input_shape=(latent_dim,), name="generator")


def ring_discriminator(hidden: int = 128, depth: int = 3) -> Sequential:
    """point (N, 2) -> logit (N, 1): ``depth`` Dense(hidden) + LeakyReLU(0.2) blocks, then Dense(1)."""
    return Sequential(_leaky_blocks([hidden] * depth) + [Dense(1)], input_shape=(2,), name="discriminator")


def mnist_generator(latent_dim: int = 64, hidden=(256, 512), image_shape=(1, 28, 28)) -> Sequential:
    """z (N, latent_dim) -> image (N, *image_shape) in (-1, 1): Dense + LeakyReLU blocks,
    Dense(pixels), Tanh (784 pixels for the default (1, 28, 28); chapter 19 uses (1, 14, 14)).

    Train it against images scaled to [-1, 1] (``2 x - 1``).
    """
    image_shape = tuple(int(d) for d in image_shape)
    layers = _leaky_blocks(hidden) + [Dense(math.prod(image_shape)), Tanh(), Reshape(image_shape)]
    return Sequential(layers, input_shape=(latent_dim,), name="generator")


def mnist_discriminator(hidden=(512, 256), image_shape=(1, 28, 28)) -> Sequential:
    """image (N, *image_shape) -> logit (N, 1): Reshape to (N, pixels), Dense + LeakyReLU blocks, Dense(1)."""
    image_shape = tuple(int(d) for d in image_shape)
    layers = [Reshape((math.prod(image_shape),))] + _leaky_blocks(hidden) + [Dense(1)]
    return Sequential(layers, input_shape=image_shape, name="discriminator")


# ------------------------------------------------------------------ training by hand
def _epoch_means(step, x, batch_size: int) -> tuple[float, float]:
    """``step`` on each batch of one shuffled pass over ``x`` (an incomplete last batch dropped);
    the means of its two results. ``GANTrainer`` and ``vae.VAE`` train an epoch with it."""
    order = backend.rng().permutation(len(x))
    starts = range(0, len(x) - batch_size + 1, batch_size)
    if not starts:
        raise ValueError(f"train_epoch needs at least batch_size={batch_size} samples, got {len(x)}")
    first, second = zip(*[step(x[order[start : start + batch_size]]) for start in starts])
    return float(np.mean(first)), float(np.mean(second))


class GANTrainer:
    """Alternating D and G steps for a generator ``G`` and a discriminator ``D`` (both ``Sequential``).

    >>> trainer = GANTrainer(G, D, latent_dim=2)
    >>> d_loss, g_loss = trainer.train_step(x_real)     # one D step, then one G step

    ``G`` maps (N, latent_dim) noise to samples shaped like ``x_real``; ``D`` maps samples
    to logits (N, 1). Each has its own optimizer (Adam with beta1 = 0.5 by default, the
    DCGAN setting).
    """

    def __init__(
        self,
        generator: Sequential,
        discriminator: Sequential,
        latent_dim: int,
        g_optimizer=None,
        d_optimizer=None,
    ):
        self.G, self.D, self.latent_dim = generator, discriminator, int(latent_dim)
        self.g_opt = g_optimizer or optim.Adam(2e-4, beta1=0.5)
        self.d_opt = d_optimizer or optim.Adam(2e-4, beta1=0.5)
        self.bce = BinaryCrossentropy(from_logits=True)

    def discriminator_step(self, x_real) -> float:
        """One update of D on ``x_real`` (label 1) and as many fakes (label 0); returns L_D.

        L_D is the mean cross-entropy over the 2N samples (ln 2 = 0.693 when D cannot tell).
        G is run in inference mode and not updated.
        """
        n = len(x_real)
        x_fake = self.G.forward(sample_noise(n, self.latent_dim), training=False)
        x = np.concatenate([x_real, x_fake.astype(x_real.dtype)], axis=0)
        targets = np.concatenate([np.ones((n, 1)), np.zeros((n, 1))]).astype(x.dtype)
        loss = self.bce(self.D.forward(x, training=True), targets)
        self.D.backward(self.bce.backward())
        self.d_opt.step(self.D)
        self.D.zero_grad()
        return loss

    def generator_step(self, n: int) -> float:
        """One update of G through D, D left exactly as it was; returns L_G = bce(D(G(z)), 1)."""
        x_fake = self.G.forward(sample_noise(n, self.latent_dim), training=True)
        logits = self.D.forward(x_fake, training=True)
        loss = self.bce(logits, np.ones_like(logits))
        d_x = self.D.backward(self.bce.backward())  # dL/d(fake samples); D's grads unused
        self.G.backward(d_x)
        self.g_opt.step(self.G)  # only G's parameters move
        self.G.zero_grad()
        self.D.zero_grad()  # discard what D.backward wrote
        return loss

    def train_step(self, x_real) -> tuple[float, float]:
        """A D step on ``x_real`` then a G step with as many samples; returns ``(L_D, L_G)``."""
        return self.discriminator_step(x_real), self.generator_step(len(x_real))

    def train_epoch(self, x, batch_size: int = 64) -> tuple[float, float]:
        """One shuffled pass over ``x`` (the last incomplete batch dropped); mean ``(L_D, L_G)``."""
        return _epoch_means(self.train_step, x, batch_size)

    def sample(self, n: int) -> np.ndarray:
        """``n`` generated samples (inference mode), as a NumPy array."""
        return self.G.predict(sample_noise(n, self.latent_dim))
