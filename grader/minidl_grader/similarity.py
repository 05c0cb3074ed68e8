"""Which answers look copied: winnowed token fingerprints, as MOSS does.

The method is Schleimer, Wilkerson and Aiken's "Winnowing: local algorithms for document
fingerprinting" (SIGMOD 2003), the one behind MOSS, in four steps:

1. **normalise** -- read the cell with Python's own ``tokenize``; drop comments,
   docstrings and layout; every identifier becomes ``V``, every number ``N``, every
   string ``S`` (keywords and operators stay); a string of several lines (chapter 11's
   CUDA C) is read as C the same way. Renaming variables, changing constants or
   rewriting comments changes nothing after this step.
2. **k-grams** -- every run of ``k`` consecutive normalised tokens, hashed (CRC-32, so the
   same text gives the same hash in every run).
3. **winnowing** -- in every window of ``w`` consecutive k-gram hashes keep the smallest
   (the rightmost one on a tie). Any common run of at least ``w + k - 1`` tokens shares
   at least one kept hash, and a document keeps about ``2 / (w + 1)`` of its hashes.
4. **compare** -- per exercise, the kept hashes of two answers: ``containment`` =
   shared / the smaller answer's (a copy with extra code around it still scores 1),
   ``jaccard`` = shared / all.

What every submission receives (the exercise notebook's cell: the ``def`` line, its
docstring) is the *base*: its hashes are removed from every answer first, as MOSS's
``-b`` does. An answer with fewer than ``MIN_FINGERPRINTS`` hashes left is too short to
tell a copy from the one obvious way of writing it (``return w - lr * dw``), and is not
compared. Before step 1 the cell is rewritten in one spelling (``ast.unparse``: the
parentheses, quotes and line breaks Python's printer puts), without the statements that
cannot change a result (``pass``, a bare constant, ``assert True``, ``x = x``, an
assignment to a name no code reads, ``if False:``, ``x + 0``, ...: a copy padded with them
reads as the original), and with each run of consecutive assignments in one order that keeps
their dependencies (a copy with independent assignments swapped reads as the original); its
lines mapped back to the cell's for the report.

A pair is reported at or above its exercise's threshold (``threshold``), set per exercise
on independent right answers (short formulaic exercises have their own baseline) by
``tools/similarity_thresholds.py``, which writes ``similarity_thresholds.json`` and the
false-positive and false-negative rates measured on a held-out half (``grader/README.md``,
"Similarity"). ``THRESHOLD``: the floor of every threshold, and the threshold of an
exercise the file does not name (a private course's).
"""

from __future__ import annotations

import ast
import bisect
import heapq
import html
import io
import itertools
import json
import keyword
import re
import tokenize
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .judge import reading

__all__ = [
    "K",
    "W",
    "THRESHOLD",
    "THRESHOLDS_FILE",
    "threshold",
    "MIN_FINGERPRINTS",
    "SOLUTIONS",
    "normalized_tokens",
    "fingerprint",
    "Fingerprint",
    "compare",
    "Match",
    "compare_batch",
    "highest",
    "write_report",
]

# K, W and MIN_FINGERPRINTS were set on tests/grader/grading_similarity_data.py; the
# thresholds per exercise by tools/similarity_thresholds.py (grader/README.md, "Similarity").
K = 7  # tokens per k-gram
W = 6  # k-gram hashes per winnowing window: any common run of W + K - 1 = 12 tokens is found
THRESHOLD = 0.5  # the lowest threshold, and that of an exercise not in THRESHOLDS_FILE
THRESHOLDS_FILE = Path(__file__).with_name("similarity_thresholds.json")
MIN_FINGERPRINTS = 8  # fewer kept hashes than this (after the base): too short to compare
# The work on an answer is bounded (issue 68): the grader reads it in its own process, so a
# cell of tens of thousands of lines must not stall the batch. The longest published
# solution is about 1,600 characters and 500 tokens.
MAX_CANONICAL_CHARS = 20_000  # longer: read as written (no one spelling, no one order)
MAX_READ_CHARS = 400_000  # longer: only this much is read (the Fingerprint says ``cut``)
MAX_TOKENS = 20_000  # more: only the first are fingerprinted (the Fingerprint says ``cut``)
SOLUTIONS = "published solution"  # how the published solutions are named in a pair

_LAYOUT = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


