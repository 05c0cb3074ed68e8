"""Forbids by construction: a copy of minidl in which what an exercise forbids is not there.

An exercise's spec forbids the library objects that compute its result
(``Exercise.forbids``: ``minidl.nn.layers.MaxPool2D``, the module ``minidl.kernels``). The
submission's process for that exercise imports minidl from a copy (``isolation.build_runtime``)
in which each forbidden definition -- a function or class, or every top-level one of a
forbidden module -- is replaced, in the file itself, by a stand-in that raises
``PermissionError`` and says why. The real code is not in that process at all: no capture at
cell-run time (``sys.modules``, ``getattr`` with a built name, ``vars(minidl)``, a default
argument, a closure, ``pickle``), no magic, no reading of the library's files reaches it.

``plan(names, allow)`` decides what to replace (read here, in the grader, from the library's
own files); ``rewrite(source, replaced)`` writes one file's stand-ins. A top-level package
other than minidl (the Keras door, ``minidl_keras``) is replaced whole: importing it raises.

What an instructor allows (``--allow``) inside a forbidden module is kept, with every
definition of that module it uses (``MaxPool2D`` and its base class in ``conv.py``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
from pathlib import Path

__all__ = ["plan", "rewrite", "stand_in_package", "Plan", "OTHER_PACKAGES"]

# {file relative to the library folder: {top-level name: (what it is, the forbidden entry)}}
Plan = dict[str, dict[str, tuple[str, str]]]
OTHER_PACKAGES = ("minidl_keras",)


def _message(label: str, entry: str) -> str:
    why = "--forbid" if entry.startswith("--forbid ") else "its spec forbids"
    entry = entry.removeprefix("--forbid ")
    return (
        f"{label} is forbidden in this assignment ({why} {entry}): it computes what the "
        "exercise asks, and is not in the process that grades it; write the operation yourself"
    )


def _resolve(dotted: str):
    parent, _, attribute = dotted.rpartition(".")
    try:
        return importlib.import_module(dotted)
    except Exception:
        pass
    try:
        return getattr(importlib.import_module(parent), attribute)
    except Exception:
        return None


def _allowed(full: str, allow: tuple[str, ...]) -> bool:
    return any(full == a or full.startswith(a + ".") or full.rpartition(".")[2] == a for a in allow)


def _definitions(tree: ast.Module):
    """``(name, node)`` of every top-level definition (``def``, ``class``, ``NAME = ...``),
    including those under a top-level ``if``/``try``/``with``."""
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name) and node.value is not None:
                yield targets[0].id, node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody"):
                todo.extend(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                todo.extend(handler.body)


def _computes(node: ast.AST) -> bool:
    """A function, a class or a lambda; a constant (a sample rate) computes nothing."""
    return not isinstance(node, (ast.Assign, ast.AnnAssign)) or isinstance(node.value, ast.Lambda)


def _run_at_import(nodes: list[ast.AST]) -> set[str]:
    """The names that ``nodes`` run when the module is imported: called, used as a base
    class or a decorator, or an attribute read from, by statements or by the decorators,
    default values, base classes and class bodies of definitions (``_PASS = _PassThrough()``,
    ``@register``, ``class A(Base)``). A name only referred to (``OPTIMIZERS = {"adam":
    Adam}``) can be a stand-in."""
    names: set[str] = set()

    def run(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        visit(node)

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for part in getattr(node, "decorator_list", []):
                run(part)
            for part in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
                visit(part)
            return
        if isinstance(node, ast.ClassDef):
            for part in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
                run(part)
            for statement in node.body:  # a class body runs when the class is made
                visit(statement)
            return
        if isinstance(node, ast.Call):
            run(node.func)
        elif isinstance(node, ast.Attribute):
            run(node.value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for node in nodes:
        visit(node)
    return names


def _kept(tree: ast.Module, module: str, allow: tuple[str, ...]) -> set[str]:
    """The top-level definitions of a forbidden ``module`` that stay: the ones ``--allow``
    names, those that what stays runs while the module is imported (``_run_at_import``: the
    module's statements, the constants, the kept definitions' decorators and base classes),
    and every top-level name that a kept definition uses (a helper it calls), transitively."""
    candidates = {name: node for name, node in _definitions(tree) if _computes(node)}
    definitions = {id(node) for node in candidates.values()}
    always: list[ast.AST] = []

    def statements(body: list) -> None:
        for node in body:
            if id(node) in definitions:
                continue
            if isinstance(node, (ast.If, ast.Try, ast.With)):
                always.extend(getattr(node, "items", []) or ([node.test] if isinstance(node, ast.If) else []))
                for block in ("body", "orelse", "finalbody"):
                    statements(getattr(node, block, []))
                for handler in getattr(node, "handlers", []):
                    statements(handler.body)
            else:
                always.append(node)

    statements(tree.body)
    todo = [name for name in candidates if _allowed(f"{module}.{name}", allow)]
    todo += sorted(_run_at_import(always) & set(candidates))
    kept: set[str] = set()
    while todo:
        name = todo.pop()
        if name in kept or name not in candidates:
            continue
        kept.add(name)
        node = candidates[name]
        todo += sorted(_run_at_import([node]) & set(candidates))  # its decorators, its bases
        todo += sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & set(candidates))
    return kept


def _module_files(module: types.ModuleType, library: Path) -> list[tuple[str, str]]:
    """``(relative path, module name)`` of the module's file, or of every file of a package."""
    file = Path(module.__file__ or "").resolve()
    if file.name == "__init__.py":
        found = []
        for path in sorted(file.parent.rglob("*.py")):
            relative = path.relative_to(library)
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append((str(relative), ".".join([library.name, *parts])))
        return found
    return [(str(file.relative_to(library)), module.__name__)]


