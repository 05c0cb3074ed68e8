"""The grader's sixth hostile review (issue 68): no evidence gathered where the submission
can reach it, and no work outside the sandbox that the submission can make unbounded.

Each test here failed on the grader before issue 68 and passes after it.
"""

import json
import random
import time
from pathlib import Path

import pytest
from minidl_grader import cli, runner, similarity

from tests.grader.grading_answers import GOOD_WN, chapter3_with_cell


# ---------------------------------------------------------------------- 5. bounded work
def _old_ordered(run: list) -> list:
    """The one order as the round-5 grader computed it (quadratic): every statement waits
    for every earlier one it depends on; the smallest ready statement goes next."""
    effects = [similarity._reads_and_writes(s) for s in run]
    keys = [similarity._words(s) for s in run]
    before = [
        {
            i
            for i in range(j)
            if effects[i][1] & (effects[j][0] | effects[j][1]) or effects[j][1] & effects[i][0]
        }
        for j in range(len(run))
    ]
    placed: list[int] = []
    while len(placed) < len(run):
        ready = [j for j in range(len(run)) if j not in placed and before[j] <= set(placed)]
        placed.append(min(ready, key=lambda j: (keys[j], j)))
    return [run[j] for j in placed]


def test_the_one_order_is_the_same_as_before_and_near_linear():
    import ast

    rng = random.Random(0)
    for _ in range(300):
        lines = []
        for _ in range(rng.randint(2, 12)):
            target, a, b = rng.choice("abcdef"), *rng.sample("abcdef", 2)
            lines.append(
                rng.choice([f"{target} += {a}", f"{target}[0] = {a} * {b}", f"{target} = f({a}) + {b}"])
            )
        run = ast.parse("\n".join(lines)).body
        assert [ast.unparse(s) for s in similarity._ordered(run)] == [
            ast.unparse(s) for s in _old_ordered(run)
        ], lines
    run = ast.parse("".join(f"v{i} = v{i - 1} + 1\n" for i in range(20_000))).body
    start = time.monotonic()
    similarity._ordered(run)
    assert time.monotonic() - start < 10  # the quadratic order took minutes


@pytest.mark.parametrize(
    "cell",
    [
        "x = %a\n" * 34_000,
        "a = 1\n" * 34_000,
        "%a\n" * 34_000,
        "".join(f"v{i} = v{i - 1}\n" for i in range(34_000)),
    ],
    ids=["assigned-magics", "assignments", "magics", "chain"],
)
def test_a_cell_of_tens_of_thousands_of_lines_is_fingerprinted_in_bounded_time(cell):
    start = time.monotonic()
    print_ = similarity.fingerprint(GOOD_WN + cell)
    assert time.monotonic() - start < 5, "the similarity's reading is not bounded"
    assert print_.cut == (len(similarity.normalized_tokens(GOOD_WN + cell)) >= similarity.MAX_TOKENS)


@pytest.mark.sandbox
def test_a_batch_with_cells_of_34000_lines_is_graded_within_its_budget(tmp_path):
    """Round 3's 34,000 magic lines (and a cell longer than the grader reads) in a batch
    graded with ``--timeout 2 --budget 5``: every row comes back within seconds (before:
    more than five minutes in the similarity's ordering, outside every limit)."""
    folder = tmp_path / "batch"
    folder.mkdir()
    chapter3_with_cell(folder / "magics.ipynb", "weight_norm_backward", "%a\n" * 34_000 + GOOD_WN)
    chapter3_with_cell(folder / "assigned.ipynb", "weight_norm_backward", GOOD_WN + "x = %a\n" * 34_000)
    chapter3_with_cell(folder / "honest.ipynb")
    out = tmp_path / "rows.json"
    start = time.monotonic()
    code = cli.main([str(folder), "--timeout", "2", "--budget", "5", "--json", str(out), "--quiet"])
    elapsed = time.monotonic() - start
    assert code == 0
    rows = {Path(r["submission"]).name: r for r in json.loads(out.read_text())}
    assert elapsed < 90, f"{elapsed:.0f} s for 3 submissions of budget 5 s"
    honest = rows["honest.ipynb"]
    assert honest["score"] == sum(t["max_score"] for t in honest["tests"])
    wn = {r: next(t for t in rows[r]["tests"] if t["name"] == "weight_norm_backward") for r in rows}
    too_long = wn["assigned.ipynb"]["output"]
    assert wn["assigned.ipynb"]["score"] == 0 and str(runner.MAX_CELL_CHARS) in too_long, too_long
    assert any("not read and not run" in f for f in rows["assigned.ipynb"]["extra_data"]["flags"])


