"""Wrong answers of the sixth review (issue 68): a third strict TA's and the two earlier TAs'
hidden answers that scored full marks, in the catalogue's form (``wrong``/``right`` of
``tests.grader.specs.wrong_answers``; ``tests/grader/specs/test_wrong_answers.py`` judges them
with the rest). Each must score below full marks at every catalogue seed.
"""

from __future__ import annotations

from tests.grader.specs.wrong_answers import wrong

# ------------------------------------------------------------------ 21 equal_mass_ece
# NumPy's default argsort is an introsort: ties keep their order only in runs of about 16 or
# fewer; the cases now hold longer runs of equal probabilities
wrong(
    "equal_mass_ece",
    "an unstable argsort (np.argsort's default kind): long runs of ties reordered",
    """
def equal_mass_ece(probs, labels, n_bins):
    order = np.argsort(probs)
    ece = 0.0
    for run in np.array_split(order, n_bins):
        ece += run.size / probs.size * abs(np.mean(labels[run]) - np.mean(probs[run]))
    return float(ece)
""",
)
