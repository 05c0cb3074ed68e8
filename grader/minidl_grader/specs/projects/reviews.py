"""Sentiment of generated reviews: 2,000 training reviews, 500 validation reviews none of
which is a training one, and a hidden split of 1,000 reviews drawn from the grading seed,
none of them a training or validation review (``make_reviews(exclude=...)``)."""

from __future__ import annotations

import numpy as np

from minidl import datasets


def public():
    texts, labels, _ = datasets.make_reviews(2000, seed=0)
    val, val_labels, _ = datasets.make_reviews(500, seed=1, exclude=texts)
    return (texts, labels), (val, val_labels)


def hidden(seed: int):
    (texts, _), (val, _) = public()
    drawn = int(np.random.default_rng([seed, 2]).integers(2**31))  # make_reviews takes one int
    reviews, labels, _ = datasets.make_reviews(1000, seed=drawn, exclude=list(texts) + list(val))
    return reviews, labels
