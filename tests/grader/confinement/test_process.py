"""The submission's process (``confinement/process.py``)."""

import os

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
