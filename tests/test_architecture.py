"""The package's import graph: one direction, no cycles, a light ``import minidl``.

The graph is read from the source with ``ast`` (no module is imported): every ``import``
and ``from ... import`` of a ``minidl`` module, at the top of a file or inside a function,
is an edge. ``from pkg import name`` is an edge to the submodule ``pkg.name`` when there is
one, else to ``pkg`` itself.

The layering, lowest first (docs/ARCHITECTURE.md, "The floors"; the project's design notes, "One
dependency direction").
The folders are the floors: ``kernels/``, ``nn/``, ``training/``, then what sits on top::

    0  kernels, _version
    1  backend
    2  datasets, plot                    (data and pictures: know nothing of networks)
    3  nn: configurable, initializers, regularizers, constraints, gradcheck, optim
    4  nn.layers | nn.losses             (siblings: neither imports the other)
    5  nn (the package's names)
    6  training: model, callbacks, data, metrics
    7  models
    8  gallery | zoo | exercises   (siblings; exercises: check() on public data)
    9  minidl (the package root: the public names)
    10 minidl.__main__ (the command line)

A module may import modules of its own group and of groups on lower levels, nothing else.
No module imports the package root (``import minidl``, ``from minidl import __version__``)
except ``__main__``, which sits above it. An import path is a file path: no import hook, no
alias module (the old paths ``minidl.layers``, ``minidl.model``, ... are gone; CHANGELOG.md).

The grader (``grader/minidl_grader``) and the Keras door (``keras_door/minidl_keras``) are
distributions of their own, above minidl and never imported by it; each has floors of its own,
``GRADER_GROUPS`` and ``KERAS_GROUPS``, checked by the same functions: ``FLOORS`` holds one table
per package, and another package is checked by adding its table there. The benchmarks
(``bench/``) are a tool of the repository, outside the installed minidl: nothing in minidl
imports them.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

# Import paths that named moved modules until the layout became the floors (CHANGELOG.md).
# They are gone: nothing in the repository may import them.
OLD_PATHS = {
    "minidl.layers": "minidl.nn.layers",
    "minidl.losses": "minidl.nn.losses",
    "minidl.optim": "minidl.nn.optim",
    "minidl.initializers": "minidl.nn.initializers",
    "minidl.regularizers": "minidl.nn.regularizers",
    "minidl.gradcheck": "minidl.nn.gradcheck",
    "minidl.model": "minidl.training.model",
    "minidl.callbacks": "minidl.training.callbacks",
    "minidl.data": "minidl.training.data",
    "minidl.metrics": "minidl.training.metrics",
    "minidl.augment": "minidl.training.augment",
}
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "minidl"
ROOT = "minidl"

# (group, level, the modules in it: a name covers the module and everything below it, but
# "minidl", the package root, covers the root only)
GROUPS = [
    ("kernels", 0, ["minidl.kernels"]),
    ("version", 0, ["minidl._version"]),
    ("backend", 1, ["minidl.backend"]),
    ("foundations", 2, ["minidl.datasets", "minidl.plot"]),
    (
        "nn-foundations",
        3,
        [
            "minidl.nn.configurable",
            "minidl.nn.initializers",
            "minidl.nn.regularizers",
            "minidl.nn.constraints",
            "minidl.nn.gradcheck",
            "minidl.nn.optim",
        ],
    ),
    ("layers", 4, ["minidl.nn.layers"]),
    ("losses", 4, ["minidl.nn.losses"]),
    ("nn", 5, ["minidl.nn"]),
    ("training", 6, ["minidl.training"]),
    ("model", 7, ["minidl.models"]),
    ("gallery", 8, ["minidl.gallery"]),
    ("zoo", 8, ["minidl.zoo"]),
    ("exercises", 8, ["minidl.exercises"]),
    ("root", 9, ["minidl"]),
    ("main", 10, ["minidl.__main__"]),
]
ENTRY_POINT = "minidl.__main__"  # the one module allowed to import the package root

# The grader's floors, lowest first (docs/ARCHITECTURE.md, "The grader's floors"): what runs in
# the sandbox; the walls around it and the judging (siblings); the exercises, built-in and an
# instructor's (they register into the judge's registry: the package root hands the registry
# ``specs.load_all``, so the registry imports no spec); what is shown and written; notebooks,
# public data and the catalogue of mistakes; grading one notebook and releasing exercises; the
# command line's ``grade``; the public names; ``python -m minidl_grader``.
GRADER_DIR = PACKAGE_DIR.parent / "grader" / "minidl_grader"
GRADER_GROUPS = [
    ("runtime", 0, ["minidl_grader.runtime"]),
    ("version", 0, ["minidl_grader._version"]),
    ("confinement", 1, ["minidl_grader.confinement"]),
    ("judge", 1, ["minidl_grader.judge"]),
    ("specs", 2, ["minidl_grader.specs"]),
    ("course", 2, ["minidl_grader.course"]),
    ("reports", 3, ["minidl_grader.reports", "minidl_grader.similarity"]),
    ("notebook", 4, ["minidl_grader.notebook"]),
    ("public", 4, ["minidl_grader.public"]),
    ("catalogue", 4, ["minidl_grader.catalogue"]),
    ("runner", 5, ["minidl_grader.runner"]),
    ("release", 5, ["minidl_grader.release"]),
    ("cli", 6, ["minidl_grader.cli"]),
    ("root", 7, ["minidl_grader"]),
    ("main", 8, ["minidl_grader.__main__"]),
]


@dataclass(frozen=True)
class Floors:
    """One package's floor table: its folder (whose name is the package's), its groups
    ``(group, level, modules)``, and the modules allowed to import its root."""

    package_dir: Path
    groups: list
    entry_points: tuple[str, ...]


# The Keras door (keras_door/, its own distribution), docs/ARCHITECTURE.md "The Keras door's
# floors": each module is a room of its own, and the rooms of a floor are listed in order: a room
# may import the rooms listed before it on its floor and any room of a lower floor, nothing else
# (a room's level is its floor plus its place on the floor / 100). So the table says exactly who
# may import whom, and an import of a later room on the same floor fails as an upward one.
KERAS_DIR = PACKAGE_DIR.parent / "keras_door" / "minidl_keras"
KERAS_FLOORS = [
    (
        "foundations",
        "_version config missing naming keras_api initializers layer_options conv1d separable weights layout fitting",
    ),
    (
        "parts",
        """constraints regularizers datasets utils activations backend callbacks losses metrics
        optimizers affine augmentation elementwise merging normalization preprocessing text pooling
        recurrent noise reshaping wrappers masking random""",
    ),
    ("tape", "graph keras_config ops custom model_file attention"),
    ("models", "functional layers models saving"),
]
KERAS_GROUPS = [
    (room, floor + place / 100, [f"minidl_keras.{room}"])
    for floor, (_, rooms) in enumerate(KERAS_FLOORS)
    for place, room in enumerate(rooms.split())
] + [("root", len(KERAS_FLOORS), ["minidl_keras"])]


# Every package of the repository whose import graph is checked: add a table to check another.
FLOORS = {
    "minidl": Floors(PACKAGE_DIR, GROUPS, (ENTRY_POINT,)),
    "minidl_grader": Floors(GRADER_DIR, GRADER_GROUPS, ("minidl_grader.__main__",)),
    "minidl_keras": Floors(KERAS_DIR, KERAS_GROUPS, ()),
}
ON_FIRST_USE = (
    "minidl.gallery",
    "minidl.zoo",
    "minidl.plot",
    "minidl.exercises",
)


# ============================================================================ reading the graph
def package_modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package."""
    root = package_dir.name
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((root,) + parts)] = path
    return modules


