"""Grading one submission: run its cells in a sandboxed process, judge the outputs here.

``grade_notebook(path)`` finds the notebook's chapter and its graded cells, starts the
submission's process (``confinement/process.py``: bubblewrap, seccomp and cgroups where
it can, the stripped runtime that holds no reference), sends it the setup and exercise
cells one at a time, then asks
it to call each exercise's function(s) on inputs drawn here, and judges the outputs
against references computed here. A cell or call that raises costs only the exercises
that need it; one that hangs past the timeout or kills its process (``os._exit``, a
segfault, running out of memory) costs the exercise in progress, and grading goes on in
a new process that replays the cells that had worked. A submission has a total time
budget; whatever it does, ``grade_notebook`` returns its row and never raises.
"""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

from minidl.exercises.probes import MAX_SHARE, not_parallel  # noqa: F401 (MAX_SHARE: the rule's)

from . import notebook
from .confinement.isolation import build_runtime
from .confinement.process import (
    DEFAULT_MEMORY,
    DEFAULT_TMPFS,
    Limits,
    Sandbox,  # noqa: F401
    _ChildDied,
    _TimedOut,
)
from .judge import kernels, projects, provenance, reading, registry
from .judge.judging import Result, SubmissionError, SubmissionResult, judge_exercise
from .judge.registry import parse_chapter
from .public import PUBLIC_SEED
from .reports.text import clean_text, display_path, one_line
from .runtime.probes import ModifiedInput, settle

__all__ = [
    "grade_notebook",
    "find_chapter",
    "DEFAULT_MEMORY",
    "DEFAULT_TMPFS",
    "MAX_SETUP_CELLS",
    "MAX_CELL_CHARS",
]

MAX_SETUP_CELLS = 3  # setup cells run; more are ignored (and reported)
# a graded cell longer than this is neither read nor run (reported): the grader's static
# readings of a cell (provenance, tampering, similarity) are about linear in its length,
# and this bounds them to about a second (the longest published solution: 1,600 characters)
MAX_CELL_CHARS = 200_000
# modules a probe checks with, imported (and captured: ``probes.seal``) before any cell runs
PROBE_MODULES = {
    "numba": ("numba",),
    "cuda": ("minidl.kernels.emulate",),
    "freeze": ("minidl.training.model",),
    "fine_tune": ("minidl.training.model", "minidl.nn.losses"),
}
# probes whose outputs carry what the sandbox observed, not only what the answer returned:
# a notebook that changes modules (``provenance.tampering``) scores 0 on these exercises
OBSERVING_PROBES = {"numba", "cuda", "freeze", "fine_tune"}
# probes whose function runs on a model in a process of its own, where no cell runs
MODEL_PROBES = {"freeze", "fine_tune"}
# probes that only call the answer: what their spec forbids is left out of the minidl that
# their submission's process imports (``confinement/overlay.py``); the others use the
# library themselves (chapter 9's probes build models with its layers)
RUN_TIME_FORBIDS = {"call", "call_and_inputs"}
OUTPUT_LIMIT = 2**20  # bytes a submission may print (stdout and stderr) before it is flagged
MAX_NOTEBOOK_BYTES = notebook.MAX_NOTEBOOK_BYTES  # the JSON without its outputs
_MENTIONS = re.compile(r"minidl_grader|minidl[./\\]grading|\bsolutions\b|\bspecs\b")
# every notebook's setup cell imports check(); that line alone is not a mention
_HONEST_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+(minidl\.exercises|minidl_grader)[ \t]+import[ \t]+"
    r"(check|evaluate)([ \t]*,[ \t]*(check|evaluate))*[ \t]*$",
    re.M,
)


def find_chapter(nb: dict, path: Path) -> str | None:
    """The notebook's chapter: its metadata, else its file name, else its exercises."""
    meta = nb.get("metadata", {})
    chapter = (
        meta.get("minidl", {}).get("chapter")
        if isinstance(meta, dict) and isinstance(meta.get("minidl"), dict)
        else None
    )
    if isinstance(chapter, str) and chapter in registry.chapters():
        return chapter
    if path.stem in registry.chapters():
        return path.stem
    votes: dict[str, int] = {}
    for cell in nb.get("cells", []):
        name = notebook.exercise_meta(cell).get("exercise") if isinstance(cell, dict) else None
        try:
            found = registry.get(name).chapter if isinstance(name, str) else None
        except KeyError:
            found = None
        if found:
            votes[found] = votes.get(found, 0) + 1
    return max(votes, key=lambda chapter: votes[chapter]) if votes else None


