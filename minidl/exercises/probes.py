"""``check()`` on the public cases: each exercise judged as the grader's probes judge it.

This module judges an answer on the public cases as the exercise's ``judged_as`` (in
``public.json``) says, the way the grader's probes do, on the same kind of data -- inputs,
expected results, the results of the usual mistakes -- never with a reference:

* ``call`` (most exercises: ``judged_as`` not given): the answer called on a copy of the
  case's arguments, which it must leave as they were; then what it returns;
* ``call_and_inputs``: what the answer returns, then its inputs, which must be as the case
  stores them after the call (a GAN step that changes the discriminator's weights);
* ``numba``: the kernel must be compiled by Numba (a ``numba.njit`` dispatcher), in nopython
  mode, with ``parallel=True`` where the task asks; then its outputs and their dtype;
* ``cuda``: the CUDA C source is run by minidl's CPU emulator (``minidl.kernels.emulate``,
  which needs a C++ compiler): a read or a write outside an array, a write past the output
  and an element handled by several threads fail, then the outputs are compared;
* ``freeze`` and ``fine_tune``: the answer gets a real ``Sequential``; the flags
  ``trainable`` it leaves, the parameters after its training step, the loss it returns and
  whether it ran the model in training mode are compared;
* ``relu_network``: the returned weights must make the one-hidden-layer ReLU network output
  the stored targets on the stored inputs, exactly (any weights that do are right).

``evaluate(exercise, answers, arrays)`` returns ``(status, message)`` as ``Verdict`` holds them.
What observes an answer (``object_mode``, ``prange_work``, ``launch``, ``build_model``, ...)
is the grader's too: its sandbox runs it, the grader judges the data in its own process.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import types
import weakref
from dataclasses import dataclass

import numpy as np

from . import data
from .compare import compare_models, compare_outputs, count_problem, rel_error

__all__ = ["evaluate", "KINDS", "object_mode", "prange_work", "not_parallel", "compile_cuda", "launch"]
__all__ += ["build_model", "model_summary", "replaced_parameter", "record_training_modes", "CountingRange"]
__all__ += ["guarded", "launch_problem", "arrays_in", "changed_input"]

_NOT_YET = "not implemented yet (the cell still raises NotImplementedError)"


class _Failed(Exception):
    """A case failed: the message says why (with the case's label)."""


class _Unchecked(Exception):
    """The case cannot be run here (no Numba, no compiler): the message says what to do."""


@dataclass
class _Case:
    """A public case, decoded: the outputs of the usual mistakes are ``[(hint, outputs)]``,
    ``factors`` the constants that explain a scaled answer, ``extra`` what the exercise's way
    of judging needs; ``stored``: the case as ``public.json`` holds it."""

    label: str
    args: tuple
    expected: object
    mistakes: list
    factors: dict
    extra: dict
    stored: dict


def _cases(exercise: dict, arrays):
    """Each public case of ``exercise``, decoded (``_Case``)."""
    for number, case in enumerate(exercise["cases"], 1):
        yield _Case(
            case.get("label") or f"case {number}",
            data.decode(case["args"], arrays),
            data.decode(case["expected"], arrays),
            [(hint, data.decode(wrong, arrays)) for hint, wrong in case["mistakes"]],
            data.decode(case["factors"], arrays),
            data.decode(case.get("extra", {"dict": {}}), arrays),
            case,
        )


def _fail_if(case: _Case, problem: str | None, hints=()) -> None:
    """Fail ``case`` with ``problem``, a message (its label first, ``hints`` after), if there is one."""
    if problem:
        raise _Failed(f"{case.label}: {problem}" + "".join(f"\n    hint: {hint}" for hint in hints))


def _judge_outputs(case: _Case, got, names: tuple, tolerance: float, scales=None) -> None:
    """Fail ``case`` if ``got`` is not its expected outputs, saying how (``compare_outputs``)."""
    _fail_if(case, compare_outputs(got, case.expected, names, case.mistakes, case.factors, tolerance, scales))


def _call(label: str, function, *args):
    """``function(*args)``; a raised exception fails the case with its type and message."""
    try:
        return function(*args)
    except NotImplementedError:
        raise _Failed(_NOT_YET) from None
    except Exception as err:
        raise _Failed(f"{label}: raised {type(err).__name__}: {str(err)[:200]}") from None


def arrays_in(value, path: str = ""):
    """``(path, array)`` for each array in ``value``: an array, or tuples and lists of them."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from arrays_in(item, f"{path}[{i}]")


def changed_input(before: tuple, after: tuple, names: tuple = ()) -> str | None:
    """Which argument (``w``, ``argument 2``, ``grads[0]``) the call changed, or None."""
    for index, (old_arg, new_arg) in enumerate(zip(before, after)):
        name = f"`{names[index]}`" if index < len(names) else f"argument {index + 1}"
        for (path, old), (_, new) in zip(arrays_in(old_arg, name), arrays_in(new_arg)):
            if old.shape != new.shape or not np.array_equal(old, new, equal_nan=old.dtype.kind in "fc"):
                return path
    return None


def _passed(exercise: dict, what: str = "") -> str:
    count = len(exercise["cases"])
    return f"passed ({count} public test case{'s' if count != 1 else ''}{what})"


# ---------------------------------------------------------------------- plain calls
def _calls(exercise: dict, arrays, *functions) -> str:
    """Each case's entry (``functions``: the exercise's entries, in order) called on a copy of
    its arguments, which it must leave as they were; its outputs must be the expected ones,
    new arrays where the case asks (``fresh_outputs``), exact zeros where it asks
    (``exact_zeros``)."""
    entries = dict(zip(exercise["entries"], functions))
    for case in _cases(exercise, arrays):
        given, got = _call_on_a_copy(case, entries[case.stored.get("entry") or exercise["entries"][0]])
        if case.stored.get("fresh_outputs") and _shares_memory(got, given):
            raise _Failed(
                f"{case.label}: an output is a view of an input (it shares its memory): the task asks "
                "for new arrays, so that changing one never changes the other; add .copy()"
            )
        names = tuple(case.stored.get("outputs", exercise["outputs"]))
        scales = data.decode(case.stored["scales"], arrays) if "scales" in case.stored else None
        _judge_outputs(case, got, names, exercise["tolerance"], scales)
        if case.stored.get("exact_zeros") and _zeros_not_exact(got, case.expected):
            raise _Failed(
                f"{case.label}: right to the tolerance, but not exactly 0 where the answer is 0 (a "
                "1e-17 left over does not pass: the task asks for exact zeros)"
            )
    return _passed(exercise)


def _call_on_a_copy(case: _Case, function) -> tuple:
    """``(arguments, outputs)`` of ``function`` called on a copy of the case's arguments,
    which it must leave as they were (as the grader's ``settle`` judges a call)."""
    given = copy.deepcopy(case.args)
    got = _call(case.label, function, *given)
    code = getattr(function, "__code__", None)  # a Numba kernel has its Python function's
    changed = changed_input(case.args, given, code.co_varnames[: code.co_argcount] if code else ())
    if changed is not None:
        raise _Failed(
            f"{case.label}: the function changed its input {changed} in place; the task asks to "
            "leave the inputs as they were and return new arrays (copy first, or write "
            "`w = w - lr * v` instead of `w -= lr * v`)"
        )
    return given, got


def _shares_memory(outputs, inputs: tuple) -> bool:
    """Whether an array among ``outputs`` shares memory with an array among ``inputs``."""
    given = [arg for _, arg in arrays_in(inputs)]
    return any(np.shares_memory(out, arg) for _, out in arrays_in(outputs) for arg in given)


def _zeros_not_exact(got, expected) -> bool:
    """Whether an output holds anything but an exact 0 where the expected output is 0."""
    if isinstance(expected, (tuple, list)):
        return any(_zeros_not_exact(g, e) for g, e in zip(got, expected))
    zero = np.asarray(expected) == 0
    return bool(np.any(np.asarray(got)[zero] != 0))


def _call_and_inputs(exercise: dict, arrays, function) -> str:
    for case in _cases(exercise, arrays):
        given = copy.deepcopy(case.args)
        got = _call(case.label, function, *given)
        _judge_outputs(case, got, tuple(exercise["outputs"]), exercise["tolerance"])
        for after in case.extra.get("after", []):
            now, wanted, tolerance = given[after["arg"]], after["expected"], after["tolerance"]
            shaped = isinstance(now, np.ndarray) and now.shape == wanted.shape
            if not shaped or not (
                rel_error(now, wanted) <= tolerance
                if tolerance
                else np.array_equal(now, wanted, equal_nan=True)
            ):
                raise _Failed(f"{case.label}: {after['problem']}")
    return _passed(exercise, "; the inputs checked after the call too")


# ---------------------------------------------------------------------- Numba
def object_mode(kernel) -> str | None:
    """Why a compiled kernel runs Python (None if it does not), read from its compiled
    overloads: compiled in object mode, or with a block lifted to object mode
    (``numba.objmode``, under any name), or calling into the Python interpreter."""
    for signature, compiled in list(kernel.overloads.items()):
        if compiled.objectmode:
            return "it was compiled in object mode"
        if compiled.lifted:
            return "a block of it runs in object mode (numba.objmode)"
        if "PyObject_Call" in kernel.inspect_llvm(signature):
            return "it calls the Python interpreter"
    return None


MAX_SHARE = 0.75  # a parallel kernel: the largest share of its prange work one iteration may do


class CountingRange:
    """Stands for ``prange`` in a plain-Python run of a kernel: records, for every outermost
    prange loop, the lines of the kernel run in each iteration (``prange_work``)."""

    def __init__(self):
        self.iterations: list[int] = []  # lines run per iteration, every outermost loop
        self.depth, self.current = 0, -1

    def __call__(self, *args):  # a generator, as range is iterated
        outer = self.depth == 0
        self.depth += 1
        try:
            for i in range(*args):
                if outer:
                    self.iterations.append(0)
                    self.current = len(self.iterations) - 1
                yield i
        finally:
            self.depth -= 1
            if outer:
                self.current = -1


def prange_work(kernel, args, numba_pair=None, trusted=contextlib.nullcontext) -> dict:
    """The kernel's Python function run once, traced, ``prange`` (a global, ``numba.prange``,
    a closure) replaced by a counting range: ``iterations`` of its outermost prange loops,
    ``largest_share`` of their lines that one iteration ran (1.0: all), ``error`` if it
    raised. ``numba_pair``: ``(numba.prange, numba)`` as the caller trusts them; ``trusted``:
    where ``sys.settrace`` is allowed (the grader's sandbox refuses it to a submission)."""
    if numba_pair is None:
        import numba

        numba_pair = (numba.prange, numba)
    counting, proxy = CountingRange(), types.ModuleType("numba")  # numba, its prange counting
    vars(proxy).update({**vars(numba_pair[1]), "prange": counting})
    swap = {id(numba_pair[0]): counting, id(numba_pair[1]): proxy}
    func = kernel.py_func
    space = {k: swap.get(id(v), v) for k, v in func.__globals__.items()}
    cells = tuple(
        types.CellType(swap.get(id(c.cell_contents), c.cell_contents)) for c in func.__closure__ or ()
    )
    plain = types.FunctionType(func.__code__, space, func.__name__, func.__defaults__, cells or None)
    code = func.__code__

    def lines(frame, event, arg):  # traces the kernel's own lines only
        if event == "line" and counting.current >= 0:
            counting.iterations[counting.current] += 1
        return lines

    def tracer(frame, event, arg):
        return lines if frame.f_code is code else None

    previous = sys.gettrace()
    with trusted():
        sys.settrace(tracer)
    try:
        plain(*copy.deepcopy(args))
    except Exception as err:
        return {"iterations": 0, "largest_share": 1.0, "error": f"{type(err).__name__}: {err}"[:300]}
    finally:
        with trusted():
            sys.settrace(previous)
    work, total = counting.iterations, sum(counting.iterations)
    return {"iterations": len(work), "largest_share": max(work) / total if total else 1.0}


def not_parallel(entry: str, work: list) -> str | None:
    """Why a kernel is not parallel, from its ``prange_work`` on the cases (empty: not
    compiled with ``parallel=True``): on some case, its outermost ``prange`` loops must run
    at least two iterations, none doing more than ``MAX_SHARE`` of their work (a
    ``prange(1)``, or one iteration doing it all, is serial)."""
    must = f"`{entry}` must run in parallel:"
    if not work or any(not isinstance(w, dict) for w in work):
        return f"{must} compile it with `@njit(parallel=True)` and loop with `prange`"
    best = max(work, key=lambda w: (w.get("iterations", 0), -w.get("largest_share", 1.0)))
    if best.get("error"):
        return f"`{entry}`'s prange loop could not be observed (run as Python it raised {best['error']})"
    if best.get("iterations", 0) < 2:
        return (
            f"{must} its prange loop ran {best.get('iterations', 0)} iteration(s); "
            "loop over the data with `prange` (`for i in prange(x.size)`)"
        )
    if best.get("largest_share", 1.0) > MAX_SHARE:
        return (
            f"{must} one iteration of its prange loop did {best['largest_share']:.0%} of the loop's "
            "work; split the data between the iterations"
        )
    return None


def _numba(exercise: dict, arrays, kernel) -> str:
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:
        raise _Unchecked(
            "Numba is not installed here, so the kernel cannot be compiled: install it "
            "(pip install numba) to check it; the grader checks it with Numba"
        ) from None
    entry, names = exercise["entries"][0], tuple(exercise["outputs"])
    if type(kernel) is not CPUDispatcher:
        raise _Failed(
            "this is a plain Python function: compile it with Numba "
            "(`from numba import njit` and `@njit` above the `def`)"
        )
    work = []
    for case in _cases(exercise, arrays):
        _, got = _call_on_a_copy(case, kernel)
        if exercise.get("parallel") and kernel.targetoptions.get("parallel"):
            work.append(prange_work(kernel, case.args))
        why = object_mode(kernel)
        if why:
            raise _Failed(
                f"the kernel runs Python inside the compiled function ({why}): write the loops "
                "in nopython code, without numba.objmode"
            )
        if case.extra.get("dtype_of") is not None:
            want = np.asarray(case.args[case.extra["dtype_of"]]).dtype
            if isinstance(got, np.ndarray) and got.dtype != want:
                raise _Failed(
                    f"{case.label}: `{names[0]}` is {got.dtype}, expected {want}: the task asks for the "
                    "input's dtype (create the output with `dtype=x.dtype`)"
                )
        _judge_outputs(case, got, names, exercise["tolerance"])
    if exercise.get("parallel"):
        why = not_parallel(entry, work)
        if why:
            raise _Failed(why)
        return _passed(exercise, "; compiled by Numba in nopython mode, its prange loop sharing out the work")
    return _passed(exercise, "; compiled by Numba in nopython mode")


# ---------------------------------------------------------------------- CUDA C, emulated
GUARD, SENTINEL = 64, -12345.0


def guarded(values: np.ndarray) -> np.ndarray:
    """``values`` with guard values after them; the kernel gets ``buffer[:len(values)]``."""
    buffer = np.full(values.size + GUARD, SENTINEL, dtype=np.float32)
    buffer[: values.size] = values
    return buffer


def compile_cuda(module_class, source, entry: str, trusted=contextlib.nullcontext, inspect=None):
    """``module_class(source, float32, entry)`` (``EmulatedModule``); raises ``TypeError`` (not a
    string), ``NotImplementedError`` (the ``#error`` placeholder) or ``RuntimeError`` (the
    compiler's first errors). ``trusted``: where loading the library is allowed (the sandbox
    refuses ``ctypes`` to a submission); ``inspect``: the grader's check of the library."""
    if type(source) is not str:
        raise TypeError(f"{entry} should be a string of CUDA C source, got {type(source).__name__}")
    try:
        with trusted():
            return module_class(source, np.float32, entry, inspect=inspect)
    except RuntimeError as err:
        errors = [line for line in str(err).splitlines() if "error" in line]
        if any("not implemented yet" in line for line in errors):
            raise NotImplementedError("the kernel still has its #error placeholder") from None
        raise RuntimeError(
            "the CUDA source does not compile: " + ("; ".join(errors[:3]) if errors else str(err)[:500])
        ) from None


def launch(kernel, spec: dict, args, out_of_bounds) -> dict:
    """``kernel(*inputs, out, n, *ints)`` on ``spec``'s grid (``blocks``, ``threads``, ``n``,
    ``ints``), each array flattened and followed by guard values: ``out``, ``guard_ok`` (no
    write past ``out``) and ``shared`` (``one_thread_per_element``: ``(array, elements several
    threads handled, the first, size)``, the output first); or ``out_of_bounds``, ``array``."""
    n = spec["n"]
    inputs = [guarded(a)[: a.size] for a in (np.asarray(x, dtype=np.float32).ravel() for x in args)]
    output = guarded(np.zeros(n, dtype=np.float32))
    ints = tuple(np.int32(v) for v in spec.get("ints", ()))
    grid = ((spec["blocks"],), (spec["threads"],), (*inputs, output[:n], np.int32(n), *ints))
    try:
        owners = kernel.owners(*grid) if spec.get("one_thread_per_element") else {}
        if not spec.get("one_thread_per_element"):
            kernel(*grid)
    except out_of_bounds as err:
        return {"out_of_bounds": str(err), "array": err.array}
    owned = list(owners.items())
    shared = [  # the output first
        (name, int(np.count_nonzero(owner == -2)), int(np.argmax(owner == -2)), owner.size)
        for name, owner in owned[len(inputs) : len(inputs) + 1] + owned[: len(inputs)]
        if np.any(owner == -2)
    ]
    return {"out": output[:n].copy(), "guard_ok": bool(np.all(output[n:] == SENTINEL)), "shared": shared}


def launch_problem(found, name: str, outside: dict) -> str | None:
    """What is wrong with a kernel's ``launch`` (``found``, as the sandbox sent it) before its
    output ``name`` is compared, or None: an access outside an array (the emulator's message,
    then ``outside[array]``, or ``outside[""]`` for any other array), a write past the output,
    an element that several threads handled. ``check()`` and the grader judge by this one."""
    if not isinstance(found, dict) or not ("out" in found or "out_of_bounds" in found):
        return "the grader could not read the result"
    if "out_of_bounds" in found:
        return f"{found['out_of_bounds']}: {outside.get(found.get('array'), outside[''])}"
    if not found.get("guard_ok", False):
        return (
            f"the kernel wrote past the end of `{name}`: threads with an index >= n must "
            "do nothing (check `if (i < n)`)"
        )
    if found.get("shared"):
        array, count, first, size = found["shared"][0]
        return (
            f"{count} of the {size} elements of `{array}` were handled by more than one thread "
            f"({array}[{first}] first), so the blocks redo each other's work: each element must "
            "have exactly one thread. A grid-stride loop steps by the size of the whole grid, "
            "i += blockDim.x * gridDim.x (a step of blockDim.x gives every block the elements "
            "of the blocks after it)"
        )
    return None


def _cuda(exercise: dict, arrays, source) -> str:
    from minidl.kernels import emulate

    if type(source) is str and emulate.compiler() is None:
        raise _Unchecked(
            "no C++ compiler (g++) here, which minidl's CUDA emulator needs to run the kernel on "
            "the CPU: install one to check it; the grader compiles and runs it"
        )
    try:
        module = compile_cuda(emulate.EmulatedModule, source, exercise["entries"][0])
    except (NotImplementedError, TypeError, RuntimeError) as err:
        raise _Failed(
            f"not implemented yet ({err})" if type(err) is NotImplementedError else str(err)
        ) from None
    name = (exercise["cases"][0].get("outputs") or exercise["outputs"])[0]
    for case in _cases(exercise, arrays):
        spec = case.extra["launch"]
        found = _call(
            case.label, launch, module.get_function(spec["kernel"]), spec, case.args, emulate.OutOfBounds
        )
        _fail_if(case, launch_problem(found, name, case.extra["outside"]))
        _judge_outputs(case, found["out"], (name,), exercise["tolerance"])
    return _passed(
        exercise,
        ", run on the CPU by minidl's CUDA emulator, which stops a read or write outside an "
        "array; the grader runs the same checks on its own cases",
    )


# ---------------------------------------------------------------------- models (chapter 9)
def build_model(weights: list, frozen=()):
    """The float64 ``Sequential`` the grader hands an answer, built from ``weights``: each
    ``(W, b)`` a ``Dense``, with a ``ReLU`` before every ``Dense`` but the first; each
    ``{"gamma": ..., "beta": ...}`` a ``BatchNorm`` where it stands. Three pairs make the
    chapter's Dense - ReLU - Dense - ReLU - Dense; ``[(W1, b1), {"gamma", "beta"}, (W2, b2),
    (W3, b3)]`` makes Dense - BatchNorm - ReLU - Dense - ReLU - Dense. The arrays each layer
    starts with are remembered (``model_summary``'s ``kept``). The layers at the indices
    ``frozen`` are made not ``trainable``."""
    from minidl.nn import layers as L
    from minidl.training.model import Sequential

    layers: list = []
    values: list = []
    for item in weights:
        if isinstance(item, dict):
            layers.append(L.BatchNorm())
            values.append((layers[-1], {"gamma": item["gamma"], "beta": item["beta"]}))
        else:
            W, b = item
            if values:
                layers.append(L.ReLU())
            layers.append(L.Dense(W.shape[1]))
            values.append((layers[-1], {"W": W, "b": b}))
    model = Sequential(layers, input_shape=(weights[0][0].shape[0],))
    model.astype(np.float64)
    for layer, params in values:
        layer.params.update({k: np.array(v, dtype=np.float64) for k, v in params.items()})
        layer.grads.update({k: np.zeros_like(v) for k, v in layer.params.items()})
    _BUILT[model] = [dict(layer.params) for layer in model.layers]
    for index in frozen:
        model.layers[index].trainable = False
    return model


# the parameter arrays each model of build_model started with: a step that rebinds
# ``params[key]`` to a new array instead of updating it in place shows in ``kept``
_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_summary(model) -> dict:
    """What is compared of a model: which layers train, and every parameter (names, values);
    each layer's kind; and for a model of ``build_model``, whether each parameter is still the
    array the layer was built with (``kept``: False where it was replaced by a new array)."""
    built = _BUILT.get(model)
    summary = {
        "trainable": [bool(layer.trainable) for layer in model.layers],
        "has_params": [bool(layer.params) for layer in model.layers],
        "param_names": [[str(k) for k in layer.params] for layer in model.layers],
        "params": [tuple(np.array(p) for p in layer.params.values()) for layer in model.layers],
        "kinds": [type(layer).__name__ for layer in model.layers],
    }
    if built is not None and len(built) == len(model.layers):
        summary["kept"] = [
            [key in first and value is first[key] for key, value in layer.params.items()]
            for layer, first in zip(model.layers, built)
        ]
    return summary


def replaced_parameter(summary: dict) -> str | None:
    """A message naming the first parameter that a training step replaced by a new array
    (``params[key] = params[key] - ...``) instead of updating in place; ``None`` if none was."""
    for index, (names, kept) in enumerate(zip(summary.get("param_names", []), summary.get("kept", []))):
        for name, same in zip(names, kept):
            if not same:
                return (
                    f"layer {index}'s `{name}` is a new array: the task asks to update the "
                    "parameters in place, `params[key] -= ...`, not to bind `params[key]` to a "
                    "new array (`params[key] = params[key] - ...`)"
                )
    return None


def _freeze(exercise: dict, arrays, function) -> str:
    for case in _cases(exercise, arrays):
        weights, n_trainable, earlier = case.args  # earlier: the layers an earlier stage froze
        model = build_model(weights, earlier)
        _call(case.label, function, model, n_trainable)
        summary, before = model_summary(model), model_summary(build_model(weights))
        _fail_if(case, compare_models(summary, before, "freezing changed the weights"))
        flags = [bool(t) if e is not None else None for t, e in zip(summary["trainable"], case.expected)]
        for i, (got, wanted) in enumerate(zip(flags, case.expected)):
            if got != wanted:
                hints = [hint for hint, wrong in case.mistakes if wrong == flags]
                state, expected = ("trainable" if got else "frozen"), ("trainable" if wanted else "frozen")
                _fail_if(case, f"layer {i} (a {summary['kinds'][i]}) is {state}, expected {expected}", hints)
    return _passed(exercise)


def record_training_modes(model) -> set:
    """The ``training`` flags that the model's layers were run with (filled as they run)."""
    modes: set = set()
    for layer in model.layers:

        def forward(x, training=False, _forward=layer.forward):
            modes.add(bool(training))
            return _forward(x, training=training)

        layer.forward = forward
    return modes


def _fine_tune(exercise: dict, arrays, function) -> str:
    from minidl.nn import losses

    for case in _cases(exercise, arrays):
        weights, frozen, x, y, lr = case.args
        model = build_model(weights, frozen)
        modes = record_training_modes(model)
        loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
        loss = _call(case.label, function, model, x, y, loss_fn, lr)
        summary = model_summary(model)
        if True not in modes:
            raise _Failed(
                f"{case.label}: the model never ran in training mode: call model.forward(x, training=True) "
                "in a training step (Dropout and BatchNorm behave differently in training)"
            )
        problem = compare_outputs(loss, case.expected["loss"], ("the returned loss",))
        _fail_if(case, problem, ["return the loss of the forward pass, before the update"])
        before = model_summary(build_model(weights))
        problem = compare_models(summary, {**before, "params": case.expected["params"]})
        if problem:
            hints = [h for h, p in case.mistakes if not compare_models(summary, {**before, "params": p})]
            _fail_if(case, problem, hints[:1])
        _fail_if(case, replaced_parameter(summary))
    return _passed(exercise)


# ---------------------------------------------------------------------- weights by what they compute
def _relu_network(exercise: dict, arrays, function) -> str:
    names = tuple(exercise["outputs"])
    for case in _cases(exercise, arrays):
        got = _call(case.label, function, *case.args)
        _fail_if(case, count_problem(got, names))
        try:
            W1, b1, w2, b2 = (np.asarray(v, dtype=np.float64) for v in got)
        except (TypeError, ValueError):
            raise _Failed(
                f"{case.label}: every returned value must be a number or an array of numbers"
            ) from None
        for name, value in zip(names, (W1, b1, w2, b2)):
            shape = tuple(case.extra["shapes"][name])
            if value.shape != shape:
                raise _Failed(f"{case.label}: `{name}` has shape {value.shape}, expected {shape}")
        if not all(np.all(np.isfinite(v)) for v in (W1, b1, w2, b2)):
            raise _Failed(f"{case.label}: every weight must be a finite number (no NaN or inf)")
        x, target = case.extra["inputs"].astype(np.float64), case.expected.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.maximum(x @ W1 + b1, 0.0) @ w2 + b2
        if not np.all(np.isfinite(out)):
            raise _Failed(f"{case.label}: the network's outputs are not finite")
        scale = max(1.0, *(float(np.max(np.abs(v), initial=0.0)) for v in (W1, b1, w2)))
        error = float(np.max(np.abs(out - target), initial=0.0))
        if error <= 1e-12 * scale * x.shape[1]:
            continue
        if error <= 1e-3:
            raise _Failed(
                f"{case.label}: the outputs are within {error:.1e} of the targets but not exact: the task "
                "asks for weights that compute them exactly (no training, no rounding)"
            )
        off = np.abs(out - target) > 1e-3 * scale
        hint = ""
        if "hint" in case.extra:
            rows, text = case.extra["hint"]
            if np.all(np.abs(out[rows] - target[rows]) <= 1e-6 * scale):
                hint = f"\n    hint: {text}"
        raise _Failed(
            f"{case.label}: wrong on {int(off.sum())} of the {len(x)} inputs, the first "
            f"{x[off][0].astype(int).tolist()} (output {out[off][0]:.4g}, expected {target[off][0]:g})" + hint
        )
    return _passed(exercise)


KINDS = {
    "call": _calls,
    "call_and_inputs": _call_and_inputs,
    "numba": _numba,
    "cuda": _cuda,
    "freeze": _freeze,
    "fine_tune": _fine_tune,
    "relu_network": _relu_network,
}


def evaluate(exercise: dict, answers: tuple, arrays) -> tuple[str, str]:
    """``(status, message)`` for ``answers`` (the exercise's entries, in order) on the
    exercise's public cases, judged as its ``judged_as`` says (a plain ``"call"`` if it says
    nothing): "passed", "failed", or "unchecked" (what it needs is missing here)."""
    try:
        return "passed", KINDS[exercise.get("judged_as", "call")](exercise, arrays, *answers)
    except _Failed as failed:
        return "failed", str(failed)
    except _Unchecked as unchecked:
        return "unchecked", str(unchecked)
