"""Comparing a submission's outputs with the reference, and explaining the difference.

A check does not stop at "wrong": it says which output is wrong, by how much, what shape
was expected, and -- where it can tell -- which usual mistake produces exactly these
numbers. Two kinds of hints:

* **named mistakes**: an exercise lists functions that compute the answer *with* a known
  mistake applied (a missing transpose, a sum over the wrong axis, a forgotten batch
  mean). If the submission matches one of them, its message is shown.
* **generic hints**, worked out from the numbers alone: a transposed shape, an extra or
  missing axis, a flipped sign, a constant factor, NaN from an overflow.

The comparison of outputs is minidl's (``minidl.exercises.compare``, which ``check()``
uses on the public cases); here it is re-exported, with the comparison of models.

The verdict itself is written so that nothing but the right numbers passes: a NaN or an
infinity where the reference is finite is wrong (and said so), the error measure scales
before it squares (``rel_error`` cannot overflow, whatever the magnitudes), and every
comparison is phrased ``not (error <= tolerance)``, so a NaN error fails.
"""

from __future__ import annotations

from minidl.exercises.compare import TOLERANCE, compare_outputs, describe_value, rel_error

__all__ = ["rel_error", "compare_outputs", "compare_models", "describe_value", "TOLERANCE"]


def compare_models(got: dict, expected: dict, what: str = "the weights") -> str | None:
    """``None`` if a model summary (``probes.model_summary``) has the reference's layers,
    parameter names and shapes, and ``expected``'s values; else what differs.

    A judge calls this before it reads anything else of the summary, so an emptied
    ``layer.params`` or a layer removed cannot leave it nothing to compare.
    """
    for key in ("params", "has_params", "trainable"):
        if not isinstance(got.get(key), list) or len(got[key]) != len(expected[key]):
            return (
                f"the model should still have its {len(expected['params'])} layers "
                "(were layers removed or replaced?)"
            )
    names = got.get("param_names", expected.get("param_names"))
    for index, (mine, theirs) in enumerate(zip(got["params"], expected["params"])):
        wanted = expected.get("param_names", [None] * len(expected["params"]))[index]
        if wanted is not None and (not isinstance(names, list) or names[index] != wanted):
            return (
                f"layer {index}'s parameters should be named {wanted}, found "
                f"{names[index] if isinstance(names, list) else 'none'} (was `layer.params` "
                "replaced or emptied?)"
            )
        labels = [f"layer {index} {n}" for n in (wanted or range(len(theirs)))]
        if not isinstance(mine, (tuple, list)) or len(mine) != len(theirs):
            count = len(mine) if isinstance(mine, (tuple, list)) else describe_value(mine)
            return (
                f"layer {index} should have {len(theirs)} parameter(s), found {count} "
                "(was `layer.params` replaced or emptied?)"
            )
        for label, m, t in zip(labels, mine, theirs):
            problem = compare_outputs(m, t, (label,))
            if problem:
                return f"{what}: {problem}"
    return None
