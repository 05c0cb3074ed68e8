"""Sentiment of generated reviews: the hidden split is 1,000 reviews drawn from the grading
seed, none of them a training or validation review (``make_reviews(exclude=...)``)."""

from __future__ import annotations

from minidl import datasets
from minidl.exercises.projects import load_project


def hidden(seed: int):
    (texts, _), (val, _) = load_project("reviews")
    reviews, labels, _ = datasets.make_reviews(1000, seed=[seed, 2], exclude=list(texts) + list(val))
    return reviews, labels