def normalized_tokens(source: str, depth: int = 0) -> list[tuple[str, int]]:
    """``(token, line)`` for each token of ``source`` that carries meaning, normalised:
    identifiers -> ``V``, numbers -> ``N``, strings -> ``S``; comments, docstrings and
    layout dropped; ``line`` counts from 1 in ``source``.

    Magics are read for the code they run (``reading.readable_source``: ``%time f(x)`` is
    ``f(x)``, a ``%%time`` cell its body); a string whose contents are Python of at least
    ``K`` tokens (``exec("...")``, a solution pasted into a string) is read as that code,
    ``reading.MAX_DEPTH`` strings deep; code Python cannot tokenize (an unclosed bracket)
    gives the tokens read before the problem.

    Bounded (``MAX_CANONICAL_CHARS``, ``MAX_READ_CHARS``, ``MAX_TOKENS``): time and memory
    about linear in the first ``MAX_READ_CHARS`` characters; ``cut_short`` says whether
    an answer was read only in part."""
    source = _first_chars(source)
    text, lines_of = _canonical(reading.readable_source(source))
    tokens: list[tuple[str, int]] = []
    statement_start = True  # a string alone at the start of a statement is a docstring
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _LAYOUT:
                if tok.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                    statement_start = True
                continue
            if tok.type == tokenize.STRING and statement_start:
                continue  # a docstring (or a bare string statement): it reads as a comment
            statement_start = False
            code = _python_in_string(tok.string, depth) if tok.type == tokenize.STRING else None
            if code is not None:  # exec("..."): the code's own tokens, on the string's line
                tokens += [(word, lines_of(tok.start[0]) + line - 1) for word, line in code]
                continue
            value = _string_value(tok.string) if tok.type == tokenize.STRING else None
            if value is not None and "\n" in value:  # CUDA C: its own tokens
                tokens += _source_in_string(value, lines_of(tok.start[0]))
                continue
            if tok.type == tokenize.NAME:
                word = tok.string if keyword.iskeyword(tok.string) else "V"
            elif tok.type == tokenize.NUMBER:
                word = "N"
            elif tok.type == tokenize.STRING:
                word = "S"
            else:
                word = tok.string
            tokens.append((word, lines_of(tok.start[0])))
            if len(tokens) >= MAX_TOKENS:
                break
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return tokens[:MAX_TOKENS]


def _first_chars(source: str) -> str:
    """``source`` up to ``MAX_READ_CHARS`` characters, cut at a line's end."""
    if len(source) <= MAX_READ_CHARS:
        return source
    return source[: source.rfind("\n", 0, MAX_READ_CHARS) + 1]


def cut_short(source: str) -> bool:
    """Whether ``normalized_tokens`` reads only part of ``source`` (``MAX_READ_CHARS``,
    ``MAX_TOKENS``): such an answer is compared on its first part, and the report says so."""
    return len(source) > MAX_READ_CHARS or len(normalized_tokens(source)) >= MAX_TOKENS


def _canonical(source: str):
    """``(text, lines_of)``: the cell as ``ast.unparse`` writes it (one spelling of every
    construct: parentheses, quotes, line breaks and comments as Python's own printer puts
    them, so that ``a, b = x, y`` and ``(a, b) = (x, y)`` are the same tokens), without the
    statements that change no result (``_without_no_ops``) and with independent neighbouring
    assignments in one order (``_in_one_order``); and a function from a line of that text to
    the line of ``source`` it comes from (the report marks the student's lines, a moved
    statement's where the student wrote it). A cell that does not parse is read as it is."""
    if len(source) > MAX_CANONICAL_CHARS:  # too long to rewrite within bounds: as written
        return source, lambda line: line
    for simplified in (True, False):  # without the no-ops, else (too deep) with them
        try:
            tree = ast.parse(source)
            if simplified:
                tree = _in_one_order(_without_no_ops(_one_meaning(tree)))
            text = ast.unparse(tree) + "\n"
            again = ast.parse(text)
            break
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    else:
        return source, lambda line: line
    origin: dict[int, int] = {}
    for new, old in zip(ast.walk(again), ast.walk(tree)):  # the same tree, node for node
        new_line, old_line = getattr(new, "lineno", None), getattr(old, "lineno", None)
        if new_line is not None and old_line is not None:
            origin.setdefault(new_line, old_line)
    known = sorted(origin)

    def lines_of(line: int) -> int:
        at = bisect.bisect_right(known, line)
        return origin[known[at - 1]] + (line - known[at - 1]) if at else line

    return text, lines_of


