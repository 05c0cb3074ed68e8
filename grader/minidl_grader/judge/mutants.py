"""``minidl-grade mutants``: do an exercise's cases reject the wrong answers a student writes?

Each code exercise's reference is mutated, one small change at a time, the way students get
things wrong (an AST mutator, no dependency), and every mutant is graded like a submission:
the exercise's own probe and judge, on the grader's hidden cases, in this process, at a few
seeds. A mutant is

* **killed** when it scores below full marks at every seed,
* **flaky** when it does at some seeds only (the verdict depends on the seed: a survivor),
* **survived** when it scores full marks at every seed,
* **equivalent** when the spec declares that it cannot change the result, with the reason
  (``Exercise.equivalent_mutants``; it is still run, and one that is killed is reported).

The operators (``OPERATORS``), each on every place of the reference where it applies:

==============  ==================================================================
``arith``       ``+ -``, ``* /``, ``/ //``, ``** *``, ``@ *``, ``% //`` swapped
``compare``     ``< <=``, ``> >=``, ``== !=``, ``< >`` swapped
``const``       a number ``n`` made ``n + 1`` and ``n - 1`` (indices, slices, ranges,
                axes, constants)
``default``     an argument that has a default replaced by its default in the body
                (the argument ignored)
``dtype``       an array output cast to float32 (a float one) or to float64 (an integer
                or boolean one); ``np.float64`` written ``np.float32``
``reduce``      ``sum``, ``mean``, ``max`` (and ``min``) swapped, as functions and methods;
                ``np.maximum`` / ``np.minimum`` swapped
``axis``        an ``axis=`` argument removed (a reduction over everything)
``argsort``     a stable ``argsort`` (``kind="stable"``) made to break ties the other way
``augassign``   ``x += y`` written ``x = x + y``, and ``x = x + y`` written ``x += y``
``copy``        a ``.copy()`` (``np.copy``) removed; one added to a plain ``y = x``
``negate``      a unary minus removed; ``not`` removed; ``and`` / ``or`` swapped
``delete``      a statement replaced by ``pass``
==============  ==================================================================

Before mutating, the reference's own mistake switches (keyword arguments no case passes,
such as ``flip=False``) are replaced by their defaults and the branches they turn off are
dropped: a student's function has no such arguments.

A mutant's id is ``ENTRY: OPERATOR: BEFORE -> AFTER`` (the mutated code, unparsed; ``ENTRY >
HELPER: ...`` in a helper), with `` #2``, ``#3`` for a repeat; a spec declares an equivalent
one by that id, where ``*`` stands for any text.
"""

from __future__ import annotations

import argparse
import ast
import copy
import inspect
import json
import signal
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime import codec
from ..runtime.probes import PROBES, describe_exception
from .judging import SubmissionError, judge_exercise
from .registry import Exercise, all_exercises, parse_chapter, rng_for

__all__ = [
    "OPERATORS",
    "Mutant",
    "Outcome",
    "ExerciseReport",
    "references_of",
    "mutants_of",
    "run_exercise",
    "main",
]

OPERATORS = (
    "arith",
    "compare",
    "const",
    "default",
    "dtype",
    "reduce",
    "axis",
    "argsort",
    "augassign",
    "copy",
    "negate",
    "delete",
)
SEEDS = (11, 12, 13)
SKIPPED_PROBES = {
    "numba": "a Numba kernel: its reference is NumPy, which the probe rejects as not compiled",
    "cuda": "a CUDA kernel: its reference is NumPy, not CUDA source",
    "answer": "a question",
}
MUTANT_TIMEOUT = 10.0  # seconds for one mutant at one seed; an endless loop counts as killed

_ARITH: dict[type, list[type]] = {
    ast.Add: [ast.Sub],
    ast.Sub: [ast.Add],
    ast.Mult: [ast.Div],
    ast.Div: [ast.Mult, ast.FloorDiv],
    ast.FloorDiv: [ast.Div],
    ast.Pow: [ast.Mult],
    ast.MatMult: [ast.Mult],
    ast.Mod: [ast.FloorDiv],
}
_COMPARE: dict[type, list[type]] = {
    ast.Lt: [ast.LtE, ast.Gt],
    ast.LtE: [ast.Lt],
    ast.Gt: [ast.GtE, ast.Lt],
    ast.GtE: [ast.Gt],
    ast.Eq: [ast.NotEq],
    ast.NotEq: [ast.Eq],
}
_REDUCTIONS = {"sum": ("mean", "max"), "mean": ("sum", "max"), "max": ("sum", "min"), "min": ("max",)}
_ELEMENTWISE = {"maximum": "minimum", "minimum": "maximum"}


