"""Numba evidence judged by value (issue 56, item 3), on chapter 10's kernels.

Before, "compiled by Numba" and "parallel" were read from the decorator's spelling and the
names in the cell: `@njit(fastmath=True)` scored 0, a kernel whose work ran as Python in
`numba.objmode` reached by a built name scored full, and a dummy `prange(1)` was
"parallel". Now the probe reads the compiled dispatcher's overloads (object mode, lifted
blocks, calls into the interpreter) and runs the kernel's Python once with a counting
`prange` (`probes._prange_work`): the loop must run at least two iterations on some case,
none doing more than `runner.MAX_SHARE` of the work.
"""

import copy
import json
from pathlib import Path

import pytest
from minidl_grader import notebook

from tests.grader.grading_answers import grade_batch

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
CHAPTER10 = ROOT / "solutions" / "10_fast_cpu_kernels.ipynb"
RELU = "relu_backward_numba"
BODY = (
    "    flat_dy, flat_x = dy.ravel(), x.ravel()\n"
    "    dx = np.empty_like(flat_dy)\n"
    "    for i in prange(flat_x.size):\n"
    "        dx[i] = flat_dy[i] if flat_x[i] > 0 else 0.0\n"
    "    return dx.reshape(dy.shape)\n"
)
DEF = "def relu_backward_numba(dy, x):\n"

HONEST = {  # every honest spelling of the decorator: full marks
    "@njit(parallel=True, fastmath=True)": "@njit(parallel=True, fastmath=True)\n" + DEF + BODY,
    "@numba.jit(nopython=True, parallel=True, cache=True)": (
        "import numba\n\n\n@numba.jit(nopython=True, parallel=True, cache=True)\n" + DEF + BODY
    ),
    "compiled by a call, under another name": (
        "import numba as nb\n\n\n"
        + DEF.replace("relu_backward_numba", "_relu")
        + BODY
        + "\n\nrelu_backward_numba = nb.njit(parallel=True)(_relu)\n"
    ),
    "%time before the kernel": "%time _ = 1\n@njit(parallel=True)\n" + DEF + BODY,
}
SERIAL = {  # right outputs, compiled, but not parallel: 0
    "a dummy prange(1)": (
        "@njit(parallel=True)\n" + DEF + "    flat_dy, flat_x = dy.ravel(), x.ravel()\n"
        "    dx = np.empty_like(flat_dy)\n"
        "    for _ in prange(1):\n"
        "        for i in range(flat_x.size):\n"
        "            dx[i] = flat_dy[i] if flat_x[i] > 0 else 0.0\n"
        "    return dx.reshape(dy.shape)\n",
        "ran 1 iteration",
    ),
    "all the work in the first of two iterations": (
        "@njit(parallel=True)\n" + DEF + "    flat_dy, flat_x = dy.ravel(), x.ravel()\n"
        "    dx = np.empty_like(flat_dy)\n"
        "    for j in prange(2):\n"
        "        if j == 0:\n"
        "            for i in range(flat_x.size):\n"
        "                dx[i] = flat_dy[i] if flat_x[i] > 0 else 0.0\n"
        "    return dx.reshape(dy.shape)\n",
        "of the loop's work",
    ),
    "not compiled with parallel=True": (
        "@njit\n" + DEF + BODY.replace("prange", "range"),
        "must run in parallel",
    ),
}
OBJMODE = (  # the work as Python in object mode, reached by a built name: 0
    "import numba\n_om = getattr(numba, 'obj' + 'mode')\n\n\n@njit(parallel=True)\n"
    + DEF
    + "    with _om(dx='float64[:]'):\n"
    "        dx = __import__('numpy').asarray(dy * (x > 0), dtype='float64').ravel()\n"
    "    out = np.empty(dx.size, dtype=dy.dtype)\n"
    "    for i in prange(dx.size):\n"
    "        out[i] = dx[i]\n"
    "    return out.reshape(dy.shape)\n"
)


def _chapter10_with(source: str, fastmath: bool = False) -> dict:
    """Chapter 10's solutions with the ReLU kernel's cell ``source``; ``fastmath``: the other
    kernels compiled with ``@njit(fastmath=True)`` (scored 0 before: "not compiled as written")."""
    nb = copy.deepcopy(notebook.read_notebook(CHAPTER10))
    for cell in nb["cells"]:
        name = notebook.exercise_meta(cell).get("exercise")
        if name == RELU:
            cell["source"] = source
        elif name and fastmath and "@njit\n" in notebook.cell_source(cell):
            cell["source"] = notebook.cell_source(cell).replace("@njit\n", "@njit(fastmath=True)\n")
    return nb


def test_numba_is_judged_by_the_compiled_kernel_and_the_work_of_its_prange_loop(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    submissions = {f"honest_{i}": src for i, src in enumerate(HONEST.values())}
    submissions |= {f"serial_{i}": src for i, (src, _) in enumerate(SERIAL.values())}
    submissions["objmode"] = OBJMODE
    for name, source in submissions.items():
        (folder / f"{name}.ipynb").write_text(
            json.dumps(_chapter10_with(source, fastmath=name == "honest_0"))
        )
    graded = grade_batch(folder, "--seed", "4", "--timeout", "60")
    tests = {Path(name).stem: {t["name"]: t for t in row["tests"]} for name, row in graded.items()}
    for i, spelling in enumerate(HONEST):
        assert all(t["status"] == "passed" for t in tests[f"honest_{i}"].values()), (
            spelling,
            tests[f"honest_{i}"],
        )
    for i, (what, (_, words)) in enumerate(SERIAL.items()):
        test = tests[f"serial_{i}"][RELU]
        assert test["score"] == 0 and words in test["output"], (what, test)
    test = tests["objmode"][RELU]
    assert test["score"] == 0 and "object mode" in test["output"], test
    others = [t for n, t in tests["objmode"].items() if n != RELU]
    assert all(t["status"] == "passed" for t in others), others
