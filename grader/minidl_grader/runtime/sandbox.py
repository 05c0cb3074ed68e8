"""The process that runs a submission's code (started by ``runner.py``; not for direct use).

    python -m minidl_grader.runtime.sandbox READ_FD WRITE_FD WORKDIR MEMORY_BYTES CPU_SECONDS NPROC [PRELOAD [FORBID [NICE]]]

It runs from the stripped runtime (``isolation.build_runtime``): it can import the probes,
never the references. It limits itself before touching the submission: address space
(``RLIMIT_AS``), CPU seconds, processes, open files, size of written files, no core
dumps; its stdout and stderr go to ``WORKDIR/output.log``; an audit hook refuses
sockets, new processes (other than a C/C++ compiler, which the CUDA emulator needs),
signals to other processes, and writing or deleting files outside ``WORKDIR``. The hook
stops Python-level accidents; the boundary against code that goes around it (ctypes) is
bubblewrap, around this process (see ``isolation.py``). Then it obeys the grader's
requests one at a time:

* ``(id, "exec", label, source)`` -- run one notebook cell in the submission's namespace;
* ``(id, "call", probe, entries, case)`` -- call the submitted function(s) through a probe
  and send back its outputs;
* ``(id, "kernel", key, spec, case)`` and ``(id, "kernel_trace", key, spec, cases)`` -- only
  in a process where no cell has run: compile a Numba kernel from the source the grader
  sends (``probes.build_kernels``), run a case with it or trace its ``prange`` work;
* ``(id, "cuda", key, source, entry, case)`` -- the same for a CUDA kernel: compile the source
  the grader sends with the emulator (``probes.cuda_module``) and launch a case
  (``probes.cuda_case``);
* ``(id, "model", key, spec, probe, case)`` -- the same for a function chapter 9 runs on a
  model: rebuild it from the source the grader sends (``probes.build_kernels(...,
  plain=True)``), build the model, call it and summarise the model (``probes.model_case``).

What an exercise forbids is not in this process at all: the runtime it imports minidl from
was built without it (``confinement/overlay.py``).

Requests arrive pickled (they come from the grader). Replies go back as JSON through
``codec`` -- never pickle -- and echo the request's id, because the submission controls
this process and could forge them; forged outputs are still judged against the
grader's own references, and a reply out of turn ends the process.
"""

from __future__ import annotations

import linecache
import os
import pickle
import resource
import struct
import sys
from typing import cast

_HEADER = struct.Struct("!Q")
_ALLOWED_PROGRAMS = {"c++", "g++", "gcc", "cc", "clang", "clang++", "nvcc"}
_BLOCKED_EVENTS = {
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.killpg",
    "socket.__new__",
    "socket.connect",
    "socket.bind",
    "socket.getaddrinfo",
    "socket.sendto",
    "urllib.Request",
    "webbrowser.open",
    "pty.spawn",
}
_PATH_EVENTS = {
    "os.remove",
    "os.rename",
    "os.rmdir",
    "shutil.rmtree",
    "os.truncate",
    "os.chmod",
    "os.chown",
    "os.symlink",
    "os.link",
    "os.mkdir",
    "os.utime",
    "shutil.move",
    "shutil.copyfile",
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def read_exact(fd: int, n: int) -> bytes:
    chunks, remaining = [], n
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, payload: bytes) -> None:
    data = _HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _limit_resources(memory: int, cpu_seconds: int, nproc: int) -> None:
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if cpu_seconds > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    if nproc > 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 2**20, 256 * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversize write raises instead of killing