@dataclass
class Mutant:
    """One change to one entry's reference: ``function`` is the mutated function."""

    entry: str
    operator: str
    before: str
    after: str
    line: int  # in the spec file
    function: Callable | None = None
    id: str = ""


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # "killed", "flaky", "survived", "equivalent", "equivalent-but-killed"
    killed_at: tuple[int, ...] = ()
    reason: str = ""  # an equivalent mutant's declared reason; a killed one's first message


@dataclass
class ExerciseReport:
    name: str
    chapter: str
    skipped: str = ""  # why the exercise has no mutants
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    stale: list[str] = field(default_factory=list)  # declared equivalents that match no mutant

    def count(self, *statuses: str) -> int:
        return sum(o.status in statuses for o in self.outcomes)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def equivalent(self) -> int:
        return self.count("equivalent")

    @property
    def killed(self) -> int:
        return self.count("killed", "equivalent-but-killed")

    @property
    def survived(self) -> int:
        return self.count("survived", "flaky")

    @property
    def score(self) -> float:
        """Killed / non-equivalent (1.0 with nothing to kill)."""
        live = self.total - self.equivalent
        return self.count("killed") / live if live else 1.0

    def as_dict(self) -> dict:
        return {
            "exercise": self.name,
            "chapter": self.chapter,
            "skipped": self.skipped,
            "mutants": self.total,
            "killed": self.count("killed"),
            "equivalent": self.equivalent,
            "survived": self.count("survived"),
            "flaky": self.count("flaky"),
            "equivalent_but_killed": self.count("equivalent-but-killed"),
            "score": round(self.score, 4),
            "seconds": round(self.seconds, 2),
            "not_killed": [
                {"id": o.mutant.id, "status": o.status, "line": o.mutant.line, "killed_at": list(o.killed_at)}
                for o in self.outcomes
                if o.status in ("survived", "flaky", "equivalent-but-killed")
            ],
            "equivalent_mutants": {o.mutant.id: o.reason for o in self.outcomes if o.status == "equivalent"},
            "stale_declarations": list(self.stale),
        }


# ---------------------------------------------------------------------- the references
def references_of(exercise: Exercise) -> dict[str, Callable]:
    """Each entry's reference: ``exercise.references``, else the function of the entry's
    name in the spec module that draws the cases."""
    found = dict(exercise.references)
    module = sys.modules.get(getattr(exercise.make_cases, "__module__", ""), None)
    for entry in exercise.entries:
        if entry not in found and module is not None and callable(getattr(module, entry, None)):
            found[entry] = getattr(module, entry)
    return found


def _visible_arity(exercise: Exercise, entry: str) -> int:
    """How many positional arguments the cases pass to ``entry`` (at the first seed)."""
    cases = exercise.make_cases(rng_for(exercise.name, SEEDS[0]))
    counts = [len(c.args) for c in cases if (c.entry or exercise.entries[0]) == entry]
    return max(counts, default=0)


