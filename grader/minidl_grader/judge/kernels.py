"""A Numba kernel's source, found in what the grader holds (issue 68).

The submission's process only describes a submitted kernel (``probes.describe_kernel``:
for the kernel and each kernel it calls, the cell and line of its ``def``, its ``njit``
options, what its globals, closure variables and defaults are). ``kernel_spec`` checks
that description as the untrusted data it is, finds each ``def`` in the notebook's cells
(as the grader reads them: ``reading.readable_source``), in the constant strings they run,
or in the code the sandbox's audit hook recorded, and turns it into a syntax tree that
defines the function without running anything of the submission: decorators, annotations
and default values taken out (the defaults come back from their description). A fresh
sandboxed process compiles that with Numba and judges it (``probes.build_kernels``).

A description that lies changes only which of the notebook's own functions is compiled,
and how: whatever it says, what is judged is the notebook's code compiled by Numba in a
process where nothing else of the submission has run.
"""

from __future__ import annotations

import ast
import copy
import re
from typing import TypeGuard

import numpy as np

from ..runtime.rules import (
    KERNEL_MODULES,
    MAX_CUDA_SOURCE,
    MAX_ITEMS,
    MAX_KERNELS,
    MODEL_MODULES,
    NJIT_OPTIONS,
)
from . import reading

__all__ = ["KernelSourceError", "kernel_spec", "model_spec", "cuda_source", "KINDS"]

MAX_DEPTH = 4
KINDS = {"value", "scalar", "complex", "dtype", "tuple", "module", "attr", "kernel", "unknown"}
_NAME = re.compile(r"[A-Za-z_]\w{0,200}\Z")


def _module_pattern(roots: tuple) -> re.Pattern:
    return re.compile(rf"({'|'.join(roots)})(\.[A-Za-z_]\w{{0,100}}){{0,6}}\Z")


_MODULE, _MODEL_MODULE = _module_pattern(KERNEL_MODULES), _module_pattern(MODEL_MODULES)
WRAPPER = "__minidl_kernel__"
_WHITE_LINES = re.compile(r"^[ \t\f\v]+$", re.M)


class KernelSourceError(Exception):
    """The kernel cannot be compiled from the notebook: the message says why."""


def kernel_spec(description, cells: list, built: dict | None = None) -> dict:
    """What ``probes.build_kernels`` compiles: ``description``'s functions (checked), each
    with ``module``, its source as a syntax tree. ``cells``: the runner's ``(label, source,
    exercise)``; ``built``: the sources the audit hook recorded (``_Session.built``).
    Raises ``KernelSourceError``."""
    functions = _checked(description, _MODULE)
    sources = _Sources(cells, built or {})
    return {
        "functions": [
            {
                **f,
                "module": _module(
                    sources.find(f["name"], f["file"], f["line"]), [n for n, _ in f["freevars"]]
                ),
            }
            for f in functions
        ]
    }


def model_spec(description, entry: str, cells: list, built: dict | None = None) -> dict:
    """``kernel_spec`` for a plain Python function that chapter 9 runs on a model
    (``probes.describe_kernel(fn, plain=True)``): its globals may name objects of
    ``MODEL_MODULES``; each function found is read first (``reflection``) and refused if it
    reaches past the model it is given. Raises ``KernelSourceError``."""
    functions = _checked(description, _MODEL_MODULE)
    sources = _Sources(cells, built or {})
    found = []
    for f in functions:
        node = sources.find(f["name"], f["file"], f["line"], what="function")
        problem = reflection(node)
        if problem:
            raise KernelSourceError(
                f"`{entry}` {'' if f is functions[0] else 'calls `' + f['name'] + '`, which '}{problem}: the "
                "grader runs the function on a model of its own, and a function that reaches the "
                "process's objects this way could change how that model is read; work with the model "
                "through its attributes (`layer.params`, `layer.trainable`, `model.forward`)"
            )
        found.append({**f, "module": _module(node, [n for n, _ in f["freevars"]])})
    return {"functions": found}


