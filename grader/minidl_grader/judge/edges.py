"""The classes of edge cases a spec declares (``Exercise.edges``), and how each is *detected*.

A spec names the classes that apply to its exercise (``edges``) and says why each other class
that could apply does not (``not_applicable={"ties": "the output has no argmax"}``). That a
case covers a class is not declared but checked: each class has a detector, run over the
arguments of the spec's generated cases (tests/grader/judge/test_edges.py), and a class is
covered only where the detector finds it in some case. Each class also has a gate, read off
the cases, the reference's parameter names and code (that of the reference and of the
functions of its module it calls, and they call) and the contract: where the gate fails, the
class cannot arise or does not concern the task, and needs neither a case nor a reason (a
reason kept for it fails the test). A named class needs only its detector, not its gate: an
exercise judged by a probe without a reference to read (a CUDA kernel) may still name one.

The detectors are deliberately plain, and necessary rather than sufficient: "ties" finds two
equal floats in one row, not that the reference breaks a tie on them. They look at every
argument of every case, inside tuples, lists and dicts. What each finds:

empty
    some array argument has an axis of length 0, or some list/tuple argument is empty (here
    and below, a string argument counts as the list of its words: a text, not a setting)
size_one
    some array argument has an axis of length 1, or some list/tuple argument has one item
non_square
    some array argument of 2 or more dimensions has last two axes of different lengths
    (gate: some array of 2 or more dimensions)
ties
    some float array argument holds the same value twice in one row of its last axis (a 1-D
    array: anywhere) (gate: some float array, and the reference compares values: its code
    names argmax, argmin, argsort, sort, max, min, maximum, minimum or top)
extreme_magnitude
    some float argument has a finite entry with ``|x| >= 100`` (gate: some float array, and
    the reference's code names exp, expm1, exp2, log, log1p, log2, log10, logaddexp,
    logsumexp, tanh, sigmoid, softplus, softmax, cosh or sinh)
float32
    some float array argument is float32 (gate: some float array, and the contract lets an
    output be float32 (``"float32"``, ``"like:ARG"``) or the reference's code names float32;
    a task whose contract asks float64 outputs of float64 inputs has no float32)
inf_or_nan_input
    some float argument holds an inf or a NaN (gate: some float array, and the reference's
    code names inf, nan or isfinite: a task that says nothing of non-finite inputs has none)
repeated_indices
    some integer array (not bool) holds the same value twice in one row of its last axis, or
    some list of ints or strings holds an item twice (gate: some integer array or such list)
varied_settings
    some argument that is a plain scalar (a number, flag or None) in the cases of an
    entry takes two different values among them (a case that leaves it out, so that its
    default applies, counts as one value), so that hard-coding the chapter's value of a
    setting fails (gate: some scalar argument)
left_and_right_padding
    one mask (a bool array, or a 0/1 array of a parameter named ``*mask*``) of 2 or more
    dimensions has a row (along its last axis) padded on the left (starts with 0, holds a 1)
    and a row padded on the right (ends with 0, holds a 1) (gate: such a mask)
terminal_at_batch_end
    an argument of a parameter named ``*terminat*``, ``*truncat*`` or ``*done*`` is true at
    the last step (its last entry along axis 0) (gate: such a parameter)
long_sequence
    some array argument has an axis of at least ``LONG`` (64) entries, or some list argument
    has that many items (gate: the reference iterates: its code has a for or while loop, or
    names cumsum or cumprod)
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator

import numpy as np

from ..runtime.probes import Case

__all__ = ["CLASSES", "LONG", "EXTREME", "detect", "gate", "code_of", "arguments_of"]

LONG = 64
EXTREME = 100.0


# ---------------------------------------------------------------------- the arguments
def _leaves(value) -> Iterator[object]:
    """``value`` and everything inside its tuples, lists and dicts."""
    yield value
    if isinstance(value, (tuple, list)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)


def arguments_of(case: Case, names: list[str]) -> Iterator[tuple[str, object]]:
    """``(parameter name, value)`` for every leaf of every argument of ``case`` (``names``:
    its reference's parameters)."""
    for i, argument in enumerate(case.args):
        name = names[i] if i < len(names) else f"arg{i}"
        for leaf in _leaves(argument):
            yield name, leaf


def _arrays(cases, kind: str = "") -> Iterator[tuple[str, np.ndarray]]:
    for case, names in cases:
        for name, leaf in arguments_of(case, names):
            if isinstance(leaf, np.ndarray) and (not kind or leaf.dtype.kind in kind):
                yield name, leaf


def _sequences(cases) -> Iterator[list | tuple]:
    """The list and tuple arguments, and each string argument as the list of its words."""
    for case, names in cases:
        for _, leaf in arguments_of(case, names):
            if isinstance(leaf, (list, tuple)):
                yield leaf
            elif isinstance(leaf, str):
                yield leaf.split()


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, np.generic))


