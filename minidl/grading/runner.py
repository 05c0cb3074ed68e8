"""Grading one submission: run its cells in a sandboxed process, judge the outputs here.

``grade_notebook(path)`` finds the notebook's chapter, starts ``sandbox.py`` in a fresh
process, sends it the setup and exercise cells one at a time, then asks it to call each
exercise's function(s) on inputs drawn here, and judges the outputs against references
computed here. A cell or call that raises costs only the exercises that need it; one
that hangs past the timeout or kills its process (``os._exit``, a segfault, running out
of memory) costs the exercise in progress, and grading goes on in a new process that
replays the cells that had worked.
"""
from __future__ import annotations

import os
import pickle
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import codec, notebook, registry
from .checking import Result, SubmissionError, judge_exercise
from .sandbox import _HEADER, write_frame

__all__ = ["grade_notebook", "SubmissionResult", "find_chapter", "DEFAULT_MEMORY"]

DEFAULT_MEMORY = 4 * 2**30          # address space of the submission's process, bytes
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass
class SubmissionResult:
    """Every exercise's verdict for one notebook."""

    path: str
    chapter: str | None
    results: list[Result] = field(default_factory=list)
    error: str | None = None            # why nothing could be graded, if so
    seed: int = 0
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results)

    @property
    def max_score(self) -> float:
        return sum(r.points for r in self.results)


class _ChildDied(Exception):
    """The process ended, or broke the protocol (then it is killed and restarted too)."""

    def __init__(self, reason: str = ""):
        super().__init__(reason)
        self.reason = reason


class _TimedOut(Exception):
    pass