def described_names(spec: dict) -> list[str]:
    """The dotted names of the modules and objects the functions of ``spec`` read as globals,
    closure variables or defaults (``module`` and ``attr`` items), for the forbids."""
    names: list[str] = []

    def walk(item) -> None:
        if item[0] == "module":
            names.append(item[1])
        elif item[0] == "attr":
            names.append(f"{item[1]}.{item[2]}")
        elif item[0] == "tuple":
            for inner in item[1]:
                walk(inner)

    for f in spec["functions"]:
        for item in [*f["globals"].values(), *(v for _, v in f["freevars"]), *f["defaults"]]:
            walk(item)
        for item in f["kwdefaults"].values():
            walk(item)
    return names


# what a function run on a model may not name or read (``reflection``): the ways from an
# object to the process's other objects (a function's globals, a frame, the builtins), and
# code built from strings
_REFLECTIVE_NAMES = frozenset(
    {"vars", "globals", "locals", "__import__", "exec", "eval", "compile", "breakpoint", "__builtins__"}
    | {"delattr", "memoryview"}
)
_BY_NAME = frozenset({"getattr", "setattr", "hasattr"})
_FRAME_ATTRIBUTES = frozenset(
    {"f_back", "f_globals", "f_locals", "f_builtins", "f_code", "tb_frame", "tb_next"}
    | {"gi_frame", "cr_frame", "ag_frame", "gi_code", "cell_contents"}
)


def reflection(node) -> str | None:
    """Why the function ``node`` reaches past the objects it is given (``None`` if it does
    not): a dunder or frame attribute (``f.__globals__``, ``layer.forward.__closure__``,
    ``tb_frame``), ``vars``/``globals``/``exec``/``__import__`` and their kind,
    ``getattr``/``setattr``/``hasattr`` other than called with a constant public name, or an
    import of a module outside ``MODEL_MODULES``. One pass over the tree."""
    nodes = list(ast.walk(node))
    named = {  # getattr(x, "name") and the like: the name written out, public
        id(c.func)
        for c in nodes
        if isinstance(c, ast.Call)
        and len(c.args) >= 2
        and isinstance(c.args[1], ast.Constant)
        and isinstance(c.args[1].value, str)
        and not c.args[1].value.startswith("_")
    }
    for item in nodes:
        if isinstance(item, ast.Attribute) and (
            (item.attr.startswith("__") and item.attr.endswith("__")) or item.attr in _FRAME_ATTRIBUTES
        ):
            return f"reads `.{item.attr}`"
        if isinstance(item, ast.Name) and item.id in _REFLECTIVE_NAMES:
            return f"uses `{item.id}`"
        if isinstance(item, ast.Name) and item.id in _BY_NAME and id(item) not in named:
            return f"uses `{item.id}` other than with a public attribute's name written out"
        if isinstance(item, ast.ImportFrom) and item.level:
            return "imports from a relative module"
        if isinstance(item, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in item.names] if isinstance(item, ast.Import) else [item.module or ""]
            outside = [m for m in modules if m.split(".")[0] not in MODEL_MODULES]
            if outside:
                return f"imports `{outside[0]}`"
    return None


def cuda_source(sent, entry: str, cells: list, built: dict | None = None) -> str:
    """The CUDA C source to compile for ``entry``: what the submission's process sent back
    (``probes._described_cuda_probe``: ``{"source": the string the entry holds}``), taken
    only if the notebook writes that string -- a string literal, or a sum of string
    literals, in one of its cells as the grader reads them, or in the code the audit hook
    recorded -- and returned as the grader's own copy. A lie changes only which of the notebook's strings is compiled. (A
    cell with a magic runs as IPython turns it into Python, which empties the lines of
    white space inside its strings: the literals are compared as such.)
    Raises ``KernelSourceError``."""
    source = sent.get("source") if isinstance(sent, dict) else None
    if not isinstance(source, str) or len(source) > MAX_CUDA_SOURCE:
        raise KernelSourceError(f"the grader could not read the CUDA source `{entry}` holds")
    found = _Sources(cells, built or {}).literal(_WHITE_LINES.sub("", source))
    if found is None:
        raise KernelSourceError(
            f"`{entry}` holds a string that no cell of the notebook writes (built while the notebook "
            "runs?): the grader compiles the CUDA source the notebook holds, so write the kernel as "
            "a string literal in its cell"
        )
    return found