def plan(names: tuple[str, ...], allow: tuple[str, ...], library: Path) -> tuple[Plan, list[str]]:
    """What to replace for the forbidden ``names`` (dotted; ``"--forbid NAME"`` for the
    command line's), less what ``allow`` keeps; and the other top-level packages to replace
    whole (``minidl_keras``). ``library``: the folder of the minidl package that is copied.

    Raises ``ValueError`` for a name under minidl that does not resolve to a definition in the
    library's files: a forbid the copy cannot hold is a fault of the spec, not a pass."""
    replaced: Plan = {}
    packages: list[str] = []
    library = library.resolve()
    for given in names:
        name = given.removeprefix("--forbid ")
        top = name.split(".")[0]
        if top in OTHER_PACKAGES:
            if name == top and not _allowed(name, allow):
                packages.append(name)
            continue
        if top != library.name:
            continue
        found = _resolve(name)
        if isinstance(found, types.ModuleType):
            for relative, module in _module_files(found, library):
                tree = ast.parse((library / relative).read_text(encoding="utf-8"))
                keep = _kept(tree, module, allow)
                for definition, node in _definitions(tree):
                    if _computes(node) and definition not in keep and not definition.startswith("__"):
                        replaced.setdefault(relative, {})[definition] = (f"{module}.{definition}", given)
            continue
        home = getattr(found, "__module__", None)
        short = getattr(found, "__name__", None)
        qualname = getattr(found, "__qualname__", short)
        owner = importlib.import_module(home) if isinstance(home, str) else None
        file = inspect.getsourcefile(owner) if owner is not None else None
        if not (file and short and qualname == short and Path(file).resolve().is_relative_to(library)):
            raise ValueError(f"{name} is not a top-level definition in minidl's files: it cannot be left out")
        if _allowed(name, allow) or _allowed(f"{home}.{short}", allow):
            continue
        relative = str(Path(file).resolve().relative_to(library))
        replaced.setdefault(relative, {})[short] = (f"{home}.{short}", given)
    return replaced, sorted(set(packages))


def rewrite(source: str, replaced: dict[str, tuple[str, str]]) -> str:
    """``source`` with each top-level definition named in ``replaced`` (``{name: (label,
    entry)}``) turned into a stand-in of the same kind that raises ``PermissionError``:
    ``def f(*args, **kwargs): raise PermissionError(...)``, or a class whose construction
    raises (its subclasses too). Decorators go with the definition."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    cuts = []
    for name, node in _definitions(tree):
        if name not in replaced:
            continue
        label, entry = replaced[name]
        message = _message(label, entry)
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        indent = " " * node.col_offset
        if isinstance(node, ast.ClassDef):
            text = (
                f"{indent}class {name}:  # left out by the grader: {entry}\n"
                f"{indent}    def __new__(cls, *args, **kwargs): raise PermissionError({message!r})\n"
                f"{indent}    def __init_subclass__(cls, **kwargs): pass\n"
            )
        else:
            text = f"{indent}def {name}(*args, **kwargs): raise PermissionError({message!r})  # left out\n"
        cuts.append((first, node.end_lineno or node.lineno, text))
    for first, last, text in sorted(cuts, reverse=True):
        lines[first - 1 : last] = [text]
    return "".join(lines)


def stand_in_package(name: str) -> str:
    """The ``__init__.py`` of a package forbidden whole: importing it raises."""
    return f"raise PermissionError({_message(name, name)!r})\n"
