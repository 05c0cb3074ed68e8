"""The grader's folders follow its concerns (issue 26); it is its own distribution (issue 40)
and answers only to the import paths of its files."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import minidl_grader as grading
import pytest

GRADING = Path(grading.__file__).parent
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("old", ["probes", "registry", "judging", "checks", "checking", "report"])
def test_old_import_paths_are_gone(old):
    """Import paths are file paths: the grader's old flat module names are gone (and
    minidl.grading with them: see test_the_grader_is_its_own_distribution)."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"minidl_grader.{old}")


def test_the_import_paths_notebooks_and_checks_files_use():
    from minidl_grader import check, evaluate  # noqa: F401
    from minidl_grader.judge.private_checks import Case, load_checks, private_check  # noqa: F401
    from minidl_grader.judge.registry import function_exercise  # noqa: F401
    from minidl_grader.runtime.probes import PROBES

    assert "call" in PROBES


def test_the_grader_is_its_own_distribution():
    """grader/ holds the package, its pyproject.toml (console command minidl-grade) and README."""
    pyproject = (ROOT / "grader" / "pyproject.toml").read_text()
    assert 'name = "minidl-grader"' in pyproject
    assert 'minidl-grade = "minidl_grader.__main__:main"' in pyproject
    assert (ROOT / "grader" / "README.md").is_file()
    assert not (ROOT / "minidl" / "grading").exists()


def test_python_m_minidl_grade_grades_nothing_and_says_how_to_install_the_grader():
    run = subprocess.run(
        [sys.executable, "-m", "minidl", "grade", "solutions/03_backpropagation.ipynb"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode != 0
    assert "pip install ./grader" in run.stderr and "minidl-grade" in run.stderr
    assert "score" not in run.stdout.lower()


def _imports(path: Path) -> set[str]:
    """The grading sub-packages and top-level modules ``path`` imports relatively."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            package = path.parent.relative_to(GRADING).parts
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = (*base, *(node.module.split(".") if node.module else ()))
            found.add(target[0] if target else (node.names[0].name if node.names else ""))
    return found


def test_the_runtime_imports_nothing_of_the_grader():
    """runtime/ is copied into the sandbox alone: it may import only itself."""
    for path in (GRADING / "runtime").glob("*.py"):
        assert _imports(path) <= {"runtime", "codec", "probes", "sandbox"}, path.name


def test_judging_and_confinement_do_not_import_each_other():
    for path in (GRADING / "judge").glob("*.py"):
        assert not _imports(path) & {"confinement", "reports", "runner", "cli"}, path.name
    for path in (GRADING / "confinement").glob("*.py"):
        assert not _imports(path) & {"judge", "reports", "runner", "cli", "specs"}, path.name
