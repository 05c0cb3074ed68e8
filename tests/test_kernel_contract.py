"""One contract per tier: ``minidl/kernels/contract.py`` declares every kernel; every tier has
it with the same parameters; the conformance table has a row for it; the layers call only
declared kernels, and never choose their algorithm by tier.

``test_conformance.py`` then checks that each tier computes what the reference computes.
"""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

import kernel_cases as kc
from minidl.kernels import contract, cpu, gpu, reference

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "minidl"
TIERS = [reference, cpu, gpu]


@pytest.mark.parametrize("tier", TIERS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_tier_implements_every_kernel_of_the_contract(tier):
    assert contract.violations(tier) == []


def test_the_reference_has_no_kernel_outside_the_contract():
    public = {
        name
        for name, fn in inspect.getmembers(reference, inspect.isfunction)
        if not name.startswith("_") and fn.__module__ == reference.__name__
    }
    assert public == set(contract.KERNELS), (
        f"not declared: {sorted(public - set(contract.KERNELS))}; "
        f"declared but missing: {sorted(set(contract.KERNELS) - public)}"
    )


def test_the_conformance_table_covers_the_contract():
    assert set(kc.TABLE) == set(contract.KERNELS)


def test_the_contract_lists_the_families_and_their_math():
    assert {"optim", "conv", "pool", "batchnorm", "recurrent", "loss", "dropout", "attention"} == set(
        contract.FAMILIES
    )
    assert set(contract.FAMILIES["optim"]) == {
        "sgd_update",
        "rmsprop_update",
        "adagrad_update",
        "adam_update",
    }
    assert all(kernel.math and kernel.params for kernel in contract.KERNELS.values())


def test_violations_names_a_missing_kernel_and_a_wrong_signature():
    """The check itself can fail: a tier with one kernel wrong and the rest missing."""
    tier = types.ModuleType("fake_tier")
    tier.im2col = lambda x, kh, kw, sh, sw, ph: None  # pw missing
    problems = contract.violations(tier)
    assert (
        "fake_tier.im2col('x', 'kh', 'kw', 'sh', 'sw', 'ph') != contract im2col"
        in problems[list(contract.KERNELS).index("im2col")]
    )
    assert any(p.startswith("fake_tier has no kernel sgd_update") for p in problems)
    assert len(problems) == len(contract.KERNELS)


CALL = re.compile(r"(?:kernels_for\([^()]*\)|\bkernels)\.(\w+)\(")


def _library_sources():
    for floor in ("nn", "training"):
        yield from sorted((PACKAGE_DIR / floor).rglob("*.py"))


def test_layers_and_optimizers_call_only_declared_kernels():
    calls = {(path.name, name) for path in _library_sources() for name in CALL.findall(path.read_text())}
    assert {name for _, name in calls} >= {
        "sgd_update",
        "rmsprop_update",
        "adagrad_update",
        "adam_update",
        "lstm_forward_sequence",
        "batchnorm_forward",
        "im2col",
    }
    undeclared = sorted((file, name) for file, name in calls if name not in contract.KERNELS)
    assert not undeclared, f"calls to kernels the contract does not declare: {undeclared}"


def test_no_layer_chooses_its_algorithm_by_tier():
    """Switching tier changes kernels, never the algorithm: nn/ and training/ never ask which tier runs."""
    offenders = [
        f"{path.relative_to(PACKAGE_DIR)}:{n}"
        for path in _library_sources()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "backend.current()" in line or "kernels.reference" in line or "kernels.cpu" in line
    ]
    assert not offenders, offenders


def test_import_minidl_changes_no_environment_variable():
    """Thread settings are the program's choice (``backend.wait_passively``), not an import's."""
    import subprocess
    import sys

    code = (
        "import os; before = dict(os.environ); import minidl, minidl.nn, minidl.training; "
        "import minidl.kernels.cpu; print(sorted(set(os.environ.items()) ^ set(before.items())))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PACKAGE_DIR.parent)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_command_line_asks_for_passive_waiting(monkeypatch):
    from minidl import backend

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert backend.wait_passively() == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert backend.wait_passively() == "ACTIVE"  # the user's choice wins


def test_keep_freed_memory_is_the_programs_choice():
    """``import minidl`` leaves glibc's malloc alone; ``keep_freed_memory`` asks it (True where
    glibc agrees: Linux), and the command line asks it before anything runs."""
    import subprocess
    import sys

    from minidl import backend

    code = "from minidl import backend; print(backend.keep_freed_memory())"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PACKAGE_DIR.parent)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    expected = sys.platform.startswith("linux") and "glibc" in " ".join(__import__("platform").libc_ver())
    assert out.stdout.strip() == str(expected)
    assert "backend.keep_freed_memory()" in (PACKAGE_DIR / "__main__.py").read_text()
    assert "keep_freed_memory" not in (PACKAGE_DIR / "__init__.py").read_text()
    assert backend.keep_freed_memory.__doc__ and "python -m minidl" in backend.keep_freed_memory.__doc__
