"""A CPU hog does not starve its neighbour (issue 27): each submission gets its own cpu cgroup.

Two notebooks are graded in one isolated batch with ``--jobs 2`` and a budget of 6 s each:
chapter 3's solutions with a setup cell of honest work (``WORK``; about 1 s in all alone), and
a hog whose ``weight_norm_backward`` cell starts twelve busy processes that spin until the hog's
budget ends them (its parent waits for them without using the CPU). The CPU is shared per
submission, so the honest notebook keeps the share it needs to finish within its budget,
and full marks; the hog's row exists, whatever it scores. The test takes about 7 s.

Shared per process instead, the honest notebook's one process competes with thirteen on a
machine of two cores and runs out of its budget: with the cpu cgroup off *and* each sandbox
kept in the grader's session (no ``setsid``, no ``bwrap --new-session``), it scored 0/9 where
it scores 9/9 with the cgroup (measured when this test was written). Only the cgroup off is
not enough to make it fail on a kernel with ``sched_autogroup_enabled``: the kernel then
also shares the CPU per session, and each sandbox is a session of its own. On a machine with
many more cores than the hog's twelve processes nothing is starved, and the test checks only
that the batch completes with full marks.
"""

from pathlib import Path

import pytest
from minidl_grader.confinement import isolation, limits
from minidl_grader.judge import registry

from tests.grader.grading_answers import grade_batch

pytestmark = pytest.mark.sandbox  # grades in confined processes: make test, not make test-unit

SPIN = 30  # seconds each of the hog's processes would spin: its budget ends it first
TIMEOUT, BUDGET = "6", "6"  # seconds per cell or test call, and for a whole submission
# the honest notebook's own work before its answers: about 0.7 s of one core, so that it needs
# about 1 s alone and cannot finish within its budget on 2/14 of two cores (but can on 1/3)
WORK = "work = sum(i % 7 for i in range(10_000_000))\n"
HOG = f"""\
import ctypes, time
libc = ctypes.CDLL(None)
end = time.monotonic() + {SPIN}
children = []
for _ in range(12):
    pid = libc.fork()
    if pid == 0:
        while time.monotonic() < end:
            pass
        libc._exit(0)
    children.append(pid)
for pid in children:
    libc.waitpid(pid, None, 0)

def weight_norm_backward(dy, x, v, g):
    n = (v * v).sum(axis=0) ** 0.5
    dg = (x.T @ dy * v / n).sum(axis=0)
    return dy @ (g * v / n).T, g * (x.T @ dy - dg * v / n) / n, dg, dy.sum(axis=0)
"""
CH3_POINTS = sum(e.points for e in registry.for_chapter("03_backpropagation"))

_, WHY_NOT = isolation.isolation_status()
_CPU_SHARED = limits.usable_hierarchy() is not None and "cpu" in limits.usable_controllers()
# a missing bwrap skips; so does a grader that cannot make cpu cgroups, where the README's
# "Limits of the sandbox" says the CPU is shared per process (nice 10), not per submission
needs_cpu_share = pytest.mark.skipif(
    isolation.bwrap_missing() or not _CPU_SHARED,
    reason=(
        f"bubblewrap cannot isolate here: {WHY_NOT}"
        if isolation.bwrap_missing()
        else "no writable cpu cgroup here: the CPU is shared per process (nice 10), "
        "as README's 'Limits of the sandbox' says"
    ),
)


def _grade_beside_a_hog(tmp_path: Path, chapter3) -> tuple[dict, dict]:
    folder = tmp_path / "batch"
    folder.mkdir()
    honest = chapter3(extra_cell=WORK)
    hog = chapter3("weight_norm_backward", HOG)
    (folder / "honest.ipynb").write_bytes(honest.read_bytes())
    (folder / "hog.ipynb").write_bytes(hog.read_bytes())
    rows = grade_batch(folder, "--seed", "5", "--timeout", TIMEOUT, "--budget", BUDGET, "--require-isolation")
    assert set(rows) == {"honest.ipynb", "hog.ipynb"}, rows  # the batch completes
    return rows["honest.ipynb"], rows["hog.ipynb"]


@needs_cpu_share
def test_an_honest_neighbour_keeps_full_marks_beside_a_cpu_hog(tmp_path, chapter3):
    honest, hog = _grade_beside_a_hog(tmp_path, chapter3)
    lost = [(t["name"], t["output"]) for t in honest["tests"] if t["score"] < t["max_score"]]
    assert honest["score"] == CH3_POINTS and not lost, (honest["output"], lost)
    assert hog["tests"]  # graded, whatever it scored
