"""One contract per tier: ``minidl/kernels/contract.py`` declares every kernel; every tier has
it with the same parameters; the conformance table has a row for it; the layers call only
declared kernels, and never choose their algorithm by tier.

``tests/minidl/kernels/test_conformance.py`` then checks that each tier computes what the reference computes.
"""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

from minidl.kernels import contract, cpu, gpu, reference
from tests.minidl.kernels import kernel_cases as kc

PACKAGE_DIR = Path(__file__).resolve().parents[3] / "minidl"
TIERS = [reference, cpu, gpu]


@pytest.mark.parametrize("tier", TIERS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_tier_implements_every_kernel_of_the_contract(tier):
    assert contract.violations(tier) == []


def test_the_reference_has_no_kernel_outside_the_contract():
    public = {
        name
        for name, fn in inspect.getmembers(reference, inspect.isfunction)
        if not name.startswith("_") and fn.__module__.startswith(reference.__name__ + ".")
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


@pytest.mark.parametrize("tier", TIERS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_each_family_lives_in_the_tier_module_of_its_name(tier):
    """The tiers mirror each other by family: ``reference/conv.py`` beside ``cpu/conv.py`` beside
    ``gpu/conv.py``, so a reader who knows a kernel's family knows its three files."""
    misplaced = [
        f"{tier.__name__}.{name} is defined in {getattr(tier, name).__module__}"
        for name, kernel in contract.KERNELS.items()
        if getattr(tier, name).__module__ != f"{tier.__name__}.{kernel.family}"
    ]
    assert misplaced == []


def test_every_kernel_file_is_one_a_reader_can_hold():
    """No file of ``minidl/kernels`` over 500 lines (DESIGN.md): a large family gets its own module."""
    files = sorted((PACKAGE_DIR / "kernels").rglob("*.py"))
    assert len(files) > 20  # the tiers are folders of family modules
    long = {str(f.relative_to(PACKAGE_DIR)): n for f in files if (n := len(f.read_text().splitlines())) > 500}
    assert long == {}


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


# ------------------------------------------------------------------ no hidden state in the kernels
def _kernel_modules():
    """Every module of ``minidl/kernels``: the package, its files and each tier's family modules."""
    import importlib
    import pkgutil

    import minidl.kernels as package

    return [package] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    ]


#: the one kind of state a kernel module may hold: caches of compiled code (Numba's dispatchers
#: are allowed as a kind; these are the ``functools`` caches, named so that a new one is a decision)
COMPILED_CACHES = {"launch._cuda_module", "launch._cuda_kernel", "emulate.load_module"}


def _immutable(value) -> bool:
    """Whether ``value`` can hold no state: numbers, strings, dtypes, paths, patterns, types,
    and tuples, frozensets and read-only mappings of such."""
    import __future__

    import re
    from pathlib import PurePath
    from types import MappingProxyType

    import numpy as np

    if value is None or isinstance(
        value, (bool, int, float, complex, str, bytes, np.generic, np.dtype, PurePath, re.Pattern)
    ):
        return True
    if isinstance(value, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
        return True
    if isinstance(value, __future__._Feature):  # from __future__ import annotations
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_immutable(item) for item in value)
    if isinstance(value, MappingProxyType):
        return all(_immutable(k) and _immutable(v) for k, v in value.items())
    return False


def mutable_globals(module) -> list[str]:
    """The module-level names of ``module`` that hold mutable state (a list, a dict, a
    ``threading.local``, an array, any other object), compiled-code caches aside."""
    from numba.core.dispatcher import Dispatcher

    short = module.__name__.rsplit(".", 1)[-1]
    return [
        f"{module.__name__}.{name}"
        for name, value in vars(module).items()
        if not (name.startswith("__") and name.endswith("__"))  # __all__, __doc__, ...
        and not _immutable(value)
        and not isinstance(value, Dispatcher)
        and f"{short}.{name}" not in COMPILED_CACHES
    ]


@pytest.mark.parametrize("module", _kernel_modules(), ids=lambda m: m.__name__)
def test_kernel_modules_hold_no_mutable_state(module):
    """What a backward needs travels in the layer's cache, never in a kernel module: no
    per-thread lists, no scratch buffers, no registries (tables are read-only mappings)."""
    assert mutable_globals(module) == []


def test_the_state_check_reaches_every_family_module():
    names = {module.__name__ for module in _kernel_modules()}
    assert {
        "minidl.kernels.cpu.conv",
        "minidl.kernels.gpu.launch",
        "minidl.kernels.reference.recurrent",
    } <= names


def test_the_state_check_finds_a_list_a_dict_and_a_thread_local():
    """The check itself can fail."""
    import threading
    from types import MappingProxyType

    fake = types.ModuleType("minidl.kernels.fake")
    fake.KEPT, fake.TABLE, fake.SCRATCH = [], {"a": 1}, threading.local()
    fake.FROZEN, fake.LIMIT = MappingProxyType({"a": (1, 2)}), 1 << 21
    fake.NESTED = (1, [2])  # a tuple holding a list is not frozen
    assert mutable_globals(fake) == [
        "minidl.kernels.fake.KEPT",
        "minidl.kernels.fake.TABLE",
        "minidl.kernels.fake.SCRATCH",
        "minidl.kernels.fake.NESTED",
    ]