def _redirect_output(workdir: str) -> None:
    log = os.open(os.path.join(workdir, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)


def _output_bytes() -> int:
    """How much the process has printed (the size of ``output.log``; 0 where unknown)."""
    try:
        return os.fstat(1).st_size
    except OSError:
        return 0


def _allow_numba_cache(workdir: str) -> None:
    """Let ``@njit(cache=True)`` work on a function defined in a notebook cell.

    Numba caches a function next to its source file, or (in Jupyter) under IPython's
    folder; a cell run here has neither (its file name is ``<cell N>``), and Numba would
    refuse with "no locator available". This locator keys the cache by the function's
    source (the cells are in ``linecache``) and keeps it in the private ``workdir``."""
    import hashlib
    import inspect

    try:
        from numba.core import caching
    except ImportError:
        return

    class CellCacheLocator(caching._CacheLocator):
        def __init__(self, py_func, py_file):
            self._source = inspect.getsource(py_func).encode("utf-8")

        def get_cache_path(self):
            return os.path.join(workdir, "numba-cache")

        def get_source_stamp(self):
            return hashlib.sha256(self._source).hexdigest()

        def get_disambiguator(self):
            return hashlib.sha256(self._source).hexdigest()[:10]

        @classmethod
        def from_function(cls, py_func, py_file):
            if not str(py_file).startswith("<cell"):
                return None
            try:
                return cls(py_func, py_file)
            except (OSError, TypeError):
                return None

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    if impl is not None:  # the name changed across Numba versions
        impl._locator_classes = [CellCacheLocator, *impl._locator_classes]


def _set_module(name: str, stand_in: object) -> None:
    """``sys.modules[name] = stand_in``: the import system hands out whatever object it
    finds there (typeshed types the table ``dict[str, ModuleType]``, hence the cast)."""
    cast("dict[str, object]", sys.modules)[name] = stand_in


class _Forbidden:
    """Stands for a module or a name the assignment forbids (``--forbid``): using it raises."""

    def __init__(self, name: str):
        self._name = name

    def _refuse(self, *args, **kwargs):
        raise PermissionError(f"{self._name} is forbidden in this assignment: write the operation yourself")

    __call__ = _refuse

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        self._refuse()


def _forbid(name: str) -> None:
    """Replace the module or attribute ``name`` by a ``_Forbidden`` for the submission
    (the modules loaded so far keep their own references)."""
    import importlib

    stub = _Forbidden(name)
    try:
        importlib.import_module(name)
        is_module = True
    except Exception:
        is_module = False
    parent, _, attribute = name.rpartition(".")
    if is_module:
        _set_module(name, stub)
    if parent:
        try:
            setattr(importlib.import_module(parent), attribute, stub)
        except Exception:
            pass


# While the submission's code may be running (``_Guard.active``: from the first cell on,
# except around the server's own few calls that need a frame), the audit hook also refuses
# what a graded cell has no business doing (issue 68): reaching a frame -- the way to the
# server's own objects (its probes, its reply channel) -- through ``sys._getframe`` (unless
# the frame is a library's own, as ``namedtuple`` asks for its caller inside Numba's
# compiler), a traceback's, generator's or coroutine's frame, ``sys._current_frames``,
# ``sys.settrace``/``setprofile``; crawling the garbage collector; loading a C library
# (``ctypes``); building code objects or functions from bytes (``marshal.loads``,
# ``types.CodeType``, ``types.FunctionType``) or swapping a function's code. Every string
# compiled while it is active (``exec``, ``eval``, ``compile``, however the name was built)
# is recorded (``_Guard.compiled``) and sent back with the reply, for the grader's readings.
_FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"}
_REFUSED_WHILE_ACTIVE = {
    "sys._current_frames",
    "sys.settrace",
    "sys.setprofile",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
}
# refused unless a library's code asks (the import system unmarshals every .pyc it loads;
# Numba builds functions while it compiles)
_REFUSED_TO_CELLS = {"marshal.loads", "marshal.load", "code.__new__", "function.__new__"}
MAX_RECORDED = 200_000  # characters of compiled source recorded per request
# Python's, the installed packages', and the runtime's own (the probes, minidl: the folder
# this process imports them from; a cell's code is "<cell N>", a file it writes is elsewhere)
_RUNTIME_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
_LIBRARY_FRAMES = tuple(
    {os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, _RUNTIME_ROOT)}
)
# the modules, and functions of ``traceback``, that hand a frame to whoever calls them: their
# code never reaches one while the submission runs
_FRAME_HANDERS = {"inspect", "logging", "pdb", "bdb", "profile", "cProfile", "trace", "warnings"}
_TRACEBACK_HANDERS = {"walk_tb", "walk_stack", "extract_stack", "format_stack", "print_stack"}