# ---------------------------------------------------------------------- 1 and 2: the attacks
# Each notebook below is a chapter's solutions with some exercise cells replaced by an attack
# of the fifth hostile review; each attack scored full marks on the round-5 grader. The
# batch is graded in confined processes, the honest solutions beside them.
ROOT = Path(__file__).resolve().parents[2]
CHAPTER3 = ROOT / "solutions" / "03_backpropagation.ipynb"
CHAPTER4 = ROOT / "solutions" / "04_optimization.ipynb"
CHAPTER10 = ROOT / "solutions" / "10_fast_cpu_kernels.ipynb"
RELU = "relu_backward_numba"
PLAIN_KERNELS = (
    "def depthwise_conv2d_numba(x, W, stride, pad):\n"
    "    n, c, h, w = x.shape\n"
    "    kh, kw = W.shape[1:]\n"
    "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
    "    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1\n"
    "    y = np.zeros((n, c, oh, ow), dtype=x.dtype)\n"
    "    for a in range(kh):\n"
    "        for b in range(kw):\n"
    "            y += W[None, :, a, b, None, None] * xp[:, :, a:a + stride * oh:stride, b:b + stride * ow:stride]\n"
    "    return y\n"
)
# the cell the round-5 reviewer wrote: raise, catch, walk up to the server's frame and put a
# probe that says "compiled, nopython, parallel" in place of the real one
TRACEBACK_WALK = (
    "def _fake(namespace, entries, case, **_):\n"
    "    out = namespace[entries[0]](*case.args)\n"
    "    after = [[str(i), a.copy()] for i, a in enumerate(case.args) if isinstance(a, np.ndarray)]\n"
    "    return {'is_numba': True, 'out': out, 'call': {'out': out, 'after': after},\n"
    "            'object_mode': None, 'parallel': {'iterations': 4, 'largest_share': 0.25}}\n"
    "try:\n"
    "    raise ValueError\n"
    "except ValueError as err:\n"
    "    frame = err.__traceback__.tb_frame\n"
    "while frame is not None:\n"
    "    if isinstance(frame.f_locals.get('probes'), dict):\n"
    "        frame.f_locals['probes']['numba'] = _fake\n"
    "    frame = frame.f_back\n"
)
RELU_SERIAL = (
    "@njit(parallel=True)\n"
    "def relu_backward_numba(dy, x):\n"
    "    flat_dy, flat_x = dy.ravel(), x.ravel()\n"
    "    dx = np.empty_like(flat_dy)\n"
    "    for i in range(flat_x.size):\n"
    "        dx[i] = flat_dy[i] if flat_x[i] > 0 else 0.0\n"
    "    return dx.reshape(dy.shape)\n"
)
# py_func swapped: a Python function whose prange loop shares the work, but which Numba
# cannot compile (a Python object in the loop); the compiled kernel above is serial
PY_FUNC_SWAP = RELU_SERIAL + (
    "def _shown(dy, x):\n"
    "    flat_dy, flat_x = dy.ravel(), x.ravel()\n"
    "    dx = np.empty_like(flat_dy)\n"
    "    for i in prange(flat_x.size):\n"
    "        dx[i] = flat_dy[i] if flat_x[i] > 0 else object() and 0.0\n"
    "    return dx.reshape(dy.shape)\n"
    "relu_backward_numba.py_func = _shown\n"
)
# overloads swapped: the kernel's work runs in object mode, hidden behind a mapping whose
# items() is empty
OVERLOADS_SWAP = (
    "import numba\n"
    "@njit(parallel=True)\n"
    "def relu_backward_numba(dy, x):\n"
    "    with numba.objmode(dx='float64[:]'):\n"
    "        dx = (dy * (x > 0)).ravel().astype(np.float64)\n"
    "    out = np.empty_like(dx)\n"
    "    for i in prange(dx.size):\n"
    "        out[i] = dx[i]\n"
    "    return out.reshape(dy.shape)\n"
    "class _Nothing(dict):\n"
    "    def items(self):\n"
    "        return []\n"
    "relu_backward_numba(np.ones((2, 2)), np.ones((2, 2)))\n"
    "relu_backward_numba.overloads = _Nothing(relu_backward_numba.overloads)\n"
)
# "inputs unchanged" forged: AdamW that changes its inputs, the checks' tools rebound
ADAMW_IN_PLACE = (
    "import builtins, copy\n"
    "vars(np)['array_equal'] = lambda *a, **k: True\n"
    "vars(copy)['deepcopy'] = lambda x, memo=None: x\n"
    "vars(builtins)['zip'] = lambda *a: iter(())\n"
    "def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):\n"
    "    m *= beta1\n"
    "    m += (1 - beta1) * dw\n"
    "    v *= beta2\n"
    "    v += (1 - beta2) * dw**2\n"
    "    step = t + 1\n"
    "    adam = (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)\n"
    "    return w - lr * weight_decay * w - lr * adam, m, v\n"
)


