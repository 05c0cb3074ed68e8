"""The chapters' bound claims, checked against the outputs nbval recomputes.

nbval re-executes every chapter (``make test``, and ``make test-portable`` under each CPU path
CI runs) and compares the outputs it may compare; a training result is printed under
``# NBVAL_IGNORE_OUTPUT``, so nbval alone never sees the prose that quotes it drift. Here the
fresh outputs of a chapter's code cells are kept as nbval runs them, and after its last code
cell the numbers its prose binds with ``<!-- claim: ... -->`` are checked against them
(``tests/course/claims.py`` says how): the last cell fails, naming each claim that no longer
holds. Nothing here runs without nbval.
"""

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
