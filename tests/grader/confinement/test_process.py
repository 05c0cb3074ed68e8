"""The submission's process (``confinement/process.py``)."""

import os
import resource

import pytest
from minidl_grader.confinement.process import Limits, Sandbox


def test_closing_a_sandbox_twice_leaves_the_fd_numbers_it_had_alone():
    """A second ``close`` must not close its old pipe numbers again: by then another sandbox,
    started by a thread grading beside it, may hold them."""
    sandbox = Sandbox(Limits(timeout=10, isolate=False), preload=[])
    numbers = (sandbox._to_child, sandbox._from_child)
    sandbox.close()
    reused = [os.pipe() for _ in range(4)]  # new pipes take the lowest free numbers: the old ones
    try:
        held = {fd for pair in reused for fd in pair}
        assert set(numbers) <= held
        sandbox.close()
        for fd in held:
            os.fstat(fd)  # still open: OSError (EBADF) if the second close had closed it
    finally:
        for pair in reused:
            for fd in pair:
                os.close(fd)


def test_a_sandbox_whose_pipes_are_numbered_over_1024_answers():
    """A sandbox started while the grader holds many fds -- another grading thread removing a
    submission's 1,500-level folder holds one per level -- gets pipes numbered 1024 and more,
    which ``select`` cannot wait on: its first request failed as if the process had died ("the
    process stopped answering"), and the honest notebook graded then lost its setup cell."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"this process may open only {hard} files (RLIMIT_NOFILE): no fd reaches 1024")
    if soft != resource.RLIM_INFINITY and soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1100, hard))
    held: list[int] = []
    sandbox = None
    try:
        while not held or held[-1] < 1024:
            held.append(os.open(os.devnull, os.O_RDONLY))
        sandbox = Sandbox(Limits(timeout=10, isolate=False), preload=[])
        assert min(sandbox._to_child, sandbox._from_child) > 1024  # the case this test is about
        reply = sandbox.request(("exec", "<cell 1>", "x = 6 * 7\n"), timeout=10)
        assert reply["status"] == "ok", reply
    finally:
        if sandbox is not None:
            sandbox.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