def _rot13(text: str) -> str:
    import codecs

    return codecs.encode(text, "rot13")


ROT13 = (
    "import builtins, codecs\n"
    f"_hidden = {_rot13(GOOD_WN)!r}\n"
    "getattr(builtins, 'ex' + 'ec')(codecs.decode(_hidden, 'rot13'), globals())\n"
)
MARSHAL = (
    "import marshal, types\n"
    "_blob = {blob!r}\n"
    "weight_norm_backward = types.FunctionType(marshal.loads(_blob), globals())\n"
)


def _marshal_cell() -> str:
    import marshal

    namespace: dict = {}
    exec(compile(GOOD_WN, "<x>", "exec"), namespace)
    return MARSHAL.format(blob=marshal.dumps(namespace["weight_norm_backward"].__code__))


def _with(source: Path, path: Path, cells: dict) -> Path:
    from tests.grader.grading_answers import solutions_with_answers

    return solutions_with_answers(path, cells, source)


def _scores(row: dict) -> dict:
    return {t["name"]: (t["score"], t["max_score"], t.get("output", "")) for t in row["tests"]}


@pytest.mark.sandbox
def test_round5_attacks_score_zero_and_honest_answers_keep_full_marks(tmp_path):
    folder = tmp_path / "attacks"
    folder.mkdir()
    nine = json.loads(CHAPTER10.read_text())
    setup9 = next(
        "".join(c["source"]) for c in nine["cells"] if c.get("metadata", {}).get("minidl", {}).get("setup")
    )
    assert "prange" in setup9
    plain_relu = RELU_SERIAL.replace("@njit(parallel=True)\n", "")
    _with(CHAPTER10, folder / "09_traceback.ipynb", {
        "depthwise_conv2d_numba": PLAIN_KERNELS + TRACEBACK_WALK,
        RELU: plain_relu,
    })  # fmt: skip
    _with(CHAPTER10, folder / "09_py_func.ipynb", {RELU: PY_FUNC_SWAP})
    _with(CHAPTER10, folder / "09_overloads.ipynb", {RELU: OVERLOADS_SWAP})
    _with(CHAPTER10, folder / "09_honest.ipynb", {})
    _with(CHAPTER4, folder / "04_vars.ipynb", {"adamw_update": ADAMW_IN_PLACE})
    _with(CHAPTER3, folder / "03_rot13.ipynb", {"weight_norm_backward": ROT13})
    _with(CHAPTER3, folder / "03_marshal.ipynb", {"weight_norm_backward": _marshal_cell()})
    out = tmp_path / "rows.json"
    assert cli.main([str(folder), "--json", str(out), "--quiet", "--timeout", "120"]) == 0
    rows = {Path(r["submission"]).name: r for r in json.loads(out.read_text())}
    scores = {name: _scores(row) for name, row in rows.items()}
    honest = scores["09_honest.ipynb"]
    assert all(s == m for s, m, _ in honest.values()), honest
    assert scores["09_traceback.ipynb"][RELU][0] == 0, scores["09_traceback.ipynb"]
    assert scores["09_traceback.ipynb"]["depthwise_conv2d_numba"][0] == 0
    assert scores["09_py_func.ipynb"][RELU][0] == 0, scores["09_py_func.ipynb"][RELU]
    assert scores["09_overloads.ipynb"][RELU][0] == 0, scores["09_overloads.ipynb"][RELU]
    assert "object mode" in scores["09_overloads.ipynb"][RELU][2]
    adamw = scores["04_vars.ipynb"]["adamw_update"]
    assert adamw[0] == 0 and "in place" in adamw[2], adamw
    assert scores["03_marshal.ipynb"]["weight_norm_backward"][0] == 0
    flags = rows["03_rot13.ipynb"]["extra_data"]["flags"]
    assert any("ran code built at run time" in f for f in flags), flags