# ---------------------------------------------------------------------- one meaning, one form
# Rewrites that keep what the code computes broke a copy's runs of tokens (issue 68): every
# read wrapped in an identity helper (``_i(x)``), operands of + and * swapped, ``a @ b`` for
# ``np.matmul(a, b)``, ``np.sum(x)`` for ``x.sum()``, ``x * x`` for ``x ** 2``. Each is put in
# one form before the tokens are read, in the original and the copy alike.
_NUMPY = {"np", "numpy"}
# NumPy functions whose first argument is the array a method of the same name works on
_AS_METHOD = {
    "sum", "mean", "max", "min", "prod", "std", "var", "argmax", "argmin", "any", "all",
    "cumsum", "cumprod", "ravel", "transpose", "clip", "round", "dot", "reshape", "squeeze",
    "nonzero", "argsort", "sort", "trace", "conj", "copy", "astype", "flatten",
}  # fmt: skip
_COMMUTATIVE = (ast.Add, ast.Mult, ast.BitAnd, ast.BitOr, ast.BitXor)


def _helpers(tree: ast.Module) -> dict[str, ast.expr | None]:
    """``{name: None}`` for each top-level function that returns its only argument (an
    identity helper), ``{name: callee}`` for one that returns a call of ``callee`` with its
    own arguments, in order (a forwarding helper)."""
    found: dict[str, ast.expr | None] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.decorator_list:
            continue
        body = node.body[1:] if ast.get_docstring(node) is not None else node.body
        a = node.args
        if len(body) != 1 or not isinstance(body[0], ast.Return) or a.vararg or a.kwarg or a.kwonlyargs:
            continue
        params = [p.arg for p in a.posonlyargs + a.args]
        value = body[0].value
        if len(params) == 1 and isinstance(value, ast.Name) and value.id == params[0]:
            found[node.name] = None
        elif (
            isinstance(value, ast.Call)
            and not value.keywords
            and [getattr(v, "id", None) for v in value.args] == params
            and not any(isinstance(n, ast.Name) and n.id in params for n in ast.walk(value.func))
        ):
            found[node.name] = value.func
    return found


class _OneForm(ast.NodeTransformer):
    """The rewrites above, bottom-up (``_one_meaning``)."""

    def __init__(self, helpers: dict[str, ast.expr | None]):
        self.helpers = helpers

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node = self.generic_visit(node)  # type: ignore[assignment]
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.helpers and not node.keywords:
            callee = self.helpers[func.id]
            if callee is None and len(node.args) == 1 and not isinstance(node.args[0], ast.Starred):
                return node.args[0]
            if callee is not None:
                return ast.Call(func=callee, args=node.args, keywords=[])
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in _NUMPY
            and node.args
            and not isinstance(node.args[0], ast.Starred)
        ):
            if func.attr == "matmul" and len(node.args) == 2 and not node.keywords:
                return ast.BinOp(left=node.args[0], op=ast.MatMult(), right=node.args[1])
            if func.attr in _AS_METHOD:
                method = ast.Attribute(value=node.args[0], attr=func.attr, ctx=ast.Load())
                return ast.Call(func=method, args=node.args[1:], keywords=node.keywords)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.generic_visit(node)  # type: ignore[assignment]
        if isinstance(node.op, ast.Mult) and _pure(node.left) and ast.dump(node.left) == ast.dump(node.right):
            return ast.BinOp(left=node.left, op=ast.Pow(), right=ast.Constant(2))
        if isinstance(node.op, _COMMUTATIVE):
            operands = _chain(node, type(node.op))
            operands.sort(key=_expr_key)
            result = operands[0]
            for operand in operands[1:]:
                result = ast.BinOp(left=result, op=type(node.op)(), right=operand)
            return ast.copy_location(result, node)
        return node


def _chain(node: ast.expr, op: type) -> list[ast.expr]:
    """The operands of ``a op b op c`` (however grouped)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, op):
        return _chain(node.left, op) + _chain(node.right, op)
    return [node]


def _expr_key(node: ast.expr) -> tuple[str, ...]:
    return _words(ast.Expr(value=node))


def _one_meaning(tree: ast.Module) -> ast.Module:
    """``tree`` with identity and forwarding helpers inlined (their definitions dropped),
    ``np.matmul(a, b)`` as ``a @ b``, ``np.f(x, ...)`` as ``x.f(...)``, ``x * x`` as
    ``x ** 2`` and the operands of +, *, &, |, ^ in one order (by their normalised tokens)."""
    helpers = _helpers(tree)
    tree.body = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name in helpers)]
    tree = _OneForm(helpers).visit(tree)
    return ast.fix_missing_locations(tree)


# ---------------------------------------------------------------------- no-op statements
# Padding a copy with statements that change nothing (``pass``, ``_unused = None``,
# ``assert True``) cut its runs of tokens short of the original's; each is dropped before
# the tokens are read, in the original and the copy alike. Every rule drops only what
# cannot change what right code computes.
_PURE = (
    ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.List,
    ast.Set, ast.Dict, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
    ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip
_INTROSPECTION = {"locals", "vars", "globals", "eval", "exec", "dir"}  # names read by name
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef)
_EXITS = (ast.Return, ast.Raise, ast.Continue, ast.Break)


def _pure(node: ast.AST) -> bool:
    """Whether evaluating ``node`` only reads (no call, no assignment expression)."""
    return all(isinstance(n, _PURE) for n in ast.walk(node))


def _number(node: ast.AST, value: int) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value == value


def _names_of(target: ast.AST) -> list[str] | None:
    """The names a plain target binds (``x``; ``a, b``), None for an item or an attribute."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        names = [e.id for e in target.elts if isinstance(e, ast.Name)]
        return names if len(names) == len(target.elts) else None
    return None


