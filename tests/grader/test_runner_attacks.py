"""Hostile and malformed submissions, graded in one batch with honest ones (issue 15).

Each hostile notebook is chapter 3's solution with the `weight_norm_backward` cell (2 points)
replaced by an attack; the other items (code and questions) keep their right answers. The
attack scores 0 on `weight_norm_backward` and leaves no trace outside; the honest notebooks
graded in the same batch keep full marks. Attacks that only bubblewrap can stop run in the
isolated batch, which is skipped (saying why) where bubblewrap cannot run; the rest run
in both modes.
"""

import copy
import csv
import io
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from minidl_grader import cli, notebook
from minidl_grader.confinement import folders, isolation
from minidl_grader.judge import registry

from tests.grader.grading_answers import GOOD_WN, WN_BODY, WN_DEF, grade_batch

pytestmark = pytest.mark.sandbox  # grades in confined processes: make test, not make test-unit

ROOT = Path(__file__).resolve().parents[2]
CHAPTER3 = ROOT / "solutions" / "03_backpropagation.ipynb"
CHAPTER1 = ROOT / "solutions" / "01_linear_models.ipynb"
SECRET = "grader-secret-4242"
LIBC = "import ctypes\nlibc = ctypes.CDLL(None)\n"

# chapter 3 in points: all of it, and all but weight_norm_backward (the cell the attacks replace)
CH3_POINTS = sum(e.points for e in registry.for_chapter("03_backpropagation"))
OTHERS = CH3_POINTS - registry.get("weight_norm_backward").points

ISOLATED, WHY_NOT = isolation.isolation_status()
# only a missing bwrap skips: bwrap that cannot isolate fails these tests (test_grading_isolation)
needs_bwrap = pytest.mark.skipif(
    isolation.bwrap_missing(), reason=f"bubblewrap cannot isolate here: {WHY_NOT}"
)


def _notebook(answer: str | None, setup_extra: list[str] = ()) -> dict:
    nb = notebook.read_notebook(CHAPTER3)
    cells = []
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "weight_norm_backward" and answer is not None:
            cell = copy.deepcopy(cell)
            cell["source"] = answer
        cells.append(cell)
        if notebook.exercise_meta(cell).get("setup"):
            cells += [
                {
                    "cell_type": "code",
                    "metadata": {"minidl": {"setup": True}},
                    "source": s,
                    "outputs": [],
                    "execution_count": None,
                }
                for s in setup_extra
            ]
    nb["cells"] = cells
    return nb


