"""Autoencoders: learn to copy an image through a narrow code, then use the code and the copy.

An autoencoder is two networks in a row, trained to give back its input:

    encoder     x (N, 1, 28, 28)  ->  z (N, latent_dim)        the code
    decoder     z                 ->  x_hat (N, 1, 28, 28)     the reconstruction
    loss        mean((x_hat - x)^2)                             (``y = x``: no labels needed)

Because ``latent_dim`` is small the network cannot copy pixels one by one; it has to
find what the images have in common. Three uses here:

* **visualisation** -- with ``latent_dim=2`` the codes of the test digits can be drawn in
  the plane, and digits of one class gather together although no label was used;
* **denoising** -- trained on ``corrupt(x) -> x`` it learns to remove noise;
* **anomaly detection** -- trained on "normal" images only, it reconstructs unfamiliar
  ones badly, so a reconstruction error above a threshold flags an anomaly
  (``detect_anomalies``).

Each builder returns ``Autoencoder(encoder, decoder, model)``: three ``Sequential`` models
that *share* their layers -- ``model`` is ``encoder`` followed by ``decoder``, so training
``model`` trains the other two. ``model`` is compiled with Adam and ``"mse"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import backend
from ..nn import optim
from ..nn.layers.activations import ReLU, Sigmoid
from ..nn.layers.core import Dense, Flatten, Reshape
from ..training.metrics import roc_auc
from ..training.model import Sequential

__all__ = ["Autoencoder", "dense_autoencoder", "conv_autoencoder", "corrupt", "reconstruction_errors"]
__all__ += ["anomaly_threshold", "detect_anomalies", "AnomalyReport"]


class Autoencoder(NamedTuple):
    """The three views of one autoencoder; their layers are the same objects."""

    encoder: Sequential  # x (N, *input_shape) -> z (N, latent_dim)
    decoder: Sequential  # z (N, latent_dim)   -> x_hat (N, *input_shape)
    model: Sequential  # x -> x_hat, compiled: train this one with fit(x, x)


def _assemble(encoder_layers, decoder_layers, input_shape, latent_dim, lr) -> Autoencoder:
    encoder = Sequential(encoder_layers, input_shape=input_shape, name="encoder")
    decoder = Sequential(decoder_layers, input_shape=(latent_dim,), name="decoder")
    model = Sequential(encoder_layers + decoder_layers, input_shape=input_shape, name="autoencoder")
    model.compile(optimizer=optim.Adam(lr), loss="mse")
    return Autoencoder(encoder, decoder, model)


def dense_autoencoder(
    input_shape=(1, 28, 28), latent_dim: int = 2, hidden=(256, 64), lr: float = 1e-3
) -> Autoencoder:
    """Fully connected autoencoder, mirror-symmetric around the code.

    encoder: Flatten -> Dense(h, relu) for h in ``hidden`` -> Dense(latent_dim) (linear code)
    decoder: Dense(h, relu) for h in reversed(``hidden``) -> Dense(prod(input_shape)) ->
             Sigmoid (pixels in (0, 1)) -> Reshape(input_shape)
    """
    input_shape = tuple(int(d) for d in input_shape)
    size = int(np.prod(input_shape))
    encoder = [Flatten()] + [Dense(h, activation="relu") for h in hidden] + [Dense(latent_dim)]
    decoder: list = [Dense(h, activation="relu") for h in reversed(hidden)]
    decoder += [Dense(size), Sigmoid(), Reshape(input_shape)]
    return _assemble(encoder, decoder, input_shape, latent_dim, lr)


def conv_autoencoder(
    latent_dim: int = 16, channels=(16, 32), upsampling: str = "transpose", lr: float = 1e-3
) -> Autoencoder:
    """Convolutional autoencoder for (1, 28, 28) images.

    encoder: [Conv2D(c, 3, padding=1, relu) -> MaxPool2D(2)] for c in ``channels``
             (28 -> 14 -> 7) -> Flatten -> Dense(latent_dim)
    decoder: Dense(c2 * 7 * 7, relu) -> Reshape((c2, 7, 7)) -> two x2 upsampling steps ->
             Sigmoid, where a step is
             ``"transpose"``: Conv2DTranspose(c, 4, stride=2, padding=1) (learned upsampling), or
             ``"nearest"``:   UpSampling2D(2) -> Conv2D(c, 3, padding=1) (copy, then smooth).
    """
    from ..nn.layers.conv import Conv2D, MaxPool2D
    from ..nn.layers.upsampling import Conv2DTranspose, UpSampling2D

    if upsampling not in ("transpose", "nearest"):
        raise ValueError(f"upsampling must be 'transpose' or 'nearest', got {upsampling!r}")
    c1, c2 = channels

    def up(filters, activation):
        if upsampling == "transpose":
            return [Conv2DTranspose(filters, 4, stride=2, padding=1, activation=activation)]
        return [UpSampling2D(2), Conv2D(filters, 3, padding=1, activation=activation)]

    encoder: list = [Conv2D(c1, 3, padding=1, activation="relu"), MaxPool2D(2)]
    encoder += [Conv2D(c2, 3, padding=1, activation="relu"), MaxPool2D(2), Flatten(), Dense(latent_dim)]
    decoder = [Dense(c2 * 7 * 7), ReLU(), Reshape((c2, 7, 7))] + up(c1, "relu") + up(1, None) + [Sigmoid()]
    return _assemble(encoder, decoder, (1, 28, 28), latent_dim, lr)


def corrupt(x, noise_std: float = 0.3):
    """Denoising input: ``clip(x + noise_std * eps, 0, 1)``, eps ~ N(0, 1) from ``minidl.backend.rng()``.

    Train with ``model.fit(corrupt(x), x)``: the target is the clean image.
    """
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
    noise = backend.rng().standard_normal(x.shape).astype(x.dtype)
    return np.clip(x + noise_std * noise, 0.0, 1.0).astype(x.dtype)


def reconstruction_errors(model, x, batch_size: int = 256) -> np.ndarray:
    """Per-sample mean squared error ``mean((model(x) - x)^2)`` over all but the batch axis; shape (N,)."""
    x_hat = model.predict(x, batch_size=batch_size)
    if x_hat.shape != x.shape:
        raise ValueError(
            f"reconstruction_errors needs a model whose output has the input's shape: "
            f"input {tuple(x.shape)}, output {tuple(x_hat.shape)}"
        )
    diff = (x_hat - x).reshape(len(x), -1)
    return (diff * diff).mean(axis=1)


def anomaly_threshold(normal_errors, quantile: float = 0.95) -> float:
    """The error below which a fraction ``quantile`` of *normal* samples fall.

    Everything above it is called an anomaly, so about ``1 - quantile`` of normal samples
    are false alarms: the quantile trades false alarms against missed anomalies.
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    normal_errors = np.asarray(normal_errors, dtype=np.float64)
    if normal_errors.ndim != 1 or len(normal_errors) == 0:
        raise ValueError(
            f"anomaly_threshold expected a non-empty vector of errors (N,), got shape {normal_errors.shape}"
        )
    return float(np.quantile(normal_errors, quantile))