class _NoOps(ast.NodeTransformer):
    """One pass of the rules (``_without_no_ops`` repeats it while fewer names are read).

    Expressions: ``x + 0``, ``0 + x``, ``x - 0``, ``x * 1``, ``1 * x``, ``x / 1``, ``x ** 1``
    and ``+x`` are ``x`` (the same values; a dtype at most). Statements dropped: ``pass``; a
    constant alone (a docstring, ``...``); a pure expression alone (``x.shape``); ``assert``
    of a true constant; ``print(end="")``; ``x = x``; ``x += 0``; whatever follows a
    ``return``, ``raise``, ``break`` or ``continue``; ``if`` on a constant (its live branch
    stays), ``while`` on a false one; an ``if`` whose branches are both empty. An assignment
    to a name no code of the cell reads (a function's local, or a ``_name`` outside
    functions: the cell's other names are read by the next cells and the grader) becomes its
    value alone, dropped if pure; ``del`` of such a name, or of a function's local, goes.
    Kept: ``x += v`` (an array changed in place), and every assignment of a cell that reads
    names by name (``locals()``, ``eval``, ``exec``)."""

    def __init__(self, read: set[str]):
        self.read = read  # the names the cell reads (``_read_names``)
        self.introspects = bool(read & _INTROSPECTION)
        self.in_function = False

    def _dead(self, name: str) -> bool:
        return not self.introspects and name not in self.read and (self.in_function or name.startswith("_"))

    # expressions
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        kept = None
        if isinstance(node.op, (ast.Add, ast.Sub)) and _number(node.right, 0):
            kept = node.left
        elif isinstance(node.op, ast.Add) and _number(node.left, 0):
            kept = node.right
        elif isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)) and _number(node.right, 1):
            kept = node.left
        elif isinstance(node.op, ast.Mult) and _number(node.left, 1):
            kept = node.right
        return node if kept is None else kept

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.UAdd):
            return node.operand
        return node

    # scopes
    def _scope(self, node: ast.AST, in_function: bool) -> ast.AST:
        outer, self.in_function = self.in_function, in_function
        try:
            return self.generic_visit(node)
        finally:
            self.in_function = outer

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._scope(node, True)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._scope(node, True)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._scope(node, False)  # its names are the class's attributes

    # statements
    def generic_visit(self, node: ast.AST) -> ast.AST:
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and any(isinstance(v, ast.stmt) for v in value):
                body = self._statements(value)
                if not body and name == "body" and not isinstance(node, ast.Module):
                    body = [ast.copy_location(ast.Pass(), node)]
                setattr(node, name, body)
            elif isinstance(value, list):
                kept = [self.visit(v) if isinstance(v, ast.AST) else v for v in value]
                setattr(node, name, [v for v in kept if v is not None])
            elif isinstance(value, ast.AST):
                setattr(node, name, self.visit(value))
        return node

    def _statements(self, body: list) -> list:
        kept: list = []
        for statement in body:
            for s in self._statement(statement):
                kept.append(s)
                if isinstance(s, _EXITS):
                    return kept  # what follows is never run
        return kept

    def _statement(self, node: ast.stmt) -> list:
        """What ``node`` becomes: no statement, itself, or the statements it stands for."""
        if isinstance(node, ast.If) and isinstance(node.test, ast.Constant):
            return self._statements(node.body if node.test.value else node.orelse)
        if isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and not node.test.value:
            return self._statements(node.orelse)
        node = self.visit(node)
        if isinstance(node, ast.Pass):
            return []
        if isinstance(node, ast.Expr):
            return [] if _pure(node.value) or self._prints_nothing(node.value) else [node]
        if isinstance(node, ast.Assert):
            return [] if isinstance(node.test, ast.Constant) and node.test.value else [node]
        if isinstance(node, ast.If) and not node.orelse and [type(s) for s in node.body] == [ast.Pass]:
            return [] if _pure(node.test) else [node]
        if isinstance(node, ast.AugAssign):
            zero = isinstance(node.op, (ast.Add, ast.Sub)) and _number(node.value, 0)
            one = isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)) and _number(node.value, 1)
            return [] if zero or one else [node]  # else kept: an array changed in place
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and self._dead(node.target.id)
        ):
            return self._value_alone(node.value, node) if node.value else []
        if isinstance(node, ast.Assign):
            return self._assignment(node)
        if isinstance(node, ast.Delete):
            names = [_names_of(t) for t in node.targets]
            gone = all(n is not None and all(self.in_function or self._dead(x) for x in n) for n in names)
            return [] if gone else [node]
        return [node]

    def _assignment(self, node: ast.Assign) -> list:
        value = _names_of(node.value)
        targets = [
            t
            for t in node.targets
            if not (isinstance(t, ast.Name) and self._dead(t.id))  # never read
            and not (value is not None and _names_of(t) == value and len(set(value)) == len(value))
        ]  # x = x; a, b = a, b
        if not targets:
            return self._value_alone(node.value, node)
        node.targets = targets
        return [node]

    @staticmethod
    def _value_alone(value: ast.expr, where: ast.stmt) -> list:
        return [] if _pure(value) else [ast.copy_location(ast.Expr(value), where)]

    @staticmethod
    def _prints_nothing(value: ast.expr) -> bool:
        """``print(end="")``: no argument to print and nothing at the end."""
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "print"
            and not value.args
            and any(
                k.arg == "end" and isinstance(k.value, ast.Constant) and k.value.value == ""
                for k in value.keywords
            )
            and all(k.arg in ("end", "sep", "flush", "file") and _pure(k.value) for k in value.keywords)
        )


