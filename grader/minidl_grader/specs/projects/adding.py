"""The adding problem: the hidden split is 1,000 sequences of length 10 drawn from the
grading seed (their values are continuous: none repeats a public sequence)."""

from __future__ import annotations

from minidl import datasets


def hidden(seed: int):
    return datasets.make_adding_problem(1000, length=10, seed=[seed, 3])
