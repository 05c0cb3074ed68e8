"""The student's own work (issue 27): a cell that calls minidl's implementation of the
graded operation, or imports the grader in any spelling, is flagged; ``--forbid`` makes
such a use fail the exercise, read statically and refused in the sandbox. Since issue 40 a
use of the grader fails the exercise whatever the options (``tests/grader/judge/test_provenance_shortcuts.py``
has the exercises' own forbidden names)."""

import json
from pathlib import Path

import pytest
from minidl_grader import cli, notebook, runner
from minidl_grader.judge import provenance, registry

from tests.grader.grading_answers import solutions_with_answers

ROOT = Path(__file__).resolve().parents[3]
CHAPTER3 = ROOT / "solutions" / "03_backpropagation.ipynb"
SETUP = (
    "<cell 1>",
    "import numpy as np\nfrom minidl import layers as L, gradcheck\nfrom minidl_grader import check\n",
    None,
)


def _uses(source: str) -> list[str]:
    return provenance.library_uses([SETUP, ("<cell 2: ex>", source, "ex")])["ex"]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("def f(x):\n    return L.Dense(3)(x)\n", "minidl.nn.layers.Dense"),
        ("def f(x):\n    return gradcheck.numerical_gradient(x)\n", "minidl.nn.gradcheck.numerical_gradient"),
        ("import minidl_grader\n", "minidl_grader"),
        ("from minidl_grader import judge\n", "minidl_grader.judge"),
        ("m = __import__('minidl_grader')\n", "a string naming minidl ('minidl_grader')"),
        ("import minidl_grader.specs.ch03 as s\n", "minidl_grader.specs.ch03"),
        ("from minidl_grader.runtime.probes import PROBES\n", "minidl_grader.runtime.probes.PROBES"),
        (
            "import importlib\nm = importlib.import_module('mini' + 'dl')\n",
            "a dynamic importlib.import_module()",
        ),
        ("m = __import__('minidl')\n", "a string naming minidl ('minidl')"),
    ],
)
def test_uses_of_minidl_are_found_in_any_spelling(source, expected):
    assert expected in provenance.minidl_uses(_uses(source))


def test_cells_are_parsed_one_at_a_time_across_grading_threads():
    """``--jobs`` grades in threads, and two ast.parse calls at once failed on Python 3.11.7
    ("AST constructor recursion depth mismatch": the counter is shared by the interpreter).
    While one parse holds the lock, another thread's reading of a cell waits for it."""
    import threading

    lock = provenance._PARSE_LOCK
    done = threading.Event()
    reader = threading.Thread(
        target=lambda: (provenance.library_uses([("<cell>", "import numpy as np", "f")]), done.set())
    )
    with lock:
        reader.start()
        assert not done.wait(0.3)  # held back while the lock is taken
    reader.join(10)
    assert done.is_set()


def test_honest_solutions_are_not_flagged():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = notebook.read_notebook(path)
        chapter = runner.find_chapter(nb, path)
        cells, _ = runner._graded_cells(nb, registry.for_chapter(chapter))
        names = {e.name for e in registry.for_chapter(chapter)}
        flagged = {
            k: provenance.minidl_uses(v, setup=k not in names)
            for k, v in provenance.library_uses(cells).items()
        }
        assert not any(flagged.values()), (path.name, flagged)


def test_a_setup_cell_is_flagged_for_the_grader_only():
    cells = [
        (
            "<cell 1>",
            "import minidl as mdl\nfrom minidl import layers as L\nimport minidl_grader\n"
            "from minidl_grader import check\n",
            None,
        )
    ]
    uses = provenance.library_uses(cells)["cell 1"]
    assert provenance.minidl_uses(uses, setup=True) == ["minidl_grader"]


def test_forbid_covers_a_module_and_the_names_under_it():
    uses = ["minidl.nn.gradcheck.numerical_gradient", "numpy.zeros"]
    assert provenance.forbidden_uses(uses, ["minidl.nn.gradcheck"]) == [
        ("minidl.nn.gradcheck.numerical_gradient", "minidl.nn.gradcheck")
    ]
    assert provenance.forbidden_uses(uses, ["minidl.grad"]) == []  # a prefix of a word is not a module


def test_forbidden_library_calls_fail_and_the_grader_import_is_flagged(tmp_path):
    cells = {
        # minidl's own numerical gradient: read statically
        "directional_gradient_check": "from minidl.nn.gradcheck import numerical_gradient as _ng\n"
        "def directional_gradient_check(f, x, grad, directions, h=1e-5):\n"
        "    d = directions.reshape(len(directions), -1)\n"
        "    return d @ _ng(lambda: f(x), x).reshape(-1), d @ grad.reshape(-1)\n",
        # the same, built at run time: the static reading only sees a dynamic import, the
        # sandbox refuses the call
        "softmax_cross_entropy_backward": "import importlib\n"
        "def softmax_cross_entropy_backward(z, y, smoothing):\n"
        "    g = importlib.import_module('minidl.nn.' + 'gradcheck')\n"
        "    import numpy as np\n"
        "    t = np.full(z.shape, smoothing / z.shape[1])\n"
        "    t[np.arange(len(y)), y] += 1 - smoothing\n"
        "    f = lambda u: float(-(t * (u - u.max(1, keepdims=True)"
        " - np.log(np.exp(u - u.max(1, keepdims=True)).sum(1, keepdims=True)))).sum(1).mean())\n"
        "    return g.numerical_gradient(f, z.copy())\n",
        "weight_norm_backward": "import minidl_grader as g\n"
        "def weight_norm_backward(dy, x, v, g):\n"
        "    n = (v * v).sum(axis=0) ** 0.5\n"
        "    dg = (x.T @ dy * v / n).sum(axis=0)\n"
        "    return dy @ (g * v / n).T, g * (x.T @ dy - dg * v / n) / n, dg, dy.sum(axis=0)\n",
    }
    path = solutions_with_answers(tmp_path / "library.ipynb", cells, CHAPTER3)
    out = tmp_path / "out.json"
    assert (
        cli.main(
            [
                str(path),
                "--timeout",
                "30",
                "--seed",
                "4",
                "--forbid",
                "minidl.nn.gradcheck",
                "--json",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["directional_gradient_check"]["score"] == 0
    assert (
        "forbids: minidl.nn.gradcheck.numerical_gradient (--forbid minidl.nn.gradcheck)"
        in tests["directional_gradient_check"]["output"]
    )
    assert tests["softmax_cross_entropy_backward"]["score"] == 0
    assert "forbidden in this assignment" in tests["softmax_cross_entropy_backward"]["output"]
    # the grader in any spelling fails the exercise (issue 40), and is flagged
    assert tests["weight_norm_backward"]["score"] == 0
    assert "uses the grader (minidl_grader)" in tests["weight_norm_backward"]["output"]
    flags = " | ".join(data["extra_data"]["flags"])
    assert "weight_norm_backward uses minidl_grader" in flags
    assert "softmax_cross_entropy_backward uses a dynamic importlib.import_module()" in flags
