"""The submission's side of grading: the inputs' container and the ways to call an answer.

This module, ``codec.py``, ``sandbox.py`` and ``rules.py`` are all of ``minidl_grader`` that the
process running a submission is given (``runtime.py`` copies them, with the rest of
minidl but without ``specs/``, ``checks`` or any reference, into the folder that process
imports from). Nothing here knows an answer: a probe calls the submitted object(s) on
inputs drawn by the grader and returns the outputs as plain data; the grader compares
them with its references in its own process.

A probe is ``fn(namespace, entries, case) -> outputs``, registered by name in ``PROBES``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minidl.exercises import probes as shared
from minidl.exercises.probes import build_model, model_summary

from .rules import KERNEL_MODULES, MAX_CUDA_SOURCE, MAX_ITEMS, MAX_KERNELS, MODEL_MODULES, NJIT_OPTIONS

__all__ = [
    "Case",
    "PROBES",
    "probe",
    "describe_exception",
    "settle",
    "recorded_call",
    "SANDBOX_PROBES",
    "cubic",
    "log_sum_exp",
    "build_model",
    "model_summary",
    "NotebookShell",
]


@dataclass
class Case:
    """One set of inputs: positional ``args`` for the probe and a label for messages.

    ``points`` (optional) makes the exercise score case by case (partial credit); the
    cases without points share what is left of the exercise's. ``visibility`` is
    Gradescope's: ``"visible"``, ``"hidden"`` or ``"after_due_date"``; only visible cases
    run in a notebook's ``check()``."""

    args: tuple
    label: str = ""
    entry: str | None = None  # which entry to call (default: the first)
    extra: dict = field(default_factory=dict)
    points: float | None = None
    visibility: str = "visible"


PROBES: dict[str, Callable] = {}


def probe(name: str):
    """Register a probe function ``fn(namespace, exercise_entries, case) -> outputs``."""

    def decorate(fn):
        PROBES[name] = fn
        return fn

    return decorate


# ---------------------------------------------------------------------- plain calls
class ModifiedInput(Exception):
    """A function changed an argument that its task says it must leave as it was."""