def _repeats_in_a_row(a: np.ndarray) -> bool:
    if a.ndim == 0 or a.shape[-1] < 2 or a.size == 0:
        return False
    ordered = np.sort(a, axis=-1)
    return bool(np.any(ordered[..., 1:] == ordered[..., :-1]))


def _is_mask(name: str, a: np.ndarray) -> bool:
    if a.dtype == np.bool_:
        return True
    return "mask" in name.lower() and a.dtype.kind in "iuf" and bool(np.all((a == 0) | (a == 1)))


def _terminal(name: str) -> bool:
    return any(word in name.lower() for word in ("terminat", "truncat", "done"))


# ---------------------------------------------------------------------- the detectors
def _empty(cases) -> bool:
    return any(0 in a.shape for _, a in _arrays(cases)) or any(len(s) == 0 for s in _sequences(cases))


def _size_one(cases) -> bool:
    return any(1 in a.shape for _, a in _arrays(cases)) or any(len(s) == 1 for s in _sequences(cases))


def _non_square(cases) -> bool:
    return any(a.ndim >= 2 and a.shape[-1] != a.shape[-2] for _, a in _arrays(cases))


def _ties(cases) -> bool:
    return any(_repeats_in_a_row(a) for _, a in _arrays(cases, "f"))


def _extreme(cases) -> bool:
    for case, names in cases:
        for _, leaf in arguments_of(case, names):
            if isinstance(leaf, (np.ndarray, float, np.floating)) and np.asarray(leaf).dtype.kind == "f":
                finite = np.abs(np.asarray(leaf)[np.isfinite(leaf)])
                if finite.size and finite.max() >= EXTREME:
                    return True
    return False


def _float32(cases) -> bool:
    return any(a.dtype == np.float32 for _, a in _arrays(cases, "f"))


def _non_finite(cases) -> bool:
    for case, names in cases:
        for _, leaf in arguments_of(case, names):
            if isinstance(leaf, (np.ndarray, float, np.floating)) and np.asarray(leaf).dtype.kind == "f":
                if not np.all(np.isfinite(leaf)):
                    return True
    return False


def _token_lists(cases) -> Iterator[list | tuple]:
    for s in _sequences(cases):
        if s and all(isinstance(x, (int, str, np.integer)) and not isinstance(x, bool) for x in s):
            yield s


def _repeated(cases) -> bool:
    return any(_repeats_in_a_row(a) for _, a in _arrays(cases, "iu")) or any(
        len(set(s)) < len(s) for s in _token_lists(cases)
    )


def _scalar_positions(cases) -> dict[tuple, set]:
    """``{(entry, position): {repr of each value}}`` for the positions that hold a scalar in
    every case of that entry that passes them; a case that leaves the argument out (its
    default applies) counts as the value ``"default"``."""
    seen: dict[tuple, set] = {}
    broken: set[tuple] = set()
    longest: dict[object, int] = {}
    for case, _ in cases:
        longest[case.entry] = max(longest.get(case.entry, 0), len(case.args))
        for i, argument in enumerate(case.args):
            key = (case.entry, i)
            if _is_scalar(argument):
                seen.setdefault(key, set()).add(repr(argument))
            else:
                broken.add(key)
    for case, _ in cases:
        for i in range(len(case.args), longest[case.entry]):
            if (case.entry, i) in seen:
                seen[(case.entry, i)].add("default")
    return {key: values for key, values in seen.items() if key not in broken}


def _varied(cases) -> bool:
    return any(len(values) > 1 for values in _scalar_positions(cases).values())


def _padding(cases) -> bool:
    for name, a in _arrays(cases):
        if a.ndim >= 2 and a.shape[-1] >= 2 and a.size and _is_mask(name, a):
            rows = a.reshape(-1, a.shape[-1]).astype(bool)
            held = rows.any(axis=1)
            if np.any(held & ~rows[:, 0]) and np.any(held & ~rows[:, -1]):
                return True
    return False


def _terminal_at_end(cases) -> bool:
    for name, a in _arrays(cases):
        if _terminal(name) and a.ndim >= 1 and a.shape[0] and np.any(a[-1]):
            return True
    return False


def _long(cases) -> bool:
    return any(max(a.shape, default=0) >= LONG for _, a in _arrays(cases)) or any(
        len(s) >= LONG for s in _sequences(cases)
    )


