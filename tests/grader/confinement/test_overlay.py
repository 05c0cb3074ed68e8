"""Forbids by construction (issue 56, item 1): what an exercise forbids is not in its process.

Before, the forbids were read from the cell's source and swapped at call time: an object
captured when the cell ran (a default argument, a closure, ``pickle``, a copy of the library's
own file, a ``%time`` line, ``exec`` of a one-line string) kept the real class, and chapter 1's
``linear_regression_gradient`` scored full marks through ``MeanSquaredError``'s backward. Now
the process that grades it imports a minidl in which ``MeanSquaredError`` (and the rest of
what the spec forbids) is a stand-in that raises: each attack below scores 0, and the honest
notebook keeps full marks.
"""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from minidl_grader import notebook
from minidl_grader.confinement import isolation

from tests.grader.grading_answers import grade_batch

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[3]
CHAPTER1 = ROOT / "solutions" / "01_linear_models.ipynb"
EXERCISE = "linear_regression_gradient"  # its spec forbids minidl.nn.losses.MeanSquaredError
HEAD = "def linear_regression_gradient(X, y, w, b, sample_weight, lam{extra}):\n"
USE = (
    "    loss = {cls}()\n    loss(X @ w + b, y)\n"
    "    g = loss.backward() * len(y) * sample_weight / sample_weight.sum()\n"
    "    return X.T @ g + 2 * lam * w, float(g.sum())\n"
)
PICKLED = b"cminidl.nn.losses\nMeanSquaredError\np0\n."

ATTACKS = {
    "a default argument taken through sys.modules": (
        "import sys\n"
        + HEAD.format(extra=", _L=vars(sys.modules['minidl.nn.' + 'losses'])['MeanSquared' + 'Error']")
        + USE.format(cls="_L")
    ),
    "a closure over vars(minidl)": (
        "import minidl\n\n\ndef _make():\n"
        "    L = getattr(vars(minidl)['los' + 'ses'], 'MeanSquared' + 'Error')\n\n"
        "    def linear_regression_gradient(X, y, w, b, sample_weight, lam):\n"
        "        loss = L()\n"
        "        loss(X @ w + b, y)\n"
        "        g = loss.backward() * len(y) * sample_weight / sample_weight.sum()\n"
        "        return X.T @ g + 2 * lam * w, float(g.sum())\n\n"
        "    return linear_regression_gradient\n\n\nlinear_regression_gradient = _make()\n"
    ),
    "unpickled from bytes": (
        "import pickle\n" + HEAD.format(extra=f", _L=pickle.loads({PICKLED!r})") + USE.format(cls="_L")
    ),
    "a copy of the library's own file": (
        "import importlib, inspect\n"
        "_losses = importlib.import_module('minidl.nn.' + 'losses')\n"
        "_space = {'__name__': 'copied', '__package__': 'minidl.nn'}\n"
        "exec(open(inspect.getsourcefile(_losses)).read(), _space)\n"
        + HEAD.format(extra=", _L=_space['MeanSquared' + 'Error']")
        + USE.format(cls="_L")
    ),
    "a %time line": (
        "%time _L = __import__('minidl.nn.losses', fromlist=['x']).MeanSquaredError\n"
        + HEAD.format(extra=", _L=_L")
        + USE.format(cls="_L")
    ),
    "exec of a one-line string": (
        'exec("from minidl.nn.losses import MeanSquaredError as _L")\n'
        + HEAD.format(extra=", _L=_L")
        + USE.format(cls="_L")
    ),
}


def _chapter1_with(answer: str) -> dict:
    nb = copy.deepcopy(notebook.read_notebook(CHAPTER1))
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == EXERCISE:
            cell["source"] = answer
    return nb


@pytest.mark.parametrize("mode", ["isolated where it can", "--no-isolation"])
def test_a_forbidden_object_captured_when_the_cell_runs_is_a_stand_in(tmp_path, mode):
    folder = tmp_path / "subs"
    folder.mkdir()
    for i, answer in enumerate(ATTACKS.values()):
        (folder / f"attack_{i}.ipynb").write_text(json.dumps(_chapter1_with(answer)))
    (folder / "honest.ipynb").write_bytes(CHAPTER1.read_bytes())
    options = ["--no-isolation"] if mode == "--no-isolation" else []
    graded = grade_batch(folder, "--seed", "5", "--timeout", "30", *options)
    honest = graded["honest.ipynb"]
    assert all(t["status"] == "passed" for t in honest["tests"]), honest["tests"]
    for i, name in enumerate(ATTACKS):
        tests = {t["name"]: t for t in graded[f"attack_{i}.ipynb"]["tests"]}
        test = tests[EXERCISE]
        assert test["score"] == 0, (name, test)
        assert "forbidden in this assignment" in test["output"] or "which computes what" in test["output"], (
            name,
            test["output"],
        )
        others = [t for n, t in tests.items() if n != EXERCISE]
        assert all(t["status"] == "passed" for t in others), (name, others)