def _frame_user(frame) -> bool:
    """Whether ``frame`` runs a library's code that may reach a frame for itself (not one
    of ``_FRAME_HANDERS``)."""
    if not _library_frame(frame):
        return False
    try:
        module, function = frame.f_globals.get("__name__", ""), frame.f_code.co_name
    except Exception:
        return False
    if module == "traceback":
        return function not in _TRACEBACK_HANDERS
    return isinstance(module, str) and module.split(".")[0] not in _FRAME_HANDERS


class _Guard:
    """The hook's state: whether submission code may be running, and the source compiled."""

    def __init__(self):
        self.active = False
        self.compiled: list[str] = []
        self.size = 0
        self.noted: list[str] = []  # what a cell did that the grader reports (a C library loaded)

    def record(self, source) -> None:
        if isinstance(source, bytes):
            source = source.decode("utf-8", "replace")
        if isinstance(source, str) and self.size < MAX_RECORDED:
            source = source[: MAX_RECORDED - self.size]
            self.size += len(source)
            self.compiled.append(source)

    def taken(self) -> list[str]:
        found, self.compiled, self.size = self.compiled, [], 0
        return found

    def notes(self) -> list[str]:
        found, self.noted = self.noted[:20], []
        return found


def _library_frame(frame) -> bool:
    """Whether ``frame`` runs a library's code (Python's, NumPy's, Numba's), not a cell's."""
    try:
        name = frame.f_code.co_filename
    except Exception:
        return False
    if not isinstance(name, str):
        return False
    return name.startswith("<frozen ") or os.path.realpath(name).startswith(_LIBRARY_FRAMES)


def _install_audit_hook(workdir: str, protected_fds: set) -> _Guard:
    root = os.path.realpath(workdir)
    own_pid = os.getpid()
    guard = _Guard()

    def inside(path) -> bool:
        try:
            full = os.path.realpath(os.path.join(root, os.fsdecode(path)))
        except (TypeError, ValueError):
            return False
        return full == root or full.startswith(root + os.sep) or full == os.devnull

    def refused(event: str, args: tuple) -> bool:
        if event in _REFUSED_WHILE_ACTIVE:
            return True
        if event in _REFUSED_TO_CELLS:  # who asks: the frame that called (2: the caller of the hook)
            guard.active = False
            try:
                return not _library_frame(sys._getframe(2))
            finally:
                guard.active = True
        if event == "object.__getattr__":
            if not (len(args) > 1 and args[1] in _FRAME_ATTRIBUTES):
                return False
            guard.active = False
            try:
                return not _frame_user(sys._getframe(2))
            finally:
                guard.active = True
        if event == "object.__setattr__":
            return len(args) > 1 and args[1] == "__code__"
        if event == "sys._getframe":
            guard.active = False  # reading the frame's file raises an event of its own
            try:  # who asks (2: the caller of the hook), and whose frame it gets
                return not (_frame_user(sys._getframe(2)) and args and _library_frame(args[0]))
            finally:
                guard.active = True
        return False

    def hook(event: str, args: tuple) -> None:
        if guard.active:
            if event == "compile" and args:
                guard.active = False  # the cells' own strings, not a library's generated code
                try:
                    if not _library_frame(sys._getframe(1)):
                        guard.record(args[0])
                finally:
                    guard.active = True
            elif event == "ctypes.dlopen":  # native code: bubblewrap's to bound; reported
                guard.noted.append(
                    f"loaded a C library through ctypes ({str(args[0] if args else '')[:80]!r})"
                )
            elif refused(event, args):
                raise PermissionError(f"the grader does not allow {event} in a submission")
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if isinstance(path, int):
                if path in protected_fds:
                    raise PermissionError("the grader does not allow opening its own pipes")
                return
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and not inside(path):
                raise PermissionError(f"the grader does not allow writing to {os.fsdecode(path)!r}")
        elif event in _BLOCKED_EVENTS:
            raise PermissionError(f"the grader does not allow {event}")
        elif event == "os.kill":
            if args and args[0] not in (own_pid, 0):
                raise PermissionError("the grader does not allow signalling other processes")
        elif event == "subprocess.Popen":
            program = os.path.basename(os.fsdecode(args[0])) if args and args[0] else ""
            if program not in _ALLOWED_PROGRAMS:
                raise PermissionError(f"the grader does not allow starting programs ({program!r})")
        elif event in _PATH_EVENTS:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)) and not inside(path):
                    raise PermissionError(f"the grader does not allow {event} outside its folder")
        elif event in ("os.dup2", "os.close") and args and args[0] in protected_fds:
            raise PermissionError("the grader does not allow touching its pipes")

    sys.addaudithook(hook)
    return guard