# ---------------------------------------------------------------------- the gates
# each takes (the cases, the reference's code, the contract's dtypes)
_COMPARES = re.compile(r"^(argmax|argmin|argsort|sort|sorted|max|min|maximum|minimum|top\w*)$", re.M)
_GROWS = re.compile(
    r"^(exp|expm1|exp2|log|log1p|log2|log10|logaddexp|logsumexp|tanh|sigmoid|softplus|softmax|cosh|sinh)$",
    re.M,
)
_NON_FINITE = re.compile(r"^(inf|-inf|nan|isfinite|isinf|isnan)$", re.M)


def _always(cases, code, dtypes) -> bool:
    return True


def _iterates(cases, code, dtypes) -> bool:
    return bool(re.search(r"^(for|while|cumsum|cumprod)$", code, re.M))


def _some_matrix(cases, code, dtypes) -> bool:
    return any(a.ndim >= 2 for _, a in _arrays(cases))


def _some_float(cases) -> bool:
    return any(True for _ in _arrays(cases, "f"))


def _compares(cases, code, dtypes) -> bool:
    return _some_float(cases) and bool(_COMPARES.search(code))


def _grows(cases, code, dtypes) -> bool:
    return _some_float(cases) and bool(_GROWS.search(code))


def _single_precision(cases, code, dtypes) -> bool:
    follows = any(d == "float32" or d.startswith("like:") for d in dtypes)
    return _some_float(cases) and (follows or bool(re.search(r"^float32$", code, re.M)))


def _handles_non_finite(cases, code, dtypes) -> bool:
    return _some_float(cases) and bool(_NON_FINITE.search(code))


def _some_ints(cases, code, dtypes) -> bool:
    return any(True for _ in _arrays(cases, "iu")) or any(True for _ in _token_lists(cases))


def _some_scalar(cases, code, dtypes) -> bool:
    return bool(_scalar_positions(cases))


def _some_mask(cases, code, dtypes) -> bool:
    return any(_is_mask(name, a) and a.ndim >= 2 for name, a in _arrays(cases))


def _some_terminal(cases, code, dtypes) -> bool:
    return any(_terminal(n) for _, ns in cases for n in ns)


# name -> (detector, gate); the cases come as ``(case, its reference's parameter names)``
CLASSES: dict[str, tuple[Callable, Callable]] = {
    "empty": (_empty, _always),
    "size_one": (_size_one, _always),
    "non_square": (_non_square, _some_matrix),
    "ties": (_ties, _compares),
    "extreme_magnitude": (_extreme, _grows),
    "float32": (_float32, _single_precision),
    "inf_or_nan_input": (_non_finite, _handles_non_finite),
    "repeated_indices": (_repeated, _some_ints),
    "varied_settings": (_varied, _some_scalar),
    "left_and_right_padding": (_padding, _some_mask),
    "terminal_at_batch_end": (_terminal_at_end, _some_terminal),
    "long_sequence": (_long, _iterates),
}


def detect(name: str, cases: list[tuple[Case, list[str]]]) -> bool:
    """Whether some case of ``cases`` (``(case, its reference's parameter names)``) covers
    the class ``name``."""
    return CLASSES[name][0](cases)


def gate(name: str, cases: list[tuple[Case, list[str]]], code: str = "", dtypes: tuple = ()) -> bool:
    """Whether the class ``name`` can arise from these cases' arguments and concerns a task
    whose reference is ``code`` (its source) and whose outputs have the contract's ``dtypes``."""
    return CLASSES[name][1](cases, code, dtypes)


def _names_in(source: str) -> set[str]:
    """The names, attributes and string constants of ``source``'s code (not its docstrings
    or comments), and ``"for"`` / ``"while"`` where it loops."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            found.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 12:
            found.add(node.value)  # float("inf"), astype("float32"); not a docstring
        elif isinstance(node, (ast.For, ast.comprehension)):
            found.add("for")
        elif isinstance(node, ast.While):
            found.add("while")
    return found


def code_of(reference: Callable | None) -> str:
    """The names in the code of ``reference`` and of the functions of its module that it
    calls (and that they call), one per line: what the gates read; ``""`` where there is none."""
    if reference is None:
        return ""
    module = inspect.getmodule(reference)
    home = getattr(module, "__name__", None)
    functions = [reference]
    for function in functions:  # grows as the helpers' own helpers are found
        for name in getattr(getattr(function, "__code__", None), "co_names", ()):
            helper = getattr(module, name, None)
            if inspect.isfunction(helper) and helper not in functions and helper.__module__ == home:
                functions.append(helper)
    found: set[str] = set()
    for function in functions:
        try:
            found |= _names_in(inspect.getsource(function))
        except (OSError, TypeError, SyntaxError):
            pass
    return "\n".join(sorted(found))
