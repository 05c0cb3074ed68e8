"""Instant feedback on the graded exercises: ``from minidl.exercises import check``.

``check("weight_norm_backward", weight_norm_backward)`` runs the function on the exercise's
*public* cases and prints the verdict: passed, or which output is wrong, by how much, at
which position the first value differs and -- when the numbers are those of a usual mistake
(a missing transpose, a sum over the wrong axis) -- which mistake. ``check(name, answer)``
on a question says whether the answer is well-formed (one of the letters, a number, a
shape); whether it is right is the grader's to say.

The public cases are data shipped with minidl (``data.py``: inputs, expected outputs, the
outputs of the usual mistakes), generated from the grader's specs at a public seed; every
code exercise has some. ``probes.py`` judges an answer on them as the grader's probes do:
by what it returns, or as its probe observes it (Numba and CUDA kernels, models changed in
place, inputs judged after the call; a CUDA kernel runs in minidl's CPU emulator). The
library holds no reference answer and no question's answer; a grade is computed by the
grader (``grader/``, ``minidl-grade``) on cases drawn with the instructor's seed, which
no one sees beforehand -- a function that only reproduces the public outputs scores 0.

Where the grader is installed as well (self-study: ``make lab`` installs both), ``check``
hands over to it: the same messages on the grader's own cases, and questions judged right
or wrong with the reason. It is found through the ``minidl.exercises`` entry point that
the grader's distribution declares, so minidl never imports it; ``MINIDL_PUBLIC_CHECK=1``
keeps ``check`` on the public data (what a course's students get).

``hint("name")`` asks for help before (or after) trying: the first call gives a nudge, the next
one the idea; never the answer (the hints are data of the public cases, written beside the
grader's specs). A misspelt name gets "did you mean" with a few names of the same chapter,
and every message is wrapped at word boundaries (``say``).

Either way ``check`` fails an answer that uses what the exercise forbids (its spec's
``forbids``: the library's own implementation of what the exercise asks, which the grader
scores 0): ``names_used`` reads the answer's code for the names it takes from minidl, as the
grader reads the cell (an alias bound by the notebook's imports, ``L.Dense`` for
``minidl.nn.layers.Dense``, counts; another spelling of the same object too).
"""

from __future__ import annotations

import ast
import difflib
import dis
import importlib
import inspect
import math
import os
import re
import textwrap
import types
from dataclasses import dataclass

from . import data, probes

__all__ = ["check", "hint", "say", "unknown_exercise", "UnknownExercise", "evaluate", "Verdict"]
__all__ += ["names_used", "forbidden_use", "forbidden_message", "forbid_covers", "library_object"]

_LETTER = re.compile(r"^\(?\s*([a-z])\s*[).]?$")


@dataclass
class Verdict:
    """What ``check`` prints: ``status`` is "passed", "failed" or "unchecked" (no public case,
    or what it needs is missing here: Numba, a C++ compiler for the CUDA emulator)."""

    name: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _grader_check():
    """The grader's ``check``, when its distribution is installed (and not switched off)."""
    if os.environ.get("MINIDL_PUBLIC_CHECK"):
        return None
    from importlib.metadata import entry_points

    try:
        points = [p for p in entry_points(group="minidl.exercises") if p.name == "check"]
        return points[0].load() if points else None
    except Exception:  # a broken or stripped install: the public data still works
        return None


WIDTH = 88  # the width messages are wrapped to (a notebook's output area shows about 100 characters)