def _attacks(outside: Path, port: int) -> dict:
    """name -> (weight_norm_backward cell, expected weight_norm_backward score)."""
    solution_path = ROOT / "solutions" / "03_backpropagation.ipynb"
    read_solution = (
        "import json\n"
        f"nb = json.load(open({str(solution_path)!r}))\n"
        "for c in nb['cells']:\n"
        "    if c.get('metadata', {}).get('minidl', {}).get('exercise') == 'weight_norm_backward':\n"
        "        exec(''.join(c['source']))\n"
    )
    return {
        "imports the references": ("from minidl_grader.specs.ch03 import weight_norm_backward\n", 0),
        # a built name: the grader's reading sees only a dynamic import; the sandbox has no specs
        "imports the references by a built name": (
            "import importlib\nweight_norm_backward = importlib.import_module("
            "'minidl_gra' + 'der.specs.ch03').weight_norm_backward\n",
            0,
        ),
        "reads the solutions through the path": (read_solution, 0),
        "ctypes system() writes outside": (
            LIBC + f"libc.system(b'echo pwned > {outside}/system.txt')\n" + WN_DEF + "    return None\n",
            0,
        ),
        "socket to a listener on 127.0.0.1": (
            "import ctypes, struct\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            + WN_DEF
            + "    fd = libc.socket(2, 1, 0)\n"
            f"    addr = struct.pack('!HHI8x', 2, {port}, 0x7f000001)\n"
            "    addr = struct.pack('<H', 2) + addr[2:]\n"
            "    libc.connect(fd, addr, len(addr))\n"
            "    return None\n",
            0,
        ),
        "writes outside by chdir, dir_fd and sqlite3": (
            "import os, sqlite3\n" + WN_DEF + "    for attempt in range(3):\n"
            "        try:\n"
            f"            if attempt == 0:\n                os.chdir({str(outside)!r}); open('chdir.txt', 'w').write('x')\n"
            f"            if attempt == 1:\n                d = os.open({str(outside)!r}, os.O_RDONLY)\n"
            "                os.close(os.open('dirfd.txt', os.O_WRONLY | os.O_CREAT, dir_fd=d))\n"
            f"            if attempt == 2:\n                sqlite3.connect({str(outside / 'db.sqlite')!r}).execute('create table t (x)')\n"
            "        except Exception:\n            pass\n"
            "    return None\n",
            0,
        ),
        "reads the grader's environment": (
            "import os\n" + WN_DEF + "    found = []\n"
            "    for pid in ['self', str(os.getppid()), '1']:\n"
            "        try:\n"
            "            found.append(open(f'/proc/{pid}/environ', 'rb').read().decode('latin-1'))\n"
            "        except OSError:\n            pass\n"
            "    raise ValueError(' '.join(found) + open(os.path.expanduser('~/.bashrc')).read()"
            " if os.path.exists(os.path.expanduser('~/.bashrc')) else ' '.join(found))\n",
            0,
        ),
        "kills every process it can, and its parent": (
            LIBC
            + WN_DEF
            + "    import os\n    libc.kill(os.getppid(), 9)\n    libc.kill(-1, 9)\n    return None\n",
            0,
        ),
        "leaves a setsid process behind": (
            LIBC + "libc.system(b'setsid sleep 987.654 >/dev/null 2>&1 &')\n" + WN_DEF + "    return None\n",
            0,
        ),
        # the seccomp filter (seccomp.py) refuses these: the answer is right only if all fail
        "asks the kernel for keyrings, io_uring and a namespace": (
            "import ctypes, platform\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            + WN_DEF
            + "    calls = [(250, (0, -3, 0)), (425, (1, ctypes.create_string_buffer(120))), (272, (0x10000000,))]\n"
            "    if platform.machine() == 'x86_64' and any(libc.syscall(nr, *a) != -1 or ctypes.get_errno() != 1\n"
            "                                              for nr, a in calls):\n"
            "        return None\n" + WN_BODY,
            2,
        ),
        "rewrites another submission's file": (
            "import sqlite3\n"
            f"try:\n    open({str(outside.parent / 'subs' / 'honest_b.ipynb')!r}, 'w').write('{{}}')\n"
            "except Exception:\n    pass\n" + WN_DEF + "    return None\n",
            0,
        ),
    }


COMMON = {  # attacks and malformed input that both modes must handle
    "patches PROBES in setup, answer left blank": (
        WN_DEF + "    raise NotImplementedError  # your code here\n",
        [
            "import minidl_grader.runtime.probes as p\n"
            "p.PROBES['call'] = lambda ns, entries, case: __import__("
            "'minidl_grader.judge.registry', fromlist=['get']).get(entries[0])\n"
            "p.PROBES.clear()\n"
        ],
        0,
    ),
    "a surrogate and control characters in its message": (
        WN_DEF + "    raise ValueError('bad \\ud800 \\x1b[31m red')\n",
        None,
        0,
    ),
    "a forged reply, then a huge cell": (
        GOOD_WN + "# " + "x" * 100_000 + "\n",
        [
            "import os, json\nfor fd in range(3, 40):\n    try:\n"
            "        payload = json.dumps({'status': 'ok', 'value': None, 'message': ''}).encode()\n"
            "        os.write(fd, len(payload).to_bytes(8, 'big') + payload)\n    except OSError:\n"
            "        pass\n"
        ],
        2,
    ),
    "%-lines in a string and a continuation (honest)": (
        "%time pass\n!echo shell\n"
        + WN_DEF
        + "    '''The backward pass.\n%  this line is part of the docstring\n'''\n"
        "    factor = (3\n% 2)\n" + WN_BODY.replace("return dy @", "return factor * dy @"),
        None,
        2,
    ),
    "many setup cells": (None, ["pass\n"] * 8, 2),
    "a 1,500-level directory": (
        "import os\nfor _ in range(1500):\n    os.mkdir('d')\n    os.chdir('d')\n" + GOOD_WN,
        None,
        2,
    ),
}