def python_source(source: str) -> str:
    """A cell's source as plain Python, by IPython's own input transformation.

    ``%magic`` and ``!shell`` lines become ``get_ipython()`` calls, which the sandbox
    answers harmlessly (``probes.NotebookShell``); a ``%`` inside a string or a
    continuation line is left alone. Without IPython, lines starting with ``%`` or ``!``
    become ``pass`` (a cruder rule that can misread such strings).

    This runs in the submission's process, under its time limits: a cell of 240 KiB of
    magic lines costs the submission's budget, not the grader's CPU.
    """
    if not any(mark in source for mark in "%!?"):
        return source if source.endswith("\n") else source + "\n"
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except Exception:  # not installed (or refused here): the cruder rule
        return without_magic_lines(source)
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython could not read it: Python will say why
        return source if source.endswith("\n") else source + "\n"


def without_magic_lines(source: str) -> str:
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass  # IPython line removed by the grader"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _hide_runtime() -> dict:
    """Take the grader's runtime modules out of the submission's reach: ``import
    minidl_grader.runtime.probes`` (in any spelling, a built string included) now gives a
    stand-in that raises. Returns ``{name: module}`` of what was hidden: the server keeps
    them, and unpickles the grader's requests (``Case``) with them."""
    package = __spec__.parent if __spec__ else __package__  # minidl_grader.runtime (run as __main__)
    if not package:
        return {}
    hidden = {m: sys.modules[m] for m in list(sys.modules) if m == package or m.startswith(package + ".")}
    for name in hidden:
        _set_module(name, _Forbidden(f"{name} (the grader)"))
    parent, _, attribute = package.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], attribute, _Forbidden(f"{package} (the grader)"))
    return hidden


class _Requests(pickle.Unpickler):
    """Unpickles the grader's requests with the runtime's own modules, hidden from the
    submission (``_hide_runtime``)."""

    def __init__(self, data: bytes, modules: dict):
        import io

        super().__init__(io.BytesIO(data))
        self._modules = modules

    def find_class(self, module, name):
        if module in self._modules:
            return getattr(self._modules[module], name)
        return super().find_class(module, name)