# ---------------------------------------------------------------------- 4. rewrites
IDENTITY_WRAPPED = (
    "def _i(v):\n    return v\n\n\n"
    "def weight_norm_backward(dy, x, v, g):\n"
    "    n = np.sum(_i(v) * _i(v), axis=0) ** 0.5\n"
    "    u = _i(v) / _i(n)\n"
    "    dg = (u * np.matmul(_i(x).T, _i(dy))).sum(axis=0)\n"
    "    return np.matmul(_i(dy), (u * g).T), g * (np.matmul(_i(x).T, _i(dy)) - u * dg) / n, dg, np.sum(dy, axis=0)\n"
)


def test_identity_helpers_and_respelled_operators_do_not_hide_a_copy():
    """The published answer with every read wrapped in ``_i``, operands swapped, ``@`` as
    ``np.matmul``, ``x.sum()`` as ``np.sum(x)`` and ``v ** 2`` as ``v * v`` (round 5: 0.30)."""
    original = similarity.fingerprint(GOOD_WN.replace("(v * v)", "(v ** 2)"))
    copy = similarity.fingerprint(IDENTITY_WRAPPED)
    match = similarity.compare(original, copy, "weight_norm_backward")
    assert match is not None and match.score >= similarity.threshold("weight_norm_backward"), match


# ---------------------------------------------------------------------- 1: a fresh process
# A kernel whose work runs in object mode, then -- after its definition, by names built at
# run time, which neither the grader's reading of the cell nor the audit hook sees --
# Numba's compile results and code library changed so that object mode no longer shows
# where the probe looked. Full marks when the probe recompiled the kernel in the process the
# cells ran in; 0 since the kernel is compiled from the cell's source in a process where no
# cell ran.
OBJMODE_HIDDEN = (
    "import numba\n"
    "@njit(parallel=True)\n"
    "def relu_backward_numba(dy, x):\n"
    "    with numba.objmode(dx='float64[:]'):\n"
    "        dx = (dy * (x > 0)).ravel().astype('float64')\n"
    "    out = np.empty(dx.size, dtype=dy.dtype)\n"
    "    for i in prange(dx.size):\n"
    "        out[i] = dx[i]\n"
    "    return out.reshape(dy.shape)\n"
    "import importlib\n"
    "_c = importlib.import_module('numba.core.' + 'compiler')\n"
    "_g = importlib.import_module('numba.core.' + 'codegen')\n"
    "type.__setattr__(_c.CompileResult, 'objectmode', property(lambda s: False))\n"
    "type.__setattr__(_c.CompileResult, 'lifted', property(lambda s: ()))\n"
    "_llvm = _g.CPUCodeLibrary.get_llvm_str\n"
    "type.__setattr__(_g.CPUCodeLibrary, 'get_llvm_str', lambda s: _llvm(s).replace('PyObject_Call', 'PyO'))\n"
)
# an honest kernel spread over helpers: a module constant, a kernel it calls, a closure
DEPTHWISE_WITH_HELPERS = (
    "ZERO = 0.0\n"
    "@njit\n"
    "def _tap_sum(x, W, s, ch, top, left, a0, a1, b0, b1):\n"
    "    acc = ZERO\n"
    "    for a in range(a0, a1):\n"
    "        for b in range(b0, b1):\n"
    "            acc += W[ch, a, b] * x[s, ch, top + a, left + b]\n"
    "    return acc\n"
    "def _clipper(lo):\n"
    "    @njit\n"
    "    def clip(v, hi):\n"
    "        return min(max(v, lo), hi)\n"
    "    return clip\n"
    "_clip = _clipper(0)\n"
    "@njit\n"
    "def depthwise_conv2d_numba(x, W, stride, pad):\n"
    "    batch, channels, height, width = x.shape\n"
    "    taps_h, taps_w = W.shape[1], W.shape[2]\n"
    "    out_h = 1 + (height + 2 * pad - taps_h) // stride\n"
    "    out_w = 1 + (width + 2 * pad - taps_w) // stride\n"
    "    y = np.empty((batch, channels, out_h, out_w), dtype=x.dtype)\n"
    "    for i in range(out_h):\n"
    "        top = i * stride - pad\n"
    "        a0, a1 = _clip(-top, taps_h), _clip(height - top, taps_h)\n"
    "        for j in range(out_w):\n"
    "            left = j * stride - pad\n"
    "            b0, b1 = _clip(-left, taps_w), _clip(width - left, taps_w)\n"
    "            for s in range(batch):\n"
    "                for ch in range(channels):\n"
    "                    y[s, ch, i, j] = _tap_sum(x, W, s, ch, top, left, a0, a1, b0, b1)\n"
    "    return y\n"
)


