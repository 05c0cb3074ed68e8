"""Comparing an answer's outputs with the expected ones, and explaining the difference.

Used by ``check()`` on the public cases (``minidl.exercises``) and by the grader on its
hidden ones, so both say the same things. A check does not stop at "wrong": it says which
output is wrong, by how much, what shape was expected, and -- where it can tell -- which
usual mistake produces exactly these numbers. Two kinds of hints:

* **named mistakes**: the outputs an answer *with* a known mistake gives (a missing
  transpose, a sum over the wrong axis, a forgotten batch mean). If the answer matches
  one of them, its message is shown.
* **generic hints**, worked out from the numbers alone: a transposed shape, an extra or
  missing axis, a flipped sign, a constant factor, NaN from an overflow.

A message never shows an expected array: at most its shape and the first value that
differs, with its position. The verdict is written so that nothing but the right numbers
passes: a NaN or an infinity where the expected value is finite is wrong (and said so), the
error measure scales before it squares (``rel_error`` cannot overflow, whatever the
magnitudes), and every comparison is phrased ``not (error <= tolerance)``, so a NaN error
fails.
"""

from __future__ import annotations

import numpy as np

from minidl.nn import gradcheck

__all__ = ["rel_error", "compare_outputs", "compare_models", "count_problem", "describe_value"]
__all__ += ["dtype_problem", "TOLERANCE"]

TOLERANCE = 1e-6


def rel_error(a, b) -> float:
    """``||a - b|| / (||a|| + ||b||)`` (Euclidean norms), safe for any values: that of
    ``minidl.nn.gradcheck`` (which scales before it squares, so values near 1e200 give the
    true ratio), except that non-finite entries are no error where both arrays hold the very
    same non-finite value (the finite entries then decide); any other is an infinite error.
    Equal shapes are required.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    if not (finite_a.all() and finite_b.all()):
        same = np.array_equal(finite_a, finite_b) and np.array_equal(
            a[~finite_a], b[~finite_b], equal_nan=True
        )
        if not same:
            return float("inf")
        a, b = a[finite_a], b[finite_b]
    return gradcheck.rel_error(a, b)


def describe_value(value) -> str:
    """A short description of a value for messages: type and shape."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if type(value).__name__ == "Unsupported":  # the grader's stand-in for an object it cannot carry
        return f"an object of type {getattr(value, 'type_name', '?')}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    return f"{type(value).__name__} {value!r}"[:80]


def _as_array(value):
    """``value`` as a float64 array, or ``None`` if it is not numeric."""
    if not isinstance(value, (int, float, np.bool_, np.number, np.ndarray, list, tuple)):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _shape_hint(got_shape: tuple, expected_shape: tuple, integral: bool = False) -> str:
    if integral and len(got_shape) == len(expected_shape) == 1:  # indices or tokens, not a reduction
        return (
            f"{got_shape[0]} item{'s' * (got_shape[0] != 1)} where {expected_shape[0]} were expected: "
            "compare, step by step, which items your answer keeps (or produces) with the task's rules"
        )
    if len(got_shape) == len(expected_shape) >= 2 and got_shape == expected_shape[::-1]:
        return "it looks transposed: check the order of the factors in a matrix product, or a missing .T"
    if len(got_shape) == len(expected_shape) - 1 and got_shape in _drop_one_axis(expected_shape):
        return "an axis is missing: did you sum or average over an axis that should stay?"
    if len(got_shape) == len(expected_shape) + 1 and expected_shape in _drop_one_axis(got_shape):
        if expected_shape == got_shape[1:]:
            return (
                "there is an extra leading axis: a gradient of a parameter shared by the "
                "batch must be summed over the batch axis (axis=0)"
            )
        return "there is an extra axis: a sum over one axis is missing"
    if len(got_shape) == len(expected_shape) == 1:
        return "a sum or mean over the wrong axis? (e.g. a bias gradient sums over the batch axis, axis=0)"
    if int(np.prod(got_shape)) == int(np.prod(expected_shape)):
        return "the right number of values in the wrong layout: check a reshape or transpose"
    return ""


def _drop_one_axis(shape: tuple) -> list:
    return [shape[:i] + shape[i + 1 :] for i in range(len(shape))]