def test_allow_keeps_the_allowed_class_and_what_it_needs(tmp_path):
    """``--allow MeanSquaredError`` gives the real class back: the attack then scores as a
    right answer (what it is)."""
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "pickled.ipynb").write_text(json.dumps(_chapter1_with(ATTACKS["unpickled from bytes"])))
    (folder / "honest.ipynb").write_bytes(CHAPTER1.read_bytes())
    graded = grade_batch(folder, "--seed", "5", "--timeout", "30", "--allow", "MeanSquaredError")
    tests = {t["name"]: t for t in graded["pickled.ipynb"]["tests"]}
    assert tests[EXERCISE]["score"] == tests[EXERCISE]["max_score"], tests


def test_every_spec_forbid_is_left_out_and_the_library_still_imports(tmp_path):
    """For every set of forbids a probe that only calls the answer gets, the copy of minidl
    imports (with Numba, the emulator, the gallery and the zoo), every forbidden name is a
    stand-in that raises PermissionError, and no line of its real definition is left in the file."""
    from minidl_grader import runner
    from minidl_grader.judge import registry

    sets = {
        tuple(sorted(e.forbids))
        for chapter in registry.chapters()
        for e in registry.for_chapter(chapter)
        if e.probe in runner.RUN_TIME_FORBIDS and e.forbids
    }
    assert len(sets) > 20
    probe = (
        "import importlib, sys, types\n"
        "import minidl, minidl.gallery, minidl.zoo\n"
        "bad = []\n"
        "for name in sys.argv[1:]:\n"
        # another library (nltk, scipy) is refused by its spelling, not left out of the copy
        "    if name.split('.')[0] not in ('minidl', 'minidl_keras'):\n"
        "        continue\n"
        "    if name == 'minidl_keras':\n"
        "        try:\n            import minidl_keras\n            bad.append(name)\n"
        "        except PermissionError:\n            pass\n"
        "        continue\n"
        "    parent, _, attr = name.rpartition('.')\n"
        "    try:\n        found = importlib.import_module(name)\n"
        "    except ImportError:\n        found = getattr(importlib.import_module(parent), attr)\n"
        "    items = [v for v in vars(found).values() if getattr(v, '__module__', None) == found.__name__]"
        " if isinstance(found, types.ModuleType) else [found]\n"
        "    for item in items:\n"
        "        try:\n            item()\n            bad.append(repr(item))\n"
        "        except PermissionError as err:\n"
        "            assert 'forbidden in this assignment' in str(err)\n"
        "        except Exception as err:\n            bad.append(f'{item!r}: {err!r}')\n"
        "print(bad)\nassert not bad\n"
    )
    for names in sorted(sets):
        root = isolation.build_runtime(names)
        run = subprocess.run(
            [sys.executable, "-s", "-c", probe, *names],
            env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin", "MINIDL_BACKEND": "numpy"},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,  # not the repository root, whose minidl/ would come first
        )
        assert run.returncode == 0, (names, run.stdout[-2000:], run.stderr[-2000:])
    pool = Path(isolation.build_runtime(("minidl.nn.layers.MaxPool2D",))) / "minidl/nn/layers/conv.py"
    text = pool.read_text()
    assert "class MaxPool2D:  # left out by the grader" in text
    assert "def backward" in text  # Conv2D's, still there: only what is forbidden is left out


def test_a_stand_in_keeps_its_kind_and_indentation():
    from minidl_grader.confinement import overlay

    source = (
        "import numba\n\n\n@numba.njit\ndef f(x):\n    return x\n\n\n"
        "try:\n    class C(object):\n        def m(self):\n            return 1\nexcept ImportError:\n    C = None\n"
        "g = f\n"
    )
    written = overlay.rewrite(source, {"f": ("m.f", "m.f"), "C": ("m.C", "m")})
    space: dict = {}
    exec(compile(written, "m", "exec"), space)
    with pytest.raises(PermissionError, match="m.f is forbidden in this assignment"):
        space["f"](1)
    with pytest.raises(PermissionError, match="its spec forbids m"):
        space["C"]()
    assert space["g"] is space["f"] and "return x" not in written and "numba.njit" not in written
