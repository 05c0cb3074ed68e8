"""Whose work is it: what an exercise cell takes from a library (read, never run).

A submission may answer ``directional_gradient_check`` by calling minidl's own
``gradcheck.numerical_gradient``, which the sandbox's stripped runtime still holds (chapter 9 needs the library), or reach for
the grader itself. ``library_uses`` reads the graded cells with ``ast`` and says, for
each exercise, which dotted names its cell uses: imports in the cell, and names bound by
imports in the setup cells (``from minidl import layers as L`` then ``L.Dense`` is
``minidl.nn.layers.Dense``). The runner flags every use of minidl (any spelling of
``minidl_grader`` included) for the instructor, and ``--forbid MODULE[.NAME]`` makes a
use of that module or name fail the exercise.

The reading sees what the cell runs (``reading.py``): the code of its magics (``%time``,
``%%time``, ...) and the constant strings it hands to ``exec``, ``eval`` or ``compile``. A
string built at run time escapes it; what an exercise forbids is then still absent from the
process that runs it (``confinement/overlay.py``). Strings that name minidl and dynamic
imports are flagged too.
"""

from __future__ import annotations

import ast
import re
import types

from minidl.exercises import forbid_covers, library_object

from . import reading

__all__ = [
    "library_uses",
    "minidl_uses",
    "forbidden_uses",
    "is_forbidden",
    "grader_uses",
    "spec_forbidden_uses",
    "tampering",
    "GRADER",
]

# every setup cell's import (minidl_grader's: notebooks written before issue 40)
_ALLOWED = {
    "minidl.exercises.check",
    "minidl.exercises.evaluate",
    "minidl_grader.check",
    "minidl_grader.evaluate",
}
# The grader in its spellings: the distribution, and its old home inside minidl. A graded
# cell that uses it (but ``check``) fails: the references are not in the sandbox, but its
# probes are, and they are what the verdict trusts.
GRADER = ("minidl_grader", "minidl.grading")
_DYNAMIC = {"__import__", "importlib.import_module", "importlib.__import__", "exec", "eval", "compile"}


_PARSE_LOCK = reading.PARSE_LOCK  # one ast.parse at a time across grading threads (reading.py)


def _parse(source: str) -> ast.Module:
    tree = reading._parse(source)
    assert isinstance(tree, ast.Module)
    return tree


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
    uses: set[str] = set()
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


def _parse_cell(source: str) -> ast.Module | None:
    """A cell's syntax tree as it runs: magics read for the code they run, and the constant
    strings it hands to ``exec``/``eval``/``compile`` parsed as code (``reading.parse_cell``);
    None for one that is not Python, or too deep or too large to read."""
    return reading.parse_cell(source)


def library_uses(cells: list[tuple[str, str, str | None]]) -> dict[str, list[str]]:
    """``{exercise: [dotted names its cell uses]}`` for ``(label, source, exercise)`` cells;
    a setup cell (``exercise`` None) is listed by its label, and its imports bind names
    for the cells after it."""
    aliases: dict[str, str] = {}
    trees = []
    for label, source, exercise in cells:
        tree = _parse_cell(source)
        if tree is None:
            continue
        if exercise is None:
            aliases.update(_aliases(tree))
        trees.append((exercise or label.strip("<>"), tree))
    uses: dict[str, set[str]] = {}
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
        return name in ("minidl", "minidl_grader", "minidl_keras") or name.startswith(
            ("minidl.", "minidl_grader.", "minidl_keras.", "a string naming", "a dynamic")
        )

    return [n for n in names if flagged(n)]


def forbidden_uses(names: list[str], forbid: list[str]) -> list[tuple[str, str]]:
    """``(name, forbid entry)`` for each use that ``forbid`` covers."""
    return [(n, entry) for n in names if (entry := is_forbidden(n, forbid))]


def grader_uses(names: list[str]) -> list[str]:
    """The uses of the grader (any spelling of ``minidl_grader``, or its old ``minidl.grading``)
    other than importing ``check`` / ``evaluate``."""
    return [n for n in names if n not in _ALLOWED and any(n == g or n.startswith(g + ".") for g in GRADER)]