def _graded_cells(nb: dict, exercises: list) -> tuple[list[tuple[str, str, str | None]], list[str]]:
    """``(label, source, exercise)`` of the setup and exercise cells, in notebook order,
    and notes for the instructor (setup cells beyond ``MAX_SETUP_CELLS``, ignored).

    An exercise whose tagged cell is gone (a reader who copied the code into a new cell
    loses the metadata) is looked up by what it defines: the last code cell with a
    ``def name(`` or ``NAME =`` at the start of a line.
    """
    chosen: dict[int, str | None] = {}
    tagged, notes, setups = set(), [], 0
    code_cells = [
        (i, c)
        for i, c in enumerate(nb.get("cells", []))
        if isinstance(c, dict) and c.get("cell_type") == "code"
    ]
    for index, cell in code_cells:
        meta = notebook.exercise_meta(cell)
        exercise = meta.get("exercise") if isinstance(meta.get("exercise"), str) else None
        if exercise:
            chosen[index] = exercise
            tagged.add(exercise)
        elif meta.get("setup"):
            setups += 1
            if setups > MAX_SETUP_CELLS:
                notes.append(
                    f"cell {index + 1}: more than {MAX_SETUP_CELLS} setup cells; this one was not run"
                )
                continue
            chosen[index] = None
    for exercise in exercises:
        if exercise.name in tagged:
            continue
        patterns = [
            re.compile(rf"^(def\s+{re.escape(e)}\s*\(|{re.escape(e)}\s*=)", re.M) for e in exercise.entries
        ]
        defining = [i for i, c in code_cells if any(p.search(notebook.cell_source(c)) for p in patterns)]
        if defining and defining[-1] not in chosen:
            chosen[defining[-1]] = exercise.name
    cells = []
    for index in sorted(chosen):
        exercise = chosen[index]
        label = f"<cell {index + 1}{': ' + exercise if exercise else ''}>"
        # sent as written: the sandbox turns magics into Python (``sandbox.python_source``),
        # under the submission's own time limits
        source = notebook.cell_source(nb["cells"][index])
        if len(source) > MAX_CELL_CHARS:
            notes.append(
                f"{label}: {len(source)} characters, more than the {MAX_CELL_CHARS} the grader "
                "reads in a cell: not read and not run"
            )
            source = ""
        cells.append((label, source, exercise))
    return cells, notes


def _mentions(nb: dict) -> list[str]:
    """Where a submission's code names the grader's answers (reported, never scored)."""
    flags = []
    for index, cell in enumerate(nb.get("cells", [])):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            code = _HONEST_IMPORT.sub("", notebook.cell_source(cell))
            found = sorted(set(_MENTIONS.findall(code)))
            if found:
                flags.append(f"cell {index + 1} mentions {', '.join(found)}")
    return flags


class _OutOfTime(Exception):
    """The submission has used its whole time budget."""