def _non_finite(name: str, got: np.ndarray, expected: np.ndarray) -> str | None:
    """A message if ``got`` holds NaN or inf where ``expected`` does not (or the reverse)."""
    finite_g, finite_e = np.isfinite(got), np.isfinite(expected)
    if finite_g.all() and finite_e.all():
        return None
    wrong = ~finite_g & finite_e
    if wrong.any():
        index = tuple(int(i) for i in np.argwhere(wrong)[0]) if got.ndim else ()
        where = f" (first at index {index[0] if len(index) == 1 else index})" if index else ""
        kind = "NaN" if np.isnan(got[wrong]).any() else "inf"
        return (
            f"`{name}` contains NaN or inf where the answer is finite ({int(wrong.sum())} "
            f"of {got.size} values, {kind}{where}) -- an overflow in exp, a log of 0, or a "
            "division by zero? (subtract the maximum before exp)"
        )
    missing = finite_g & ~finite_e
    if missing.any() or not np.array_equal(got[~finite_g], expected[~finite_e], equal_nan=True):
        return f"`{name}` should hold NaN or inf where the reference does, and the same ones"
    return None


def _first_mismatch(got: np.ndarray, expected: np.ndarray) -> str:
    if got.ndim == 0:
        return f"expected {expected.item():.6g}, got {got.item():.6g}"
    with np.errstate(all="ignore"):
        scale = float(np.max(np.abs(expected), initial=0.0)) + 1e-300
        bad = ~np.isclose(got, expected, rtol=1e-5, atol=1e-8 * scale)
    if not bad.any():
        return ""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    where = index[0] if len(index) == 1 else index
    return (
        f"first mismatch at index {where}: expected {expected[index]:.6g}, "
        f"got {got[index]:.6g} ({int(bad.sum())} of {bad.size} values differ)"
    )


def _factor_hint(got, expected, factors: dict) -> str:
    """A hint when ``got`` is a constant multiple of ``expected`` (both finite, of one shape)."""
    got, expected = _as_array(got), _as_array(expected)
    if got is None or expected is None or got.shape != expected.shape:
        return ""
    if not (np.all(np.isfinite(got)) and np.all(np.isfinite(expected))):
        return ""
    with np.errstate(all="ignore"):
        denominator = float(np.sum(expected * expected))
        c = float(np.sum(got * expected)) / denominator if denominator else 0.0
    if not (denominator >= 1e-300 and np.isfinite(denominator)):
        return ""
    if not (np.isfinite(c) and abs(c) >= 1e-12 and rel_error(got, c * expected) <= 1e-6):
        return ""
    if abs(c + 1) < 1e-6:
        return "the sign is flipped: check a minus sign (gradient descent subtracts the gradient)"
    for label, value in factors.items():
        if abs(c - value) < 1e-6 * abs(value):
            return f"off by a factor {c:.4g}, which is {label}"
        if abs(c - 1 / value) < 1e-6 / abs(value):
            return f"off by a factor {c:.4g}, which is 1 / ({label})"
    return f"off by a constant factor {c:.4g}"


def compare_outputs(
    got,
    expected,
    names: tuple[str, ...],
    mistakes=(),
    factors=None,
    tolerance: float = TOLERANCE,
    scales=None,
) -> str | None:
    """``None`` if ``got`` matches ``expected``, else a message saying what differs.

    got, expected : one value when ``len(names) == 1``, else sequences of ``len(names)``
    mistakes : pairs ``(message, outputs_with_that_mistake)``, same layout as ``expected``
    factors : ``{"the batch size N = 5": 5}``, constants whose presence or absence
        explains a scaled answer
    scales : ``None`` (every output judged by ``rel_error`` over the whole array), or one
        entry per output: ``None``, or an array of the output's shape holding, per element,
        the sum of the magnitudes of the terms that add up to it; that output then passes
        when every ``|got - expected| <= tolerance * scale``, element by element, so that
        rounding never fails a right answer where the terms cancel to a tiny value, and a
        wrong row is not hidden by larger ones
    """
    factors = factors or {}
    if len(names) == 1:
        got, expected = (got,), (expected,)
        mistakes = [(message, (wrong,)) for message, wrong in mistakes]
        scales = None if scales is None else (scales,)
    elif (problem := count_problem(got, names)) is not None:
        return problem
    for i, name in enumerate(names):
        scale = None if scales is None else scales[i]
        message = _compare_one(name, got[i], expected[i], tolerance, scale)
        if message is None:
            message = dtype_problem(name, got[i], expected[i])
            if message is not None:  # the values are right: no hint about them
                return message
            continue
        hints = [text for text, wrong in mistakes if _matches(got[i], wrong[i], tolerance)]
        hints = hints or [_factor_hint(got[i], expected[i], factors)]
        return message + "".join(f"\n    hint: {h}" for h in hints if h)
    return None


def count_problem(got, names: tuple[str, ...]) -> str | None:
    """A message if ``got`` is not a tuple or list of ``len(names)`` values, else ``None``."""
    if isinstance(got, (tuple, list)) and len(got) == len(names):
        return None
    found = len(got) if isinstance(got, (tuple, list)) else describe_value(got)
    forgot = " -- did you forget `return`?" if got is None else ""
    return f"expected {len(names)} return values ({', '.join(names)}), got {found}{forgot}"