# ---------------------------------------------------------------------- the description
def _unreadable(what: str) -> KernelSourceError:
    return KernelSourceError(f"the grader could not read the kernel's description ({what})")


def _checked(description, modules: re.Pattern) -> list[dict]:
    if not isinstance(description, dict) or not isinstance(description.get("functions"), list):
        raise _unreadable("no list of functions")
    functions = description["functions"]
    if not 1 <= len(functions) <= MAX_KERNELS:
        raise _unreadable(f"{len(functions)} functions")
    return [_function(f, len(functions), modules) for f in functions]


def _function(f, count: int, modules: re.Pattern) -> dict:
    if not isinstance(f, dict):
        raise _unreadable("a function that is not a table")
    name, file, line = f.get("name"), f.get("file"), f.get("line")
    if not (isinstance(name, str) and (_NAME.match(name) or name == "<lambda>")):
        raise _unreadable("a function's name")
    if not (isinstance(file, str) and len(file) <= 300 and isinstance(line, int) and line >= 0):
        raise _unreadable(f"where `{name}` is")
    options, names = f.get("options"), f.get("globals")
    if not isinstance(options, dict) or any(
        k not in NJIT_OPTIONS or not isinstance(v, (bool, int, str)) for k, v in options.items()
    ):
        raise _unreadable(f"`{name}`'s options")
    if not isinstance(names, dict) or len(names) > MAX_ITEMS or not all(_NAME.match(str(k)) for k in names):
        raise _unreadable(f"`{name}`'s globals")
    free, defaults, kwdefaults = f.get("freevars"), f.get("defaults"), f.get("kwdefaults")
    if not (
        isinstance(free, list)
        and len(free) <= MAX_ITEMS
        and all(isinstance(p, (list, tuple)) and len(p) == 2 and _NAME.match(str(p[0])) for p in free)
    ):
        raise _unreadable(f"`{name}`'s closure")
    if not (isinstance(defaults, list) and len(defaults) <= MAX_ITEMS and isinstance(kwdefaults, dict)):
        raise _unreadable(f"`{name}`'s defaults")
    if not all(_NAME.match(str(k)) for k in kwdefaults):
        raise _unreadable(f"`{name}`'s defaults")
    check = lambda item: _item(item, count, 0, modules)  # noqa: E731
    return {
        "name": name,
        "file": file,
        "line": line,
        "options": dict(options),
        "globals": {k: check(v) for k, v in names.items()},
        "freevars": [[str(n), check(v)] for n, v in free],
        "defaults": [check(v) for v in defaults],
        "kwdefaults": {k: check(v) for k, v in kwdefaults.items()},
    }


