"""The submission's side of grading: the inputs' container and the ways to call an answer.

This module, ``codec.py`` and ``sandbox.py`` are all of ``minidl_grader`` that the
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
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from minidl.exercises import probes as shared
from minidl.exercises.probes import build_model, model_summary, record_training_modes

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
# ``numba.core.dispatcher.Dispatcher``, ``builtins.isinstance`` or a method of the CUDA
# emulator changes neither what is compared nor how: the probes compare with the captured
# classes, by exact type (a subclass the notebook writes is not numba's), and refuse when
# the classes' and the emulator's attributes are no longer the captured ones. (The grader
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
    return _TRUSTED["numba"]


def _capture_emulator():
    if "emulate" not in _TRUSTED:
        from minidl.kernels import emulate

        _TRUSTED["emulate"] = (
            (emulate.EmulatedModule, emulate.OutOfBounds),
            _snapshot([emulate, emulate.EmulatedModule, emulate.EmulatedKernel, emulate.OutOfBounds]),
        )
    return _TRUSTED["emulate"]


# ---------------------------------------------------------------------- chapter 10: Numba
def _recorded_numba_probe(namespace, entries, case, trusted=contextlib.nullcontext):
    """Call a submitted kernel and report whether Numba compiled it, from a dispatcher the
    probe compiles itself (issue 68): the submitted object must be exactly the dispatcher
    class captured before the notebook ran, whose methods are unchanged; its Python
    function and its options are then compiled afresh with the captured ``numba.njit``,
    and that compiled kernel -- not the submitted object, whose ``py_func`` and
    ``overloads`` are attributes a cell can replace -- is what runs the case, what is read
    for object mode (its own overloads) and whose ``prange`` work is traced. A
    ``py_func`` swapped for another function is that function compiled and judged."""
    dispatcher_class, snapshot = _capture_numba()
    if not (_unchanged(snapshot) and _unchanged(_SHARED)):
        raise RuntimeError("the notebook changed Numba's dispatcher: the grader cannot tell what compiled")
    fn = namespace[entries[0]]
    compiled = _type(fn) is dispatcher_class
    found: dict = {"is_numba": compiled, "call": None}
    if not compiled:
        return found
    kernel = _recompiled(fn)
    try:  # compiled for these arguments' types before it runs: object mode is read first
        from numba import typeof

        kernel.compile(tuple(typeof(a) for a in case.args))
    except Exception:  # the call below says why
        pass
    found["object_mode"] = shared.object_mode(kernel)
    if found["object_mode"]:
        return {**found, "out": None}
    found["call"] = recorded_call(kernel, case.args, _parameter_names(kernel.py_func))
    if kernel.targetoptions.get("parallel"):
        found["parallel"] = _prange_work(kernel, case.args, trusted)
    return found


@probe("numba")
def _numba_probe(namespace, entries, case):
    """In one process: the numba probe's data with the call judged at once (``settle``)."""
    return settle("numba", case, _recorded_numba_probe(namespace, entries, case))


def _recompiled(fn):
    """A new dispatcher of ``fn``'s Python function with its options, made with the
    ``numba.njit`` captured before the notebook ran (``seal``)."""
    njit = _TRUSTED["numba.njit"]
    py_func = _dict(_vars(fn)).get("py_func")
    if _type(py_func) is not _FunctionType:
        raise TypeError("the kernel's Python function is not a plain function: the grader cannot compile it")
    given = _dict(_vars(fn)).get("targetoptions")
    pairs = list(given.items()) if _type(given) is dict and given is not None else []
    options = {k: v for k, v in pairs if k in _OPTIONS}
    key = (id(fn), id(py_func), repr(sorted(options.items())))
    kept = _KERNELS.get(key)
    if kept is None or kept[0] is not fn or kept[1] is not py_func:  # compiled once per kernel
        kept = _KERNELS[key] = (fn, py_func, njit(**options)(py_func))
    return kept[2]


_KERNELS: dict = {}


_FunctionType = _type(_recompiled)
# the options a kernel keeps when the probe compiles it again (what changes how it compiles)
_OPTIONS = {
    "parallel",
    "fastmath",
    "error_model",
    "boundscheck",
    "nogil",
    "inline",
    "looplift",
    "forceobj",
    "nopython",
}


def _prange_work(fn, args, trusted=contextlib.nullcontext) -> dict:
    """``shared.prange_work`` with the ``numba.prange`` captured before the notebook ran."""
    return shared.prange_work(fn, args, _TRUSTED["numba.prange"], trusted)


# ---------------------------------------------------------------------- chapter 11: CUDA C
@probe("cuda")
def _cuda_probe(namespace, entries, case, trusted=contextlib.nullcontext):
    """Compile the submitted source with the emulator and launch ``case.extra["kernel"]``.

    The kernel is called as ``kernel(*inputs, out, n, *ints)``: each input is ``case.args``'
    array flattened (its own length), ``out`` has ``case.extra["n"]`` elements and the
    optional ``case.extra["ints"]`` are passed on as ``int``. The emulator stops a kernel
    that reads or writes outside an array: ``out_of_bounds`` is then its message, ``array``
    the parameter. Every array is also followed by guard values; a write past ``out`` that
    the emulator could not see (through a plain pointer) shows as ``guard_ok`` False.
    ``case.extra["one_thread_per_element"]``: ``shared`` lists ``(array, elements touched by
    several threads, the first of them, its size)`` for each array where some are, the
    output first."""
    (emulated_module, out_of_bounds), snapshot = _capture_emulator()
    if not (_unchanged(snapshot) and _unchanged(_SHARED)):
        raise RuntimeError("the notebook changed the CUDA emulator: the grader cannot tell what ran")
    module = shared.compile_cuda(emulated_module, namespace[entries[0]], entries[0], trusted)
    return shared.launch(module.get_function(case.extra["kernel"]), case.extra, case.args, out_of_bounds)


# ---------------------------------------------------------------------- chapter 9: models
@probe("freeze")
def _freeze_probe(namespace, entries, case):
    weights, n_trainable, *earlier = case.args
    model = build_model(weights)
    for index in earlier[0] if earlier else ():  # frozen by an earlier stage
        model.layers[index].trainable = False
    returned = namespace[entries[0]](model, n_trainable)
    summary = model_summary(model)
    summary["returned_model"] = returned is model or returned is None
    return summary


@probe("fine_tune")
def _fine_tune_probe(namespace, entries, case):
    from minidl.nn import losses

    weights, frozen, x, y, lr = case.args
    model = build_model(weights)
    for index in frozen:
        model.layers[index].trainable = False
    modes = record_training_modes(model)
    loss = namespace[entries[0]](model, x, y, losses.SparseCategoricalCrossentropy(from_logits=True), lr)
    summary = model_summary(model)
    summary["loss"] = loss
    summary["training_modes"] = sorted(modes)
    return summary


# What the submission's process runs: the probes whose data the grader judges (``settle``)
# in its own process, the others as they are.
SANDBOX_PROBES: dict[str, Callable] = {
    **PROBES,
    "call": _recorded_call_probe,
    "numba": _recorded_numba_probe,
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