def _matches(got, wrong, tolerance) -> bool:
    """Whether ``got`` is the mistake's output: the same NaN and inf at the same places (a
    mistake may make them: ``dy * (x > 0)`` turns an infinite ``dy`` into NaN), the rest
    within ``tolerance``."""
    g, w = _as_array(got), _as_array(wrong)
    if g is None or w is None or g.shape != w.shape:
        return False
    return rel_error(g, w) <= tolerance


def _compare_one(name: str, got, expected, tolerance: float, scale=None) -> str | None:
    if got is None:
        return f"`{name}` is None -- did you forget to `return` it?"
    e, g = _as_array(expected), _as_array(got)
    if g is None:
        return f"`{name}` should be {describe_value(expected)}, got {describe_value(got)}"
    if g.shape != e.shape:
        integral = isinstance(expected, np.ndarray) and expected.dtype.kind in "iu"
        hint = _shape_hint(g.shape, e.shape, integral)
        return f"`{name}` has shape {g.shape}, expected {e.shape}" + (f"\n    hint: {hint}" if hint else "")
    problem = _non_finite(name, g, e)
    if problem:
        return problem
    if scale is not None:
        return _per_element(name, g, e, np.asarray(scale, dtype=np.float64), tolerance)
    error = rel_error(g, e)
    if not error <= tolerance:
        detail = _first_mismatch(g, e)
        return f"`{name}` is wrong: relative error {error:.2e} (tolerance {tolerance:.0e})" + (
            f"; {detail}" if detail else ""
        )
    return None


def _per_element(name: str, got: np.ndarray, expected: np.ndarray, scale: np.ndarray, tolerance: float):
    """A message if some ``|got - expected|`` exceeds ``tolerance * scale`` there, else ``None``."""
    with np.errstate(all="ignore"):
        error = np.abs(got - expected)
        bad = ~(error <= tolerance * scale) & ~(got == expected)  # equal values pass at scale 0
        if not bad.any():
            return None
        ratio = np.where(scale > 0, error / np.where(scale > 0, scale, 1.0), np.inf)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.where(bad, ratio, -1.0))), bad.shape))
    where = index[0] if len(index) == 1 else index
    return (
        f"`{name}` is wrong: {int(bad.sum())} of {bad.size} values differ by more than {tolerance:.0e} "
        f"of what they are made of (each value is judged against the sum of the magnitudes of "
        f"the terms that add up to it); the worst at index {where}: expected "
        f"{expected[index]:.6g}, got {got[index]:.6g}"
    )


def dtype_problem(name: str, got, expected) -> str | None:
    """A message if ``got`` is not of ``expected``'s kind of array, else ``None``.

    An expected int (a count, an index) must come back as an int (Python's or NumPy's); a
    plain float may come back as any real number. A float array must come back as an array of the very same dtype (float32
    where float64 is asked loses half the digits), an integer array as an integer array
    (any width: indices, counts, tokens), a boolean array as a boolean array.
    """
    if isinstance(expected, (int, np.integer)) and not isinstance(expected, (bool, np.bool_)):
        if isinstance(got, (int, np.integer)) and not isinstance(got, (bool, np.bool_)):
            return None
        return (
            f"`{name}`: the value is right, but it should be an int, got {describe_value(got)}\n"
            "    hint: an index, a count or an epoch is an int: int(...) converts a float that holds one"
        )
    if not isinstance(expected, np.ndarray) or expected.dtype.kind not in "biuf":
        return None
    kind = expected.dtype.kind
    if isinstance(got, np.ndarray):
        if got.dtype == expected.dtype or (kind in "iu" and got.dtype.kind in "iu"):  # ints: any width
            return None
        found = f"an array of dtype {got.dtype}"
    else:
        found = describe_value(got)
    wanted = {"f": f"an array of dtype {expected.dtype}", "b": "an array of booleans (dtype bool)"}.get(
        kind, "an array of integers (an integer dtype)"
    )
    hint = {
        "f": f"compute in {expected.dtype} (a float32 input or constant, or an astype, changes the "
        "dtype; np.asarray(..., dtype=np.float64) converts)",
        "b": "a comparison (x > 0) gives booleans; do not multiply or convert them",
        "i": "indices, counts and tokens are integers: np.argmax, np.argsort and np.nonzero give "
        "them; an empty result needs dtype=int (np.array([]) is float)",
        "u": "indices, counts and tokens are integers",
    }[kind]
    return f"`{name}`: the values are right, but it should be {wanted}, got {found}\n    hint: {hint}"


def compare_models(got: dict, expected: dict, what: str = "the weights") -> str | None:
    """``None`` if a model summary (``probes.model_summary``: every layer's ``trainable``, ``has_params``, ``param_names``, ``params``) has the reference's layers,
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