def _item(item, count: int, depth: int, modules: re.Pattern) -> list:
    """One described value, checked (``probes.describe_kernel``'s ``item``): a list
    ``[kind, ...]`` with the fields its kind needs, of the types they must have."""
    if not isinstance(item, (list, tuple)) or not item or item[0] not in KINDS or depth > MAX_DEPTH:
        raise _unreadable("a value")
    kind, rest = item[0], list(item[1:])
    ok = False
    if kind == "value" and len(rest) == 1:
        value = rest[0]
        ok = (
            value is None
            or isinstance(value, (bool, int, float, str))
            or (isinstance(value, np.ndarray) and value.dtype.kind in "biuf")
        )
    elif kind == "scalar" and len(rest) == 2:
        ok = _numeric_dtype(rest[0]) and isinstance(rest[1], (bool, int, float))
    elif kind == "complex" and len(rest) == 2:
        ok = all(isinstance(v, (int, float)) for v in rest)
    elif kind == "dtype" and len(rest) == 1:
        ok = _numeric_dtype(rest[0])
    elif kind == "tuple" and len(rest) == 1 and isinstance(rest[0], list) and len(rest[0]) <= 64:
        return ["tuple", [_item(v, count, depth + 1, modules) for v in rest[0]]]
    elif kind == "module" and len(rest) == 2:
        ok = isinstance(rest[0], str) and bool(modules.match(rest[0]))
    elif kind == "attr" and len(rest) == 2:
        ok = isinstance(rest[0], str) and bool(modules.match(rest[0])) and isinstance(rest[1], str)
        ok = ok and bool(_NAME.match(rest[1])) and not rest[1].startswith("_")
    elif kind == "kernel" and len(rest) == 1:
        ok = isinstance(rest[0], int) and not isinstance(rest[0], bool) and 0 <= rest[0] < count
    elif kind == "unknown" and len(rest) == 1:
        ok = isinstance(rest[0], str)
    if not ok:
        raise _unreadable(f"a value of kind {kind}")
    return [kind, *rest]


def _numeric_dtype(text) -> bool:
    if not isinstance(text, str) or len(text) > 16:
        return False
    try:
        return np.dtype(text).kind in "biuf"
    except TypeError:
        return False


# ---------------------------------------------------------------------- the source
class _Sources:
    """The code the grader holds: each cell as it reads it, then the constant strings the
    cells run and the code recorded at run time. Each is parsed once, when first needed."""

    def __init__(self, cells: list, built: dict):
        self.cells = {label: source for label, source, _ in cells}
        self._read, self._built = [source for _, source, _ in cells], built
        self._others: list[str] | None = None
        self.trees: dict[tuple, list] = {}

    @property
    def others(self) -> list[str]:
        if self._others is None:  # read only for a kernel not found in its own cell
            self._others = [code for source in self._read for code in reading.code_strings(source)]
            self._others += [c for sources in self._built.values() for c in sources if isinstance(c, str)]
        return self._others

    def _definitions(self, key: tuple, text: str) -> list:
        """``(name, first line, node)`` of every ``def`` and ``lambda`` in ``text``."""
        if key not in self.trees:
            try:
                tree = reading._parse(reading.readable_source(text))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                tree = None
            self.trees[key] = [
                (_name(node), _first_line(node), node)
                for node in (ast.walk(tree) if tree is not None else ())
                if isinstance(node, (ast.FunctionDef, ast.Lambda))
            ]
        return self.trees[key]

    def literal(self, text: str) -> str | None:
        """The string literal equal to ``text`` in the cells (then in the code they run), the
        grader's own copy, its lines of white space emptied; ``None`` if none is."""
        places = [(("cell", label), code) for label, code in self.cells.items()]
        places += [(("other", key), code) for key, code in enumerate(self.others)]
        for key, code in places:
            found = next((s for s in self._literals(key, code) if s == text), None)
            if found is not None:
                return found
        return None

    def _literals(self, key: tuple, text: str) -> list[str]:
        """Every string literal of ``text`` (parsed once) and every sum of string literals
        (``'#define N 4\\n' + '...'``, each whole sum once), lines of white space emptied."""
        index = ("literals", *key)  # (no star in a subscript: Python 3.10)
        if index not in self.trees:
            try:
                tree = reading._parse(reading.readable_source(text))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                tree = None
            nodes = list(ast.walk(tree)) if tree is not None else []
            parts = {id(n.left) for n in nodes if _added(n)} | {id(n.right) for n in nodes if _added(n)}
            found = [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            found += [joined for n in nodes if _added(n) and id(n) not in parts and (joined := _joined(n))]
            self.trees[index] = [_WHITE_LINES.sub("", literal) for literal in found]
        return self.trees[index]

    def find(self, name: str, file: str, line: int, what: str = "kernel") -> ast.FunctionDef | ast.Lambda:
        by_name = []
        if file in self.cells:
            found = [
                (first, node)
                for n, first, node in self._definitions(("cell", file), self.cells[file])
                if n == name
            ]
            exact = [node for first, node in found if first == line]
            if exact:
                return exact[-1]
            by_name = [node for _, node in found]
        for key, text in enumerate(self.others):
            exact = [
                node
                for n, first, node in self._definitions(("other", key), text)
                if n == name and first == line
            ]
            if exact:
                return exact[-1]
        if not by_name:  # a file that is no cell's: a %%time cell's body ("<cell magic>")
            for label, text in self.cells.items():
                by_name += [node for n, _, node in self._definitions(("cell", label), text) if n == name]
        if by_name:  # its line moved (a magic IPython reads differently): the last def of that name
            return by_name[-1]
        raise KernelSourceError(
            f"the grader could not find the source of `{name}` ({file.strip('<>')}, line {line}) in the "
            f"notebook: a {what} is {'compiled' if what == 'kernel' else 'rebuilt'} from the notebook's "
            "cells, so define it in one (not in a file written or a string built while the notebook runs)"
        )


def _added(node) -> TypeGuard[ast.BinOp]:
    """Whether ``node`` is a sum (``a + b``)."""
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)


