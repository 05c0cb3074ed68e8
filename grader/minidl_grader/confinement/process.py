"""The submission's process: started under every limit, spoken to through two pipes.

``Sandbox(limits, preload)`` starts ``runtime/sandbox.py`` in a fresh process -- under
bubblewrap and the seccomp filter where it can (``isolation.py``), in its own pids,
memory and cpu cgroups where they can be made (``limits.py``), else as ``nobody`` when
the grader is root -- from the stripped runtime that holds no reference.
``request(message, timeout)`` sends one pickled request and reads one reply (the
``codec`` format, never pickle) within the deadline; a reply too large, malformed or out
of turn raises ``_ChildDied`` (the caller restarts the process), a late one
``_TimedOut``. ``close()`` kills whatever the process left and removes its cgroups and
its folder. Replaying cells after a restart is the runner's business (``runner.py``).
"""

from __future__ import annotations

import math
import os
import pickle
import secrets
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from ..runtime import codec
from ..runtime.sandbox import _HEADER
from . import folders, isolation, seccomp
from .limits import ProcessGroup

__all__ = ["Sandbox", "Limits", "DEFAULT_MEMORY", "DEFAULT_TMPFS"]

DEFAULT_MEMORY = 4 * 2**30  # address space of the submission's process, bytes
DEFAULT_TMPFS = 256 * 2**20  # size of its private /tmp under bubblewrap, bytes


class _ChildDied(Exception):
    """The process ended, or broke the protocol (then it is killed and restarted too)."""

    def __init__(self, reason: str = ""):
        super().__init__(reason)
        self.reason = reason


class _TimedOut(Exception):
    pass


@dataclass
class Limits:
    """What one submission may use."""

    timeout: float = 60.0  # seconds per cell and per test call
    memory: int = DEFAULT_MEMORY  # address space, bytes
    budget: float = 600.0  # seconds for the whole submission
    tmpfs: int = DEFAULT_TMPFS
    isolate: bool = True  # use bubblewrap if it works here
    forbid: tuple[str, ...] = ()  # modules / names an answer may not use (--forbid)


