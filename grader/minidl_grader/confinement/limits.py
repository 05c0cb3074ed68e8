"""Cgroups per sandboxed process: bounds on a submission's processes, memory and CPU share.

``RLIMIT_NPROC`` (set in ``sandbox.py``) counts the processes of a *real* user id, and the
kernel exempts root: when the grader runs as root (Gradescope, containers) the
sandbox's processes are root's outside their user namespace, and a fork bomb is not
bounded. A pids cgroup bounds them whoever owns them::

    group = ProcessGroup.create(max_processes=64)      # None where no cgroup can be made
    command = group.wrap(command)   # /bin/sh joins the cgroup, then execs the command
    ...                             # every descendant is in it: fork fails with EAGAIN
    group.remove()                  # kills what is left, removes the cgroup

``usable_hierarchy()`` looks, once per run, for a pids hierarchy the grader may write:
cgroup v2 (``pids`` in the ``cgroup.subtree_control`` of the grader's own cgroup) first,
then v1 (a ``pids`` controller mount), and removes the empty cgroups of graders that
were killed before they could (``remove_stale``). The command joins from the child side
before it execs (``wrap``), so nothing it starts is ever outside the cgroup. A shell does
the joining rather than ``Popen(preexec_fn=...)``, which is unsafe in a program with
threads (the batch grades submissions in a thread pool).

Where the grader may also make **memory** and **cpu** cgroups (``usable_controllers``),
the same process joins one of each: ``memory.max`` (v2) / ``memory.limit_in_bytes`` (v1)
bounds everything its processes hold -- anonymous memory, its tmpfs files, ``memfd``
and shared memory, which the address-space limit does not count -- and a cpu cgroup per
submission shares the CPU between submissions, not between processes, so twelve busy
processes of one submission cannot starve another's timeouts. ``limit_status()`` says
which bounds hold in this run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ProcessGroup",
    "usable_hierarchy",
    "usable_controllers",
    "remove_stale",
    "process_limit_status",
    "limit_status",
    "DEFAULT_MAX_PROCESSES",
]

DEFAULT_MAX_PROCESSES = 64  # processes and threads of one sandboxed process, all told
# $1 is how many cgroup.procs files follow; the shell writes its own pid into each, then
# becomes the command
_JOIN_THEN_EXEC = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n - 1)); done; exec "$@"'
)

_lock = threading.Lock()
_hierarchy: tuple[str, int] | None | Literal[False] = False  # False: not looked for yet
_controllers: dict | None = None


@dataclass
class ProcessGroup:
    """One cgroup (a pids one, plus memory and cpu ones where they can be made), made for
    one sandboxed process and removed after it."""

    path: str
    version: int  # 1 or 2
    others: tuple[str, ...] = ()  # v1: the memory and cpu cgroups beside the pids one
    bounds: tuple[str, ...] = ()  # which controllers bound it: "pids", "memory", "cpu"

    @classmethod
    def create(
        cls, max_processes: int = DEFAULT_MAX_PROCESSES, memory: int | None = None
    ) -> ProcessGroup | None:
        """A fresh cgroup whose ``pids.max`` is ``max_processes`` (and memory bound to
        ``memory`` bytes, CPU shared, where those controllers are usable); None where no
        pids cgroup can be made."""
        found = usable_hierarchy()
        group = None if found is None else cls._make(*found, max_processes)
        if group is not None:
            group._add_controllers(memory)
        return group

    @classmethod
    def _make(cls, parent: str, version: int, max_processes: int) -> ProcessGroup | None:
        path = os.path.join(parent, f"minidl-grade-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.mkdir(path)
            _write(os.path.join(path, "pids.max"), str(max_processes))
        except OSError:
            _rmdir(path)
            return None
        return cls(path, version, bounds=("pids",))

    def _add_controllers(self, memory: int | None) -> None:
        others, bounds = list(self.others), list(self.bounds)
        for name, (parent, version) in usable_controllers().items():
            if name == "memory" and not memory:
                continue
            if version == 2 and version == self.version and parent == os.path.dirname(self.path):
                folder, made = self.path, False
            else:
                folder, made = os.path.join(parent, os.path.basename(self.path)), True
            try:
                if made:
                    os.mkdir(folder)
                _configure(folder, name, version, memory)
            except OSError:
                if made:
                    _rmdir(folder)
                continue
            if made:
                others.append(folder)
            bounds.append(name)
        self.others, self.bounds = tuple(others), tuple(bounds)

    def wrap(self, command: list[str]) -> list[str]:
        """``command``, started by a shell that first puts itself into these cgroups."""
        procs = [os.path.join(folder, "cgroup.procs") for folder in (self.path, *self.others)]
        return [_shell(), "-c", _JOIN_THEN_EXEC, "sh", str(len(procs)), *procs, *command]

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as procs:
                return [int(line) for line in procs if line.strip()]
        except OSError:
            return []

    def remove(self, wait: float = 10.0) -> bool:
        """SIGKILL every process left in the cgroup, then remove it. True if it is gone."""
        deadline = time.monotonic() + wait
        while True:
            self._kill_all()
            if _rmdir(self.path) or not os.path.isdir(self.path):
                for folder in self.others:  # empty once the pids cgroup is
                    _rmdir(folder)
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)  # killed processes stay counted until their parent reaps them

    def _kill_all(self) -> None:
        kill_file = os.path.join(self.path, "cgroup.kill")  # v2, Linux 5.14+
        if self.version == 2 and os.path.exists(kill_file):
            try:
                _write(kill_file, "1")
                return
            except OSError:
                pass
        for pid in self.pids():  # v1: one by one; pids.max bounds how many can appear
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def usable_hierarchy() -> tuple[str, int] | None:
    """``(folder, version)`` under which the grader can make pids cgroups, else None.

    Tried once per run: a cgroup is made there, a short-lived shell joins it and it is
    removed again. ``MINIDL_GRADE_NO_CGROUP=1`` says None (for tests and debugging).
    """
    global _hierarchy
    with _lock:
        if _hierarchy is False:
            _hierarchy = None if os.environ.get("MINIDL_GRADE_NO_CGROUP") else _find()
            if _hierarchy is not None:
                remove_stale(_hierarchy[0])
        return _hierarchy


def usable_controllers() -> dict[str, tuple[str, int]]:
    """``{"memory": (folder, version), "cpu": (folder, version)}`` for the controllers under
    which the grader can make cgroups (tried once per run, like ``usable_hierarchy``).
    ``MINIDL_GRADE_NO_CGROUP=1`` says none."""
    global _controllers
    with _lock:
        if _controllers is None:
            _controllers = {}
            if not os.environ.get("MINIDL_GRADE_NO_CGROUP"):
                for name in ("memory", "cpu"):
                    for parent, version in _candidates(name):
                        if _works(parent, version, name):
                            _controllers[name] = (parent, version)
                            remove_stale(parent)
                            break
        return dict(_controllers)


def _configure(folder: str, controller: str, version: int, memory: int | None) -> None:
    """Write a new cgroup's limit: memory bytes (no swap), or an equal CPU share."""
    if controller == "memory":
        if version == 2:
            _write(os.path.join(folder, "memory.max"), str(memory))
            if os.path.exists(os.path.join(folder, "memory.swap.max")):
                _write(os.path.join(folder, "memory.swap.max"), "0")
        else:
            _write(os.path.join(folder, "memory.limit_in_bytes"), str(memory))
            memsw = os.path.join(folder, "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):
                _write(memsw, str(memory))
    elif controller == "cpu":
        _write(
            os.path.join(folder, "cpu.weight" if version == 2 else "cpu.shares"),
            "100" if version == 2 else "1024",
        )


def limit_status(run_as: int | None = None, memory: int | None = None) -> str:
    """One line: which bounds on processes, memory and CPU hold for a submission."""
    parts = [process_limit_status(run_as)]
    in_cgroups = run_as is None and usable_hierarchy() is not None
    found = usable_controllers() if in_cgroups else {}
    if "memory" in found:
        size = f" of {memory / 2**30:g} GiB" if memory else ""
        parts.append(f"memory bounded by a memory cgroup{size} (memfd and tmpfs included)")
    else:
        parts.append(
            "memory bounded by the address-space limit only (no memory cgroup; "
            "memfd_create and shmget refused under bubblewrap)"
        )
    parts.append(
        "CPU shared per submission by a cpu cgroup"
        if "cpu" in found
        else "CPU shared per process (no cpu cgroup; the submission runs at nice 10)"
    )
    return "; ".join(parts)


def remove_stale(parent: str) -> list[str]:
    """Remove the empty cgroups left by graders that no longer run (killed before their
    cleanup). Returns the names removed. One that still holds processes is left alone:
    its grader may run in another PID namespace, where its pid means nothing here."""
    removed = []
    for name in os.listdir(parent):
        parts = name.split("-")
        if len(parts) != 4 or parts[:2] != ["minidl", "grade"] or not parts[2].isdigit():
            continue
        if _is_running(int(parts[2])):
            continue
        if _rmdir(os.path.join(parent, name)):
            removed.append(name)
    return removed


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def process_limit_status(run_as: int | None = None) -> str:
    """One line: what bounds the number of a submission's processes in this run.

    run_as : the uid its process is started as (None: the grader's own), as the runner does
        -- only a process of the grader's own user joins a cgroup.
    """
    uid = getattr(os, "getuid", lambda: -1)() if run_as is None else run_as
    if run_as is None and usable_hierarchy() is not None:
        return f"processes bounded by a pids cgroup ({DEFAULT_MAX_PROCESSES} per submission)"
    if uid == 0:
        return "processes NOT bounded (no writable pids cgroup; RLIMIT_NPROC spares root)"
    return "processes bounded only by RLIMIT_NPROC (no pids cgroup)"


def _find() -> tuple[str, int] | None:
    for parent, version in _candidates():
        if _works(parent, version):
            return parent, version
    return None


def _candidates(controller: str = "pids") -> list[tuple[str, int]]:
    """The grader's own cgroup in each mounted hierarchy of ``controller``, v2 first."""
    try:
        with open("/proc/self/mounts") as mounts:
            entries = [line.split() for line in mounts]
        with open("/proc/self/cgroup") as own:
            memberships = [line.rstrip("\n").split(":", 2) for line in own]
    except OSError:
        return []
    v2_path = next((path for hid, ctrls, path in memberships if hid == "0" and not ctrls), None)
    v1_path = next((path for hid, ctrls, path in memberships if controller in ctrls.split(",")), None)
    found = []
    for _, mountpoint, fstype, options, *_ in entries:
        if fstype == "cgroup2" and v2_path is not None:
            folder = os.path.join(mountpoint, v2_path.lstrip("/"))
            if controller in _read(os.path.join(folder, "cgroup.subtree_control")).split():
                found.append((folder, 2))
        elif fstype == "cgroup" and controller in options.split(",") and v1_path is not None:
            found.append((os.path.join(mountpoint, v1_path.lstrip("/")), 1))
    return sorted(found, key=lambda item: -item[1])


def _works(parent: str, version: int, controller: str = "pids") -> bool:
    if controller == "pids":
        group = ProcessGroup._make(parent, version, max_processes=8)
    else:
        path = os.path.join(parent, f"minidl-grade-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.mkdir(path)
            _configure(path, controller, version, 2**30)
        except OSError:
            _rmdir(path)
            return False
        group = ProcessGroup(path, version)
    if group is None:
        return False
    try:
        run = subprocess.run(
            group.wrap(["true"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10
        )
        return run.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        group.remove()


def _shell() -> str:
    return shutil.which("sh", path="/bin:/usr/bin") or "/bin/sh"


def _read(path: str) -> str:
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False
