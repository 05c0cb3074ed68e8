"""Isolation works wherever the grader's Python lives (issue 27), and every copy of minidl
the sandbox could see is masked.

Only a missing ``bwrap`` may skip an isolation test: where it is installed and cannot
isolate, ``test_isolation_works_wherever_bwrap_is_installed`` fails and says why.
"""

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
from minidl_grader import notebook
from minidl_grader.confinement import isolation
from minidl_grader.judge import registry

pytestmark = pytest.mark.sandbox  # grades in confined processes: make test, not make test-unit

ROOT = Path(__file__).resolve().parents[3]
CHAPTER3 = ROOT / "solutions" / "03_backpropagation.ipynb"
SECRET = "second-copy-secret-5150"
needs_bwrap = pytest.mark.skipif(isolation.bwrap_missing(), reason="bubblewrap (bwrap) is not installed")


@needs_bwrap
def test_isolation_works_wherever_bwrap_is_installed():
    isolated, why = isolation.isolation_status()
    assert isolated, f"bwrap is installed but cannot isolate a submission: {why}"


def test_the_private_tmp_is_mounted_before_python(monkeypatch):
    """A Python under /tmp is bound over the private /tmp, not hidden beneath it."""
    monkeypatch.setattr(isolation, "_python_roots", lambda: ["/tmp/ci/venv"])
    args = isolation.bwrap_command("/tmp/runtime", 2**20, {})
    tmpfs = args.index("/tmp", args.index("--tmpfs"))
    python = args.index("/tmp/ci/venv")
    assert args[python - 1] == "--ro-bind" and tmpfs < python


def test_every_copy_of_minidl_in_a_mounted_folder_is_found(tmp_path):
    packages = tmp_path / "lib" / "python3.11" / "site-packages"
    (packages / "minidl").mkdir(parents=True)
    (packages / "minidl_grader").mkdir()
    (packages / "renamed" / "specs").mkdir(parents=True)
    (packages / "renamed" / "specs" / "ch01.py").write_text("")
    (packages / "old_minidl" / "grading" / "specs").mkdir(parents=True)
    (packages / "numpyish" / "specs").mkdir(parents=True)  # specs, but no chapter's
    found = isolation.minidl_copies([str(tmp_path)])
    assert sorted(Path(p).name for p in found) == ["minidl", "minidl_grader", "old_minidl", "renamed"]


@pytest.fixture(scope="module")
def venv_under_tmp(tmp_path_factory):
    """A virtual environment under /tmp (as in CI containers) that sees this one's packages
    and holds three more copies of the grader's references in its site-packages."""
    where = tmp_path_factory.mktemp("venv")
    if not str(where).startswith("/tmp/"):
        pytest.fail(f"pytest's temporary folder is not under /tmp ({where}): set --basetemp")
    venv = where / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (packages / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    for specs in (
        packages / "minidl_grader" / "specs",
        packages / "grader_copy" / "specs",
        packages / "minidl" / "grading" / "specs",
    ):
        specs.mkdir(parents=True)
        (specs / "__init__.py").write_text("")
        (specs / "ch03.py").write_text(f"ANSWER = {SECRET!r}\n")
    return python, packages


def _hunting_notebook(path: Path, packages: Path) -> None:
    """Chapter 3 whose weight_norm_backward answers right only if it can read a copy's secret."""
    hunt = (
        "import glob, sys\n"
        "def weight_norm_backward(dy, x, v, g):\n"
        f"    paths = glob.glob({str(packages)!r} + '/*/specs/ch03.py')\n"
        f"    paths += glob.glob({str(packages)!r} + '/*/grading/specs/ch03.py')\n"
        "    paths += [p for d in sys.path for p in glob.glob(d + '/*/specs/ch03.py')]\n"
        "    text = ''.join(open(p).read() for p in paths)\n"
        f"    if {SECRET!r} in text:\n"
        "        n = (v * v).sum(axis=0) ** 0.5\n"
        "        dg = (x.T @ dy * v / n).sum(axis=0)\n"
        "        return dy @ (g * v / n).T, g * (x.T @ dy - dg * v / n) / n, dg, dy.sum(axis=0)\n"
        "    return None\n"
    )
    nb = notebook.read_notebook(CHAPTER3)
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "weight_norm_backward":
            cell["source"] = hunt
    notebook.write_notebook(nb, path)


@needs_bwrap
def test_a_grader_under_tmp_isolates_and_masks_every_copy(venv_under_tmp, tmp_path):
    python, packages = venv_under_tmp
    _hunting_notebook(tmp_path / "hunt.ipynb", packages)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "grader")]))
    run = subprocess.run(
        [
            str(python),
            "-m",
            "minidl_grader",
            "grade",
            str(tmp_path / "hunt.ipynb"),
            "--require-isolation",
            "--timeout",
            "30",
            "--json",
            str(tmp_path / "out.json"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["extra_data"]["isolated"] is True
    scores = {t["name"]: t["score"] for t in data["tests"]}
    assert scores["weight_norm_backward"] == 0, data
    others = (
        sum(e.points for e in registry.for_chapter("03_backpropagation"))
        - registry.get("weight_norm_backward").points
    )
    assert data["score"] == others
