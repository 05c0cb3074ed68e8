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
uses on the public cases); here it is re-exported, with the comparison of models (chapter 9's).

The verdict itself is written so that nothing but the right numbers passes: a NaN or an
infinity where the reference is finite is wrong (and said so), the error measure scales
before it squares (``rel_error`` cannot overflow, whatever the magnitudes), and every
comparison is phrased ``not (error <= tolerance)``, so a NaN error fails.
"""

from __future__ import annotations

from minidl.exercises.compare import TOLERANCE, compare_models, compare_outputs, describe_value, rel_error

__all__ = ["rel_error", "compare_outputs", "compare_models", "describe_value", "TOLERANCE"]
