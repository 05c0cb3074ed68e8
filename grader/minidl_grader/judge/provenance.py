"""Whose work is it: what an exercise cell takes from a library (read, never run).

A submission may answer ``directional_gradient_check`` by calling minidl's own
``gradcheck.numerical_gradient``, which the sandbox's stripped runtime still holds (chapter 13 needs the library), or reach for
the grader itself. ``library_uses`` reads the graded cells with ``ast`` and says, for
each exercise, which dotted names its cell uses: imports in the cell, and names bound by
imports in the setup cells (``from minidl import layers as L`` then ``L.Dense`` is
``minidl.nn.layers.Dense``). The runner flags every use of minidl (any spelling of
``minidl_grader`` included) for the instructor, and ``--forbid MODULE[.NAME]`` makes a
use of that module or name fail the exercise.

A static reading can be evaded (``exec`` of a built string); it is one of two guards:
the sandbox also replaces each forbidden name by one that raises when called
(``sandbox._forbid``). Strings that name minidl and dynamic imports are flagged too.
"""

from __future__ import annotations

import ast
import re
import threading
import types

from ..runtime.sandbox import without_magic_lines

__all__ = ["library_uses", "minidl_uses", "forbidden_uses", "is_forbidden"]

# every setup cell's import (minidl_grader's: notebooks written before issue 40)
_ALLOWED = {
    "minidl.exercises.check",
    "minidl.exercises.evaluate",
    "minidl_grader.check",
    "minidl_grader.evaluate",
}
_DYNAMIC = {"__import__", "importlib.import_module", "importlib.__import__", "exec", "eval", "compile"}

# The grader reads submissions in several threads (``--jobs``), and CPython 3.11 keeps
# ast.parse's recursion counter in state shared by the whole interpreter, not per thread: two
# parses at once failed with "SystemError: AST constructor recursion depth mismatch" (Python
# 3.11.7, --jobs 2; the counter of CPython issue 106905), which zeroed a whole submission as an
# internal grader error. So one parse at a time: a cell parses in microseconds.
_PARSE_LOCK = threading.Lock()


def _parse(source: str) -> ast.Module:
    with _PARSE_LOCK:
        return ast.parse(source)


def _canonical(dotted: str) -> str:
    """The name's home: ``minidl.layers`` (the package's short attribute) is
    ``minidl.nn.layers``, the module the attribute is bound to."""
    parts = dotted.split(".")
    if len(parts) >= 2 and parts[0] == "minidl":
        import minidl

        module = getattr(minidl, parts[1], None)
        if isinstance(module, types.ModuleType):
            return ".".join([module.__name__, *parts[2:]])
    return dotted


def _aliases(tree: ast.AST) -> dict[str, str]:
    """``{local name: dotted name}`` bound by the imports in ``tree``."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    found[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found[alias.asname or alias.name] = _canonical(f"{node.module}.{alias.name}")
    return found


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _names_a_module(text: str) -> bool:
    """Whether a string could name minidl to an import (``"minidl"``, ``"minidl.nn.layers"``, a
    path with ``minidl/``); prose that mentions minidl (a docstring) is not flagged."""
    return text.strip() in ("minidl", "minidl_grader") or (
        re.search(r"\bminidl([./\\][A-Za-z_]|_grader\b)", text) is not None
    )


def _uses(tree: ast.AST, aliases: dict[str, str]) -> set[str]:
    uses = set()
    inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            uses.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            uses.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, (ast.Attribute, ast.Name)) and id(node) not in inner:
            parts = _dotted(node)
            if parts and parts[0] in aliases:
                uses.add(".".join([aliases[parts[0]], *parts[1:]]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _names_a_module(node.value):
            uses.add(f"a string naming minidl ({node.value[:60]!r})")
        if isinstance(node, ast.Call):
            parts = _dotted(node.func)
            name = ".".join([aliases.get(parts[0], parts[0]), *parts[1:]]) if parts else ""
            if name in _DYNAMIC and not (node.args and isinstance(node.args[0], ast.Constant)):
                uses.add(f"a dynamic {name}()")
    return uses


def library_uses(cells: list[tuple[str, str, str | None]]) -> dict[str, list[str]]:
    """``{exercise: [dotted names its cell uses]}`` for ``(label, source, exercise)`` cells;
    a setup cell (``exercise`` None) is listed by its label, and its imports bind names
    for the cells after it."""
    aliases: dict[str, str] = {}
    trees = []
    for label, source, exercise in cells:
        try:
            tree = _parse(source)
        except SyntaxError:  # magics: read the rest of the cell
            try:
                tree = _parse(without_magic_lines(source))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
        except (ValueError, RecursionError, MemoryError):
            continue
        if exercise is None:
            aliases.update(_aliases(tree))
        trees.append((exercise or label.strip("<>"), tree))
    uses = {}
    for exercise, tree in trees:
        names = _uses(tree, {**aliases, **_aliases(tree)})
        uses.setdefault(exercise, set()).update(names)
    return {e: sorted(n) for e, n in uses.items()}


def is_forbidden(name: str, forbid: list[str]) -> str | None:
    """The entry of ``forbid`` that covers ``name`` (itself or a module above it)."""
    for entry in forbid:
        if name == entry or name.startswith(entry + "."):
            return entry
    return None


def minidl_uses(names: list[str], setup: bool = False) -> list[str]:
    """The uses worth a flag: minidl's library or the grader (but ``check``), strings naming
    minidl, dynamic imports. A setup cell (``setup``) imports the library the chapter
    needs: there only the grader and dynamic imports are flagged."""

    def flagged(name: str) -> bool:
        if name in _ALLOWED:
            return False
        if setup:
            return name == "minidl_grader" or name.startswith(("minidl_grader.", "a dynamic"))
        return name in ("minidl", "minidl_grader") or name.startswith(
            ("minidl.", "minidl_grader.", "a string naming", "a dynamic")
        )

    return [n for n in names if flagged(n)]


def forbidden_uses(names: list[str], forbid: list[str]) -> list[tuple[str, str]]:
    """``(name, forbid entry)`` for each use that ``forbid`` covers."""
    return [(n, entry) for n in names if (entry := is_forbidden(n, forbid))]