def _arrays(value, path: str):
    """``(path, array)`` for every NumPy array inside ``value`` (tuples, lists, dicts)."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _arrays(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _arrays(item, f"{path}[{key!r}]")


def unchanged_inputs(fn: Callable, args: tuple, names: tuple = (), fresh_outputs: bool = False):
    """``fn(*copy of args)``, the copy judged here afterwards (``settle``); raises
    ``ModifiedInput`` if the call changed an array argument, or (``fresh_outputs``) if an
    output shares memory with one. For a caller in one process (tests, tools); the
    submission's process sends ``recorded_call``'s plain data back instead."""
    return settle(
        "call",
        Case(args, extra={"fresh_outputs": fresh_outputs}),
        recorded_call(fn, args, names, fresh_outputs),
    )


def recorded_call(fn: Callable, args: tuple, names: tuple = (), fresh_outputs: bool = False) -> dict:
    """``fn(*copy of args)`` and what the grader needs to judge the call from outside
    (issue 68): ``out``; ``after``, every array argument as it is after the call (the
    grader compares each with its own, unchanged, copy: nothing here compares, so a cell
    that rebinds ``numpy.array_equal``, ``copy.deepcopy`` or ``zip`` changes no verdict);
    with ``fresh_outputs``, ``poisoned``: the output arrays after every input array was
    filled with 0, then with 1 (an output that is a view of an input changes between the
    two; ``out`` was copied before). Only plain data: arrays, strings, numbers.

    Every exercise called by ``call`` is asked for new arrays: an answer that updates its
    inputs in place (``w -= lr * v``, ``x[...] = 0``) would change its caller's data, and an
    output that is a view of an input (``kernel.T``) changes with it."""
    given = copy.deepcopy(args)
    out = fn(*given)
    inputs = [(path, a) for index, arg in enumerate(given) for path, a in _arrays(arg, _name(names, index))]
    found = {"after": [[path, a.copy()] for path, a in inputs]}
    if fresh_outputs:
        outs = [a for _, a in _arrays(out if isinstance(out, (tuple, list)) else (out,), "output ")]
        out = copy.deepcopy(out)  # the values as returned, before the inputs are overwritten
        poisoned = []
        for value in (0, 1):
            for _, array in inputs:
                try:
                    array.fill(value)
                except (ValueError, TypeError):  # read-only: no output can change through it
                    pass
            poisoned.append([a.copy() for a in outs])
        found["poisoned"] = [[path for path, _ in inputs], poisoned]
    found["out"] = out
    return found


def settle(probe_name: str, case: Case, value):
    """What a probe's plain data says, judged in the grader's process (``recorded_call``):
    the output; raises ``ModifiedInput`` when an array argument came back changed (against
    ``case.args``, the grader's own) or, for ``fresh_outputs``, an output that changed when
    the inputs were overwritten. Other probes' data is returned as it is."""
    if probe_name == "numba" and isinstance(value, dict) and isinstance(value.get("call"), dict):
        return {**value, "out": settle("call", case, value["call"])}
    if probe_name != "call" or not isinstance(value, dict) or "after" not in value:
        return value
    given = [(path, a) for index, arg in enumerate(case.args) for path, a in _arrays(arg, "")]
    after = value.get("after") or []
    if len(after) != len(given) and given:
        raise ModifiedInput("the call's inputs did not come back (the grader cannot tell they are unchanged)")
    for (_, old), item in zip(given, after):
        path, new = item if isinstance(item, (list, tuple)) and len(item) == 2 else ("an input", None)
        path = str(path)[:100]
        if old.dtype.kind not in "biuf":
            continue
        if (
            not isinstance(new, np.ndarray)
            or old.shape != new.shape
            or not np.array_equal(old, new, equal_nan=old.dtype.kind in "fc")
        ):
            raise ModifiedInput(
                f"the function changed its input `{path}` in place; the task asks to leave "
                "the inputs as they were and return new arrays (copy first, or write "
                "`w = w - lr * v` instead of `w -= lr * v`)"
            )
    if case.extra.get("fresh_outputs"):
        paths, poisoned = (
            (value.get("poisoned") or [[], []])[:2] if isinstance(value.get("poisoned"), list) else ([], [])
        )
        if len(poisoned) != 2:
            raise ModifiedInput("the call's outputs did not come back whole")
        for zero, one in zip(*poisoned):
            if not (isinstance(zero, np.ndarray) and isinstance(one, np.ndarray)) or not np.array_equal(
                zero, one, equal_nan=True
            ):
                names = ", ".join(f"`{p}`" for p in paths[:3]) if paths else "an input"
                raise ModifiedInput(
                    f"an output is a view of the input ({names}: it shares its memory): the task "
                    "asks for new arrays, so that changing one never changes the other; "
                    "add .copy()"
                )
    return value.get("out")


def _name(names: tuple, index: int) -> str:
    return names[index] if index < len(names) else f"argument {index + 1}"


def _parameter_names(fn) -> tuple:
    code = getattr(fn, "__code__", None)
    return tuple(code.co_varnames[: code.co_argcount]) if code is not None else ()


def _recorded_call_probe(namespace: dict, entries: tuple, case: Case):
    """Call the entry on a deep copy of the arguments; what comes back (``recorded_call``)
    is judged by the grader (``settle``): the arguments must be left unchanged."""
    fn = namespace[case.entry or entries[0]]
    return recorded_call(fn, case.args, _parameter_names(fn), bool(case.extra.get("fresh_outputs")))


@probe("call")
def _call_probe(namespace: dict, entries: tuple, case: Case):
    """In one process (``check()``, the mutants, tests): the output, the call judged at once."""
    return settle("call", case, _recorded_call_probe(namespace, entries, case))


@probe("call_and_inputs")
def _call_and_inputs_probe(namespace: dict, entries: tuple, case: Case):
    """Like ``call`` but also return the array arguments as they are after the call."""
    args = copy.deepcopy(case.args)
    out = namespace[case.entry or entries[0]](*args)
    return {"out": out, "args_after": tuple(a for a in args if isinstance(a, np.ndarray))}


@probe("answer")
def _answer_probe(namespace: dict, entries: tuple, case: Case):
    """A question's answer: the value the reader assigned (still ``...``: not answered).

    Only the value goes back; which answer is right is known to the grader alone."""
    value = namespace[entries[0]]
    if value is Ellipsis:
        return {"answered": False}
    return {"answered": True, "value": value}


# Functions handed to a submission as inputs (chapter 3's numerical gradient) live here,
# so that the submission's process can receive them; their gradients stay with the grader.
def cubic(x):
    return float(np.sum(x**3 - 2.0 * x))


def log_sum_exp(x):
    return float(np.log(np.sum(np.exp(x))))


# ---------------------------------------------------------------------- evidence
# What a probe checks a submission against, captured by ``seal()`` when the sandbox starts,
# before any cell of the notebook runs (``sandbox.main``). A cell that later rebinds
# ``numba.core.dispatcher.Dispatcher`` or ``builtins.isinstance`` changes neither what is
# compared nor how: the probes compare with the captured classes, by exact type (a subclass
# the notebook writes is not numba's), and refuse when the classes' attributes are no longer
# the captured ones. The Numba and CUDA kernels are compiled and run in processes where no
# cell runs, with the ``njit`` and the emulator captured there, and so are chapter 9's
# functions run on a model (``model_case``). (The grader
# also reads the cells for such changes, where nothing the submission runs can reach:
# ``provenance.tampering``.)
_type, _dict, _vars, _all = type, dict, vars, all  # the builtins as they were at import
_ModuleType = type(os)
_TRUSTED: dict = {}


def seal() -> None:
    """Capture the classes and modules the probes trust (called before the first cell)."""
    import sys

    if "numba" in sys.modules:
        _capture_numba()
    if "minidl.kernels.emulate" in sys.modules:
        _capture_emulator()


def _snapshot(objects) -> list:
    return [(obj, _dict(_vars(obj)), _type(obj) is not _ModuleType) for obj in objects]


def _unchanged(snapshot) -> bool:
    """Whether every captured namespace still holds the very same objects (a class also
    no new ones: an added ``__call__`` would override the inherited one; a module may
    gain the submodules it imports lazily)."""
    for obj, captured, strict in snapshot:
        now = _vars(obj)
        if strict and len(now) != len(captured):
            return False
        if not _all(now.get(k, _SENTINEL_KEY) is v for k, v in captured.items()):
            return False
    return True


_SENTINEL_KEY = object()
# the shared pieces (minidl's, which a submission can import), as they were before any cell
_SHARED = _snapshot([shared, shared.CountingRange])


def _capture_numba():
    if "numba" not in _TRUSTED:
        import numba
        from numba.core import dispatcher, registry

        classes = [c for c in registry.CPUDispatcher.__mro__ if c is not object]
        _TRUSTED["numba"] = (registry.CPUDispatcher, _snapshot([*classes, dispatcher, registry]))
        _TRUSTED["numba.prange"] = (numba.prange, numba)
        _TRUSTED["numba.njit"] = numba.njit
        _TRUSTED["known"] = _known_objects()
    return _TRUSTED["numba"]


def _capture_emulator():
    """The emulator's module class and its out-of-bounds error, as loaded before any request
    (``seal``); only the CUDA process, where no cell runs, compiles with it."""
    if "emulate" not in _TRUSTED:
        from minidl.kernels import emulate

        _TRUSTED["emulate"] = (emulate.EmulatedModule, emulate.OutOfBounds)
    return _TRUSTED["emulate"]


# ---------------------------------------------------------------------- chapter 10: Numba
# A submitted kernel is judged in a process where no cell has run (issue 68): the
# submission's process only describes it (``describe_kernel``: where its source is, its
# options, what its globals are), as plain data; the grader finds that source in the cells
# it holds (``judge/kernels.py``) and a fresh sandboxed process compiles it with the
# ``numba.njit`` captured before anything else ran there (``build_kernels``), reads that
# dispatcher for object mode, runs the cases with it (``kernel_case``) and, last, traces its
# ``prange`` work (``kernel_trace``). Nothing a cell changes in its own process reaches that.
# (what a kernel's globals may name and the description's limits: ``rules.py``)


def _known_objects(roots: tuple = KERNEL_MODULES, every_module: bool = False) -> dict:
    """``{id: (object, kind, module, attribute)}``: the modules of ``roots`` loaded (for a
    kernel: before the first cell, ``seal``), and the top-level attributes of ``roots`` (with
    ``every_module``: of every such module loaded). Only names: the process that rebuilds
    a function imports each by its name, so an entry a cell forged names only a real one."""
    known: dict = {}
    loaded = []
    for name, module in list(sys.modules.items()):
        if _type(module) is _ModuleType and name.split(".")[0] in roots:
            known.setdefault(id(module), (module, "module", name, ""))
            loaded.append(name)
    for name in loaded if every_module else (*roots, "numpy.linalg", "numpy.random"):
        found = sys.modules.get(name)
        for attribute, value in list(_vars(found).items()) if found is not None else ():
            if not attribute.startswith("_"):
                known.setdefault(id(value), (value, "attr", name, attribute))
    return known


def _global_names(code, depth: int = 0) -> set:
    """The names ``code`` (and the code nested in it) may read as globals."""
    names = set(code.co_names)
    for const in code.co_consts if depth < 8 else ():
        if _type(const) is _type(code):
            names |= _global_names(const, depth + 1)
    return names


def describe_kernel(fn, plain: bool = False) -> dict:
    """What the grader needs to compile ``fn`` (a Numba dispatcher) again elsewhere, as plain
    data: ``functions``, the kernel first, then every kernel it uses, each with ``name``,
    ``file`` and ``line`` (where its ``def`` is: the cell's label), ``options`` (its
    ``njit`` options) and what its ``globals``, ``freevars`` and ``defaults`` are (see
    ``_item``). Nothing here is trusted by the grader: it compiles the notebook's own source
    as described, and judges what it compiled. ``plain``: ``fn`` is a plain Python function
    (chapter 9's, run on a model): the functions it reads are described as it is, and the
    objects named are those of ``MODEL_MODULES``, looked up now."""
    if plain:
        dispatcher_class, known = _FunctionType, _known_objects(MODEL_MODULES, every_module=True)
    else:
        dispatcher_class, known = _capture_numba()[0], _TRUSTED["known"]
    functions: list = []
    index: dict = {}

    def function(kernel) -> int:
        if id(kernel) in index:
            return index[id(kernel)]
        if len(functions) >= MAX_KERNELS:
            raise ValueError(f"the kernel uses more than {MAX_KERNELS} other kernels")
        position = index[id(kernel)] = len(functions)
        functions.append({})
        py_func: Any = kernel if plain else _dict(_vars(kernel)).get("py_func")
        if _type(py_func) is not _FunctionType:
            raise TypeError(
                "the kernel's Python function is not a plain function: the grader cannot compile it"
            )
        code, space = py_func.__code__, py_func.__globals__
        given: Any = None if plain else _dict(_vars(kernel)).get("targetoptions")
        pairs = list(given.items()) if _type(given) is dict else []
        cells = py_func.__closure__ or ()
        functions[position] = {
            "name": code.co_name,
            "file": code.co_filename,
            "line": code.co_firstlineno,
            "options": {k: v for k, v in pairs if k in NJIT_OPTIONS and _type(v) in (bool, int, str)},
            "globals": {n: item(space[n]) for n in sorted(_global_names(code))[:MAX_ITEMS] if n in space},
            "freevars": [[n, _cell_item(c, item)] for n, c in zip(code.co_freevars, cells)],
            "defaults": [item(v) for v in (py_func.__defaults__ or ())[:MAX_ITEMS]],
            "kwdefaults": {k: item(v) for k, v in list((py_func.__kwdefaults__ or {}).items())[:MAX_ITEMS]},
        }
        return position

    def item(value, depth: int = 0) -> list:
        """``value`` as ``[kind, ...]``: ``value`` (a number, string, None, numeric array),
        ``scalar`` (dtype, value), ``complex``, ``dtype``, ``tuple``, ``module`` (name),
        ``attr`` (module, attribute: an object of the kernel modules), ``kernel`` (its
        position in ``functions``) or ``unknown`` (its type's name)."""
        kind = _type(value)
        if value is None or kind in (bool, int, float, str):
            return ["value", value]
        if kind is complex:
            return ["complex", value.real, value.imag]
        if kind is dispatcher_class and not plain:
            return ["kernel", function(value)]
        found = known.get(id(value))
        if found is not None and found[0] is value:
            return list(found[1:])
        if kind is dispatcher_class:  # a plain function of the notebook (minidl's are known)
            return ["kernel", function(value)]
        if kind is tuple and depth < 4:
            return ["tuple", [item(v, depth + 1) for v in value[:64]]]
        if kind is np.ndarray and value.dtype.kind in "biuf":
            return ["value", value.copy()]
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return ["scalar", value.dtype.str, value.item()]
        if kind is np.dtype and value.kind in "biuf":
            return ["dtype", value.str]
        return ["unknown", kind.__name__[:80]]

    function(fn)
    return {"functions": functions}


def _cell_item(cell, item) -> list:
    try:
        return item(cell.cell_contents)
    except ValueError:  # an empty cell
        return ["unknown", "an unassigned variable"]


def _numba_entry(namespace, entries):
    """The entry if it is exactly Numba's dispatcher class (captured before the first cell),
    else ``None``; raises ``RuntimeError`` if the notebook changed that class. (Not a probe:
    it takes no case.)"""
    dispatcher_class, snapshot = _capture_numba()
    if not (_unchanged(snapshot) and _unchanged(_SHARED)):
        raise RuntimeError("the notebook changed Numba's dispatcher: the grader cannot tell what compiled")
    fn = namespace[entries[0]]
    return fn if _type(fn) is dispatcher_class else None


def _described_numba_probe(namespace, entries, case, trusted=contextlib.nullcontext):
    """In the submission's process: whether the entry is exactly Numba's dispatcher class
    (captured before the first cell) and, if so, its description (``describe_kernel``).
    Nothing here is compiled or run. A notebook that changed Numba's dispatcher classes is
    refused as before (the instructor learns of it), although nothing judged depends on them
    any more: the kernel judged is the one the fresh process compiles."""
    fn = _numba_entry(namespace, entries)
    if fn is None:
        return {"is_numba": False}
    return {"is_numba": True, "kernel": describe_kernel(fn)}


def build_kernels(spec: dict, trusted=contextlib.nullcontext, plain: bool = False) -> list:
    """In a fresh process, before any of the submission's code ran there: the kernels of
    ``spec`` made with the ``numba.njit`` captured then (``seal``), the first the one to
    judge. ``spec["functions"]`` is the description's (``describe_kernel``), each with
    ``module``: the syntax tree the grader took from the notebook's cells
    (``judge/kernels.py``) -- one function ``__minidl_kernel__(*freevars)`` returning the
    kernel's Python function, its decorators, annotations and default values taken out, so
    that defining it runs nothing of the submission. Globals, closure variables and
    defaults are rebuilt from their description: a name the description cannot give
    (``unknown``) is left undefined, and Numba says so when it compiles. ``plain``: plain
    Python functions (chapter 9's, ``describe_kernel(fn, plain=True)``), not compiled, their
    globals naming objects of ``MODEL_MODULES``."""
    import builtins
    import importlib

    njit: Any = None if plain else _TRUSTED["numba.njit"]
    functions = spec["functions"]
    kernels: list = [None] * len(functions)
    making: set = set()

    roots = MODEL_MODULES if plain else KERNEL_MODULES

    def module(name: str):  # one this process loaded before the request, or a kernel module
        if not isinstance(name, str) or name.split(".")[0] not in roots:
            raise _Unresolved()
        found = sys.modules.get(name)
        if found is None and name not in roots and not plain:
            raise _Unresolved()
        try:
            return found if found is not None else importlib.import_module(name)
        except ImportError:
            raise _Unresolved() from None

    def resolve(item):
        kind, *rest = item
        if kind == "value":
            return rest[0]
        if kind == "scalar":
            return np.dtype(rest[0]).type(rest[1])
        if kind == "complex":
            return complex(rest[0], rest[1])
        if kind == "dtype":
            return np.dtype(rest[0])
        if kind == "tuple":
            return tuple(resolve(v) for v in rest[0])
        if kind == "module":
            return module(rest[0])
        if kind == "attr" and isinstance(rest[1], str) and not rest[1].startswith("_"):
            return getattr(module(rest[0]), rest[1])
        if kind == "kernel":
            return kernel(rest[0])
        raise _Unresolved()

    def resolved(pairs):
        out = {}
        for name, item in pairs:
            try:
                out[name] = resolve(item)
            except _Unresolved:
                pass
        return out

    def kernel(i: int):
        if kernels[i] is None:
            if i in making:
                raise ValueError("the kernels' closures refer to each other: the grader cannot rebuild them")
            making.add(i)
            f = functions[i]
            space: dict = {"__builtins__": builtins, "__name__": "__main__"}
            with trusted():
                exec(compile(f["module"], f["file"], "exec"), space)
            free = resolved(f["freevars"])
            missing = [name for name, _ in f["freevars"] if name not in free]
            if missing:
                raise ValueError(
                    f"the grader cannot rebuild `{missing[0]}`, a variable the kernel's closure holds"
                )
            py_func = space.pop("__minidl_kernel__")(*(free[name] for name, _ in f["freevars"]))
            defaults = resolved(enumerate(f["defaults"]))
            py_func.__defaults__ = tuple(defaults.get(k) for k in range(len(f["defaults"]))) or None
            py_func.__kwdefaults__ = resolved(f["kwdefaults"].items()) or None
            options = {k: v for k, v in f["options"].items() if k in NJIT_OPTIONS and k != "nopython"}
            kernels[i] = py_func if plain else njit(**options)(py_func)
            space.update(resolved(f["globals"].items()))  # after: a kernel may call itself
        return kernels[i]

    kernel(0)
    for i in range(len(functions)):
        kernel(i)
    return kernels


class _Unresolved(Exception):
    """A described global the fresh process does not rebuild (left undefined)."""


def kernel_case(kernels: list, case: Case, trusted=contextlib.nullcontext) -> dict:
    """The first of ``kernels`` (``build_kernels``, or ``_recompiled`` in one process)
    compiled for the case's argument types, every kernel read for object mode before
    anything runs (``object_mode``), then called on a copy of the case (``recorded_call``:
    ``call``). Plain data."""
    kernel = kernels[0]
    try:  # compiled for these arguments' types before it runs: object mode is read first
        from numba import typeof

        with trusted():
            kernel.compile(tuple(typeof(a) for a in case.args))
    except Exception:  # the call below says why
        pass
    why = next((w for k in kernels if (w := shared.object_mode(k))), None)
    if why:
        return {"object_mode": why, "call": None, "out": None}
    return {"object_mode": None, "call": recorded_call(kernel, case.args, _parameter_names(kernel.py_func))}


def kernel_trace(kernels: list, cases: list, trusted=contextlib.nullcontext) -> list:
    """The work of the first kernel's ``prange`` loops on each case (``shared.prange_work``,
    its Python run once, traced, with the ``numba.prange`` captured before the notebook
    ran); ``[]`` for a kernel not compiled with ``parallel=True``. Run after every case of
    every kernel: the only step that runs the submission's code as Python."""
    kernel = kernels[0]
    if not kernel.targetoptions.get("parallel"):
        return []
    return [shared.prange_work(kernel, case.args, _TRUSTED["numba.prange"], trusted) for case in cases]


@probe("numba")
def _in_process_numba_probe(namespace, entries, case):
    """In one process (``check()`` through the grader, the mutants, tests): the submitted
    kernel's Python function compiled again with the ``numba.njit`` captured by ``seal``
    (``_recompiled``) and judged as the fresh process judges (``kernel_case``,
    ``kernel_trace``), the call judged at once (``settle``)."""
    fn = _numba_entry(namespace, entries)
    if fn is None:
        return {"is_numba": False}
    kernels = [_recompiled(fn)]
    found = {"is_numba": True, **kernel_case(kernels, case)}
    if found["call"] is not None and kernels[0].targetoptions.get("parallel"):
        found["parallel"] = kernel_trace(kernels, [case])[0]
    return settle("numba", case, found)


def _recompiled(fn):
    """A new dispatcher of ``fn``'s Python function with its options, made with the
    ``numba.njit`` captured before the notebook ran (``seal``)."""
    njit = _TRUSTED["numba.njit"]
    py_func = _dict(_vars(fn)).get("py_func")
    if _type(py_func) is not _FunctionType:
        raise TypeError("the kernel's Python function is not a plain function: the grader cannot compile it")
    given = _dict(_vars(fn)).get("targetoptions")
    pairs = list(given.items()) if _type(given) is dict and given is not None else []
    options = {k: v for k, v in pairs if k in NJIT_OPTIONS and k != "nopython"}  # njit's own
    key = (id(fn), id(py_func), repr(sorted(options.items())))
    kept = _KERNELS.get(key)
    if kept is None or kept[0] is not fn or kept[1] is not py_func:  # compiled once per kernel
        kept = _KERNELS[key] = (fn, py_func, njit(**options)(py_func))
    return kept[2]


_KERNELS: dict = {}


_FunctionType = _type(_recompiled)


# ---------------------------------------------------------------------- chapter 11: CUDA C
# A submitted CUDA kernel is compiled and launched in a process where no cell has run (issue
# 68): the submission's process only sends back the string its entry holds
# (``_described_cuda_probe``); the grader takes that source from the cells it holds
# (``kernels.cuda_source``) and a fresh sandboxed process of its own, one per exercise (the
# kernel's C++ runs natively there), compiles it with the emulator captured before anything
# else ran there (``cuda_module``) and launches the cases (``cuda_case``). The outputs are
# judged in the grader's process.


def cuda_module(source, entry: str, trusted=contextlib.nullcontext):
    """``source`` compiled by the emulator captured by ``seal`` (``shared.compile_cuda``), its
    library refused before it is loaded if it imports what a kernel has no business reaching
    (``_checked_imports``)."""
    emulated_module, _ = _capture_emulator()
    try:
        return shared.compile_cuda(emulated_module, source, entry, trusted, _checked_imports)
    except PermissionError as err:  # raised here: its message names no line of the emulator
        raise PermissionError(str(err)) from None


# What a kernel's library may not import: Python's C API (a kernel that runs Python in the
# process that launches it could answer for its own launches), dynamic loading and symbol
# lookup (the way to it by name), raw system calls, and opening files (/proc/self/maps: the
# way to it by address).
_REFUSED_IMPORTS = re.compile(
    r"_?Py|dl(open|sym|vsym|mopen|addr|info|_iterate_phdr)|__libc_dl|syscall|ptrace|process_vm_"
    r"|(open|openat|fopen|freopen|creat|opendir)(64)?$|.*(fstream|filebuf)"
)


def _checked_imports(library) -> None:
    """Raise ``PermissionError`` naming the first symbol the compiled ``library`` (a 64-bit
    little-endian ELF shared object) imports that ``_REFUSED_IMPORTS`` refuses."""
    refused = [name for name in imported_symbols(library) if _REFUSED_IMPORTS.match(name)]
    if refused:
        raise PermissionError(
            f"the kernel calls {refused[0]}, which the grader does not let a kernel reach: a CUDA "
            "kernel computes with its arrays only"
        )


def imported_symbols(library) -> list[str]:
    """The names of the symbols an ELF64 (little-endian) shared object imports: the
    undefined entries of its dynamic symbol table."""
    import struct

    with open(library, "rb") as file:
        data = file.read()
    if data[:4] != b"\x7fELF" or data[4:6] != b"\x02\x01":
        raise PermissionError("the kernel's library is not an ELF64 file the grader can read")
    (table,), (size, count) = struct.unpack_from("<Q", data, 0x28), struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, table + i * size) for i in range(count)]
    names = []
    for _, kind, _, _, offset, length, link, _, _, entry in sections:
        if kind != 11 or not entry:  # SHT_DYNSYM
            continue
        strings = sections[link][4]
        for k in range(length // entry):
            name, _, _, where = struct.unpack_from("<IBBH", data, offset + k * entry)
            if where == 0 and name:  # SHN_UNDEF: imported
                start = strings + name
                names.append(data[start : data.index(b"\0", start)].decode("ascii", "replace"))
    return names


def cuda_case(module, case: Case) -> dict:
    """Launch ``case.extra["kernel"]`` of ``module`` (``cuda_module``) on the case.

    The kernel is called as ``kernel(*inputs, out, n, *ints)``: each input is ``case.args``'
    array flattened (its own length), ``out`` has ``case.extra["n"]`` elements and the
    optional ``case.extra["ints"]`` are passed on as ``int``. The emulator stops a kernel
    that reads or writes outside an array: ``out_of_bounds`` is then its message, ``array``
    the parameter. Every array is also followed by guard values; a write past ``out`` that
    the emulator could not see (through a plain pointer) shows as ``guard_ok`` False.
    ``case.extra["one_thread_per_element"]``: ``shared`` lists ``(array, elements touched by
    several threads, the first of them, its size)`` for each array where some are, the
    output first. Plain data."""
    _, out_of_bounds = _capture_emulator()
    return shared.launch(module.get_function(case.extra["kernel"]), case.extra, case.args, out_of_bounds)


def _described_cuda_probe(namespace, entries, case):
    """In the submission's process: the string the entry holds, as it is; nothing is
    compiled or launched here."""
    source = namespace[entries[0]]
    if _type(source) is not str:
        raise TypeError(f"{entries[0]} should be a string of CUDA C source, got {_type(source).__name__}")
    if len(source) > MAX_CUDA_SOURCE:
        raise ValueError(f"{entries[0]} holds {len(source):,} characters, more than the grader reads")
    return {"source": source}


@probe("cuda")
def _cuda_probe(namespace, entries, case, trusted=contextlib.nullcontext):
    """In one process (the catalogue, tests): the entry's source compiled (``cuda_module``)
    and the case launched (``cuda_case``), as the grader's own process for CUDA does."""
    module = cuda_module(namespace[entries[0]], entries[0], trusted)
    return cuda_case(module, case)


# ---------------------------------------------------------------------- chapter 9: models
# A function run on a model is judged in a process where no cell has run (issue 68), as a
# kernel is: the submission's process only describes it (``_described_model_probe``:
# ``describe_kernel(fn, plain=True)``); the grader finds its ``def`` (and those of the
# notebook's functions it calls) in the cells it holds and reads them
# (``judge/kernels.model_spec``); a fresh sandboxed process rebuilds only those functions
# (``build_kernels(spec, plain=True)``) and runs ``model_case``: the grader's code builds the
# model, calls the function, and takes the summary with what it captured before the call.
# The only code of the submission that runs there is that function's.
_bool, _list, _str, _tuple, _len, _zip, _isinstance = bool, list, str, tuple, len, zip, isinstance
_sorted = sorted
_np_array = np.array


def _built(model) -> list:
    """Each layer's parameters as the model was built: ``[{key: array}]``, held here (the
    answer never sees this list: the summary's ``kept`` and ``built_params`` read it)."""
    return [_dict(layer.params) for layer in _list(model.layers)]


def _params(layer) -> list:
    params = layer.params
    return _list(_dict.items(params)) if _isinstance(params, _dict) else []


def _model_summary(model, built: list | None) -> dict:
    """``model_summary``'s data, read with the builtins and NumPy functions this module held
    before any answer ran: each layer's ``trainable`` flag, whether it has parameters, their
    names and values, its class's name; with ``built`` (``_built``, before the call):
    ``kept``, whether each parameter is still the array the layer was built with (by
    identity, against this function's own list), and ``built_params``, the values those
    arrays hold now (a step that updates in place leaves the step there; one that binds
    new arrays leaves them as they were: the grader judges them by value)."""
    layers = _list(model.layers)
    params = [_params(layer) for layer in layers]
    summary: dict = {
        "trainable": [_bool(layer.trainable) for layer in layers],
        "has_params": [_bool(p) for p in params],
        "param_names": [[_str(k) for k, _ in p] for p in params],
        "params": [_tuple(_np_array(v) for _, v in p) for p in params],
        "kinds": [_type(layer).__name__ for layer in layers],
    }
    if built is not None and _len(built) == _len(layers):
        summary["kept"] = [
            [key in first and value is first[key] for key, value in p] for p, first in _zip(params, built)
        ]
        summary["built_params"] = [_tuple(_np_array(v) for v in _dict.values(first)) for first in built]
    return summary


def _recorder(add, forward, to_bool):
    def forward_recorded(x, training=False):
        add(to_bool(training))
        return forward(x, training=training)

    return forward_recorded


# made again with a globals table of its own: the functions it puts on the layers, which the
# answer can reach, lead to nothing of this module (``__globals__``), whose captures the
# summary reads
_recorder = types.FunctionType(_recorder.__code__, {"__builtins__": {}}, "_recorder")


def _recorded_modes(model) -> set:
    """The ``training`` flags the model's layers are run with (``record_training_modes``):
    each layer's ``forward`` wrapped by ``_recorder``, the set and ``bool`` held in its
    closure."""
    modes: set = set()
    for layer in _list(model.layers):
        layer.forward = _recorder(modes.add, layer.forward, _bool)
    return modes


def model_case(fn, probe_name: str, case: Case) -> dict:
    """The grader's steps around one call of ``fn``: the model built from the case
    (``build_model``), ``fn`` called on it, the model's summary (``_model_summary``) as plain
    data. ``probe_name``: ``"freeze"`` (``fn(model, n_trainable)``, some layers frozen
    first) or ``"fine_tune"`` (``fn(model, x, y, loss_fn, lr)``: the loss returned and the
    ``training`` flags the layers ran with)."""
    if probe_name == "freeze":
        weights, n_trainable, *earlier = case.args
        model = build_model(weights, earlier[0] if earlier else ())  # some frozen by an earlier stage
        built = _built(model)
        returned = fn(model, n_trainable)
        summary = _model_summary(model, built)
        summary["returned_model"] = returned is model or returned is None
        return summary
    from minidl.nn import losses

    weights, frozen, x, y, lr = case.args
    model = build_model(weights, frozen)
    built, modes = _built(model), _recorded_modes(model)
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    loss = fn(model, x, y, loss_fn, lr)
    summary = _model_summary(model, built)
    summary["loss"] = loss
    summary["training_modes"] = _sorted(modes)
    return summary


def _described_model_probe(namespace, entries, case):
    """In the submission's process: the entry described (``describe_kernel(fn,
    plain=True)``); nothing is built or called here."""
    fn = namespace[entries[0]]
    if _type(fn) is not _FunctionType:
        raise TypeError(
            f"`{entries[0]}` should be a function defined with `def` in its cell, got {_type(fn).__name__}"
        )
    return {"function": describe_kernel(fn, plain=True)}


@probe("freeze")
def _freeze_probe(namespace, entries, case):
    """In one process (the catalogue, ``check()`` through the grader, tests): the steps the
    fresh process runs (``model_case``)."""
    return model_case(namespace[entries[0]], "freeze", case)


@probe("fine_tune")
def _fine_tune_probe(namespace, entries, case):
    return model_case(namespace[entries[0]], "fine_tune", case)


# What the submission's process runs: the probes whose data the grader judges (``settle``)
# in its own process, the others as they are.
SANDBOX_PROBES: dict[str, Callable] = {
    **PROBES,
    "call": _recorded_call_probe,
    "numba": _described_numba_probe,
    "cuda": _described_cuda_probe,
    "freeze": _described_model_probe,
    "fine_tune": _described_model_probe,
}


# ---------------------------------------------------------------------- errors
def describe_exception(err: BaseException, frames=None) -> str:
    """``Type: message`` plus the innermost line of the reader's own code that was running;
    ``frames``: the traceback's ``FrameSummary`` list, when the caller read it (the sandbox
    reads it while its audit hook lets it reach the frames)."""
    if isinstance(err, NotImplementedError):
        return "not implemented yet (the cell still raises NotImplementedError)"
    if frames is None:
        frames = traceback_frames(err)
    frames = [f for f in frames if _is_readers(f.filename)]
    where = ""
    if frames:
        frame = frames[-1]
        cell = f"{frame.filename.strip('<>')}, " if frame.filename.startswith("<cell") else ""
        code = f": {frame.line.strip()}" if frame.line else ""
        where = f" ({cell}line {frame.lineno}{code})"
    try:
        text = str(err).strip()
    except Exception:  # a submission's exception whose __str__ fails
        text = ""
    text = text.splitlines()[0] if text else ""
    return f"raised {type(err).__name__}" + (f": {text}" if text else "") + where


def traceback_frames(err: BaseException) -> list:
    """The frames of ``err``'s traceback, their lines not yet read (``FrameSummary``)."""
    tb = err.__traceback__
    return list(traceback.StackSummary.extract(traceback.walk_tb(tb), lookup_lines=False)) if tb else []


_LIBRARY_DIRS = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
_GRADING_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # grader/minidl_grader


def _is_readers(filename: str) -> bool:
    """Whether a traceback frame is the reader's code (not Python's, NumPy's or the grader's)."""
    if filename.startswith("<cell"):
        return True
    if filename.startswith("<frozen") or "site-packages" in filename:
        return False
    path = os.path.realpath(filename)
    return not path.startswith(_LIBRARY_DIRS + (_GRADING_DIR,))


# ---------------------------------------------------------------------- IPython calls
class NotebookShell:
    """What ``get_ipython()`` returns while a submission is graded.

    The grader turns magics into calls with IPython's own input transformation
    (``%time f(x)`` becomes ``get_ipython().run_line_magic('time', 'f(x)')``). Here, the
    magics that only measure or capture run their code; everything else (``!shell``,
    ``%pip``, ``%%bash``, ``%matplotlib``) does nothing and returns ``None``.
    """

    _RUNS_ITS_CODE = {"time", "timeit", "capture", "prun"}

    def __init__(self, namespace: dict):
        self._namespace = namespace

    def run_line_magic(self, name, line, *args, **kwargs):
        if name in ("time", "prun") and isinstance(line, str) and line.strip():
            return (
                eval(compile(line, "<magic>", "eval"), self._namespace)
                if _is_expression(line)
                else exec(compile(line, "<magic>", "exec"), self._namespace)
            )
        return None

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        if name in self._RUNS_ITS_CODE and isinstance(cell, str):
            exec(compile(cell, "<cell magic>", "exec"), self._namespace)
        return None

    def system(self, *args, **kwargs):
        return None

    def getoutput(self, *args, **kwargs):
        return []

    def __getattr__(self, name):  # any other shell method: a harmless no-op
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


def _is_expression(source: str) -> bool:
    try:
        compile(source, "<magic>", "eval")
        return True
    except SyntaxError:
        return False
