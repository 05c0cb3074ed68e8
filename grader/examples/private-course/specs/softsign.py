"""Private chapter ``p1_softsign``: the backward pass of the softsign activation.

softsign(x) = x / (1 + |x|), a smooth squashing function like tanh, whose derivative is
1 / (1 + |x|)**2. This file is written exactly like a built-in chapter's spec
(``minidl_grader/specs/chNN.py``): a NumPy reference, a case generator, the usual mistakes
as functions, the points, and what an answer may not use.
"""

import numpy as np
from minidl_grader.judge.registry import Case, function_exercise

CHAPTER = "p1_softsign"  # the stem of solutions/p1_softsign.ipynb


def softsign_backward(dy, x):
    """Reference: dx = dy / (1 + |x|)**2; dy and x of the same shape, any shape."""
    return dy / (1.0 + np.abs(x)) ** 2


def _cases(rng):
    """Inputs drawn with the grading run's generator (a seed the students never see)."""
    cases = []
    for shape in ((7,), (4, 3), (2, 3, 5)):
        cases.append(
            Case((rng.standard_normal(shape), 3.0 * rng.standard_normal(shape)), label=f"x of shape {shape}")
        )
    x = np.array([-40.0, -1.5, -0.0, 0.0, 2.0, 1e6])  # signs, zeros, a large |x|
    cases.append(Case((rng.standard_normal(6), x), label="x negative, zero and large"))
    return cases


function_exercise(
    "softsign_backward",
    CHAPTER,
    2,
    "softsign_backward",
    "The softsign's backward pass",
    _cases,
    softsign_backward,
    ("dx",),
    mistakes=(
        (
            "the square is missing: the derivative of x / (1 + |x|) is 1 / (1 + |x|)**2",
            lambda dy, x: dy / (1.0 + np.abs(x)),
        ),
        (
            "this uses x where the formula has |x|: for negative x the denominator must grow too",
            lambda dy, x: dy / (1.0 + x) ** 2,
        ),
        (
            "this is the forward pass times dy, not the derivative",
            lambda dy, x: dy * x / (1.0 + np.abs(x)),
        ),
    ),
    # minidl's numerical gradient would compute the answer for the student
    forbids=("minidl.nn.gradcheck",),
)
