"""The pids cgroup bounds a submission's processes, even when the grader is root."""

from __future__ import annotations

import errno
import os
import re
import subprocess
from pathlib import Path

import pytest
from minidl_grader.confinement import isolation, limits
from minidl_grader.runner import grade_notebook

from tests.grader.grading_answers import WN_BODY, WN_DEF, chapter3_with_cell

pytestmark = pytest.mark.sandbox  # grades in confined processes: make test, not make test-unit

MARKER = b"987.321"  # the sleep time of the submission's children, to find them

ISOLATED, WHY_NOT = isolation.isolation_status()
_HIERARCHY = limits.usable_hierarchy()
if _HIERARCHY is None:
    _SKIP = "no writable pids cgroup here (cgroup v2 with pids delegated, or v1 pids, as root)"
elif isolation.bwrap_missing() and os.getuid() == 0:
    _SKIP = (
        f"bubblewrap cannot run ({WHY_NOT}), so a root grader runs submissions as nobody, "
        "bounded by RLIMIT_NPROC instead of a cgroup"
    )
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

def weight_norm_backward(dy, x, v, g):
    raise ValueError(f"started {{started}}, failed {{len(failures)}} with errno {{set(failures)}}")
"""


def _submission(tmp_path: Path, answer: str) -> Path:
    """Chapter 3's solutions with ``answer`` in weight_norm_backward's cell."""
    return chapter3_with_cell(tmp_path / "03_backpropagation.ipynb", "weight_norm_backward", answer)


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
    bomb = next(r for r in result.results if r.name == "weight_norm_backward")
    others = [r for r in result.results if r.name != "weight_norm_backward"]
    counts = re.search(r"started (\d+), failed (\d+) with errno \{(\d+)\}", bomb.message)
    assert bomb.score == 0 and counts, bomb.message
    started, failed, error = (int(n) for n in counts.groups())
    assert 0 < started < limits.DEFAULT_MAX_PROCESSES, bomb.message
    assert started + failed == 200
    assert error == errno.EAGAIN  # fork said: try again
    assert others and all(r.passed for r in others), others  # the row is graded
    assert _processes_with_marker() == []  # every child was killed
    assert _our_cgroups() == []  # and its cgroup removed


@needs_cgroup
def test_a_process_group_bounds_its_descendants_and_removes_them():
    group = limits.ProcessGroup.create(max_processes=4)
    assert group is not None
    script = f"for i in 1 2 3 4 5 6; do sleep {MARKER.decode()} & done; wait"
    run = subprocess.Popen(group.wrap(["sh", "-c", script]), stderr=subprocess.PIPE)
    try:
        message = run.stderr.readline()  # the shell reports the fork that failed
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
    finished.wait()  # a pid that no longer runs
    stale = os.path.join(parent, f"minidl-grade-{finished.pid}-0000")
    live = os.path.join(parent, f"minidl-grade-{os.getpid()}-0000")  # a running grader's
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
    as_nobody = limits.process_limit_status(isolation.SANDBOX_UID)  # never in a cgroup
    assert "only by RLIMIT_NPROC" in as_nobody


# ------------------------------------------------------------------ the grader's own limits (issue 27)
def test_a_reply_of_nested_lists_is_refused_before_it_is_parsed():
    import tracemalloc

    from minidl_grader.runtime import codec

    body = b"[" + b"[]," * (2**20 // 3) + b"[]]"
    bomb = bytearray(codec.MAGIC + codec._LENGTH.pack(len(body)) + body)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more than"):
            codec.loads(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < len(bomb)  # not even one copy


def test_decoding_an_array_reply_holds_it_about_twice():
    import tracemalloc

    import numpy as np
    from minidl_grader.runtime import codec

    raw = bytearray(codec.dumps({"out": np.ones((512, 256)), "n": (1, [2.0])}))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        value = codec.loads(raw)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert value["out"].shape == (512, 256) and value["n"] == (1, [2.0])
    assert peak < 1.5 * len(raw)  # + the reply itself: < 4x in all


def test_magics_are_transformed_in_the_sandbox_not_in_the_grader(tmp_path, monkeypatch):
    """IPython's input transformation of a cell of magic lines runs in the submission's
    process, under its time limits: the grader never calls it."""
    inputtransformer2 = pytest.importorskip("IPython.core.inputtransformer2")
    calls = []
    real = inputtransformer2.TransformerManager.transform_cell
    monkeypatch.setattr(
        inputtransformer2.TransformerManager,
        "transform_cell",
        lambda self, cell: calls.append(cell) or real(self, cell),
    )
    magic = "%time 1\n" * 20 + WN_DEF + WN_BODY
    result = grade_notebook(_submission(tmp_path, magic), timeout=30, seed=1)
    assert calls == []
    assert result.score == result.max_score, [(r.name, r.message) for r in result.results]


def test_a_magic_bomb_costs_the_submissions_budget(tmp_path):
    """A cell IPython takes long to transform runs out of the submission's time (here a
    budget of 4 s), and the row is still written."""
    bomb = "%a\n" * 60_000 + WN_DEF + "    return None\n"
    result = grade_notebook(_submission(tmp_path, bomb), timeout=2, budget=4, seed=1)
    answer = next(r for r in result.results if r.name == "weight_norm_backward")
    assert answer.score == 0 and result.error is None


def test_the_seccomp_filter_refuses_memfd_and_shared_memory():
    from minidl_grader.confinement import seccomp

    names = {name for name, *_ in seccomp.REFUSED}
    assert {"memfd_create", "shmget"} <= names


@pytest.mark.skipif(
    "memory" not in limits.usable_controllers() or _HIERARCHY is None, reason="no writable memory cgroup here"
)
def test_a_memory_cgroup_bounds_memfd(tmp_path):
    """64 MiB held in a memfd (which no address-space limit counts) by a process of a
    group bounded to 32 MiB: it is killed, or its write fails."""
    group = limits.ProcessGroup.create(max_processes=8, memory=32 * 2**20)
    assert group is not None and "memory" in group.bounds
    script = (
        "import os\nfd = os.memfd_create('x')\nblock = b'x' * 2**20\n"
        "for _ in range(64):\n    os.write(fd, block)\nprint('held 64 MiB')\n"
    )
    try:
        run = subprocess.run(group.wrap([os.sys.executable, "-c", script]), capture_output=True, timeout=60)
    finally:
        assert group.remove()
    assert b"held 64 MiB" not in run.stdout and run.returncode != 0, run


@pytest.mark.skipif(
    "cpu" not in limits.usable_controllers() or _HIERARCHY is None, reason="no writable cpu cgroup here"
)
def test_each_sandboxed_process_gets_its_own_cpu_cgroup():
    first, second = limits.ProcessGroup.create(), limits.ProcessGroup.create()
    try:
        seen = []
        for group in (first, second):
            run = subprocess.run(
                group.wrap(["cat", "/proc/self/cgroup"]),
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            line = next(
                l
                for l in run.stdout.splitlines()
                if re.search(r":(cpu|cpu,cpuacct|cpuacct,cpu)?:", l) and "cpu" in l or l.startswith("0::")
            )
            seen.append(line)
        assert "cpu" in first.bounds and seen[0] != seen[1] and "minidl-grade" in seen[0]
    finally:
        first.remove()
        second.remove()


def test_the_summary_says_which_bounds_hold():
    line = limits.limit_status(None, 2**30)
    assert "processes" in line and "memory" in line and "CPU" in line


@pytest.mark.skipif(isolation.bwrap_missing(), reason="bubblewrap (bwrap) is not installed")
def test_memfd_is_refused_in_the_sandbox(tmp_path):
    """Under bubblewrap a memfd (memory no address-space limit counts) cannot be made."""
    hold = "import os\n" + WN_DEF + "    fd = os.memfd_create('hold')\n" + WN_BODY
    result = grade_notebook(_submission(tmp_path, hold), timeout=30, seed=1)
    answer = next(r for r in result.results if r.name == "weight_norm_backward")
    assert result.isolated and answer.score == 0
    assert "PermissionError" in answer.message or "not permitted" in answer.message, answer.message
