"""The pause between contenders' turns, with every CPU kept busy (``BusyPause``).

Before each turn the runner pauses (``runner.SETTLE_SECONDS``) so that the previous contender's
idle threads -- OpenBLAS's, PyTorch's OpenMP threads -- stop spinning and go to sleep. Asleep,
with nothing else to run, the CPUs idle too, and on the 2-core Zen 4 VM of docs/performance.md
(section 34) a CPU that idles most of the time runs the next turn slowly: a 2x2 max-pool step on
two threads took 0.49 ms instead of 0.32 (medians of 60 turns of 20 ms, each after a 0.15 s idle
pause), its one-thread step 0.92 instead of 0.61; the same steps back to back, as a training loop
runs them, never slowed down. A two-thread turn is slow when either of its CPUs is, so the idle
pause taxed short two-thread steps the most: it measured what the VM does with idle CPUs (its
host's business, not visible inside), not the step.

``BusyPause`` keeps the CPUs busy instead: one spinner process pinned to each CPU spins for the
pause and is parked before the turn starts (it acknowledges, then blocks reading its pipe), so no
contender ever runs beside a spinner. The spinners run at the same priority as everyone else: a
contender's thread still spinning from its turn shares its CPU with one and falls asleep on its own
clock as before (OpenBLAS's timeout counts cycles of the time-stamp counter, libgomp's a number of
spins). ``python -m bench --idle-pause`` sleeps through the pause instead, as before section 34.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

# A spinner (pinned to one CPU by its parent): the byte "s" on its stdin starts a spin that lasts
# until the next byte arrives ("p": it answers "p", parked, and blocks reading the next command; end
# of input: it exits). Unbuffered single bytes, so no command waits in a buffer that ``select``
# cannot see; it polls its pipe with ``select`` (a system call each time round: the CPU stays busy).
SPINNER = """
import os, select
while True:
    command = os.read(0, 1)
    if not command:
        break
    if command == b"s":
        while not select.select([0], [], [], 0)[0]:
            pass
        os.read(0, 1)
        os.write(1, b"p")
"""


class BusyPause:
    """``pause(seconds)``: every CPU of ``cpus`` busy for ``seconds``, the spinners parked on return.

    On a system that cannot pin a process to a CPU (no ``os.sched_setaffinity``) it sleeps
    instead (``busy`` is False). Close it (or use it as a context manager) to end the spinners.
    """

    def __init__(self, cpus):
        self.cpus = sorted(cpus)
        self.busy = hasattr(os, "sched_setaffinity") and bool(self.cpus)
        self.spinners: list[subprocess.Popen] = []
        if self.busy:
            for cpu in self.cpus:
                spinner = subprocess.Popen(
                    [sys.executable, "-c", SPINNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
                )
                os.sched_setaffinity(spinner.pid, {cpu})  # before it has run a line
                self.spinners.append(spinner)

    def _tell(self, command: bytes) -> None:
        for spinner in self.spinners:
            assert spinner.stdin is not None  # a PIPE
            spinner.stdin.write(command)

    def pause(self, seconds: float) -> None:
        if not self.busy or seconds <= 0:
            time.sleep(max(seconds, 0.0))
            return
        self._tell(b"s")
        time.sleep(seconds)
        self._tell(b"p")
        for spinner in self.spinners:  # every spinner off its CPU before the turn starts
            assert spinner.stdout is not None
            answer = spinner.stdout.read(1)
            if answer != b"p":
                raise RuntimeError(
                    f"a spinner of the busy pause answered {answer!r} (exit code {spinner.poll()})"
                )

    def close(self) -> None:
        for spinner in self.spinners:
            if spinner.stdin is not None:
                spinner.stdin.close()
        for spinner in self.spinners:
            spinner.wait(timeout=10)
        self.spinners = []
        self.busy = False

    def __enter__(self) -> BusyPause:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
