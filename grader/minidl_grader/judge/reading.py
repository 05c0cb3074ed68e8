"""What a cell runs, for the grader's static readings (forbids, flags, tampering, similarity).

The sandbox executes a cell through IPython's input transformation, and its shell runs the
code of ``%time``/``%prun`` lines and of ``%%time``/``%%timeit``/``%%capture``/``%%prun``
cells (``probes.NotebookShell``). A reading that turned magic lines into ``pass`` never saw
that code: ``%time from minidl.nn.layers import Dense`` was invisible to it. Here:

* ``readable_source(cell)`` is the cell as Python, each magic replaced by the code it runs
  (``%time x = f()`` -> ``x = f()``, ``y = %time f()`` -> ``y = f()``, a ``%%time`` cell ->
  its body; ``%timeit`` lines too, with their options dropped, since Jupyter runs them) and
  every other magic, ``!shell`` line and ``obj?`` help line -> ``pass``. Only lines that
  start a logical line are magics: a ``%`` inside a string or a bracket is left alone. One
  pass over the characters: linear in the size of the cell.
* ``parse_cell(cell)`` parses it and then, bounded (``MAX_DEPTH`` levels, at most
  ``MAX_FACTOR`` times the cell's size in all), the constant strings passed to ``exec``,
  ``eval`` and ``compile`` and to the shell's ``run_line_magic``/``run_cell_magic``, whose
  statements are added to the tree: what ``exec("from minidl import ...")`` imports is read
  like any import.
* ``code_strings(cell)`` the same strings, as text (the similarity detector tokenises them).
"""

from __future__ import annotations

import ast
import re
import threading

__all__ = ["readable_source", "parse_cell", "code_strings", "MAX_DEPTH", "CODE_LINE_MAGICS"]

# the line magics whose rest of line is code (``time``/``prun``: the sandbox runs it;
# ``timeit``: Jupyter does), and the cell magics whose body is code (the sandbox runs it)
CODE_LINE_MAGICS = {"time", "prun", "timeit"}
CODE_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_OPTIONS_WITH_VALUE = {"timeit": {"-n", "-r", "-p"}, "prun": {"-l", "-s", "-T", "-D"}}
_RUNS_STRINGS = {"exec", "eval", "compile"}
_SHELL_RUNS = {"run_line_magic": CODE_LINE_MAGICS, "run_cell_magic": CODE_CELL_MAGICS}
MAX_DEPTH = 3  # exec("exec('...')") is read three strings deep
MAX_FACTOR = 4  # the strings read in all: at most 4 times the cell's own size
_ASSIGNS_MAGIC = re.compile(r"(?<![=<>!])=\s*([%!])")  # y = %time f(), files = !ls
_TARGET = re.compile(r"[A-Za-z_][\w.\[\]'\", ]*")
_HELP = re.compile(r"\?{0,2}[\w.]*\?{0,2}\Z")

# CPython 3.11 keeps ast.parse's recursion counter in state shared by the interpreter: two
# parses at once in the grader's threads (--jobs) failed with "SystemError: AST constructor
# recursion depth mismatch" (CPython issue 106905); one parse at a time.
PARSE_LOCK = threading.Lock()


def _parse(source: str, mode: str = "exec") -> ast.AST:
    with PARSE_LOCK:
        return ast.parse(source, mode=mode)


def _magic_code(text: str) -> str | None:
    """The code a line magic runs (``text`` without its ``%``), or None if it runs none."""
    name, _, rest = text.partition(" ")
    if name not in CODE_LINE_MAGICS:
        return None
    rest, takes = rest.strip(), _OPTIONS_WITH_VALUE.get(name, set())
    while name != "time" and rest.startswith("-"):  # %timeit -n 3 -r 1 f(x): f(x)
        option, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        if option in takes:
            rest = rest.partition(" ")[2].lstrip()
    return rest


def _magic_line(line: str) -> str:
    """A logical line that IPython would read as a magic, shell or help line, as the
    Python it runs (``pass`` if none); any other line unchanged."""
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if not stripped:
        return line
    if stripped[0] == "%":
        code = _magic_code(stripped[1:])
        return indent + (code if code else "pass")
    if stripped[0] == "!":
        return indent + "pass"
    assigned = _assigned_magic(stripped)
    if assigned:
        target, mark, rest = assigned
        code = _magic_code(rest) if mark == "%" else None
        return f"{indent}{target} = {code if code else 'None'}"
    if stripped.endswith("?") or stripped.startswith("?"):
        if _HELP.match(stripped):
            return indent + "pass"
    return line


def _assigned_magic(stripped: str) -> tuple[str, str, str] | None:
    """``(target, "%" or "!", the rest)`` for ``target = %magic ...`` / ``target = !cmd``."""
    found = _ASSIGNS_MAGIC.search(stripped)
    if not found:
        return None
    target = stripped[: found.start()].rstrip()
    if not _TARGET.fullmatch(target):
        return None
    return target, found.group(1), stripped[found.end() :]