class _Specialise(ast.NodeTransformer):
    """Replace the mistake switches by their defaults and drop the branches they turn off."""

    def __init__(self, constants: dict[str, Any]):
        self.constants = constants

    def visit_Name(self, node: ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id in self.constants:
            return _switch(ast.copy_location(ast.Constant(self.constants[node.id]), node))
        return node

    def _fold(self, node):
        self.generic_visit(node)
        operands = _operands(node)
        if all(isinstance(child, ast.Constant) for child in operands):
            try:
                value = eval(compile(ast.Expression(node), "<fold>", "eval"), {})  # constants only
            except Exception:
                return node
            if value is None or isinstance(value, (bool, int, float, str)):
                folded = ast.copy_location(ast.Constant(value), node)
                return _switch(folded) if any(_is_switch(c) for c in operands) else folded
        if isinstance(node, ast.BinOp):  # x * 1, x + 0, x - False with a switch's constant
            left, right = node.left, node.right
            if (
                isinstance(right, ast.Constant)
                and _is_switch(right)
                and _identity(node.op, right.value, right_side=True)
            ):
                return left
            if (
                isinstance(left, ast.Constant)
                and _is_switch(left)
                and _identity(node.op, left.value, right_side=False)
            ):
                return right
        return node

    visit_UnaryOp = visit_Compare = visit_BinOp = _fold

    def visit_BoolOp(self, node: ast.BoolOp):
        """``False and x`` is False, ``True or x`` is True; constants that do not decide drop out."""
        self.generic_visit(node)
        deciding = isinstance(node.op, ast.Or)  # the value that ends an ``or``: a true one
        values: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                if bool(value.value) == deciding:
                    return value if not values else ast.BoolOp(node.op, [*values, value])
                continue  # True in an ``and``, False in an ``or``: no effect (unless last)
            values.append(value)
        if not values:
            return node.values[-1]
        return values[0] if len(values) == 1 else ast.BoolOp(node.op, values)

    def visit_IfExp(self, node: ast.IfExp):
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        return node

    def visit_If(self, node: ast.If):
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return (node.body if node.test.value else node.orelse) or [ast.Pass()]
        return node


def _switch(node: ast.Constant) -> ast.Constant:
    """Mark a constant as a switch's value (the grader's, not the student's: never mutated)."""
    node._minidl_switch = True  # type: ignore[attr-defined]
    return node


def _is_switch(node) -> bool:
    return isinstance(node, ast.Constant) and getattr(node, "_minidl_switch", False)


def _identity(op: ast.operator, value, right_side: bool) -> bool:
    """Whether ``value`` on that side of ``op`` leaves the other operand as it is."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        if isinstance(op, ast.Add) or (isinstance(op, ast.Sub) and right_side):
            return value == 0
        if isinstance(op, ast.Mult) or (isinstance(op, (ast.Div, ast.Pow)) and right_side):
            return value == 1
    return False


def _operands(node) -> list:
    if isinstance(node, ast.BoolOp):
        return node.values
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    return []


def student_parameters(exercise: Exercise, entry: str) -> tuple[str, ...] | None:
    """The parameters of ``entry`` as the exercise notebook gives them to the student (its
    ``def`` line in ``exercises/CHAPTER.ipynb``), or None where there is no such notebook."""
    path = Path(__file__).resolve().parents[3] / "exercises" / f"{exercise.chapter}.ipynb"
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for cell in cells:
        source = "".join(cell.get("source", ()))
        if f"def {entry}(" not in source:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == entry:
                return tuple(a.arg for a in node.args.args + node.args.kwonlyargs)
    return None


def _function_tree(
    fn: Callable, arity: int, keywords: frozenset = frozenset(), fixed: dict | None = None
) -> tuple[ast.FunctionDef, int, dict[str, object]]:
    """The function's ``def`` (specialised), the line of the ``def`` in its file, and the
    defaults of the arguments its callers can pass (a reference's: the student's).

    An argument with a default that no caller passes (past the ``arity`` positional ones,
    not among ``keywords``) is a switch of the grader's own: it is replaced by its value, as
    is one that every caller passes as the same constant (``fixed``)."""
    source = textwrap.dedent(inspect.getsource(fn))
    tree = ast.parse(source)
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef):
        raise ValueError("not a def")
    func.decorator_list = []
    params = list(inspect.signature(fn).parameters.values())
    switches: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    fixed = {(params[int(k[1:])].name if k.startswith("#") else k): v for k, v in (fixed or {}).items()}
    for index, param in enumerate(params):
        if param.name in fixed:  # every caller passes this constant
            switches[param.name] = fixed[param.name]
            continue
        if param.default is inspect.Parameter.empty:
            continue
        if isinstance(param.default, (bool, int, float, str, type(None))):
            if index >= arity and param.name not in keywords:
                switches[param.name] = param.default
            else:
                defaults[param.name] = param.default
    stored = {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    switches = {name: value for name, value in switches.items() if name not in stored}
    if switches:
        body = [_Specialise(switches).visit(statement) for statement in func.body]
        func.body = [s for item in body for s in (item if isinstance(item, list) else [item])]
        ast.fix_missing_locations(func)
    _, first = inspect.getsourcelines(fn)
    return func, first, defaults


def _closure(fn: Callable) -> dict[str, Callable]:
    """``fn`` and the functions of its module it calls, directly or not (its helpers)."""
    found: dict[str, Callable] = {fn.__name__: fn}
    todo = [fn]
    while todo:
        current = todo.pop()
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(current)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in found:
                value = current.__globals__.get(node.id)
                if (
                    inspect.isfunction(value)
                    and value.__module__ == fn.__module__
                    and value.__name__ != "<lambda>"
                    and not value.__code__.co_freevars
                ):
                    found[node.id] = value
                    todo.append(value)
    return found


def _call_sites(trees: dict[str, ast.FunctionDef], name: str) -> tuple[int, frozenset, dict] | None:
    """How the functions of ``trees`` call ``name``: the most positional arguments, the
    keywords passed, and those passed as the same constant at every call (``{name: value}``:
    fixed, so the same as a switch); None where a call unpacks ``*args`` or ``**kwargs``, or
    passes the function on (then every argument counts as passed)."""
    arity, calls = 0, 0
    values: dict[str, set] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
                if any(isinstance(a, ast.Starred) for a in node.args) or any(
                    k.arg is None for k in node.keywords
                ):
                    return None
                calls += 1
                arity = max(arity, len(node.args))
                for index, a in enumerate(node.args):
                    given = repr(a.value) if isinstance(a, ast.Constant) else None
                    if isinstance(a, ast.Tuple) and not a.elts:
                        given = "()"  # an empty tuple of flags
                    values.setdefault(f"#{index}", set()).add(given)
                for k in node.keywords:
                    given = repr(k.value.value) if isinstance(k.value, ast.Constant) else None
                    values.setdefault(str(k.arg), set()).add(given)
            elif isinstance(node, ast.Call):
                if any(isinstance(a, ast.Name) and a.id == name for a in node.args):
                    return None
    fixed = {}
    for key, seen in values.items():
        if len(seen) == 1 and None not in seen and calls == _count_calls(trees, name, key):
            value = ast.literal_eval(next(iter(seen)))
            if (
                value is None or value == () or isinstance(value, (bool, str))
            ):  # a flag; a number stays mutable
                fixed[key] = value
    return arity, frozenset(k for k in values if k not in fixed), fixed


def _count_calls(trees: dict[str, ast.FunctionDef], name: str, keyword: str) -> int:
    """How many calls of ``name`` in ``trees`` pass ``keyword`` (``#i``: a positional
    argument at index i)."""

    def passes(call: ast.Call) -> bool:
        if keyword.startswith("#"):
            return len(call.args) > int(keyword[1:])
        return any(k.arg == keyword for k in call.keywords)

    return sum(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and passes(node)
        for tree in trees.values()
        for node in ast.walk(tree)
    )


# ---------------------------------------------------------------------- the operators
_CASTS = [0]  # how many outputs the ``dtype`` mutants changed (none: the mutant is a no-op)


def _cast(value):
    """The ``dtype`` operator's cast of an output: a float64 array to float32, a float32 one
    to float64, an integer or boolean array to float64 (a student's ``np.zeros(n)`` or
    ``/``). A plain number is left alone (any number is one)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        _CASTS[0] += 1
        return value.astype(np.float32 if value.dtype == np.float64 else np.float64)
    if isinstance(value, (tuple, list)):
        return type(value)(_cast(item) for item in value)
    return value


def _unstable_argsort(a, axis=-1, kind=None, **_):
    """``argsort`` that breaks ties the other way round (last index first): as wrong as an
    unstable sort can be, on every machine."""
    a = np.asarray(a)
    moved = np.moveaxis(a, axis, -1)
    n = moved.shape[-1]
    flat = moved.reshape(-1, n)
    order = np.empty(flat.shape, dtype=np.intp)
    for row in range(flat.shape[0]):
        order[row] = np.lexsort((-np.arange(n), flat[row]))
    return np.moveaxis(order.reshape(moved.shape), -1, axis)


_HELPERS = {"__mutant_cast": _cast, "__mutant_argsort": _unstable_argsort}


def _call_name(node: ast.Call) -> tuple[str, str] | None:
    """``("np", "sum")`` for ``np.sum(...)``, ``(".", "sum")`` for ``x.sum(...)``,
    ``("", "max")`` for ``max(...)``."""
    func = node.func
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy"):
            return "np", func.attr
        return ".", func.attr
    if isinstance(func, ast.Name):
        return "", func.id
    return None


def _is_docstring(node, parent) -> bool:
    return bool(
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and isinstance(parent, ast.FunctionDef)
        and parent.body
        and parent.body[0] is node
    )


def _changes(
    node: Any, parent: Any, defaults: dict, params: set, outputs: bool = True
) -> Iterator[tuple[str, Any]]:
    """``(operator, replacement)`` for every mutant of ``node`` (the replacement is a new
    node, or a list of statements for a statement); ``outputs``: ``node`` is in the reference
    itself, whose returns are the outputs (a helper's are cast back by what follows)."""
    if isinstance(node, ast.BinOp):
        for op in _ARITH.get(type(node.op), []):
            yield "arith", ast.BinOp(copy.deepcopy(node.left), op(), copy.deepcopy(node.right))
    elif isinstance(node, ast.AugAssign):
        for op in _ARITH.get(type(node.op), []):
            yield "arith", ast.AugAssign(copy.deepcopy(node.target), op(), copy.deepcopy(node.value))
        target = copy.deepcopy(node.target)
        load = copy.deepcopy(node.target)
        _set_ctx(target, ast.Store())
        _set_ctx(load, ast.Load())
        yield (
            "augassign",
            ast.Assign([target], ast.BinOp(load, copy.deepcopy(node.op), copy.deepcopy(node.value))),
        )
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for op in _COMPARE.get(type(node.ops[0]), []):
            yield "compare", ast.Compare(copy.deepcopy(node.left), [op()], copy.deepcopy(node.comparators))
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and not _is_switch(node):
        if not (isinstance(parent, ast.Call) and node in parent.args and _is_dtype_literal(parent)):
            value: Any = node.value
            for delta in (1, -1):
                yield "const", ast.Constant(value + delta)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in defaults:
        pass  # handled once per argument (``_default_mutants``)
    elif isinstance(node, ast.Attribute) and node.attr == "float64" and isinstance(node.value, ast.Name):
        yield "dtype", ast.Attribute(copy.deepcopy(node.value), "float32", ast.Load())
    elif isinstance(node, ast.Call):
        yield from _call_changes(node)
    elif isinstance(node, ast.UnaryOp):
        if isinstance(node.op, (ast.USub, ast.Not)) and not isinstance(node.operand, ast.Constant):
            yield "negate", copy.deepcopy(node.operand)
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "negate", ast.BoolOp(other, copy.deepcopy(node.values))
    elif isinstance(node, ast.Assign):
        value = node.value
        if isinstance(value, ast.BinOp) and len(node.targets) == 1 and type(value.op) in _ARITH:
            assigned = node.targets[0]
            if isinstance(assigned, (ast.Name, ast.Subscript, ast.Attribute)) and ast.dump(
                _with_ctx(assigned, ast.Load())
            ) == ast.dump(_with_ctx(value.left, ast.Load())):
                yield (
                    "augassign",
                    ast.AugAssign(
                        copy.deepcopy(assigned), copy.deepcopy(value.op), copy.deepcopy(value.right)
                    ),
                )
        if isinstance(value, ast.Name) and value.id in params:
            yield (
                "copy",
                ast.Assign(
                    copy.deepcopy(node.targets),
                    ast.Call(ast.Attribute(copy.deepcopy(value), "copy", ast.Load()), [], []),
                ),
            )
    if isinstance(node, ast.Return) and node.value is not None and outputs:
        yield "dtype", ast.Return(_cast_outputs(node.value))
    if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.Return, ast.Pass)):
        if not _is_docstring(node, parent) and not isinstance(node, (ast.For, ast.While, ast.If, ast.With)):
            yield "delete", ast.Pass()