class _Session:
    """Runs the cells, restarting the process (and replaying good cells) after a failure.

    Every request is bounded by the per-call timeout and by what is left of the
    submission's budget; once the budget is spent, nothing more runs.
    """

    def __init__(
        self,
        cells,
        limits: Limits,
        preload: list[str],
        left_out: tuple[str, ...] = (),
        allow: tuple[str, ...] = (),
        deadline: float | None = None,
    ):
        """``left_out``: what the minidl of this session's processes holds only as stand-ins
        that raise (the forbids of the exercises it grades, less ``allow``); ``deadline``:
        the submission's, shared by all its sessions."""
        self.cells, self.limits, self.preload = cells, limits, preload
        self.left_out, self.allow = left_out, allow
        self.deadline = deadline if deadline is not None else time.monotonic() + limits.budget
        self.cell_errors: dict[str, str] = {}
        self.good_cells: list[tuple[str, str]] = []
        self.sandbox: Sandbox | None = None
        # {exercise: what its kernel's prange loops did, one entry per case (``kernel_work``)}
        self.prange_work: dict[str, list] = {}
        # Numba kernels are compiled and run in a process of their own, where no cell runs
        # (``probes.build_kernels``), and each CUDA kernel in one of its own (its C++ runs
        # natively there): {"numba" or "cuda EXERCISE": that process}; {exercise: its
        # description checked and its source found (``kernels.kernel_spec``,
        # ``kernels.cuda_source``), or why not}, and the cases a Numba kernel ran
        self.kernel_boxes: dict[str, Sandbox] = {}
        self.kernels: dict[str, dict] = {}
        self.kernel_cases: dict[str, list] = {}
        self.output_bytes = 0  # the most the process had printed at a reply (runtime's "output_bytes")

        # {exercise or cell label: source compiled at run time that the cell does not hold}
        # (the sandbox's audit hook records every string compiled while the submission runs)
        self.built: dict[str, list[str]] = {}
        self.noted: set[str] = set()  # what the hook reported (a C library loaded)

    @property
    def isolated(self) -> bool:
        return bool(self.sandbox and self.sandbox.isolated) and all(
            box.isolated for box in self.kernel_boxes.values()
        )

    @property
    def _running(self) -> Sandbox:
        """The sandbox process (``start`` spawns it, ``_restart`` replaces it)."""
        if self.sandbox is None:
            raise RuntimeError("the submission's sandbox is not started: call start() first")
        return self.sandbox

    def _request(self, message: tuple, where: str | None = None, written: str = "") -> dict:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _OutOfTime()
        try:
            reply = self._running.request(message, min(self.limits.timeout, left))
            if isinstance(reply.get("output_bytes"), int):
                self.output_bytes = max(self.output_bytes, reply["output_bytes"])

            if where is not None:
                self._record_built(where, reply.get("compiled"), written)
            notes = reply.get("notes")
            if where is not None and isinstance(notes, list):
                self.noted.update(f"{where} {n}" for n in notes[:20] if isinstance(n, str))
            return reply
        except _TimedOut:
            if time.monotonic() >= self.deadline - 0.01:
                raise _OutOfTime() from None
            raise

    def _record_built(self, where: str, compiled, written: str) -> None:
        """Keep the strings compiled at run time that ``written`` (the cell) does not hold
        as they are: code built from pieces, decoded or unmarshalled (issue 68)."""
        if not isinstance(compiled, list):
            return
        cell = reading.readable_source(written) if written else ""
        for source in compiled:
            if isinstance(source, str) and source.strip() and source.strip() not in cell:
                kept = self.built.setdefault(where, [])
                if sum(map(len, kept)) < MAX_CELL_CHARS:
                    kept.append(source[:MAX_CELL_CHARS])

    def start(self) -> None:
        self._spawn()
        for label, source, exercise in self.cells:
            try:
                reply = self._request(("exec", label, source), exercise or label, source)
            except _TimedOut:
                self._fail_cell(
                    label,
                    exercise,
                    f"the cell did not finish within "
                    f"{self.limits.timeout:g} s (an infinite loop, or heavy work at "
                    "the top level of the cell?)",
                )
                continue
            except _ChildDied as err:
                why = self._running.exit_description(err.reason)
                self._fail_cell(
                    label,
                    exercise,
                    f"running the cell ended its process ({why}; os._exit, a crash, or too much memory?)",
                )
                continue
            if reply["status"] == "ok":
                self.good_cells.append((label, source))
            else:
                self.cell_errors[exercise or label] = f"its cell failed: {one_line(reply['message'])}"
                if exercise is None and re.search(r"\b(ModuleNotFoundError|ImportError)\b", reply["message"]):
                    self._salvage(label, source)

    def _salvage(self, label: str, source: str) -> None:
        """A setup cell whose import failed (a module the grading environment lacks, which the
        student's had): run its top-level statements one by one, as the student's notebook ran
        them all, keeping those that work, so that what is missing costs only the exercises
        that use it. A cell Python cannot parse (magics) is left as it was."""
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return
        lines = source.splitlines(keepends=True)
        pieces: list[list[int]] = []  # [first, last] line of each statement (decorators in)
        for node in tree.body:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            last = node.end_lineno or node.lineno
            if pieces and first <= pieces[-1][1]:  # a; b on one line: one piece
                pieces[-1][1] = max(pieces[-1][1], last)
            else:
                pieces.append([first, last])
        for first, last in pieces:
            piece = "\n" * (first - 1) + "".join(lines[first - 1 : last])  # its line numbers kept
            try:
                reply = self._request(("exec", label, piece))
            except (_TimedOut, _ChildDied):
                self._restart()
                return
            if reply["status"] == "ok":
                self.good_cells.append((label, piece))

    def _fail_cell(self, label: str, exercise: str | None, message: str) -> None:
        self.cell_errors[exercise or label] = message
        self._restart()

    def _spawn(self) -> None:
        self.sandbox = Sandbox(self.limits, self.preload, self.left_out, self.allow)

    def _restart(self) -> None:
        self._running.close()
        self._spawn()
        for label, source in self.good_cells:
            try:
                self._request(("exec", label, source))
            except (_TimedOut, _ChildDied):
                self._running.close()
                self._spawn()

    def outputs_for(self, exercise: registry.Exercise):
        """``get_outputs`` for ``judge_exercise``: one sandboxed call per case (a Numba
        kernel: ``_kernel_outputs``; a CUDA kernel: ``_cuda_outputs``)."""
        if exercise.probe == "numba":
            return self._kernel_outputs(exercise)
        if exercise.probe == "cuda":
            return self._cuda_outputs(exercise)
        if exercise.probe in MODEL_PROBES:
            return self._model_outputs(exercise)

        def get_outputs(case):
            value = self._called(exercise, case, exercise.name)
            try:  # judged here, in the grader's process, from the plain data sent back
                return settle(exercise.probe, case, value)
            except ModifiedInput as err:
                raise SubmissionError(f"raised ModifiedInput: {err}") from None

        return get_outputs

    def _called(self, exercise: registry.Exercise, case, where: str | None, probe: str | None = None):
        """The plain data of one sandboxed call of ``exercise``'s probe (``probe``: another
        one) on ``case``; ``SubmissionError`` if it could not be had."""
        try:
            written = next((src for _, src, name in self.cells if name == exercise.name), "")
            reply = self._request(("call", probe or exercise.probe, exercise.entries, case), where, written)
        except _TimedOut:
            self._restart()
            raise SubmissionError(f"timed out after {self.limits.timeout:g} s (an infinite loop?)") from None
        except _ChildDied as err:
            why = self._running.exit_description(err.reason)
            self._restart()
            if err.reason:
                raise SubmissionError(f"the grading process failed: {why}") from None
            raise SubmissionError(
                f"the code ended the grading process ({why}): os._exit, a crash, or too much memory?"
            ) from None
        setup = self.setup_failure()
        if reply["status"] == "missing":
            cell_problem = self.cell_errors.get(exercise.name)
            message = f"`{one_line(reply['message'], 200)}` is not defined"
            message += (
                f": {cell_problem}"
                if cell_problem
                else f" ({setup})"
                if setup
                else " (is the exercise cell, with its metadata, still in the notebook?)"
            )
            raise SubmissionError(message)
        if reply["status"] == "error":
            raise SubmissionError(one_line(reply["message"]) + (f" ({setup})" if setup else ""))
        return reply["value"]

    # ------------------------------------------------------------------ Numba kernels
    def _kernel_outputs(self, exercise: registry.Exercise):
        """``get_outputs`` for a Numba kernel (issue 68): the submission's process describes
        it once (``probes.describe_kernel``: plain data); the grader finds its source in the
        cells (``kernels.kernel_spec``); a fresh sandboxed process, where no cell runs,
        compiles that source with Numba, reads it for object mode and runs the case with
        it (``probes.kernel_case``). The outputs are judged here (``settle``)."""

        def get_outputs(case):
            known = self.kernels.get(exercise.name)
            if known is None:
                known = self.kernels[exercise.name] = self._kernel_spec(exercise, case)
            if not known["is_numba"]:
                return {"is_numba": False}
            if "problem" in known:
                raise SubmissionError(known["problem"])
            value = self._kernel_request(("kernel", known["key"], known["spec"], case))
            self.kernel_cases.setdefault(exercise.name, []).append(case)
            if not isinstance(value, dict):
                raise SubmissionError("the grader could not read what the kernel's process sent back")
            try:
                value = settle("numba", case, {**value, "is_numba": True})
            except ModifiedInput as err:
                raise SubmissionError(f"raised ModifiedInput: {err}") from None
            kernel_evidence(exercise, value, [])
            return value

        return get_outputs

    def _kernel_spec(self, exercise: registry.Exercise, case) -> dict:
        """The kernel's description from the submission's process, checked, and its source:
        ``{"is_numba", "spec", "key"}`` or ``{"is_numba", "problem"}``."""
        value = self._called(exercise, case, exercise.name)
        if not isinstance(value, dict) or not value.get("is_numba"):
            return {"is_numba": False}
        try:
            spec = kernels.kernel_spec(value.get("kernel"), self.cells, self.built)
        except kernels.KernelSourceError as err:
            return {"is_numba": True, "problem": str(err)}
        return {"is_numba": True, "spec": spec, "key": f"{exercise.name} {len(self.kernels)}"}

    def _kernel_request(self, message: tuple, box: str = "numba"):
        """One request to the kernels' own process ``box`` (started on the first: no cell
        ever runs in it), within the submission's budget; a hang or a crash restarts it."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _OutOfTime()
        if box not in self.kernel_boxes:
            self.kernel_boxes[box] = Sandbox(self.limits, self.preload, self.left_out, self.allow)
        running = self.kernel_boxes[box]
        try:
            reply = running.request(message, min(self.limits.timeout, left))
        except (_TimedOut, _ChildDied) as err:
            why = (
                f"timed out after {self.limits.timeout:g} s (an infinite loop?)"
                if isinstance(err, _TimedOut)
                else f"the kernel ended its process ({running.exit_description(err.reason)})"
            )
            self.kernel_boxes.pop(box).close()
            if isinstance(err, _TimedOut) and time.monotonic() >= self.deadline - 0.01:
                raise _OutOfTime() from None
            raise SubmissionError(why) from None
        if reply["status"] != "ok":
            raise SubmissionError(one_line(reply["message"]))
        return reply["value"]

    def kernel_work(self, exercise: registry.Exercise) -> list:
        """What the kernel's ``prange`` loops did on each case it ran (``probes.kernel_trace``:
        its Python run, traced), asked once every kernel has run its cases; ``[]`` where it
        could not be observed (``_not_parallel`` then says it is not parallel)."""
        known, cases = self.kernels.get(exercise.name) or {}, self.kernel_cases.get(exercise.name, [])
        if "spec" not in known or not cases:
            return []
        try:
            work = self._kernel_request(("kernel_trace", known["key"], known["spec"], cases))
        except SubmissionError as err:
            return [{"iterations": 0, "largest_share": 1.0, "error": str(err)[:300]}]
        return work if isinstance(work, list) else []

    # ------------------------------------------------------------------ CUDA kernels
    def _cuda_outputs(self, exercise: registry.Exercise):
        """``get_outputs`` for a CUDA kernel (issue 68): the submission's process sends back
        the string its entry holds, once; the grader takes it only as one of the notebook's
        own string literals (``kernels.cuda_source``); a fresh sandboxed process of the
        exercise's own, where no cell runs, compiles it with the emulator and launches each
        case (``probes.cuda_case``). The spec judges the plain data here."""

        def get_outputs(case):
            known = self.kernels.get(exercise.name)
            if known is None:
                known = self.kernels[exercise.name] = self._cuda_source(exercise, case)
            if "problem" in known:
                raise SubmissionError(known["problem"])
            box = f"cuda {exercise.name}"
            for other in [b for b in self.kernel_boxes if b.startswith("cuda ") and b != box]:
                self.kernel_boxes.pop(other).close()  # one CUDA process at a time
            entry = exercise.entries[0]
            return self._kernel_request(("cuda", known["key"], known["source"], entry, case), box)

        return get_outputs

    def _cuda_source(self, exercise: registry.Exercise, case) -> dict:
        """``{"source", "key"}``: the CUDA source to compile, or ``{"problem"}``."""
        sent = self._called(exercise, case, exercise.name)
        try:
            source = kernels.cuda_source(sent, exercise.entries[0], self.cells, self.built)
        except kernels.KernelSourceError as err:
            return {"problem": str(err)}
        return {"source": source, "key": f"{exercise.name} {len(self.kernels)}"}

    # ------------------------------------------------------------------ chapter 9's models
    def _model_outputs(self, exercise: registry.Exercise):
        """``get_outputs`` for a function run on a model (issue 68): the submission's process
        describes it once (``probes._described_model_probe``: plain data); the grader finds
        its ``def``, and those of the notebook's functions it calls, in the cells and reads
        them (``kernels.model_spec``); a fresh sandboxed process, where no cell runs,
        rebuilds only those functions, builds the model, calls the function and summarises
        the model with the grader's code (``probes.model_case``). The spec judges the
        summary here."""

        def get_outputs(case):
            known = self.kernels.get(exercise.name)
            if known is None:
                known = self.kernels[exercise.name] = self._model_spec(exercise, case)
            if "problem" in known:
                raise SubmissionError(known["problem"])
            try:
                return self._kernel_request(
                    ("model", known["key"], known["spec"], exercise.probe, case), "model"
                )
            except SubmissionError as err:
                if "NameError" not in str(err):
                    raise
                raise SubmissionError(
                    f"{err} (the grader runs `{exercise.entries[0]}` in a process of its own, with the "
                    "globals it reads that are numbers, strings, numeric arrays or tuples, the "
                    "notebook's own functions, and objects of numpy, math or minidl: define any other "
                    "value inside the function)"
                ) from None

        return get_outputs

    def _model_spec(self, exercise: registry.Exercise, case) -> dict:
        """``{"spec", "key"}``: the functions to rebuild, or ``{"problem"}``."""
        sent = self._called(exercise, case, exercise.name)
        try:
            description = sent.get("function") if isinstance(sent, dict) else None
            spec = kernels.model_spec(description, exercise.entries[0], self.cells, self.built)
        except kernels.KernelSourceError as err:
            return {"problem": str(err)}
        names = kernels.described_names(spec)  # reached by any spelling, a built import's too
        by_spec = [
            (name, entry)
            for name, entry in provenance.spec_forbidden_uses(names, list(exercise.forbids))
            if not allowed(entry, self.allow)
        ]
        if by_spec:
            name, entry = by_spec[0]
            return {
                "problem": f"`{exercise.entries[0]}` uses {name}, which computes what this exercise "
                f"asks (its spec forbids {entry}): write the operation yourself"
            }
        by_option = provenance.forbidden_uses(names, list(self.limits.forbid))
        if by_option:
            name, entry = by_option[0]
            return {"problem": f"uses what this assignment forbids: {name} (--forbid {entry})"}
        return {"spec": spec, "key": f"{exercise.name} {len(self.kernels)}"}

    def setup_failure(self) -> str | None:
        """What went wrong in the first setup cell that failed, or None."""
        for label, _source, exercise in self.cells:
            if exercise is None and label in self.cell_errors:
                problem = self.cell_errors[label].removeprefix("its cell failed: ")
                return f"setup {label.strip('<>')} failed: {problem}"
        return None

    def setup_hint(self) -> str | None:
        """For the instructor: the module a failed setup cell could not import and how to
        regrade with it provided, or None."""
        found = re.search(r"No module named '([\w.]+)'", self.setup_failure() or "")
        if not found:
            return None
        module = found.group(1).split(".")[0]
        return (
            f"{module} is not installed where this was graded (the exercises not using it were "
            f"graded): to regrade with it, pip install {module} (or its package) here, or "
            f"package with --allow-import {module} (or the course's requirements.txt)"
        )

    def close(self) -> None:
        if self.sandbox:
            self.sandbox.close()
        for box in self.kernel_boxes.values():
            box.close()


def kernel_evidence(exercise, value, seen: list) -> None:
    """What a "numba" probe observed on a compiled kernel (``probes.object_mode``,
    ``probes.prange_work``): raises ``SubmissionError`` for a kernel that runs Python in
    object mode; appends the work of its prange loop on this case to ``seen`` (read by
    ``_not_parallel`` once the answer is right)."""
    if exercise.probe != "numba" or not isinstance(value, dict) or not value.get("is_numba"):
        return
    if value.get("object_mode"):
        raise SubmissionError(
            f"the kernel runs Python inside the compiled function ({one_line(str(value['object_mode']), 200)}): "
            "write the loops in nopython code, without numba.objmode"
        )
    if "parallel" in value:  # traced with the case (in one process); the runner traces last
        seen.append(value["parallel"])


def allowed(entry: str, allow: tuple[str, ...]) -> bool:
    """Whether ``--allow`` re-enables the spec's forbidden ``entry``: named as it is, by a
    module above it, or by its last part (``MaxPool2D``)."""
    return any(entry == a or entry.startswith(a + ".") or entry.rpartition(".")[2] == a for a in allow)


def _use_allowed(name: str, entry: str, allow: tuple[str, ...]) -> bool:
    """Whether ``--allow`` covers this use: the spec's entry (``allowed``), or the name used
    itself, in any spelling (``--allow MaxPool2D`` also when the spec forbids its module)."""
    if allowed(entry, allow) or allowed(name, allow):
        return True
    full = [a for a in allow if "." in a]
    short = {a for a in allow if "." not in a}
    if provenance.spec_forbidden_uses([name], full):
        return True
    return any(provenance.spec_forbidden_uses([name], [f"{entry}.{a}"]) for a in short)


def _refusals(
    exercises, cells, uses: dict, forbid: tuple, allow: tuple, changed: list[str]
) -> dict[str, str]:
    """``{exercise: why it scores 0}`` for what the grader reads in the cells, before any of
    them runs: a use of the grader, of a ``--forbid`` name, of what the exercise's spec
    forbids (unless ``--allow``-ed), a notebook that changes modules (for the exercises
    whose verdict needs what the sandbox observes). (Whether a kernel is compiled by Numba,
    in nopython mode, in parallel, is observed on the compiled kernel: ``outputs_for``.)"""
    setup_grader = sorted({n for where, names in uses.items() if where not in {e.name for e in exercises}
                           for n in provenance.grader_uses(names)})  # fmt: skip
    refusals = {}
    for exercise in exercises:
        names = uses.get(exercise.name, [])
        grader = sorted(set(provenance.grader_uses(names)) | set(setup_grader))
        by_option = provenance.forbidden_uses(names, list(forbid))
        by_spec = [
            (name, entry)
            for name, entry in provenance.spec_forbidden_uses(names, list(getattr(exercise, "forbids", ())))
            if not _use_allowed(name, entry, allow)
        ]
        if grader:
            why = (
                f"uses the grader ({', '.join(grader[:3])}): a notebook may import only `check` "
                "from it; write the answer yourself"
            )
        elif by_option:
            used = ", ".join(f"{name} (--forbid {entry})" for name, entry in by_option)
            why = f"uses what this assignment forbids: {used}; write the operation yourself"
        elif by_spec:
            name, entry = by_spec[0]
            why = (
                f"uses {name}, which computes what this exercise asks (its spec forbids {entry}): "
                f"write the operation yourself (an instructor may allow it: --allow {entry})"
            )
        elif changed and exercise.probe in OBSERVING_PROBES:
            why = (
                f"the notebook changes modules it did not write ({'; '.join(changed[:3])}): the grader "
                "cannot trust what the sandbox observed for this exercise"
            )
        else:
            continue
        refusals[exercise.name] = why
    return refusals


def _not_parallel(exercise, seen: list) -> str | None:
    """Why a kernel whose spec says ``numba_parallel`` is not, from what its compiled kernel's
    prange loops did on the cases (``probes.prange_work``, one entry per case; asked once its
    answer is right): ``minidl.exercises.probes.not_parallel``, the rule ``check()`` uses."""
    if not getattr(exercise, "numba_parallel", False):
        return None
    return not_parallel(exercise.entries[0], seen)


def _exercises_of(chapter: str | None, extra: list) -> list:
    if chapter is None:
        return []
    found = registry.for_chapter(chapter) + [e for e in extra if e.chapter == chapter]
    return found + projects.exercises_for(chapter)


def _zero(exercises: list, why: str) -> list[Result]:
    return [Result(e.name, e.points, 0, f"not graded: {why}") for e in exercises]


def grade_notebook(
    path,
    timeout: float = 60.0,
    memory: int = DEFAULT_MEMORY,
    seed: int = 0,
    extra: list | None = None,
    chapter: str | None = None,
    budget: float | None = None,
    isolate: bool = True,
    content: bytes | str | None = None,
    forbid: tuple[str, ...] = (),
    allow: tuple[str, ...] = (),
) -> SubmissionResult:
    """Grade the notebook at ``path``; never raises for anything the submission does.

    chapter : the assignment (``"03"`` or ``"03_backpropagation"``); a notebook of another
        chapter gets an error and 0 points. Default: the notebook's own chapter.
    budget : seconds for the whole submission (default: 10 timeouts)
    isolate : run under bubblewrap when it works here
    content : the notebook's bytes, if already read (the batch reads every file first,
        ``notebook.read_submission``), or why it could not be read (a ``str``)
    forbid : modules or names (``"minidl.nn.layers"``, ``"numpy.linalg.solve"``) an answer may
        not use: an exercise whose cell uses one scores 0, and in the sandbox they raise
    allow : names an exercise's spec forbids (``Exercise.forbids``) that are allowed after all
        (``"minidl.nn.layers.MaxPool2D"``, a module above it, or its last part ``"MaxPool2D"``)
    """
    start = time.monotonic()
    chapter = parse_chapter(chapter) if chapter else None  # "03" works too
    limits = Limits(
        timeout=timeout,
        memory=memory,
        isolate=isolate,
        forbid=tuple(forbid),
        budget=budget if budget is not None else 10 * timeout,
    )
    result = SubmissionResult(display_path(path), chapter, seed=seed)
    try:
        _grade_into(result, Path(path), limits, seed, extra or [], chapter, content, tuple(allow))
    except BaseException as err:  # a fault of the grader itself: this row only
        if isinstance(err, KeyboardInterrupt):
            raise
        result.error = f"internal grader error: {type(err).__name__}: {err}"
        done = {r.name for r in result.results}
        result.results += _zero(
            [e for e in _exercises_of(result.chapter, extra or []) if e.name not in done],
            "internal grader error",
        )
    result.error = one_line(result.error) if result.error else None
    for r in result.results:
        r.message = clean_text(r.message)
        for case in r.cases:
            case.message, case.label = clean_text(case.message), one_line(case.label, 200)
    result.flags = [one_line(f, 300) for f in result.flags]
    result.seconds = time.monotonic() - start
    return result


def _grade_into(
    result: SubmissionResult,
    path: Path,
    limits: Limits,
    seed: int,
    extra: list,
    pinned: str | None,
    content: bytes | str | None,
    allow: tuple[str, ...] = (),
) -> None:
    try:
        if isinstance(content, str):
            raise ValueError(content)
        nb = notebook.read_notebook(path, content=content, max_bytes=MAX_NOTEBOOK_BYTES)
    except ValueError as err:
        if result.chapter is None and path.stem in registry.chapters():
            result.chapter = path.stem
        result.error = str(err)
        result.results = _zero(_exercises_of(result.chapter, extra), str(err))
        return
    own = find_chapter(nb, path)
    result.flags = _mentions(nb)
    if pinned and own and own != pinned:
        result.error = (
            f"this notebook is chapter {own}, but the assignment is {pinned}: "
            "submit the notebook of the assignment's chapter"
        )
        result.results = _zero(_exercises_of(pinned, extra), "wrong chapter")
        return
    chapter = result.chapter = pinned or own
    if chapter is None:
        result.error = (
            "could not tell which chapter this notebook belongs to (no "
            "metadata.minidl.chapter, no chapter file name, no exercise cells)"
        )
        return
    exercises = _exercises_of(chapter, extra)
    limits = projects.limits_for(chapter, limits)  # a project's cell may take its budget
    preload = sorted({module for e in exercises for module in (*e.needs, *PROBE_MODULES.get(e.probe, ()))})
    cells, notes = _graded_cells(nb, exercises)
    result.flags += notes
    uses = provenance.library_uses(cells)
    names = {e.name for e in exercises}
    result.flags += [
        f"{where} uses {', '.join(found)}"
        for where, used in uses.items()
        if (found := provenance.minidl_uses(used, setup=where not in names))
        and not projects.exercises_for(chapter)  # a project is a model built with minidl
    ]
    changed = provenance.tampering(cells)
    result.flags += changed
    refusals = _refusals(exercises, cells, uses, limits.forbid, allow, changed)
    for label, _, name in cells:  # a cell too long to read (MAX_CELL_CHARS) scores 0, said why
        too_long = [n for n in notes if n.startswith(label + ":") and n.endswith("not read and not run")]
        if name and too_long:
            refusals[name] = too_long[0]
    groups = _merged(_by_left_out(exercises, limits.forbid, allow), uses, names)
    for left_out in groups:  # made once per grading run, before this submission's clock starts
        build_runtime(left_out, allow)
    deadline = time.monotonic() + limits.budget
    judged: dict[str, Result] = {}
    sessions: list[_Session] = []
    try:
        for left_out, group in groups.items():
            to_run = [e for e in group if not refusals.get(e.name)]
            if not to_run:
                continue
            session = _Session(cells, limits, preload, left_out, allow, deadline)
            sessions.append(session)
            try:
                session.start()
                for exercise in to_run:
                    if why := _built_refusal(exercise, session, limits, allow):
                        judged[exercise.name] = Result(exercise.name, exercise.points, 0, why)
                        continue
                    if projects.is_project(exercise):  # a model scored on its hidden split
                        got = projects.judge(exercise, session.outputs_for(exercise), seed)
                    else:
                        got = judge_exercise(
                            exercise, session.outputs_for(exercise), seed, public_seed=PUBLIC_SEED
                        )
                    if got.score > 0 and (why := _built_refusal(exercise, session, limits, allow)):
                        got = Result(exercise.name, exercise.points, 0, why)  # built while called
                    judged[exercise.name] = got
                # a right kernel that must be parallel: its prange work traced (its Python run)
                # only now, after every kernel has been compiled and has run its cases
                for exercise in to_run:
                    done = judged.get(exercise.name)
                    if done is None or done.score <= 0 or not getattr(exercise, "numba_parallel", False):
                        continue
                    work = session.prange_work[exercise.name] = session.kernel_work(exercise)
                    if why := _not_parallel(exercise, work):
                        judged[exercise.name] = Result(exercise.name, exercise.points, 0, why)  # serial
            finally:
                session.close()
                _keep_built(result, session.built, exercises)
                result.flags += sorted(n for n in session.noted if n not in result.flags)
                for where, sources in session.built.items():
                    note = f"{where} ran code built at run time: {one_line(sources[0], 120)}"
                    if note not in result.flags:
                        result.flags.append(note)
                if (setup := session.setup_failure()) and setup not in result.flags:
                    result.flags.append(setup)  # reported whatever the exercises scored
                    result.error = result.error or setup
                    if hint := session.setup_hint():
                        result.flags.append(hint)
    except _OutOfTime:
        for e in exercises:
            if e.name not in judged and not refusals.get(e.name):
                judged[e.name] = _zero(
                    [e], f"the submission used its whole time budget of {limits.budget:g} s"
                )[0]
    finally:
        result.isolated = all(s.isolated for s in sessions) if sessions else None  # None: nothing ran
        printed = max((s.output_bytes for s in sessions), default=0)
        if printed > OUTPUT_LIMIT:
            result.flags.append(
                f"printed {printed / 2**20:.1f} MiB of output, over the {OUTPUT_LIMIT / 2**20:g} MiB "
                "limit (not scored: a print left in a loop slows grading and fills the sandbox's disk)"
            )
    result.results += [
        Result(e.name, e.points, 0, refusals[e.name]) if refusals.get(e.name) else judged[e.name]
        for e in exercises
    ]


def _keep_built(result: SubmissionResult, built: dict[str, list[str]], exercises: list) -> None:
    """Put in ``result.built`` the code a session recorded as built at run time, by exercise
    (for the similarity report): an exercise cell's own, and what a setup cell built that
    defines an exercise's entries (a ``def`` or an assignment of its name)."""
    for where, sources in built.items():
        for exercise in exercises:
            if where == exercise.name or (where.startswith("<") and _defines(sources, exercise.entries)):
                kept = result.built.setdefault(exercise.name, [])
                known = set(kept)  # sessions that replay the same cells record the same code
                kept += [s for s in dict.fromkeys(sources) if s not in known]