# a setup cell that uses the grader (but ``check``) costs every exercise (issue 40)
USES_THE_GRADER_IN_SETUP = {"patches PROBES in setup, answer left blank"}


def _write_batch(folder: Path, attacks: dict) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for i, (name, spec) in enumerate(attacks.items()):
        answer, setup_extra = (spec[0], spec[1]) if len(spec) == 3 else (spec[0], ())
        path = folder / f"attack_{i:02d}.ipynb"
        path.write_text(json.dumps(_notebook(answer, setup_extra or ())))
        paths[name] = path
    for name in ("honest_a", "honest_b"):
        path = folder / f"{name}.ipynb"
        path.write_bytes(CHAPTER3.read_bytes())
        paths[name] = path
    odd = folder / os.fsdecode(b"\xff\xfe_odd_name.ipynb")
    odd.write_bytes(CHAPTER3.read_bytes())
    paths["a non-UTF-8 file name"] = odd
    ints = _notebook(None)
    for cell in ints["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "weight_norm_backward":
            cell["source"] = [1, 2, 3]
    (folder / "ints.ipynb").write_text(json.dumps(ints))
    paths["a cell source that is a list of ints"] = folder / "ints.ipynb"
    (folder / "03_backpropagation_nested.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    paths["deeply nested JSON"] = folder / "03_backpropagation_nested.ipynb"
    return paths


def _run_batch(tmp_path: Path, attacks: dict, *options: str) -> tuple[dict, list, Path]:
    paths = _write_batch(tmp_path / "subs", attacks)
    out = tmp_path / "results.json"
    grades = tmp_path / "grades.csv"
    os.environ["MINIDL_TEST_SECRET"] = SECRET
    try:
        code = cli.main(
            [
                str(tmp_path / "subs"),
                "--json",
                str(out),
                "--csv",
                str(grades),
                "--jobs",
                "2",
                "--seed",
                "11",
                "--timeout",
                "4",
                "--quiet",
                *options,
            ]
        )
    finally:
        del os.environ["MINIDL_TEST_SECRET"]
    assert code == 0
    results = json.loads(out.read_text())
    by_path = {r["submission"]: r for r in results}
    from minidl_grader.reports.text import display_path

    graded = {name: by_path[display_path(path)] for name, path in paths.items()}
    rows = list(csv.reader(io.StringIO(grades.read_text(encoding="utf-8"))))
    return graded, rows, out


def _attacked(result: dict) -> dict:
    """The graded item of the cell the attacks replace."""
    return next(t for t in result["tests"] if t["name"] == "weight_norm_backward")


def _check_common(graded: dict, rows: list, attacks: dict) -> None:
    assert len(rows) == 1 + len(graded)  # every row written
    for name in ("honest_a", "honest_b", "a non-UTF-8 file name"):
        assert graded[name]["score"] == CH3_POINTS, (name, graded[name])
    for name, spec in attacks.items():
        result = graded[name]
        assert _attacked(result)["score"] == spec[-1], (name, _attacked(result))
        others = [t for t in result["tests"] if t["name"] != "weight_norm_backward"]
        if name in USES_THE_GRADER_IN_SETUP:  # every exercise fails, saying why
            assert all(t["score"] == 0 and "uses the grader" in t["output"] for t in result["tests"]), name
        else:
            assert all(t["status"] == "passed" for t in others), (name, others)
        assert SECRET not in json.dumps(result), name
    message = _attacked(graded["a surrogate and control characters in its message"])["output"]
    assert "\\ud800" in message and "\x1b" not in message
    assert graded["a cell source that is a list of ints"]["score"] == OTHERS
    nested = graded["deeply nested JSON"]
    assert nested["score"] == 0 and "not a readable notebook" in nested["output"]
    assert "setup cells" in " ".join(graded["many setup cells"]["extra_data"]["flags"])


@pytest.fixture(scope="module")
def listener():
    """A TCP listener on 127.0.0.1 that records whether anything connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    connections, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connections.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


def _sleepers() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"987.654" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


@needs_bwrap
def test_isolated_batch_every_attack_fails_and_honest_rows_survive(tmp_path, listener):
    port, connections = listener
    outside = tmp_path / "outside"
    outside.mkdir()
    attacks = {name: (source, score) for name, (source, score) in _attacks(outside, port).items()}
    attacks.update(COMMON)
    graded, rows, _ = _run_batch(tmp_path, attacks)
    _check_common(graded, rows, attacks)
    # None: nothing of the row ran (every exercise refused by the reading), not a sandbox failure
    assert all(r["extra_data"]["isolated"] is not False for r in graded.values() if r["tests"])
    assert list(outside.iterdir()) == []  # no write reached the host
    assert connections == []  # no connection left the sandbox
    assert _sleepers() == []  # nothing outlived its sandbox
    flags = graded["imports the references"]["extra_data"]["flags"]
    assert any("minidl_grader" in f for f in flags)
    assert any(
        "solutions" in f for f in graded["reads the solutions through the path"]["extra_data"]["flags"]
    )
    assert "uses the grader" in _attacked(graded["imports the references"])["output"]
    built = _attacked(graded["imports the references by a built name"])["output"]
    assert "No module named 'minidl_grader.specs'" in built


def test_not_isolated_batch_handles_what_it_promises(tmp_path):
    graded, rows, _ = _run_batch(tmp_path, dict(COMMON), "--no-isolation")
    _check_common(graded, rows, COMMON)
    assert not any(r["extra_data"]["isolated"] for r in graded.values())
    assert "; not isolated" in graded["honest_a"]["output"]


def test_references_are_not_importable_in_the_not_isolated_mode_either(tmp_path):
    path = tmp_path / "imports.ipynb"
    built = "import importlib\nimportlib.import_module('minidl_gra' + 'der.specs.ch03')\n"
    path.write_text(json.dumps(_notebook(built)))
    out = tmp_path / "r.json"
    assert cli.main([str(path), "--json", str(out), "--no-isolation", "--quiet", "--timeout", "4"]) == 0
    data = json.loads(out.read_text())
    assert data["score"] == OTHERS and "No module named" in _attacked(data)["output"]


def test_the_runtime_holds_no_reference():
    runtime = Path(isolation.build_runtime())
    assert sorted(p.name for p in runtime.iterdir()) == ["minidl", "minidl_grader"]
    grading = sorted(p.name for p in (runtime / "minidl_grader").iterdir() if p.suffix == ".py")
    assert grading == ["__init__.py"]
    side = sorted(p.name for p in (runtime / "minidl_grader" / "runtime").iterdir() if p.suffix == ".py")
    assert side == sorted(("__init__.py",) + isolation.RUNTIME_GRADING_FILES)
    assert not list(runtime.rglob("specs")) and not list(runtime.rglob("solutions"))
    assert (runtime / "minidl" / "nn" / "layers").is_dir()  # the library itself is there


def test_a_killed_grader_leaves_every_finished_row(tmp_path):
    """In the not isolated mode a submission can kill the grader (same user): the rows of
    the submissions graded before it are on disk, complete; the folders it could not remove
    go when the next grader starts."""
    subs, temporary = tmp_path / "subs", tmp_path / "tmp"
    subs.mkdir()
    temporary.mkdir()
    for name in ("a_honest", "b_honest"):
        (subs / f"{name}.ipynb").write_bytes(CHAPTER3.read_bytes())
    killer = LIBC + "import os\nlibc.kill(os.getppid(), 9)\n" + GOOD_WN
    (subs / "c_killer.ipynb").write_text(json.dumps(_notebook(killer)))
    grades = tmp_path / "grades.csv"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "minidl_grader",
            "grade",
            str(subs),
            "--csv",
            str(grades),
            "--no-isolation",
            "--seed",
            "2",
            "--timeout",
            "4",
        ],
        capture_output=True,
        text=True,
        env=dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "grader")]), TMPDIR=str(temporary)
        ),
        timeout=120,
    )
    rows = list(csv.reader(io.StringIO(grades.read_text())))
    assert [r[0].rsplit("/", 1)[-1] for r in rows[1:3]] == ["a_honest.ipynb", "b_honest.ipynb"]
    assert [r[2] for r in rows[1:3]] == [str(CH3_POINTS)] * 2
    if os.geteuid() != 0 or isolation.unprivileged_user() is None:
        assert run.returncode == -9  # the same user could kill it
        left = sorted(os.listdir(temporary))  # its runtime, the copy without chapter 3's forbids, ...
        assert left and all(name.startswith(folders.PREFIXES) for name in left), left
        assert folders.remove_stale(str(temporary), older_than=0) == left  # as the next grader does
    else:
        assert os.listdir(temporary) == []


def test_wrong_chapter_is_a_clear_error_and_one_json_object(tmp_path):
    out = tmp_path / "results.json"
    assert cli.main([str(CHAPTER1), "--chapter", "03", "--json", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text())
    assert isinstance(data, dict) and data["score"] == 0
    assert "chapter 01_linear_models, but the assignment is 03_backpropagation" in data["output"]
    assert {t["name"] for t in data["tests"]} == {e.name for e in registry.for_chapter("03_backpropagation")}


def test_require_isolation_refuses_where_bubblewrap_cannot_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(isolation, "_status", (False, "pretend: no user namespaces"))
    assert cli.main([str(CHAPTER3), "--require-isolation"]) == 3
    assert "cannot be isolated here: pretend: no user namespaces" in capsys.readouterr().err


def test_no_notebook_still_writes_one_gradescope_object(tmp_path):
    out = tmp_path / "results.json"
    (tmp_path / "empty").mkdir()
    assert cli.main([str(tmp_path / "empty"), "--json", str(out)]) == 2
    data = json.loads(out.read_text())
    assert data["score"] == 0 and "no .ipynb notebook" in data["output"]


def test_magics_become_harmless_calls_and_strings_keep_their_percent_lines():
    from minidl_grader.runtime.probes import NotebookShell
    from minidl_grader.runtime.sandbox import python_source

    cell = "%%time\ndef f(x):\n    '''doc\n%  not a magic\n'''\n    return (x\n% 2)\n"
    namespace = {}
    namespace["get_ipython"] = lambda: NotebookShell(namespace)
    exec(python_source(cell), namespace)  # %%time runs its body
    assert namespace["f"](5) == 1 and "%  not a magic" in namespace["f"].__doc__
    exec(python_source("!rm -rf /nothing\n%pip install x\ny = 3\n"), namespace)
    assert namespace["y"] == 3


def test_the_bwrap_command_line_mounts_nothing_of_the_repository():
    runtime = isolation.build_runtime()
    command = isolation.bwrap_command(runtime, 2**20, {"PYTHONPATH": isolation.RUNTIME_MOUNT})
    for flag in (
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ):
        assert flag in command
    sources = [command[i + 1] for i, a in enumerate(command) if a in ("--ro-bind", "--bind")]
    assert not [
        s
        for s in sources
        if s == str(ROOT) or s.startswith(str(ROOT) + os.sep) and not s.startswith(str(ROOT / ".venv"))
    ]
    assert "--bind" not in command  # nothing of the host is writable
    assert command[command.index("--tmpfs") - 2 : command.index("--tmpfs") + 2] == [
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
    ]


def test_a_submission_that_hangs_everywhere_stops_at_its_budget(tmp_path):
    from minidl_grader.runner import grade_notebook

    nb = notebook.read_notebook(CHAPTER3)
    for cell in nb["cells"]:
        name = notebook.exercise_meta(cell).get("exercise")
        if name:
            cell["source"] = f"def {name}(*args):\n    while True:\n        pass\n"
    path = tmp_path / "hangs.ipynb"
    path.write_text(json.dumps(nb))
    sub = grade_notebook(path, timeout=1, budget=2.5, seed=1)
    assert sub.score == 0 and len(sub.results) == len(registry.for_chapter("03_backpropagation"))
    assert any("whole time budget of 2.5 s" in r.message for r in sub.results), sub.results


# ---------------------------------------------------------------------- forged evidence (issue 40)
# What the verdict needs beyond the outputs -- that a chapter-10 kernel is compiled by Numba,
# that chapter 11's CUDA source is what the emulator ran, which layers a chapter-9 model
# trains -- is observed in the sandbox, which the submission controls. Each spoof below
# hands in plain Python (or nothing) and tries to make that observation lie; each must score
# 0 on the exercises it targets. The first is the one an instructor found: 3/3, 1/1, 2/2
# for plain Python before the probe compared with classes captured before the notebook ran.
CHAPTER10 = ROOT / "solutions" / "10_fast_cpu_kernels.ipynb"
CHAPTER11 = ROOT / "solutions" / "11_gpu_kernels.ipynb"
CHAPTER9 = ROOT / "solutions" / "09_transfer_learning.ipynb"
KERNELS9 = ("depthwise_conv2d_numba", "relu_backward_numba", "avgpool2d_padded_backward_numba")
KERNELS10 = ("bias_relu_cuda", "relu_backward_cuda", "silu_backward_cuda", "upsample_backward_cuda")
# a string built at run time, which the grader's reading cannot parse (a constant one is read:
# judge/reading.py): what catches it is the class the probes captured before the first cell
FAKE_NJIT = (
    'exec("import numba\\n" + '
    '"numba.njit = lambda *a, **k: a[0] if a and callable(a[0]) else (lambda f: f)\\n" + '
    '"from numba import njit")\n'
)
FAKE_EMULATOR = """import importlib
import numpy as _np
_emulate = importlib.import_module("minidl.ker" + "nels.emulate")


class _Kernel:
    def __init__(self, name):
        self.name = name

    def __call__(self, grid, block, args):
        if self.name == "bias_relu":
            x, b, out, n, channels, hw = args
            out[:] = _np.maximum(x + b[(_np.arange(int(n)) // int(hw)) % int(channels)], 0)
        else:
            dy, x, out, n = args
            s = 1 / (1 + _np.exp(-x))
            out[:] = dy * (x > 0) if self.name == "relu_backward" else dy * s * (1 + x * (1 - s))


class _Module:
    def __init__(self, source, dtype, name="<source>"):
        pass

    def get_function(self, name):
        return _Kernel(name)


_emulate.EmulatedModule = _Module
"""


def _with_cells(source: Path, replace: dict, setup_extra: str | None = None) -> dict:
    """``source``'s notebook with the cells of ``replace`` (exercise -> function of the old
    source) rewritten, and one more setup cell after the first."""
    nb = notebook.read_notebook(source)
    cells = []
    for cell in nb["cells"]:
        name = notebook.exercise_meta(cell).get("exercise")
        if name in replace:
            cell = copy.deepcopy(cell)
            cell["source"] = replace[name](notebook.cell_source(cell))
        cells.append(cell)
        if notebook.exercise_meta(cell).get("setup") and setup_extra is not None:
            meta = {"minidl": {"setup": True}}
            cells.append(
                {
                    "cell_type": "code",
                    "metadata": meta,
                    "source": setup_extra,
                    "outputs": [],
                    "execution_count": None,
                }
            )
            setup_extra = None
    nb["cells"] = cells
    return nb


def _plain(source: str) -> str:
    """A kernel cell as plain Python: the @njit line gone (prange is range in Python)."""
    return "\n".join(line for line in source.splitlines() if not line.startswith("@njit")) + "\n"


def _spoofs() -> dict:
    """name -> (notebook, exercises that must score 0, words their message must hold)."""
    plain = dict.fromkeys(KERNELS9, _plain)
    keep = dict.fromkeys(KERNELS9, lambda s: s)
    blank = dict.fromkeys(KERNELS10, notebook.strip_solutions)
    return {
        "rebinds numba's Dispatcher (the instructor's spoof)": (
            _with_cells(
                CHAPTER10, plain, "import numba.core.dispatcher\nnumba.core.dispatcher.Dispatcher = object\n"
            ),
            KERNELS9,
            "changes modules",
        ),
        "the same, hidden in exec": (
            _with_cells(
                CHAPTER10, plain, 'exec("import numba.core.dispatcher as d\\nd.Dispatcher = object")\n'
            ),
            KERNELS9,
            "changes modules",  # the exec string is read (judge/reading.py)
        ),
        "a fake njit, hidden in exec": (_with_cells(CHAPTER10, keep, FAKE_NJIT), KERNELS9, "plain Python"),
        "a fake njit, and the probes' captured class forged by a built name": (
            _with_cells(
                CHAPTER10,
                keep,
                FAKE_NJIT + "import importlib\ntry:\n"
                "    p = importlib.import_module('minidl_gra' + 'der.runtime.probes')\n"
                "    p._TRUSTED['numba'] = (type(lambda: 0), [])\n"
                "except Exception:\n    pass\n",
            ),
            KERNELS9,
            "plain Python",
        ),
        "a subclass of numba's dispatcher": (
            _with_cells(
                CHAPTER10,
                keep,
                "from numba.core.registry import CPUDispatcher as _C\n"
                "class _Fake(_C):\n    def __init__(self, f=None, **k):\n        self.f = f\n"
                "    def __call__(self, *a):\n        return self.f(*a)\n"
                "njit = lambda f=None, **k: _Fake(f) if f is not None else _Fake\n",
            ),
            KERNELS9,
            "plain Python",
        ),
        "the dispatcher's call patched, hidden in exec": (
            _with_cells(
                CHAPTER10,
                keep,
                'exec("from numba.core.registry import CPUDispatcher as C\\n" + '  # built: not read
                '"C.__call__ = lambda self, *a, **k: self.py_func(*a, **k)")\n',
            ),
            KERNELS9,
            "changed Numba's dispatcher",
        ),
        "Numba's object mode inside the kernel": (
            _with_cells(
                CHAPTER10,
                {
                    name: (
                        lambda source: source.replace(
                            "    # BEGIN SOLUTION\n",
                            "    # BEGIN SOLUTION\n    with numba.objmode():\n        pass\n",
                        )
                    )
                    for name in KERNELS9
                },
                "import numba\n",
            ),
            KERNELS9,
            "object mode",
        ),
        "a serial loop where the task asks for prange": (
            _with_cells(
                CHAPTER10, {"relu_backward_numba": lambda source: source.replace("prange(", "range(")}
            ),
            ("relu_backward_numba",),
            "must run in parallel",
        ),
        # the emulator is no longer used where the cells run: the grader's own process for
        # CUDA compiles the blank kernels (issue 68)
        "the CUDA emulator replaced by a built name, kernels left blank": (
            _with_cells(CHAPTER11, blank, FAKE_EMULATOR),
            KERNELS10,
            "not implemented yet",
        ),
        "a layer class changed under the frozen-layers probe": (
            _with_cells(CHAPTER9, {}, "from minidl.nn import layers as L\nL.Layer.trainable = True\n"),
            ("freeze_all_but_last", "discriminative_fine_tune_step"),
            "changes modules",
        ),
    }


@pytest.mark.parametrize("mode", ["isolated where it can", "--no-isolation"])
def test_forged_evidence_scores_zero_and_the_honest_notebooks_keep_theirs(tmp_path, mode):
    """Neither the grader's reading nor the captured classes depend on bubblewrap."""
    spoofs = _spoofs()
    folder = tmp_path / "subs"
    folder.mkdir()
    for i, (nb, _, _) in enumerate(spoofs.values()):
        (folder / f"spoof_{i}.ipynb").write_text(json.dumps(nb))
    for source in (CHAPTER10, CHAPTER11, CHAPTER9):
        (folder / f"honest_{source.name}").write_bytes(source.read_bytes())
    options = ["--no-isolation"] if mode == "--no-isolation" else []
    graded = grade_batch(folder, "--seed", "3", "--timeout", "30", *options)
    for source in (CHAPTER10, CHAPTER11, CHAPTER9):
        honest = graded[f"honest_{source.name}"]
        assert all(t["status"] == "passed" for t in honest["tests"]), honest["tests"]
    for i, (name, (_, targets, words)) in enumerate(spoofs.items()):
        tests = {t["name"]: t for t in graded[f"spoof_{i}.ipynb"]["tests"]}
        for exercise in targets:
            assert tests[exercise]["score"] == 0, (name, exercise, tests[exercise])
            assert words in tests[exercise]["output"], (name, exercise, tests[exercise]["output"])
        others = [t for n, t in tests.items() if n not in targets]
        assert all(t["status"] == "passed" for t in others), (name, others)