def say(mark: str, name: str, message: str, width: int = WIDTH) -> str:
    """``"✔ name: message"`` wrapped at word boundaries to ``width`` columns, each line after
    the first indented; a line break in ``message`` starts a new paragraph. Printed and returned."""
    text = "\n".join(  # a blank paragraph fills to ""
        textwrap.fill(p, width=width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
        for p in f"{mark} {name}: {message}".split("\n")
    )
    print(text)
    return text


def unknown_exercise(name: str, chapters: dict[str, str]) -> str:
    """What to say of an exercise ``name`` that is not one of ``chapters`` (exercise ->
    chapter): a few names of the same chapter that are close to it ("did you mean"), never
    the whole list."""
    if not isinstance(name, str):
        return f"the exercise's name is a string such as 'weight_norm_backward', got {type(name).__name__} {name!r:.40}"
    close = difflib.get_close_matches(name, chapters, n=3, cutoff=0.6)
    if close:
        chapter = chapters[close[0]]
        same = [n for n in chapters if chapters[n] == chapter]
        close = [n for n in difflib.get_close_matches(name, same, n=3, cutoff=0.5) if n in same]
        options = " or ".join(repr(n) for n in close)
        return f"no exercise called {name!r}; did you mean {options} (chapter {chapter})?"
    return (
        f"no exercise called {name!r}: use the name written in quotes in the exercise's own "
        "check(...) cell (hint() takes the same name)"
    )


class UnknownExercise(KeyError):
    """An exercise name that is not in the public data; ``str()`` is the message, unquoted."""

    def __str__(self) -> str:
        return str(self.args[0])


def _exercise(name: str) -> dict:
    exercises = data.load()[0]["exercises"]
    if name not in exercises:
        chapters = {n: e.get("chapter", "") for n, e in exercises.items()}
        raise UnknownExercise(unknown_exercise(name, chapters))
    return exercises[name]


_hints_given: dict[str, int] = {}  # exercise -> how many of its hints were shown


def hint(name: str, level: int | None = None) -> None:
    """Print the next hint for exercise ``name``: the first call gives a nudge,
    the next the idea (and so on where an exercise has more); never the answer. ``level``
    (1, 2, ...) shows that one again. Once all are shown it says so, and ``check`` explains
    what is wrong with an attempt.

    >>> hint("weight_norm_backward")        # doctest: +SKIP
    ➜ weight_norm_backward, hint 1 of 2: Go through the effective weight W: ...
    """
    exercise = _exercise(name)
    hints, shown = exercise.get("hints", []), _hints_given.get(name, 0)
    if not hints:
        question = "a question: check() explains a wrong answer"
        what = "no hint written yet" if exercise["kind"] == "code" else question
        say("➜", name, f"no hints for this exercise ({what}).")
    elif level is None and shown >= len(hints):
        last = f"that was the last of its {len(hints)} hints (hint({name!r}, 1) shows the first again)"
        say("➜", name, f"{last}. Write an attempt and run its check(...): it says what is wrong, and how.")
    else:
        if level is not None and not 1 <= level <= len(hints):
            raise ValueError(f"hint({name!r}, level) takes a level from 1 to {len(hints)}, got {level!r}")
        number = shown + 1 if level is None else level
        _hints_given[name] = max(shown, number)
        more = " (call hint again for the next)" if number < len(hints) else ""
        say("➜", f"{name}, hint {number} of {len(hints)}{more}", hints[number - 1])
    return None  # printed, not returned: Jupyter would show it a second time


def evaluate(name: str, *objects) -> Verdict:
    """Judge ``objects`` (the exercise's entries, in order; a question's answer) on the
    public data and return the ``Verdict``."""
    exercise = _exercise(name)
    entries = exercise["entries"]
    if len(objects) != len(entries):
        raise TypeError(f"check({name!r}, ...) expects {len(entries)} object(s): {', '.join(entries)}")
    if exercise["kind"] != "code":
        return _question(name, exercise, objects[0])
    used = forbidden_use(names_used(*objects), exercise.get("forbids", ()))
    if used:
        return Verdict(name, "failed", forbidden_message(*used))
    if not exercise.get("cases"):
        return Verdict(
            name,
            "unchecked",
            f"no public test case (the answer is {exercise.get('why', 'run by the grader only')}): "
            "the grader checks it; install it (pip install ./grader) to check it here",
        )
    status, message = probes.evaluate(exercise, objects, data.load()[1])
    return Verdict(name, status, message)


# ---------------------------------------------------------------------- forbidden names
def forbidden_message(name: str, entry: str) -> str:
    """What ``check`` says of an answer that uses ``name``, which the spec's ``entry`` forbids."""
    return (
        f"uses {name}, which computes what this exercise asks (its spec forbids {entry}): "
        "write the operation yourself -- the grader scores such an answer 0"
    )


def names_used(*objects) -> list[str]:
    """The dotted names the functions among ``objects`` (and the methods of classes) take from
    a module: what they import (``import minidl.nn.layers as L``, ``from minidl.nn import
    gradcheck``), and each chain of attributes whose first name is bound to a module, a
    class or a function, in the function or in its globals (the notebook's imports):
    ``L.Dense(...)`` is ``minidl.nn.layers.Dense``. Read from the source where ``inspect``
    finds it (a notebook cell, a file), else from the names the compiled code loads."""
    found: set[str] = set()
    for function in _functions(objects):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        except (OSError, TypeError, SyntaxError):  # made by exec() of a string: no source
            found.update(_compiled_names(function))
            continue
        local: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):  # import a.b binds a; import a.b as c binds c
                for alias in node.names:
                    found.add(alias.name)
                    bound = alias.asname or alias.name.partition(".")[0]
                    local[bound] = alias.name if alias.asname else bound
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    found.add(f"{node.module}.{alias.name}")
                    local[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):
            chain = _chain(node)
            if chain:
                root, _, rest = chain.partition(".")
                home = local.get(root) or _dotted(function.__globals__.get(root))
                if home:
                    found.add(f"{home}.{rest}" if rest else home)
    return sorted(found)


def _functions(objects):
    for obj in objects:
        if isinstance(obj, types.FunctionType):
            yield obj
        elif isinstance(obj, type):
            yield from (f for f in vars(obj).values() if isinstance(f, types.FunctionType))


def _chain(node) -> str | None:
    """``a.b.c`` for the outermost node of an attribute chain on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _dotted(obj) -> str | None:
    """The dotted name of a module, a class or a function (None for anything else)."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
        module = getattr(obj, "__module__", None)
        return f"{module}.{obj.__qualname__}" if isinstance(module, str) else None
    return None