def _defines(sources: list[str], names: tuple) -> bool:
    pattern = re.compile(
        r"^[ \t]*(def\s+(%s)\s*\(|(%s)\s*=)" % (("|".join(map(re.escape, names)),) * 2), re.M
    )
    return any(pattern.search(source) for source in sources)


def _built_refusal(exercise, session: _Session, limits: Limits, allow: tuple) -> str | None:
    """Why ``exercise`` scores 0 for the code its cell or the setup cells built at run time
    (recorded by the sandbox's audit hook): it uses what the spec or ``--forbid`` forbids,
    or the grader, read as the cells are read (``provenance.library_uses``)."""
    setup = [src for where, sources in session.built.items() if where.startswith("<") for src in sources]
    own = session.built.get(exercise.name, [])
    if not own and not setup:
        return None
    cells = [(f"<built: {exercise.name}>", "\n".join(own + setup), exercise.name)]
    uses = provenance.library_uses(cells)
    refusal = _refusals([exercise], cells, uses, limits.forbid, allow, []).get(exercise.name)
    return f"in code built at run time (exec of a built string, marshal): {refusal}" if refusal else None


def _merged(groups: dict, uses: dict, exercise_names: set) -> dict:
    """``groups`` (``_by_left_out``) with every group that leaves something out merged into
    one process leaving out all of it, when no graded cell uses (as the grader reads it:
    ``provenance.library_uses``) what it would lose: an exercise's cell nothing another's
    spec forbids beyond its own, a setup cell nothing any of them forbids. Otherwise (or
    for a name the reading cannot see) each group keeps its process: the merge only spares
    the replay of the cells."""
    leaving = {key: group for key, group in groups.items() if any(not k.startswith("--forbid ") for k in key)}
    if len(leaving) < 2:
        return groups
    union = tuple(sorted({k for key in leaving for k in key}))
    entries = [k.removeprefix("--forbid ") for k in union]
    setup = [n for where, used in uses.items() if where not in exercise_names for n in used]
    if provenance.spec_forbidden_uses(setup, entries):
        return groups
    for key, group in leaving.items():
        own = {k.removeprefix("--forbid ") for k in key}
        extra = [entry for entry in entries if entry not in own]
        for exercise in group:
            if provenance.spec_forbidden_uses(uses.get(exercise.name, []), extra):
                return groups
    merged = {key: group for key, group in groups.items() if key not in leaving}
    merged[union] = [e for group in leaving.values() for e in group]
    return merged