def _resolve(module: str, is_package: bool, target: str | None, level: int) -> str | None:
    """The absolute name ``from <level dots><target> import ...`` refers to inside ``module``."""
    if level == 0:
        return target
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, list[tuple[str, int]]]:
    """module -> [(imported module, line), ...] for the imports of modules of this package."""
    modules = package_modules(package_dir)
    root = package_dir.name
    graph = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        edges = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                edges += [(alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.module, node.level)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    edges.append((sub if sub in modules else base, node.lineno))
        graph[module] = [
            (target, line) for target, line in edges if target == root or target.startswith(root + ".")
        ]
    return graph


def group_of(module: str, groups=GROUPS) -> tuple[str, int] | None:
    """(group, level) of ``module``: the group with the longest name that covers it. A name
    covers its module and everything below it, but the package root's covers the root only
    (so a new module is on no floor until a table places it)."""
    best = None
    for name, level, prefixes in groups:
        for prefix in prefixes:
            if module == prefix or ("." in prefix and module.startswith(prefix + ".")):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), name, level)
    return None if best is None else best[1:]


# ============================================================================ the rules
def find_cycle(graph: dict) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state = {}  # module -> "open" while on the stack, then "done"

    def visit(module, path):
        state[module] = "open"
        for target, _ in graph.get(module, []):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state:
                found = visit(target, path + [target])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def wrong_way_imports(graph: dict, groups=GROUPS) -> list[str]:
    """Every import of a module in another group that is not on a lower level."""
    problems = []
    for module, edges in sorted(graph.items()):
        source = group_of(module, groups)
        for target, line in edges:
            goal = group_of(target, groups)
            if source is None or goal is None or source[0] == goal[0]:
                continue
            if goal[1] >= source[1]:
                way = "sideways" if goal[1] == source[1] else "upward"
                problems.append(
                    f"{module}:{line} imports {target} ({way}: {source[0]} is on level "
                    f"{source[1]}, {goal[0]} on level {goal[1]})"
                )
    return problems


def root_imports(graph: dict, root: str = ROOT, entry_points: tuple[str, ...] = (ENTRY_POINT,)) -> list[str]:
    return [
        f"{module}:{line} imports the package root {root}"
        for module, edges in sorted(graph.items())
        for target, line in edges
        if target == root and module != root and module not in entry_points
    ]