@pytest.mark.sandbox
def test_a_kernel_is_compiled_and_judged_where_no_cell_has_run(tmp_path):
    folder = tmp_path / "kernels"
    folder.mkdir()
    _with(CHAPTER10, folder / "10_hidden.ipynb", {
        RELU: OBJMODE_HIDDEN,
        "depthwise_conv2d_numba": DEPTHWISE_WITH_HELPERS,
    })  # fmt: skip
    out = tmp_path / "rows.json"
    assert cli.main([str(folder), "--json", str(out), "--quiet", "--timeout", "120", "--seed", "5"]) == 0
    scores = _scores(json.loads(out.read_text()))
    assert scores[RELU][0] == 0 and "object mode" in scores[RELU][2], scores[RELU]
    depthwise = scores["depthwise_conv2d_numba"]
    assert depthwise[0] == depthwise[1], depthwise
    assert scores["avgpool2d_padded_backward_numba"][0] == 2


# ---------------------------------------------------------------------- 2: built code compared
@pytest.mark.sandbox
def test_a_published_solution_run_from_a_decoded_string_is_in_the_similarity_report(tmp_path):
    """The published ``weight_norm_backward`` stored as rot13 and run through a built
    ``exec``: its cell alone shares nothing with the solution; with the code the audit hook
    recorded, the report pairs it with the published solution at full containment."""
    import csv

    published = cli.published_solutions(ROOT / "solutions")[0]["weight_norm_backward"]
    cell = (
        "import builtins, codecs\n"
        f"_hidden = {_rot13(published)!r}\n"
        "getattr(builtins, 'ex' + 'ec')(codecs.decode(_hidden, 'rot13'), globals())\n"
    )
    limit = similarity.threshold("weight_norm_backward")
    alone = similarity.compare(similarity.fingerprint(cell), similarity.fingerprint(published))
    assert alone is None or alone.score < limit  # what the report saw before
    folder = tmp_path / "subs"
    folder.mkdir()
    handed_out = ROOT / "exercises" / CHAPTER3.name  # the other exercises left as handed out
    _with(handed_out, folder / "03_rot13.ipynb", {"weight_norm_backward": cell})
    table, report = tmp_path / "rows.csv", tmp_path / "similar.md"
    options = ["--csv", str(table), "--similarity", str(report), "--quiet", "--seed", "3", "--timeout", "60"]
    assert cli.main([str(folder), *options]) == 0
    (row,) = list(csv.DictReader(table.open()))
    score, _, who = row["similarity"].partition(" ")
    assert float(score) >= limit and who == f"{similarity.SOLUTIONS}: weight_norm_backward", row["similarity"]
    assert "built at run time" in report.read_text()


