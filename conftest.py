"""The chapters' bound claims, checked against the outputs nbval recomputes.

nbval re-executes every chapter (``make test``, and ``make test-portable`` under each CPU path
CI runs) and compares the outputs it may compare; a training result is printed under
``# NBVAL_IGNORE_OUTPUT``, so nbval alone never sees the prose that quotes it drift. Here the
fresh outputs of a chapter's code cells are kept as nbval runs them, and after its last code
cell the numbers its prose binds with ``<!-- claim: ... -->`` are checked against them
(``tests/course/claims.py`` says how): the last cell fails, naming each claim that no longer
holds. Nothing here runs without nbval.

And nbval's kernel is started again when a start fails (``KernelStartedAgain``, at the end).
"""

import warnings

import pytest

from tests.course import claims

_fresh: dict[str, list] = {}


@pytest.hookimpl(trylast=True)  # after the call that runs the cell (it raised if the cell failed)
def pytest_runtest_call(item):
    if type(item).__name__ != "IPyNbCell" or item.test_outputs is None:
        return
    notebook = item.parent
    key = str(notebook.fspath)
    cells = _fresh.setdefault(key, [])
    cells.append({"cell_type": "code", "outputs": list(item.test_outputs)})
    if item.cell_num == sum(cell.cell_type == "code" for cell in notebook.nb.cells) - 1:
        problems = claims.failures(claims.load(notebook.fspath), cells)
        _fresh.pop(key)
        assert not problems, "claims in the prose that this run's outputs do not support:\n" + "\n".join(
            problems
        )


try:
    import nbval.plugin
except ImportError:  # a machine that runs only the library's tests (the GPU run: pytest, no nbval)
    nbval = None


class KernelStartedAgain(nbval.plugin.RunningKernel if nbval else object):
    """nbval's kernel, started afresh (up to three times) when it does not answer.

    Two pytest-xdist workers start kernels at the same moment, and jupyter_client picks each
    kernel's five TCP ports by binding port 0 and letting it go: another process can take the port
    before the kernel binds it, and a kernel that loses the race never answers. CI saw it once: all
    42 cells of a chapter failed on "Kernel didn't respond in 60 seconds" while every chapter around
    it passed. A fresh start picks fresh ports; each retry is a warning in pytest's summary, so a
    machine where kernels keep failing to start still shows it.
    """

    attempts = 3

    def __init__(self, *args, **kwargs):
        for attempt in range(1, self.attempts + 1):
            try:
                super().__init__(*args, **kwargs)
                return
            except RuntimeError as error:  # nbval's start_new_kernel has shut down what it started
                if hasattr(self, "km"):  # started, but its output channel never came up
                    self.stop()
                if attempt == self.attempts:
                    raise
                message = f"kernel start {attempt} of {self.attempts} failed ({error}); starting a new one"
                warnings.warn(message, stacklevel=2)


if nbval:
    nbval.plugin.RunningKernel = KernelStartedAgain  # what IPyNbFile.setup calls, for every chapter
