"""Where a submission runs: a stripped copy of minidl, inside bubblewrap when it can.

Two things keep the answers out of the submission's reach:

* **the stripped runtime** -- ``build_runtime()`` copies the minidl library with only the
  probe side of ``minidl_grader`` (``probes.py``, ``codec.py``, ``sandbox.py``, ``rules.py``) into a
  fresh folder; the submission's process imports minidl and minidl_grader from there and
  nowhere else.
  References (``specs/``), private checks, ``solutions/`` and the grader's own code are
  not in it.
* **bubblewrap** (Linux) -- ``bwrap_command()`` starts that process in new user, PID,
  network, IPC and UTS namespaces and a new mount namespace in which only the system
  (``/usr``, read-only), Python and its packages (read-only), the stripped runtime
  (read-only) and a private size-limited tmpfs (the only writable place) exist, under a
  seccomp filter that refuses the system calls no notebook needs (``seccomp.py``).

Where bubblewrap cannot run, ``isolation_status()`` says why in one line and the grader
marks its report "not isolated" (see the README's "Limits of the sandbox").
"""

from __future__ import annotations

import atexit
import compileall
import glob
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

from . import folders, overlay, seccomp

__all__ = [
    "build_runtime",
    "library_dir",
    "isolation_status",
    "bwrap_command",
    "bwrap_missing",
    "RUNTIME_GRADING_FILES",
    "SANDBOX_UID",
    "RUNTIME_MOUNT",
    "unprivileged_user",
]

# the only files of minidl_grader the submission's process receives: its runtime/ folder
RUNTIME_GRADING_FILES = ("probes.py", "codec.py", "sandbox.py", "rules.py")
RUNTIME_MOUNT = "/opt/minidl-runtime"  # where the sandbox sees the stripped runtime
SANDBOX_UID = 65534  # "nobody": the user id inside (and, when root, outside)
_GRADER_DIR = Path(__file__).resolve().parents[1]  # .../minidl_grader
_RUNTIME_INIT = '''"""The probe side of minidl_grader, as given to a submission's process.

The references are not here. ``check`` and ``evaluate`` exist so that a notebook's
``from minidl_grader import check`` and its ``check(...)`` cells still run; while
grading they do nothing -- the grader judges the outputs in its own process.
"""


def check(name, *objects, seed=0):
    """Does nothing while grading (the grader judges; see minidl_grader.check)."""
    return None


evaluate = check
'''

_lock = threading.Lock()
_runtime: str | None = None
_overlays: dict[tuple, str] = {}  # (forbidden, allow) -> a copy of the runtime without them
_status: tuple[bool, str] | None = None


def library_dir() -> Path:
    """The folder of the ``minidl`` package the grader itself imports (the library the
    submission is graded with: the repository's, or the installed one)."""
    import minidl

    return Path(minidl.__file__).resolve().parent


def build_runtime(forbidden: tuple[str, ...] = (), allow: tuple[str, ...] = ()) -> str:
    """The folder (made once per grading run) that holds the stripped runtime: the whole
    ``minidl`` library and, of ``minidl_grader``, only ``runtime/`` and a stub
    ``__init__.py`` (``_RUNTIME_INIT``).

    ``forbidden`` (dotted names, ``"--forbid NAME"`` for the command line's): a copy of that
    runtime, made once per set of names, in which each of them is a stand-in that raises
    (``overlay.py``) -- what the exercises graded with it forbid is not in their process.
    ``allow``: what ``--allow`` keeps of them.

    Everything in it is world-readable, so a submission's process running as an
    unprivileged user can import it; nothing in it is an answer.
    """
    global _runtime
    with _lock:
        if not (_runtime and os.path.isdir(_runtime)):
            # what graders killed before their cleanup left (a root grader's working folders
            # belong to the user it ran submissions as)
            folders.remove_stale(owners={os.getuid(), unprivileged_user() or os.getuid()})
            root = folders.make("minidl-runtime-")
            shutil.copytree(library_dir(), Path(root) / "minidl", ignore=_skip_caches)
            grader = Path(root) / "minidl_grader"
            grader.mkdir()
            (grader / "__init__.py").write_text(_RUNTIME_INIT)
            (grader / "runtime").mkdir()
            for name in ("__init__.py", *RUNTIME_GRADING_FILES):
                shutil.copy2(_GRADER_DIR / "runtime" / name, grader / "runtime" / name)
            compileall.compile_dir(root, quiet=2, workers=1)
            _make_world_readable(Path(root))
            atexit.register(folders.release, root)
            _runtime = root
        if not forbidden:
            return _runtime
        key = (tuple(sorted(set(forbidden))), tuple(sorted(set(allow))))
        if key in _overlays and os.path.isdir(_overlays[key]):
            return _overlays[key]
        replaced, packages = overlay.plan(key[0], key[1], library_dir())
        root = folders.make("minidl-runtime-forbids-")
        try:  # hard links: the copy costs no data; a rewritten file is a new file (unlinked first)
            shutil.copytree(_runtime, root, dirs_exist_ok=True, copy_function=os.link)
        except OSError:
            shutil.copytree(_runtime, root, dirs_exist_ok=True)
        for relative, names in replaced.items():
            path = Path(root) / "minidl" / relative
            text = overlay.rewrite(path.read_text(encoding="utf-8"), names)
            path.unlink()  # never write through a link into the shared runtime
            path.write_text(text, encoding="utf-8")
            for cached in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
                cached.unlink()
            compileall.compile_file(str(path), quiet=2)
        for package in packages:
            (Path(root) / package).mkdir()
            (Path(root) / package / "__init__.py").write_text(overlay.stand_in_package(package))
        _make_world_readable(Path(root))
        atexit.register(folders.release, root)
        _overlays[key] = root
        return root