def _by_left_out(exercises: list, forbid: tuple[str, ...], allow: tuple[str, ...]) -> dict:
    """``{what to leave out of minidl: [exercises]}``, in the exercises' order: an exercise
    graded by a probe that only calls its answer gets a process whose minidl lacks what its
    spec forbids (less ``--allow``); every exercise, what ``--forbid`` names in minidl (or
    the Keras door). Exercises that leave out the same share a process, and the questions
    join the first group that leaves something out (their probe reads a value only)."""
    command_line = tuple(f"--forbid {f}" for f in forbid if f.split(".")[0] in ("minidl", "minidl_keras"))
    groups: dict[tuple[str, ...], list] = {}
    for exercise in exercises:
        own = (
            tuple(f for f in getattr(exercise, "forbids", ()) if not allowed(f, allow))
            if exercise.probe in RUN_TIME_FORBIDS
            else ()
        )
        groups.setdefault(tuple(sorted(set(own))) + command_line, []).append(exercise)
    # a question's probe only reads the answer's value: it needs no process of its own
    questions = [e for e in groups.get(command_line, []) if e.probe == "answer"]
    other = next((key for key in groups if key != command_line), None)
    if questions and other is not None:
        groups[other] += questions
        groups[command_line] = [e for e in groups[command_line] if e.probe != "answer"]
        if not groups[command_line]:
            del groups[command_line]
    return groups
