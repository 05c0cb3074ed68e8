"""Sentiment of generated reviews: the hidden split is 1,000 reviews drawn from the grading
seed, none of them a training or validation review (``make_reviews(exclude=...)``)."""

from __future__ import annotations

import numpy as np

from minidl import datasets
from minidl.exercises.projects import load_project


def hidden(seed: int):
    (texts, _), (val, _) = load_project("reviews")
    drawn = int(np.random.default_rng([seed, 2]).integers(2**31))  # make_reviews takes one int
    reviews, labels, _ = datasets.make_reviews(1000, seed=drawn, exclude=list(texts) + list(val))
    return reviews, labels