def _compiled_names(function) -> set[str]:
    """Without the source: what the code imports (``import a.b``, ``from a.b import c``), each
    global it loads, and each attribute it loads of a global module (``L`` and ``Dense`` in
    ``L.Dense`` give ``minidl.nn.layers.Dense``)."""
    names: set[str] = set()
    found = set()
    codes = [function.__code__]
    while codes:
        code = codes.pop()
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        names.update(code.co_names)
        module = None
        for instruction in dis.get_instructions(code):
            if instruction.opname == "IMPORT_NAME":
                module = instruction.argval
                found.add(module)
            elif instruction.opname == "IMPORT_FROM" and module:
                found.add(f"{module}.{instruction.argval}")
    for name in names:
        obj = function.__globals__.get(name)
        home = _dotted(obj)
        if home:
            found.add(home)
        if isinstance(obj, types.ModuleType):
            found.update(f"{home}.{attribute}" for attribute in names if hasattr(obj, attribute))
    return found


def forbidden_use(names: list[str], forbids) -> tuple[str, str] | None:
    """``(name, entry)`` for the first of ``names`` that an entry of ``forbids`` covers, as the
    grader's ``provenance.spec_forbidden_uses`` decides (``forbid_covers``); else None."""
    return next(((name, entry) for name in names for entry in forbids if forbid_covers(entry, name)), None)


def forbid_covers(entry: str, name: str, resolve=None) -> bool:
    """Whether the forbidden ``entry`` covers the used ``name``: by spelling (the name or a
    module above it), or by what they are: the same object (``minidl.models.MaxPool2D`` is
    ``minidl.nn.layers.MaxPool2D``), a subclass of it, or a function or class defined in
    the forbidden module (``minidl.nn.layers.MaxPool2D`` lives in ``minidl.nn.layers.conv``).

    ``resolve(dotted)`` gives the object a name stands for, or None (default
    ``library_object``); the grader passes its own, which knows the Keras door's names too,
    so that ``check()`` and the grader decide by this one function."""
    if name == entry or name.startswith(entry + "."):
        return True
    resolve = library_object if resolve is None else resolve
    used, forbidden = resolve(name), resolve(entry)
    if used is None or forbidden is None:
        return False
    if used is forbidden:
        return True
    if isinstance(used, type) and isinstance(forbidden, type) and forbidden in used.__mro__:
        return True
    if isinstance(forbidden, types.ModuleType):
        home = used.__name__ if isinstance(used, types.ModuleType) else getattr(used, "__module__", None)
        return isinstance(home, str) and (
            home == forbidden.__name__ or home.startswith(forbidden.__name__ + ".")
        )
    return False


def library_object(dotted: str, packages: tuple[str, ...] = ()):
    """The object ``dotted`` names in minidl, or in one of ``packages`` (top-level names the
    caller adds: the grader adds the Keras door's ``minidl_keras``), imported; or None. Only
    those packages' own modules are imported, never a name an answer made up elsewhere
    (minidl knows nothing of the door: without ``packages`` its names match as spelled)."""
    parts = dotted.split(".")
    in_library = parts[0] == "minidl" and len(parts) >= 2 and parts[1] != "grading"
    if not (in_library or parts[0] in packages):
        return None
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except Exception:
            continue
        try:
            for attribute in parts[cut:]:
                found = getattr(found, attribute)
        except AttributeError:
            return None
        return found
    return None


def _question(name: str, exercise: dict, value) -> Verdict:
    """Whether a question's answer is well-formed; the grader alone knows if it is right."""
    kind = exercise["kind"]
    if kind == "choice":
        letters = exercise["choices"]
        expected = f"one letter among {', '.join(letters)}, as a string"
        match = _LETTER.match(value.strip().lower()) if isinstance(value, str) else None
        ok = match is not None and match.group(1) in letters
    elif kind == "number":
        expected = "a finite number (an int or a float)"
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    else:
        expected = "a shape, a tuple of ints such as (2, 3)"
        ok = isinstance(value, (tuple, list)) and all(
            isinstance(n, int) and not isinstance(n, bool) for n in value
        )
    if value is Ellipsis:
        return Verdict(name, "failed", f"not answered yet: replace `...` with {expected}")
    if not ok:
        return Verdict(name, "failed", f"expected {expected}; got {type(value).__name__} {value!r:.40}")
    return Verdict(name, "passed", "a well-formed answer; the grader says whether it is right")


def check(name: str, *objects) -> None:
    """Check an exercise (or a question) right now and print the verdict.

    >>> check("weight_norm_backward", weight_norm_backward)        # doctest: +SKIP
    ✔ weight_norm_backward: passed (2 public test cases)
    """
    grader = _grader_check()
    if grader is not None:
        return grader(name, *objects)
    verdict = evaluate(name, *objects)
    say({"passed": "✔", "failed": "✘"}.get(verdict.status, "·"), name, verdict.message)
    return None