def _is_dtype_literal(call: ast.Call) -> bool:
    name = _call_name(call)
    return name is not None and name[1] in ("float64", "float32", "int64", "dtype")


def _cast_outputs(value: ast.expr) -> ast.expr:
    def cast(expr):
        return ast.Call(ast.Name("__mutant_cast", ast.Load()), [copy.deepcopy(expr)], [])

    if isinstance(value, ast.Tuple):
        return ast.Tuple([cast(e) for e in value.elts], ast.Load())
    return cast(value)


def _call_changes(node: ast.Call) -> Iterator[tuple[str, ast.expr]]:
    name = _call_name(node)
    if name is None:
        return
    where, attr = name
    for other in _REDUCTIONS.get(attr, ()) if where in ("np", ".") or attr in ("max", "min") else ():
        if where == "" and other not in ("max", "min"):
            continue  # builtins: max <-> min only
        new = copy.deepcopy(node)
        if where == "":
            new.func = ast.Name(other, ast.Load())
        else:
            new.func.attr = other  # type: ignore[attr-defined]
        yield "reduce", new
    if where == "np" and attr in _ELEMENTWISE:
        new = copy.deepcopy(node)
        new.func.attr = _ELEMENTWISE[attr]  # type: ignore[attr-defined]
        yield "reduce", new
    if any(k.arg == "axis" for k in node.keywords) and attr in (
        *_REDUCTIONS,
        "argmax",
        "argmin",
        "prod",
        "any",
        "all",
    ):
        new = copy.deepcopy(node)
        new.keywords = [k for k in new.keywords if k.arg not in ("axis", "keepdims")]
        yield "axis", new
    if attr in ("copy", "array") and (where == "." and attr == "copy" and not node.args):
        yield "copy", copy.deepcopy(node.func.value)  # type: ignore[attr-defined]
    if where == "np" and attr == "copy" and len(node.args) == 1:
        yield "copy", copy.deepcopy(node.args[0])
    stable = any(
        k.arg == "kind" and isinstance(k.value, ast.Constant) and k.value.value in ("stable", "mergesort")
        for k in node.keywords
    )
    if attr == "argsort" and stable:
        args = [copy.deepcopy(a) for a in node.args]
        if where == ".":
            args.insert(0, copy.deepcopy(node.func.value))  # type: ignore[attr-defined]
        keywords = [copy.deepcopy(k) for k in node.keywords if k.arg != "kind"]
        yield "argsort", ast.Call(ast.Name("__mutant_argsort", ast.Load()), args, keywords)


