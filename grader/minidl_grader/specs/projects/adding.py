"""The adding problem at length 10: 4,000 training and 1,000 validation sequences, and a
hidden split of 1,000 drawn from the grading seed (their values are continuous: none
repeats a public sequence)."""

from __future__ import annotations

from minidl import datasets


def public():
    return datasets.make_adding_problem(4000, length=10, seed=0), datasets.make_adding_problem(
        1000, length=10, seed=1
    )


def hidden(seed: int):
    return datasets.make_adding_problem(1000, length=10, seed=[seed, 3])
