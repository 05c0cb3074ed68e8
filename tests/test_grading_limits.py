"""The pids cgroup bounds a submission's processes, even when the grader is root."""
from __future__ import annotations

import errno
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from minidl.grading import isolation, limits, notebook
from minidl.grading.runner import grade_notebook

ROOT = Path(__file__).resolve().parents[1]
CHAPTER3 = ROOT / "solutions" / "03_backpropagation.ipynb"
MARKER = b"987.321"            # the sleep time of the submission's children, to find them

ISOLATED, WHY_NOT = isolation.isolation_status()
_HIERARCHY = limits.usable_hierarchy()
if _HIERARCHY is None:
    _SKIP = "no writable pids cgroup here (cgroup v2 with pids delegated, or v1 pids, as root)"
elif isolation.bwrap_missing() and os.getuid() == 0:
    _SKIP = f"bubblewrap cannot run ({WHY_NOT}), so a root grader runs submissions as nobody, " \
            "bounded by RLIMIT_NPROC instead of a cgroup"
else:
    _SKIP = None
needs_cgroup = pytest.mark.skipif(_SKIP is not None, reason=str(_SKIP))

# forks 200 children (through libc: the audit hook refuses os.fork), each exec'ing a long
# sleep; counts those that started and the errno of those that did not
FORK_BOMB = f"""\
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
started, failures = 0, []
for _ in range(200):
    pid = libc.fork()
    if pid == 0:
        libc.execl(b"/bin/sleep", b"sleep", b"{MARKER.decode()}", None)
        libc._exit(0)
    if pid > 0:
        started += 1
    else:
        failures.append(ctypes.get_errno())

def dense_backward(dy, x, W):
    raise ValueError(f"started {{started}}, failed {{len(failures)}} with errno {{set(failures)}}")
"""


def _submission(tmp_path: Path, dense: str) -> Path:
    nb = notebook.read_notebook(CHAPTER3)
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "dense_backward":
            cell["source"] = dense
    path = tmp_path / "03_backpropagation.ipynb"
    path.write_text(json.dumps(nb))
    return path


def _processes_with_marker() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if MARKER in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def _our_cgroups() -> list[str]:
    parent, _ = _HIERARCHY
    return [name for name in os.listdir(parent) if name.startswith(f"minidl-grade-{os.getpid()}-")]


@needs_cgroup
def test_a_fork_bomb_stops_at_the_pids_limit_and_nothing_survives(tmp_path):
    result = grade_notebook(_submission(tmp_path, FORK_BOMB), timeout=20, seed=3)
    assert result.error is None
    dense = next(r for r in result.results if r.name == "dense_backward")
    others = [r for r in result.results if r.name != "dense_backward"]
    counts = re.search(r"started (\d+), failed (\d+) with errno \{(\d+)\}", dense.message)
    assert dense.score == 0 and counts, dense.message
    started, failed, error = (int(n) for n in counts.groups())
    assert 0 < started < limits.DEFAULT_MAX_PROCESSES, dense.message
    assert started + failed == 200
    assert error == errno.EAGAIN                                   # fork said: try again
    assert others and all(r.passed for r in others), others        # the row is graded
    assert _processes_with_marker() == []                          # every child was killed
    assert _our_cgroups() == []                                    # and its cgroup removed


@needs_cgroup
def test_a_process_group_bounds_its_descendants_and_removes_them():
    group = limits.ProcessGroup.create(max_processes=4)
    assert group is not None
    script = f"for i in 1 2 3 4 5 6; do sleep {MARKER.decode()} & done; wait"
    run = subprocess.Popen(group.wrap(["sh", "-c", script]), stderr=subprocess.PIPE)
    try:
        message = run.stderr.readline()           # the shell reports the fork that failed
        assert b"fork" in message.lower(), message
        assert 1 <= len(group.pids()) <= 4
    finally:
        assert group.remove()
        run.wait(timeout=10)
    assert _processes_with_marker() == []
    assert not os.path.exists(group.path)


@needs_cgroup
def test_the_cgroups_of_a_killed_grader_are_removed_by_the_next_one():
    parent, _ = _HIERARCHY
    finished = subprocess.Popen(["true"])
    finished.wait()                                          # a pid that no longer runs
    stale = os.path.join(parent, f"minidl-grade-{finished.pid}-0000")
    live = os.path.join(parent, f"minidl-grade-{os.getpid()}-0000")    # a running grader's
    os.mkdir(live)
    try:
        os.mkdir(stale)
        removed = limits.remove_stale(parent)
        assert os.path.basename(stale) in removed and not os.path.exists(stale)
        assert os.path.isdir(live)
    finally:
        for path in (stale, live):
            if os.path.isdir(path):
                os.rmdir(path)


def test_the_summary_says_which_bound_on_processes_holds():
    own = limits.process_limit_status()
    if _HIERARCHY is not None:
        assert "pids cgroup" in own and "NOT" not in own
    elif os.getuid() == 0:
        assert "NOT bounded" in own
    else:
        assert "RLIMIT_NPROC" in own
    as_nobody = limits.process_limit_status(isolation.SANDBOX_UID)    # never in a cgroup
    assert "only by RLIMIT_NPROC" in as_nobody