@dataclass
class AnomalyReport:
    """Outcome of ``detect_anomalies``."""

    threshold: float  # reconstruction error above which a sample is flagged
    detection_rate: float  # fraction of anomalous samples flagged (recall, true-positive rate)
    false_alarm_rate: float  # fraction of normal test samples flagged (false-positive rate)
    auc: float  # ROC area: P(error of an anomaly > error of a normal sample)

    def __str__(self):
        return (
            f"threshold {self.threshold:.5f}: detection rate {self.detection_rate:.1%}, "
            f"false alarms {self.false_alarm_rate:.1%}, ROC AUC {self.auc:.3f}"
        )


def detect_anomalies(
    model, x_normal_val, x_anomalous, x_normal_test=None, quantile: float = 0.95
) -> AnomalyReport:
    """Flag samples whose reconstruction error exceeds a threshold set on normal data.

    Parameters
    ----------
    model : an autoencoder (output shape = input shape), trained on normal samples only.
    x_normal_val : normal samples *not* used in training; the threshold is their
        ``quantile`` of reconstruction error (``anomaly_threshold``).
    x_anomalous : samples of the kinds never seen in training.
    x_normal_test : other normal samples for an honest false-alarm rate (by default
        ``x_normal_val``, where it is ``1 - quantile`` by construction).

    Returns an ``AnomalyReport`` (threshold, detection rate, false-alarm rate, ROC AUC).
    """
    val_errors = reconstruction_errors(model, x_normal_val)
    threshold = anomaly_threshold(val_errors, quantile)
    normal_errors = val_errors if x_normal_test is None else reconstruction_errors(model, x_normal_test)
    anomalous_errors = reconstruction_errors(model, x_anomalous)
    return AnomalyReport(
        threshold=threshold,
        detection_rate=float(np.mean(anomalous_errors > threshold)),
        false_alarm_rate=float(np.mean(normal_errors > threshold)),
        auc=roc_auc(  # the anomalies are the positives
            np.concatenate([normal_errors, anomalous_errors]),
            np.r_[np.zeros(len(normal_errors)), np.ones(len(anomalous_errors))],
        ),
    )