def floor_problems(floors: Floors) -> list[str]:
    """Everything wrong with one package's import graph against its floor table: a module on
    no floor, an import cycle, an import sideways or upward, an import of the package root."""
    graph = import_graph(floors.package_dir)
    problems = [f"{module} is on no floor" for module in graph if group_of(module, floors.groups) is None]
    cycle = find_cycle(graph)
    if cycle is not None:
        problems.append("import cycle: " + " -> ".join(cycle))
    problems += wrong_way_imports(graph, floors.groups)
    return problems + root_imports(graph, floors.package_dir.name, floors.entry_points)


# ============================================================================ the packages
GRAPHS = {name: import_graph(floors.package_dir) for name, floors in FLOORS.items()}
GRAPH = GRAPHS["minidl"]


def test_the_graph_is_read_from_the_source():
    assert any(t == "minidl.nn.layers.base" for t, _ in GRAPH["minidl.training.model"])
    assert any(t == "minidl.kernels.reference.optim" for t, _ in GRAPH["minidl.kernels.cpu.optim"])
    assert len(GRAPH) > 40
    grader = GRAPHS["minidl_grader"]
    assert any(t == "minidl_grader.judge.judging" for t, _ in grader["minidl_grader.reports.report"])
    assert any(t == "minidl_grader.runtime.codec" for t, _ in grader["minidl_grader.confinement.process"])
    assert len(grader) > 30


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_every_module_belongs_to_a_group(package):
    groups = FLOORS[package].groups
    assert [m for m in GRAPHS[package] if group_of(m, groups) is None] == []


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_no_import_cycle(package):
    cycle = find_cycle(GRAPHS[package])
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_imports_go_down_the_layers_only(package):
    assert wrong_way_imports(GRAPHS[package], FLOORS[package].groups) == []


_OLD_NAMES = "|".join(map(re.escape, OLD_PATHS))
_OLD_IMPORT = re.compile(
    rf"^\s*(?:from\s+({_OLD_NAMES})(?:\.\w+)*\s+import|import\s+({_OLD_NAMES})\b)", re.MULTILINE
)