def _could_be_magic(line: str) -> bool:
    stripped = line.lstrip()
    if not stripped:
        return False
    return stripped[0] in "%!?" or stripped.endswith("?") or _assigned_magic(stripped) is not None


def readable_source(source: str) -> str:
    """The cell as the Python it runs (see the module's docstring); linear in its size."""
    if not any(mark in source for mark in "%!?"):
        return source
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].lstrip()[2:].split(None, 1)[0] if lines[first].strip() != "%%" else ""
        if name in CODE_CELL_MAGICS:  # the body, on its own lines
            return "\n" * (first + 1) + readable_source("\n".join(lines[first + 1 :]))
        return "pass\n"  # %%bash, %%writefile, %%html: nothing runs as Python
    out = []
    start = True  # does this physical line start a logical line?
    depth, quote = 0, ""  # open brackets; the open string's delimiter
    for line in lines:
        if start and not quote and _could_be_magic(line):
            out.append(_magic_line(line))
            continue
        out.append(line)
        i, n, continued = 0, len(line), False
        while i < n:
            c = line[i]
            if quote:
                if c == "\\":
                    i += 2
                    continue
                if line.startswith(quote, i):
                    i += len(quote)
                    quote = ""
                    continue
                i += 1
                continue
            if c == "#":
                break
            if c in "'\"":
                quote = line[i : i + 3] if line.startswith(c * 3, i) else c
                i += len(quote)
                continue
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth = max(0, depth - 1)
            elif c == "\\" and i == n - 1:
                continued = True
            i += 1
        if quote and len(quote) == 1:  # an unterminated one-line string ends with its line
            quote = "" if not line.endswith("\\") else quote
        start = depth == 0 and not quote and not continued
    return "\n".join(out)


def _string_code(call: ast.Call) -> str | None:
    """The constant code a call runs: ``exec("...")``, ``eval``, ``compile``, or the shell's
    ``run_line_magic("time", "...")`` / ``run_cell_magic("time", "", "...")``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    args = call.args
    value: ast.expr | None
    if name in _RUNS_STRINGS and args:
        value = args[0]
    elif name in _SHELL_RUNS and len(args) >= 2:
        magic = args[0]
        if not (isinstance(magic, ast.Constant) and magic.value in _SHELL_RUNS[name]):
            return None
        value = args[1] if name == "run_line_magic" else args[2] if len(args) >= 3 else None
    else:
        return None
    if isinstance(value, ast.Constant) and isinstance(value.value, (str, bytes)):
        text = value.value
        return text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return None


def _strings_run(tree: ast.AST) -> list[str]:
    return [code for node in ast.walk(tree) if isinstance(node, ast.Call) and (code := _string_code(node))]


def parse_cell(source: str) -> ast.Module | None:
    """The cell's syntax tree, magics read for what they run (``readable_source``), with the
    statements of the constant strings it runs (``exec``, ``eval``, ``compile``, the shell's
    magics) appended, bounded; None for a cell that is not Python, or too deep or too large."""
    try:
        tree = _parse(readable_source(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    assert isinstance(tree, ast.Module)
    budget = MAX_FACTOR * max(len(source), 1)
    level = [tree]
    for _ in range(MAX_DEPTH):
        found = []
        for node in level:
            for code in _strings_run(node):
                budget -= len(code)
                if budget < 0:
                    return tree
                inner = _parse_string(code)
                if inner is not None:
                    found.append(inner)
                    tree.body.extend(inner.body)
        level = found
        if not level:
            break
    return tree


def _parse_string(code: str) -> ast.Module | None:
    try:
        parsed = _parse(readable_source(code))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        try:
            expression = _parse(code.strip(), "eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        assert isinstance(expression, ast.Expression)
        return ast.Module(body=[ast.Expr(expression.body)], type_ignores=[])
    assert isinstance(parsed, ast.Module)
    return parsed


def code_strings(source: str) -> list[str]:
    """The constant strings that the cell runs as code (``exec``, ``eval``, ``compile``, the
    shell's magics), read to ``MAX_DEPTH`` levels and within ``MAX_FACTOR`` times its size."""
    try:
        tree = _parse(readable_source(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    budget = MAX_FACTOR * max(len(source), 1)
    found: list[str] = []
    level: list[ast.AST] = [tree]
    for _ in range(MAX_DEPTH):
        nested: list[ast.AST] = []
        for node in level:
            for code in _strings_run(node):
                budget -= len(code)
                if budget < 0:
                    return found
                found.append(code)
                inner = _parse_string(code)
                if inner is not None:
                    nested.append(inner)
        level = nested
    return found