class Sandbox:
    """One process running a submission's code; talks through two pipes."""

    def __init__(self, memory: int, preload: list[str]):
        self.workdir = tempfile.mkdtemp(prefix="minidl-grade-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.workdir,
               "TMPDIR": self.workdir, "PYTHONPATH": _PACKAGE_ROOT, "LANG": "C.UTF-8",
               "NUMBA_CACHE_DIR": self.workdir, "MPLCONFIGDIR": self.workdir,
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", "MINIDL_BACKEND": os.environ.get("MINIDL_BACKEND", "numpy")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "minidl.grading.sandbox", str(to_child_r), str(from_child_w),
             self.workdir, str(memory), ",".join(preload)],
            pass_fds=(to_child_r, from_child_w), env=env, cwd=self.workdir,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)

    def request(self, message: tuple, timeout: float) -> dict:
        """Send one request and wait at most ``timeout`` seconds for the reply."""
        try:
            write_frame(self._to_child, pickle.dumps(message))
        except (BrokenPipeError, OSError):
            raise _ChildDied() from None
        deadline = time.monotonic() + timeout
        header = self._read(_HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        if size > codec.MAX_BYTES:
            raise _ChildDied(f"the result is too large ({size} bytes)")
        try:
            reply = codec.loads(self._read(size, deadline))
        except ValueError as err:
            raise _ChildDied(f"the process sent a malformed reply ({err})") from None
        if not isinstance(reply, dict) or reply.get("status") not in ("ok", "error", "missing") \
                or not isinstance(reply.get("message", ""), str):
            raise _ChildDied("the process sent a malformed reply")
        return reply

    def _read(self, n: int, deadline: float) -> bytes:
        chunks, remaining = [], n
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut()
            ready, _, _ = select.select([self._from_child], [], [], left)
            if not ready:
                raise _TimedOut()
            chunk = os.read(self._from_child, min(remaining, 1 << 20))
            if not chunk:
                raise _ChildDied()
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def exit_description(self, reason: str = "") -> str:
        if reason:
            return reason
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the process stopped answering"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
            return f"the process was killed by signal {name}"
        return f"the process exited with code {code}"

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


def find_chapter(nb: dict, path: Path) -> str | None:
    """The notebook's chapter: its metadata, else its file name, else its exercises."""
    meta = nb.get("metadata", {})
    chapter = meta.get("minidl", {}).get("chapter") if isinstance(meta, dict) and \
        isinstance(meta.get("minidl"), dict) else None
    if chapter in registry.CHAPTERS:
        return chapter
    if path.stem in registry.CHAPTERS:
        return path.stem
    votes = {}
    for cell in nb.get("cells", []):
        name = notebook.exercise_meta(cell).get("exercise") if isinstance(cell, dict) else None
        try:
            found = registry.get(name).chapter if isinstance(name, str) else None
        except KeyError:
            found = None
        if found:
            votes[found] = votes.get(found, 0) + 1
    return max(votes, key=votes.get) if votes else None


def _graded_cells(nb: dict, exercises: list) -> list[tuple[str, str, str | None]]:
    """``(label, source, exercise)`` of the setup and exercise cells, in notebook order.

    An exercise whose tagged cell is gone (a reader who copied the code into a new cell
    loses the metadata) is looked up by what it defines: the last code cell with a
    ``def name(`` or ``NAME =`` at the start of a line.
    """
    chosen: dict[int, str | None] = {}
    tagged = set()
    code_cells = [(i, c) for i, c in enumerate(nb.get("cells", []))
                  if isinstance(c, dict) and c.get("cell_type") == "code"]
    for index, cell in code_cells:
        meta = notebook.exercise_meta(cell)
        exercise = meta.get("exercise") if isinstance(meta.get("exercise"), str) else None
        if meta.get("setup") or exercise:
            chosen[index] = exercise
            tagged.add(exercise)
    for exercise in exercises:
        if exercise.name in tagged:
            continue
        patterns = [re.compile(rf"^(def\s+{re.escape(e)}\s*\(|{re.escape(e)}\s*=)", re.M)
                    for e in exercise.entries]
        defining = [i for i, c in code_cells
                    if any(p.search(notebook.cell_source(c)) for p in patterns)]
        if defining and defining[-1] not in chosen:
            chosen[defining[-1]] = exercise.name
    cells = []
    for index in sorted(chosen):
        exercise = chosen[index]
        label = f"<cell {index + 1}{': ' + exercise if exercise else ''}>"
        cells.append((label, _without_magics(notebook.cell_source(nb["cells"][index])), exercise))
    return cells


def _without_magics(source: str) -> str:
    """IPython's ``%magic`` and ``!shell`` lines become ``pass`` (they are not Python)."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[:len(line) - len(stripped)] + "pass  # IPython line removed by the grader"
        lines.append(line)
    return "\n".join(lines) + "\n"


class _Session:
    """Runs the cells, restarting the process (and replaying good cells) after a failure."""

    def __init__(self, cells, timeout: float, memory: int, preload: list[str]):
        self.cells, self.timeout, self.memory, self.preload = cells, timeout, memory, preload
        self.cell_errors: dict[str, str] = {}
        self.good_cells: list[tuple[str, str]] = []
        self.sandbox: Sandbox | None = None

    def start(self) -> None:
        self._spawn()
        for label, source, exercise in self.cells:
            try:
                reply = self.sandbox.request(("exec", label, source), self.timeout)
            except _TimedOut:
                self._fail_cell(label, exercise, f"the cell did not finish within {self.timeout:g} s "
                                "(an infinite loop, or heavy work at the top level of the cell?)")
                continue
            except _ChildDied as err:
                why = self.sandbox.exit_description(err.reason)
                self._fail_cell(label, exercise, f"running the cell ended its process ({why}; "
                                "os._exit, a crash, or too much memory?)")
                continue
            if reply["status"] == "ok":
                self.good_cells.append((label, source))
            else:
                self.cell_errors[exercise or label] = f"its cell failed: {reply['message']}"

    def _fail_cell(self, label: str, exercise: str | None, message: str) -> None:
        self.cell_errors[exercise or label] = message
        self._restart()

    def _spawn(self) -> None:
        self.sandbox = Sandbox(self.memory, self.preload)

    def _restart(self) -> None:
        self.sandbox.close()
        self._spawn()
        for label, source in self.good_cells:
            try:
                self.sandbox.request(("exec", label, source), self.timeout)
            except (_TimedOut, _ChildDied):
                self.sandbox.close()
                self._spawn()

    def outputs_for(self, exercise: registry.Exercise):
        """``get_outputs`` for ``judge_exercise``: one sandboxed call per case."""
        def get_outputs(case):
            try:
                reply = self.sandbox.request(("call", exercise.probe, exercise.entries, case),
                                             self.timeout)
            except _TimedOut:
                self._restart()
                raise SubmissionError(f"timed out after {self.timeout:g} s (an infinite loop?)") from None
            except _ChildDied as err:
                why = self.sandbox.exit_description(err.reason)
                self._restart()
                if err.reason:
                    raise SubmissionError(f"the grading process failed: {why}") from None
                raise SubmissionError(f"the code ended the grading process ({why}): "
                                      "os._exit, a crash, or too much memory?") from None
            if reply["status"] == "missing":
                cell_problem = self.cell_errors.get(exercise.name)
                message = f"`{reply['message']}` is not defined"
                message += f": {cell_problem}" if cell_problem else \
                    " (is the exercise cell, with its metadata, still in the notebook?)"
                raise SubmissionError(message)
            if reply["status"] == "error":
                raise SubmissionError(reply["message"])
            return reply["value"]
        return get_outputs

    def close(self) -> None:
        if self.sandbox:
            self.sandbox.close()


def grade_notebook(path, timeout: float = 60.0, memory: int = DEFAULT_MEMORY, seed: int = 0,
                   extra: list | None = None) -> SubmissionResult:
    """Grade the notebook at ``path``; never raises for anything the submission does."""
    start = time.monotonic()
    path = Path(path)
    extra = extra or []
    try:
        nb = notebook.read_notebook(path)
    except ValueError as err:
        chapter = path.stem if path.stem in registry.CHAPTERS else None
        result = SubmissionResult(str(path), chapter, seed=seed, error=str(err))
        exercises = (registry.for_chapter(chapter) if chapter else []) + \
            [e for e in extra if e.chapter == chapter]
        result.results = [Result(e.name, e.points, 0, f"not graded: {err}") for e in exercises]
        return result
    chapter = find_chapter(nb, path)
    result = SubmissionResult(str(path), chapter, seed=seed)
    if chapter is None:
        result.error = ("could not tell which chapter this notebook belongs to (no "
                        "metadata.minidl.chapter, no chapter file name, no exercise cells)")
        return result
    exercises = registry.for_chapter(chapter) + [e for e in extra if e.chapter == chapter]
    preload = sorted({module for e in exercises for module in e.needs})
    session = _Session(_graded_cells(nb, exercises), timeout, memory, preload)
    try:
        session.start()
        for exercise in exercises:
            result.results.append(judge_exercise(exercise, session.outputs_for(exercise), seed))
    except Exception as err:  # a fault of the grader itself: report it, grade the others
        result.error = f"internal grader error: {type(err).__name__}: {err}"
        done = {r.name for r in result.results}
        result.results += [Result(e.name, e.points, 0, "not graded: internal grader error")
                           for e in exercises if e.name not in done]
    finally:
        session.close()
    result.seconds = time.monotonic() - start
    return result
