"""Every static reading sees all the code (issue 56, item 2).

Magic lines were turned into ``pass`` before the forbids, the tampering reading and the
similarity detector looked at a cell, yet the sandbox runs ``%time``'s code; and a one-line
``exec("...")`` was a single string. Now the readings parse what a magic runs and the
constant strings handed to ``exec``/``eval``/``compile`` (``judge/reading.py``).
"""

import pytest
from minidl_grader.judge import provenance, reading

FORBIDS = ["minidl.nn.losses.MeanSquaredError"]


def _uses(cell: str, setup: str = "import numpy as np\n") -> list[str]:
    cells = [("<cell 1>", setup, None), ("<cell 2: ex>", cell, "ex")]
    return provenance.library_uses(cells).get("ex", [])


@pytest.mark.parametrize(
    "cell",
    [
        "%time from minidl.nn.losses import MeanSquaredError as _L\n",
        "%timeit -n 1 -r 1 from minidl.nn.losses import MeanSquaredError as _L\n",
        "%prun -l 3 from minidl.nn.losses import MeanSquaredError\n",
        "_L = %time __import__('x') and __import__('minidl.nn.losses').nn.losses.MeanSquaredError\n"
        "import minidl.nn.losses\n_M = minidl.nn.losses.MeanSquaredError\n",
        "%%time\nfrom minidl.nn.losses import MeanSquaredError\n",
        "%%capture out\nfrom minidl.nn.losses import MeanSquaredError\n",
        'exec("from minidl.nn.losses import MeanSquaredError as _L")\n',
        "eval(compile('__import__(\"minidl\")', 'x', 'eval'))\nexec('from minidl.nn.losses import MeanSquaredError')\n",
        "exec(\"exec('from minidl.nn.losses import MeanSquaredError')\")\n",
        "get_ipython().run_line_magic('time', 'from minidl.nn.losses import MeanSquaredError')\n",
        "get_ipython().run_cell_magic('time', '', 'from minidl.nn.losses import MeanSquaredError')\n",
        "if True:\n    %time from minidl.nn.losses import MeanSquaredError\n",
    ],
)
def test_a_forbidden_import_inside_a_magic_or_an_exec_string_is_read(cell):
    uses = _uses(cell)
    assert provenance.spec_forbidden_uses(uses, FORBIDS), (cell, uses)


def test_tampering_inside_a_magic_is_read():
    cells = [("<cell 1>", "%time import ctypes\n", None)]
    assert any("ctypes" in found for found in provenance.tampering(cells))
    cells = [("<cell 1>", 'exec("import numba.core.dispatcher as d; d.Dispatcher = object")\n', None)]
    assert any("changes numba.core.dispatcher.Dispatcher" in f for f in provenance.tampering(cells))


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("x = 5 % 3\n", "x = 5 % 3\n"),  # an operator, not a magic
        ('s = """\n%time f()\n"""\n', 's = """\n%time f()\n"""\n'),  # inside a string
        ("y = (1,\n     2)  # %\n%time g()\n", "y = (1,\n     2)  # %\ng()\n"),
        ("x = f(a,\n%b)\n", "x = f(a,\n%b)\n"),  # a continuation line is left alone
        ("!pip install x\nobj?\n%matplotlib inline\n", "pass\npass\npass\n"),
        ("files = !ls\n", "files = None\n"),
        ("%%bash\nfrom minidl import layers\n", "pass\n"),  # not Python: the sandbox runs nothing
        ("%timeit -n 10 -r 2 -o f(x)\n", "f(x)\n"),
    ],
)
def test_only_lines_that_start_a_logical_line_are_magics(cell, expected):
    assert reading.readable_source(cell) == expected


def test_strings_are_read_to_a_bounded_depth_and_size():
    deep = "import os"
    for _ in range(6):
        deep = f"exec({deep!r})"
    assert len(reading.code_strings(deep)) == reading.MAX_DEPTH
    assert reading.parse_cell("exec('import os') if x else eval('1 +')") is not None


def test_reading_parses_a_bounded_multiple_of_the_cell(monkeypatch):
    """A cell of magic lines, strings and brackets: the text handed to Python's parser stays
    within a fixed multiple of the cell's size, however large the cell (no re-reading of the
    cell per line, no square). Counted, not timed, so the verdict is the same on any machine."""
    parsed: list[int] = []
    real_parse = reading._parse

    def counting_parse(source, mode="exec"):
        parsed.append(len(source))
        return real_parse(source, mode)

    monkeypatch.setattr(reading, "_parse", counting_parse)

    def characters_parsed(n: int) -> tuple[int, int]:
        cell = ("%time f('%', [1,\n 2])\n" + "s = '''%x\n'''\n" + "exec('import os')\n") * n
        parsed.clear()
        reading.parse_cell(cell)
        reading.code_strings(cell)
        return sum(parsed), len(cell)

    for n in (20, 200, 2000):
        total, size = characters_parsed(n)
        assert 0 < total <= 8 * size, (n, total, size)