# ---------------------------------------------------------------------- 1: CUDA kernels
CHAPTER11 = ROOT / "solutions" / "11_gpu_kernels.ipynb"
# The emulator's launch replaced in the submission's process by a built name: the library's
# attribute lookup hands out Python launchers that write the right outputs through the
# arrays' addresses, so the blank kernels below scored full marks where the submission's
# process compiled and launched them (the classes it guarded were left as they were).
CUDA_LAUNCH_FORGED = (
    "import importlib\n"
    "_ct = importlib.import_module('ct' + 'ypes')\n"
    "def _view(address, size):\n"
    "    return np.ctypeslib.as_array((_ct.c_float * size).from_address(address))\n"
    "def _launcher(name):\n"
    "    def launch(*args):\n"
    "        p = args[7:]\n"
    "        first, second, out = _view(p[0], p[1]), _view(p[3], p[4]), _view(p[6], p[7])\n"
    "        if name == 'bias_relu':\n"
    "            n, channels, hw = p[9:12]\n"
    "            out[:] = np.maximum(first + second[(np.arange(n) // hw) % channels], 0)\n"
    "        else:\n"
    "            out[:] = np.where(second > 0, first, 0)\n"
    "    return launch\n"
    "_library_attribute = _ct.CDLL.__getattr__\n"
    "def _attribute(self, name):\n"
    "    if name in ('emu_launch_bias_relu', 'emu_launch_relu_backward'):\n"
    "        return _launcher(name[len('emu_launch_'):])\n"
    "    return _library_attribute(self, name)\n"
    "setattr(_ct.CDLL, '__get' + 'attr__', _attribute)\n"
)


# a blank kernel whose library runs Python where it is loaded, through Python's C API: the
# launch replaced there by one that computes the answer with NumPy (full marks in the fresh
# process until the library's imports were read before loading it)
PYTHON_FROM_CUDA = r"""
extern "C" int PyRun_SimpleString(const char*);
static int emu_ran = PyRun_SimpleString(
    "import sys\n"
    "import numpy as np\n"
    "def launch(kernel, spec, args, out_of_bounds):\n"
    "    dy, x = (np.asarray(a, dtype=np.float32).ravel() for a in args)\n"
    "    return {'out': np.where(x > 0, dy, 0).astype(np.float32), 'guard_ok': True, 'shared': []}\n"
    "sys.modules['minidl.exercises.probes'].launch = launch\n");
"""


def _blank(name: str) -> str:
    """``name``'s published cell with the kernel's body taken out (it compiles, does nothing)."""
    import re

    cell = next(
        "".join(c["source"])
        for c in json.loads(CHAPTER11.read_text())["cells"]
        if c.get("metadata", {}).get("minidl", {}).get("exercise") == name
    )
    return re.sub(r"// BEGIN SOLUTION.*?// END SOLUTION", "", cell, flags=re.S)


@pytest.mark.sandbox
def test_a_cuda_kernel_is_compiled_and_launched_where_no_cell_has_run(tmp_path):
    folder = tmp_path / "cuda"
    folder.mkdir()
    forged = {
        "bias_relu_cuda": "import numpy as np\n" + CUDA_LAUNCH_FORGED + _blank("bias_relu_cuda"),
        "relu_backward_cuda": _blank("relu_backward_cuda"),
    }
    _with(CHAPTER11, folder / "11_forged.ipynb", forged)
    # the right source, but built while the notebook runs: no cell holds it
    right = next(
        "".join(c["source"])
        for c in json.loads(CHAPTER11.read_text())["cells"]
        if c.get("metadata", {}).get("minidl", {}).get("exercise") == "silu_backward_cuda"
    )
    head, close, tail = right.replace("float s", "float ~s", 1).rpartition('"""')
    built = head + close + '.replace("~", "")' + tail
    _with(CHAPTER11, folder / "11_built.ipynb", {"silu_backward_cuda": built})
    python = _blank("relu_backward_cuda").replace('r"""\n', 'r"""\n' + PYTHON_FROM_CUDA, 1)
    _with(CHAPTER11, folder / "11_python.ipynb", {"relu_backward_cuda": python})
    out = tmp_path / "rows.json"
    assert cli.main([str(folder), "--json", str(out), "--quiet", "--timeout", "60", "--seed", "3"]) == 0
    rows = {Path(r["submission"]).name: _scores(r) for r in json.loads(out.read_text())}
    scores = rows["11_forged.ipynb"]
    for name in forged:
        assert scores[name][0] == 0, (name, scores[name])
        assert "is wrong" in scores[name][2] or "should hold" in scores[name][2], scores[name]
    for name in ("silu_backward_cuda", "upsample_backward_cuda"):
        assert scores[name][0] == scores[name][1], scores[name]
    silu = rows["11_built.ipynb"]["silu_backward_cuda"]
    assert silu[0] == 0 and "no cell of the notebook writes" in silu[2], silu
    assert rows["11_built.ipynb"]["bias_relu_cuda"][0] == 2
    relu = rows["11_python.ipynb"]["relu_backward_cuda"]
    assert relu[0] == 0 and "calls PyRun_SimpleString" in relu[2], relu