def _skip_caches(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".so.tmp"))}


def _make_world_readable(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


# ---------------------------------------------------------------------- bubblewrap
def _python_roots() -> list[str]:
    """Folders that hold the interpreter and its packages (mounted read-only)."""
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    for path in sys.path:  # packages installed outside the prefixes
        if path and os.path.isdir(path) and ("site-packages" in path or "dist-packages" in path):
            roots.add(os.path.realpath(path))
    kept = sorted(r for r in roots if r not in ("/", "/usr") and not r.startswith("/usr/"))
    return [r for r in kept if not any(r != o and r.startswith(o + os.sep) for o in kept)]


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in (
        "/etc/alternatives",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/localtime",
    ):
        args += ["--ro-bind-try", path, path]
    return args


def _masks(runtime: str) -> list[str]:
    """Hide every copy of minidl and of the grader (references included) and ``solutions/``
    that lies inside a mounted folder: the grader's own (installed into site-packages or
    under ``/usr``) and any other -- a second ``minidl`` or ``minidl_grader`` in a
    site-packages, or any package there that holds ``specs/`` of chapters (or an old
    minidl's ``grading/specs``). ``minidl`` and ``minidl_grader`` are replaced by their
    stripped copies, anything else by an empty folder, ``solutions/`` too."""
    mounted = ["/usr", *_python_roots()]
    stripped = {name: os.path.join(runtime, name) for name in ("minidl", "minidl_grader")}
    library = library_dir()
    found = {
        os.path.realpath(library): stripped["minidl"],
        os.path.realpath(_GRADER_DIR): stripped["minidl_grader"],
        os.path.realpath(library.parent / "solutions"): None,
        os.path.realpath(_GRADER_DIR.parent.parent / "solutions"): None,
    }
    found.update((path, stripped.get(os.path.basename(path))) for path in minidl_copies(mounted))
    for package in overlay.OTHER_PACKAGES:  # forbidden whole: its stand-in over every copy
        if os.path.isdir(os.path.join(runtime, package)):
            found.update((path, os.path.join(runtime, package)) for path in _package_dirs(package, mounted))
    args = []
    for path, replacement in sorted(found.items()):
        if os.path.exists(path) and any(path.startswith(root + os.sep) for root in mounted):
            args += (
                ["--ro-bind", replacement, path] if replacement else ["--tmpfs", path, "--remount-ro", path]
            )
    return args


def _package_dirs(name: str, roots: list[str]) -> list[str]:
    """The folders of package ``name`` found on this Python's path (and in the
    ``site-packages`` under ``roots``)."""
    import importlib.util

    found = set()
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        found.add(os.path.realpath(location))
    for root in roots:
        found.update(
            os.path.realpath(p) for p in glob.glob(os.path.join(root, "lib/python3*/*-packages", name))
        )
    return sorted(found)


def _holds_references(path: str) -> bool:
    """Whether a package folder holds a grader's references: a ``specs/`` folder with a
    chapter's file (``chNN.py``) or the questions (``quiz.toml``) -- the grader under any
    name -- or ``grading/specs`` (minidl before the grader left it)."""
    if os.path.isdir(os.path.join(path, "grading", "specs")):
        return True
    try:
        names = os.listdir(os.path.join(path, "specs"))
    except OSError:
        return False
    return any(re.fullmatch(r"ch\d\d\.py|quiz\.toml", name) for name in names)


def minidl_copies(roots: list[str]) -> list[str]:
    """Package folders under the ``site-packages`` / ``dist-packages`` (and ``sys.path``
    entries) inside ``roots`` that are a minidl or a grader: named ``minidl`` or
    ``minidl_grader``, or holding references (``_holds_references``). One ``listdir`` per
    package folder: no deep walk of ``/usr``."""
    folders = {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)}
    for root in roots:
        for pattern in (
            "lib/python3*/*-packages",
            "local/lib/python3*/*-packages",
            "lib/python3/dist-packages",
            "lib64/python3*/*-packages",
        ):
            folders.update(os.path.realpath(p) for p in glob.glob(os.path.join(root, pattern)))
        if os.path.basename(root) in ("site-packages", "dist-packages"):
            folders.add(root)
    copies = []
    for folder in sorted(folders):
        if not any(folder == r or folder.startswith(r + os.sep) for r in roots):
            continue
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isdir(path) and (name in ("minidl", "minidl_grader") or _holds_references(path)):
                copies.append(os.path.realpath(path))
    return copies