def _set_ctx(node, ctx) -> None:
    if hasattr(node, "ctx"):
        node.ctx = ctx


def _with_ctx(node, ctx):
    node = copy.deepcopy(node)
    for child in ast.walk(node):
        if hasattr(child, "ctx"):
            child.ctx = type(ctx)()
    return node


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _replace(parent: ast.AST, old: ast.AST, new) -> None:
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is old:
                    value[index] = new
                    return
    raise ValueError("node not found in its parent")


class _Defaulted(ast.NodeTransformer):
    def __init__(self, name: str, value: Any):
        self.name, self.value = name, value

    def visit_Name(self, node: ast.Name):
        if node.id == self.name and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(self.value), node)
        return node


def _snippet(node) -> str:
    text = ast.unparse(node) if not isinstance(node, list) else "; ".join(ast.unparse(n) for n in node)
    text = " ".join(text.split())
    return text if len(text) <= 90 else text[:87] + "..."


def mutants_of(
    fn: Callable, entry: str, arity: int, parameters: tuple[str, ...] | None = None
) -> list[Mutant]:
    """Every mutant of ``fn`` (the reference of ``entry``) and of the helpers it calls,
    compiled, with its id. ``parameters``: the student's (``student_parameters``); where
    they are not known, the first ``arity`` (what the cases pass) count as the student's."""
    closure = _closure(fn)
    trees, lines, defaults = {}, {}, {}
    if parameters is not None:
        names = list(inspect.signature(fn).parameters)
        keywords = frozenset(parameters)
        arity = next((i for i, name in enumerate(names) if name not in parameters), len(names))
        tree, lines[fn.__name__], defaults[fn.__name__] = _function_tree(fn, arity, keywords)
    else:
        tree, lines[fn.__name__], defaults[fn.__name__] = _function_tree(fn, arity)
    trees[fn.__name__] = tree
    for name, helper in closure.items():
        if name == fn.__name__:
            continue
        sites = _call_sites({fn.__name__: tree}, name)  # as called (a first pass: the reference)
        try:
            if sites is None:
                trees[name], lines[name], _ = _function_tree(helper, 10**6)
            else:
                trees[name], lines[name], _ = _function_tree(helper, *sites)
        except (OSError, TypeError, ValueError):
            continue
        defaults[name] = {}  # a helper's defaults are the grader's, not the student's
    for name, helper in closure.items():  # again, now that every caller is known
        if name == fn.__name__ or name not in trees:
            continue
        sites = _call_sites(trees, name)
        try:
            trees[name], lines[name], _ = _function_tree(helper, *(sites or (10**6,)))
        except (OSError, TypeError, ValueError):
            continue
    made: list[tuple[str, str, str, str, int, ast.FunctionDef]] = []
    for name, func in trees.items():
        params = {a.arg for a in func.args.args + func.args.kwonlyargs}
        order = list(ast.walk(func))
        parents = _parents(func)
        for index, node in enumerate(order):
            if (
                node is func
                or isinstance(node, (ast.arguments, ast.arg))
                or _inside_signature(node, func, parents)
            ):
                continue
            changes = _changes(node, parents.get(id(node)), defaults[name], params, name == fn.__name__)
            for operator, replacement in changes:
                mutated = copy.deepcopy(func)
                target = list(ast.walk(mutated))[index]
                if not isinstance(replacement, list):
                    ast.fix_missing_locations(ast.copy_location(replacement, node))
                _replace(_parents(mutated)[id(target)], target, replacement)
                line = lines[name] + getattr(node, "lineno", 1) - 1
                made.append((name, operator, _snippet(node), _snippet(replacement), line, mutated))
        for param, value in defaults[name].items():
            uses = [
                n
                for n in ast.walk(func)
                if isinstance(n, ast.Name) and n.id == param and isinstance(n.ctx, ast.Load)
            ]
            if not uses:
                continue
            mutated = copy.deepcopy(func)
            mutated.body = [_Defaulted(param, value).visit(statement) for statement in mutated.body]
            made.append((name, "default", param, f"{param} ignored (always {value!r})", lines[name], mutated))
    mutants: list[Mutant] = []
    seen: dict[str, int] = {}
    for name, operator, before, after, line, mutated in made:
        ast.fix_missing_locations(mutated)
        where = entry if name == fn.__name__ else f"{entry} > {name}"
        base = f"{where}: {operator}: {before} -> {after}"
        seen[base] = seen.get(base, 0) + 1
        mutant = Mutant(
            entry, operator, before, after, line, id=base + (f" #{seen[base]}" if seen[base] > 1 else "")
        )
        mutant.function = _compile({**trees, name: mutated}, fn, mutant.id)
        mutants.append(mutant)
    return mutants