def _read_names(tree: ast.AST) -> set[str]:
    """The names read anywhere in ``tree`` (``x += v`` reads ``x``: an array it changes in
    place), and those declared ``global`` or ``nonlocal``."""
    read = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            read.add(n.id)
        elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            read.add(n.target.id)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            read.update(n.names)
    return read


def _without_no_ops(tree: ast.Module) -> ast.Module:
    """``tree`` without the statements that change no result (``_NoOps``), again while a
    pass leaves fewer names read (``b = a`` goes once ``a``'s only reader has gone)."""
    read = _read_names(tree)
    for _ in range(5):
        tree = _NoOps(read).visit(tree)
        now = _read_names(tree)
        if now == read:
            break
        read = now
    return tree


# ---------------------------------------------------------------------- one order
# A copy with independent neighbouring assignments swapped (``a = f(x)`` and ``b = g(y)``)
# broke every run of tokens across the swap. In each run of consecutive assignments, the
# statements are put in one order that keeps every dependency (a statement stays after
# those that write what it reads or writes, or read what it writes): repeatedly, of the
# statements whose own dependencies are placed, the one of smallest normalised text
# (``_words``) is placed next. Every order of the same statements that keeps the dependencies, renamed or
# not, gives that one order; the lines stay the student's.
_MOVABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign)


def _reads_and_writes(node: ast.stmt) -> tuple[set[str], set[str]]:
    """The names ``node`` reads, and those it writes (``x[i] = v`` and ``x.a = v`` write
    ``x``; ``x += v`` reads ``x`` too)."""
    reads: set[str] = set()
    writes: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (reads if isinstance(n.ctx, ast.Load) else writes).add(n.id)
        elif isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            base = n.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                writes.add(base.id)
    if isinstance(node, ast.AugAssign):
        reads |= writes
    return reads, writes