def bwrap_command(runtime: str, tmpfs_bytes: int, env: dict, seccomp_fd: int | None = None) -> list[str]:
    """The bubblewrap command line that runs what follows it in the sandbox.

    Namespaces: user (uid/gid 65534 inside), PID, network (no interface but loopback,
    nothing reachable), IPC, UTS, cgroup. File system: a read-only system, Python and the
    stripped runtime read-only at ``RUNTIME_MOUNT`` (set ``PYTHONPATH`` to it), ``/proc`` of the new PID namespace, a minimal read-only
    ``/dev``, and ``/tmp`` a private tmpfs of ``tmpfs_bytes`` -- the only writable place.
    ``--die-with-parent`` and the PID namespace end every process of the submission when
    the grader ends the sandbox; ``--new-session`` detaches it from the grader's terminal.
    ``seccomp_fd`` (``seccomp.program_fd()``, passed on to bwrap) installs the system-call
    filter of ``seccomp.py`` before the command starts.
    """
    args = [
        "bwrap",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
    ]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    # the private /tmp first: a Python that lives under /tmp (a CI container's virtual
    # environment) is then mounted over it, read-only, instead of hidden beneath it
    args += ["--size", str(tmpfs_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
    args += _system_mounts()
    for root in _python_roots():
        args += ["--ro-bind", root, root]
    args += _masks(runtime)
    args += [
        "--ro-bind",
        runtime,
        RUNTIME_MOUNT,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
    ]
    return args


def bwrap_missing() -> bool:
    """Whether the one accepted reason not to isolate holds: no bubblewrap (or no Linux).
    Any other failure of ``isolation_status()`` is a fault to fix, not a skip."""
    return not sys.platform.startswith("linux") or shutil.which("bwrap") is None


def isolation_status() -> tuple[bool, str]:
    """``(True, "")`` if bubblewrap can isolate a submission here, else ``(False, why)``.

    Tried once per run by starting the sandbox's Python under the real command line.
    ``MINIDL_GRADE_NO_BWRAP=1`` forces the non-isolated mode (for tests and debugging).
    """
    global _status
    with _lock:
        if _status is not None:
            return _status
    if os.environ.get("MINIDL_GRADE_NO_BWRAP"):
        status = (False, "MINIDL_GRADE_NO_BWRAP is set")
    elif not sys.platform.startswith("linux"):
        status = (False, f"bubblewrap needs Linux (this is {sys.platform})")
    elif shutil.which("bwrap") is None:
        status = (False, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    else:
        status = _try_bwrap()
    with _lock:
        _status = status
    return status


def _try_bwrap() -> tuple[bool, str]:
    runtime = build_runtime()
    fd = seccomp.program_fd()
    command = bwrap_command(runtime, 16 * 2**20, {"PYTHONPATH": RUNTIME_MOUNT}, fd) + [
        sys.executable,
        "-s",
        "-c",
        "import numpy, minidl_grader.runtime.probes",
    ]
    try:
        run = subprocess.run(
            command, capture_output=True, text=True, timeout=60, pass_fds=() if fd is None else (fd,)
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bubblewrap could not start ({err})"
    finally:
        if fd is not None:
            os.close(fd)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no message"])[-1]
        return False, f"bubblewrap cannot run here ({last[:200]})"
    return True, ""


def unprivileged_user() -> int | None:
    """The uid to run a non-isolated submission as: 65534 when the grader is root and
    that user can run this Python; else ``None`` (it runs as the grader's own user)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    for path in [sys.executable, *_python_roots()]:
        if not _reachable_by_others(os.path.realpath(path)):
            return None
    return SANDBOX_UID


def _reachable_by_others(path: str) -> bool:
    """Whether every folder above ``path`` lets other users through (o+x)."""
    parts = Path(path).parents
    try:
        return all(os.stat(p).st_mode & stat.S_IXOTH for p in parts)
    except OSError:
        return False