def _inside_signature(node, func, parents) -> bool:
    while node is not None and node is not func:
        if isinstance(node, ast.arguments):
            return True
        node = parents.get(id(node))
    return False


def _compile(trees: dict[str, ast.FunctionDef], original: Callable, label: str) -> Callable | None:
    """The reference ``original`` with its helpers, from ``trees`` (one of them mutated), in a
    copy of its module's namespace: the grader's own reference is left as it is."""
    namespace = dict(original.__globals__)
    namespace.update(_HELPERS)
    module = ast.Module(list(trees.values()), [])
    try:
        code = compile(module, f"<mutant {label}>", "exec")
        exec(code, namespace)  # the grader's own reference, changed: no submission runs here
    except Exception:
        return None
    return namespace[original.__name__]


# ---------------------------------------------------------------------- judging a mutant
class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(f"the mutant ran past {MUTANT_TIMEOUT:g} s")


def _outputs(exercise: Exercise, namespace: dict):
    probe = PROBES[exercise.probe]

    def get_outputs(case):
        try:
            with np.errstate(all="ignore"):
                out = probe(namespace, exercise.entries, case)
            return codec.loads(codec.dumps(out))
        except Exception as err:  # a mutant that raises (or loops) is rejected
            raise SubmissionError(describe_exception(err)) from None

    return get_outputs