def _words(node: ast.stmt) -> tuple[str, ...]:
    """``node``'s normalised tokens (``normalized_tokens`` without lines, strings read as
    strings): renamed statements have the same."""
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(ast.unparse(node)).readline):
            if tok.type in _LAYOUT:
                continue
            if tok.type == tokenize.NAME:
                found.append(tok.string if keyword.iskeyword(tok.string) else "V")
            else:
                found.append({tokenize.NUMBER: "N", tokenize.STRING: "S"}.get(tok.type, tok.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return tuple(found)


def _ordered(run: list) -> list:
    """``run`` (consecutive assignments) in the one order (see above), in time about linear
    in the run's length: each statement waits only for the last writer of every name it
    reads or writes and for the readers of every name it writes since that name's last
    writer (the same order as waiting for every earlier statement it depends on, whose
    dependencies these carry), and the ready statements wait in a heap."""
    if len(run) < 2:
        return run
    keys = [_words(s) for s in run]
    after: list[list[int]] = [[] for _ in run]  # i -> the statements that wait for i
    waiting = [0] * len(run)
    last_writer: dict[str, int] = {}
    readers: dict[str, list[int]] = {}  # name -> who read it since its last writer
    for j, statement in enumerate(run):
        reads, writes = _reads_and_writes(statement)
        before = {last_writer[n] for n in reads | writes if n in last_writer}
        for n in writes:
            before.update(readers.pop(n, ()))
        before.discard(j)
        for i in before:
            after[i].append(j)
        waiting[j] = len(before)
        for n in reads - writes:
            readers.setdefault(n, []).append(j)
        for n in writes:
            last_writer[n] = j
    ready = [(keys[j], j) for j in range(len(run)) if not waiting[j]]
    heapq.heapify(ready)
    placed: list[int] = []
    while ready:
        _, i = heapq.heappop(ready)
        placed.append(i)
        for j in after[i]:
            waiting[j] -= 1
            if not waiting[j]:
                heapq.heappush(ready, (keys[j], j))
    return [run[j] for j in placed]


def _in_one_order(tree: ast.Module) -> ast.Module:
    """``tree`` with every run of consecutive assignments in the one order (``_ordered``)."""
    for node in ast.walk(tree):
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and any(isinstance(v, ast.stmt) for v in value):
                ordered, run = [], []
                for statement in value + [None]:
                    if isinstance(statement, _MOVABLE):
                        run.append(statement)
                        continue
                    ordered += _ordered(run)
                    run = []
                    if statement is not None:
                        ordered.append(statement)
                setattr(node, name, ordered)
    return tree


def _string_value(literal: str) -> str | None:
    """The text a string literal holds (None for an f-string or bytes that are not text)."""
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _python_in_string(literal: str, depth: int) -> list[tuple[str, int]] | None:
    """The normalised tokens of the Python a string literal holds, if it holds at least
    ``K`` tokens of it (prose, a format or a shape does not parse); None otherwise."""
    if depth >= reading.MAX_DEPTH or len(literal) < 2 * K:
        return None
    value = _string_value(literal)  # None: an f-string, its contents are not one constant text
    if value is None or reading.parse_cell(value) is None:
        return None
    found = normalized_tokens(value, depth + 1)
    return found if len(found) >= K else None


# A string of several lines is code in another language (chapter 11's CUDA C kernels):
# its C tokens are normalised the same way (comments dropped, identifiers -> V).
_C_TOKEN = re.compile(r"//[^\n]*|/\*.*?\*/|[A-Za-z_]\w*|\d[\w.]*|\S", re.S)
_C_KEYWORDS = {
    "if", "else", "for", "while", "do", "return", "break", "continue", "int", "float", "double",
    "const", "void", "unsigned", "long", "extern", "__global__", "__device__", "__shared__",
}  # fmt: skip


def _source_in_string(code: str, first_line: int) -> list[tuple[str, int]]:
    tokens = []
    for match in _C_TOKEN.finditer(code):
        text = match.group()
        line = first_line + code.count("\n", 0, match.start())
        if text.startswith(("//", "/*")):
            continue
        if text[0].isalpha() or text[0] == "_":
            text = text if text in _C_KEYWORDS else "V"
        elif text[0].isdigit():
            text = "N"
        tokens.append((text, line))
    return tokens


_thresholds: dict[str, float] = {}


def threshold(exercise: str) -> float:
    """The containment at or above which a pair of answers to ``exercise`` is reported: its
    own (``THRESHOLDS_FILE``; above 1: never), else ``THRESHOLD``."""
    if not _thresholds:
        _thresholds.update(json.loads(THRESHOLDS_FILE.read_text(encoding="utf-8"))["exercises"])
    return _thresholds.get(exercise, THRESHOLD)


@dataclass
class Fingerprint:
    """An answer's kept hashes, each with the lines of its k-gram(s) (``_lines``)."""

    source: str
    hashes: dict[int, list[tuple[int, ...]]] = field(default_factory=dict)
    cut: bool = False  # read only in part (``MAX_READ_CHARS``, ``MAX_TOKENS``)

    def __len__(self) -> int:
        return len(self.hashes)


def _lines(lines: list[int]) -> tuple[int, ...]:
    """The cell's lines a k-gram covers, from its tokens' lines in order: from each line to
    the next when it is further down (a statement's own continuation lines included), the
    two alone when a moved statement comes back up (``_in_one_order``)."""
    covered = {lines[0]}
    for before, after in itertools.pairwise(lines):
        covered.update(range(before, after + 1) if after >= before else (after,))
    return tuple(sorted(covered))


def _kgram_hashes(tokens: list[tuple[str, int]], k: int) -> list[tuple[int, tuple[int, ...]]]:
    """``(hash, the lines it covers)`` of each run of ``k`` tokens."""
    return [
        (
            zlib.crc32(" ".join(t for t, _ in tokens[i : i + k]).encode()),
            _lines([line for _, line in tokens[i : i + k]]),
        )
        for i in range(len(tokens) - k + 1)
    ]


def _winnow(hashes: list[tuple[int, tuple[int, ...]]], w: int) -> list[tuple[int, tuple[int, ...]]]:
    """The smallest hash of every window of ``w`` (rightmost on a tie), each position once."""
    if not hashes:
        return []
    kept, last = [], -1
    for start in range(max(1, len(hashes) - w + 1)):
        window = hashes[start : start + w]
        smallest = min(h for h, _ in window)
        position = start + max(i for i, (h, _) in enumerate(window) if h == smallest)
        if position != last:
            kept.append(hashes[position])
            last = position
    return kept


def fingerprint(source: str, base: str = "", k: int = K, w: int = W) -> Fingerprint:
    """The winnowed fingerprint of ``source`` without the hashes that ``base`` (the code
    every student was given) has."""
    given = {h for h, _ in _kgram_hashes(normalized_tokens(base), k)} if base else set()
    tokens = normalized_tokens(source)
    found = Fingerprint(source, cut=len(source) > MAX_READ_CHARS or len(tokens) >= MAX_TOKENS)
    for h, lines in _winnow(_kgram_hashes(tokens, k), w):
        if h not in given:
            found.hashes.setdefault(h, []).append(lines)
    return found


@dataclass
class Match:
    """How much two answers to one exercise share; ``lines_*``: the lines that match."""

    exercise: str
    left: str
    right: str
    containment: float  # shared hashes / the smaller answer's
    jaccard: float  # shared hashes / all hashes
    left_source: str = ""
    right_source: str = ""
    left_lines: set[int] = field(default_factory=set)
    right_lines: set[int] = field(default_factory=set)
    cut: bool = False  # either answer read only in part (``Fingerprint.cut``)

    @property
    def score(self) -> float:
        return self.containment


def compare(
    a: Fingerprint, b: Fingerprint, exercise: str = "", left: str = "", right: str = ""
) -> Match | None:
    """The match between two fingerprints; ``None`` when either is too short to tell."""
    if min(len(a), len(b)) < MIN_FINGERPRINTS:
        return None
    shared = a.hashes.keys() & b.hashes.keys()
    match = Match(
        exercise,
        left,
        right,
        containment=len(shared) / min(len(a), len(b)),
        jaccard=len(shared) / len(a.hashes.keys() | b.hashes.keys()),
        left_source=a.source,
        right_source=b.source,
        cut=a.cut or b.cut,
    )
    for h in shared:
        for lines, spans in ((match.left_lines, a.hashes[h]), (match.right_lines, b.hashes[h])):
            for span in spans:
                lines.update(span)
    return match


def compare_batch(
    answers: dict[str, dict[str, str]],
    solutions: dict[str, str] | None = None,
    base: dict[str, str] | None = None,
) -> list[Match]:
    """Every comparable pair, the highest score first.

    answers : ``{submission: {exercise: its cell's source}}``
    solutions : ``{exercise: the published solution's cell}``, compared with every submission
    base : ``{exercise: the cell as handed out}``, removed from every answer first
    """
    solutions, base = solutions or {}, base or {}
    prints = {
        who: {name: fingerprint(source, base.get(name, "")) for name, source in cells.items()}
        for who, cells in answers.items()
    }
    published = {name: fingerprint(source, base.get(name, "")) for name, source in solutions.items()}
    found = []
    for left, right in itertools.combinations(sorted(prints), 2):
        for name in sorted(prints[left].keys() & prints[right].keys()):
            match = compare(prints[left][name], prints[right][name], name, left, right)
            if match:
                found.append(match)
    for who in sorted(prints):
        for name in sorted(prints[who].keys() & published.keys()):
            match = compare(prints[who][name], published[name], name, who, SOLUTIONS)
            if match:
                found.append(match)
    return sorted(found, key=lambda m: (-m.score, m.exercise, m.left, m.right))


def highest(matches: list[Match], who: str) -> str:
    """The CSV's ``similarity`` cell for submission ``who``: its highest score, with whom
    and on which exercise (``0.93 bob.ipynb: im2col``); empty when nothing was comparable or
    nothing is shared."""
    mine = [m for m in matches if who in (m.left, m.right)]
    if not mine:
        return ""
    best = max(mine, key=lambda m: m.score)
    if best.score <= 0:  # nothing shared: no one to name
        return ""
    other = best.right if best.left == who else best.left
    return f"{best.score:.2f} {other}: {best.exercise}"


# ---------------------------------------------------------------------- the report
def write_report(path, matches: list[Match], limit: float | None = None) -> int:
    """Write the pairs at or above ``limit`` (None: their exercise's ``threshold``) to
    ``path`` (``.html``, else Markdown), with their matching lines side by side. Returns how
    many pairs it lists.

    Everything a submission controls (its code, its file name) is escaped: HTML by
    ``html.escape``; Markdown inside a fence longer than any run of backticks in it."""
    flagged = [m for m in matches if m.score >= (threshold(m.exercise) if limit is None else limit)]
    path = Path(path)
    text = _html(flagged, limit) if path.suffix.lower() in (".html", ".htm") else _markdown(flagged, limit)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return len(flagged)


def _summary(m: Match) -> str:
    return (
        f"{m.exercise}: {m.left} and {m.right}: containment {m.containment:.2f} "
        f"(threshold {threshold(m.exercise):.2f}), jaccard {m.jaccard:.2f}"
        + (f" (an answer too long to read whole: compared on its first {MAX_TOKENS} tokens)" if m.cut else "")
    )


def _heading(count: int, limit: float | None) -> str:
    at = "its exercise's threshold" if limit is None else f"containment {limit:.2f}"
    return (
        f"{count} pair(s) of answers at or above {at} (winnowed token "
        f"fingerprints, k={K}, w={W}; identifiers, literals and comments normalised away). "
        "Matching lines are marked. A high score is a reason to read both answers, not a verdict."
    )


def _html(flagged: list[Match], limit: float | None) -> str:
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Similarity report</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;width:100%}"
        "td{vertical-align:top;border:1px solid #ccc;width:50%}pre{margin:0;white-space:pre-wrap}"
        ".same{background:#ffe08a}</style></head><body>",
        f"<h1>Similarity report</h1><p>{html.escape(_heading(len(flagged), limit))}</p>",
    ]
    for m in flagged:
        parts.append(f"<h2>{html.escape(_summary(m))}</h2><table><tr>")
        parts.append(f"<th>{html.escape(m.left)}</th><th>{html.escape(m.right)}</th></tr><tr>")
        for source, same in ((m.left_source, m.left_lines), (m.right_source, m.right_lines)):
            rows = []
            for number, line in enumerate(source.splitlines(), 1):
                marked = " class='same'" if number in same else ""
                rows.append(f"<span{marked}>{number:3d} {html.escape(line)}</span>")
            parts.append("<td><pre>" + "\n".join(rows) + "</pre></td>")
        parts.append("</tr></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _markdown_cell(text: str) -> str:
    """Text for a Markdown heading or table cell: no markup a file name could inject."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|])", r"\\\1", " ".join(text.split()))


def _side_by_side(m: Match, width: int = 60) -> str:
    """The two answers in two columns, line by line; ``>`` marks a matching line."""
    left, right = m.left_source.splitlines(), m.right_source.splitlines()
    rows = []
    for number in range(1, max(len(left), len(right)) + 1):
        cells = []
        for lines, same in ((left, m.left_lines), (right, m.right_lines)):
            text = lines[number - 1].expandtabs(4) if number <= len(lines) else ""
            text = text if len(text) <= width else text[: width - 1] + "…"
            mark = ">" if number in same and number <= len(lines) else " "
            cells.append(f"{mark}{number:3d} {text:<{width}}")
        rows.append(" | ".join(cells).rstrip())
    return "\n".join(rows)


def _markdown(flagged: list[Match], limit: float | None) -> str:
    parts = ["# Similarity report", "", _markdown_cell(_heading(len(flagged), limit)), ""]
    for m in flagged:
        body = _side_by_side(m)
        fence = _fence(body)
        parts += [
            f"## {_markdown_cell(_summary(m))}",
            "",
            f"left: {_markdown_cell(m.left)}; right: {_markdown_cell(m.right)}; `>`: a matching line",
            "",
            fence,
            body,
            fence,
            "",
        ]
    return "\n".join(parts) + "\n"
