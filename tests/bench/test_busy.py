"""The busy pause between turns: every CPU busy while it lasts, no spinner left running after it.

No timing of the contenders is asserted; these tests read the spinners' CPU time and state from
``/proc`` (Linux), which is what the pause promises: the CPUs busy, then free for the turn.
"""

import os
import sys
import time

import pytest

from bench.busy import BusyPause

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "sched_getaffinity"),
    reason="the spinners are pinned to CPUs and read from /proc (Linux)",
)
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/PID/stat``, fields 14 and 15)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))[:2]


def test_a_busy_pause_keeps_each_cpu_busy_then_parks_its_spinner():
    cpus = usable_cpus()
    with BusyPause(cpus) as pause:
        assert pause.busy and len(pause.spinners) == len(cpus)
        for spinner, cpu in zip(pause.spinners, cpus):
            assert os.sched_getaffinity(spinner.pid) == {cpu}  # one spinner pinned to each CPU
        pause.pause(0.01)  # the spinners have started (their Python is up)
        before = [cpu_seconds(s.pid) for s in pause.spinners]
        started = time.perf_counter()
        pause.pause(0.5)
        assert time.perf_counter() - started >= 0.5
        spun = [cpu_seconds(s.pid) - b for s, b in zip(pause.spinners, before)]
        # each spinner used its CPU through the pause: a parked one uses none; a quarter at least,
        # since under `make test` other tests' workers share the CPUs with it
        assert all(seconds >= 0.125 for seconds in spun), spun
        # parked: back from ``pause``, no spinner uses any CPU while a turn would run
        parked = [cpu_seconds(s.pid) for s in pause.spinners]
        time.sleep(0.3)
        assert [cpu_seconds(s.pid) for s in pause.spinners] == pytest.approx(parked, abs=1.5 / TICKS)
        spinners = pause.spinners
    assert all(s.poll() == 0 for s in spinners) and not pause.spinners  # closed: the processes ended


def test_an_idle_pause_sleeps_with_no_spinner():
    pause = BusyPause([])
    assert not pause.busy and pause.spinners == []
    started = time.perf_counter()
    pause.pause(0.05)
    assert time.perf_counter() - started >= 0.05
    pause.close()


def test_a_spinner_that_died_is_an_error_not_a_hang():
    with BusyPause(usable_cpus()[:1]) as pause:
        pause.spinners[0].kill()
        pause.spinners[0].wait()
        with pytest.raises((RuntimeError, BrokenPipeError), match="spinner|Broken pipe"):
            pause.pause(0.01)