def _repository_sources():
    """Every Python source a reader can run: the package, tests, examples, tools, and the code
    cells of notebooks, solutions and exercises."""
    top = PACKAGE_DIR.parent
    for path in sorted(top.glob("*/**/*.py")):
        if ".venv" not in path.parts and "build" not in path.parts:
            yield path, path.read_text(encoding="utf-8")
    for path in sorted(top.glob("*/*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        yield path, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_no_file_in_the_repository_imports_an_old_path():
    """Old paths (``minidl.layers``, ``minidl.model``, ...) are gone: every import names the
    file where the code is, so a reader who follows one finds it."""
    stale = [
        f"{path.relative_to(PACKAGE_DIR.parent)} imports {match.group(1) or match.group(2)}"
        for path, text in _repository_sources()
        if path.name != Path(__file__).name
        for match in _OLD_IMPORT.finditer(text)
    ]
    assert stale == []


def test_old_paths_do_not_import_and_minidl_installs_no_finder():
    code = textwrap.dedent(f"""
        import sys
        finders = list(sys.meta_path)
        import minidl, minidl_keras, minidl.training.model
        assert sys.meta_path == finders, sys.meta_path
        for old in {sorted(OLD_PATHS)!r}:
            try:
                __import__(old)
            except ModuleNotFoundError:
                continue
            raise AssertionError(old + " still imports")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_no_module_imports_the_package_root(package):
    floors = FLOORS[package]
    assert root_imports(GRAPHS[package], package, floors.entry_points) == []


def test_the_floor_tables_name_their_packages():
    assert {name: floors.package_dir.name for name, floors in FLOORS.items()} == {n: n for n in FLOORS}
    assert all((floors.package_dir / "__init__.py").is_file() for floors in FLOORS.values())


def grader_imports(package_dir: Path = PACKAGE_DIR, other: str = "minidl_grader") -> list[str]:
    """``file:line`` of every import of another distribution (the grader, ``minidl_grader``, or
    the Keras door, ``minidl_keras``) in the package: an ``import``/``from`` statement, or a
    string that names the module (``importlib``)."""
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value] if re.fullmatch(r"[\w.]+", node.value) else []
            if any(n == other or n.startswith(other + ".") for n in names):
                found.append(f"{path.relative_to(package_dir.parent)}:{node.lineno}")
    return found


def test_nothing_in_minidl_imports_the_grader():
    """The grader (grader/, ``minidl_grader``) depends on minidl, never the other way round."""
    assert grader_imports() == []


def test_nothing_in_minidl_imports_the_keras_door():
    """The Keras door (keras_door/, ``minidl_keras``) adapts minidl from outside."""
    assert grader_imports(other="minidl_keras") == []


def tool_imports(package_dir: Path = PACKAGE_DIR, tool: str = "bench") -> list[str]:
    """``file:line`` of every ``import``/``from`` statement in the package that names the
    repository's tool ``tool`` (``bench``: not installed with minidl, so never imported by it)."""
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n == tool or n.startswith(tool + ".") for n in names):
                found.append(f"{path.relative_to(package_dir.parent)}:{node.lineno}")
    return found


def test_nothing_in_minidl_imports_the_benchmarks():
    """``bench/`` is a tool of the repository; an installed minidl has no ``bench`` to import."""
    assert (PACKAGE_DIR.parent / "bench" / "runner.py").is_file()
    assert not (PACKAGE_DIR / "bench").exists()
    assert tool_imports() == []


def test_the_benchmark_import_check_can_fail(tmp_path):
    package = tmp_path / "minidl"
    package.mkdir()
    (package / "a.py").write_text("import os\n\n\ndef f():\n    from bench.runner import main\n")
    (package / "b.py").write_text("x = 'bench'\nimport benchmarks\n")  # a string, another name
    assert tool_imports(package) == ["minidl/a.py:5"]


def test_the_grader_import_check_can_fail(tmp_path):
    package = tmp_path / "minidl"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from minidl_grader.judge import registry\n")
    (package / "b.py").write_text("import importlib\nm = importlib.import_module('minidl_grader')\n")
    assert grader_imports(package) == ["minidl/a.py:1", "minidl/b.py:2"]


def test_import_minidl_loads_no_top_floor_module_and_no_matplotlib():
    code = textwrap.dedent(f"""
        import sys
        import minidl as mdl
        loaded = sorted(m for m in sys.modules
                        if m == "matplotlib" or any(m == top or m.startswith(top + ".")
                                                    for top in {ON_FIRST_USE!r}))
        print(loaded)
        # ... and each of them still answers on first use
        assert mdl.zoo.available() and callable(mdl.gallery.transfer.freeze)
        assert callable(mdl.plot.plot_history)
        from minidl import zoo, gallery, plot
        assert zoo is mdl.zoo and {{"gallery", "plot", "zoo"}} <= set(dir(mdl))
        assert mdl.__version__ == __import__("minidl._version").__version__
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_an_unknown_attribute_of_minidl_is_an_attribute_error():
    import minidl

    with pytest.raises(AttributeError, match="no attribute 'zoom'"):
        minidl.zoom  # noqa: B018  (the attribute access is the test)


# ============================================================================ the checks can fail
def _write_package(tmp_path, files: dict) -> Path:
    package = tmp_path / "minidl"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return package


def test_the_checks_catch_a_cycle_a_wrong_way_import_and_a_root_import(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "__init__.py": "__version__ = '0'\nfrom .training.model import Sequential\n",
            "backend.py": "def f():\n    from .nn.layers.core import Dense   # upward, inside a function\n",
            "nn/__init__.py": "",
            "nn/losses.py": "from .layers.activations import sigmoid   # sideways\n",
            "training/__init__.py": "",
            "training/model.py": "from .. import __version__, backend\nfrom ..nn.layers import core\n",
            "nn/layers/__init__.py": "from .core import Dense\n",
            "nn/layers/core.py": "from ... import backend\nfrom .activations import sigmoid\n",
            "nn/layers/activations.py": "from ...training.model import Sequential\n",
        },
    )
    graph = import_graph(package)
    assert ("minidl.backend", 1) in graph["minidl.nn.layers.core"]  # a submodule, not the root
    assert find_cycle(graph) == ["minidl", "minidl.training.model", "minidl"]
    without_root = {
        module: [(t, line) for t, line in edges if t != "minidl"] for module, edges in graph.items()
    }
    assert find_cycle(without_root) == ["minidl.backend", "minidl.nn.layers.core", "minidl.backend"]
    problems = "\n".join(wrong_way_imports(graph))
    assert "minidl.backend:2 imports minidl.nn.layers.core (upward" in problems
    assert "minidl.nn.losses:1 imports minidl.nn.layers.activations (sideways" in problems
    assert "minidl.nn.layers.activations:1 imports minidl.training.model (upward" in problems
    assert root_imports(graph) == ["minidl.training.model:1 imports the package root minidl"]


def test_floor_problems_checks_any_package_by_its_table(tmp_path):
    """The checks are not minidl's alone: a package named by its folder, with its own table."""
    package = tmp_path / "door"
    files = {
        "__init__.py": "from .layers import Dense\n",
        "__main__.py": "import door\n",
        "core.py": "",
        "layers.py": "from . import core\n",
        "saving.py": "from .layers import Dense\nimport door\n",
        "extra.py": "",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    groups = [
        ("core", 0, ["door.core", "door.saving"]),
        ("layers", 1, ["door.layers"]),
        ("root", 2, ["door"]),
    ]
    floors = Floors(package, groups, ("door.__main__",))
    assert floor_problems(floors) == [
        "door.__main__ is on no floor",
        "door.extra is on no floor",
        "door.saving:1 imports door.layers (upward: core is on level 0, layers on level 1)",
        "door.saving:2 imports door (upward: core is on level 0, root on level 2)",
        "door.saving:2 imports the package root door",
    ]
    groups += [("main", 3, ["door.__main__"]), ("extra", 0, ["door.extra"])]
    (package / "saving.py").write_text("from .core import *\n")
    assert floor_problems(Floors(package, groups, ("door.__main__",))) == []


def test_a_clean_package_passes(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "__init__.py": "from ._version import __version__\nfrom .training.model import Sequential\n",
            "_version.py": "__version__ = '0'\n",
            "backend.py": "from .kernels import common\n",
            "kernels/__init__.py": "",
            "kernels/common.py": "",
            "training/__init__.py": "",
            "training/model.py": "from .. import backend\nfrom .._version import __version__\nfrom ..nn.layers import core\n",
            "nn/__init__.py": "",
            "nn/layers/__init__.py": "from .core import Dense\n",
            "nn/layers/core.py": "from ... import backend\n",
        },
    )
    graph = import_graph(package)
    assert find_cycle(graph) is None and wrong_way_imports(graph) == [] and root_imports(graph) == []


# ============================================================================ the folders are the floors
TOP_LEVEL = {
    "__init__.py",
    "__main__.py",
    "_version.py",
    "backend.py",
    "models.py",
    "plot.py",
}
PACKAGES = {"kernels", "nn", "training", "datasets", "gallery", "zoo", "exercises"}


def test_the_package_root_holds_only_the_floors():
    files = {p.name for p in PACKAGE_DIR.iterdir() if p.suffix == ".py"}
    folders = {p.name for p in PACKAGE_DIR.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert files <= TOP_LEVEL, f"new top-level modules {sorted(files - TOP_LEVEL)}: put them on a floor"
    assert folders <= PACKAGES, f"new sub-packages {sorted(folders - PACKAGES)}: name their floor here"


def test_the_public_names_of_design_md_import():
    code = textwrap.dedent("""
        import minidl as mdl
        from minidl import layers as L, losses, optim, callbacks, datasets, data, metrics, gradcheck
        from minidl import initializers, regularizers, models
        from minidl.training.model import Sequential, load_model, NonFiniteLossError
        from minidl.nn.layers import Dense, Conv2D, BatchNorm, LSTM
        from minidl.nn.layers.base import Layer
        from minidl.training.data import DataLoader
        from minidl.nn.gradcheck import rel_error, numerical_gradient
        assert mdl.Sequential is Sequential and L.Dense is Dense and isinstance(Dense(2), Layer)
        assert mdl.layers is mdl.nn.layers and mdl.data is mdl.training.data
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ============================================================================ docs/ARCHITECTURE.md names real paths
REPOSITORY = PACKAGE_DIR.parent
ARCHITECTURE_MD = REPOSITORY / "docs" / "ARCHITECTURE.md"
# a file name the page may give without its folder: a word, a dot and one of these endings
_FILE_ENDINGS = ("py", "md", "toml", "cu", "cfg", "yaml", "yml", "ipynb", "json", "txt", "sh")


def named_paths(markdown: str) -> list[str]:
    """The repository paths a page names: every `code span` that is one word of path
    characters with a "/" in it (``minidl/nn/layers/``, ``minidl/kernels/cuda/*.cu``,
    ``minidl/nn/{optim,gradcheck}.py``) or that ends like a file (``base.py``, ``.ci/run``).
    Names of modules (``minidl.nn.layers``), commands and code are not paths."""
    spans = re.findall(r"`([^`\n]+)`", markdown)
    return [
        span
        for span in spans
        if re.fullmatch(r"[\w.\-/*{},<>+]+", span)
        and ("/" in span or re.fullmatch(rf"[\w\-]+\.({'|'.join(_FILE_ENDINGS)})", span))
        and not span.startswith(("http", "www."))
    ]


def _alternatives(path: str) -> list[str]:
    """``a/{b,c}.py`` -> ``a/b.py``, ``a/c.py``; ``<family>`` is any name (a glob's ``*``)."""
    path = re.sub(r"<[^>]*>", "*", path)
    match = re.search(r"\{([^{}]*)\}", path)
    if match is None:
        return [path]
    return [
        alternative
        for part in match.group(1).split(",")
        for alternative in _alternatives(path[: match.start()] + part + path[match.end() :])
    ]


def _walk(root: Path):
    """os.walk without what is not the repository's (git, caches, virtual environments, builds)."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if d not in _NOT_THE_REPOSITORY]
        yield folder, subfolders, files


_NOT_THE_REPOSITORY = {".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build"}


def missing_paths(markdown: str, root: Path) -> list[str]:
    """The paths ``markdown`` names that are not in ``root``: a path with a "/" from the
    repository's root (a glob must match something), a bare file name anywhere in it."""
    names = {name for _, _, files in _walk(root) for name in files}
    missing = []
    for span in named_paths(markdown):
        for path in _alternatives(span):
            if "/" not in path:
                found = path in names
            elif any(c in path for c in "*?["):
                found = any(True for _ in root.glob(path.rstrip("/")))
            else:
                found = (root / path).exists()
            if not found:
                missing.append(path if path == span else f"{path} (from {span})")
    return missing


# ============================================================================ one door
def keras_aliases(keras_module, minidl_module) -> list[str]:
    """Names ``keras_module`` exports that ``minidl_module`` also binds to something other than a
    class of its own under that name (an alias, ``MaxPooling2D = MaxPool2D``) or to a different
    object than Keras's door uses for it (``ExponentialDecay``: per epoch here, per batch there)."""
    found = []
    for name in keras_module.__all__:
        ours = getattr(minidl_module, name, None)
        if ours is None or ours is getattr(keras_module, name):
            continue
        theirs = getattr(keras_module, name)
        makes = getattr(theirs, "layer_class", None)  # keras.layers.Conv2D makes nn.layers.Conv2D
        # keras.losses.MeanSquaredError is Keras's (y_true, y_pred) view over nn.losses.MeanSquaredError
        computes = getattr(theirs, "library_class", None)
        if (
            getattr(ours, "__name__", None) != name
            or makes not in (None, ours)
            or computes not in (None, ours)
        ):
            found.append(f"{minidl_module.__name__}.{name}")
        elif computes is ours:
            continue
        elif isinstance(theirs, type) and not (isinstance(ours, type) and issubclass(theirs, ours)):
            found.append(f"{minidl_module.__name__}.{name}")  # two unrelated classes of one name
    return found


def test_minidl_nn_and_training_hold_no_keras_name():
    """One door (issue 43): a Keras name lives in ``minidl_keras`` only, with Keras's defaults;
    ``minidl.nn`` and ``minidl.training`` keep minidl's own names, and no name means two things."""
    import inspect

    import minidl_keras as keras

    import minidl
    from minidl.nn import constraints, losses, optim
    from minidl.nn import layers as L
    from minidl.training import callbacks, data, metrics

    pairs = [
        (keras.constraints, constraints),
        (keras.layers, L),
        (keras.optimizers, optim),
        (keras.optimizers.schedules, optim),
        (keras.losses, losses),
        (keras.callbacks, callbacks),
        (keras.metrics, metrics),
        (keras.utils, data),
        (keras.utils, minidl),
    ]
    assert [alias for k, m in pairs for alias in keras_aliases(k, m)] == []
    moved = ["Input", "InputLayer", "Activation", "Rescaling", "BatchNormalization", "MaxPooling2D"]
    assert [name for name in moved if hasattr(L, name)] == []
    assert not hasattr(minidl, "utils") and not hasattr(data, "to_categorical")
    assert not hasattr(constraints, "KERAS_NAMES")  # "max_norm" is keras.constraints.get's
    for cls in (optim.SGD, optim.RMSprop, optim.Adagrad, optim.Adam, optim.AdamW):
        keywords = set(inspect.signature(cls).parameters) | set(inspect.signature(optim.Optimizer).parameters)
        assert not keywords & set(optim.RENAMED), cls


def test_the_alias_check_can_fail():
    import types

    from minidl.nn import layers as L

    keras_side = types.SimpleNamespace(
        __all__=["MaxPooling2D", "Dense"], MaxPooling2D=object(), Dense=L.Dense
    )
    ours = types.SimpleNamespace(__name__="ours", MaxPooling2D=L.MaxPool2D, Dense=L.Dense)
    assert keras_aliases(keras_side, ours) == ["ours.MaxPooling2D"]
    twin = types.SimpleNamespace(__all__=["Dense"], Dense=type("Dense", (), {}))
    assert keras_aliases(twin, ours) == ["ours.Dense"]


def test_architecture_md_names_only_paths_that_exist():
    missing = missing_paths(ARCHITECTURE_MD.read_text(encoding="utf-8"), REPOSITORY)
    assert missing == [], f"docs/ARCHITECTURE.md names paths that are not in the repository: {missing}"


# What the other pages may name in backticks that is not a file of the repository: what a
# command writes, what another machine holds, a pattern, a formula.
NOT_IN_THE_REPOSITORY = {
    "build/html/index.html": "written by make html",
    "benchmarks/results/bench.json": "written by make bench",
    "setup.sh": "in the Gradescope autograder zip that minidl-grade package writes",
    ".venv/": "the virtual environment the Makefile creates",
    "exercises/NN_topic.ipynb": "a pattern: NN the chapter's number, topic its slug",
    "workspace/": "a learner's own copies of the exercises, made by `make lab` (git ignores it)",
    "workspace/NN_topic_exercises.ipynb": "a learner's copy of an exercise notebook (a pattern, as above)",
    "NN_topic_exercises.ipynb": "the name of such a copy (a pattern)",
    "dL/dy_pred": "a derivative, not a path",
}
OTHER_PAGES = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]


def repository_paths(root: Path) -> list[str]:
    """Every file and folder of the repository (a folder with a trailing "/"), from its root."""
    paths = []
    for folder, subfolders, files in _walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        paths += [prefix + d + "/" for d in subfolders] + [prefix + f for f in files]
    return paths


def missing_anywhere(markdown: str, root: Path) -> list[str]:
    """The paths ``markdown`` names that no file or folder of ``root`` ends with: a page may name
    ``minidl/kernels/cpu/conv.py`` or, inside a passage about the kernels, ``cpu/conv.py``."""
    paths = ["/" + p for p in repository_paths(root)]
    missing = []
    for span in named_paths(markdown):
        if span in NOT_IN_THE_REPOSITORY or span.startswith("/"):  # "/proc", "/tmp": the machine's
            continue
        for path in _alternatives(span):
            pattern = "*/" + path.lstrip("/") + ("" if path.endswith("/") or "*" in path else "")
            found = any(
                fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, pattern + "/") for p in paths
            )
            if not found:
                missing.append(path if path == span else f"{path} (from {span})")
    return missing


@pytest.mark.parametrize("page", OTHER_PAGES, ids=lambda p: p.name)
def test_the_readme_and_the_docs_name_only_paths_that_exist(page):
    """README.md and docs/*.md: every path in backticks is (the end of) a path of the repository."""
    assert len(OTHER_PAGES) >= 4
    missing = missing_anywhere(page.read_text(encoding="utf-8"), REPOSITORY)
    assert missing == [], (
        f"{page.relative_to(REPOSITORY)} names paths the repository does not hold: {missing}"
    )


def test_the_suffix_path_check_can_fail(tmp_path):
    (tmp_path / "minidl" / "kernels" / "cpu").mkdir(parents=True)
    (tmp_path / "minidl" / "kernels" / "cpu" / "conv.py").write_text("")
    page = "`cpu/conv.py`, `kernels/cpu/`, `minidl/kernels/cpu/*.py`, `kernels/cpu.py`, `cpu/pool.py`, `setup.sh`, `/tmp`"
    assert missing_anywhere(page, tmp_path) == ["kernels/cpu.py", "cpu/pool.py"]


# Markdown files that tests and tools write (their names appear in the code), not the repository's
WRITTEN_MARKDOWN = {"similar.md", "r.md", "moves.md", "REPORT.md"}


def test_code_and_tests_cite_only_markdown_files_that_exist():
    """A docstring or comment that sends the reader to a Markdown file names one the repository holds
    (tests once cited a design document the repository does not have)."""
    paths = repository_paths(REPOSITORY)
    folders = ["minidl", "grader/minidl_grader", "keras_door/minidl_keras", "bench", "tools", "tests"]
    cited = {
        (str(path.relative_to(REPOSITORY)), name)
        for folder in folders
        for path in sorted((REPOSITORY / folder).rglob("*.py"))
        for name in re.findall(r"[\w./-]*\w\.md\b", path.read_text(encoding="utf-8"))
    }
    assert ("tests/test_architecture.py", "ARCHITECTURE.md") in cited  # the search finds citations
    missing = sorted(
        (file, name)
        for file, name in cited
        if name not in WRITTEN_MARKDOWN and not any(("/" + p).endswith("/" + name) for p in paths)
    )
    assert missing == []


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_architecture_md_names_every_floor(package):
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    floors = FLOORS[package]
    folder = floors.package_dir.parent.relative_to(REPOSITORY)  # "." for minidl, "grader"
    for _, _, modules in floors.groups:
        for module in modules:
            path = (folder / module.replace(".", "/")).as_posix()
            assert f"`{path}/`" in text or f"`{path}.py`" in text or path.rpartition("/")[2] in text, (
                f"docs/ARCHITECTURE.md does not place {module} on a floor"
            )


def test_the_path_check_can_fail(tmp_path):
    (tmp_path / "pkg" / "cuda").mkdir(parents=True)
    for name in ("pkg/a.py", "pkg/b.py", "pkg/cuda/x.cu", "README.md"):
        (tmp_path / name).write_text("")
    page = (
        "The floors: `pkg/`, `pkg/{a,b}.py`, `pkg/cuda/*.cu`, `pkg/cuda/<family>.cu`, `a.py`, "
        "`README.md`; names that are not paths: `pkg.a`, `import pkg`, `x @ W`, `f(x)`.\n"
    )
    assert missing_paths(page, tmp_path) == []
    gone = "`pkg/c.py`, `pkg/{a,d}.py`, `old/`, `pkg/cuda/*.cpp`, `moved.py`"
    assert missing_paths(page + gone, tmp_path) == [
        "pkg/c.py",
        "pkg/d.py (from pkg/{a,d}.py)",
        "old/",
        "pkg/cuda/*.cpp",
        "moved.py",
    ]


# ============================================================================ the teaching core knows no Keras
TEACHING_CORE = ("nn", "training", "kernels", "backend.py")


def keras_mentions(package_dir: Path = PACKAGE_DIR) -> list[str]:
    """``file:line`` of every line of the teaching core (``nn/``, ``training/``, ``kernels/``,
    ``backend.py``) that names Keras: an identifier, a message, a docstring or a comment. The
    Keras door adapts minidl from outside; what it needs is not written in the core."""
    found = []
    for part in TEACHING_CORE:
        root = package_dir / part
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if path.suffix not in (".py", ".cu", ".md", ".txt"):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search("keras", line, re.IGNORECASE):
                    found.append(f"{path.relative_to(package_dir.parent)}:{number}")
    return found


def test_the_teaching_core_names_no_keras():
    assert keras_mentions() == []


def test_the_keras_check_can_fail(tmp_path):
    package = tmp_path / "minidl"
    (package / "nn").mkdir(parents=True)
    (package / "training").mkdir()
    (package / "kernels").mkdir()
    (package / "backend.py").write_text("x = 1\n")
    (package / "nn" / "a.py").write_text("'''As Keras does.'''\n")
    (package / "training" / "b.py").write_text("y = 2\nif hasattr(x, 'keras_history'): pass\n")
    assert keras_mentions(package) == ["minidl/nn/a.py:1", "minidl/training/b.py:2"]


def classes_named(name: str, roots) -> list[str]:
    """``file:line`` of every class statement named ``name`` under ``roots``."""
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.ClassDef) and node.name == name:
                    found.append(f"{path.relative_to(REPOSITORY)}:{node.lineno}")
    return found


def test_one_class_is_named_sequential():
    """minidl's ``Sequential``; the door's model class is ``KerasSequential``, which the door
    exports as ``keras.Sequential`` (and shows as "Sequential", as Keras does)."""
    found = classes_named("Sequential", [PACKAGE_DIR, KERAS_DIR])
    assert [place.rpartition(":")[0] for place in found] == ["minidl/training/model.py"], found


# ============================================================================ the door uses minidl's public API
def private_names(package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Every name with one leading underscore that the package defines: a function, a class,
    a method, a module global, an attribute assigned (``self._grad = ...``)."""
    names = set()
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {n for n in names if n.startswith("_") and not n.endswith("__")}


def private_uses(door_dir: Path, private: set[str], library: str = "minidl") -> list[str]:
    """``file:line name`` of every place the door reaches into ``library`` past its public API:
    an import of an underscored name from it (``from minidl.x import _y``, ``import minidl._y``),
    an attribute ``obj._y`` whose name the library defines, or a method of a door class that
    overrides one (``def _train_epoch``). The door's own helpers keep names minidl does not use."""
    found = []
    for path in sorted(door_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = f"{path.relative_to(door_dir.parent)}"
        methods = {
            (item.name, item.lineno)
            for cls in ast.walk(tree)
            if isinstance(cls, ast.ClassDef)
            for item in cls.body
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        for node in ast.walk(tree):
            module = node.module or "" if isinstance(node, ast.ImportFrom) and not node.level else ""
            if module == library or module.startswith(library + "."):
                private_parts = [p for p in module.split(".") if p.startswith("_") and not p.endswith("__")]
                found += [f"{where}:{node.lineno} {p}" for p in private_parts]
                found += [f"{where}:{node.lineno} {a.name}" for a in node.names if a.name.startswith("_")]
            elif isinstance(node, ast.Import):
                found += [
                    f"{where}:{node.lineno} {a.name}"
                    for a in node.names
                    if a.name.split(".")[0] == library and any(p.startswith("_") for p in a.name.split("."))
                ]
            elif isinstance(node, ast.Attribute) and node.attr in private:
                found.append(f"{where}:{node.lineno} .{node.attr}")
        found += [f"{where}:{line} def {name}" for name, line in sorted(methods) if name in private]
    return sorted(found)


def test_the_keras_door_uses_no_private_name_of_minidl():
    """The door extends minidl through its public extension API (docs/ARCHITECTURE.md,
    "Extending minidl"), so a refactor of minidl's private code is never a change of the door."""
    assert private_uses(KERAS_DIR, private_names()) == []


def test_the_private_name_check_can_fail(tmp_path):
    library = tmp_path / "minidl"
    library.mkdir()
    (library / "__init__.py").write_text("")
    (library / "core.py").write_text(
        "def _helper(): pass\nclass Trainer:\n    def _epoch(self): self._state = 1\n"
    )
    door = tmp_path / "door"
    door.mkdir()
    (door / "a.py").write_text(
        "from minidl.core import _helper, Trainer\n"
        "import minidl._version\n"
        "class Mine(Trainer):\n"
        "    def _epoch(self):\n"
        "        return self._state\n"
        "    def _own(self):\n"
        "        return _helper\n"
    )
    assert private_uses(door, private_names(library)) == [
        "door/a.py:1 _helper",
        "door/a.py:2 minidl._version",
        "door/a.py:4 def _epoch",
        "door/a.py:5 ._state",
    ]