def serve(read_fd: int, write_fd: int, runtime=None, guard: _Guard | None = None) -> None:
    """Answer the grader's requests; ``runtime``: ``(codec, PROBES, NotebookShell,
    describe_exception, hidden modules, traceback_frames, (build_kernels, kernel_case,
    kernel_trace, cuda_module, cuda_case, model_case))`` taken before the runtime was
    hidden (imported here otherwise); ``guard``: the audit hook's state, active while the
    submission's code may run (``_install_audit_hook``)."""
    if runtime is None:
        from . import codec as own_codec
        from . import probes as own_probes

        runtime = (
            own_codec,
            own_probes.SANDBOX_PROBES,
            own_probes.NotebookShell,
            own_probes.describe_exception,
            {},
            own_probes.traceback_frames,
            (
                own_probes.build_kernels,
                own_probes.kernel_case,
                own_probes.kernel_trace,
                own_probes.cuda_module,
                own_probes.cuda_case,
                own_probes.model_case,
            ),
        )
    codec, PROBES, NotebookShell, describe_exception, hidden, traceback_frames, kernel_steps = runtime
    state: _Guard = guard if guard is not None else _Guard()
    built: dict = {}  # {key: kernels} made here from the grader's source ("kernel", "cuda", "model")
    ran_cells = False  # a kernel is compiled only where no cell has run

    class trusted:
        """The server's own steps that need what the hook refuses to the submission."""

        def __enter__(self):
            self.was, state.active = state.active, False

        def __exit__(self, *exc):
            state.active = self.was

    def described(err: BaseException) -> str:
        with trusted():
            frames = traceback_frames(err)
        return describe_exception(err, frames)

    probes = dict(PROBES)  # as loaded: a submission editing PROBES changes nothing here
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    shell = NotebookShell(namespace)
    namespace["get_ipython"] = lambda: shell
    request_id = None

    def _reply(fd: int, status: str, value=None, message: str = "") -> None:
        compiled = state.taken()  # the source compiled at run time, for the grader's readings
        try:
            payload = codec.dumps(
                {
                    "id": request_id,
                    "status": status,
                    "value": value,
                    "message": str(message),
                    "output_bytes": _output_bytes(),  # what the cells printed so far
                    "compiled": compiled,
                }
            )
        except Exception as err:  # an output that cannot be encoded is reported, not fatal
            payload = codec.dumps(
                {
                    "id": request_id,
                    "status": "error",
                    "value": None,
                    "message": f"the result could not be sent back ({err!r})"[:500],
                }
            )
        write_frame(fd, payload)

    while True:
        (size,) = _HEADER.unpack(read_exact(read_fd, _HEADER.size))
        request_id, kind, *request = _Requests(read_exact(read_fd, size), hidden).load()
        if kind == "quit":
            os._exit(0)
        if kind == "exec":
            ran_cells = True
            label, source = request
            try:
                with trusted():  # the cell itself is not code built at run time
                    source = python_source(source)
                    linecache.cache[label] = (len(source), None, source.splitlines(True), label)
                    code = compile(source, label, "exec")
            except SyntaxError as err:
                _reply(
                    write_fd,
                    "error",
                    message=f"SyntaxError: {err.msg} ({label.strip('<>')}, line {err.lineno}"
                    + (f": {err.text.strip()})" if err.text else ")"),
                )
                continue
            state.active = True  # from the first cell on (see _install_audit_hook)
            try:
                exec(code, namespace)
            except BaseException as err:  # SystemExit and KeyboardInterrupt too
                _reply(write_fd, "error", message=described(err))
                continue
            _reply(write_fd, "ok")
        elif kind == "call":
            probe_name, entries, case = request[:3]
            missing = [name for name in entries if name not in namespace]
            if missing:
                _reply(write_fd, "missing", message=", ".join(missing))
                continue
            try:
                if probe_name == "numba":
                    value = probes[probe_name](namespace, entries, case, trusted=trusted)
                else:
                    value = probes[probe_name](namespace, entries, case)
            except BaseException as err:
                _reply(write_fd, "error", message=described(err))
                continue
            _reply(write_fd, "ok", value=value)
        elif kind in ONLY_WHERE_NO_CELL_RAN:
            try:
                if ran_cells:
                    raise RuntimeError(ONLY_WHERE_NO_CELL_RAN[kind])
                key, build, run = _fresh_request(kind, request, trusted, kernel_steps)
                if key not in built:
                    with trusted():  # a compiler runs, a library is loaded: nothing of the submission
                        built[key] = build()
                state.active = True  # the submission's code runs from here on
                value = run(built[key])
            except BaseException as err:
                _reply(write_fd, "error", message=described(err))
                continue
            _reply(write_fd, "ok", value=value)


