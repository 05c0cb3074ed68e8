"""The grader's temporary folders, and those a killed grader left behind.

A grading run makes its folders in the temporary directory: the stripped runtime
(``minidl-runtime-PID-*``), a copy of it per set of forbidden names
(``minidl-runtime-forbids-PID-*``) and, outside bubblewrap, a submission's working folder
(``minidl-grade-PID-*``). It removes them when it ends -- but a grader killed by a signal
(a submission that kills its parent, the kernel's OOM killer, ``kill -9``) runs no cleanup,
and about 10 MB stay behind each time.

So each folder is **locked** while its grader lives: ``make`` holds a shared ``flock`` on
the folder itself, on a descriptor kept open (and not inherited by children). The kernel
drops the lock when the process dies, however it dies. ``remove_stale`` -- run by the next
grader as it builds its runtime -- removes the folders of this user whose lock it can take:
their grader is gone. A lock works across PID namespaces (a grader in another container
sharing this ``/tmp`` keeps its folders); a folder younger than a minute is left alone
(made, not yet locked).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so nothing is ever judged stale
    fcntl = None  # type: ignore[assignment]

__all__ = ["make", "release", "remove_stale", "remove_tree", "PREFIXES"]

PREFIXES = ("minidl-runtime-", "minidl-grade-")  # ``minidl-runtime-forbids-`` starts as the first
_held: dict[str, int] = {}  # folder -> the descriptor that holds its lock


def make(prefix: str) -> str:
    """A fresh folder ``TMPDIR/PREFIXPID-XXXXXXXX`` (``minidl-grade-4242-k3j9x_2a``: the prefix ends
    in "-"), locked while this process lives."""
    path = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")
    if fcntl is not None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)  # not inheritable (PEP 446)
        fcntl.flock(fd, fcntl.LOCK_SH)
        _held[path] = fd
    return path


def release(path: str) -> None:
    """Remove a folder ``make`` made, and let go of its lock."""
    remove_tree(path)
    fd = _held.pop(path, None)
    if fd is not None:
        os.close(fd)


def remove_stale(
    parent: str | None = None, owners: set[int] | None = None, older_than: float = 60.0
) -> list[str]:
    """Remove the folders in ``parent`` (the temporary directory) that a grader made and no
    live process holds; returns their names. ``owners``: the uids whose folders may go (this
    user's; a root grader's working folders belong to the user it runs submissions as);
    ``older_than``: seconds a folder must have existed (one just made may not be locked yet)."""
    parent, owners = parent or tempfile.gettempdir(), owners or {os.getuid()}
    if fcntl is None:
        return []
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    for name in sorted(names):
        if not name.startswith(PREFIXES):
            continue
        path = os.path.join(parent, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in owners:
            continue  # a link, or another user's: never followed, never removed
        if time.time() - info.st_mtime < older_than or not _unheld(path):
            continue
        remove_tree(path)
        if not os.path.lexists(path):
            removed.append(name)
    return removed


def _unheld(path: str) -> bool:
    """True when no process holds ``path``'s lock (its grader is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops the lock taken, if any


def remove_tree(path: str) -> None:
    """``rm -rf path``, even for a tree deeper than Python's recursion limit."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:
        pass
    if os.path.exists(path):
        subprocess.run(
            ["rm", "-rf", "--one-file-system", "--", path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
