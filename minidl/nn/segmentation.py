"""Losses for per-pixel labels: softmax cross-entropy over the channels, and the Dice loss.

A segmentation network returns K scores per pixel, ``z`` (N, K, H, W); the target is an
integer class per pixel, ``t`` (N, H, W). With ``p = softmax(z)`` over the channel axis K:

    PixelCrossentropy   L = -(1 / (N H W)) sum_{n,h,w} log p[n, t_nhw, h, w]
                        dL/dz = (p - onehot(t)) / (N H W)

    DiceLoss            I_k = sum_{n,h,w} p_k t_k      S_k = sum_{n,h,w} (p_k + t_k)
                        D_k = (2 I_k + s) / (S_k + s)          L = 1 - (1 / K) sum_k D_k
                        dL/dp_k = -(1 / K) (2 t_k (S_k + s) - (2 I_k + s)) / (S_k + s)^2
                        dL/dz = p * (dL/dp - sum_k p_k dL/dp_k)        (the softmax's backward)

(t_k is the one-hot indicator of class k, s the smoothing constant.) Cross-entropy is a sum
over pixels, so a class that covers 2 % of the image gets 2 % of the say; Dice is a ratio
per class, so every class counts the same however small it is (Milletari et al., 2016). The
two are often added. ``y_pred`` is always logits here (the softmax is part of the loss).
"""

from __future__ import annotations

from .. import backend
from .losses import Loss, positive

__all__ = ["PixelCrossentropy", "DiceLoss", "softmax_channels"]


def softmax_channels(z):
    """softmax over axis 1 of (N, K, H, W) scores, computed from the shifted exponentials."""
    xp = backend.get_array_module(z)
    e = xp.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _check_pixels(loss: Loss, z, t):
    """Labels (N, H, W) of integers in [0, K) for logits (N, K, H, W); returns the one-hot (N, K, H, W)."""
    name = type(loss).__name__
    if z.ndim != 4:
        raise ValueError(f"{name} expected logits (N, K, H, W), got shape {tuple(z.shape)}")
    xp = backend.get_array_module(z)
    t = xp.asarray(t)
    n, k, h, w = z.shape
    if tuple(t.shape) != (n, h, w):
        raise ValueError(
            f"{name} expected labels (N, H, W) = {(n, h, w)} for logits {tuple(z.shape)}, got {tuple(t.shape)}"
        )
    if t.dtype.kind not in "iu" or (t.size and (int(t.min()) < 0 or int(t.max()) >= k)):
        raise ValueError(f"{name} expected integer labels in [0, {k}), got dtype {t.dtype}")
    return (t[:, None] == xp.arange(k).reshape(1, k, 1, 1)).astype(z.dtype)


class PixelCrossentropy(Loss):
    """Softmax cross-entropy at every pixel: logits (N, K, H, W), labels (N, H, W)."""

    accuracy = None
    from_logits = True

    def compute(self, y_pred, y_true):
        onehot = _check_pixels(self, y_pred, y_true)
        xp = backend.get_array_module(y_pred)
        shifted = y_pred - y_pred.max(axis=1, keepdims=True)
        log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        losses = -(onehot * log_p).sum(axis=1)  # (N, H, W): one loss per pixel
        grad = (xp.exp(log_p) - onehot) / losses.size
        return losses, grad.astype(y_pred.dtype)


class DiceLoss(Loss):
    """``1 - mean_k Dice_k`` of the softmax probabilities against the labels, over the batch.

    Parameters
    ----------
    smooth : float
        s, added to the numerator and denominator: keeps ``D_k`` defined (and equal to 1) for
        a class absent from both the prediction and the target.
    """

    accuracy = None
    from_logits = True

    def __init__(self, smooth: float = 1.0):
        super().__init__()
        self.smooth = positive(smooth, "DiceLoss smooth", zero_ok=True)

    def compute(self, y_pred, y_true):
        onehot = _check_pixels(self, y_pred, y_true)
        xp = backend.get_array_module(y_pred)
        p = softmax_channels(y_pred)
        k, s = y_pred.shape[1], self.smooth
        intersection = (p * onehot).sum(axis=(0, 2, 3))  # I_k (K,)
        total = p.sum(axis=(0, 2, 3)) + onehot.sum(axis=(0, 2, 3))  # S_k (K,)
        dice = (2 * intersection + s) / (total + s)
        shape = (1, k, 1, 1)
        dp = -(2 * onehot * (total + s).reshape(shape) - (2 * intersection + s).reshape(shape))
        dp = dp / (k * (total + s).reshape(shape) ** 2)
        grad = p * (dp - (p * dp).sum(axis=1, keepdims=True))
        return xp.reshape(1 - dice.mean(), (1,)), grad.astype(y_pred.dtype)

    def __call__(self, y_pred, y_true=None, sample_weight=None) -> float:
        if sample_weight is not None:
            raise ValueError("DiceLoss is a ratio over the whole batch; it takes no sample_weight")
        return super().__call__(y_pred, y_true)
