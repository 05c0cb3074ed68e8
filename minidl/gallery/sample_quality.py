"""Numbers for generated images: a classifier's verdicts and a Fréchet distance in its features.

Judging samples by eye does not scale and does not compare. Two measures that use a classifier
trained on the real data (here a small LeNet; the Inception network in the papers):

* **classifier score** (``classifier_score``): the mean confidence ``max_k p(k | x)`` over the
  samples, the mean per-sample entropy of ``p(. | x)`` (low: each sample looks like one class),
  and the entropy of the predicted-class histogram (high, up to log 10 = 2.303 nats: all classes
  produced) -- the two ingredients of Salimans et al.'s Inception score, reported apart;
* **Fréchet distance** (``frechet_distance``; Heusel et al., 2017): fit a Gaussian to the
  classifier's penultimate features of real images and one to those of the samples, and take

      d^2 = |m_1 - m_2|^2 + tr(C_1 + C_2 - 2 (C_1^(1/2) C_2 C_1^(1/2))^(1/2))

  (0 for identical Gaussians; the trace term is tr((C_1 C_2)^(1/2)) written with symmetric
  matrices only, so one eigen-decomposition of each suffices).

Both depend on the classifier, the number of samples (the distance is biased upward for few) and
the features chosen: they rank models scored the same way, not models across papers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn.segmentation import softmax_channels

__all__ = ["features_and_probabilities", "frechet_distance", "classifier_score", "ClassifierScore"]


def features_and_probabilities(classifier, x, batch_size: int = 500):
    """``(features, probabilities)`` of a ``Sequential`` classifier whose last layer is a
    ``Dense`` giving logits: the input of that last layer (N, F) and the softmax of its output (N, K)."""
    feats, probs = [], []
    *body, head = classifier.layers
    for start in range(0, len(x), batch_size):
        h = np.asarray(x[start : start + batch_size], dtype=np.float32)
        for layer in body:
            h = layer.forward(h, training=False)
        feats.append(np.asarray(h, dtype=np.float64))
        probs.append(softmax_channels(head.forward(h, training=False)))  # softmax over the classes
    return np.concatenate(feats), np.concatenate(probs)


def _sqrt_psd(c):
    """The symmetric square root of a symmetric positive semi-definite matrix (negative rounding clipped)."""
    w, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(features_a, features_b) -> float:
    """Squared Fréchet distance of Gaussians fitted to two sets of feature vectors (N_a, F), (N_b, F)."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            f"frechet_distance expected two sets of feature vectors (N, F) with the same F and N >= 2, "
            f"got shapes {a.shape} and {b.shape}"
        )
    m_a, m_b = a.mean(axis=0), b.mean(axis=0)
    c_a, c_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(c_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ c_b @ root_a), 0.0, None)).sum()
    return float(((m_a - m_b) ** 2).sum() + np.trace(c_a) + np.trace(c_b) - 2.0 * cross)


@dataclass
class ClassifierScore:
    """A classifier's verdicts on a set of images."""

    confidence: float  # mean over images of max_k p(k | x)
    entropy: float  # mean over images of the entropy of p(. | x), nats
    class_entropy: float  # entropy of the histogram of predicted classes, nats
    class_counts: list  # images per predicted class

    def __str__(self):
        return (
            f"confidence {self.confidence:.3f}, per-image entropy {self.entropy:.3f} nats, "
            f"class entropy {self.class_entropy:.3f} nats"
        )


def classifier_score(probabilities) -> ClassifierScore:
    """Score a set of images from the class probabilities (N, K) a classifier gave them."""
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"classifier_score expected probabilities (N, K), got shape {p.shape}")
    counts = np.bincount(p.argmax(axis=1), minlength=p.shape[1])
    share = counts / counts.sum()
    nonzero = share[share > 0]
    return ClassifierScore(
        confidence=float(p.max(axis=1).mean()),
        entropy=float(-(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1).mean()),
        class_entropy=float(-(nonzero * np.log(nonzero)).sum()),
        class_counts=counts.tolist(),
    )
