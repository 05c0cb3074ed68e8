"""GaussianSample: draw z ~ N(mu, sigma^2) so that the gradient reaches mu and log sigma^2.

A variational autoencoder's encoder outputs, for each input, the mean ``mu`` and the log-variance
``logvar = log sigma^2`` of a diagonal Gaussian over the code z (Kingma & Welling, 2014). Sampling
``z ~ N(mu, sigma^2)`` directly has no derivative with respect to ``mu`` or ``sigma``; the
**reparameterisation trick** moves the randomness into an input that needs none:

    forward     eps ~ N(0, I)                         (drawn from minidl.backend.rng())
                sigma = exp(logvar / 2)
                z = mu + sigma * eps
    backward    dmu     = dz                          (dz/dmu = 1)
                dlogvar = dz * eps * sigma / 2        (dz/dlogvar = eps * d sigma/dlogvar = eps sigma / 2)
                        = dz * (z - mu) / 2

With ``eps`` held fixed, ``z`` is an ordinary differentiable function of ``(mu, logvar)``, so the
gradient check (which reseeds the generator before every forward) sees the same noise each time.

The layer takes one array, ``[mu | logvar]`` joined on the last axis, the output of a
``Dense(2 * latent_dim)``, so it fits in a ``Sequential``; its backward returns the gradient in the
same joined layout. The KL term of the VAE's loss (``losses.GaussianKL``) takes the same array.
"""

from __future__ import annotations

from ... import backend
from .base import Layer


def split_mean_logvar(h, who: str = "GaussianSample"):
    """``(mu, logvar)``: the two halves of the last axis of ``h`` (N, ..., 2D); a ``ValueError``
    naming the shape when that axis has odd length."""
    if h.ndim < 2 or h.shape[-1] % 2:
        raise ValueError(
            f"{who} expected [mu | logvar] joined on the last axis, (N, ..., 2 * latent_dim) with an "
            f"even last axis, got shape {tuple(h.shape)}"
        )
    d = h.shape[-1] // 2
    return h[..., :d], h[..., d:]


class GaussianSample(Layer):
    """``[mu | logvar] -> z = mu + exp(logvar / 2) * eps``, eps ~ N(0, I): the reparameterised sample.

    Parameters
    ----------
    mean_at_inference : bool
        With ``training=False`` return ``mu`` itself (the code's mean, a deterministic encoding:
        what a reconstruction or a plot of the latent space wants). ``False`` samples in both modes.

    Shapes: x (N, ..., 2D) holding ``mu = x[..., :D]`` and ``logvar = x[..., D:]`` -> z (N, ..., D).
    No parameters. The noise comes from ``minidl.backend.rng()`` (``minidl.seed`` repeats it).
    """

    def __init__(self, mean_at_inference: bool = True, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.mean_at_inference = bool(mean_at_inference)

    def compute_output_shape(self, input_shape):
        if not input_shape or input_shape[-1] is None or input_shape[-1] % 2:
            raise ValueError(
                f"{self.label} expected a per-sample shape (..., 2 * latent_dim) with an even last "
                f"axis, got {tuple(input_shape)}"
            )
        return tuple(input_shape[:-1]) + (input_shape[-1] // 2,)

    def forward(self, x, training=False):
        x = self.check_input(x)
        mu, logvar = split_mean_logvar(x, self.label)
        xp = backend.get_array_module(x)
        if not training and self.mean_at_inference:
            self.cache = ("mean", None, None)
            return mu.copy()
        eps = backend.to_device(backend.rng().standard_normal(mu.shape), backend.device_of(x)).astype(x.dtype)
        sigma = xp.exp(0.5 * logvar)
        self.cache = ("sample", eps, sigma)
        return mu + sigma * eps

    def backward(self, dy):
        mode, eps, sigma = self.require_cache()
        xp = backend.get_array_module(dy)
        dlogvar = xp.zeros_like(dy) if mode == "mean" else dy * eps * sigma * 0.5
        return xp.concatenate([dy, dlogvar], axis=-1)


__all__ = ["GaussianSample", "split_mean_logvar"]