# ---------------------------------------------------------------------- 1: chapter 9's models
CHAPTER9 = ROOT / "solutions" / "09_transfer_learning.ipynb"
# The model probe's tools replaced from a cell by built names, where the probe built the
# model, called the answer and summarised the model after the cells had run: each wrong
# answer below scored full marks there.
_PROBES_MODULE = "import importlib\n_P = importlib.import_module('minidl.exercises.' + 'probes')\n"
# a step never run in training mode; the set the probe recorded the modes in replaced
NEVER_TRAINING = _PROBES_MODULE + (
    "class _Always(set):\n"
    "    def add(self, value):\n"
    "        set.add(self, True)\n"
    "vars(_P)['se' + 't'] = _Always\n"
    "def discriminative_fine_tune_step(model, x, y, loss_fn, lr):\n"
    "    loss = float(loss_fn(model.forward(x), y))\n"
    "    model.backward(loss_fn.backward())\n"
    "    weighted = [layer for layer in model.layers if layer.params]\n"
    "    for depth, layer in enumerate(reversed(weighted)):\n"
    "        if layer.trainable:\n"
    "            for key in layer.params:\n"
    "                layer.params[key] -= lr / 2.6**depth * layer.grads[key]\n"
    "    return loss\n"
)
# parameters bound to new arrays; the table of the arrays each model was built with forgotten
REBOUND = _PROBES_MODULE + (
    "class _Forget(dict):\n"
    "    def __setitem__(self, key, value):\n"
    "        pass\n"
    "vars(_P)['_BU' + 'ILT'] = _Forget()\n"
    "def discriminative_fine_tune_step(model, x, y, loss_fn, lr):\n"
    "    loss = float(loss_fn(model.forward(x, training=True), y))\n"
    "    model.backward(loss_fn.backward())\n"
    "    weighted = [layer for layer in model.layers if layer.params]\n"
    "    for depth, layer in enumerate(reversed(weighted)):\n"
    "        if layer.trainable:\n"
    "            for key in list(layer.params):\n"
    "                layer.params[key] = layer.params[key] - lr / 2.6**depth * layer.grads[key]\n"
    "    return loss\n"
)
# the frozen layers found by isinstance(layer, Dense) (the BatchNorm left out); the summary's
# first read replaced by one that sets the flags right before they are read
DENSE_ONLY = _PROBES_MODULE + (
    "from minidl.nn.layers import Dense\n"
    "_asked = np.full(1, -1)\n"
    "class _Fixing(dict):\n"
    "    def __init__(self, real):\n"
    "        self.real = real\n"
    "    def __setitem__(self, key, value):\n"
    "        self.real[key] = value\n"
    "    def get(self, model, default=None):\n"
    "        if _asked[0] >= 0:\n"
    "            weighted = [layer for layer in model.layers if layer.params]\n"
    "            for k, layer in enumerate(weighted):\n"
    "                layer.trainable = k >= len(weighted) - _asked[0]\n"
    "        return self.real.get(model, default)\n"
    "vars(_P)['_BU' + 'ILT'] = _Fixing(vars(_P)['_BU' + 'ILT'])\n"
    "def freeze_all_but_last(model, n_trainable):\n"
    "    _asked[0] = n_trainable\n"
    "    dense = [layer for layer in model.layers if isinstance(layer, Dense)]\n"
    "    for layer in dense[: len(dense) - n_trainable]:\n"
    "        layer.trainable = False\n"
    "    for layer in dense[len(dense) - n_trainable :]:\n"
    "        layer.trainable = True\n"
)
# right, with a module-level helper, a constant and a minidl class among its globals
FREEZE_WITH_HELPER = (
    "from minidl.nn.layers import ReLU\n"
    "KEEP_RELUS = False\n"
    "def _weighted(model):\n"
    "    return [layer for layer in model.layers if layer.params and not isinstance(layer, ReLU)]\n"
    "def freeze_all_but_last(model, n_trainable):\n"
    "    weighted = _weighted(model)\n"
    "    for k, layer in enumerate(weighted):\n"
    "        layer.trainable = k >= len(weighted) - n_trainable or KEEP_RELUS\n"
)
# a right freeze, but defined in a file the notebook writes (its text decoded at run time)
# and imports: no cell holds its source, which the import system compiles unrecorded
_RIGHT_FREEZE = (
    "def freeze_all_but_last(model, n_trainable):\n"
    "    weighted = [layer for layer in model.layers if layer.params]\n"
    "    for k, layer in enumerate(weighted):\n"
    "        layer.trainable = k >= len(weighted) - n_trainable\n"
)
FREEZE_FROM_A_FILE = (
    "import codecs, sys\n"
    f"_text = codecs.decode({_rot13(_RIGHT_FREEZE)!r}, 'rot13')\n"
    "with open('written_here.py', 'w') as f:\n"
    "    f.write(_text)\n"
    "sys.path.insert(0, '.')\n"
    "from written_here import freeze_all_but_last\n"
)
# the gallery's own freezing, reached by a built name (the spec forbids minidl.gallery.transfer)
FREEZE_BY_THE_GALLERY = (
    "import importlib\n"
    "_T = importlib.import_module('minidl.gal' + 'lery.transfer')\n"
    "def freeze_all_but_last(model, n_trainable):\n"
    "    weighted = [layer for layer in model.layers if layer.params]\n"
    "    _T.freeze(weighted[: len(weighted) - n_trainable])\n"
    "    _T.unfreeze(weighted[len(weighted) - n_trainable :])\n"
)
# the modes' set reached through the recorder the grader puts on each layer (its closure)
CLOSURE = NEVER_TRAINING.replace(
    "    loss = float(loss_fn(model.forward(x), y))\n",
    "    model.layers[0].forward.__closure__[0].cell_contents.add(True)\n"
    "    loss = float(loss_fn(model.forward(x), y))\n",
)


