"""A pids cgroup per sandboxed process: a bound on the processes a submission may start.

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

__all__ = ["ProcessGroup", "usable_hierarchy", "remove_stale", "process_limit_status",
           "DEFAULT_MAX_PROCESSES"]

DEFAULT_MAX_PROCESSES = 64          # processes and threads of one sandboxed process, all told
# $1 is the cgroup's cgroup.procs; the shell writes its own pid there, then becomes the command
_JOIN_THEN_EXEC = 'echo $$ > "$1" || exit 125; shift; exec "$@"'

_lock = threading.Lock()
_hierarchy: tuple[str, int] | None | bool = False     # False: not looked for yet


@dataclass
class ProcessGroup:
    """One cgroup, made for one sandboxed process and removed after it."""

    path: str
    version: int                   # 1 or 2

    @classmethod
    def create(cls, max_processes: int = DEFAULT_MAX_PROCESSES) -> "ProcessGroup | None":
        """A fresh cgroup whose ``pids.max`` is ``max_processes``; None where none can be made."""
        found = usable_hierarchy()
        return None if found is None else cls._make(*found, max_processes)

    @classmethod
    def _make(cls, parent: str, version: int, max_processes: int) -> "ProcessGroup | None":
        path = os.path.join(parent, f"minidl-grade-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.mkdir(path)
            _write(os.path.join(path, "pids.max"), str(max_processes))
        except OSError:
            _rmdir(path)
            return None
        return cls(path, version)

    def wrap(self, command: list[str]) -> list[str]:
        """``command``, started by a shell that first puts itself into this cgroup."""
        return [_shell(), "-c", _JOIN_THEN_EXEC, "sh", os.path.join(self.path, "cgroup.procs"),
                *command]

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
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)     # killed processes stay counted until their parent reaps them

    def _kill_all(self) -> None:
        kill_file = os.path.join(self.path, "cgroup.kill")         # v2, Linux 5.14+
        if self.version == 2 and os.path.exists(kill_file):
            try:
                _write(kill_file, "1")
                return
            except OSError:
                pass
        for pid in self.pids():     # v1: one by one; pids.max bounds how many can appear
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


def _candidates() -> list[tuple[str, int]]:
    """The grader's own cgroup in each mounted pids hierarchy, v2 first."""
    try:
        with open("/proc/self/mounts") as mounts:
            entries = [line.split() for line in mounts]
        with open("/proc/self/cgroup") as own:
            memberships = [line.rstrip("\n").split(":", 2) for line in own]
    except OSError:
        return []
    v2_path = next((path for hid, ctrls, path in memberships if hid == "0" and not ctrls), None)
    v1_path = next((path for hid, ctrls, path in memberships if "pids" in ctrls.split(",")), None)
    found = []
    for _, mountpoint, fstype, options, *_ in entries:
        if fstype == "cgroup2" and v2_path is not None:
            folder = os.path.join(mountpoint, v2_path.lstrip("/"))
            if "pids" in _read(os.path.join(folder, "cgroup.subtree_control")).split():
                found.append((folder, 2))
        elif fstype == "cgroup" and "pids" in options.split(",") and v1_path is not None:
            found.append((os.path.join(mountpoint, v1_path.lstrip("/")), 1))
    return sorted(found, key=lambda item: -item[1])


def _works(parent: str, version: int) -> bool:
    group = ProcessGroup._make(parent, version, max_processes=8)
    if group is None:
        return False
    try:
        run = subprocess.run(group.wrap(["true"]), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, timeout=10)
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