def _joined(node) -> str | None:
    """The string a sum of string literals makes (``None`` if a term is anything else, or
    if it is longer than a CUDA source may be); its terms read without recursion."""
    terms, pending, size = [], [node], 0
    while pending:
        item = pending.pop()
        if _added(item):
            pending += [item.right, item.left]
        elif isinstance(item, ast.Constant) and isinstance(item.value, str):
            terms.append(item.value)
            size += len(item.value)
            if size > MAX_CUDA_SOURCE:
                return None
        else:
            return None
    return "".join(terms)


def _name(node) -> str:
    return "<lambda>" if isinstance(node, ast.Lambda) else node.name


def _first_line(node) -> int:
    """The line Python records as the function's first (``co_firstlineno``): its first
    decorator's, else its own."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _bare(arguments: ast.arguments) -> None:
    """Annotations out, every default ``None`` (their values come from the description)."""
    for a in [
        *arguments.posonlyargs,
        *arguments.args,
        *arguments.kwonlyargs,
        arguments.vararg,
        arguments.kwarg,
    ]:
        if a is not None:
            a.annotation = None
            a.type_comment = None
    arguments.defaults = [ast.Constant(None) for _ in arguments.defaults]
    arguments.kw_defaults = [None if d is None else ast.Constant(None) for d in arguments.kw_defaults]


def _module(node, freevars: list[str]) -> ast.Module:
    """A module defining ``__minidl_kernel__(*freevars)``, which returns the function
    ``node`` defines: running the module runs nothing of the submission (no decorator, no
    annotation, no default value is evaluated; the function's body runs only compiled)."""
    node = copy.deepcopy(node)
    _bare(node.args)
    if isinstance(node, ast.FunctionDef):
        node.decorator_list, node.returns, node.type_comment = [], None, None
        if hasattr(node, "type_params"):
            node.type_params = []
        returned: ast.expr = ast.Name(node.name, ast.Load())
        inner: list[ast.stmt] = [node] if freevars else []
        outside: list[ast.stmt] = [] if freevars else [node]  # a global, as it was
    else:
        returned, inner, outside = node, [], []
    wrapper = ast.FunctionDef(
        name=WRAPPER,
        args=ast.arguments(
            posonlyargs=[], args=[ast.arg(n) for n in freevars], kwonlyargs=[], kw_defaults=[], defaults=[]
        ),
        body=[*inner, ast.Return(returned)],
        decorator_list=[],
        returns=None,
    )
    if "type_params" in ast.FunctionDef._fields:  # Python 3.12
        setattr(wrapper, "type_params", [])  # noqa: B010 (typeshed's 3.10 FunctionDef has none)
    ast.copy_location(wrapper, node)
    module = ast.Module(body=[*outside, wrapper], type_ignores=[])
    return ast.fix_missing_locations(module)