def _resolve(dotted: str):
    """The object ``dotted`` names in minidl or its Keras door (imported here, in the grader),
    or ``None``.

    Only names under ``minidl.`` and ``minidl_keras`` are resolved: importing a name a
    submission wrote must never run anything but the library's own modules."""
    return library_object(dotted, ("minidl_keras",))


def spec_forbidden_uses(names: list[str], forbids: list[str]) -> list[tuple[str, str]]:
    """``(name, entry)`` for each use that an exercise's ``forbids`` covers, in any spelling
    (minidl's ``forbid_covers``, with the Keras door's names resolved too: ``_resolve``)."""
    found = []
    for name in names:
        entry = next((e for e in forbids if forbid_covers(e, name, _resolve)), None)
        if entry:
            found.append((name, entry))
    return found


# ---------------------------------------------------------------------- tampering
_SETTERS = {"setattr", "delattr", "builtins.setattr", "builtins.delattr"}
# what reaches objects a cell did not make: the grader's, in its own process
_REACHING = (
    "ctypes",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "sys.modules",
    "importlib.reload",
)


def tampering(cells: list[tuple[str, str, str | None]]) -> list[str]:
    """Where the graded cells change a module they did not write: an assignment to (or
    deletion of) an attribute of an imported module or of a name imported from one
    (``numba.core.dispatcher.Dispatcher = object``, ``L.Dense.forward = f``),
    ``setattr``/``delattr`` on one, ``__builtins__``, or a use of what reaches other
    objects in the process (``ctypes``, ``gc.get_objects``, ``sys.modules``). Read here, in
    the grader: nothing the submission runs changes this reading.

    The sandbox's probes observe some of what the verdict needs (that a kernel is compiled
    by Numba, that the CUDA emulator compiled the source, which layers a model trains); a
    notebook that rewrites modules could make those observations lie, so its exercises that
    rely on them score 0 (``runner``)."""
    aliases: dict[str, str] = {}
    found: set[str] = set()
    for label, source, exercise in cells:
        tree = _parse_cell(source)
        if tree is None:
            continue
        local = {**aliases, **_aliases(tree)}
        if exercise is None:
            aliases.update(_aliases(tree))
        found.update(f"{exercise or label.strip('<>')} {what}" for what in _tampering_in(tree, local))
    return sorted(found)


def _tampering_in(tree: ast.AST, local: dict[str, str]) -> list[str]:
    def library_path(node) -> str | None:
        parts = _dotted(node)
        if parts and parts[0] in local:
            return ".".join([local[parts[0]], *parts[1:]])
        return None

    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for part in _assigned(target):
                if (path := library_path(part)) and "." in path:
                    found.append(f"changes {path}")
        if isinstance(node, ast.Call) and node.args:
            parts = _dotted(node.func)
            name = ".".join([local.get(parts[0], parts[0]), *parts[1:]]) if parts else ""
            if name in _SETTERS and (path := library_path(node.args[0])):
                found.append(f"changes {path} with {name.rsplit('.', 1)[-1]}()")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [f"{node.module}.{a.name}" for a in node.names if node.module and not node.level]
            )
            found += [f"imports {m}" for m in modules if _reaches(m)]
        elif isinstance(node, (ast.Attribute, ast.Name)) and (path := library_path(node)) and _reaches(path):
            found.append(f"uses {path}")
        if isinstance(node, ast.Name) and node.id == "__builtins__":
            found.append("uses __builtins__")
    return found


def _assigned(target: ast.AST):
    """The attribute chains an assignment target writes into: ``a.b`` in ``a.b = x``,
    ``a.b[k] = x`` and ``y, a.b = x``."""
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _assigned(element)
    elif isinstance(target, ast.Starred):
        yield from _assigned(target.value)
    elif isinstance(target, ast.Attribute):
        yield target
    elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute):
        yield target.value


def _reaches(dotted: str) -> bool:
    return any(dotted == t or dotted.startswith(t + ".") for t in _REACHING)
