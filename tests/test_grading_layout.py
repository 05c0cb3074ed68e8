"""The grader's folders follow its concerns (issue 26), and every old import path works."""

import ast
import importlib
from pathlib import Path

import pytest

import minidl.grading as grading

GRADING = Path(grading.__file__).parent


@pytest.mark.parametrize("old", sorted(grading.OLD_NAMES))
def test_every_old_name_is_the_new_module(old):
    before = importlib.import_module(f"minidl.grading.{old}")
    after = importlib.import_module(f"minidl.grading.{grading.OLD_NAMES[old]}")
    assert before is after
    assert getattr(grading, old) is after  # `from minidl.grading import codec` too


def test_old_spellings_used_by_notebooks_and_checks_files():
    from minidl.grading import check, evaluate  # noqa: F401
    from minidl.grading.checks import Case, private_check  # noqa: F401
    from minidl.grading.private_checks import load_checks  # noqa: F401
    from minidl.grading.registry import function_exercise  # noqa: F401
    from minidl.grading.probes import PROBES

    assert "call" in PROBES


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