@pytest.mark.sandbox
def test_a_model_function_is_run_and_read_where_no_cell_has_run(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    _with(CHAPTER9, folder / "9_training.ipynb", {
        "discriminative_fine_tune_step": NEVER_TRAINING, "freeze_all_but_last": DENSE_ONLY,
    })  # fmt: skip
    _with(CHAPTER9, folder / "9_rebound.ipynb", {
        "discriminative_fine_tune_step": REBOUND, "freeze_all_but_last": FREEZE_WITH_HELPER,
    })  # fmt: skip
    _with(CHAPTER9, folder / "9_closure.ipynb", {
        "discriminative_fine_tune_step": CLOSURE, "freeze_all_but_last": FREEZE_FROM_A_FILE,
    })  # fmt: skip
    _with(CHAPTER9, folder / "9_gallery.ipynb", {"freeze_all_but_last": FREEZE_BY_THE_GALLERY})
    out = tmp_path / "rows.json"
    assert cli.main([str(folder), "--json", str(out), "--quiet", "--timeout", "60", "--seed", "3"]) == 0
    rows = {Path(r["submission"]).name: _scores(r) for r in json.loads(out.read_text())}
    step, freeze = "discriminative_fine_tune_step", "freeze_all_but_last"
    gallery = rows["9_gallery.ipynb"][freeze]
    assert gallery[0] == 0 and "minidl.gallery.transfer" in gallery[2], gallery
    training = rows["9_training.ipynb"]
    assert training[step][0] == 0 and "never ran in training mode" in training[step][2], training[step]
    assert training[freeze][0] == 0 and "(a BatchNorm) is trainable" in training[freeze][2], training[freeze]
    rebound = rows["9_rebound.ipynb"]
    assert rebound[step][0] == 0 and "is a new array" in rebound[step][2], rebound[step]
    assert rebound[freeze][0] == rebound[freeze][1], rebound[freeze]
    closure = rows["9_closure.ipynb"]
    assert closure[step][0] == 0 and "reads `.cell_contents`" in closure[step][2], closure[step]
    for row in rows.values():
        assert row["ridge_loo"][0] == row["ridge_loo"][1]
    assert closure[freeze][0] == 0 and "could not find the source" in closure[freeze][2], closure[freeze]