def _hide_grader_process() -> None:
    """Make the grader non-dumpable (Linux): a process of the same user can then neither
    read its ``/proc/PID/environ``, ``mem`` or ``fd`` nor ptrace it. Matters only when a
    submission runs as the grader's own user, outside bubblewrap."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
        except (OSError, AttributeError):
            pass


def _ready(fd: int, event: int, seconds: float) -> bool:
    """Whether ``fd`` is ready for ``event`` (``select.POLLIN``/``POLLOUT``; a hang-up or an
    error counts: the read or write then says what happened) within ``seconds``.

    ``poll``, not ``select``: ``select`` refuses an fd numbered 1024 or more (FD_SETSIZE,
    "filedescriptor out of range"), and a sandbox started by one grading thread while another
    holds many fds gets pipes numbered that high -- ``shutil.rmtree`` of a submission's
    1,500-level folder holds one fd per level. Its first request then failed as if its
    process had died ("the process stopped answering"), and the notebook lost its setup cell.
    """
    poller = select.poll()
    poller.register(fd, event)
    return bool(poller.poll(math.ceil(seconds * 1000)))


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


class Sandbox:
    """One process running a submission's code; talks through two pipes."""

    def __init__(
        self, limits: Limits, preload: list[str], left_out: tuple[str, ...] = (), allow: tuple[str, ...] = ()
    ):
        """``left_out``: what this process's minidl holds only as stand-ins that raise
        (``isolation.build_runtime(left_out, allow)``)."""
        runtime = isolation.build_runtime(left_out, allow)
        self.isolated = limits.isolate and isolation.isolation_status()[0]
        user = None if self.isolated else isolation.unprivileged_user()
        if self.isolated:
            self.workdir, host_workdir = "/tmp", None
        else:
            _hide_grader_process()
            self.workdir = host_workdir = folders.make("minidl-grade-")
            if user is not None:
                os.chown(host_workdir, user, user)
        self._host_workdir = host_workdir
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        os.set_blocking(self._to_child, False)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": self.workdir,
            "TMPDIR": self.workdir,
            "PYTHONPATH": runtime,
            "LANG": "C.UTF-8",
            "NUMBA_CACHE_DIR": self.workdir,
            "MINIDL_CACHE_DIR": self.workdir,
            "MPLCONFIGDIR": self.workdir,
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NUMBA_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "MINIDL_BACKEND": os.environ.get("MINIDL_BACKEND", "numpy"),
        }
        outer_uid = user if user is not None else os.getuid()
        nproc = _processes_of(outer_uid) + 64
        command = [
            sys.executable,
            "-s",
            "-m",
            "minidl_grader.runtime.sandbox",
            str(to_child_r),
            str(from_child_w),
            self.workdir,
            str(limits.memory),
            str(int(limits.budget) + 1),
            str(nproc),
            ",".join(preload),
            ",".join(limits.forbid),
        ]
        filter_fd = None
        if self.isolated:
            env["PYTHONPATH"] = isolation.RUNTIME_MOUNT
            filter_fd = seccomp.program_fd()
            command = isolation.bwrap_command(runtime, limits.tmpfs, env, filter_fd) + command
        # a pids cgroup (and memory and cpu ones) where one can be made; a process run as
        # `nobody` is bounded by RLIMIT_NPROC instead (its real uid is not root), and could
        # not join a root-owned one. Without a cpu cgroup it runs at nice 10.
        self._group = ProcessGroup.create(memory=limits.memory) if user is None else None
        shared = self._group is not None and "cpu" in self._group.bounds
        command.append("0" if shared else "10")
        if self._group is not None:
            command = self._group.wrap(command)
        try:
            self.process = subprocess.Popen(
                command,
                pass_fds=(to_child_r, from_child_w) + (() if filter_fd is None else (filter_fd,)),
                env=env,
                cwd=self.workdir if not self.isolated else "/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                user=user,  # None: this process's own (the defaults of all three)
                group=user,
                extra_groups=[] if user is not None else None,
            )
        except BaseException:
            if self._group is not None:
                self._group.remove()
            raise
        finally:
            if filter_fd is not None:
                os.close(filter_fd)
        os.close(to_child_r)
        os.close(from_child_w)

    def request(self, message: tuple, timeout: float) -> dict:
        """Send one request and wait at most ``timeout`` seconds (in all) for its reply."""
        deadline = time.monotonic() + timeout
        request_id = secrets.token_hex(8)
        payload = pickle.dumps((request_id, *message))
        self._write(_HEADER.pack(len(payload)) + payload, deadline)
        header = self._read(_HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        if size > codec.MAX_BYTES:
            raise _ChildDied(f"the result is too large ({size} bytes)")
        try:
            reply = codec.loads(self._read(size, deadline))
        except (ValueError, RecursionError) as err:
            raise _ChildDied(f"the process sent a malformed reply ({str(err)[:200]})") from None
        if (
            not isinstance(reply, dict)
            or reply.get("status") not in ("ok", "error", "missing")
            or not isinstance(reply.get("message", ""), str)
        ):
            raise _ChildDied("the process sent a malformed reply")
        if reply.get("id") != request_id:
            raise _ChildDied("the process sent a reply out of turn (a forged reply?)")
        return reply

    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut()
            try:
                ready = _ready(self._to_child, select.POLLOUT, left)
            except (OSError, ValueError):
                raise _ChildDied() from None
            if not ready:
                raise _TimedOut()
            try:
                view = view[os.write(self._to_child, view[: 1 << 16]) :]
            except BlockingIOError:
                continue
            except OSError:
                raise _ChildDied() from None

    def _read(self, n: int, deadline: float) -> bytearray:
        """``n`` bytes into one buffer (no list of chunks joined: one copy of the reply)."""
        buffer = bytearray(n)
        view, done = memoryview(buffer), 0
        while done < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut()
            if not _ready(self._from_child, select.POLLIN, left):
                raise _TimedOut()
            got = os.readv(self._from_child, [view[done : done + (1 << 20)]])
            if not got:
                raise _ChildDied()
            done += got
        view.release()
        return buffer

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
        if self.isolated and code > 128 and code - 128 in signal.Signals._value2member_map_:
            return f"the process was killed by signal {signal.Signals(code - 128).name}"
        return f"the process exited with code {code}"

    def close(self) -> None:
        """Kill the process, remove its cgroup and folder, close the pipes: once. A second call
        does nothing -- closing the pipes' fd numbers again could close another sandbox's pipes
        that reuse them, from a thread grading beside this one (``--jobs``)."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if self._group is not None:
            self._group.remove()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._host_workdir:
            folders.release(self._host_workdir)