# The requests served only in a process where no cell has run, and the refusal after one.
ONLY_WHERE_NO_CELL_RAN = {
    "kernel": "a kernel is compiled only in a process where no cell has run",
    "kernel_trace": "a kernel is compiled only in a process where no cell has run",
    "cuda": "a kernel is compiled only in a process where no cell has run",
    "model": "a model's function is run only in a process where no cell has run",
}


def _fresh_request(kind: str, request: tuple, trusted, kernel_steps: tuple) -> tuple:
    """``(key, build, run)`` of a request of ``ONLY_WHERE_NO_CELL_RAN``: ``build()`` makes,
    once per key, what the request's cases run on (Numba kernels compiled from their source,
    a CUDA module, a model's functions), ``run(built)`` runs one request's case on it, both
    with the probes' steps taken before the runtime was touched (``kernel_steps``)."""
    build_kernels, kernel_case, kernel_trace, cuda_module, cuda_case, model_case = kernel_steps
    if kind == "cuda":
        key, source, entry, given = request[:4]
        return key, lambda: cuda_module(source, entry, trusted), lambda module: cuda_case(module, given)
    if kind == "model":
        key, spec, probe_name, given = request[:4]
        return (
            key,
            lambda: build_kernels(spec, trusted, plain=True),
            lambda functions: model_case(functions[0], probe_name, given),
        )
    key, spec, given = request[:3]
    case = kernel_case if kind == "kernel" else kernel_trace
    return key, lambda: build_kernels(spec, trusted), lambda kernels: case(kernels, given, trusted)


def _drop_editable_finders() -> None:
    """Forget the import finders of editable installs (``pip install -e``: setuptools puts
    one on ``sys.meta_path`` for each). Such a finder answers for a package's modules
    from its source folder, so ``import minidl_grader.specs`` would be found there where
    the stripped runtime has no ``specs``. Under bubblewrap those folders are not mounted;
    without it this is what keeps the references out of reach."""
    sys.meta_path[:] = [
        finder for finder in sys.meta_path if not getattr(finder, "__module__", "").startswith("__editable__")
    ]
    sys.path_importer_cache.clear()


def main() -> None:
    read_fd, write_fd, workdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    memory, cpu_seconds, nproc = (int(a) for a in sys.argv[4:7])
    preload = [m for m in sys.argv[7].split(",") if m] if len(sys.argv) > 7 else []
    forbid = [m for m in sys.argv[8].split(",") if m] if len(sys.argv) > 8 else []
    niceness = int(sys.argv[9]) if len(sys.argv) > 9 else 0
    os.chdir(workdir)
    _limit_resources(memory, cpu_seconds, nproc)
    if niceness:  # no cpu cgroup: at least the grader itself keeps its share
        try:
            os.nice(niceness)
        except OSError:
            pass
    _redirect_output(workdir)
    import numpy  # noqa: F401  -- imported before the hook, like everything trusted

    from . import codec, probes  # noqa: F401

    for module in preload:
        try:
            __import__(module)
        except Exception:
            pass
    _drop_editable_finders()
    if "numba" in sys.modules:
        try:
            _allow_numba_cache(workdir)
        except Exception:  # only a convenience: grading goes on without it
            pass
    for name in forbid:
        _forbid(name)
    probes.seal()  # what the probes compare with, captured before any cell runs
    runtime = (
        codec,
        probes.SANDBOX_PROBES,
        probes.NotebookShell,
        probes.describe_exception,
        _hide_runtime(),
        probes.traceback_frames,
        (
            probes.build_kernels,
            probes.kernel_case,
            probes.kernel_trace,
            probes.cuda_module,
            probes.cuda_case,
            probes.model_case,
        ),
    )
    guard = _install_audit_hook(workdir, {read_fd, write_fd})
    sys.argv = ["submission"]
    serve(read_fd, write_fd, runtime, guard)


if __name__ == "__main__":
    main()