def _passes(exercise: Exercise, namespace: dict, seed: int) -> tuple[bool, str]:
    use_alarm = hasattr(signal, "SIGALRM")
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, MUTANT_TIMEOUT)
    try:
        result = judge_exercise(exercise, _outputs(exercise, namespace), seed)
    except _Timeout as err:
        return False, str(err)
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return result.passed, result.message


def _declared(exercise: Exercise, mutant_id: str) -> str | None:
    for key, reason in exercise.equivalent_mutants.items():
        if matches(key, mutant_id):
            return reason
    return None


def matches(pattern: str, mutant_id: str) -> bool:
    """Whether ``mutant_id`` is ``pattern``, where each ``*`` in it stands for any text
    (nothing else is special: ids hold brackets)."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == mutant_id
    if not (mutant_id.startswith(parts[0]) and mutant_id.endswith(parts[-1])):
        return False
    at = len(parts[0])
    for part in parts[1:-1]:
        found = mutant_id.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return at <= len(mutant_id) - len(parts[-1])


def run_exercise(
    exercise: Exercise,
    seeds: tuple[int, ...] = SEEDS,
    operators=OPERATORS,
    parameters: dict[str, tuple[str, ...]] | None = None,
) -> ExerciseReport:
    """Mutate every entry's reference and judge each mutant at ``seeds``. ``parameters``:
    each entry's parameters as the student has them (default: read from the exercise
    notebook, ``student_parameters``)."""
    report = ExerciseReport(exercise.name, exercise.chapter)
    start = time.perf_counter()
    if exercise.is_question or exercise.probe in SKIPPED_PROBES:
        report.skipped = SKIPPED_PROBES.get(exercise.probe, "a question")
        return report
    references = references_of(exercise)
    missing = [e for e in exercise.entries if e not in references]
    if missing:
        report.skipped = f"no reference function for {', '.join(missing)}"
        return report
    for entry in exercise.entries:
        namespace = dict(references)
        try:
            given = (parameters or {}).get(entry) or student_parameters(exercise, entry)
            mutants = mutants_of(references[entry], entry, _visible_arity(exercise, entry), given)
        except (OSError, TypeError, ValueError) as err:
            report.skipped = f"{entry}: its source cannot be mutated ({err})"
            return report
        for mutant in mutants:
            if mutant.operator not in operators:
                continue
            reason = _declared(exercise, mutant.id)
            if mutant.function is None:
                report.outcomes.append(Outcome(mutant, "killed", tuple(seeds), "does not compile"))
                continue
            namespace[entry] = mutant.function
            _CASTS[0] = 0
            killed, first = [], ""
            for seed in seeds:
                passed, message = _passes(exercise, namespace, seed)
                if not passed:
                    killed.append(seed)
                    first = first or message
            if "__mutant_cast" in mutant.after and _CASTS[0] == 0 and reason is None:
                reason = "the outputs are plain numbers (a number of any type is one): nothing to cast"
            if reason is not None:
                status = "equivalent-but-killed" if killed else "equivalent"
            else:
                status = "killed" if len(killed) == len(seeds) else ("flaky" if killed else "survived")
            report.outcomes.append(Outcome(mutant, status, tuple(killed), reason if reason else first[:200]))
    if tuple(operators) == OPERATORS:
        ids = [o.mutant.id for o in report.outcomes]
        report.stale = [key for key in exercise.equivalent_mutants if not any(matches(key, i) for i in ids)]
    report.seconds = time.perf_counter() - start
    return report


# ---------------------------------------------------------------------- the command
def _table(reports: list[ExerciseReport]) -> str:
    header = (
        f"{'exercise':34} {'mutants':>7} {'killed':>6} {'equiv':>5} {'survived':>8} {'flaky':>5} {'score':>6}"
    )
    lines = [header, "-" * len(header)]
    for r in reports:
        if r.skipped:
            lines.append(f"{r.name:34} {'-':>7}  ({r.skipped})")
            continue
        lines.append(
            f"{r.name:34} {r.total:7d} {r.count('killed'):6d} {r.equivalent:5d} "
            f"{r.count('survived'):8d} {r.count('flaky'):5d} {100 * r.score:5.1f}%"
        )
    for r in reports:
        if r.stale:
            lines.append(f"\n{r.name}: declared equivalent, but no such mutant: {r.stale}")
        left = [o for o in r.outcomes if o.status in ("survived", "flaky", "equivalent-but-killed")]
        if left:
            lines.append(f"\n{r.name}: not killed")
            lines.extend(
                f"  [{o.status}{' at ' + ','.join(map(str, o.killed_at)) if o.killed_at else ''}] "
                f"line {o.mutant.line}: {o.mutant.id}"
                for o in left
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="minidl-grade mutants",
        description="Mutate each exercise's reference and report which mutants its hidden cases "
        "reject (killed), accept (survived) or accept at some seeds only (flaky).",
    )
    parser.add_argument("--chapter", required=True, help="e.g. 07")
    parser.add_argument("--exercise", action="append", default=[], help="only this exercise (repeatable)")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="grading seeds, comma-separated")
    parser.add_argument(
        "--operator", action="append", default=[], choices=OPERATORS, help="only these operators"
    )
    parser.add_argument(
        "--json", dest="json_path", help="write the report as JSON here ('-': standard output)"
    )
    parser.add_argument(
        "--min-score", type=float, default=0.0, help="exit 1 if an exercise kills less than this share (0-1)"
    )
    args = parser.parse_args(argv)
    try:
        chapter = parse_chapter(args.chapter)
    except ValueError as err:
        print(f"error: --chapter: {err}", file=sys.stderr)
        return 2
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    exercises = [e for e in all_exercises() if e.chapter == chapter and not e.is_question]
    if args.exercise:
        unknown = set(args.exercise) - {e.name for e in exercises}
        if unknown:
            print(f"error: no code exercise {sorted(unknown)} in {chapter}", file=sys.stderr)
            return 2
        exercises = [e for e in exercises if e.name in args.exercise]
    reports = [run_exercise(e, seeds, tuple(args.operator) or OPERATORS) for e in exercises]
    if args.json_path != "-":
        print(_table(reports))
    if args.json_path:
        text = json.dumps(
            {"chapter": chapter, "seeds": list(seeds), "exercises": [r.as_dict() for r in reports]}, indent=1
        )
        if args.json_path == "-":
            print(text)
        else:
            with open(args.json_path, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
    low = [r for r in reports if not r.skipped and r.score < args.min_score]
    return 1 if low else 0
