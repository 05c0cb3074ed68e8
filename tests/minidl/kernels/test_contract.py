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


def violations(tier) -> list[str]:
    """What ``tier`` (a kernel module) lacks or gets wrong against the contract; [] when it conforms."""
    problems = []
    for name, kernel in contract.KERNELS.items():
        function = getattr(tier, name, None)
        if not callable(function):
            problems.append(f"{tier.__name__} has no kernel {name}{kernel.params}")
            continue
        params = tuple(inspect.signature(function).parameters)
        if params != kernel.params:
            problems.append(f"{tier.__name__}.{name}{params} != contract {name}{kernel.params}")
    return problems


@pytest.mark.parametrize("tier", TIERS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_tier_implements_every_kernel_of_the_contract(tier):
    assert violations(tier) == []


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
    assert {"optim", "conv", "pool", "batchnorm", "recurrent", "loss", "dropout", "attention"} <= set(
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
    """No file of ``minidl/kernels`` over 500 lines (docs/ARCHITECTURE.md): a large family gets its own module."""
    files = sorted((PACKAGE_DIR / "kernels").rglob("*.py"))
    assert len(files) > 20  # the tiers are folders of family modules
    long = {str(f.relative_to(PACKAGE_DIR)): n for f in files if (n := len(f.read_text().splitlines())) > 500}
    assert long == {}


@pytest.mark.parametrize("tier", TIERS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_a_tier_s_names_are_the_contract_s_taken_from_its_family_modules(tier):
    """No tier lists kernel names by hand: its ``__init__`` takes them from the contract."""
    assert contract.tier_kernels(tier.__name__) == {name: getattr(tier, name) for name in contract.KERNELS}
    assert set(contract.KERNELS) <= set(tier.__all__)
    source = (PACKAGE_DIR / "kernels" / tier.__name__.rsplit(".", 1)[-1] / "__init__.py").read_text()
    code = source.split('"""', 2)[2]  # after the docstring (which may name a kernel as an example)
    assert "tier_kernels(__name__)" in code
    assert not [name for name in contract.KERNELS if re.search(rf"\b{name}\b", code)]


# A throwaway kernel family, written as docs/ARCHITECTURE.md ("Adding a kernel") says: its
# contract entry, its three tier modules and its CUDA source (the sixth edit, a row of the
# conformance table, is held by test_the_conformance_table_covers_the_contract).
THROWAWAY_ENTRY = """
        "scale_forward": _k("scale", "x factor", "y = factor x"),
"""
THROWAWAY = {
    "reference/scale.py": '''"""y = factor x."""


def scale_forward(x, factor):
    return factor * x
''',
    "cpu/scale.py": '''"""y = factor x, by Numba."""

import numpy as np
from numba import njit


@njit(cache=False)
def _scale(x, factor, y):
    for i in range(x.size):
        y[i] = factor * x[i]


def scale_forward(x, factor):
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    _scale(x.reshape(-1), x.dtype.type(factor), y.reshape(-1))
    return y
''',
    "gpu/scale.py": '''"""y = factor x (cuda/scale.cu), one thread per element."""

import numpy as np

from .launch import contiguous, launch


def scale_forward(x, factor):
    xp, x = contiguous(x)
    y = xp.empty_like(x)
    launch("scale.cu", "scale_forward", x.size, (x, y, x.dtype.type(factor), np.int64(x.size)))
    return y
''',
    "cuda/scale.cu": """#ifndef REAL_T
#define REAL_T float
#endif
typedef REAL_T real_t;

extern "C" __global__ void scale_forward(const real_t* x, real_t* y, real_t factor, long long size)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    y[i] = factor * x[i];
}
""",
}


def _kernels_copy(tmp_path, files):
    """A copy of ``minidl/kernels`` as the top-level package ``kcopy``, with the throwaway
    family's entry in its contract and ``files`` (path in the package -> text) added."""
    import shutil

    copy = tmp_path / "kcopy"
    shutil.copytree(PACKAGE_DIR / "kernels", copy, ignore=shutil.ignore_patterns("__pycache__"))
    text = (copy / "contract.py").read_text()
    end = text.index("\n    }\n)\n")  # the end of the KERNELS table
    (copy / "contract.py").write_text(text[:end] + THROWAWAY_ENTRY.rstrip() + text[end:])
    for path, source in files.items():
        (copy / path).write_text(source)
    return copy


def _import_tiers(tmp_path, code):
    import subprocess
    import sys

    prelude = "import sys; sys.path.insert(0, sys.argv[1]); import numpy as np\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code, str(tmp_path)], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow  # Numba and the emulator's C++ compiler in a fresh process: several seconds
def test_a_new_kernel_family_is_its_entry_three_tier_modules_and_its_cuda_source(tmp_path):
    from minidl.kernels import emulate

    _kernels_copy(tmp_path, THROWAWAY)
    run = _import_tiers(
        tmp_path,
        "import inspect\nfrom kcopy import contract, cpu, gpu, reference\n"
        + inspect.getsource(violations)  # here against the copy's contract, with the new family
        + "for tier in (reference, cpu, gpu):\n"
        "    assert violations(tier) == [], violations(tier)\n"
        "    assert tier.scale_forward.__module__ == tier.__name__ + '.scale' and 'scale_forward' in tier.__all__\n"
        "x = np.arange(5.0)\n"
        "assert (cpu.scale_forward(x, 3.0) == reference.scale_forward(x, 3.0)).all()\n"
        f"if {emulate.compiler() is not None}:  # the launcher runs cuda/scale.cu in the emulator\n"
        "    assert (gpu.scale_forward(x, 3.0) == 3.0 * x).all()\n"
        "print('ok', contract.FAMILIES['scale'])\n",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["ok", "('scale_forward',)"]


def test_a_family_without_its_tier_module_fails_the_import_with_what_is_missing(tmp_path):
    files = {path: text for path, text in THROWAWAY.items() if path != "reference/scale.py"}
    _kernels_copy(tmp_path, files)
    run = _import_tiers(tmp_path, "import kcopy.reference\n")
    assert run.returncode == 1
    assert (
        "ImportError: the kernel contract's family 'scale' ('scale_forward',) has no module in the tier "
        "kcopy.reference: expected kcopy.reference.scale (kcopy/reference/scale.py)" in run.stderr
    )
    files["reference/scale.py"] = "def scale(x, factor):\n    return factor * x\n"  # the kernel misnamed
    _kernels_copy(tmp_path / "again", files)
    run = _import_tiers(tmp_path / "again", "import kcopy.reference\n")
    assert (
        "kcopy.reference.scale does not define the contract's kernel scale_forward('x', 'factor')"
        in run.stderr
    )


def test_the_architecture_page_lists_the_edits_of_a_new_kernel_family():
    """docs/ARCHITECTURE.md's list is the one the throwaway family above follows."""
    page = (PACKAGE_DIR.parent / "docs" / "ARCHITECTURE.md").read_text()
    section = page.split("## Adding a kernel\n", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"^\d\. `([^`]+)`", section, re.MULTILINE)
    assert named == [
        "minidl/kernels/contract.py",
        *(f"minidl/kernels/{path.replace('scale', '<family>')}" for path in THROWAWAY),
        "tests/minidl/kernels/kernel_cases.py",
    ]


def test_violations_names_a_missing_kernel_and_a_wrong_signature():
    """The check itself can fail: a tier with one kernel wrong and the rest missing."""
    tier = types.ModuleType("fake_tier")
    tier.im2col = lambda x, kh, kw, sh, sw, ph: None  # pw missing
    problems = violations(tier)
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
# Process settings, not data: whether OpenBLAS's products run on Numba's threads (blas_pool),
# like the thread counts backend.set_threads keeps in the libraries themselves, and the addresses
# of its functions.
PROCESS_SETTINGS = {"blas_pool._state"}


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
    from numba.core.extending import _Intrinsic
    from numba.core.types import Type

    short = module.__name__.rsplit(".", 1)[-1]
    return [
        f"{module.__name__}.{name}"
        for name, value in vars(module).items()
        if not (name.startswith("__") and name.endswith("__"))  # __all__, __doc__, ...
        and not _immutable(value)
        and not isinstance(value, (Dispatcher, _Intrinsic, Type))  # compiled code, Numba's types
        and f"{short}.{name}" not in COMPILED_CACHES | PROCESS_SETTINGS
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
